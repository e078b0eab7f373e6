//! The scan engine: badge text and an instant in, a durable event and something to show out.
//! It knows nothing of cameras or screens; the UI and the headless commands both call it.

use std::collections::HashSet;

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use pm_shared::{
    decide_scan, is_repeat_scan, open_check_ins, sessionize, verify_badge, BadgeVerdict, Event,
    EventId, EventKind, HourCategory, KioskId, Language, MentorId, Observed, ProgramRules, Roster,
    ScanAction, Session, Source, TimeZone,
};

use crate::store::{NewEvent, Store, StoredRoster};
use crate::KioskError;

/// In or out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

/// What the mentor sees after a good scan, in her language.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    pub mentor: MentorId,
    /// `None` for a provisional scan (a mentor not yet in this kiosk's roster).
    pub name: Option<String>,
    pub language: Language,
    pub direction: Direction,
    pub at: DateTime<Utc>,
    pub time_zone: TimeZone,
    /// Completed sessions today, this one included.
    pub today: Duration,
    /// Stipend time this period, merged from every kiosk as far as this kiosk knows.
    pub period_time: Duration,
    pub threshold: Duration,
    pub provisional: bool,
    pub event: EventId,
}

/// Why a scan records nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Some other QR code: a flyer, a product.
    NotABadge,
    /// In our format but altered, damaged or made up.
    Forged,
    /// An old badge of a mentor who was given a new one.
    Replaced,
    /// The mentor was deactivated.
    Revoked,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Rejection::NotABadge => "not-a-badge",
            Rejection::Forged => "forged",
            Rejection::Replaced => "replaced",
            Rejection::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScanOutcome {
    Recorded(Confirmation),
    /// The same badge again within the repeat window: the last confirmation, nothing recorded.
    Repeat(Confirmation),
    Rejected(Rejection),
}

impl ScanOutcome {
    /// The one-word outcome the headless commands print (`checked-in M-1`).
    pub fn summary(&self) -> String {
        match self {
            ScanOutcome::Recorded(c) => match c.direction {
                Direction::In => format!("checked-in {}", c.mentor),
                Direction::Out => format!("checked-out {}", c.mentor),
            },
            ScanOutcome::Repeat(c) => format!("duplicate {}", c.mentor),
            ScanOutcome::Rejected(r) => format!("rejected {}", r.code()),
        }
    }
}

/// A coordinator's correction, as the coordinator screen records it.
#[derive(Debug, Clone)]
pub struct Correction {
    pub mentor: MentorId,
    pub kind: EventKind,
    pub coordinator: String,
    pub reason: String,
}

pub struct Engine {
    store: Store,
    kiosk: KioskId,
    /// The school's zone until the first roster says otherwise: the machine's own zone.
    fallback_zone: TimeZone,
    roster: Option<StoredRoster>,
    roster_stamp: Option<(String, String)>,
}

/// Clock readings are kept to the millisecond, as the database stores them.
fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::milliseconds(1)).unwrap_or(t)
}

fn new_event_id(at: DateTime<Utc>) -> EventId {
    EventId::from_parts(
        u64::try_from(at.timestamp_millis()).unwrap_or(0),
        rand::random(),
    )
}

