//! The program report for funders: per school and in all, over a period or a span of dates,
//! the mentors active, who reached the threshold, credited hours by category, mentor-days,
//! stipends paid and the in-kind value of the volunteered hours. CSV, JSON or XLSX.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use pm_shared::{HourCategory, MentorId, ProgramRules, SchoolId};
use serde::Serialize;

use crate::report::csv_text;
use crate::storage::Storage;
use crate::ServerError;

pub const CSV_HEADER: &str = "school_id,school_name,active_mentors,reached_threshold,classroom_hours,training_hours,workshop_hours,community_hours,days,avg_hours_per_mentor,stipends_paid,stipend_amount,in_kind_value";

/// Today at the schools a report covers: the first one's local date (schools of one program
/// share a region), or UTC's with no school.
pub fn today(
    db: &dyn Storage,
    schools: Option<&[SchoolId]>,
    now: DateTime<Utc>,
) -> Result<NaiveDate, ServerError> {
    let zone = match schools.and_then(|list| list.first()) {
        Some(id) => Some(db.school(id)?.time_zone),
        None => db.schools()?.first().map(|s| s.time_zone),
    };
    Ok(zone
        .map(|z| z.local_date(now))
        .unwrap_or_else(|| now.date_naive()))
}

/// The dates a report covers, both included (school-local dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Span {
    /// `period`, or `from` and `to`, or (neither) the period containing today.
    pub fn parse(
        rules: &ProgramRules,
        period: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, ServerError> {
        let date = |what: &str, text: &str| {
            text.trim().parse::<NaiveDate>().map_err(|_| {
                ServerError::Invalid(format!("{what} {text:?} is not a date like 2026-09-01"))
            })
        };
        fn nonempty(t: Option<&str>) -> Option<&str> {
            t.map(str::trim).filter(|t| !t.is_empty())
        }
        match (nonempty(period), nonempty(from), nonempty(to)) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ServerError::Invalid(
                "give a period, or from and to, not both".into(),
            )),
            (Some(p), None, None) => {
                let p = rules.period_named(p)?;
                Ok(Self {
                    from: p.first_day,
                    to: p.last_day,
                })
            }
            (None, Some(f), Some(t)) => {
                let span = Self {
                    from: date("from", f)?,
                    to: date("to", t)?,
                };
                if span.to < span.from {
                    return Err(ServerError::Invalid("to comes before from".into()));
                }
                Ok(span)
            }
            (None, None, None) => {
                let p = rules.period_of(today);
                Ok(Self {
                    from: p.first_day,
                    to: p.last_day,
                })
            }
            _ => Err(ServerError::Invalid("give both from and to".into())),
        }
    }

    fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// One row: a school, or the whole program (`school_id` = `ALL`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgramRow {
    pub school_id: String,
    pub school_name: String,
    pub active_mentors: u64,
    pub reached_threshold: u64,
    pub classroom_hours: f64,
    pub training_hours: f64,
    pub workshop_hours: f64,
    pub community_hours: f64,
    pub days: u64,
    pub avg_hours_per_mentor: f64,
    pub stipends_paid: u64,
    /// Decimal text (`1200.00`): money is never a float.
    pub stipend_amount: String,
    /// Decimal text, or empty when no volunteer rate is set.
    pub in_kind_value: String,
}

#[derive(Default)]
struct Tally {
    mentors: BTreeSet<MentorId>,
    days: BTreeSet<(MentorId, NaiveDate)>,
    reached: BTreeSet<MentorId>,
    ms: BTreeMap<HourCategory, i64>,
    /// Credited time per category under each volunteer rate in force (a span may cover
    /// periods with different rates; `None`: no rate).
    ms_by_rate: BTreeMap<(Option<i64>, HourCategory), i64>,
    counting_ms: i64,
    paid: u64,
    cents: i64,
}

fn hours(ms: i64) -> f64 {
    (ms as f64 / 36_000.0).round() / 100.0
}

fn money(cents: i64) -> String {
    pm_shared::money_text(cents)
}

