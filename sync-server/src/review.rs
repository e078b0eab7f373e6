//! The review queue: every session with a review reason (an open one once its school-local day
//! is over) and every set-aside event, each one item with a stable id, until someone resolves
//! it with a new event that says who, when and why.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use pm_shared::protocol::{ReviewAction, ReviewResolution};
use pm_shared::{EventId, EventKind, MentorId, ProgramRules, ReviewReason, SchoolId, Session};
use serde::Serialize;

use crate::report::{csv_text, PeriodChoice};
use crate::storage::Storage;
use crate::ServerError;

/// Longest reason (or name) a person may type; longer is refused, not cut.
pub const MAX_TEXT: usize = 200;

pub const CSV_HEADER: &str = "item,mentor_id,mentor_name,school_id,period,start,end,reasons,kiosks";

/// One review item as the CLI, the API and the organizer page show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewItem {
    pub item: String,
    pub mentor_id: String,
    /// Empty for a set-aside event naming a mentor nobody knows.
    pub mentor_name: String,
    /// Where it happened (the school of the kiosk that recorded it).
    pub school_id: String,
    pub period: String,
    /// RFC 3339 with the school's offset; a set-aside event's instant.
    pub start: String,
    /// Empty while open, and for a set-aside event.
    pub end: String,
    pub reasons: Vec<String>,
    pub kiosks: Vec<String>,
    pub category: String,
    /// For a set-aside event: why the server set it aside (a code listed in docs/rules.md).
    pub set_aside_reason: String,
    /// Whether an organizer's approval alone would settle it.
    pub approvable: bool,
}

