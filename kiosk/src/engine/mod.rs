//! The scan engine: badge text and an instant in, a durable event and something to show out.
//! It knows nothing of cameras or screens; the UI and the headless commands both call it.
//! `view` merges this kiosk's events with the roster's; `corrections` holds the coordinator's
//! entries.

mod corrections;
mod view;

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use pm_shared::{
    clearance_notice, decide_scan, is_repeat_scan, verify_badge, BadgeVerdict, ClearanceKind,
    ClearanceStatus, Event, EventId, EventKind, ExpiredClearance, KioskId, Language, MentorId,
    Placement, ProgramRules, Roster, ScanAction, Session, Source, TimeZone,
};

use crate::store::{NewEvent, Store, StoredRoster};
use crate::KioskError;

pub use corrections::{Correction, ItemResolution};

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
    /// Time credited today (in the categories that count), this session included.
    pub today: Duration,
    /// Time today that waits on a review (shown apart, never added).
    pub pending_review: Duration,
    /// Stipend time this period, merged from every kiosk as far as this kiosk knows.
    pub period_time: Duration,
    pub threshold: Duration,
    pub provisional: bool,
    pub event: EventId,
    /// Her teacher and classroom ("Room 12 · Ms. Smith").
    pub placement: Option<Placement>,
    /// A clearance expired or expiring within 30 days, to mention kindly.
    pub clearance: Option<ClearanceNote>,
}

/// A clearance the mentor should hear about: which, its last good day, and whether that is past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearanceNote {
    pub kind: ClearanceKind,
    pub expires: NaiveDate,
    pub expired: bool,
}

/// A mentor's clearance to renew, for the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearanceDue {
    pub mentor: MentorId,
    pub name: String,
    pub note: ClearanceNote,
}

/// A check-in refused because a clearance expired (the program's rule says refuse): nothing
/// is recorded; she is told kindly, in her language, to see her coordinator.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub mentor: MentorId,
    pub name: String,
    pub language: Language,
    pub clearance: ClearanceNote,
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
    /// Scanned again soon after checking in (`direction` In, `at` the check-in) or out (Out, the
    /// check-out): nothing recorded, "Already checked in at 8:02".
    Already(Confirmation),
    Rejected(Rejection),
    Refused(Refusal),
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
            ScanOutcome::Already(c) => match c.direction {
                Direction::In => format!("already-checked-in {}", c.mentor),
                Direction::Out => format!("already-checked-out {}", c.mentor),
            },
            ScanOutcome::Rejected(r) => format!("rejected {}", r.code()),
            ScanOutcome::Refused(r) => {
                format!("refused-clearance {} {}", r.mentor, r.clearance.kind)
            }
        }
    }
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
pub(crate) fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::milliseconds(1)).unwrap_or(t)
}

/// A time span: (start, end).
pub type Span = (DateTime<Utc>, DateTime<Utc>);

pub(crate) fn new_event_id(at: DateTime<Utc>) -> EventId {
    EventId::from_parts(
        u64::try_from(at.timestamp_millis()).unwrap_or(0),
        rand::random(),
    )
}