/// The report over `span`, for one school or all (`schools` = `None`), from one consistent
/// snapshot of the events.
pub fn report(
    db: &mut dyn Storage,
    schools: Option<&[SchoolId]>,
    span: Span,
    now: DateTime<Utc>,
) -> Result<Vec<ProgramRow>, ServerError> {
    let rules = db.rules()?;
    let kiosk_schools = db.kiosk_schools()?;
    let mentors = db.mentors(None)?;
    let ids: Vec<MentorId> = mentors.iter().map(|m| m.id.clone()).collect();
    let snapshot = db.totals_snapshot(&ids)?;
    let computed = crate::totals::compute(snapshot, &rules, now);
    let all_schools = db.schools()?;
    if let Some(list) = schools {
        if let Some(unknown) = list
            .iter()
            .find(|s| !all_schools.iter().any(|k| &k.id == *s))
        {
            return Err(ServerError::NotFound {
                what: "school",
                id: unknown.to_string(),
            });
        }
    }
    let wanted = |s: &SchoolId| schools.is_none_or(|list| list.contains(s));
    let mut per: BTreeMap<SchoolId, Tally> = BTreeMap::new();
    for s in all_schools.iter().filter(|s| wanted(&s.id)) {
        per.insert(s.id.clone(), Tally::default());
    }
    // Credited time, where it was earned.
    let mut histories: BTreeMap<MentorId, Vec<crate::db::Membership>> = BTreeMap::new();
    for s in &computed.sessions {
        let Some(d) = s.counted_duration().filter(|d| d.num_milliseconds() > 0) else {
            continue;
        };
        if !span.contains(s.local_date) {
            continue;
        }
        // An organizer's entry (the server's kiosk) was earned at her school that day.
        let school = match kiosk_schools.get(&s.kiosk) {
            Some(k) => Some(k.clone()),
            None => {
                if !histories.contains_key(&s.mentor) {
                    let h = db.membership_history(&s.mentor)?;
                    histories.insert(s.mentor.clone(), h);
                }
                histories
                    .get(&s.mentor)
                    .and_then(|h| crate::db::school_on(h, s.local_date).cloned())
            }
        };
        let Some(school) = school.filter(|k| wanted(k)) else {
            continue;
        };
        let t = per.entry(school.clone()).or_default();
        t.mentors.insert(s.mentor.clone());
        t.days.insert((s.mentor.clone(), s.local_date));
        *t.ms.entry(s.category).or_insert(0) += d.num_milliseconds();
        let in_force = rules.on(s.local_date);
        *t.ms_by_rate
            .entry((in_force.volunteer_rate_cents(), s.category))
            .or_insert(0) += d.num_milliseconds();
        if in_force.counts_toward_stipend(s.category) {
            t.counting_ms += d.num_milliseconds();
        }
    }
    // Who crossed the threshold on a date in the span, at her school that day.
    for c in &computed.totals {
        for t in &c.totals {
            let Some(on) = t.eligible_on.filter(|d| span.contains(*d)) else {
                continue;
            };
            let history = db.membership_history(&t.mentor)?;
            let school = crate::db::school_on(&history, on).cloned();
            if let Some(school) = school.filter(|s| wanted(s)) {
                per.entry(school)
                    .or_default()
                    .reached
                    .insert(t.mentor.clone());
            }
        }
    }
    // Payments dated in the span, by her school now.
    let school_of: BTreeMap<String, SchoolId> = mentors
        .iter()
        .map(|m| (m.id.to_string(), m.school.clone()))
        .collect();
    for p in db.payments()? {
        if p.voided_at.is_some() {
            continue;
        }
        let Ok(on) = p.paid_on.parse::<NaiveDate>() else {
            continue;
        };
        let Some(school) = school_of.get(&p.mentor).filter(|s| wanted(s)) else {
            continue;
        };
        if span.contains(on) {
            let t = per.entry(school.clone()).or_default();
            t.paid += 1;
            t.cents += pm_shared::money_cents(&p.amount).unwrap_or(0);
        }
    }
    // Some period of the span has a rate: the column is filled (0.00 where nothing was earned).
    let rated = rules.stretches().iter().any(|s| {
        s.rules.volunteer_hour_rate.is_some()
            && s.from.is_none_or(|f| f <= span.to)
            && s.until.is_none_or(|u| span.from < u)
    });
    let names: BTreeMap<&SchoolId, &str> = all_schools
        .iter()
        .map(|s| (&s.id, s.name.as_str()))
        .collect();
    let mut total = Tally::default();
    let mut rows = Vec::new();
    for (school, t) in &per {
        rows.push(row(
            school.as_str(),
            names.get(school).copied().unwrap_or(""),
            t,
            rated,
        ));
        total.mentors.extend(t.mentors.iter().cloned());
        total.days.extend(t.days.iter().cloned());
        total.reached.extend(t.reached.iter().cloned());
        for (c, ms) in &t.ms {
            *total.ms.entry(*c).or_insert(0) += ms;
        }
        for (k, ms) in &t.ms_by_rate {
            *total.ms_by_rate.entry(*k).or_insert(0) += ms;
        }
        total.counting_ms += t.counting_ms;
        total.paid += t.paid;
        total.cents += t.cents;
    }
    rows.push(row("ALL", "All schools", &total, rated));
    Ok(rows)
}

