//! The sessionizer: events from any number of kiosks, in any order, possibly duplicated, become
//! sessions per mentor; sessions become hours per period and the day a stipend was earned.
//!
//! The result depends only on the *set* of events (and the rules and "now"), never on their
//! order or on how often one arrived. Every session with a review reason, and every event the
//! server set aside, is a **review item** (its id: the session's opening event, else its lone
//! check-out, else the set-aside event); it earns nothing until resolved by new events that say
//! who, when and why. How each case is decided (each has a test in
//! `shared/tests/sessionizer.rs`):
//!
//! * **Pairing.** A check-out names the check-in it closes (protocol 2): it closes that
//!   session wherever and whenever it was recorded. A check-out without a reference (protocol 1)
//!   closes the latest open check-in before it in time.
//! * **Forgotten check-out.** A check-in with no check-out stays an *open* session (`open`). It
//!   never earns hours, however old; it becomes a review item once its school-local day is over
//!   (see [`review_items`]) and is resolved by a close ([`EventKind::CloseSession`]) or set times.
//! * **Two check-ins in a row (two kiosks, one of them offline).** Within the already-checked-in
//!   window (`min_session_minutes`) the second is the same arrival and is absorbed; a check-out
//!   naming either closes the session. Later than that, the first stays open for review and
//!   the second starts a new session: we never guess in favour of hours nobody confirmed.
//! * **Closed twice.** A second check-out of a closed session (outside the window, which absorbs
//!   a double scan), or a coordinator's close or new times for a session that was closed and
//!   needed nothing, is `closed_twice`: the first check-out stands, and nothing is credited until
//!   someone resolves it. An unrequested change never silently wins.
//! * **Check-out with no check-in.** A session with no start, zero hours
//!   (`check_out_without_check_in`); setting its start resolves it.
//! * **Over midnight or over the cap** (`across_midnight`, `over_cap`). Counted only after an
//!   organizer approves it, or new times within the cap are set.
//! * **DST days.** Durations are differences of UTC instants (a 1:30–3:30 session on the
//!   spring-forward night is one hour); "the day" is the school-local date in the event's IANA
//!   time zone, never the UTC date.
//! * **A kiosk clock that is wrong** (`kiosk_clock_skew`). Judged per event by the clock checks,
//!   upload readings and clock jumps around it in its kiosk's series (see `clock`). An event
//!   dated before the plausible start or after "now" plus the tolerance (a clock reset to 1970,
//!   or set to next year) makes its session `implausible_date`: kept, never counted, and not
//!   approvable: someone sets the real times or voids it.
//! * **Overlaps.** A mentor is never credited twice for the same minute. A session entered by a
//!   coordinator (a workshop or training, held while the mentors are checked in) takes the
//!   overlapping minutes from a badge session without review: 08:00–10:00 scanned plus a
//!   09:00–11:00 training is 1 h classroom + 2 h training. Two badge sessions, or two entered
//!   sessions, that overlap put the later-recorded one in review (`overlap`); whatever is
//!   approved, no more than the union of the intervals is credited.
//! * **The same event received twice.** Events are deduplicated by id.
//! * **Corrections and resolutions.** A close or new times ([`EventKind::SetTimes`]) replace the
//!   recorded times (organizers' always; coordinators' when the session needed review) and the
//!   checks run again on the new times; the latest wins, an organizer's over a coordinator's.
//!   [`EventKind::Void`] of a session's item removes the session; a void of a check-out reopens
//!   its session; a void of a void is ignored. [`EventKind::ApproveSession`] (organizers only)
//!   lets over-cap, across-midnight, skewed, overlapping and closed-twice sessions count.
//! * **Set-aside events** (`set_aside`). Events the server could not accept stay out until an
//!   organizer accepts ([`EventKind::AcceptEvent`]) or rejects ([`EventKind::RejectEvent`]) them.
//! * **Provisional badges.** A scan by a mentor not yet in the kiosk's roster counts only once
//!   the server has verified the badge (`unverified_badge` until then).

mod clock;
mod credit;
mod pairing;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    EventId, HourCategory, KioskId, MentorId, OpenCheckIn, PeriodName, ProgramRules, TimeZone,
};

pub use clock::Reading;
pub use pairing::{rejected_in_force, sessionize, sessionize_with_readings, voided_in_force};

/// Why a session does not (yet) count. The snake_case codes are stable: CLI, API, page and
/// kiosk use them.
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
    /// Overlaps an earlier-recorded session of the same kind (badge or entered).
    Overlap,
    /// Closed a second time, or changed after it was closed, without being asked to.
    ClosedTwice,
    /// An event the server set aside on receipt.
    SetAside,
    /// Classroom time a coordinator entered after the fact: classroom time is what badges
    /// prove, so an organizer confirms it.
    CoordinatorClassroom,
    /// A badge scan delivered to the server long after it happened (more than the program's
    /// `late_delivery_days`): a copy of a kiosk's disk could claim weeks of backdated scans,
    /// so an organizer looks before it counts.
    LateDelivery,
}

