//! `program`: the rules, set from a day or a period, and shown period by period.

use anyhow::bail;
use chrono::Utc;
use clap::Subcommand;
use pm_shared::{HourCategory, PeriodScheme};
use sync_server::db::Db;

#[derive(Subcommand, Debug)]
pub enum ProgramAction {
    Set {
        #[arg(long, value_parser = ["semesters", "years"])]
        periods: Option<String>,
        #[arg(long)]
        threshold: Option<f64>,
        #[arg(long)]
        cap_hours: Option<f64>,
        /// Comma-separated categories that count toward the stipend.
        #[arg(long)]
        counting: Option<String>,
        /// The value of a volunteered hour for the program report's in_kind_value column
        /// (the rate funders publish each year, e.g. 34.79); `none` clears it.
        #[arg(long)]
        volunteer_rate: Option<String>,
        /// At the check-in of a mentor whose clearance has expired, the kiosk warns (default)
        /// or refuses.
        #[arg(long, value_parser = ["warn", "refuse"])]
        expired_clearance: Option<String>,
        /// Badge scans delivered more than N days after they happened go to review as
        /// late_delivery (default 14; 0 turns it off).
        #[arg(long)]
        late_delivery_days: Option<u32>,
        /// From this day (YYYY-MM-DD) kiosks registered before scan proofs must prove every
        /// scan too (default: 30 days after this server first ran with scan proofs).
        #[arg(long)]
        require_scan_proof_from: Option<chrono::NaiveDate>,
        /// Days a PIN that was on a lost kiosk (kiosk add --replaces) keeps working before the
        /// kiosks refuse it until it is set again (default 3).
        #[arg(long)]
        exposed_pin_grace_days: Option<u32>,
        /// The first period the new period rules judge (default: the current period; for new
        /// --periods, the next day that starts a period under both the old and the new ones).
        /// Closed periods always keep their rules.
        #[arg(long)]
        from_period: Option<String>,
    },
    /// The rules period by period: from the first period with data through the next one.
    Show {
        #[arg(long, value_parser = ["tsv", "json"], default_value = "tsv")]
        format: String,
    },
}

pub fn program(db: &mut Db, action: ProgramAction) -> anyhow::Result<()> {
    match action {
        ProgramAction::Set {
            periods,
            threshold,
            cap_hours,
            counting,
            volunteer_rate,
            expired_clearance,
            late_delivery_days,
            require_scan_proof_from,
            exposed_pin_grace_days,
            from_period,
        } => {
            let mut change = pm_shared::RuleChange {
                periods: match periods.as_deref() {
                    Some("semesters") => Some(PeriodScheme::default()),
                    Some("years") => Some(PeriodScheme::school_years()),
                    _ => None,
                },
                stipend_threshold_hours: threshold,
                session_cap_hours: cap_hours,
                ..pm_shared::RuleChange::default()
            };
            if let Some(list) = counting {
                change.counting_categories = Some(
                    list.split(',')
                        .map(|c| c.parse::<HourCategory>())
                        .collect::<Result<_, _>>()?,
                );
            }
            match volunteer_rate.as_deref().map(str::trim) {
                Some("none") | Some("") => change.volunteer_hour_rate = Some(None),
                Some(rate) => match pm_shared::money_cents(rate) {
                    Some(cents) => {
                        change.volunteer_hour_rate = Some(Some(pm_shared::money_text(cents)))
                    }
                    None => bail!("--volunteer-rate {rate:?} is not a sum like 34.79"),
                },
                None => {}
            }
            let changed = sync_server::rules_over_time::set(
                db,
                &change,
                |rules| {
                    match expired_clearance.as_deref() {
                        Some("refuse") => {
                            rules.expired_clearance = pm_shared::ExpiredClearance::Refuse
                        }
                        Some("warn") => rules.expired_clearance = pm_shared::ExpiredClearance::Warn,
                        _ => {}
                    }
                    if let Some(days) = late_delivery_days {
                        rules.late_delivery_days = Some(days);
                    }
                    if let Some(day) = require_scan_proof_from {
                        rules.require_scan_proof_from = Some(day);
                    }
                    if let Some(days) = exposed_pin_grace_days {
                        rules.exposed_pin_grace_days = Some(days);
                    }
                },
                from_period.as_deref(),
                Utc::now(),
            )?;
            if let Some(from) = changed.from {
                let period = changed.rules.period_of(from).name;
                eprintln!(
                    "the new period rules judge {period} (from {from}) and later periods; earlier periods keep theirs"
                );
            }
            println!("{}", serde_json::to_string_pretty(&changed.rules)?);
        }
        ProgramAction::Show { format } => {
            let lines = sync_server::rules_over_time::show(db, Utc::now())?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&lines)?);
            } else {
                print!("{}", sync_server::rules_over_time::show_text(&lines));
            }
        }
    }
    Ok(())
}
