//! `report`: the hours report and the program report.

use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Subcommand;
use pm_shared::SchoolId;
use sync_server::db::Db;
use sync_server::{program, report};

#[derive(Subcommand, Debug)]
pub enum ReportAction {
    /// The program report for funders: per school and a total row (school_id ALL), over a
    /// period or a span of dates (default: the current period).
    Program {
        /// A period's name (2026-fall).
        #[arg(long, conflicts_with_all = ["from", "to"])]
        period: Option<String>,
        /// First date, included (YYYY-MM-DD); with --to.
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// Last date, included; with --from.
        #[arg(long, requires = "from")]
        to: Option<String>,
        #[arg(long)]
        school: Option<String>,
        #[arg(long, value_parser = ["csv", "json", "xlsx"], default_value = "csv")]
        format: String,
        /// Write to this file instead of standard output (XLSX needs a file or a pipe).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    Hours {
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
        #[arg(long)]
        school: Option<String>,
        /// A period's name (2026-fall), or `all` for every period; default: the current one.
        #[arg(long)]
        period: Option<String>,
    },
}

pub fn report(db: &mut Db, action: ReportAction) -> anyhow::Result<()> {
    match action {
        ReportAction::Program {
            period,
            from,
            to,
            school,
            format,
            out,
        } => {
            let schools = school.map(SchoolId::new).transpose()?.map(|s| vec![s]);
            let span = program::Span::parse(
                &db.rules()?,
                period.as_deref(),
                from.as_deref(),
                to.as_deref(),
                program::today(db, schools.as_deref(), Utc::now())?,
            )?;
            let rows = program::report(db, schools.as_deref(), span, Utc::now())?;
            let bytes = match format.as_str() {
                "json" => serde_json::to_string_pretty(&rows)?.into_bytes(),
                "xlsx" => program::to_xlsx(&rows)?,
                _ => program::to_csv(&rows)?.into_bytes(),
            };
            match out {
                Some(path) => {
                    std::fs::write(&path, &bytes)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("wrote {} ({} rows)", path.display(), rows.len());
                }
                None => {
                    use std::io::{IsTerminal, Write};
                    let mut stdout = std::io::stdout();
                    if format == "xlsx" && stdout.is_terminal() {
                        bail!("an XLSX workbook is not for the terminal: give --out FILE");
                    }
                    stdout.write_all(&bytes)?;
                }
            }
        }
        ReportAction::Hours {
            format,
            school,
            period,
        } => {
            let schools = school.map(SchoolId::new).transpose()?.map(|s| vec![s]);
            let rows = report::hours(db, schools.as_deref(), period.as_deref(), Utc::now())?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", report::to_csv(&rows)?);
            }
        }
    }
    Ok(())
}