fn row(id: &str, name: &str, t: &Tally, rated: bool) -> ProgramRow {
    let ms = |c: HourCategory| t.ms.get(&c).copied().unwrap_or(0);
    let active = t.mentors.len() as u64;
    ProgramRow {
        school_id: id.to_owned(),
        school_name: name.to_owned(),
        active_mentors: active,
        reached_threshold: t.reached.len() as u64,
        classroom_hours: hours(ms(HourCategory::Classroom)),
        training_hours: hours(ms(HourCategory::Training)),
        workshop_hours: hours(ms(HourCategory::Workshop)),
        community_hours: hours(ms(HourCategory::Community)),
        days: t.days.len() as u64,
        avg_hours_per_mentor: if active == 0 {
            0.0
        } else {
            (t.counting_ms as f64 / 3_600_000.0 / active as f64 * 100.0).round() / 100.0
        },
        stipends_paid: t.paid,
        stipend_amount: money(t.cents),
        in_kind_value: in_kind_value(t, rated),
    }
}

/// The row's credited hours as shown (each category's hundredths of an hour, added up) × the
/// rate, rounded half up to the cent: what anyone checking the row with a calculator gets.
/// Under several rates (a span across periods), each rate's hours are valued apart. Empty when
/// no credited hour has a rate.
fn in_kind_value(t: &Tally, rated: bool) -> String {
    let mut centi_hours_at: BTreeMap<i64, i128> = BTreeMap::new();
    for ((rate, _), ms) in &t.ms_by_rate {
        if let Some(rate) = rate {
            *centi_hours_at.entry(*rate).or_insert(0) += (i128::from(*ms) + 18_000) / 36_000;
        }
    }
    if !rated && centi_hours_at.is_empty() {
        return String::new();
    }
    let cents: i128 = centi_hours_at
        .iter()
        .map(|(rate, centi)| (centi * i128::from(*rate) + 50) / 100)
        .sum();
    money(i64::try_from(cents).unwrap_or(i64::MAX))
}

pub fn to_csv(rows: &[ProgramRow]) -> Result<String, ServerError> {
    let records: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.school_id.clone(),
                r.school_name.clone(),
                r.active_mentors.to_string(),
                r.reached_threshold.to_string(),
                format!("{:.2}", r.classroom_hours),
                format!("{:.2}", r.training_hours),
                format!("{:.2}", r.workshop_hours),
                format!("{:.2}", r.community_hours),
                r.days.to_string(),
                format!("{:.2}", r.avg_hours_per_mentor),
                r.stipends_paid.to_string(),
                r.stipend_amount.clone(),
                r.in_kind_value.clone(),
            ]
        })
        .collect();
    csv_text(CSV_HEADER, &records)
}

/// An XLSX workbook: the first sheet, the CSV header in row 1, numbers as numbers.
pub fn to_xlsx(rows: &[ProgramRow]) -> Result<Vec<u8>, ServerError> {
    let bad = |e: rust_xlsxwriter::XlsxError| ServerError::Invalid(format!("xlsx: {e}"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Program").map_err(bad)?;
    for (col, name) in CSV_HEADER.split(',').enumerate() {
        sheet.write_string(0, col as u16, name).map_err(bad)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        let number = |s: &str| s.parse::<f64>().ok();
        sheet.write_string(row, 0, &r.school_id).map_err(bad)?;
        sheet.write_string(row, 1, &r.school_name).map_err(bad)?;
        let numbers = [
            r.active_mentors as f64,
            r.reached_threshold as f64,
            r.classroom_hours,
            r.training_hours,
            r.workshop_hours,
            r.community_hours,
            r.days as f64,
            r.avg_hours_per_mentor,
            r.stipends_paid as f64,
        ];
        for (j, n) in numbers.iter().enumerate() {
            sheet.write_number(row, 2 + j as u16, *n).map_err(bad)?;
        }
        if let Some(n) = number(&r.stipend_amount) {
            sheet.write_number(row, 11, n).map_err(bad)?;
        }
        if let Some(n) = number(&r.in_kind_value) {
            sheet.write_number(row, 12, n).map_err(bad)?;
        }
    }
    book.save_to_buffer().map_err(bad)
}
