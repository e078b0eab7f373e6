//! `stipend`, `review` and `session`: payments, decisions on the review queue, time entered
//! after the fact.

use std::path::PathBuf;

use chrono::Utc;
use clap::Subcommand;
use pm_shared::{HourCategory, MentorId, SchoolId};
use sync_server::db::Db;
use sync_server::{payments, review};

#[derive(Subcommand, Debug)]
pub enum StipendAction {
    /// Records that a mentor's stipend for a period was paid; prints the payment's id.
    Paid {
        #[arg(long)]
        mentor: String,
        /// The period's canonical name, e.g. 2026-fall.
        #[arg(long)]
        period: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        reference: String,
        /// Payment date (default: today at her school).
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
        /// A further payment for a mentor and period already paid.
        #[arg(long)]
        additional: bool,
        /// Pay her although she has not reached the threshold in that period.
        #[arg(long)]
        not_eligible: bool,
    },
    /// Voids a payment booked by mistake: it stays in the ledger, and the stipend shows as
    /// unpaid again.
    Void {
        payment_id: i64,
        #[arg(long)]
        reason: String,
        /// Who voids it (for the ledger).
        #[arg(long, default_value = "command line")]
        by: String,
    },
    /// The payments ledger (voided payments included), as CSV.
    List,
}

#[derive(Subcommand, Debug)]
pub enum ReviewAction {
    /// The review queue: every session that needs review and every set-aside event. CSV
    /// header: item,mentor_id,mentor_name,school_id,period,start,end,reasons,kiosks.
    List {
        #[arg(long)]
        school: Option<String>,
        #[arg(long)]
        period: Option<String>,
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
    },
    /// Resolves one item (a new event naming who, when and why; nothing is edited).
    #[command(group(clap::ArgGroup::new("action").required(true).multiple(true)
        .args(["approve", "start", "end", "void", "accept", "reject"])))]
    Resolve {
        item: String,
        /// Count the session as recorded (over the cap, across midnight, clock skew, overlap,
        /// closed twice).
        #[arg(long, conflicts_with_all = ["start", "end", "void", "accept", "reject"])]
        approve: bool,
        /// New start (RFC 3339, e.g. 2026-10-05T08:00:00-05:00).
        #[arg(long, conflicts_with_all = ["void", "accept", "reject"])]
        start: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// New end (RFC 3339).
        #[arg(long, conflicts_with_all = ["void", "accept", "reject"])]
        end: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// The session counts for nothing.
        #[arg(long, conflicts_with_all = ["accept", "reject"])]
        void: bool,
        /// A set-aside event counts like any other.
        #[arg(long, conflicts_with = "reject")]
        accept: bool,
        /// A set-aside event stays out for good.
        #[arg(long)]
        reject: bool,
        /// Who resolves it.
        #[arg(long)]
        by: String,
        /// Why: it is kept with the resolution.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SessionAction {
    /// One past session of one mentor.
    Add {
        #[arg(long)]
        mentor: String,
        /// RFC 3339 with an offset, e.g. 2026-10-05T08:00:00-05:00.
        #[arg(long)]
        start: chrono::DateTime<chrono::FixedOffset>,
        #[arg(long)]
        end: chrono::DateTime<chrono::FixedOffset>,
        /// classroom, training, workshop or community.
        #[arg(long)]
        category: String,
        /// Who entered it.
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
    },
    /// A paper sign-in sheet: CSV with header exactly mentor_id,date,start,end,category, times
    /// HH:MM at the mentor's school; all or nothing, broken rows named by line.
    Import {
        file: PathBuf,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
    },
}

pub fn stipend(db: &mut Db, action: StipendAction) -> anyhow::Result<()> {
    match action {
        StipendAction::Paid {
            mentor,
            period,
            amount,
            reference,
            on,
            additional,
            not_eligible,
        } => {
            let mentor = MentorId::new(mentor)?;
            // Default: today at her school (never the server's or UTC's date).
            let paid_on = match on {
                Some(day) => day,
                None => {
                    let school = db.mentor(&mentor)?.school;
                    db.school(&school)?.time_zone.local_date(Utc::now())
                }
            };
            let payment = pm_shared::protocol::StipendPayment {
                mentor,
                period: pm_shared::PeriodName(period),
                amount,
                paid_on,
                reference,
                additional,
                not_eligible,
            };
            let id = payments::record(db, &payment, "command line", None, Utc::now())?;
            println!("payment {id} recorded");
        }
        StipendAction::Void {
            payment_id,
            reason,
            by,
        } => {
            payments::void(db, payment_id, &by, &reason, None, Utc::now())?;
            println!("payment {payment_id} voided");
        }
        StipendAction::List => {
            for p in db.payments()? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}{}",
                    p.id,
                    p.mentor,
                    p.period,
                    p.amount,
                    p.paid_on,
                    p.reference,
                    p.voided_at
                        .map(|at| format!("\tvoided {at}: {}", p.void_reason.unwrap_or_default()))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

pub fn review(db: &mut Db, action: ReviewAction) -> anyhow::Result<()> {
    match action {
        ReviewAction::List {
            school,
            period,
            format,
        } => {
            let schools = school.map(SchoolId::new).transpose()?.map(|s| vec![s]);
            let items = review::list(db, schools.as_deref(), period.as_deref(), Utc::now())?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else {
                print!("{}", review::to_csv(&items)?);
            }
        }
        ReviewAction::Resolve {
            item,
            approve,
            start,
            end,
            void,
            accept,
            reject,
            by,
            reason,
        } => {
            use pm_shared::protocol::ReviewAction as Action;
            let action = if approve {
                Action::Approve
            } else if void {
                Action::Void
            } else if accept {
                Action::Accept
            } else if reject {
                Action::Reject
            } else {
                Action::SetTimes
            };
            let resolution = pm_shared::protocol::ReviewResolution {
                action,
                start: start.map(|t| t.with_timezone(&Utc)),
                end: end.map(|t| t.with_timezone(&Utc)),
                reason,
                seen: None,
            };
            let by = review::Resolver {
                name: &by,
                schools: None,
            };
            let done = review::resolve(db, &item, &resolution, by, Utc::now())?;
            if done.still_needs_review {
                println!(
                    "recorded; item {} still needs review: {}",
                    done.item,
                    done.reasons.join(";")
                );
            } else {
                println!("resolved item {}", done.item);
            }
            // Alone on the last line: the id to reverse this decision with
            // (`review resolve RESOLUTION-ID --void`).
            println!("{}", done.resolution);
        }
    }
    Ok(())
}

pub fn session(db: &mut Db, action: SessionAction) -> anyhow::Result<()> {
    let (sessions, by, reason) = match action {
        SessionAction::Add {
            mentor,
            start,
            end,
            category,
            by,
            reason,
        } => (
            vec![sync_server::sessions::NewSession {
                mentor: MentorId::new(mentor)?,
                start: start.with_timezone(&Utc),
                end: end.with_timezone(&Utc),
                category: category.parse::<HourCategory>()?,
            }],
            by,
            reason,
        ),
        SessionAction::Import { file, by, reason } => {
            (sync_server::sessions::read_sheet(db, &file)?, by, reason)
        }
    };
    let events = sync_server::sessions::enter(db, &sessions, &by, &reason, None, Utc::now())?;
    for e in &events {
        println!("{}", e.id);
    }
    Ok(())
}