/// The items in these schools (`None`: all), optionally of one period, oldest first.
pub fn list(
    db: &mut dyn Storage,
    schools: Option<&[SchoolId]>,
    period: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<ReviewItem>, ServerError> {
    let rules = db.rules()?;
    let period = match PeriodChoice::parse(period, &rules)? {
        PeriodChoice::Named(p) => Some(p),
        _ => None,
    };
    let kiosk_schools = db.kiosk_schools()?;
    let mentors = db.mentors(None)?;
    // Her schools' organizers, and the organizers of a school she visited (her time at their
    // kiosks); a visitor's name stays with her own schools.
    let mut members: HashSet<MentorId> = HashSet::new();
    let candidates: Vec<MentorId> = match schools {
        None => mentors.iter().map(|m| m.id.clone()).collect(),
        Some(list) => {
            let mut seen = HashSet::new();
            for s in list {
                members.extend(db.mentors_ever_at(s)?);
                seen.extend(db.mentors_seen_at(s)?);
            }
            seen.extend(members.iter().cloned());
            let known: HashSet<&MentorId> = mentors.iter().map(|m| &m.id).collect();
            let mut all: Vec<MentorId> = seen.into_iter().filter(|m| known.contains(m)).collect();
            all.sort();
            all
        }
    };
    // Only mentors whose stored totals say something needs review are sessionized again.
    let totals = crate::totals::current(db, &candidates, &rules, now)?;
    let mut flagged: Vec<MentorId> = totals
        .values()
        .filter(|t| t.needs_review > 0 && period.as_ref().is_none_or(|p| &t.period == p))
        .map(|t| t.mentor.clone())
        .collect();
    flagged.sort();
    flagged.dedup();
    let snapshot = db.totals_snapshot(&flagged)?;
    let mut sessions = crate::totals::compute(snapshot, &rules, now).sessions;
    // Set-aside events of mentors nobody imported belong to the school of their kiosk.
    for unknown in db.unknown_mentors_set_aside()? {
        let stored = db.mentor_events(&unknown)?;
        sessions.extend(crate::totals::sessions_of(db, stored, &rules, now)?.0);
    }
    let names: HashMap<&MentorId, (&str, &SchoolId)> = mentors
        .iter()
        .map(|m| (&m.id, (m.name.as_str(), &m.school)))
        .collect();
    // An organizer's entry (the server's kiosk) is filed under her school that day, as the
    // resolve checks it.
    let mut entered_at: HashMap<pm_shared::EventId, SchoolId> = HashMap::new();
    for s in sessions
        .iter()
        .filter(|s| !kiosk_schools.contains_key(&s.kiosk) && s.is_review_item(now))
    {
        let history = db.membership_history(&s.mentor)?;
        if let Some(school) = crate::db::school_on(&history, s.local_date) {
            entered_at.insert(s.item, school.clone());
        }
    }
    let mut items: Vec<ReviewItem> = sessions
        .iter()
        .filter(|s| s.is_review_item(now))
        .filter(|s| period.as_ref().is_none_or(|p| &s.period == p))
        .filter_map(|s| {
            let her_school = names.get(&s.mentor).map(|(_, school)| *school);
            let school = kiosk_schools
                .get(&s.kiosk)
                .or_else(|| entered_at.get(&s.item))
                .or(her_school)?;
            // A set-aside event is for the organizers of the kiosk's school and of hers.
            let visible = |list: &[SchoolId]| {
                list.contains(school)
                    || (s.is_set_aside() && her_school.is_some_and(|h| list.contains(h)))
            };
            if schools.is_some_and(|list| !visible(list)) {
                return None;
            }
            let name = match schools {
                Some(_) if !members.contains(&s.mentor) => "",
                _ => names.get(&s.mentor).map(|(n, _)| *n).unwrap_or_default(),
            };
            Some(item_of(s, name, school))
        })
        .collect();
    items.sort_by(|a, b| {
        (&a.school_id, &a.start, &a.mentor_id, &a.item).cmp(&(
            &b.school_id,
            &b.start,
            &b.mentor_id,
            &b.item,
        ))
    });
    Ok(items)
}

fn item_of(s: &Session, name: &str, school: &SchoolId) -> ReviewItem {
    let local = |t: DateTime<Utc>| s.time_zone.rfc3339(t);
    ReviewItem {
        item: s.item.to_string(),
        mentor_id: s.mentor.to_string(),
        mentor_name: name.to_owned(),
        school_id: school.to_string(),
        period: s.period.0.clone(),
        start: s.start.map(local).unwrap_or_default(),
        end: if s.is_set_aside() {
            String::new()
        } else {
            s.end.map(local).unwrap_or_default()
        },
        reasons: s.reasons.iter().map(|r| r.as_str().to_owned()).collect(),
        kiosks: s.kiosks.iter().map(|k| k.to_string()).collect(),
        category: s.category.to_string(),
        set_aside_reason: s.set_aside.clone().unwrap_or_default(),
        approvable: !s.is_set_aside() && s.reasons.iter().all(|r| r.approvable()),
    }
}

pub fn to_csv(items: &[ReviewItem]) -> Result<String, ServerError> {
    let records: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.item.clone(),
                i.mentor_id.clone(),
                i.mentor_name.clone(),
                i.school_id.clone(),
                i.period.clone(),
                i.start.clone(),
                i.end.clone(),
                i.reasons.join(";"),
                i.kiosks.join(";"),
            ]
        })
        .collect();
    csv_text(CSV_HEADER, &records)
}

/// What a resolution did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The event that records it.
    pub resolution: String,
    pub item: String,
    /// Whether the session still needs review after it (new times over the cap, say).
    pub still_needs_review: bool,
    pub reasons: Vec<String>,
}

/// Who is resolving: an organizer's name and the schools she may act on (`None`: all).
pub struct Resolver<'a> {
    pub name: &'a str,
    pub schools: Option<&'a [SchoolId]>,
}

