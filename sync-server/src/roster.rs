//! Builds a school's roster for its kiosks, and the merged sessions it is computed from.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use pm_shared::{
    BadgeGeneration, Event, EventId, EventKind, ProgramRules, RecentSession, ReviewEntry, Roster,
    RosterMentor, SchoolId, Session,
};

use crate::storage::Storage;
use crate::ServerError;

/// How far back the roster tells kiosks every session (closed ones too), school-local days.
pub const RECENT_DAYS: i64 = 14;

/// Sessions from every event of a school's mentors (or all schools'), merged across kiosks by
/// the shared sessionizer; set-aside events are review items that count for nothing.
pub fn merged_sessions(
    db: &dyn Storage,
    school: Option<&SchoolId>,
    rules: &ProgramRules,
    now: DateTime<Utc>,
) -> Result<(Vec<Session>, Vec<Event>), ServerError> {
    let stored = db.events(school)?;
    let (sessions, observed) = crate::totals::sessions_of(db, stored, rules, now)?;
    let events = observed.into_iter().map(|o| o.event).collect();
    Ok((sessions, events))
}

/// The school's roster: the one last built if nothing it is built from changed (a stamp read
/// in a few small queries), else built afresh and kept.
pub fn build(
    db: &mut dyn Storage,
    school_id: &SchoolId,
    now: DateTime<Utc>,
) -> Result<Roster, ServerError> {
    let school = db.school(school_id)?;
    let today = school.time_zone.local_date(now);
    let stamp = db.roster_stamp(school_id, today, now)?;
    if let Some((kept, body)) = db.cached_roster(school_id)? {
        if kept == stamp {
            if let Ok(roster) = serde_json::from_str::<Roster>(&body) {
                return Ok(roster);
            }
        }
    }
    let roster = build_fresh(db, school_id, now)?;
    let body = serde_json::to_string(&roster).map_err(|e| ServerError::Corrupt(e.to_string()))?;
    db.save_roster(school_id, &stamp, &body)?;
    Ok(roster)
}

