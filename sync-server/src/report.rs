//! The hours report: one row per mentor for a period, as CSV (RFC 4180) or JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use pm_shared::{
    hours_2dp, period_totals, HourCategory, MentorId, PeriodName, PeriodTotals, ProgramRules,
    School, SchoolId,
};
use serde::Serialize;

use crate::db::MentorRecord;
use crate::roster::merged_sessions;
use crate::storage::Storage;
use crate::ServerError;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoursRow {
    pub mentor_id: String,
    pub mentor_name: String,
    pub school_id: String,
    /// JSON only (the CSV's columns are fixed).
    pub school_name: String,
    pub period: String,
    pub hours: String,
    pub days: u32,
    pub sessions: u32,
    pub open_sessions: u32,
    pub needs_review: u32,
    pub threshold: String,
    pub eligible: bool,
    pub eligible_on: String,
    pub paid_on: String,
    pub hours_by_category: BTreeMap<HourCategory, String>,
}

pub const CSV_HEADER: &str = "mentor_id,mentor_name,school_id,period,hours,days,sessions,open_sessions,needs_review,threshold,eligible,eligible_on,paid_on";

/// Rows for every active mentor (of one school, or all), for `period` (default: the one
/// containing today in each mentor's school), from materialized totals (see `totals`).
pub fn hours(
    db: &mut dyn Storage,
    school: Option<&SchoolId>,
    period: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<HoursRow>, ServerError> {
    let rules = db.rules()?;
    let mentors = active_mentors(db, school)?;
    let ids: Vec<MentorId> = mentors.iter().map(|m| m.id.clone()).collect();
    let totals = crate::totals::current(db, &ids, &rules, now)?;
    rows(db, mentors, period, now, &rules, &totals)
}

/// The same rows, recomputed from the whole event log without any stored totals: the
/// reference that materialized totals are tested against.
pub fn hours_recomputed(
    db: &dyn Storage,
    school: Option<&SchoolId>,
    period: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<HoursRow>, ServerError> {
    let rules = db.rules()?;
    let (sessions, _) = merged_sessions(db, school, &rules, now)?;
    let totals = period_totals(&sessions, &rules);
    rows(
        db,
        active_mentors(db, school)?,
        period,
        now,
        &rules,
        &totals,
    )
}

fn active_mentors(
    db: &dyn Storage,
    school: Option<&SchoolId>,
) -> Result<Vec<MentorRecord>, ServerError> {
    Ok(db
        .mentors(school)?
        .into_iter()
        .filter(|m| m.active)
        .collect())
}

fn rows(
    db: &dyn Storage,
    mentors: Vec<MentorRecord>,
    period: Option<&str>,
    now: DateTime<Utc>,
    rules: &ProgramRules,
    totals: &BTreeMap<(MentorId, PeriodName), PeriodTotals>,
) -> Result<Vec<HoursRow>, ServerError> {
    let period_name: Option<PeriodName> = period
        .map(|p| rules.periods.period_named(p).map(|p| p.name))
        .transpose()?;
    let paid = db.paid_on()?;
    let mut schools: std::collections::HashMap<SchoolId, School> = std::collections::HashMap::new();
    let mut rows = Vec::new();
    for m in mentors {
        if !schools.contains_key(&m.school) {
            schools.insert(m.school.clone(), db.school(&m.school)?);
        }
        let Some(school) = schools.get(&m.school) else {
            continue;
        };
        let period = match &period_name {
            Some(p) => p.clone(),
            None => {
                let today = now.with_timezone(&school.time_zone.tz()).date_naive();
                rules.periods.period_of(today).name
            }
        };
        let t = totals.get(&(m.id.clone(), period.clone()));
        let by_category = HourCategory::ALL
            .iter()
            .map(|c| {
                let d = t
                    .and_then(|t| t.by_category.get(c))
                    .copied()
                    .unwrap_or_else(chrono::Duration::zero);
                (*c, format!("{:.2}", hours_2dp(d)))
            })
            .collect();
        let paid_on = paid
            .get(&(m.id.to_string(), period.0.clone()))
            .cloned()
            .unwrap_or_default();
        rows.push(HoursRow {
            mentor_id: m.id.to_string(),
            mentor_name: m.name,
            school_id: m.school.to_string(),
            school_name: school.name.clone(),
            period: period.0,
            hours: format!("{:.2}", t.map(|t| t.stipend_hours()).unwrap_or(0.0)),
            days: t.map(|t| t.days).unwrap_or(0),
            sessions: t.map(|t| t.sessions).unwrap_or(0),
            open_sessions: t.map(|t| t.open_sessions).unwrap_or(0),
            needs_review: t.map(|t| t.needs_review).unwrap_or(0),
            threshold: format!("{:.2}", rules.stipend_threshold_hours),
            eligible: t.is_some_and(|t| t.eligible_on.is_some()),
            eligible_on: t
                .and_then(|t| t.eligible_on)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            paid_on,
            hours_by_category: by_category,
        });
    }
    Ok(rows)
}

pub fn to_csv(rows: &[HoursRow]) -> Result<String, ServerError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(CSV_HEADER.split(','))
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    for r in rows {
        let days = r.days.to_string();
        let sessions = r.sessions.to_string();
        let open = r.open_sessions.to_string();
        let review = r.needs_review.to_string();
        w.write_record([
            r.mentor_id.as_str(),
            &r.mentor_name,
            &r.school_id,
            &r.period,
            &r.hours,
            &days,
            &sessions,
            &open,
            &review,
            &r.threshold,
            if r.eligible { "true" } else { "false" },
            &r.eligible_on,
            &r.paid_on,
        ])
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ServerError::Invalid(e.to_string()))
}