impl ReviewReason {
    pub const ALL: [ReviewReason; 13] = [
        ReviewReason::Open,
        ReviewReason::CheckOutWithoutCheckIn,
        ReviewReason::OverCap,
        ReviewReason::AcrossMidnight,
        ReviewReason::EndBeforeStart,
        ReviewReason::ImplausibleDate,
        ReviewReason::UnverifiedBadge,
        ReviewReason::KioskClockSkew,
        ReviewReason::Overlap,
        ReviewReason::ClosedTwice,
        ReviewReason::SetAside,
        ReviewReason::CoordinatorClassroom,
        ReviewReason::LateDelivery,
    ];

    /// Reasons an organizer's approval settles. The others need new times (open, no check-in,
    /// end before start, implausible date), a verdict on the event (set aside), or the server's
    /// verification (unverified badge).
    pub fn approvable(self) -> bool {
        matches!(
            self,
            ReviewReason::OverCap
                | ReviewReason::AcrossMidnight
                | ReviewReason::KioskClockSkew
                | ReviewReason::Overlap
                | ReviewReason::ClosedTwice
                | ReviewReason::CoordinatorClassroom
                | ReviewReason::LateDelivery
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
            ReviewReason::Overlap => "overlap",
            ReviewReason::ClosedTwice => "closed_twice",
            ReviewReason::SetAside => "set_aside",
            ReviewReason::CoordinatorClassroom => "coordinator_classroom",
            ReviewReason::LateDelivery => "late_delivery",
        }
    }
    /// What the code means, in plain words (English; the page and kiosk translate).
    pub fn meaning(self) -> &'static str {
        match self {
            ReviewReason::Open => "checked in, never checked out",
            ReviewReason::CheckOutWithoutCheckIn => "checked out with no check-in before it",
            ReviewReason::OverCap => "longer than the session cap",
            ReviewReason::AcrossMidnight => "runs past midnight",
            ReviewReason::EndBeforeStart => "ends before it starts",
            ReviewReason::ImplausibleDate => "dated impossibly early or in the future",
            ReviewReason::UnverifiedBadge => "badge not yet verified by the server",
            ReviewReason::KioskClockSkew => "the kiosk's clock was wrong",
            ReviewReason::Overlap => "overlaps another session of hers",
            ReviewReason::ClosedTwice => "closed twice, or changed after it was closed",
            ReviewReason::SetAside => "the server set this event aside",
            ReviewReason::CoordinatorClassroom => {
                "classroom time a coordinator entered: an organizer confirms it"
            }
            ReviewReason::LateDelivery => "delivered to the server long after it happened",
        }
    }
}

impl std::str::FromStr for ReviewReason {
    type Err = crate::DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReviewReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| crate::DomainError::InvalidRules(format!("unknown review reason {s:?}")))
    }
}

/// A stretch of time a mentor spent, as the events say; or a set-aside event waiting for a
/// verdict (`reasons` = [`ReviewReason::SetAside`], `start` = its instant, no end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub mentor: MentorId,
    /// The review item's id: the opening event, else the lone check-out, else the set-aside
    /// event. Stable for the same events.
    pub item: EventId,
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
    /// The kiosk that recorded the check-in (or the lone check-out, or the set-aside event).
    pub kiosk: KioskId,
    /// Every kiosk whose events shaped it.
    pub kiosks: Vec<KioskId>,
    /// Every event that shaped this session, corrections included, in timeline order.
    pub events: Vec<EventId>,
    /// Empty means the session counts.
    pub reasons: Vec<ReviewReason>,
    /// Time credited to this session: its length, less minutes credited to another session of
    /// hers (see "Overlaps"); zero while it needs review.
    pub credited_ms: i64,
    /// For a set-aside event: the server's reason code.
    pub set_aside: Option<String>,
    /// Entered by a coordinator (an added session), not scanned.
    pub entered: bool,
}

impl Session {
    pub fn is_open(&self) -> bool {
        self.reasons.contains(&ReviewReason::Open)
    }
    pub fn needs_review(&self) -> bool {
        !self.reasons.is_empty()
    }
    pub fn is_set_aside(&self) -> bool {
        self.reasons.contains(&ReviewReason::SetAside)
    }
    /// The hours this session earns, if nothing needs review.
    pub fn counted_duration(&self) -> Option<Duration> {
        match (self.start, self.end) {
            (Some(_), Some(_)) if self.reasons.is_empty() => {
                Some(Duration::milliseconds(self.credited_ms))
            }
            _ => None,
        }
    }
    /// Its length as recorded, whether or not it counts (a complete, forward session).
    pub fn elapsed(&self) -> Option<Duration> {
        match (self.start, self.end) {
            (Some(a), Some(b)) if b >= a && !self.is_set_aside() => Some(b - a),
            _ => None,
        }
    }
    /// Whether it is a review item at `now`: it needs review, and it is not simply a mentor who
    /// is still in today (an open session becomes an item once its school-local day is over).
    pub fn is_review_item(&self, now: DateTime<Utc>) -> bool {
        if !self.needs_review() {
            return false;
        }
        let today = self.time_zone.local_date(now);
        !(self.reasons == [ReviewReason::Open] && self.local_date >= today)
    }
}

