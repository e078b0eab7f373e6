//! Placements and clearances as organizers read them: the clearance list (expired, expiring
//! within 30 days, current) for the Overview and `clearance list`.

use chrono::{DateTime, Utc};
use pm_shared::{Placement, SchoolId};
use serde::Serialize;

use crate::report::csv_text;
use crate::storage::Storage;
use crate::ServerError;

pub const CLEARANCES_CSV_HEADER: &str = "mentor_id,mentor_name,school_id,kind,expires,status";

/// "Room 12 · Ms. Smith", "Room 12", "Ms. Smith" (English: the kiosk translates its own).
pub fn placement_text(p: &Placement) -> Option<String> {
    match (&p.classroom, &p.teacher) {
        (Some(room), Some(teacher)) => Some(format!("Room {room} · {teacher}")),
        (Some(room), None) => Some(format!("Room {room}")),
        (None, Some(teacher)) => Some(teacher.clone()),
        (None, None) => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClearanceRow {
    pub mentor_id: String,
    pub mentor_name: String,
    pub school_id: String,
    pub kind: String,
    pub expires: String,
    /// expired, expiring (within 30 days) or current, on the school's date today.
    pub status: String,
    /// Days from today to the last good day (negative: expired that many days ago).
    pub days_left: i64,
}

/// Every active mentor's current clearances (of the given schools), the most urgent first;
/// with `attention`, only the expired and expiring.
pub fn clearance_list(
    db: &dyn Storage,
    schools: Option<&[SchoolId]>,
    attention: bool,
    now: DateTime<Utc>,
) -> Result<Vec<ClearanceRow>, ServerError> {
    let all = db.clearances(None)?;
    let mut rows = Vec::new();
    let mut zones = std::collections::HashMap::new();
    for m in db.mentors(None)? {
        if !m.active || schools.is_some_and(|list| !list.contains(&m.school)) {
            continue;
        }
        let Some(list) = all.get(&m.id) else {
            continue;
        };
        if !zones.contains_key(&m.school) {
            zones.insert(m.school.clone(), db.school(&m.school)?.time_zone);
        }
        let today = zones
            .get(&m.school)
            .map(|z| z.local_date(now))
            .unwrap_or_else(|| now.date_naive());
        for c in list {
            let status = c.status(today);
            if attention && !status.needs_attention() {
                continue;
            }
            rows.push(ClearanceRow {
                mentor_id: m.id.to_string(),
                mentor_name: m.name.clone(),
                school_id: m.school.to_string(),
                kind: c.kind.to_string(),
                expires: c.expires.to_string(),
                status: status.as_str().to_owned(),
                days_left: (c.expires - today).num_days(),
            });
        }
    }
    rows.sort_by(|a, b| {
        (a.days_left, &a.school_id, &a.mentor_id, &a.kind).cmp(&(
            b.days_left,
            &b.school_id,
            &b.mentor_id,
            &b.kind,
        ))
    });
    Ok(rows)
}

pub fn clearances_csv(rows: &[ClearanceRow]) -> Result<String, ServerError> {
    let records: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.mentor_id.clone(),
                r.mentor_name.clone(),
                r.school_id.clone(),
                r.kind.clone(),
                r.expires.clone(),
                r.status.clone(),
            ]
        })
        .collect();
    csv_text(CLEARANCES_CSV_HEADER, &records)
}