impl Engine {
    pub fn new(store: Store, kiosk: KioskId, fallback_zone: TimeZone) -> Result<Self, KioskError> {
        let mut engine = Self {
            store,
            kiosk,
            fallback_zone,
            roster: None,
            roster_stamp: None,
        };
        engine.refresh_roster()?;
        Ok(engine)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Reloads the roster if the sync worker saved a new one or re-confirmed it (a cheap
    /// check of its version and pull time).
    pub fn refresh_roster(&mut self) -> Result<(), KioskError> {
        let stamp = self.store.roster_stamp()?;
        if stamp != self.roster_stamp {
            self.roster = self.store.roster()?;
            self.roster_stamp = stamp;
        }
        Ok(())
    }

    pub fn roster(&self) -> Option<&Roster> {
        self.roster.as_ref().map(|r| &r.roster)
    }
    pub fn rules(&self) -> ProgramRules {
        self.roster().map(|r| r.rules.clone()).unwrap_or_default()
    }
    pub fn time_zone(&self) -> TimeZone {
        self.roster()
            .map(|r| r.school.time_zone)
            .unwrap_or(self.fallback_zone)
    }
    pub fn kiosk(&self) -> &KioskId {
        &self.kiosk
    }

    /// A badge text read at `at`: verify, apply the repeat window and the toggle rule, record
    /// durably, and say what to show. Nothing is shown unless it is on disk first.
    pub fn scan(&mut self, text: &str, at: DateTime<Utc>) -> Result<ScanOutcome, KioskError> {
        let at = to_millis(at);
        self.refresh_roster()?;
        let verdict = match self.roster() {
            Some(roster) => verify_badge(text, |m| roster.badge_status(m)),
            None => verify_badge(text, |_| None),
        };
        let (claim, provisional) = match verdict {
            BadgeVerdict::Accepted(claim) => (claim, false),
            BadgeVerdict::Provisional(claim) => (claim, true),
            BadgeVerdict::Replaced { .. } => return Ok(ScanOutcome::Rejected(Rejection::Replaced)),
            BadgeVerdict::Revoked(_) => return Ok(ScanOutcome::Rejected(Rejection::Revoked)),
            BadgeVerdict::Forged => return Ok(ScanOutcome::Rejected(Rejection::Forged)),
            BadgeVerdict::NotABadge => return Ok(ScanOutcome::Rejected(Rejection::NotABadge)),
        };
        let rules = self.rules();
        let mentor = claim.mentor;

        if let Some(last) = self.store.last_scan_of(&mentor)? {
            if is_repeat_scan(Some(last.event.at), at, &rules) {
                let direction = match last.event.kind {
                    EventKind::CheckOut => Direction::Out,
                    _ => Direction::In,
                };
                let timeline = self.timeline(&mentor, at, &rules)?;
                let confirmation =
                    self.confirmation(&last.event, direction, provisional, at, timeline);
                return Ok(ScanOutcome::Repeat(confirmation));
            }
        }

        let source = Source::BadgeScan {
            generation: claim.generation,
            provisional,
            badge_hash: claim.hash,
        };
        self.toggle(mentor, source, provisional, at, &rules)
            .map(ScanOutcome::Recorded)
    }

    /// Records the mentor's next check-in or check-out by the one toggle rule, from a badge or
    /// from the coordinator, and returns what to show.
    fn toggle(
        &mut self,
        mentor: MentorId,
        source: Source,
        provisional: bool,
        at: DateTime<Utc>,
        rules: &ProgramRules,
    ) -> Result<Confirmation, KioskError> {
        let zone = self.time_zone();
        let (mut timeline, mut unreflected) = self.timeline(&mentor, at, rules)?;
        let direction = self.direction_on(&timeline, &mentor, at, rules);
        let kind = match direction {
            Direction::In => EventKind::CheckIn,
            Direction::Out => EventKind::CheckOut,
        };
        let event = self.store.append(NewEvent {
            id: new_event_id(at),
            kiosk: self.kiosk.clone(),
            mentor,
            at,
            time_zone: zone,
            kind,
            source,
        })?;
        // The timeline just read plus the new event: no second trip to the database.
        unreflected.insert(event.id);
        timeline.push(Observed::local(event.clone()));
        Ok(self.confirmation(&event, direction, provisional, at, (timeline, unreflected)))
    }

    /// What the mentor's next check (badge or coordinator) would record: in or out.
    pub fn next_direction(
        &self,
        mentor: &MentorId,
        at: DateTime<Utc>,
    ) -> Result<Direction, KioskError> {
        let rules = self.rules();
        let (timeline, _) = self.timeline(mentor, at, &rules)?;
        Ok(self.direction_on(&timeline, mentor, at, &rules))
    }

    /// The toggle rule on a timeline already read.
    fn direction_on(
        &self,
        timeline: &[Observed],
        mentor: &MentorId,
        at: DateTime<Utc>,
        rules: &ProgramRules,
    ) -> Direction {
        let sessions = sessionize(timeline, rules, at);
        let open = open_check_ins(&sessions, mentor);
        match decide_scan(&open, at, self.time_zone(), rules) {
            ScanAction::CheckIn => Direction::In,
            ScanAction::CheckOut { .. } => Direction::Out,
        }
    }

    /// A coordinator checks a mentor in or out without her badge (forgotten, broken camera).
    /// The same toggle rule as a scan decides which; the reason is the audit trail.
    pub fn check_without_badge(
        &mut self,
        mentor: &MentorId,
        coordinator: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Confirmation, KioskError> {
        let at = to_millis(at);
        require_audit(coordinator, reason)?;
        self.refresh_roster()?;
        if self.roster().and_then(|r| r.mentor(mentor)).is_none() {
            return Err(KioskError::Invalid(format!(
                "mentor {mentor} is not in this school's roster"
            )));
        }
        let rules = self.rules();
        let source = Source::Coordinator {
            coordinator: coordinator.trim().to_owned(),
            reason: reason.trim().to_owned(),
        };
        self.toggle(mentor.clone(), source, false, at, &rules)
    }

    /// Closes an open session (a forgotten check-out) at `end`, which must fall after its
    /// check-in and not in the future.
    pub fn close_session(
        &mut self,
        session: &Session,
        end: DateTime<Utc>,
        coordinator: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Event, KioskError> {
        let (Some(check_in), Some(start)) = (session.opened_by, session.start) else {
            return Err(KioskError::Invalid(
                "this session has no check-in to close".into(),
            ));
        };
        let end = to_millis(end);
        if end <= start || end > at {
            return Err(KioskError::Invalid(
                "the check-out time must be after the check-in and not in the future".into(),
            ));
        }
        self.correct(
            Correction {
                mentor: session.mentor.clone(),
                kind: EventKind::CloseSession { check_in, end },
                coordinator: coordinator.to_owned(),
                reason: reason.to_owned(),
            },
            at,
        )
    }

    /// A group session (training, a workshop) for several mentors in one step: one event per
    /// attendee sharing a group id, committed together or not at all.
    #[allow(clippy::too_many_arguments)]
    pub fn record_group_session(
        &mut self,
        attendees: &[MentorId],
        category: HourCategory,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        coordinator: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Event>, KioskError> {
        let at = to_millis(at);
        require_audit(coordinator, reason)?;
        if attendees.is_empty() {
            return Err(KioskError::Invalid(
                "a group session needs at least one attendee".into(),
            ));
        }
        let (start, end) = (to_millis(start), to_millis(end));
        if end <= start || end > at || end - start > self.rules().session_cap() {
            return Err(KioskError::Invalid(
                "a group session must end after it starts, not in the future, within the session cap"
                    .into(),
            ));
        }
        let group = new_event_id(at).0;
        let zone = self.time_zone();
        let source = Source::Coordinator {
            coordinator: coordinator.trim().to_owned(),
            reason: reason.trim().to_owned(),
        };
        let mut unique: Vec<&MentorId> = attendees.iter().collect();
        unique.sort();
        unique.dedup();
        let news = unique
            .into_iter()
            .map(|mentor| NewEvent {
                id: new_event_id(at),
                kiosk: self.kiosk.clone(),
                mentor: mentor.clone(),
                at,
                time_zone: zone,
                kind: EventKind::AddSession {
                    category,
                    start,
                    end,
                    group: Some(group),
                },
                source: source.clone(),
            })
            .collect();
        self.store.append_all(news)
    }

    /// Records a coordinator's correction (a close, a void, an added session, a check-in
    /// without a badge). A reason is required: it is the audit trail.
    pub fn correct(
        &mut self,
        correction: Correction,
        at: DateTime<Utc>,
    ) -> Result<Event, KioskError> {
        let at = to_millis(at);
        require_audit(&correction.coordinator, &correction.reason)?;
        self.store.append(NewEvent {
            id: new_event_id(at),
            kiosk: self.kiosk.clone(),
            mentor: correction.mentor,
            at,
            time_zone: self.time_zone(),
            kind: correction.kind,
            source: Source::Coordinator {
                coordinator: correction.coordinator,
                reason: correction.reason,
            },
        })
    }

    /// This mentor's timeline as far as the kiosk knows: local events from the last two days
    /// (and back to the oldest one the roster's totals do not include yet), plus the open
    /// check-ins the roster carries from every kiosk. Also returns the ids the roster's totals
    /// do not include.
    fn timeline(
        &self,
        mentor: &MentorId,
        at: DateTime<Utc>,
        rules: &ProgramRules,
    ) -> Result<(Vec<Observed>, HashSet<EventId>), KioskError> {
        let pulled_at = self.roster.as_ref().map(|r| r.pulled_at);
        let reflected = |delivered: Option<DateTime<Utc>>| match (delivered, pulled_at) {
            (Some(d), Some(p)) => d <= p,
            _ => false,
        };
        let since = at - rules.session_cap() - Duration::days(2);
        let local = self.store.mentor_events_since(mentor, since, pulled_at)?;
        let unreflected: HashSet<EventId> = local
            .iter()
            .filter(|e| !reflected(e.delivered_at))
            .map(|e| e.event.id)
            .collect();
        let mut timeline: Vec<Observed> = local
            .into_iter()
            .map(|e| Observed::local(e.event))
            .collect();
        if let Some(roster) = self.roster() {
            timeline.extend(
                roster
                    .open_check_ins
                    .iter()
                    .filter(|e| &e.mentor == mentor)
                    .cloned()
                    .map(Observed::local),
            );
        }
        Ok((timeline, unreflected))
    }

    /// Stipend time this period as far as this kiosk knows: the roster's merged total plus the
    /// counted sessions with events the roster did not include yet.
    fn merged_period_time(
        &self,
        mentor: &MentorId,
        sessions: &[Session],
        unreflected: &HashSet<EventId>,
        now: DateTime<Utc>,
    ) -> Duration {
        let rules = self.rules();
        let current_period = rules
            .periods
            .period_of(local_date(now, self.time_zone()))
            .name;
        let new_since_roster = sessions
            .iter()
            .filter(|s| s.period == current_period && rules.counts_toward_stipend(s.category))
            .filter(|s| s.events.iter().any(|id| unreflected.contains(id)))
            .filter_map(Session::counted_duration)
            .fold(Duration::zero(), |a, b| a + b);
        let roster_time = self
            .roster()
            .filter(|r| r.current_period == current_period)
            .and_then(|r| r.mentor(mentor))
            .map(|m| Duration::milliseconds(m.period_time_ms))
            .unwrap_or_else(Duration::zero);
        roster_time + new_since_roster
    }

    /// A mentor's stipend time this period, merged as far as this kiosk knows (the coordinator's
    /// mentor list).
    pub fn period_time(
        &self,
        mentor: &MentorId,
        now: DateTime<Utc>,
    ) -> Result<Duration, KioskError> {
        let rules = self.rules();
        let (timeline, unreflected) = self.timeline(mentor, now, &rules)?;
        let sessions = sessionize(&timeline, &rules, now);
        Ok(self.merged_period_time(mentor, &sessions, &unreflected, now))
    }

    fn confirmation(
        &self,
        event: &Event,
        direction: Direction,
        provisional: bool,
        now: DateTime<Utc>,
        (timeline, unreflected): (Vec<Observed>, HashSet<EventId>),
    ) -> Confirmation {
        let rules = self.rules();
        let zone = self.time_zone();
        let sessions = sessionize(&timeline, &rules, now);
        let today = local_date(now, zone);
        let today_time = sessions
            .iter()
            .filter(|s| s.local_date == today)
            .filter_map(elapsed)
            .fold(Duration::zero(), |a, b| a + b);
        let roster_mentor = self.roster().and_then(|r| r.mentor(&event.mentor));
        let period_time = self.merged_period_time(&event.mentor, &sessions, &unreflected, now);
        Confirmation {
            mentor: event.mentor.clone(),
            name: roster_mentor.map(|m| m.name.clone()),
            language: roster_mentor
                .map(|m| m.language.clone())
                .unwrap_or_else(Language::english),
            direction,
            at: event.at,
            time_zone: zone,
            today: today_time,
            period_time,
            threshold: rules.threshold(),
            provisional,
            event: event.id,
        }
    }

    /// Today's sessions at this school as far as this kiosk knows, for the coordinator.
    pub fn today(&self, now: DateTime<Utc>) -> Result<Vec<Session>, KioskError> {
        let rules = self.rules();
        let zone = self.time_zone();
        let today = local_date(now, zone);
        let from = now - Duration::days(2) - rules.session_cap();
        let mut timeline: Vec<Observed> = self
            .store
            .events_between(from, now + Duration::days(1))?
            .into_iter()
            .map(|e| Observed::local(e.event))
            .collect();
        if let Some(roster) = self.roster() {
            timeline.extend(roster.open_check_ins.iter().cloned().map(Observed::local));
        }
        let sessions = sessionize(&timeline, &rules, now);
        Ok(sessions
            .into_iter()
            .filter(|s| s.local_date == today || s.is_open())
            .collect())
    }
}

/// Every coordinator entry names who made it and why: that is the audit trail.
fn require_audit(coordinator: &str, reason: &str) -> Result<(), KioskError> {
    if reason.trim().is_empty() || coordinator.trim().is_empty() {
        return Err(KioskError::Invalid(
            "a coordinator correction needs the coordinator's name and a reason".into(),
        ));
    }
    Ok(())
}

/// The real elapsed time of a complete session, whether or not it needs review.
fn elapsed(s: &Session) -> Option<Duration> {
    match (s.start, s.end) {
        (Some(a), Some(b)) if b >= a => Some(b - a),
        _ => None,
    }
}

pub fn local_date(t: DateTime<Utc>, zone: TimeZone) -> NaiveDate {
    t.with_timezone(&zone.tz()).date_naive()
}
