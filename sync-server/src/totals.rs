//! Materialized totals: each mentor's period totals are stored after they are computed, and
//! recomputed from her events only when something changed (an ingest bumps her change counter;
//! new rules bump everyone's) or when "now" has moved past what they depend on (an event dated
//! in the future becomes plausible). Reports then read stored totals instead of sessionizing
//! millions of events. Tests prove the result equal to a full recomputation.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use pm_shared::{
    period_totals, sessionize_with_readings, Event, MentorId, Observed, PeriodName, PeriodTotals,
    ProgramRules, Session,
};

use crate::db::{ComputedTotals, TotalsSnapshot};
use crate::storage::Storage;
use crate::ServerError;

/// Sessions (set-aside events as review items: they count only once an organizer accepts
/// them) and per-mentor totals from a snapshot, with the events they came from.
pub struct Computed {
    pub sessions: Vec<Session>,
    pub events: Vec<Event>,
    pub totals: Vec<ComputedTotals>,
    /// Events voided by voids in force.
    pub voided: std::collections::HashSet<pm_shared::EventId>,
    /// Set-aside events an organizer rejected (a verdict in force).
    pub rejected: std::collections::HashSet<pm_shared::EventId>,
}

pub fn compute(snapshot: TotalsSnapshot, rules: &ProgramRules, now: DateTime<Utc>) -> Computed {
    let accepted: Vec<Observed> = snapshot.events.into_iter().map(|e| e.observed).collect();
    let sessions = sessionize_with_readings(&accepted, &snapshot.readings, rules, now);
    let by_key = period_totals(&sessions, rules);
    let mut per_mentor: HashMap<MentorId, Vec<PeriodTotals>> = HashMap::new();
    for ((mentor, _), t) in by_key {
        per_mentor.entry(mentor).or_default().push(t);
    }
    // The earliest moment an instant now in the future stops being implausible.
    let tolerance = rules.future_tolerance();
    let mut valid_until: HashMap<&MentorId, DateTime<Utc>> = HashMap::new();
    // Set-aside events are never sessionized as time: "now" passing changes nothing for them.
    for o in accepted.iter().filter(|o| o.set_aside.is_none()) {
        let e = &o.event;
        let Some(mentor) = &e.mentor else {
            continue;
        };
        let limit = now
            .checked_add_signed(tolerance)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let future = |t: &DateTime<Utc>| *t > limit;
        if !future(&e.at) && !e.kind.instants().iter().any(future) {
            continue;
        }
        let mut instants = vec![e.at];
        instants.extend(e.kind.instants());
        for t in instants.into_iter().filter(future) {
            let until = t - tolerance;
            valid_until
                .entry(mentor)
                .and_modify(|v| *v = (*v).min(until))
                .or_insert(until);
        }
    }
    let totals = snapshot
        .versions
        .iter()
        .map(|(mentor, version)| ComputedTotals {
            mentor: mentor.clone(),
            version: *version,
            valid_until: valid_until.get(mentor).copied(),
            totals: per_mentor.remove(mentor).unwrap_or_default(),
        })
        .collect();
    let voided = pm_shared::voided_in_force(&accepted);
    let rejected = pm_shared::rejected_in_force(&accepted);
    Computed {
        rejected,
        sessions,
        events: accepted.into_iter().map(|o| o.event).collect(),
        totals,
        voided,
    }
}

/// Current totals for these mentors: stored ones where still valid, the rest recomputed (and
/// stored for next time).
pub fn current(
    db: &mut dyn Storage,
    mentors: &[MentorId],
    rules: &ProgramRules,
    now: DateTime<Utc>,
) -> Result<BTreeMap<(MentorId, PeriodName), PeriodTotals>, ServerError> {
    let mut cached = db.cached_totals(mentors, now)?;
    if !cached.stale.is_empty() {
        let snapshot = db.totals_snapshot(&cached.stale)?;
        let fresh = compute(snapshot, rules, now);
        for c in &fresh.totals {
            for t in &c.totals {
                cached
                    .totals
                    .insert((t.mentor.clone(), t.period.clone()), t.clone());
            }
        }
        db.save_totals(&fresh.totals)?;
    }
    Ok(cached.totals)
}

/// Sessions from stored events, with every clock reading of their kiosks' series (the same
/// verdicts whichever other mentors' events are read with them).
pub fn sessions_of(
    db: &dyn Storage,
    stored: Vec<crate::db::StoredEvent>,
    rules: &ProgramRules,
    now: DateTime<Utc>,
) -> Result<(Vec<Session>, Vec<Observed>), ServerError> {
    let readings = db.clock_readings(&crate::db::series_of(&stored))?;
    let observed: Vec<Observed> = stored.into_iter().map(|e| e.observed).collect();
    let sessions = sessionize_with_readings(&observed, &readings, rules, now);
    Ok((sessions, observed))
}
