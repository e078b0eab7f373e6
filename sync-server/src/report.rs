//! The hours report: one row per mentor and period, as CSV (RFC 4180) or JSON. Her hours from
//! every school add up (eligibility is hers, not a school's); organizers of every school where
//! she earned hours in the period see her row, under her current school.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    /// Her school now.
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
    pub community_hours: String,
    /// Set-aside events still waiting for an organizer's verdict.
    pub set_aside: u32,
    pub active: bool,
    /// Her teacher and classroom now ("" when not placed).
    pub teacher: String,
    pub classroom: String,
    pub hours_by_category: BTreeMap<HourCategory, String>,
    /// JSON only: her stipend hours by the school where she earned them (an organizer's entry
    /// under her school now).
    pub hours_by_school: BTreeMap<String, String>,
    /// JSON only: today at her school, and its time zone (the page's default paid date, and
    /// the zone of the times an organizer enters).
    pub today: String,
    pub time_zone: String,
}

pub const CSV_HEADER: &str = "mentor_id,mentor_name,school_id,period,hours,days,sessions,open_sessions,needs_review,threshold,eligible,eligible_on,paid_on,community_hours,set_aside,active,teacher,classroom";

/// Which periods a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodChoice {
    /// The one containing today at each mentor's school.
    Current,
    /// One period, by its canonical name.
    Named(PeriodName),
    /// Every period in which a mentor has sessions or payments (and the current one for every
    /// active mentor): what "eligible and not yet paid" needs, across periods.
    All,
}

impl PeriodChoice {
    /// `None` or empty: current; `all`; else a period name (refused unless it is one).
    pub fn parse(text: Option<&str>, rules: &ProgramRules) -> Result<Self, ServerError> {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(PeriodChoice::Current),
            Some("all") => Ok(PeriodChoice::All),
            Some(name) => Ok(PeriodChoice::Named(rules.period_named(name)?.name)),
        }
    }
}

