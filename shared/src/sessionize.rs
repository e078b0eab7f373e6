//! The sessionizer: events from any number of kiosks, in any order, possibly duplicated, become
//! sessions per mentor; sessions become hours per period and the day a stipend was earned.
//!
//! The result depends only on the *set* of events (and the rules and "now"), never on their
//! order or on how often one arrived. How each case in DESIGN.md is decided:
//!
//! * **Forgotten check-out.** A check-in with no check-out stays an *open* session. It never
//!   earns hours, however old, and needs review until a coordinator records
//!   [`EventKind::CloseSession`] with the real end.
//! * **Two check-ins in a row (two kiosks, one of them offline).** Within the duplicate window
//!   the second is the same arrival and is absorbed. Later than that, the first stays open for
//!   review and the second starts a new session: we cannot know whether the mentor meant to
//!   leave, and we never guess in favour of hours nobody confirmed.
//! * **Check-out with no check-in.** A session with no start, zero hours, needs review. A
//!   second check-out within the duplicate window of the previous one is absorbed.
//! * **Over midnight or over the cap.** Counted only after a coordinator approves it
//!   ([`EventKind::ApproveSession`]) or corrects its end.
//! * **DST days.** Durations are differences of UTC instants (a 1:30–3:30 session on the
//!   spring-forward night is one hour); "the day" is the school-local date in the event's IANA
//!   time zone, never the UTC date.
//! * **A kiosk clock that is wrong.** Events are kept as recorded. If the kiosk's clock was off
//!   by more than the tolerance when it delivered them, their session needs review. An event
//!   dated before the plausible start or after "now" plus the tolerance (a clock reset to 1970,
//!   or set to next year) marks its session as implausible: kept, never counted, and a
//!   coordinator replaces it by voiding and adding.
//! * **The same event received twice.** Events are deduplicated by id.
//! * **Corrections.** [`EventKind::CloseSession`] sets the end of the session its check-in
//!   opened (the latest correction wins; all stay in the log); [`EventKind::Void`] removes a
//!   mistaken event from the timeline (a void of a void is ignored: record the event again
//!   instead); [`EventKind::AddSession`] adds a session of a category.
//! * **Provisional badges.** A scan by a mentor not yet in the kiosk's roster counts only once
//!   the server has verified the badge.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    EventId, EventKind, HourCategory, KioskId, MentorId, Observed, OpenCheckIn, PeriodName,
    ProgramRules, TimeZone,
};

/// Why a session does not (yet) count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// No check-out yet.
    Open,
    /// A check-out with no check-in before it.
    CheckOutWithoutCheckIn,
    /// Longer than the session cap.
    OverCap,
    /// Starts and ends on different school-local dates.
    AcrossMidnight,
    /// Ends before it starts (a wrong correction or clock).
    EndBeforeStart,
    /// Dated before the program could have run, or in the future.
    ImplausibleDate,
    /// A provisional badge scan the server has not verified.
    UnverifiedBadge,
    /// Recorded by a kiosk whose clock was off by more than the tolerance.
    KioskClockSkew,
}

impl ReviewReason {
    /// Reasons a coordinator's approval settles. The others need a different correction:
    /// a close (open), a void and an added session (no check-in, implausible date, end before
    /// start), or the server's verification (unverified badge).
    pub fn approvable(self) -> bool {
        matches!(
            self,
            ReviewReason::OverCap | ReviewReason::AcrossMidnight | ReviewReason::KioskClockSkew
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewReason::Open => "open",
            ReviewReason::CheckOutWithoutCheckIn => "check_out_without_check_in",
            ReviewReason::OverCap => "over_cap",
            ReviewReason::AcrossMidnight => "across_midnight",
            ReviewReason::EndBeforeStart => "end_before_start",
            ReviewReason::ImplausibleDate => "implausible_date",
            ReviewReason::UnverifiedBadge => "unverified_badge",
            ReviewReason::KioskClockSkew => "kiosk_clock_skew",
        }
    }
}

/// A stretch of time a mentor spent, as the events say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub mentor: MentorId,
    pub category: HourCategory,
    /// `None` only for a check-out with no check-in.
    pub start: Option<DateTime<Utc>>,
    /// `None` while the session is open.
    pub end: Option<DateTime<Utc>>,
    pub time_zone: TimeZone,
    /// The school-local date the session belongs to (its start, or the lone check-out).
    pub local_date: NaiveDate,
    pub period: PeriodName,
    /// The check-in or added session that began it: corrections refer to this id.
    pub opened_by: Option<EventId>,
    /// The kiosk that recorded the check-in (or the lone check-out).
    pub kiosk: KioskId,
    /// Every event that shaped this session, corrections included, in timeline order.
    pub events: Vec<EventId>,
    /// Empty means the session counts.
    pub reasons: Vec<ReviewReason>,
}

