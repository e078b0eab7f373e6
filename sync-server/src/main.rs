//! The sync server binary: admin commands and `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Parser, Subcommand};
use pm_shared::{HourCategory, KioskId, MentorId, PeriodScheme, SchoolId, TimeZone};
use sync_server::db::Db;
use sync_server::{badges, http, import, payments, program, report, review};

/// Parent Mentor sync server: merges kiosk event logs, computes hours and stipends.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// The database: a SQLite file's path, or a PostgreSQL URL (postgres://USER@HOST:PORT/DB)
    /// (default: the config file's `db`, else server.db).
    #[arg(long, global = true, env = "PM_DATABASE_URL", hide_env_values = true)]
    db: Option<String>,
    /// A TOML config file (keys db, listen, tls_cert, tls_key, backup_dir, backup_every, keep,
    /// metrics_token, trusted_proxies, max_connections, max_connections_per_address); flags
    /// given on the command line win over it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log lines as text (default) or JSON, on standard error.
    #[arg(long, global = true, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

/// `/etc/pm-sync-server/config.toml`: every key optional but `db`; an unknown key is an error.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    db: String,
    listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    backup_dir: Option<PathBuf>,
    backup_every: Option<String>,
    keep: Option<usize>,
    metrics_token: Option<String>,
    /// Reverse proxies whose X-Forwarded-For names the client.
    #[serde(default)]
    trusted_proxies: Vec<std::net::IpAddr>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
}

fn read_config(path: &std::path::Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    // toml's own message quotes the line, which may be `db = "postgres://user:password@…"`:
    // say which line and why, not what it holds.
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        match line {
            Some(line) => {
                anyhow::anyhow!("config {}, line {line}: {}", path.display(), e.message())
            }
            None => anyhow::anyhow!("config {}: {}", path.display(), e.message()),
        }
    })
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serves the API and the organizer page. HTTPS with --tls-cert/--tls-key; plain HTTP
    /// only on a loopback address (behind a TLS reverse proxy on the same machine).
    Serve {
        /// Default: the config file's, else 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// PEM certificate chain.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Requests per second each token may make, sustained (past it: 429 with Retry-After).
        #[arg(long, default_value_t = 20.0)]
        rate_limit: f64,
        /// Requests each token may make at once before the rate applies.
        #[arg(long, default_value_t = 100.0)]
        rate_burst: f64,
        /// Take online backups into this folder (one at start, then every --backup-every),
        /// each checked for integrity; the oldest beyond --keep are removed.
        #[arg(long)]
        backup_dir: Option<PathBuf>,
        /// 30m, 6h, 1d (default 6h).
        #[arg(long)]
        backup_every: Option<String>,
        /// How many backups to keep (default 28).
        #[arg(long)]
        keep: Option<usize>,
        /// A bearer token GET /metrics asks for (default: the config file's; none: open).
        #[arg(long)]
        metrics_token: Option<String>,
        /// A reverse proxy whose X-Forwarded-For names the client (repeat for several; default:
        /// the config file's `trusted_proxies`). Failed requests are limited per client.
        #[arg(long = "trusted-proxy")]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Open connections at most (default: min(4096, the open-file soft limit - 100), or the
        /// config file's max_connections); one more is accepted and closed at once.
        #[arg(long)]
        max_connections: Option<usize>,
        /// Open connections at most from one client address (default 256, or the config
        /// file's max_connections_per_address).
        #[arg(long)]
        max_connections_per_address: Option<usize>,
    },
    /// Schools.
    School {
        #[command(subcommand)]
        action: SchoolAction,
    },
    /// Program rules.
    Program {
        #[command(subcommand)]
        action: ProgramAction,
    },
    /// Kiosks and their tokens.
    Kiosk {
        #[command(subcommand)]
        action: KioskAction,
    },
    /// Mentors.
    Mentor {
        #[command(subcommand)]
        action: MentorAction,
    },
    /// Writes badge images: `<mentor-id>.png` and `.svg` for each active mentor.
    Badges {
        #[arg(long)]
        out: PathBuf,
        /// Only this mentor.
        #[arg(long)]
        mentor: Option<String>,
        /// Issue a new generation (revokes the old badge).
        #[arg(long, requires = "mentor")]
        reissue: bool,
    },
    /// Organizers and their tokens.
    Organizer {
        #[command(subcommand)]
        action: OrganizerAction,
    },
    /// Coordinators (their PIN unlocks coordinator mode on the school's kiosks).
    Coordinator {
        #[command(subcommand)]
        action: CoordinatorAction,
    },
    /// Clearances (background check, TB test, initial training, …) and when they expire.
    Clearance {
        #[command(subcommand)]
        action: ClearanceAction,
    },
    /// Stipend payments.
    Stipend {
        #[command(subcommand)]
        action: StipendAction,
    },
    /// Writes an online, consistent copy of the database (safe while serving).
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Replaces the database's content with a backup's. Stop the server first.
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
    /// Copies a SQLite server's database into an empty PostgreSQL database, then checks the
    /// copy: row counts, the hours report, the review list and the program report (ignores
    /// --db).
    Migrate {
        /// The SQLite database file.
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL URL (postgres://USER@HOST:PORT/DB).
        #[arg(long)]
        to: String,
    },
    /// Reports.
    Report {
        #[command(subcommand)]
        action: ReportAction,
    },
    /// The review queue: list items, resolve them.
    Review {
        #[command(subcommand)]
        action: ReviewAction,
    },
    /// Time entered after the fact (a broken kiosk, a paper sign-in sheet): credited like any
    /// other session; prints the ids of the events recorded.
    Session {
        #[command(subcommand)]
        action: SessionAction,
    },
}

