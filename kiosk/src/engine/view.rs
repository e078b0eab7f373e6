//! What this kiosk knows of a mentor's time: its own events merged with the roster's recent
//! sessions from every kiosk, and the server's verdict on every session it has already judged,
//! so the kiosk shows exactly what the server will credit.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use pm_shared::{
    sessionize, EventId, MentorId, Observed, PeriodName, ProgramRules, RecentSession, ReviewReason,
    Roster, Session,
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
    // What an organizer voided counts for nothing here either (a voided check-in is not open).
    let voided: HashSet<EventId> = roster
        .map(|r| r.voided.iter().copied().collect())
        .unwrap_or_default();
    // Visits held for organizers: paired with her next scan here, credited with nothing.
    let mut held: HashSet<EventId> = HashSet::new();
    for e in local {
        if voided.contains(&e.event.id) {
            continue;
        }
        // Set aside by the server: it counts for nothing until an organizer accepts it.
        if e.set_aside.is_some() {
            if !e.pairs {
                continue;
            }
            held.insert(e.event.id);
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
        rules.latest_period_rules().counts_toward_stipend(category) && period == current_period
    };
    // Mentors with something here the server has not judged yet.
    let news: HashSet<MentorId> = sessions
        .iter()
        .filter(|s| s.events.iter().any(|id| unreflected.contains(id)))
        .map(|s| s.mentor.clone())
        .collect();
    for s in &mut sessions {
        let judged = server.get(&s.item).filter(|r| {
            let known: HashSet<EventId> = r.events.iter().map(|e| e.id).collect();
            s.events.iter().all(|id| known.contains(id))
        });
        let Some(r) = judged else {
            // A visit held for organizers that the server has not judged yet (as far as this
            // kiosk knows) pairs, and earns nothing.
            if s.events.iter().any(|id| held.contains(id)) {
                s.credited_ms = 0;
                if !s.reasons.contains(&ReviewReason::SetAside) {
                    s.reasons.push(ReviewReason::SetAside);
                }
            }
            continue;
        };
        // Nothing new in this session: the server's verdict on it is the truth (it knows the
        // clock readings and set-aside events this kiosk does not).
        s.reasons = r.reasons.clone();
        if !r.reasons.is_empty() {
            s.credited_ms = 0;
        } else if !news.contains(&s.mentor) {
            s.credited_ms = r.credited_ms;
        }
    }
    // The roster's total holds what the server credited to her recent sessions; for a mentor
    // with news here, what this kiosk credits her now replaces it (overlaps credited once,
    // across old and new sessions alike).
    let mut unreflected_time: HashMap<MentorId, Duration> = HashMap::new();
    for s in sessions.iter().filter(|s| news.contains(&s.mentor)) {
        if let Some(d) = s
            .counted_duration()
            .filter(|_| counts(s.category, &s.period))
        {
            *unreflected_time
                .entry(s.mentor.clone())
                .or_insert_with(Duration::zero) += d;
        }
    }
    for r in server.values().filter(|r| news.contains(&r.mentor)) {
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