impl Session {
    pub fn is_open(&self) -> bool {
        self.reasons.contains(&ReviewReason::Open)
    }
    pub fn needs_review(&self) -> bool {
        !self.reasons.is_empty()
    }
    /// The hours this session earns: its exact length if nothing needs review, else nothing.
    pub fn counted_duration(&self) -> Option<Duration> {
        match (self.start, self.end) {
            (Some(start), Some(end)) if self.reasons.is_empty() => Some(end - start),
            _ => None,
        }
    }
}

/// Turns every mentor's events into sessions, sorted by mentor, then date and start.
/// `now` is the caller's clock, used only to recognise events dated in the future.
pub fn sessionize(events: &[Observed], rules: &ProgramRules, now: DateTime<Utc>) -> Vec<Session> {
    let mut by_mentor: BTreeMap<&MentorId, Vec<&Observed>> = BTreeMap::new();
    for observed in deduplicate(events) {
        by_mentor
            .entry(&observed.event.mentor)
            .or_default()
            .push(observed);
    }
    let mut sessions = Vec::new();
    for (mentor, timeline) in by_mentor {
        sessions.extend(MentorTimeline::new(mentor, timeline, rules, now).sessions());
    }
    sessions.sort_by(|a, b| {
        (
            &a.mentor,
            a.local_date,
            a.start,
            a.end,
            a.opened_by,
            &a.events,
        )
            .cmp(&(
                &b.mentor,
                b.local_date,
                b.start,
                b.end,
                b.opened_by,
                &b.events,
            ))
    });
    sessions
}

/// One copy of each event id, chosen the same way whatever the input order, then in timeline
/// order (instant, then id).
fn deduplicate(events: &[Observed]) -> Vec<&Observed> {
    let mut unique: Vec<&Observed> = events.iter().collect();
    unique.sort_by(|a, b| a.event.id.cmp(&b.event.id).then_with(|| a.cmp(b)));
    unique.dedup_by_key(|o| o.event.id);
    unique.sort_by_key(|o| (o.event.at, o.event.id));
    unique
}

struct MentorTimeline<'a> {
    mentor: &'a MentorId,
    timeline: Vec<&'a Observed>,
    rules: &'a ProgramRules,
    now: DateTime<Utc>,
    by_id: HashMap<EventId, &'a Observed>,
    /// Latest CloseSession per opening event: (end, correction id).
    closes: HashMap<EventId, (DateTime<Utc>, EventId)>,
    approvals: HashMap<EventId, Vec<EventId>>,
}

/// A session while it is being assembled: the events, before corrections and checks.
struct Draft<'a> {
    opening: Option<&'a Observed>,
    closing: Option<&'a Observed>,
    absorbed: Vec<EventId>,
}

impl<'a> MentorTimeline<'a> {
    fn new(
        mentor: &'a MentorId,
        all: Vec<&'a Observed>,
        rules: &'a ProgramRules,
        now: DateTime<Utc>,
    ) -> Self {
        let voided: HashSet<EventId> = all
            .iter()
            .filter_map(|o| match o.event.kind {
                EventKind::Void { target } => Some(target),
                _ => None,
            })
            .collect();
        let timeline: Vec<&Observed> = all
            .into_iter()
            .filter(|o| {
                !voided.contains(&o.event.id) || matches!(o.event.kind, EventKind::Void { .. })
            })
            .collect();
        let mut closes = HashMap::new();
        let mut approvals: HashMap<EventId, Vec<EventId>> = HashMap::new();
        // The timeline is in (instant, id) order, so a later insert is the later correction.
        for o in &timeline {
            match o.event.kind {
                EventKind::CloseSession { check_in, end } => {
                    closes.insert(check_in, (end, o.event.id));
                }
                EventKind::ApproveSession { check_in } => {
                    approvals.entry(check_in).or_default().push(o.event.id);
                }
                _ => {}
            }
        }
        let by_id = timeline.iter().map(|o| (o.event.id, *o)).collect();
        Self {
            mentor,
            timeline,
            rules,
            now,
            by_id,
            closes,
            approvals,
        }
    }