/// Resolves a review item as an organizer: a new event, never an edit. `item` may also be the
/// id of an earlier resolution (or any entry) to void: every decision can be reversed by a
/// later one that says who and why.
pub fn resolve(
    db: &mut dyn Storage,
    item: &str,
    resolution: &ReviewResolution,
    by: Resolver<'_>,
    now: DateTime<Utc>,
) -> Result<Resolved, ServerError> {
    let reason = checked_text("reason", &resolution.reason)?;
    checked_text("name", by.name)?;
    let item: EventId = item
        .trim()
        .parse()
        .map_err(|_| ServerError::Invalid(format!("{item:?} is not a review item id")))?;
    let mentor_text = db
        .event_mentor(&item)?
        .ok_or_else(|| ServerError::NotFound {
            what: "review item",
            id: item.to_string(),
        })?;
    let mentor = MentorId::new(&mentor_text)?;
    let rules = db.rules()?;
    let stored = db.mentor_events(&mentor_text)?;
    let (sessions, observed) = crate::totals::sessions_of(db, stored, &rules, now)?;
    let session = sessions.iter().find(|s| s.item == item).cloned();
    let event = observed.iter().find(|o| o.event.id == item).cloned();
    let deciders = deciding_schools(db, &item, &sessions, &observed)?;
    if let Some(list) = by.schools {
        if !deciders.iter().any(|s| list.contains(s)) {
            let shown = deciders.first().map(|s| s.to_string()).unwrap_or_default();
            return Err(ServerError::Forbidden(format!(
                "no access to school {shown}"
            )));
        }
    }
    let needs_review = session.as_ref().is_some_and(|s| s.is_review_item(now));
    if let Some(seen) = &resolution.seen {
        check_seen(seen, session.as_ref().filter(|_| needs_review), item)?;
    }
    let zone = event
        .as_ref()
        .map(|o| o.event.time_zone)
        .or(session.as_ref().map(|s| s.time_zone))
        .ok_or_else(|| ServerError::NotFound {
            what: "review item",
            id: item.to_string(),
        })?;
    // An organizer may void any entry, under review or not (a forged coordinator entry, a
    // session that never happened, an earlier decision); everything else is for review items.
    if resolution.action == ReviewAction::Void && !needs_review {
        if pm_shared::voided_in_force(&observed).contains(&item) {
            return Err(ServerError::Conflict(format!("{item} was voided already")));
        }
        let kind = EventKind::Void { target: item };
        let done = db.append_resolution(&mentor, zone, kind, by.name, &reason, now)?;
        return Ok(Resolved {
            resolution: done.id.to_string(),
            item: item.to_string(),
            still_needs_review: false,
            reasons: Vec::new(),
        });
    }
    let refuse = |why: &str| Err(ServerError::Invalid(why.to_owned()));
    // A set-aside event's verdict can be given again the other way (accept after reject,
    // reject after accept), by a later decision.
    let set_aside_event = event
        .as_ref()
        .filter(|o| o.set_aside.is_some() || verdict_in_force(&observed, item).is_some());
    let kind = match (resolution.action, set_aside_event) {
        (ReviewAction::Accept | ReviewAction::Reject, Some(o)) => {
            let accept = resolution.action == ReviewAction::Accept;
            if let Some(current) = verdict_in_force(&observed, item) {
                if current == accept {
                    return Err(ServerError::Conflict(format!(
                        "{item} was {} already",
                        if accept { "accepted" } else { "rejected" }
                    )));
                }
            }
            if accept {
                if o.set_aside
                    .as_deref()
                    .is_some_and(|r| r.starts_with("instant_out_of_range"))
                {
                    return refuse("an event dated impossibly can only be rejected: enter the real session with `session add` (or Add a session on the page)");
                }
                if o.set_aside.as_deref() == Some("organizer_only") {
                    return refuse(
                        "a kiosk cannot make an organizer's decision; record your own instead",
                    );
                }
                // Accepted, a badge scan counts as any scan: only if her badge checks out,
                // and then as verified.
                if let Some(why) = db.badge_refusal(&o.event)? {
                    return Err(ServerError::Invalid(format!(
                        "the badge on this scan does not check out ({why}): reject it, or enter the real session"
                    )));
                }
                if o.event.source.is_provisional() && !o.badge_verified {
                    db.mark_badge_verified(&o.event)?;
                }
                EventKind::AcceptEvent { item }
            } else {
                EventKind::RejectEvent { item }
            }
        }
        (ReviewAction::Accept | ReviewAction::Reject, None) => {
            return refuse("accept and reject are for set-aside events; this item is a session")
        }
        (_, Some(_)) if session.as_ref().is_some_and(|s| s.is_set_aside()) => {
            return refuse("a set-aside event is accepted or rejected (approve, set times and void are for sessions)")
        }
        (action, _) => {
            let Some(session) = session.as_ref().filter(|_| needs_review) else {
                return Err(ServerError::Conflict(format!(
                    "item {item} does not need review (it was resolved, or she is still in today)"
                )));
            };
            session_resolution(action, resolution, session, item)?
        }
    };
    let event = db.append_resolution(&mentor, zone, kind, by.name, &reason, now)?;
    let after = find(db, &mentor_text, item, &rules, now)?;
    let reasons: Vec<String> = after
        .as_ref()
        .map(|s| s.reasons.iter().map(|r| r.as_str().to_owned()).collect())
        .unwrap_or_default();
    Ok(Resolved {
        resolution: event.id.to_string(),
        item: item.to_string(),
        still_needs_review: after.is_some_and(|s| s.is_review_item(now)),
        reasons,
    })
}