thread_local! {
    static FRESH_BUILDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many rosters this thread built afresh (sessionizing): for tests.
pub fn fresh_builds() -> u64 {
    FRESH_BUILDS.with(|c| c.get())
}

/// Builds the roster from the events, sessionizing the school's mentors.
pub fn build_fresh(
    db: &mut dyn Storage,
    school_id: &SchoolId,
    now: DateTime<Utc>,
) -> Result<Roster, ServerError> {
    FRESH_BUILDS.with(|c| c.set(c.get() + 1));
    let school = db.school(school_id)?;
    let rules = db.rules()?;
    let today = school.time_zone.local_date(now);
    let current_period = rules.period_of(today).name;
    // Sessionize the school's mentors once, and keep their totals for the reports too.
    let members = db.mentors(Some(school_id))?;
    let mut ids: Vec<_> = members.iter().map(|m| m.id.clone()).collect();
    // Visitors too: her recent sessions here, and an organizer's void of one, reach this
    // school's kiosks as they reach her own school's.
    let visitors = db.visitors_since(school_id, crate::db::visitors_window(now))?;
    ids.extend(visitors.into_iter().map(|(m, _)| m));
    let member_ids: std::collections::HashSet<_> = members.iter().map(|m| m.id.clone()).collect();
    let snapshot = db.totals_snapshot(&ids)?;
    let computed = crate::totals::compute(snapshot, &rules, now);
    db.save_totals(&computed.totals)?;
    let period_time: HashMap<_, _> = computed
        .totals
        .iter()
        .flat_map(|c| c.totals.iter())
        .filter(|t| t.period == current_period)
        .map(|t| (t.mentor.clone(), t.stipend_time.num_milliseconds()))
        .collect();
    let mut mentors = Vec::new();
    let mut revoked = Vec::new();
    let mut placements = db.placements(Some(school_id))?;
    let mut clearances = db.clearances(Some(school_id))?;
    for m in members {
        if !m.active {
            revoked.push(m.id);
            continue;
        }
        let badge = db
            .current_badge(&m.id)?
            .map(|(generation, _, hash)| BadgeGeneration { generation, hash });
        mentors.push(RosterMentor {
            period_time_ms: period_time.get(&m.id).copied().unwrap_or(0),
            placement: placements.remove(&m.id),
            clearances: clearances.remove(&m.id).unwrap_or_default(),
            id: m.id,
            name: m.name,
            language: m.language,
            badge,
        });
    }
    let kiosk_schools = db.kiosk_schools()?;
    let here = |s: &Session| kiosk_schools.get(&s.kiosk) == Some(school_id);
    let since = today - Duration::days(RECENT_DAYS);
    let recent_sessions: Vec<&Session> = computed
        .sessions
        .iter()
        .filter(|s| here(s) && !s.is_set_aside() && (s.local_date >= since || s.is_open()))
        .collect();
    // Only the events those sessions need (usually a few hundred of a school's many).
    let needed: std::collections::HashSet<EventId> = recent_sessions
        .iter()
        .flat_map(|s| s.events.iter().copied())
        .collect();
    let events: HashMap<EventId, &Event> = computed
        .events
        .iter()
        .filter(|e| needed.contains(&e.id))
        .map(|e| (e.id, e))
        .collect();
    let recent: Vec<RecentSession> = recent_sessions
        .iter()
        .map(|s| RecentSession {
            mentor: s.mentor.clone(),
            item: s.item,
            category: s.category,
            period: s.period.clone(),
            events: s
                .events
                .iter()
                .filter_map(|id| events.get(id).map(|e| (*e).clone()))
                .collect(),
            reasons: s.reasons.clone(),
            credited_ms: s.credited_ms,
        })
        .collect();
    let review: Vec<ReviewEntry> = computed
        .sessions
        .iter()
        .filter(|s| here(s) && member_ids.contains(&s.mentor) && s.is_review_item(now))
        .map(ReviewEntry::from_session)
        .collect();
    // What organizers voided or rejected of this school's recent scans and entries (a kiosk's
    // own voids it sessionizes as the server does).
    let here_recent: HashMap<EventId, &Event> = computed
        .events
        .iter()
        .filter(|e| {
            kiosk_schools.get(&e.kiosk) == Some(school_id) && e.time_zone.local_date(e.at) >= since
        })
        .map(|e| (e.id, e))
        .collect();
    let mut voided: Vec<EventId> = computed
        .events
        .iter()
        .filter(|e| e.source.is_organizer())
        .filter_map(|e| match e.kind {
            EventKind::Void { target } => Some(target),
            _ => None,
        })
        .filter(|t| computed.voided.contains(t) && here_recent.contains_key(t))
        .collect();
    // A held visit an organizer rejected counts for nothing either: the kiosk stops pairing it.
    voided.extend(
        computed
            .rejected
            .iter()
            .filter(|t| here_recent.contains_key(t))
            .copied(),
    );
    voided.sort();
    voided.dedup();
    // What kiosks of protocol 1 toggle by (open sessions are among the recent ones).
    let mut open_check_ins: Vec<Event> = recent_sessions
        .iter()
        .filter(|s| s.is_open() && !s.entered)
        .filter_map(|s| events.get(&s.opened_by?))
        .filter(|e| e.kind == EventKind::CheckIn)
        .map(|e| (*e).clone())
        .collect();
    open_check_ins.sort_by_key(|e| (e.at, e.id));
    let mut roster = Roster {
        version: String::new(),
        school,
        // Kiosks hold only what they need: the volunteer rate is for the program report.
        // and a kiosk judges only today, by the rules in force today.
        rules: ProgramRules {
            volunteer_hour_rate: None,
            require_scan_proof_from: None,
            late_delivery_days: None,
            exposed_pin_grace_days: None,
            ..rules.as_of(today)
        },
        current_period,
        mentors,
        revoked,
        coordinators: db.coordinators(school_id, crate::db::exposed_cutoff(&rules, now))?,
        open_check_ins,
        recent,
        review,
        voided,
    };
    // The version is a digest of the content: unchanged content, unchanged version.
    let content =
        serde_json::to_string(&roster).map_err(|e| ServerError::Corrupt(e.to_string()))?;
    roster.version = pm_shared::badge_hash(&content)[..16].to_owned();
    Ok(roster)
}

/// The roster as a kiosk of protocol 2 reads it: its events without scan proofs and its
/// review reasons among those it knows (`late_delivery` reads as `set_aside`: it counts for
/// nothing until an organizer decides), since its types refuse unknown fields and values.
pub fn protocol_2_json(roster: &Roster) -> Result<serde_json::Value, ServerError> {
    let mut value =
        serde_json::to_value(roster).map_err(|e| ServerError::Corrupt(e.to_string()))?;
    older_shapes(&mut value);
    Ok(value)
}

/// Takes out what kiosks of protocols 1 and 2 cannot read, wherever it is.
fn older_shapes(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.get("type").and_then(|t| t.as_str()) == Some("badge_scan") {
                map.remove("proof");
            }
            if let Some(reasons) = map.get_mut("reasons").and_then(|r| r.as_array_mut()) {
                for r in reasons.iter_mut() {
                    if r.as_str() == Some(pm_shared::ReviewReason::LateDelivery.as_str()) {
                        *r = serde_json::Value::String(
                            pm_shared::ReviewReason::SetAside.as_str().to_owned(),
                        );
                    }
                }
                reasons.dedup();
            }
            for v in map.values_mut() {
                older_shapes(v);
            }
        }
        serde_json::Value::Array(list) => {
            for v in list {
                older_shapes(v);
            }
        }
        _ => {}
    }
}

/// The roster as a kiosk of protocol 1 reads it: without the fields it does not know (its
/// rules refuse unknown fields).
pub fn protocol_1_json(roster: &Roster) -> Result<serde_json::Value, ServerError> {
    let mut value =
        serde_json::to_value(roster).map_err(|e| ServerError::Corrupt(e.to_string()))?;
    older_shapes(&mut value);
    if let Some(map) = value.as_object_mut() {
        map.remove("recent");
        map.remove("review");
        map.remove("voided");
        if let Some(mentors) = map.get_mut("mentors").and_then(|m| m.as_array_mut()) {
            for m in mentors.iter_mut().filter_map(|m| m.as_object_mut()) {
                m.remove("placement");
                m.remove("clearances");
            }
        }
        if let Some(rules) = map.get_mut("rules").and_then(|r| r.as_object_mut()) {
            // Protocol 1's rules, and nothing newer.
            const KNOWN: [&str; 8] = [
                "periods",
                "stipend_threshold_hours",
                "counting_categories",
                "session_cap_hours",
                "duplicate_window_secs",
                "earliest_plausible_date",
                "future_tolerance_hours",
                "clock_skew_tolerance_secs",
            ];
            rules.retain(|k, _| KNOWN.contains(&k.as_str()));
        }
    }
    Ok(value)
}