    fn sessions(&self) -> Vec<Session> {
        let window = self.rules.duplicate_window();
        let mut drafts: Vec<Draft> = Vec::new();
        let mut open: Option<Draft> = None;
        // The last check-out that ended a draft, and that draft's index.
        let mut last_check_out: Option<(&Observed, usize)> = None;
        for o in &self.timeline {
            match o.event.kind {
                EventKind::CheckIn => {
                    if let Some(current) = open.as_mut() {
                        let first = current.opening.map(|c| c.event.at);
                        if first.is_some_and(|at| o.event.at - at <= window) {
                            current.absorbed.push(o.event.id);
                            continue;
                        }
                    }
                    if let Some(stale) = open.take() {
                        drafts.push(stale);
                    }
                    open = Some(Draft {
                        opening: Some(o),
                        closing: None,
                        absorbed: Vec::new(),
                    });
                }
                EventKind::CheckOut => {
                    if let Some(mut current) = open.take() {
                        current.closing = Some(o);
                        drafts.push(current);
                        last_check_out = Some((o, drafts.len() - 1));
                    } else if let Some((prev, index)) =
                        last_check_out.filter(|(prev, _)| o.event.at - prev.event.at <= window)
                    {
                        drafts[index].absorbed.push(o.event.id);
                        last_check_out = Some((prev, index));
                    } else {
                        drafts.push(Draft {
                            opening: None,
                            closing: Some(o),
                            absorbed: Vec::new(),
                        });
                        last_check_out = Some((o, drafts.len() - 1));
                    }
                }
                EventKind::AddSession { .. } => drafts.push(Draft {
                    opening: Some(o),
                    closing: None,
                    absorbed: Vec::new(),
                }),
                _ => {}
            }
        }
        drafts.extend(open);
        drafts.into_iter().filter_map(|d| self.finish(d)).collect()
    }

    fn finish(&self, draft: Draft) -> Option<Session> {
        // The event that defines the session's day, kiosk and time zone.
        let anchor = draft.opening.or(draft.closing)?;
        let mut events: Vec<EventId> = Vec::new();
        let mut reasons: Vec<ReviewReason> = Vec::new();
        let mut category = HourCategory::Classroom;
        let mut start = None;
        let mut end = draft.closing.map(|c| c.event.at);
        let mut constituents: Vec<&Observed> = Vec::new();

        if let Some(opening) = draft.opening {
            constituents.push(opening);
            match opening.event.kind {
                EventKind::AddSession {
                    category: c,
                    start: s,
                    end: e,
                    ..
                } => {
                    category = c;
                    start = Some(s);
                    end = Some(e);
                }
                _ => start = Some(opening.event.at),
            }
            let id = opening.event.id;
            if let Some((close_end, correction)) = self.closes.get(&id) {
                end = Some(*close_end);
                constituents.extend(self.by_id.get(correction));
            }
            for approval in self.approvals.get(&id).into_iter().flatten() {
                constituents.extend(self.by_id.get(approval));
            }
        }
        constituents.extend(draft.closing);
        constituents.extend(draft.absorbed.iter().filter_map(|id| self.by_id.get(id)));
        constituents.sort_by_key(|o| (o.event.at, o.event.id));
        events.extend(constituents.iter().map(|o| o.event.id));

        let time_zone = anchor.event.time_zone;
        let tz = time_zone.tz();
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
        let local_date = local(start.or(end).unwrap_or(anchor.event.at));

        match (start, end) {
            (None, _) => reasons.push(ReviewReason::CheckOutWithoutCheckIn),
            (Some(_), None) => reasons.push(ReviewReason::Open),
            (Some(s), Some(e)) => {
                if e < s {
                    reasons.push(ReviewReason::EndBeforeStart);
                } else if e - s > self.rules.session_cap() {
                    reasons.push(ReviewReason::OverCap);
                }
                if local(s) != local(e) {
                    reasons.push(ReviewReason::AcrossMidnight);
                }
            }
        }
        let mut instants: Vec<DateTime<Utc>> = constituents.iter().map(|o| o.event.at).collect();
        instants.extend(start);
        instants.extend(end);
        if instants.iter().any(|&t| self.implausible(t, &tz)) {
            reasons.push(ReviewReason::ImplausibleDate);
        }
        if constituents
            .iter()
            .any(|o| o.event.source.is_provisional() && !o.badge_verified)
        {
            reasons.push(ReviewReason::UnverifiedBadge);
        }
        let tolerance = self.rules.clock_skew_tolerance().num_milliseconds();
        if constituents.iter().any(|o| {
            o.kiosk_clock_offset_ms
                .is_some_and(|ms| ms.abs() > tolerance)
        }) {
            reasons.push(ReviewReason::KioskClockSkew);
        }
        let approved = draft
            .opening
            .is_some_and(|o| self.approvals.contains_key(&o.event.id));
        if approved {
            reasons.retain(|r| !r.approvable());
        }
        reasons.sort();
        reasons.dedup();

        Some(Session {
            mentor: self.mentor.clone(),
            category,
            start,
            end,
            time_zone,
            local_date,
            period: self.rules.periods.period_of(local_date).name,
            opened_by: draft.opening.map(|o| o.event.id),
            kiosk: anchor.event.kiosk.clone(),
            events,
            reasons,
        })
    }

