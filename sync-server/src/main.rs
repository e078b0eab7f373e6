//! The sync server binary: admin commands and `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Parser, Subcommand};
use pm_shared::MentorId;
use sync_server::db::Db;
use sync_server::{badges, http};

mod cli;

use cli::decisions::{ReviewAction, SessionAction, StipendAction};
use cli::people::{
    ClearanceAction, CoordinatorAction, KioskAction, MentorAction, OrganizerAction, SchoolAction,
};
use cli::reports::ReportAction;
use cli::rules::ProgramAction;

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
                    "scheduled backups are for a SQLite database; back up PostgreSQL with its own tools (pg_dump, pg_restore, or continuous archiving): see docs/install.md, \"Scaling out\""
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
        Command::School { action } => cli::people::school(&mut db, action)?,
        Command::Program { action } => cli::rules::program(&mut db, action)?,
        Command::Kiosk { action } => cli::people::kiosk(&mut db, action)?,
        Command::Mentor { action } => cli::people::mentor(&mut db, action)?,
        Command::Clearance { action } => cli::people::clearance(&mut db, action)?,
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
        Command::Organizer { action } => cli::people::organizer(&mut db, action)?,
        Command::Coordinator { action } => cli::people::coordinator(&mut db, action)?,
        Command::Stipend { action } => cli::decisions::stipend(&mut db, action)?,
        Command::Review { action } => cli::decisions::review(&mut db, action)?,
        Command::Session { action } => cli::decisions::session(&mut db, action)?,
        Command::Migrate { .. } => bail!("migrate names its own databases (--from, --to)"),
        Command::Backup { out } => {
            db.backup_to(&out)?;
            println!("backup written to {}", out.display());
        }
        Command::Restore { from } => {
            db.restore_from(&from)?;
            println!("restored from {}", from.display());
        }
        Command::Report { action } => cli::reports::report(&mut db, action)?,
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
