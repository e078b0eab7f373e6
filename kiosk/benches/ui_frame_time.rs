//! Does the UI stay smooth while the camera runs and scans commit? The real desk, scanner,
//! decoder, engine and SQLite file behind a 1280×800 window drawn by the software renderer
//! (the kiosk's default), with the demo's frames played at 30 fps, looping, so badges are read
//! and check-ins and check-outs committed all along. Each UI frame applies what the other
//! threads posted, runs timers and animations, and redraws; its time is what the screen waits.
//! Passes: camera off (the idle baseline); camera on an empty room (the live preview redrawn
//! about 15 times a second); the demo loop (badges read, scans committed, confirmations shown).
//!
//! Run: `cargo bench -p kiosk --bench ui_frame_time` (`PM_BENCH_SECONDS`, default 20 per pass).

use std::rc::Rc;
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kiosk::app::{
    drain, forward_sightings, preview_feed, spawn_desk, wire, Clock, DeskSettings, SyncMode,
    UiPoster,
};
use kiosk::capture::{RecordedFrames, Scanner};
use kiosk::ui::MainWindow;
use slint::platform::software_renderer::{
    MinimalSoftwareWindow, PremultipliedRgbaColor, RepaintBufferType,
};
use slint::platform::{Platform, WindowAdapter};
use slint::ComponentHandle;

const W: u32 = 1280;
const H: u32 = 800;
/// A 60 Hz display: a frame's work must fit in this to be on time.
const FRAME_BUDGET: Duration = Duration::from_micros(16_667);

struct Headless(Rc<MinimalSoftwareWindow>);

impl Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.0.clone())
    }
}

struct Pass {
    frames: Vec<Duration>,
    /// The frames that drew something (the rest only checked for work).
    redraws: Vec<Duration>,
    jobs: usize,
    scans: u64,
    camera_frames: u64,
    decoded: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// One pass: `camera` is the frames the simulated camera loops at 30 fps (none: camera off).
fn run(
    window: &Rc<MinimalSoftwareWindow>,
    ui: &MainWindow,
    camera: Option<Vec<image::GrayImage>>,
    seconds: u64,
) -> Pass {
    let dir = tempfile::tempdir().expect("dir");
    let zone = kiosk::system_time_zone();
    let engine = kiosk::demo::engine(dir.path(), zone, Utc::now()).expect("demo engine");
    let (requests, inbox) = channel();
    let (post, jobs) = channel();
    let poster = UiPoster::Channel(post);
    let clock: Clock = Arc::new(Utc::now);
    let scanner = camera.map(|frames| {
        Scanner::start_with_preview(
            move || Box::new(RecordedFrames::new(frames, 30.0, true)),
            forward_sightings(requests.clone()),
            preview_feed(poster.clone()),
        )
    });
    let desk = spawn_desk(
        engine,
        inbox,
        poster,
        clock,
        DeskSettings {
            sync: SyncMode::Demo,
            watch_clock: false,
            camera: scanner.as_ref().map(|s| s.stats.clone()),
        },
    );
    let tick = wire(ui, &requests);

    let mut buffer = vec![PremultipliedRgbaColor::default(); (W * H) as usize];
    let mut pass = Pass {
        frames: Vec::new(),
        redraws: Vec::new(),
        jobs: 0,
        scans: 0,
        camera_frames: 0,
        decoded: 0,
    };
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut next = Instant::now();
    while Instant::now() < end {
        let start = Instant::now();
        pass.jobs += drain(ui, &jobs);
        slint::platform::update_timers_and_animations();
        let drew = window.draw_if_needed(|renderer| {
            renderer.render(&mut buffer, W as usize);
        });
        let took = start.elapsed();
        pass.frames.push(took);
        if drew {
            pass.redraws.push(took);
        }
        next += FRAME_BUDGET;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        } else {
            next = Instant::now();
        }
    }
    if let Some(s) = &scanner {
        pass.camera_frames = s.stats.frames.load(std::sync::atomic::Ordering::Relaxed);
        pass.decoded = s.stats.decoded.load(std::sync::atomic::Ordering::Relaxed);
    }
    drop(scanner);
    drop(tick);
    let _ = requests.send(kiosk::app::Request::Shutdown);
    let _ = desk.join();
    let db = rusqlite::Connection::open(kiosk::db_path(dir.path())).expect("db");
    pass.scans = db
        .query_row("SELECT COUNT(*) FROM events WHERE is_scan = 1", [], |r| {
            r.get(0)
        })
        .expect("count");
    pass
}

fn report(name: &str, mut pass: Pass, seconds: u64) {
    pass.frames.sort();
    pass.redraws.sort();
    let late = pass.frames.iter().filter(|d| **d > FRAME_BUDGET).count();
    println!(
        "{name}: {} UI frames in {seconds} s, {} jobs from other threads; \
         frame work p50 {} p95 {} p99 {} max {}; over 16.7 ms: {late}",
        pass.frames.len(),
        pass.jobs,
        ms(percentile(&pass.frames, 0.50)),
        ms(percentile(&pass.frames, 0.95)),
        ms(percentile(&pass.frames, 0.99)),
        ms(pass.frames.last().copied().unwrap_or_default()),
    );
    println!(
        "  {} frames redrawn (full 1280x800 software render): p50 {} p95 {} max {}",
        pass.redraws.len(),
        ms(percentile(&pass.redraws, 0.50)),
        ms(percentile(&pass.redraws, 0.95)),
        ms(pass.redraws.last().copied().unwrap_or_default()),
    );
    if pass.camera_frames > 0 {
        println!(
            "  camera: {} frames captured ({:.1}/s), {} with a code decoded; {} badge scans committed",
            pass.camera_frames,
            pass.camera_frames as f64 / seconds as f64,
            pass.decoded,
            pass.scans
        );
    }
}

fn main() {
    let seconds: u64 = std::env::var("PM_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    slint::platform::set_platform(Box::new(Headless(window.clone()))).expect("platform");
    window.set_size(slint::PhysicalSize::new(W, H));
    let ui = MainWindow::new().expect("ui");
    ui.show().expect("show");
    let demo = kiosk::demo::frames().expect("demo frames");
    let empty_room = vec![demo[0].clone()];
    let idle = run(&window, &ui, None, seconds);
    report("camera off", idle, seconds);
    let preview = run(&window, &ui, Some(empty_room), seconds);
    report(
        "camera at 30 fps, nobody there (live preview)",
        preview,
        seconds,
    );
    let busy = run(&window, &ui, Some(demo), seconds);
    report(
        "camera at 30 fps, demo badges, scans committing",
        busy,
        seconds,
    );
}