    fn implausible(&self, t: DateTime<Utc>, tz: &chrono_tz::Tz) -> bool {
        t.with_timezone(tz).date_naive() < self.rules.earliest_plausible_date
            || t > self.now + self.rules.future_tolerance()
    }
}

/// The open check-ins among these sessions, for the toggle rule and the roster.
pub fn open_check_ins(sessions: &[Session], mentor: &MentorId) -> Vec<OpenCheckIn> {
    sessions
        .iter()
        .filter(|s| &s.mentor == mentor && s.is_open())
        .filter_map(|s| {
            Some(OpenCheckIn {
                event: s.opened_by?,
                kiosk: s.kiosk.clone(),
                at: s.start?,
            })
        })
        .collect()
}

/// One mentor's standing in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodTotals {
    pub mentor: MentorId,
    pub period: PeriodName,
    /// Counted time per category, all categories (community hours are reported separately).
    pub by_category: BTreeMap<HourCategory, Duration>,
    /// Counted time in the categories that count toward the stipend.
    pub stipend_time: Duration,
    /// School-local dates with at least one session counted toward the stipend.
    pub days: u32,
    /// Sessions counted toward the stipend.
    pub sessions: u32,
    pub open_sessions: u32,
    /// Sessions with at least one review reason, open ones included.
    pub needs_review: u32,
    /// The school-local date the stipend threshold was crossed.
    pub eligible_on: Option<NaiveDate>,
}

impl PeriodTotals {
    fn new(mentor: MentorId, period: PeriodName) -> Self {
        Self {
            mentor,
            period,
            by_category: BTreeMap::new(),
            stipend_time: Duration::zero(),
            days: 0,
            sessions: 0,
            open_sessions: 0,
            needs_review: 0,
            eligible_on: None,
        }
    }
    /// Stipend hours rounded to two decimals, summed from exact durations first.
    pub fn stipend_hours(&self) -> f64 {
        hours_2dp(self.stipend_time)
    }
}

/// Hours with two decimals, from an exact duration (rounding once, at the end).
pub fn hours_2dp(d: Duration) -> f64 {
    (d.num_milliseconds() as f64 / 36_000.0).round() / 100.0
}

/// Totals per (mentor, period) from sessions, and the date each crossed the threshold.
pub fn period_totals(
    sessions: &[Session],
    rules: &ProgramRules,
) -> BTreeMap<(MentorId, PeriodName), PeriodTotals> {
    let mut totals: BTreeMap<(MentorId, PeriodName), PeriodTotals> = BTreeMap::new();
    let mut counted: BTreeMap<(MentorId, PeriodName), Vec<&Session>> = BTreeMap::new();
    for s in sessions {
        let key = (s.mentor.clone(), s.period.clone());
        let t = totals
            .entry(key.clone())
            .or_insert_with(|| PeriodTotals::new(key.0.clone(), key.1.clone()));
        if s.is_open() {
            t.open_sessions += 1;
        }
        if s.needs_review() {
            t.needs_review += 1;
        }
        if let Some(d) = s.counted_duration() {
            *t.by_category
                .entry(s.category)
                .or_insert_with(Duration::zero) += d;
            if rules.counts_toward_stipend(s.category) {
                counted.entry(key).or_default().push(s);
            }
        }
    }
    let threshold = rules.threshold();
    for (key, mut list) in counted {
        let Some(t) = totals.get_mut(&key) else {
            continue;
        };
        list.sort_by_key(|s| (s.end, s.start, s.opened_by));
        let mut days = HashSet::new();
        for s in list {
            t.stipend_time += s.counted_duration().unwrap_or_else(Duration::zero);
            t.sessions += 1;
            days.insert(s.local_date);
            if t.eligible_on.is_none() && t.stipend_time >= threshold {
                t.eligible_on = Some(s.local_date);
            }
        }
        t.days = u32::try_from(days.len()).unwrap_or(u32::MAX);
    }
    totals
}
