//! The kiosk binary: headless commands for operations and tests. (The touchscreen UI arrives
//! with its own issue.)

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Parser, Subcommand};
use kiosk::config::Config;
use kiosk::engine::Engine;
use kiosk::sync::SyncClient;
use kiosk::{decode, open_store, replay, system_time_zone, today};

/// Parent Mentor kiosk: mentors check in and out by holding their QR badge to the camera.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Folder holding the kiosk's database and configuration.
    #[arg(long, global = true, default_value = "kiosk-data")]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Stores the server URL and this kiosk's token (from `sync-server kiosk add`).
    Setup {
        #[arg(long)]
        server: String,
        #[arg(long)]
        token: String,
    },
    /// Pushes undelivered events, then pulls the roster.
    Sync {
        /// Once, then exit (0 when both push and pull succeeded).
        #[arg(long)]
        once: bool,
    },
    /// Replays recorded camera frames (CSV `at,image`) through decode and the scan engine.
    Replay { script: PathBuf },
    /// Prints `FILE<TAB>TEXT` for each QR code found in each image (`FILE<TAB>` when none).
    Decode {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Today's attendance, as the coordinator screen shows it.
    Today,
    /// Lists the cameras this machine has (index and name).
    Cameras,
}

fn engine(data: &std::path::Path) -> anyhow::Result<Engine> {
    let config = Config::load(data)?.context(
        "this kiosk is not set up: run `kiosk --data DIR setup --server URL --token TOKEN`",
    )?;
    let store = open_store(data, Utc::now())?;
    Ok(Engine::new(store, config.kiosk_id()?, system_time_zone())?)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Setup { server, token } => {
            let config = Config::new(&server, &token)?;
            config.save(&cli.data)?;
            open_store(&cli.data, Utc::now())?;
            println!(
                "kiosk {} set up in {}",
                config.kiosk_id()?,
                cli.data.display()
            );
        }
        Command::Sync { once } => {
            if !once {
                bail!("only `sync --once` is available from the command line; the UI runs the background worker");
            }
            let config = Config::load(&cli.data)?
                .context("this kiosk is not set up: run `kiosk setup` first")?;
            let mut store = open_store(&cli.data, Utc::now())?;
            let report = SyncClient::new(&config)?.sync_once(&mut store, Utc::now)?;
            println!(
                "sync ok: {} stored, {} already there, {} set aside{}",
                report.stored,
                report.already_stored,
                report.set_aside,
                if report.new_series > 0 {
                    ", new series started"
                } else {
                    ""
                }
            );
        }
        Command::Replay { script } => {
            let rows = replay::read_script(&script)?;
            let mut engine = engine(&cli.data)?;
            let stdout = std::io::stdout();
            replay::run(&mut engine, &rows, &mut stdout.lock())?;
        }
        Command::Decode { files } => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let mut failed = false;
            for file in files {
                match decode::decode_file(&file) {
                    Ok(texts) if texts.is_empty() => writeln!(out, "{}\t", file.display())?,
                    Ok(texts) => {
                        for text in texts {
                            writeln!(out, "{}\t{}", file.display(), text)?;
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                bail!("some images could not be read");
            }
        }
        Command::Cameras => {
            #[cfg(feature = "camera")]
            {
                let cameras = kiosk::capture::list_cameras();
                if cameras.is_empty() {
                    println!("no camera found");
                }
                for (index, name) in cameras {
                    println!("{index}\t{name}");
                }
            }
            #[cfg(not(feature = "camera"))]
            println!("this kiosk was built without camera support (feature `camera`)");
        }
        Command::Today => {
            let engine = engine(&cli.data)?;
            let now = Utc::now();
            print!(
                "{}",
                today::render(&engine.today(now)?, engine.roster(), now)
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
