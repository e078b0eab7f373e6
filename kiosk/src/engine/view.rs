//! What this kiosk knows of a mentor's time: its own events merged with the roster's recent
//! sessions from every kiosk, and the server's verdict on every session it has already judged,
//! so the kiosk shows exactly what the server will credit.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use pm_shared::{
    sessionize, EventId, MentorId, Observed, PeriodName, ProgramRules, RecentSession, Roster,
    Session,
};

use crate::store::StoredEvent;

/// A mentor's (or the school's) sessions as this kiosk sees them.
pub struct View {
    pub sessions: Vec<Session>,
    /// Per mentor: stipend time this period beyond what the roster's total holds (her sessions
    /// the server has not judged yet, less what it credited to sessions changed here since).
    pub unreflected_time: HashMap<MentorId, Duration>,
}

/// Builds the view from local events and the roster. `extra` are events just recorded.
pub fn build(
    local: Vec<StoredEvent>,
    pulled_at: Option<DateTime<Utc>>,
    roster: Option<&Roster>,
    only: Option<&MentorId>,
    rules: &ProgramRules,
    current_period: &PeriodName,
    now: DateTime<Utc>,
) -> View {
    let reflected = |delivered: Option<DateTime<Utc>>| match (delivered, pulled_at) {
        (Some(d), Some(p)) => d <= p,
        _ => false,
    };
    let mut unreflected: HashSet<EventId> = HashSet::new();
    let mut timeline: Vec<Observed> = Vec::new();
    for e in local {
        // Set aside by the server: it counts for nothing until an organizer accepts it.
        if e.set_aside.is_some() {
            continue;
        }
        if !reflected(e.delivered_at) {
            unreflected.insert(e.event.id);
        }
        timeline.push(Observed::local(e.event));
    }
    let mine = |m: &MentorId| only.is_none_or(|o| o == m);
    let mut server: HashMap<EventId, &RecentSession> = HashMap::new();
    if let Some(roster) = roster {
        for r in roster.recent.iter().filter(|r| mine(&r.mentor)) {
            server.insert(r.item, r);
            timeline.extend(r.events.iter().cloned().map(Observed::local));
        }
        timeline.extend(
            roster
                .open_check_ins
                .iter()
                .filter(|e| e.mentor.as_ref().is_some_and(mine))
                .cloned()
                .map(Observed::local),
        );
    }
    let mut sessions = sessionize(&timeline, rules, now);
    let counts = |category, period: &PeriodName| {
        rules.counts_toward_stipend(category) && period == current_period
    };
    let mut unreflected_time: HashMap<MentorId, Duration> = HashMap::new();
    let mut seen: HashSet<EventId> = HashSet::new();
    for s in &mut sessions {
        seen.insert(s.item);
        let local_credit = match s.counted_duration() {
            Some(d) if counts(s.category, &s.period) => d,
            _ => Duration::zero(),
        };
        let delta = match server.get(&s.item) {
            Some(r) => {
                let known: HashSet<EventId> = r.events.iter().map(|e| e.id).collect();
                if s.events.iter().all(|id| known.contains(id)) {
                    // Nothing new here: the server's verdict is the truth.
                    s.reasons = r.reasons.clone();
                    s.credited_ms = if r.reasons.is_empty() {
                        r.credited_ms
                    } else {
                        0
                    };
                    Duration::zero()
                } else {
                    local_credit - server_credit(r, &counts)
                }
            }
            None if s.events.iter().any(|id| unreflected.contains(id)) => local_credit,
            None => Duration::zero(),
        };
        *unreflected_time
            .entry(s.mentor.clone())
            .or_insert_with(Duration::zero) += delta;
    }
    // A session the server credited that is gone here (voided on this kiosk since).
    for r in server.values().filter(|r| !seen.contains(&r.item)) {
        *unreflected_time
            .entry(r.mentor.clone())
            .or_insert_with(Duration::zero) -= server_credit(r, &counts);
    }
    View {
        sessions,
        unreflected_time,
    }
}

fn server_credit(
    r: &RecentSession,
    counts: &impl Fn(pm_shared::HourCategory, &PeriodName) -> bool,
) -> Duration {
    if r.reasons.is_empty() && counts(r.category, &r.period) {
        Duration::milliseconds(r.credited_ms)
    } else {
        Duration::zero()
    }
}