/// Approve, set times or void of a session that needs review.
fn session_resolution(
    action: ReviewAction,
    resolution: &ReviewResolution,
    session: &Session,
    item: EventId,
) -> Result<EventKind, ServerError> {
    let refuse = |why: &str| Err(ServerError::Invalid(why.to_owned()));
    Ok(match action {
        ReviewAction::Approve => {
            let blocking: Vec<&str> = session
                .reasons
                .iter()
                .filter(|r| !r.approvable())
                .map(|r| r.as_str())
                .collect();
            if !blocking.is_empty() {
                return Err(ServerError::Invalid(format!(
                    "approval cannot settle {}: set its times or void it",
                    blocking.join(", ")
                )));
            }
            // What she saw is what she approves: the same reasons at the same times.
            EventKind::ApproveSession {
                check_in: item,
                reasons: session.reasons.clone(),
                start: session.start,
                end: session.end,
            }
        }
        ReviewAction::SetTimes => {
            if resolution.start.is_none() && resolution.end.is_none() {
                return refuse("set_times needs a start, an end, or both");
            }
            let start = resolution.start.or(session.start);
            let end = resolution.end.or(session.end);
            match (start, end) {
                (Some(s), Some(e)) if e > s => {}
                (Some(_), Some(_)) => return refuse("the end must come after the start"),
                (None, _) => return refuse("this session has no start yet: give one"),
                (_, None) => return refuse("this session has no end yet: give one"),
            }
            EventKind::SetTimes {
                item,
                start: resolution.start,
                end: resolution.end,
            }
        }
        ReviewAction::Void => EventKind::Void { target: item },
        ReviewAction::Accept | ReviewAction::Reject => {
            return refuse("accept and reject are for set-aside events; this item is a session")
        }
    })
}

/// The item as the organizer saw it must be the item as it is: the same reasons and times.
fn check_seen(
    seen: &pm_shared::protocol::SeenItem,
    now_item: Option<&Session>,
    item: EventId,
) -> Result<(), ServerError> {
    let changed = |what: &str| {
        Err(ServerError::ItemChanged(format!(
            "item {item} changed since you saw it ({what}): look at it again"
        )))
    };
    let Some(s) = now_item else {
        return changed("it no longer needs review");
    };
    let mut saw: Vec<ReviewReason> = seen.reasons.clone();
    saw.sort();
    saw.dedup();
    let mut is: Vec<ReviewReason> = s.reasons.clone();
    is.sort();
    is.dedup();
    if saw != is {
        return changed("its reasons");
    }
    let instant = |text: &Option<String>| -> Result<Option<DateTime<Utc>>, ServerError> {
        match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => DateTime::parse_from_rfc3339(t)
                .map(|d| Some(d.with_timezone(&Utc)))
                .map_err(|_| ServerError::Invalid(format!("seen time {t:?} is not RFC 3339"))),
        }
    };
    // Times are shown to the second (RFC 3339 without fractions): compared as shown.
    let shown = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
    let shown_end = if s.is_set_aside() { None } else { s.end };
    if shown(instant(&seen.start)?) != shown(s.start)
        || shown(instant(&seen.end)?) != shown(shown_end)
    {
        return changed("its times");
    }
    Ok(())
}

/// The latest verdict in force on a set-aside event: `Some(true)` accepted.
fn verdict_in_force(observed: &[pm_shared::Observed], item: EventId) -> Option<bool> {
    let voided = pm_shared::voided_in_force(observed);
    observed
        .iter()
        .filter(|o| o.event.source.is_organizer() && !voided.contains(&o.event.id))
        .filter_map(|o| match o.event.kind {
            EventKind::AcceptEvent { item: i } if i == item => {
                Some(((o.event.at, o.event.id), true))
            }
            EventKind::RejectEvent { item: i } if i == item => {
                Some(((o.event.at, o.event.id), false))
            }
            _ => None,
        })
        .max_by_key(|(key, _)| *key)
        .map(|(_, accept)| accept)
}

