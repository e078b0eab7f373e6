//! Builds a school's roster for its kiosks, and the merged sessions it is computed from.

use chrono::{DateTime, Utc};
use pm_shared::{
    period_totals, sessionize, BadgeGeneration, Event, EventKind, ProgramRules, Roster,
    RosterMentor, SchoolId, Session,
};

use crate::storage::Storage;
use crate::ServerError;

/// Sessions from every accepted event of a school's mentors (or all schools'), merged across
/// kiosks by the shared sessionizer. Set-aside events never count.
pub fn merged_sessions(
    db: &dyn Storage,
    school: Option<&SchoolId>,
    rules: &ProgramRules,
    now: DateTime<Utc>,
) -> Result<(Vec<Session>, Vec<Event>), ServerError> {
    let stored = db.events(school)?;
    let accepted: Vec<_> = stored
        .into_iter()
        .filter(|e| e.set_aside.is_none())
        .map(|e| e.observed)
        .collect();
    let sessions = sessionize(&accepted, rules, now);
    let events = accepted.into_iter().map(|o| o.event).collect();
    Ok((sessions, events))
}

pub fn build(
    db: &mut dyn Storage,
    school_id: &SchoolId,
    now: DateTime<Utc>,
) -> Result<Roster, ServerError> {
    let school = db.school(school_id)?;
    let rules = db.rules()?;
    let today = now.with_timezone(&school.time_zone.tz()).date_naive();
    let current_period = rules.periods.period_of(today).name;
    // Sessionize the school's mentors once, and keep their totals for the reports too.
    let ids: Vec<_> = db
        .mentors(Some(school_id))?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let snapshot = db.totals_snapshot(&ids)?;
    let computed = crate::totals::compute(snapshot, &rules, now);
    db.save_totals(&computed.totals)?;
    let (sessions, events) = (computed.sessions, computed.accepted);
    let totals = period_totals(&sessions, &rules);
    let mut mentors = Vec::new();
    let mut revoked = Vec::new();
    for m in db.mentors(Some(school_id))? {
        if !m.active {
            revoked.push(m.id);
            continue;
        }
        let badge = db
            .current_badge(&m.id)?
            .map(|(generation, _, hash)| BadgeGeneration { generation, hash });
        let period_time_ms = totals
            .get(&(m.id.clone(), current_period.clone()))
            .map(|t| t.stipend_time.num_milliseconds())
            .unwrap_or(0);
        mentors.push(RosterMentor {
            id: m.id,
            name: m.name,
            language: m.language,
            badge,
            period_time_ms,
        });
    }
    let open_ids: std::collections::HashSet<_> = sessions
        .iter()
        .filter(|s| s.is_open())
        .filter_map(|s| s.opened_by)
        .collect();
    let mut open_check_ins: Vec<Event> = events
        .into_iter()
        .filter(|e| open_ids.contains(&e.id) && e.kind == EventKind::CheckIn)
        .collect();
    open_check_ins.sort_by_key(|e| (e.at, e.id));
    let mut roster = Roster {
        version: String::new(),
        school,
        rules,
        current_period,
        mentors,
        revoked,
        coordinators: db.coordinators(school_id)?,
        open_check_ins,
    };
    // The version is a digest of the content: unchanged content, unchanged version.
    let content =
        serde_json::to_string(&roster).map_err(|e| ServerError::Corrupt(e.to_string()))?;
    roster.version = pm_shared::badge_hash(&content)[..16].to_owned();
    Ok(roster)
}
