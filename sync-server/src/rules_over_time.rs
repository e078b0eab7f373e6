//! `program set` and `program show`: rule changes that never rewrite the past. Until the
//! database holds an event or a payment a change sets the rules of every period; after that it
//! takes effect from the current period on (or a later one), a change of the period scheme on
//! a day that starts a period under both schemes, and a closed period keeps its rules (the
//! calendar logic is `pm_shared::rules_in_force`).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use pm_shared::{Period, ProgramRules, RuleChange, Today};
use serde::Serialize;

use crate::db::Db;
use crate::ServerError;

/// What a change did.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub rules: ProgramRules,
    /// The first day the period rules changed; `None`: every period (no records yet, or only
    /// program-wide rules changed).
    pub from: Option<NaiveDate>,
}

/// Today's earliest and latest school-local date among the schools (UTC's without schools).
pub fn today(db: &Db, now: DateTime<Utc>) -> Result<Today, ServerError> {
    let dates: Vec<NaiveDate> = db
        .schools()?
        .iter()
        .map(|s| s.time_zone.local_date(now))
        .collect();
    let utc = now.date_naive();
    Ok(Today {
        earliest: dates.iter().copied().min().unwrap_or(utc),
        latest: dates.iter().copied().max().unwrap_or(utc),
    })
}

/// Applies `change` to the period rules and `wide` to the program-wide ones, and stores them.
pub fn set(
    db: &mut Db,
    change: &RuleChange,
    wide: impl FnOnce(&mut ProgramRules),
    from_period: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Changed, ServerError> {
    let mut rules = db.rules()?;
    wide(&mut rules);
    let (rules, from) = if change.is_empty() {
        if from_period.is_some() {
            return Err(ServerError::Invalid(
                "--from-period goes with a change of --periods, --threshold, --cap-hours, --counting or --volunteer-rate".into(),
            ));
        }
        (rules, None)
    } else if !db.holds_records()? && from_period.is_none() {
        (rules.changed_everywhere(change)?, None)
    } else {
        let from = rules.change_start(change, from_period, today(db, now)?)?;
        (rules.changed_from(from, change)?, Some(from))
    };
    // Totals of closed periods stay as stored: only mentors with time since the change are
    // computed again (a program-wide change reaches everyone).
    db.set_rules_from(&rules, from)?;
    Ok(Changed { rules, from })
}

/// One period and the rules that judge it, for `program show`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodLine {
    pub period: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// `closed` (past at every school), `current`, or `upcoming`.
    pub status: &'static str,
    pub threshold: f64,
    pub cap_hours: f64,
    pub counting: Vec<String>,
    pub volunteer_rate: Option<String>,
}

pub const SHOW_HEADER: &str =
    "period\tfirst_day\tlast_day\tstatus\tthreshold\tcap_hours\tcounting\tvolunteer_rate";

/// Every period from the first one with an event (or the current one) through the period after
/// the current one and after the last scheduled change, each with its rules.
pub fn show(db: &Db, now: DateTime<Utc>) -> Result<Vec<PeriodLine>, ServerError> {
    let rules = db.rules()?;
    let today = today(db, now)?;
    let first_data = db
        .first_event_at()?
        .map(|t| t.date_naive().max(rules.earliest_plausible_date));
    let current = rules.period_of(today.earliest);
    let mut day = first_data
        .map(|d| d.min(current.first_day))
        .unwrap_or(current.first_day);
    let last_change = rules.stretches().iter().filter_map(|s| s.from).max();
    let after_current = next_period(&rules, &current).map(|p| p.last_day);
    let until = last_change
        .and_then(|d| {
            let p = rules.period_of(d);
            next_period(&rules, &p).map(|n| n.last_day)
        })
        .into_iter()
        .chain(after_current)
        .max()
        .unwrap_or(current.last_day);
    let mut lines = Vec::new();
    while day <= until {
        let p = rules.period_of(day);
        let r = rules.on(p.first_day);
        lines.push(PeriodLine {
            period: p.name.0.clone(),
            first_day: p.first_day,
            last_day: p.last_day,
            status: if p.last_day < today.earliest {
                "closed"
            } else if p.first_day <= today.latest {
                "current"
            } else {
                "upcoming"
            },
            threshold: r.stipend_threshold_hours,
            cap_hours: r.session_cap_hours,
            counting: r
                .counting_categories
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            volunteer_rate: r.volunteer_hour_rate.map(str::to_owned),
        });
        match p.last_day.checked_add_signed(Duration::days(1)) {
            Some(next) if lines.len() < 200 => day = next,
            _ => break,
        }
    }
    Ok(lines)
}

fn next_period(rules: &ProgramRules, p: &Period) -> Option<Period> {
    p.last_day
        .checked_add_signed(Duration::days(1))
        .map(|d| rules.period_of(d))
}

/// `program show` as tab-separated lines under [`SHOW_HEADER`].
pub fn show_text(lines: &[PeriodLine]) -> String {
    let mut out = format!("{SHOW_HEADER}\n");
    for l in lines {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            l.period,
            l.first_day,
            l.last_day,
            l.status,
            l.threshold,
            l.cap_hours,
            l.counting.join(","),
            l.volunteer_rate.as_deref().unwrap_or("")
        ));
    }
    out
}
