//! What the UI tests share: a school, its roster and badges, a seeded kiosk database, and a
//! desk thread wired to a window with a hand on the clock.
#![allow(dead_code)]

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use kiosk::app::{
    drain, spawn_desk, wire, Clock, DeskSettings, Request, SyncMode, UiJob, UiPoster,
};
use kiosk::capture::ScannerStats;
use kiosk::engine::Engine;
use kiosk::store::NewEvent;
use kiosk::ui::MainWindow;
use pm_shared::{
    badge_hash, badge_text, hash_pin, BadgeGeneration, Coordinator, EventId, EventKind, KioskId,
    Language, MentorId, ProgramRules, Roster, RosterMentor, School, SchoolId, Source, TimeZone,
};

pub const PIN: &str = "246810";

pub fn zone() -> TimeZone {
    TimeZone::new("America/Chicago").expect("tz")
}

pub fn local(date: (i32, u32, u32), h: u32, m: u32) -> DateTime<Utc> {
    zone()
        .tz()
        .from_local_datetime(
            &NaiveDate::from_ymd_opt(date.0, date.1, date.2)
                .and_then(|d| d.and_hms_opt(h, m, 0))
                .expect("date"),
        )
        .single()
        .expect("local time")
        .with_timezone(&Utc)
}

pub const TODAY: (i32, u32, u32) = (2026, 11, 24);
pub const YESTERDAY: (i32, u32, u32) = (2026, 11, 23);

pub fn badge(mentor: &str) -> String {
    let secret = [mentor.as_bytes()[mentor.len() - 1]; 10];
    badge_text(&MentorId::new(mentor).expect("id"), 1, &secret).expect("badge")
}

pub fn roster() -> Roster {
    let mentor = |id: &str, name: &str, language: Language| RosterMentor {
        id: MentorId::new(id).expect("id"),
        name: name.into(),
        language,
        badge: Some(BadgeGeneration {
            generation: 1,
            hash: badge_hash(&badge(id)),
        }),
        period_time_ms: 60 * 3_600_000,
        placement: None,
        clearances: Vec::new(),
    };
    Roster {
        version: "v1".into(),
        school: School {
            id: SchoolId::new("lincoln").expect("school"),
            name: "Lincoln Elementary".into(),
            time_zone: zone(),
        },
        rules: ProgramRules::default(),
        current_period: ProgramRules::default()
            .periods
            .period_of(NaiveDate::from_ymd_opt(2026, 11, 24).expect("d"))
            .name,
        mentors: vec![
            mentor("M-1", "María López", Language::spanish()),
            mentor("M-2", "Ann Lee", Language::english()),
            mentor("M-3", "Rosa Díaz", Language::spanish()),
        ],
        revoked: vec![],
        coordinators: vec![Coordinator {
            name: "Ms. Rivera".into(),
            pin_hash: hash_pin(PIN, &[5; 16]).expect("pin"),
            change_salt: Some("09".repeat(16)),
        }],
        open_check_ins: vec![],
        recent: vec![],
        review: vec![],
        voided: vec![],
    }
}

/// Rosa's check-in from yesterday, never checked out.
pub fn rosas_check_in() -> EventId {
    EventId::from_parts(1, [1; 10])
}

/// A kiosk database with the roster pulled at 9:00 and Rosa's forgotten check-out.
pub fn seeded_engine(dir: &std::path::Path) -> Engine {
    let now = local(TODAY, 9, 0);
    let mut store = kiosk::open_store(dir, now).expect("store");
    store.save_roster(&roster(), now).expect("roster");
    store
        .append(NewEvent {
            id: rosas_check_in(),
            kiosk: KioskId::new("k1").expect("kiosk"),
            mentor: MentorId::new("M-3").expect("id"),
            at: local(YESTERDAY, 8, 5),
            time_zone: zone(),
            kind: EventKind::CheckIn,
            source: Source::BadgeScan {
                generation: 1,
                provisional: false,
                badge_hash: badge_hash(&badge("M-3")),
                proof: None,
            },
        })
        .expect("seed");
    Engine::new(store, KioskId::new("k1").expect("kiosk"), zone()).expect("engine")
}

/// The desk thread behind `ui`, posting through a channel the test drains.
pub struct Wired {
    pub jobs: Receiver<UiJob>,
    pub requests: Sender<Request>,
    pub clock: Arc<Mutex<DateTime<Utc>>>,
    pub tick: slint::Timer,
    pub desk: std::thread::JoinHandle<()>,
}

pub fn wire_desk(ui: &MainWindow, engine: Engine, camera: Option<Arc<ScannerStats>>) -> Wired {
    let clock = Arc::new(Mutex::new(local(TODAY, 9, 0)));
    let hand = clock.clone();
    let read: Clock = Arc::new(move || *hand.lock().expect("clock"));
    let (requests, inbox) = channel();
    let (post, jobs) = channel();
    let desk = spawn_desk(
        engine,
        inbox,
        UiPoster::Channel(post),
        read,
        DeskSettings {
            sync: SyncMode::Server,
            watch_clock: false,
            camera,
        },
    );
    let tick = wire(ui, &requests);
    Wired {
        jobs,
        requests,
        clock,
        tick,
        desk,
    }
}

/// Applies what the desk sent until `done` holds; `settle` lets the UI catch up (timers,
/// conditional elements) without letting time pass.
pub fn wait_for(
    ui: &MainWindow,
    jobs: &Receiver<UiJob>,
    what: &str,
    settle: impl Fn(),
    done: impl Fn(&MainWindow) -> bool,
) {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        drain(ui, jobs);
        settle();
        if done(ui) {
            return;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(StdDuration::from_millis(5));
    }
}