/// The review queue: every session that needs review (an open one once its day is over) and
/// every set-aside event.
pub fn review_items(sessions: &[Session], now: DateTime<Utc>) -> Vec<&Session> {
    sessions.iter().filter(|s| s.is_review_item(now)).collect()
}

/// The open check-ins among these sessions, for the toggle rule and the roster.
pub fn open_check_ins(sessions: &[Session], mentor: &MentorId) -> Vec<OpenCheckIn> {
    sessions
        .iter()
        .filter(|s| &s.mentor == mentor && s.is_open() && !s.entered)
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
    /// Credited time per category, all categories (community hours are reported separately).
    pub by_category: BTreeMap<HourCategory, Duration>,
    /// Credited time in the categories that count toward the stipend.
    pub stipend_time: Duration,
    /// School-local dates with at least one session counted toward the stipend.
    pub days: u32,
    /// Sessions counted toward the stipend.
    pub sessions: u32,
    pub open_sessions: u32,
    /// Sessions with at least one review reason (open ones and set-aside events included).
    pub needs_review: u32,
    /// Set-aside events still waiting for a verdict.
    #[serde(default)]
    pub set_aside: u32,
    /// Kiosks that recorded a session of hers in the period (her schools, for organizers).
    #[serde(default)]
    pub kiosks: Vec<KioskId>,
    /// Stipend time in milliseconds by the kiosk of the session (where it was earned; an
    /// organizer's entry under the server's kiosk id).
    #[serde(default)]
    pub stipend_by_kiosk: BTreeMap<KioskId, i64>,
    /// The part of `stipend_by_kiosk` from entered sessions, by school-local date: an entry
    /// made on the server belongs to no school's kiosk, so a report files it under the school
    /// she belonged to that day.
    #[serde(default)]
    pub entered_by_day: BTreeMap<NaiveDate, BTreeMap<KioskId, i64>>,
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
            set_aside: 0,
            kiosks: Vec::new(),
            stipend_by_kiosk: BTreeMap::new(),
            entered_by_day: BTreeMap::new(),
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
    centi_hours(d) as f64 / 100.0
}

/// Hundredths of an hour, rounded half up: the hours as every report shows them.
pub fn centi_hours(d: Duration) -> i64 {
    let ms = d.num_milliseconds();
    if ms >= 0 {
        (ms + 18_000) / 36_000
    } else {
        -((-ms + 18_000) / 36_000)
    }
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
        if s.is_set_aside() {
            t.set_aside += 1;
        }
        if !t.kiosks.contains(&s.kiosk) {
            t.kiosks.push(s.kiosk.clone());
        }
        if let Some(d) = s.counted_duration() {
            *t.by_category
                .entry(s.category)
                .or_insert_with(Duration::zero) += d;
            // A session whose every minute went to another (a badge session inside a training)
            // is not a day or a session of its own.
            if rules.on(s.local_date).counts_toward_stipend(s.category) && d > Duration::zero() {
                *t.stipend_by_kiosk.entry(s.kiosk.clone()).or_insert(0) += d.num_milliseconds();
                if s.entered {
                    *t.entered_by_day
                        .entry(s.local_date)
                        .or_default()
                        .entry(s.kiosk.clone())
                        .or_insert(0) += d.num_milliseconds();
                }
                counted.entry(key).or_default().push(s);
            }
        }
    }
    for t in totals.values_mut() {
        t.kiosks.sort();
    }
    for (key, mut list) in counted {
        let Some(t) = totals.get_mut(&key) else {
            continue;
        };
        // A period is judged by the rules in force for it (every session of a period lies in
        // one stretch of rules).
        let threshold = list
            .first()
            .map(|s| rules.on(s.local_date).threshold())
            .unwrap_or_else(Duration::zero);
        list.sort_by_key(|s| (s.end, s.start, s.item));
        let mut days = HashSet::new();
        for s in list {
            t.stipend_time += s.counted_duration().unwrap_or_else(Duration::zero);
            t.sessions += 1;
            days.insert(s.local_date);
            // Decided on the hours as shown (to the hundredth, half up): a shown 100.00 is
            // always eligible, a shown 99.99 never.
            if t.eligible_on.is_none() && centi_hours(t.stipend_time) >= centi_hours(threshold) {
                t.eligible_on = Some(s.local_date);
            }
        }
        t.days = u32::try_from(days.len()).unwrap_or(u32::MAX);
    }
    totals
}