/// How far back a mentor's own events are read for the toggle and today's totals (older ones
/// are read too while the roster does not reflect them yet).
fn lookback(rules: &ProgramRules) -> Duration {
    rules.latest_period_rules().session_cap() + Duration::days(2)
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
    pub(crate) fn pulled_at(&self) -> Option<DateTime<Utc>> {
        self.roster.as_ref().map(|r| r.pulled_at)
    }
    /// The school's coordinators as the roster has them, with a PIN changed here and not yet
    /// in the roster in place of the one it replaced (a hash the roster no longer has is left:
    /// an organizer reset it meanwhile, and hers wins).
    pub fn coordinators(&self) -> Result<Vec<pm_shared::Coordinator>, KioskError> {
        let mut coordinators = self
            .roster()
            .map(|r| r.coordinators.clone())
            .unwrap_or_default();
        for change in self.store.own_pins()? {
            for c in coordinators
                .iter_mut()
                .filter(|c| c.name == change.name && c.pin_hash == change.replaces)
            {
                c.pin_hash = change.pin_hash.clone();
                c.change_salt = Some(change.change_salt.clone());
            }
        }
        Ok(coordinators)
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

    /// Records a kiosk-level event: a clock jump, or that the kiosk program started.
    pub fn record_clock_event(
        &mut self,
        kind: EventKind,
        at: DateTime<Utc>,
    ) -> Result<Event, KioskError> {
        let at = to_millis(at);
        let zone = self.time_zone();
        self.store
            .append_clock_event(new_event_id(at), self.kiosk.clone(), at, zone, kind)
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
                    EventKind::CheckOut { .. } => Direction::Out,
                    _ => Direction::In,
                };
                let view = self.mentor_view(&mentor, at, &rules)?;
                let confirmation = self.confirmation(
                    &mentor,
                    (last.event.at, last.event.id),
                    direction,
                    provisional,
                    at,
                    &view,
                );
                return Ok(ScanOutcome::Repeat(confirmation));
            }
        }

        let source = Source::BadgeScan {
            generation: claim.generation,
            provisional,
            badge_hash: claim.hash,
            proof: None,
        };
        self.toggle(mentor, source, Some(text), provisional, at, &rules)
    }

    /// Records the mentor's next check-in or check-out by the one toggle rule, from a badge or
    /// from the coordinator, and returns what to show (nothing is recorded when she checked in
    /// or out less than the minimum session ago).
    /// A badge scan's proof is made here, from the text read (`badge_text`), once the event is
    /// complete and before it is stored: the text itself is never stored.
    fn toggle(
        &mut self,
        mentor: MentorId,
        mut source: Source,
        badge_text: Option<&str>,
        provisional: bool,
        at: DateTime<Utc>,
        rules: &ProgramRules,
    ) -> Result<ScanOutcome, KioskError> {
        let zone = self.time_zone();
        let view = self.mentor_view(&mentor, at, rules)?;
        let (kind, direction) = match decide_scan(&view.sessions, at, zone, rules) {
            ScanAction::AlreadyIn { since } => {
                let id = opening_at(&view.sessions, since);
                let c =
                    self.confirmation(&mentor, (since, id), Direction::In, provisional, at, &view);
                return Ok(ScanOutcome::Already(c));
            }
            ScanAction::AlreadyOut { at: out } => {
                let id = opening_at(&view.sessions, out);
                let c =
                    self.confirmation(&mentor, (out, id), Direction::Out, provisional, at, &view);
                return Ok(ScanOutcome::Already(c));
            }
            ScanAction::CheckIn => {
                if matches!(source, Source::BadgeScan { .. })
                    && rules.expired_clearance == ExpiredClearance::Refuse
                {
                    if let Some(refusal) = self.refusal(&mentor, at) {
                        return Ok(ScanOutcome::Refused(refusal));
                    }
                }
                (EventKind::CheckIn, Direction::In)
            }
            ScanAction::CheckOut { check_in, .. } => (
                EventKind::CheckOut {
                    check_in: Some(check_in),
                },
                Direction::Out,
            ),
        };
        let id = new_event_id(at);
        if let (
            Some(text),
            Source::BadgeScan {
                generation,
                provisional,
                badge_hash,
                proof,
            },
        ) = (badge_text, &mut source)
        {
            let claim = pm_shared::ScanClaim {
                id,
                kiosk: &self.kiosk,
                mentor: &mentor,
                at,
                time_zone: zone,
                kind: &kind,
                generation: *generation,
                provisional: *provisional,
                badge_hash,
            };
            *proof = pm_shared::scan_proof(text, &claim);
        }
        let event = self.store.append(NewEvent {
            id,
            kiosk: self.kiosk.clone(),
            mentor: mentor.clone(),
            at,
            time_zone: zone,
            kind,
            source,
        })?;
        let view = self.mentor_view(&mentor, at, rules)?;
        Ok(ScanOutcome::Recorded(self.confirmation(
            &mentor,
            (event.at, event.id),
            direction,
            provisional,
            at,
            &view,
        )))
    }

    /// The clearance worth mentioning to this mentor today, if any.
    fn clearance_note(&self, mentor: &MentorId, now: DateTime<Utc>) -> Option<ClearanceNote> {
        let today = local_date(now, self.time_zone());
        let m = self.roster()?.mentor(mentor)?;
        clearance_notice(&m.clearances, today).map(|c| ClearanceNote {
            kind: c.kind.clone(),
            expires: c.expires,
            expired: c.status(today) == ClearanceStatus::Expired,
        })
    }

    /// The school's clearances expired or expiring within 30 days, the most urgent first.
    pub fn clearances_to_renew(&self, now: DateTime<Utc>) -> Vec<ClearanceDue> {
        let today = local_date(now, self.time_zone());
        let mut due: Vec<ClearanceDue> = self
            .roster()
            .map(|r| r.mentors.as_slice())
            .unwrap_or_default()
            .iter()
            .flat_map(|m| {
                m.clearances.iter().filter_map(move |c| {
                    let status = c.status(today);
                    status.needs_attention().then(|| ClearanceDue {
                        mentor: m.id.clone(),
                        name: m.name.clone(),
                        note: ClearanceNote {
                            kind: c.kind.clone(),
                            expires: c.expires,
                            expired: status == ClearanceStatus::Expired,
                        },
                    })
                })
            })
            .collect();
        due.sort_by(|a, b| {
            (a.note.expires, &a.name, &a.note.kind).cmp(&(b.note.expires, &b.name, &b.note.kind))
        });
        due
    }

    /// A refusal, if one of her clearances has expired.
    fn refusal(&self, mentor: &MentorId, now: DateTime<Utc>) -> Option<Refusal> {
        let note = self.clearance_note(mentor, now).filter(|n| n.expired)?;
        let m = self.roster()?.mentor(mentor)?;
        Some(Refusal {
            mentor: mentor.clone(),
            name: m.name.clone(),
            language: m.language.clone(),
            clearance: note,
        })
    }

    /// What the mentor's next check (badge or coordinator) would record: in or out.
    pub fn next_direction(
        &self,
        mentor: &MentorId,
        at: DateTime<Utc>,
    ) -> Result<Direction, KioskError> {
        let rules = self.rules();
        let view = self.mentor_view(mentor, at, &rules)?;
        Ok(
            match decide_scan(&view.sessions, at, self.time_zone(), &rules) {
                ScanAction::CheckIn | ScanAction::AlreadyOut { .. } => Direction::In,
                ScanAction::CheckOut { .. } | ScanAction::AlreadyIn { .. } => Direction::Out,
            },
        )
    }

    /// The current period at the school on `now`'s date.
    fn current_period(&self, rules: &ProgramRules, now: DateTime<Utc>) -> pm_shared::PeriodName {
        rules.period_of(local_date(now, self.time_zone())).name
    }

    /// This mentor's sessions as far as the kiosk knows: local events from the last days (and
    /// older ones the roster does not reflect yet) merged with the roster's recent sessions.
    fn mentor_view(
        &self,
        mentor: &MentorId,
        at: DateTime<Utc>,
        rules: &ProgramRules,
    ) -> Result<view::View, KioskError> {
        let pulled_at = self.pulled_at();
        let local = self
            .store
            .mentor_events_since(mentor, at - lookback(rules), pulled_at)?;
        Ok(view::build(
            local,
            pulled_at,
            self.roster(),
            Some(mentor),
            rules,
            &self.current_period(rules, at),
            at,
        ))
    }

    /// Stipend time this period as far as this kiosk knows: the roster's merged total plus
    /// what it does not reflect yet.
    fn period_time_in(&self, mentor: &MentorId, view: &view::View, now: DateTime<Utc>) -> Duration {
        let rules = self.rules();
        let current_period = self.current_period(&rules, now);
        let roster_time = self
            .roster()
            .filter(|r| r.current_period == current_period)
            .and_then(|r| r.mentor(mentor))
            .map(|m| Duration::milliseconds(m.period_time_ms))
            .unwrap_or_else(Duration::zero);
        let extra = view
            .unreflected_time
            .get(mentor)
            .copied()
            .unwrap_or_else(Duration::zero);
        (roster_time + extra).max(Duration::zero())
    }

    /// A mentor's stipend time this period, merged as far as this kiosk knows (the coordinator's
    /// mentor list).
    pub fn period_time(
        &self,
        mentor: &MentorId,
        now: DateTime<Utc>,
    ) -> Result<Duration, KioskError> {
        let rules = self.rules();
        let view = self.mentor_view(mentor, now, &rules)?;
        Ok(self.period_time_in(mentor, &view, now))
    }

    fn confirmation(
        &self,
        mentor: &MentorId,
        (at, event): (DateTime<Utc>, EventId),
        direction: Direction,
        provisional: bool,
        now: DateTime<Utc>,
        view: &view::View,
    ) -> Confirmation {
        let rules = self.rules();
        let zone = self.time_zone();
        let today = local_date(now, zone);
        let mut today_time = Duration::zero();
        let mut pending_review = Duration::zero();
        for s in view
            .sessions
            .iter()
            .filter(|s| &s.mentor == mentor && s.local_date == today)
        {
            match s.counted_duration() {
                Some(d) if rules.on(today).counts_toward_stipend(s.category) => today_time += d,
                Some(_) => {}
                None if s.is_review_item(now) => {
                    pending_review += s.elapsed().unwrap_or_else(Duration::zero)
                }
                None => {}
            }
        }
        let roster_mentor = self.roster().and_then(|r| r.mentor(mentor));
        Confirmation {
            mentor: mentor.clone(),
            name: roster_mentor.map(|m| m.name.clone()),
            language: roster_mentor
                .map(|m| m.language.clone())
                .unwrap_or_else(Language::english),
            direction,
            at,
            time_zone: zone,
            today: today_time,
            pending_review,
            period_time: self.period_time_in(mentor, view, now),
            threshold: rules.on(today).threshold(),
            provisional,
            event,
            placement: roster_mentor.and_then(|m| m.placement.clone()),
            clearance: self.clearance_note(mentor, now),
        }
    }

    /// Today's sessions at this school as far as this kiosk knows, and open ones from before,
    /// for the coordinator.
    pub fn today(&self, now: DateTime<Utc>) -> Result<Vec<Session>, KioskError> {
        let rules = self.rules();
        let zone = self.time_zone();
        let today = local_date(now, zone);
        let from = now - lookback(&rules);
        let local = self.store.events_between(from, now + Duration::days(1))?;
        let view = view::build(
            local,
            self.pulled_at(),
            self.roster(),
            None,
            &rules,
            &self.current_period(&rules, now),
            now,
        );
        Ok(view
            .sessions
            .into_iter()
            .filter(|s| s.set_aside.is_none() && (s.local_date == today || s.is_open()))
            .collect())
    }
}

/// The id of the session that opened (or closed) at this instant: what an "already" outcome
/// refers to.
fn opening_at(sessions: &[Session], at: DateTime<Utc>) -> EventId {
    sessions
        .iter()
        .find(|s| s.start == Some(at) || s.end == Some(at))
        .map(|s| s.item)
        .unwrap_or_else(|| EventId::from_parts(0, [0; 10]))
}

pub fn local_date(t: DateTime<Utc>, zone: TimeZone) -> NaiveDate {
    zone.local_date(t)
}