#[derive(Subcommand, Debug)]
enum SessionAction {
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

#[derive(Subcommand, Debug)]
enum SchoolAction {
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        timezone: String,
    },
}

#[derive(Subcommand, Debug)]
enum ProgramAction {
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

#[derive(Subcommand, Debug)]
enum KioskAction {
    /// Registers a kiosk; prints its id, and its token alone on the last line.
    Add {
        #[arg(long)]
        school: String,
        #[arg(long)]
        name: String,
        /// The kiosk this one replaces (stolen, broken, token lost): its token is revoked, and
        /// this one may deliver what the old one recorded and never sent (run `kiosk setup
        /// --token NEW` on the old kiosk's data folder).
        #[arg(long)]
        replaces: Option<String>,
    },
    Revoke {
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum MentorAction {
    /// Imports or updates mentors from CSV with header id,name,school,language (optional
    /// columns teacher,classroom place them).
    Import {
        file: PathBuf,
        /// Also reactivate mentors the file names who were deactivated (without it, a
        /// re-import never quietly gives a deactivated mentor her badge back).
        #[arg(long)]
        reactivate: bool,
    },
    Deactivate {
        id: String,
    },
    /// Places a mentor with a teacher and classroom (shown on her kiosk confirmation, and in
    /// the hours report). `--clear` removes the placement.
    #[command(group(clap::ArgGroup::new("place").required(true).multiple(true)
        .args(["teacher", "classroom", "clear"])))]
    Place {
        id: String,
        #[arg(long)]
        teacher: Option<String>,
        #[arg(long)]
        classroom: Option<String>,
        #[arg(long, conflicts_with_all = ["teacher", "classroom"])]
        clear: bool,
    },
    /// Moves a mentor to another school from a date on (default: today at the new school).
    /// What she did before that date was earned at her old school and still counts.
    Move {
        id: String,
        #[arg(long)]
        school: String,
        /// The first school-local day at the new school (YYYY-MM-DD), today at the latest.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand, Debug)]
enum ClearanceAction {
    /// Records a mentor's clearance of a kind, good through a date (a newer record of the same
    /// kind replaces it; the old one stays in the history).
    Set {
        mentor: String,
        /// background-check, tb-test, initial-training, or the program's own kind.
        #[arg(long)]
        kind: String,
        /// The last day it is good (YYYY-MM-DD).
        #[arg(long)]
        expires: chrono::NaiveDate,
    },
    /// Records clearances from CSV with header mentor_id,kind,expires (all or none).
    Import { file: PathBuf },
    /// Every mentor's current clearances with their status (expired, expiring within 30 days,
    /// current). CSV header: mentor_id,mentor_name,school_id,kind,expires,status.
    List {
        #[arg(long)]
        school: Option<String>,
        /// Only expired and expiring ones.
        #[arg(long)]
        attention: bool,
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
    },
}

#[derive(Subcommand, Debug)]
enum OrganizerAction {
    /// Prints a token alone on the last line.
    Add {
        #[arg(long)]
        name: String,
        /// Comma-separated school ids she may see.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        school: Option<String>,
        /// Every school.
        #[arg(long)]
        all: bool,
    },
    Revoke {
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum CoordinatorAction {
    Add {
        #[arg(long)]
        school: String,
        #[arg(long)]
        name: String,
        /// 8 to 12 digits, not one digit repeated nor a run like 12345678; stored only as a
        /// salted Argon2id hash. `-` reads it from standard input (keeps it out of the shell's
        /// history).
        #[arg(long)]
        pin: String,
    },
    /// A new PIN for a coordinator (clears "weak" and "exposed").
    SetPin {
        #[arg(long)]
        school: String,
        #[arg(long)]
        name: String,
        /// 8 to 12 digits, not trivial, or `-` to read it from standard input.
        #[arg(long)]
        pin: String,
    },
    /// Every coordinator and the state of her PIN (TSV: school, name, ok | weak | exposed).
    List,
    /// A coordinator leaves: her PIN stops working at the next roster pull.
    Remove {
        #[arg(long)]
        school: String,
        #[arg(long)]
        name: String,
    },
}

/// A secret given on the command line, or `-` to read it from standard input (one line).
fn secret(arg: &str) -> anyhow::Result<String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

#[derive(Subcommand, Debug)]
enum StipendAction {
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
enum ReviewAction {
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
enum ReportAction {
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

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.as_deref().map(read_config).transpose()?;
    if let Command::Migrate { from, to } = &cli.command {
        let counts = sync_server::migrate::sqlite_to_postgres(from, to, Utc::now())?;
        for (table, rows) in &counts {
            println!("{table}\t{rows}");
        }
        println!(
            "copied {} tables from {} to {}; row counts, hours report, review list and program report verified equal",
            counts.len(),
            from.display(),
            sync_server::db::redacted_url(to)
        );
        return Ok(());
    }
    let db_spec = cli
        .db
        .clone()
        .or_else(|| config.as_ref().map(|c| c.db.clone()))
        .unwrap_or_else(|| "server.db".to_owned());
    let postgres = sync_server::db::is_postgres_url(&db_spec);
    let mut db = Db::open_spec(&db_spec)
        .with_context(|| format!("opening {}", sync_server::db::redacted_url(&db_spec)))?;
    let config = config.unwrap_or_default();
    let json_logs = cli.log_format == "json";
    match cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            rate_limit,
            rate_burst,
            backup_dir,
            backup_every,
            keep,
            metrics_token,
            trusted_proxies,
            max_connections,
            max_connections_per_address,
        } => {
            if !(rate_limit > 0.0 && rate_burst >= 1.0) {
                bail!("--rate-limit must be above 0 and --rate-burst at least 1");
            }
            let listen = listen
                .or(config.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
            let tls_cert = tls_cert.or(config.tls_cert);
            let tls_key = tls_key.or(config.tls_key);
            let backup_every = backup_every.or(config.backup_every);
            let backups = match backup_dir.or(config.backup_dir) {
                Some(_) if postgres => bail!(
                    "scheduled backups are for a SQLite database; back up PostgreSQL with its own tools (pg_dump, pg_restore, or continuous archiving): see the README's \"Scaling out\""
                ),
                Some(dir) => Some(sync_server::backups::BackupPlan {
                    dir,
                    every: sync_server::backups::parse_interval(
                        backup_every.as_deref().unwrap_or("6h"),
                    )?,
                    keep: keep.or(config.keep).unwrap_or(28).max(1),
                }),
                None if backup_every.is_some() => {
                    bail!("--backup-every needs --backup-dir (or backup_dir in the config)")
                }
                None => None,
            };
            let limits = http::Limits {
                per_second: rate_limit,
                burst: rate_burst,
                metrics_token: metrics_token.or(config.metrics_token),
                metrics_open: listen.ip().is_loopback(),
                trusted_proxies: if trusted_proxies.is_empty() {
                    config.trusted_proxies
                } else {
                    trusted_proxies
                },
                backups,
                ..http::Limits::default()
            };
            let limits = http::Limits {
                max_connections: max_connections
                    .or(config.max_connections)
                    .unwrap_or(limits.max_connections)
                    .max(1),
                max_connections_per_address: max_connections_per_address
                    .or(config.max_connections_per_address)
                    .unwrap_or(limits.max_connections_per_address)
                    .max(1),
                ..limits
            };
            let announce = move |url: String| {
                if json_logs {
                    tracing::info!(%url, "serving");
                } else {
                    // One write, so whoever watches the log never reads half the line.
                    let line = format!("serving on {url}\n");
                    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
                }
            };
            let backend: http::Backend = if postgres {
                // Requests run side by side, each on its own connection (the one opened, and so
                // migrated, above is the pool's first).
                let size = std::env::var("PM_DATABASE_POOL")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(16);
                sync_server::db::PgPool::starting_with(db, &db_spec, size)?.into()
            } else {
                db.into()
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => runtime.block_on(http::serve_tls(
                    backend,
                    listen,
                    (&cert, &key),
                    limits,
                    move |bound| announce(format!("https://{bound}")),
                    shutdown,
                ))?,
                (Some(_), None) | (None, Some(_)) => {
                    bail!("give both a TLS certificate and its key, or neither")
                }
                _ => {
                    if !is_loopback(&listen) {
                        bail!("plain HTTP is served only on a loopback address: give --tls-cert and --tls-key, or put a TLS reverse proxy in front and listen on 127.0.0.1");
                    }
                    runtime.block_on(async move {
                        let listener = tokio::net::TcpListener::bind(listen).await?;
                        announce(format!("http://{}", listener.local_addr()?));
                        http::serve_with(backend, listener, limits, shutdown).await
                    })?;
                }
            }
        }
        Command::School {
            action: SchoolAction::Add { id, name, timezone },
        } => {
            db.add_school(&SchoolId::new(id)?, &name, TimeZone::new(&timezone)?)?;
        }
        Command::Program {
            action:
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
                },
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
                &mut db,
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
        Command::Program {
            action: ProgramAction::Show { format },
        } => {
            let lines = sync_server::rules_over_time::show(&db, Utc::now())?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&lines)?);
            } else {
                print!("{}", sync_server::rules_over_time::show_text(&lines));
            }
        }
        Command::Kiosk {
            action:
                KioskAction::Add {
                    school,
                    name,
                    replaces,
                },
        } => {
            let replaces = replaces.map(KioskId::new).transpose()?;
            let school = SchoolId::new(school)?;
            let (id, token) = db.add_replacing_kiosk(&school, &name, replaces.as_ref())?;
            if replaces.is_some() {
                let exposed: Vec<String> = db
                    .coordinator_statuses(Some(std::slice::from_ref(&school)))?
                    .into_iter()
                    .filter(|c| c.exposed_at.is_some())
                    .map(|c| c.name)
                    .collect();
                let days = db
                    .rules()?
                    .exposed_pin_grace_days
                    .unwrap_or(pm_shared::DEFAULT_EXPOSED_PIN_GRACE_DAYS);
                if !exposed.is_empty() {
                    eprintln!(
                        "warning: the lost kiosk held the PIN hashes of {}: set a new PIN for each (coordinator set-pin); kiosks refuse the old ones after {days} days",
                        exposed.join(", ")
                    );
                }
            }
            println!("kiosk {id} added; its token (shown once, stored only hashed):");
            println!("{token}");
        }
        Command::Kiosk {
            action: KioskAction::Revoke { id },
        } => db.revoke_kiosk(&KioskId::new(id)?)?,
        Command::Mentor {
            action: MentorAction::Import { file, reactivate },
        } => {
            let file = import::read_mentor_file(&db, &file)?;
            db.import_mentors(&file.mentors, Some(&file), Utc::now(), reactivate)?;
            println!("imported {} mentors", file.mentors.len());
        }
        Command::Mentor {
            action: MentorAction::Deactivate { id },
        } => db.set_mentor_active(&MentorId::new(id)?, false)?,
        Command::Mentor {
            action:
                MentorAction::Place {
                    id,
                    teacher,
                    classroom,
                    clear,
                },
        } => {
            let id = MentorId::new(id)?;
            let placement = if clear {
                pm_shared::Placement::default()
            } else {
                // A part not given stays as it was.
                let now = db.placements(None)?.remove(&id).unwrap_or_default();
                pm_shared::Placement::new(
                    teacher.as_deref().or(now.teacher.as_deref()),
                    classroom.as_deref().or(now.classroom.as_deref()),
                )?
            };
            db.set_placement(&id, &placement)?;
            println!(
                "{id}: {}",
                sync_server::placements::placement_text(&placement)
                    .unwrap_or_else(|| "not placed".into())
            );
        }
        Command::Clearance {
            action:
                ClearanceAction::Set {
                    mentor,
                    kind,
                    expires,
                },
        } => {
            let clearance = pm_shared::Clearance {
                kind: pm_shared::ClearanceKind::new(&kind)?,
                expires,
            };
            let mentor = MentorId::new(mentor)?;
            db.add_clearances(&[(mentor.clone(), clearance.clone())], Utc::now())?;
            println!("{mentor}: {} good through {expires}", clearance.kind);
        }
        Command::Clearance {
            action: ClearanceAction::Import { file },
        } => {
            let list = import::read_clearances(&db, &file)?;
            db.add_clearances(&list, Utc::now())?;
            println!("recorded {} clearances", list.len());
        }
        Command::Clearance {
            action:
                ClearanceAction::List {
                    school,
                    attention,
                    format,
                },
        } => {
            let schools = school.map(SchoolId::new).transpose()?.map(|s| vec![s]);
            let rows = sync_server::placements::clearance_list(
                &db,
                schools.as_deref(),
                attention,
                Utc::now(),
            )?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", sync_server::placements::clearances_csv(&rows)?);
            }
        }
        Command::Mentor {
            action: MentorAction::Move { id, school, from },
        } => {
            let school = SchoolId::new(school)?;
            let now = Utc::now();
            let today = now
                .with_timezone(&db.school(&school)?.time_zone.tz())
                .date_naive();
            let from = from.unwrap_or(today);
            db.move_mentor(&MentorId::new(id)?, &school, from, today, now)?;
            println!("moved; from {from} her hours count at {school}");
        }
        Command::Badges {
            out,
            mentor,
            reissue,
        } => {
            let now = Utc::now();
            let only = mentor.map(MentorId::new).transpose()?;
            let mut printed = Vec::new();
            for m in db.mentors(None)? {
                if !m.active || only.as_ref().is_some_and(|o| o != &m.id) {
                    continue;
                }
                let text = match db.current_badge(&m.id)? {
                    Some((_, text, _)) if !reissue => text,
                    _ => db.issue_badge(&m.id, now)?,
                };
                badges::write_files(&out, m.id.as_str(), &text)?;
                let school = db.school(&m.school)?.name;
                printed.push((m.id.to_string(), m.name, school));
            }
            if only.is_some() && printed.is_empty() {
                bail!("no active mentor with that id");
            }
            let sheet: Vec<badges::SheetBadge<'_>> = printed
                .iter()
                .map(|(mentor, name, school)| badges::SheetBadge {
                    mentor,
                    name,
                    school,
                })
                .collect();
            let sheet_path = out.join("badges.html");
            badges::private_dir(&out)?;
            badges::write_private(&sheet_path, badges::sheet_html(&sheet).as_bytes())?;
            println!(
                "wrote {} badges to {} (printable sheet: {})",
                printed.len(),
                out.display(),
                sheet_path.display()
            );
        }
        Command::Organizer {
            action: OrganizerAction::Add { name, school, all },
        } => {
            let schools: Option<Vec<SchoolId>> = if all {
                None
            } else {
                Some(
                    school
                        .unwrap_or_default()
                        .split(',')
                        .map(|s| SchoolId::new(s.trim()))
                        .collect::<Result<_, _>>()?,
                )
            };
            let token = db.add_organizer(&name, schools.as_deref())?;
            println!("organizer {name:?} added; her token (shown once, stored only hashed):");
            println!("{token}");
        }
        Command::Organizer {
            action: OrganizerAction::Revoke { name },
        } => db.revoke_organizer(&name)?,
        Command::Coordinator {
            action: CoordinatorAction::Add { school, name, pin },
        } => {
            let pin = secret(&pin)?;
            pm_shared::check_new_pin(&pin)?;
            let salt: [u8; 16] = rand::random();
            let hash = pm_shared::hash_pin(&pin, &salt)?;
            db.add_coordinator(&SchoolId::new(school)?, &name, &hash, Utc::now())?;
            println!("coordinator {name:?} can unlock coordinator mode after the kiosks' next roster sync");
        }
        Command::Coordinator {
            action: CoordinatorAction::SetPin { school, name, pin },
        } => {
            let pin = secret(&pin)?;
            pm_shared::check_new_pin(&pin)?;
            let salt: [u8; 16] = rand::random();
            let hash = pm_shared::hash_pin(&pin, &salt)?;
            db.set_coordinator_pin(&SchoolId::new(school)?, &name, &hash)?;
            println!("{name:?}'s new PIN works after the kiosks' next roster sync");
        }
        Command::Coordinator {
            action: CoordinatorAction::List,
        } => {
            let cutoff = sync_server::db::exposed_cutoff(&db.rules()?, Utc::now());
            for c in db.coordinator_statuses(None)? {
                let state = match (&c.exposed_at, c.weak) {
                    (Some(at), _) if at.as_str() <= sync_server::db::ts(cutoff).as_str() => {
                        format!("exposed {at}: refused by the kiosks, set a new PIN")
                    }
                    (Some(at), _) => format!("exposed {at}: set a new PIN"),
                    (None, true) => "weak (set before 8 digits): set a new PIN".to_owned(),
                    (None, false) => "ok".to_owned(),
                };
                println!("{}\t{}\t{state}", c.school_id, c.name);
            }
        }
        Command::Coordinator {
            action: CoordinatorAction::Remove { school, name },
        } => {
            db.remove_coordinator(&SchoolId::new(school)?, &name, Utc::now())?;
            println!("{name:?} removed: her PIN stops working at the kiosks' next roster sync");
        }
        Command::Stipend {
            action:
                StipendAction::Paid {
                    mentor,
                    period,
                    amount,
                    reference,
                    on,
                    additional,
                    not_eligible,
                },
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
            let id = payments::record(&mut db, &payment, "command line", None, Utc::now())?;
            println!("payment {id} recorded");
        }
        Command::Stipend {
            action:
                StipendAction::Void {
                    payment_id,
                    reason,
                    by,
                },
        } => {
            payments::void(&mut db, payment_id, &by, &reason, None, Utc::now())?;
            println!("payment {payment_id} voided");
        }
        Command::Stipend {
            action: StipendAction::List,
        } => {
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
        Command::Review {
            action:
                ReviewAction::List {
                    school,
                    period,
                    format,
                },
        } => {
            let schools = school.map(SchoolId::new).transpose()?.map(|s| vec![s]);
            let items = review::list(&mut db, schools.as_deref(), period.as_deref(), Utc::now())?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else {
                print!("{}", review::to_csv(&items)?);
            }
        }
        Command::Review {
            action:
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
                },
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
            let done = review::resolve(&mut db, &item, &resolution, by, Utc::now())?;
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
        Command::Session { action } => {
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
                    (sync_server::sessions::read_sheet(&db, &file)?, by, reason)
                }
            };
            let events =
                sync_server::sessions::enter(&mut db, &sessions, &by, &reason, None, Utc::now())?;
            for e in &events {
                println!("{}", e.id);
            }
        }
        Command::Migrate { .. } => bail!("migrate names its own databases (--from, --to)"),
        Command::Backup { out } => {
            db.backup_to(&out)?;
            println!("backup written to {}", out.display());
        }
        Command::Restore { from } => {
            db.restore_from(&from)?;
            println!("restored from {}", from.display());
        }
        Command::Report {
            action:
                ReportAction::Program {
                    period,
                    from,
                    to,
                    school,
                    format,
                    out,
                },
        } => {
            let schools = school.map(SchoolId::new).transpose()?.map(|s| vec![s]);
            let span = program::Span::parse(
                &db.rules()?,
                period.as_deref(),
                from.as_deref(),
                to.as_deref(),
                program::today(&db, schools.as_deref(), Utc::now())?,
            )?;
            let rows = program::report(&mut db, schools.as_deref(), span, Utc::now())?;
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
        Command::Report {
            action:
                ReportAction::Hours {
                    format,
                    school,
                    period,
                },
        } => {
            let schools = school.map(SchoolId::new).transpose()?.map(|s| vec![s]);
            let rows = report::hours(&mut db, schools.as_deref(), period.as_deref(), Utc::now())?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", report::to_csv(&rows)?);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    if cli.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