/// The schools whose organizers decide an item: where it happened (the school of the kiosk
/// that recorded it; for an organizer's entry, her school that day), and for a set-aside event
/// also her school now. A decision on an earlier decision is the earlier one's schools', so an
/// organizer of one school never undoes another school's decision.
fn deciding_schools(
    db: &dyn Storage,
    item: &EventId,
    sessions: &[Session],
    observed: &[pm_shared::Observed],
) -> Result<Vec<SchoolId>, ServerError> {
    let kiosk_schools = db.kiosk_schools()?;
    let mut id = *item;
    // A chain of decisions is short; a loop (forged ids) ends here.
    for _ in 0..32 {
        let session = sessions
            .iter()
            .find(|s| s.item == id)
            .or_else(|| sessions.iter().find(|s| s.events.contains(&id)));
        let event = observed.iter().find(|o| o.event.id == id);
        if let Some(target) = event.and_then(|o| o.event.kind.resolves()) {
            id = target;
            continue;
        }
        // Set aside on receipt (even if decided since): her school decides too.
        let stored_aside = event.is_some_and(|o| o.set_aside.is_some());
        let (kiosk, date, set_aside, mentor) = match (session, event) {
            (Some(s), _) => (
                &s.kiosk,
                s.local_date,
                s.is_set_aside() || stored_aside,
                &s.mentor,
            ),
            (None, Some(o)) => {
                let Some(m) = &o.event.mentor else { break };
                (
                    &o.event.kiosk,
                    o.event.time_zone.local_date(o.event.at),
                    o.set_aside.is_some(),
                    m,
                )
            }
            (None, None) => break,
        };
        let mut schools = Vec::new();
        match kiosk_schools.get(kiosk) {
            Some(school) => schools.push(school.clone()),
            None => {
                let history = db.membership_history(mentor)?;
                if let Some(school) = crate::db::school_on(&history, date) {
                    schools.push(school.clone());
                }
            }
        }
        if set_aside || schools.is_empty() {
            if let Ok(record) = db.mentor(mentor) {
                if !schools.contains(&record.school) {
                    schools.push(record.school);
                }
            }
        }
        return Ok(schools);
    }
    let mentor = observed
        .iter()
        .find(|o| o.event.id == *item)
        .and_then(|o| o.event.mentor.clone());
    Ok(match mentor {
        Some(m) => db.mentor(&m).map(|r| vec![r.school]).unwrap_or_default(),
        None => Vec::new(),
    })
}

/// The session (or set-aside event) this item id names, as her events say now.
fn find(
    db: &dyn Storage,
    mentor: &str,
    item: EventId,
    rules: &ProgramRules,
    now: DateTime<Utc>,
) -> Result<Option<Session>, ServerError> {
    let stored = db.mentor_events(mentor)?;
    Ok(crate::totals::sessions_of(db, stored, rules, now)?
        .0
        .into_iter()
        .find(|s| s.item == item))
}

/// Text with a control character (a NUL, a line break, an escape) is not a name or a reason
/// anybody typed; PostgreSQL cannot even store a NUL.
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// A person's free text: trimmed, not empty, at most [`MAX_TEXT`] characters, no control
/// characters.
pub fn checked_text(what: &str, text: &str) -> Result<String, ServerError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ServerError::Invalid(format!("a {what} is required")));
    }
    if has_control(t) {
        return Err(ServerError::Invalid(format!(
            "the {what} contains control characters"
        )));
    }
    if t.chars().count() > MAX_TEXT {
        return Err(ServerError::Invalid(format!(
            "the {what} is longer than {MAX_TEXT} characters"
        )));
    }
    Ok(t.to_owned())
}

/// Plain-language meanings of the reason codes, for `review list --help` and docs/rules.md.
pub fn reason_meanings() -> Vec<(&'static str, &'static str)> {
    ReviewReason::ALL
        .iter()
        .map(|r| (r.as_str(), r.meaning()))
        .collect()
}