/// Rows for the mentors of these schools (`None`: all), from materialized totals (see
/// `totals`): every active mentor, plus every inactive one with sessions or payments in the
/// period, plus every mentor who earned hours at one of these schools in it.
pub fn hours(
    db: &mut dyn Storage,
    schools: Option<&[SchoolId]>,
    period: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<HoursRow>, ServerError> {
    let rules = db.rules()?;
    let choice = PeriodChoice::parse(period, &rules)?;
    let mentors = candidates(db, schools)?;
    let ids: Vec<MentorId> = mentors.iter().map(|m| m.id.clone()).collect();
    let totals = crate::totals::current(db, &ids, &rules, now)?;
    rows(db, mentors, schools, &choice, now, &rules, &totals)
}

/// The same rows, recomputed from the whole event log without any stored totals: the
/// reference that materialized totals are tested against.
pub fn hours_recomputed(
    db: &dyn Storage,
    schools: Option<&[SchoolId]>,
    period: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<HoursRow>, ServerError> {
    let rules = db.rules()?;
    let choice = PeriodChoice::parse(period, &rules)?;
    let (sessions, _) = merged_sessions(db, None, &rules, now)?;
    let totals = period_totals(&sessions, &rules);
    rows(
        db,
        candidates(db, schools)?,
        schools,
        &choice,
        now,
        &rules,
        &totals,
    )
}

/// Every mentor who is, or ever was, at one of these schools.
fn candidates(
    db: &dyn Storage,
    schools: Option<&[SchoolId]>,
) -> Result<Vec<MentorRecord>, ServerError> {
    let all = db.mentors(None)?;
    let Some(schools) = schools else {
        return Ok(all);
    };
    let mut ever: HashSet<MentorId> = HashSet::new();
    for s in schools {
        ever.extend(db.mentors_ever_at(s)?);
    }
    Ok(all
        .into_iter()
        .filter(|m| ever.contains(&m.id) || schools.contains(&m.school))
        .collect())
}

fn rows(
    db: &dyn Storage,
    mentors: Vec<MentorRecord>,
    scope: Option<&[SchoolId]>,
    choice: &PeriodChoice,
    now: DateTime<Utc>,
    rules: &ProgramRules,
    totals: &BTreeMap<(MentorId, PeriodName), PeriodTotals>,
) -> Result<Vec<HoursRow>, ServerError> {
    let paid = db.paid_on()?;
    let kiosk_schools = db.kiosk_schools()?;
    let placements = db.placements(None)?;
    // Who ever belonged to the organizer's schools: to the others (visitors) she is an id.
    let mut ever: HashSet<MentorId> = HashSet::new();
    for s in scope.unwrap_or_default() {
        ever.extend(db.mentors_ever_at(s)?);
    }
    let mut schools: HashMap<SchoolId, School> = HashMap::new();
    let mut periods_of: HashMap<String, BTreeSet<String>> = HashMap::new();
    if *choice == PeriodChoice::All {
        for (m, p) in totals.keys() {
            periods_of
                .entry(m.to_string())
                .or_default()
                .insert(p.0.clone());
        }
        for (m, p) in paid.keys() {
            periods_of.entry(m.clone()).or_default().insert(p.clone());
        }
    }
    let mut rows = Vec::new();
    for m in mentors {
        if !schools.contains_key(&m.school) {
            schools.insert(m.school.clone(), db.school(&m.school)?);
        }
        let Some(school) = schools.get(&m.school) else {
            continue;
        };
        let today = school.time_zone.local_date(now);
        let current = rules.period_of(today).name;
        let periods: Vec<PeriodName> = match choice {
            PeriodChoice::Current => vec![current],
            PeriodChoice::Named(p) => vec![p.clone()],
            PeriodChoice::All => {
                let mut set = periods_of.remove(m.id.as_str()).unwrap_or_default();
                if m.active {
                    set.insert(current.0);
                }
                set.into_iter().map(PeriodName).collect()
            }
        };
        for period in periods {
            let t = totals.get(&(m.id.clone(), period.clone()));
            let paid_on = paid
                .get(&(m.id.to_string(), period.0.clone()))
                .cloned()
                .unwrap_or_default();
            let here = scope.is_none_or(|list| list.contains(&m.school));
            let earned_here = scope.is_some_and(|list| {
                t.is_some_and(|t| {
                    t.kiosks
                        .iter()
                        .any(|k| kiosk_schools.get(k).is_some_and(|s| list.contains(s)))
                })
            });
            let has_record = t.is_some() || !paid_on.is_empty();
            if !((here && (m.active || has_record)) || earned_here) {
                continue;
            }
            let mut r = row(&m, school, period, t, paid_on, rules);
            r.today = today.to_string();
            if let Some(t) = t {
                let by_school = earned_by_school(db, &m, t, &kiosk_schools)?;
                r.hours_by_school = by_school
                    .into_iter()
                    .map(|(s, ms)| {
                        let hours = hours_2dp(chrono::Duration::milliseconds(ms));
                        (s, format!("{hours:.2}"))
                    })
                    .collect();
            }
            // Where she is placed now is for her school's organizers only.
            if let Some(p) = placements.get(&m.id).filter(|_| here) {
                r.teacher = p.teacher.clone().unwrap_or_default();
                r.classroom = p.classroom.clone().unwrap_or_default();
            }
            if scope.is_some() && !here && !ever.contains(&m.id) {
                // A visitor: her id and her time at these schools, nothing of her own school.
                r.mentor_name = String::new();
                r.school_id = String::new();
                r.school_name = String::new();
                r.time_zone = String::new();
                r.today = String::new();
                r.hours_by_school
                    .retain(|s, _| scope.is_some_and(|list| list.iter().any(|x| x.as_str() == s)));
            }
            rows.push(r);
        }
    }
    rows.sort_by(|a, b| {
        (&a.school_id, &a.mentor_id, &a.period).cmp(&(&b.school_id, &b.mentor_id, &b.period))
    });
    Ok(rows)
}

/// Her stipend time in a period by the school where it was earned: a kiosk's school, or for an
/// entry made on the server (no school's kiosk) her school on the day of the session.
fn earned_by_school(
    db: &dyn Storage,
    m: &MentorRecord,
    t: &PeriodTotals,
    kiosk_schools: &HashMap<pm_shared::KioskId, SchoolId>,
) -> Result<BTreeMap<String, i64>, ServerError> {
    let mut by_school: BTreeMap<String, i64> = BTreeMap::new();
    let mut history = None;
    for (kiosk, ms) in &t.stipend_by_kiosk {
        if let Some(school) = kiosk_schools.get(kiosk) {
            *by_school.entry(school.to_string()).or_insert(0) += ms;
            continue;
        }
        let mut left = *ms;
        for (day, per_kiosk) in &t.entered_by_day {
            let Some(part) = per_kiosk.get(kiosk) else {
                continue;
            };
            if history.is_none() {
                history = Some(db.membership_history(&m.id)?);
            }
            let school = history
                .as_deref()
                .and_then(|h| crate::db::school_on(h, *day))
                .unwrap_or(&m.school);
            *by_school.entry(school.to_string()).or_insert(0) += part;
            left -= part;
        }
        if left != 0 {
            *by_school.entry(m.school.to_string()).or_insert(0) += left;
        }
    }
    Ok(by_school)
}

fn row(
    m: &MentorRecord,
    school: &School,
    period: PeriodName,
    t: Option<&PeriodTotals>,
    paid_on: String,
    rules: &ProgramRules,
) -> HoursRow {
    let category = |c: &HourCategory| {
        t.and_then(|t| t.by_category.get(c))
            .copied()
            .unwrap_or_else(chrono::Duration::zero)
    };
    let by_category = HourCategory::ALL
        .iter()
        .map(|c| (*c, format!("{:.2}", hours_2dp(category(c)))))
        .collect();
    HoursRow {
        mentor_id: m.id.to_string(),
        mentor_name: m.name.clone(),
        school_id: m.school.to_string(),
        school_name: school.name.clone(),
        period: period.0.clone(),
        hours: format!("{:.2}", t.map(|t| t.stipend_hours()).unwrap_or(0.0)),
        days: t.map(|t| t.days).unwrap_or(0),
        sessions: t.map(|t| t.sessions).unwrap_or(0),
        open_sessions: t.map(|t| t.open_sessions).unwrap_or(0),
        needs_review: t.map(|t| t.needs_review).unwrap_or(0),
        // The rules of that period (a later change never reaches a closed one).
        threshold: format!(
            "{:.2}",
            rules
                .period_rules(&period.0)
                .map(|(_, r)| r.stipend_threshold_hours)
                .unwrap_or(rules.stipend_threshold_hours)
        ),
        eligible: t.is_some_and(|t| t.eligible_on.is_some()),
        eligible_on: t
            .and_then(|t| t.eligible_on)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        paid_on,
        community_hours: format!("{:.2}", hours_2dp(category(&HourCategory::Community))),
        set_aside: t.map(|t| t.set_aside).unwrap_or(0),
        active: m.active,
        teacher: String::new(),
        classroom: String::new(),
        hours_by_category: by_category,
        hours_by_school: BTreeMap::new(),
        today: String::new(),
        time_zone: school.time_zone.name().to_owned(),
    }
}

/// A cell a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) gets a `'` before it, as OWASP advises against CSV injection: a mentor named
/// `=HYPERLINK(…)` stays a name. The same holds after any character a spreadsheet may be set to
/// split on (`,` `;` tab `|`, then spaces): under `;` as separator, `x;=1+1` would be two cells,
/// the second a formula, so it is written `x;'=1+1`. A NUL (which only a forged kiosk entry can
/// carry) is written as U+FFFD: spreadsheet tools cut a cell, or a file, at one.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    let starts_formula = |c: char| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r');
    let splits = |c: char| matches!(c, ',' | ';' | '\t' | '|');
    let mut at_start = true;
    let risky = cell.chars().any(|c| {
        let risky = c == '\0' || (at_start && starts_formula(c));
        at_start = splits(c) || (at_start && c == ' ');
        risky
    });
    if !risky {
        return cell.into();
    }
    let mut out = String::with_capacity(cell.len() + 4);
    let mut at_start = true;
    for c in cell.chars() {
        if at_start && starts_formula(c) {
            out.push('\'');
        }
        out.push(if c == '\0' { '\u{fffd}' } else { c });
        at_start = splits(c) || (at_start && c == ' ');
    }
    out.into()
}

/// A CSV writer that makes every project CSV the same way (CRLF, RFC 4180, spreadsheet-safe).
pub fn csv_text(header: &str, records: &[Vec<String>]) -> Result<String, ServerError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let invalid = |e: csv::Error| ServerError::Invalid(e.to_string());
    w.write_record(header.split(',')).map_err(invalid)?;
    for r in records {
        w.write_record(r.iter().map(|cell| spreadsheet_safe(cell).into_owned()))
            .map_err(invalid)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ServerError::Invalid(e.to_string()))
}

