//! Coordinators' entries as organizers see them: who entered what, at which kiosk, when and
//! why, so a forged or mistaken entry is seen and voided; with them the sessions organizers
//! entered after the fact.

use std::collections::HashMap;

use pm_shared::{EventKind, SchoolId, Source};
use serde::Serialize;

use crate::report::csv_text;
use crate::storage::Storage;
use crate::ServerError;

pub const CSV_HEADER: &str =
    "entry,at,school_id,kiosk,coordinator,reason,mentor_id,mentor_name,action,details,set_aside_reason";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoordinatorEntry {
    /// The entry's event id (void it through the review API).
    pub entry: String,
    /// When it was entered, school-local, RFC 3339.
    pub at: String,
    pub school_id: String,
    pub kiosk: String,
    pub coordinator: String,
    pub reason: String,
    pub mentor_id: String,
    pub mentor_name: String,
    /// check_in, check_out, close, set_times, void, add_session.
    pub action: String,
    /// What it changed: times and category, school-local.
    pub details: String,
    pub set_aside_reason: String,
    /// JSON only: `coordinator` (at a kiosk) or `organizer` (time entered after the fact).
    pub entered_by: String,
}

/// What a correction did, as a code and a school-local description.
pub fn describe(e: &pm_shared::Event) -> (&'static str, String) {
    let zone = e.time_zone;
    let clock = |t| zone.local(t).format("%Y-%m-%d %H:%M").to_string();
    match &e.kind {
        EventKind::CheckIn => ("check_in", clock(e.at)),
        EventKind::CheckOut { .. } => ("check_out", clock(e.at)),
        EventKind::CloseSession { check_in, end } => {
            ("close", format!("{check_in} ends {}", clock(*end)))
        }
        EventKind::SetTimes { item, start, end } => (
            "set_times",
            format!(
                "{item}: {} – {}",
                start.map(clock).unwrap_or_default(),
                end.map(clock).unwrap_or_default()
            ),
        ),
        EventKind::Void { target } => ("void", target.to_string()),
        EventKind::AddSession {
            category,
            start,
            end,
            ..
        } => (
            "add_session",
            format!("{category} {} – {}", clock(*start), clock(*end)),
        ),
        EventKind::ApproveSession { check_in, .. } => ("approve", check_in.to_string()),
        EventKind::AcceptEvent { item } => ("accept", item.to_string()),
        EventKind::RejectEvent { item } => ("reject", item.to_string()),
        other => ("other", format!("{other:?}")),
    }
}

pub fn list(
    db: &dyn Storage,
    schools: Option<&[SchoolId]>,
) -> Result<Vec<CoordinatorEntry>, ServerError> {
    let kiosk_schools = db.kiosk_schools()?;
    let names: HashMap<String, String> = db
        .mentors(None)?
        .into_iter()
        .map(|m| (m.id.to_string(), m.name))
        .collect();
    let mut out = Vec::new();
    for stored in db.coordinator_entries()? {
        let e = &stored.observed.event;
        let (who, reason, entered_by) = match &e.source {
            Source::Coordinator {
                coordinator,
                reason,
            } => (coordinator, reason, "coordinator"),
            Source::Organizer { organizer, reason }
                if matches!(e.kind, EventKind::AddSession { .. }) =>
            {
                (organizer, reason, "organizer")
            }
            _ => continue,
        };
        let school = match kiosk_schools.get(&e.kiosk) {
            Some(s) => s.clone(),
            // An organizer's entry: her school on the session's day.
            None => {
                let Some(mentor) = &e.mentor else { continue };
                let day = match e.kind {
                    EventKind::AddSession { start, .. } => e.time_zone.local_date(start),
                    _ => e.time_zone.local_date(e.at),
                };
                let history = db.membership_history(mentor)?;
                match crate::db::school_on(&history, day) {
                    Some(s) => s.clone(),
                    None => continue,
                }
            }
        };
        let school = &school;
        if schools.is_some_and(|list| !list.contains(school)) {
            continue;
        }
        let zone = e.time_zone;
        let (action, details) = describe(e);
        out.push(CoordinatorEntry {
            entry: e.id.to_string(),
            at: zone.rfc3339(e.at),
            school_id: school.to_string(),
            kiosk: e.kiosk.to_string(),
            coordinator: who.clone(),
            reason: reason.clone(),
            mentor_id: e.mentor_str().to_owned(),
            mentor_name: names.get(e.mentor_str()).cloned().unwrap_or_default(),
            action: action.to_owned(),
            details,
            set_aside_reason: stored.set_aside.clone().unwrap_or_default(),
            entered_by: entered_by.to_owned(),
        });
    }
    Ok(out)
}

pub fn to_csv(entries: &[CoordinatorEntry]) -> Result<String, ServerError> {
    let records: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.entry.clone(),
                e.at.clone(),
                e.school_id.clone(),
                e.kiosk.clone(),
                e.coordinator.clone(),
                e.reason.clone(),
                e.mentor_id.clone(),
                e.mentor_name.clone(),
                e.action.clone(),
                e.details.clone(),
                e.set_aside_reason.clone(),
            ]
        })
        .collect();
    csv_text(CSV_HEADER, &records)
}
