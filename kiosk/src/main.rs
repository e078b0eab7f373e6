//! The kiosk binary: with no command, the touchscreen UI (`--demo` for a self-contained demo);
//! otherwise headless commands for operations and tests.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Parser, Subcommand};
use kiosk::app::{
    forward_sightings, preview_feed, spawn_desk, wire, Clock, DeskSettings, Request, SyncMode,
    UiPoster,
};
use kiosk::capture::Scanner;
use kiosk::config::Config;
use kiosk::engine::Engine;
use kiosk::sync::SyncClient;
use kiosk::sync::WorkerSettings;
use kiosk::ui::MainWindow;
use kiosk::{decode, open_store, replay, system_time_zone, today};
use slint::ComponentHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Parent Mentor kiosk: mentors check in and out by holding their QR badge to the camera.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Folder holding the kiosk's database and configuration.
    #[arg(long, global = true, default_value = "kiosk-data")]
    data: PathBuf,
    /// Run the UI as a demo: demo school, roster and coordinator PIN, and a simulated camera
    /// showing demo badges. Needs no camera, server or setup; keeps nothing.
    #[arg(long)]
    demo: bool,
    /// Which camera the UI uses: its index (see `kiosk cameras`) or part of its name.
    #[arg(long, default_value = "0")]
    camera: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Stores the server URL and this kiosk's token (from `sync-server kiosk add`).
    Setup {
        #[arg(long)]
        server: String,
        /// The kiosk's token, or `-` to read it from standard input (keeps it out of the
        /// shell's history).
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
    /// Each mentor's hours this period as this kiosk shows them (`mentor<TAB>name<TAB>hours`,
    /// two decimals): the roster's merged total plus what it does not reflect yet.
    Hours,
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

/// The touchscreen UI: desk thread, scanner threads, sync worker, and the window on this one.
fn run_ui(cli: &Cli) -> anyhow::Result<()> {
    let clock: Clock = Arc::new(Utc::now);
    let (requests, inbox) = std::sync::mpsc::channel::<Request>();
    let window = MainWindow::new().context("cannot open the kiosk window")?;
    let poster = UiPoster::EventLoop(window.as_weak());
    let stop = Arc::new(AtomicBool::new(false));
    // The demo keeps nothing: its data lives in a temporary folder removed at exit.
    let demo_dir = std::env::temp_dir().join(format!("pm-kiosk-demo-{}", std::process::id()));
    let (engine, scanner, worker, sync) = if cli.demo {
        let dir = &demo_dir;
        let engine = kiosk::demo::engine(dir, system_time_zone(), Utc::now())?;
        let frames = kiosk::demo::camera()?;
        let scanner = Scanner::start_with_preview(
            move || Box::new(frames),
            forward_sightings(requests.clone()),
            preview_feed(poster.clone()),
        );
        println!(
            "demo kiosk: data in {} (deleted at exit); coordinator PIN {}",
            dir.display(),
            kiosk::demo::DEMO_PIN
        );
        (engine, scanner, None, SyncMode::Demo)
    } else {
        let config = Config::load(&cli.data)?.context(
            "this kiosk is not set up: run `kiosk --data DIR setup --server URL --token TOKEN`, or try `kiosk --demo`",
        )?;
        let engine = engine(&cli.data)?;
        let scanner = start_camera(&cli.camera, &requests, &poster)?;
        let worker = kiosk::sync::spawn_worker(
            config,
            kiosk::db_path(&cli.data),
            WorkerSettings::default(),
            stop.clone(),
        );
        (engine, scanner, Some(worker), SyncMode::Server)
    };
    let desk = spawn_desk(
        engine,
        inbox,
        poster,
        clock,
        DeskSettings {
            sync,
            watch_clock: sync == SyncMode::Server,
            camera: Some(scanner.stats.clone()),
        },
    );
    let _tick = wire(&window, &requests);
    // Under systemd (pm-kiosk.service): ready, and the watchdog fed through the UI thread.
    kiosk::watchdog::spawn(UiPoster::EventLoop(window.as_weak()), stop.clone());
    // A kiosk fills its screen; the demo is a window among others.
    window.set_fills_screen(!cli.demo);
    window.window().set_fullscreen(!cli.demo);
    window.run().context("the kiosk window failed")?;

    stop.store(true, Ordering::Relaxed);
    drop(scanner);
    let _ = requests.send(Request::Shutdown);
    let _ = desk.join();
    if let Some(worker) = worker {
        let _ = worker.join();
    }
    if cli.demo {
        let _ = std::fs::remove_dir_all(&demo_dir);
    }
    Ok(())
}

#[cfg(feature = "camera")]
fn start_camera(
    choice: &str,
    requests: &std::sync::mpsc::Sender<Request>,
    poster: &UiPoster,
) -> anyhow::Result<Scanner> {
    use kiosk::capture::{CameraChoice, Webcam};
    let choice = match choice.parse::<u32>() {
        Ok(index) => CameraChoice::Index(index),
        Err(_) => CameraChoice::Name(choice.to_owned()),
    };
    Ok(Scanner::start_with_preview(
        move || Box::new(Webcam::new(choice)),
        forward_sightings(requests.clone()),
        preview_feed(poster.clone()),
    ))
}

#[cfg(not(feature = "camera"))]
fn start_camera(
    _choice: &str,
    _requests: &std::sync::mpsc::Sender<Request>,
    _poster: &UiPoster,
) -> anyhow::Result<Scanner> {
    bail!("this kiosk was built without camera support (feature `camera`); try `kiosk --demo`")
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        return run_ui(&cli);
    };
    match command {
        Command::Setup { server, token } => {
            let token = if token == "-" {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim().to_owned()
            } else {
                token
            };
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
        Command::Hours => {
            let engine = engine(&cli.data)?;
            let now = Utc::now();
            println!("mentor\tname\thours");
            for m in engine
                .roster()
                .map(|r| r.mentors.clone())
                .unwrap_or_default()
            {
                let time = engine.period_time(&m.id, now)?;
                println!("{}\t{}\t{:.2}", m.id, m.name, pm_shared::hours_2dp(time));
            }
        }
        Command::Today => {
            let engine = engine(&cli.data)?;
            let now = Utc::now();
            print!(
                "{}{}",
                today::render(&engine.today(now)?, engine.roster(), now),
                today::render_clearances(&engine.clearances_to_renew(now))
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