pub fn to_csv(rows: &[HoursRow]) -> Result<String, ServerError> {
    let records: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.mentor_id.clone(),
                r.mentor_name.clone(),
                r.school_id.clone(),
                r.period.clone(),
                r.hours.clone(),
                r.days.to_string(),
                r.sessions.to_string(),
                r.open_sessions.to_string(),
                r.needs_review.to_string(),
                r.threshold.clone(),
                r.eligible.to_string(),
                r.eligible_on.clone(),
                r.paid_on.clone(),
                r.community_hours.clone(),
                r.set_aside.to_string(),
                r.active.to_string(),
                r.teacher.clone(),
                r.classroom.clone(),
            ]
        })
        .collect();
    csv_text(CSV_HEADER, &records)
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn no_cell_reads_as_a_formula_under_any_separator() {
        for (cell, safe) in [
            ("Ann Lee", "Ann Lee"),
            ("12.50", "12.50"),
            ("2026-10-01T08:00:00-05:00", "2026-10-01T08:00:00-05:00"),
            ("=1+1", "'=1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("x;=1+1", "x;'=1+1"),
            ("x, -2", "x, '-2"),
            ("a|+b", "a|'+b"),
            ("a\t=b", "a\t'=b"),
            ("a\0b", "a\u{fffd}b"),
            ("cost - 1", "cost - 1"),
        ] {
            assert_eq!(spreadsheet_safe(cell), safe, "{cell:?}");
        }
    }
}
