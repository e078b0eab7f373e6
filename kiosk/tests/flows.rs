//! Every kiosk flow through Slint's testing backend: elements found by accessible label,
//! clicked, their text read, with the real desk thread, engine and SQLite file behind them,
//! and the real scanner and decoder where a badge is shown.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use i_slint_backend_testing::{mock_elapsed_time, ElementHandle};
use image::{GrayImage, Luma};
use kiosk::app::{forward_sightings, Request, UiJob};
use kiosk::capture::{Frame, FrameSource, RecordedFrames, Scanner, ScannerStats, SourceError};
use kiosk::store::Store;
use kiosk::ui::{KioskState, MainWindow, Screen};
use pm_shared::{EventKind, HourCategory, SeriesId, Source};
use qrcode::{EcLevel, QrCode};
use slint::platform::PointerEventButton;
use slint::ComponentHandle;
use slint::Model as _;
use support::*;

/// A kiosk on the testing backend: window, desk thread, engine on a real SQLite file, and a
/// hand on the clock.
struct Rig {
    ui: MainWindow,
    jobs: Receiver<UiJob>,
    requests: Sender<Request>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    dir: tempfile::TempDir,
    _tick: slint::Timer,
    desk: Option<std::thread::JoinHandle<()>>,
}

impl Rig {
    fn new() -> Self {
        Self::with_camera(None)
    }

    fn with_camera(camera: Option<Arc<ScannerStats>>) -> Self {
        Self::with(camera, None)
    }

    /// A kiosk whose roster is `roster` instead of the usual one.
    fn with_roster(roster: pm_shared::Roster) -> Self {
        Self::with(None, Some(roster))
    }

    fn with(camera: Option<Arc<ScannerStats>>, roster: Option<pm_shared::Roster>) -> Self {
        i_slint_backend_testing::init_no_event_loop();
        let dir = tempfile::tempdir().expect("dir");
        let mut engine = seeded_engine(dir.path());
        if let Some(roster) = roster {
            engine
                .store_mut()
                .save_roster(&roster, local(TODAY, 9, 0))
                .expect("roster");
            engine.refresh_roster().expect("refresh");
        }
        let ui = MainWindow::new().expect("window");
        ui.window().set_size(slint::LogicalSize::new(1280.0, 800.0));
        ui.show().expect("show");
        let wired = wire_desk(&ui, engine, camera);
        let rig = Self {
            ui,
            jobs: wired.jobs,
            requests: wired.requests,
            clock: wired.clock,
            dir,
            _tick: wired.tick,
            desk: Some(wired.desk),
        };
        rig.wait_for("the school's name in the header", |ui| {
            ui.global::<KioskState>().get_school_name() == "Lincoln Elementary"
        });
        rig
    }

    fn advance_clock(&self, by: Duration) {
        *self.clock.lock().expect("clock") += by;
    }

    fn wait_for(&self, what: &str, done: impl Fn(&MainWindow) -> bool) {
        wait_for(
            &self.ui,
            &self.jobs,
            what,
            || mock_elapsed_time(StdDuration::ZERO),
            done,
        );
    }

    fn shows(&self, text: &str) -> bool {
        ElementHandle::find_by_accessible_label(&self.ui, text)
            .next()
            .is_some()
    }

    fn wait_text(&self, text: &str) {
        self.wait_for(&format!("{text:?} on screen"), |ui| {
            ElementHandle::find_by_accessible_label(ui, text)
                .next()
                .is_some()
        });
    }

    /// Waits until nothing labelled `text` is on screen.
    fn wait_gone(&self, text: &str) {
        self.wait_for(&format!("{text:?} gone"), |ui| {
            ElementHandle::find_by_accessible_label(ui, text)
                .next()
                .is_none()
        });
    }

    fn click(&self, label: &str) {
        self.wait_text(label);
        let element = ElementHandle::find_by_accessible_label(&self.ui, label)
            .next()
            .unwrap_or_else(|| panic!("no element labelled {label:?}"));
        element.mock_single_click(PointerEventButton::Left);
    }

    fn screen(&self) -> Screen {
        self.ui.global::<KioskState>().get_screen()
    }

    fn enter_pin(&self, pin: &str) {
        for digit in pin.chars() {
            self.click(&digit.to_string());
        }
        self.click("OK");
    }

    fn unlock(&self) {
        self.click("Coordinator");
        self.wait_text("Coordinator PIN");
        self.enter_pin(PIN);
        self.wait_for("coordinator mode", |ui| {
            ui.global::<KioskState>().get_screen() == Screen::Coordinator
        });
    }

    /// Every event in the kiosk's database, read through a second connection.
    fn events(&self) -> Vec<pm_shared::Event> {
        let store = Store::open(
            &kiosk::db_path(self.dir.path()),
            SeriesId::from_parts(0, [0; 10]),
            Utc::now(),
        )
        .expect("store");
        store
            .events_between(
                local(YESTERDAY, 0, 0) - Duration::days(30),
                local(TODAY, 23, 0),
            )
            .expect("events")
            .into_iter()
            .map(|e| e.event)
            .collect()
    }
}

/// A 640×480 frame with a badge (or nothing) on a grey wall.
fn frame_with(text: Option<&str>) -> GrayImage {
    let mut frame = GrayImage::from_pixel(640, 480, Luma([150]));
    if let Some(text) = text {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .expect("qr")
            .render::<Luma<u8>>()
            .quiet_zone(true)
            .module_dimensions(6, 6)
            .build();
        image::imageops::overlay(&mut frame, &code, 180, 100);
    }
    frame
}

#[test]
fn a_badge_shown_to_the_camera_is_confirmed_then_the_scan_screen_returns() {
    let rig = Rig::new();
    assert!(rig.shows("Show your badge"));
    let frames = vec![
        frame_with(None),
        frame_with(Some(&badge("M-2"))),
        frame_with(Some(&badge("M-2"))),
        frame_with(None),
    ];
    let scanner = Scanner::start(
        move || Box::new(RecordedFrames::new(frames, 30.0, false)),
        forward_sightings(rig.requests.clone()),
    );
    rig.wait_text("Good morning, Ann Lee!");
    assert!(rig.shows("Checked in at 9:00"));
    assert!(rig.shows("60 of 100 hours this period"));
    scanner.join();
    // A tap goes back at once.
    rig.click("Good morning, Ann Lee!");
    assert_eq!(rig.screen(), Screen::Scan);
    assert!(rig.shows("Show your badge"));

    // Two hours later she checks out; the confirmation goes back by itself after a few seconds.
    rig.advance_clock(Duration::hours(2));
    rig.requests
        .send(Request::Scan(badge("M-2")))
        .expect("desk");
    rig.wait_text("Thank you, Ann Lee!");
    assert!(rig.shows("Checked out at 11:00 · 2 h 0 min today"));
    assert!(rig.shows("62 of 100 hours this period"));
    mock_elapsed_time(StdDuration::from_millis(5_100));
    assert_eq!(rig.screen(), Screen::Scan);
    let mine: Vec<_> = rig
        .events()
        .into_iter()
        .filter(|e| e.mentor_str() == "M-2")
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].kind, EventKind::CheckIn);
    assert_eq!(
        mine[1].kind,
        EventKind::CheckOut {
            check_in: Some(mine[0].id)
        },
        "the check-out names the check-in it closes"
    );

    // Back after lunch: greeted for the afternoon.
    rig.advance_clock(Duration::hours(2));
    rig.requests
        .send(Request::Scan(badge("M-2")))
        .expect("desk");
    rig.wait_text("Good afternoon, Ann Lee!");
}

#[test]
fn a_spanish_speaking_mentor_is_greeted_in_spanish_and_the_kiosk_returns_to_english() {
    let rig = Rig::new();
    rig.requests
        .send(Request::Scan(badge("M-1")))
        .expect("desk");
    rig.wait_text("¡Buenos días, María López!");
    assert!(rig.shows("Entrada registrada a las 9:00"));
    mock_elapsed_time(StdDuration::from_millis(5_100));
    rig.wait_text("Show your badge");
}

#[test]
fn a_flyer_or_a_forged_badge_gets_a_kind_rejection_and_records_nothing() {
    let rig = Rig::new();
    let before = rig.events().len();
    rig.requests
        .send(Request::Scan("https://example.org/bake-sale".into()))
        .expect("desk");
    rig.wait_text("That is not a Parent Mentor badge");
    assert!(rig.shows("Please show your own badge to the camera."));
    rig.click("That is not a Parent Mentor badge");
    // Her current generation with a made-up secret (a newer generation would be taken
    // provisionally: reissued since the roster was pulled, and checked by the server).
    let real = badge("M-2");
    let last = real.chars().last().expect("badge text");
    let forged = format!(
        "{}{}",
        &real[..real.len() - last.len_utf8()],
        if last == 'A' { 'B' } else { 'A' }
    );
    rig.requests.send(Request::Scan(forged)).expect("desk");
    rig.wait_text("This badge cannot be used");
    assert_eq!(rig.events().len(), before);
}

#[test]
fn a_scan_the_disk_cannot_take_says_not_saved_and_shows_no_check_in() {
    let rig = Rig::new();
    let before = rig.events().len();
    // Another connection holds the database exclusively: the desk's commit waits out its busy
    // timeout (10 s) and fails. The window keeps drawing and answering meanwhile.
    let blocker = rusqlite::Connection::open(kiosk::db_path(rig.dir.path())).expect("db");
    blocker
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("exclusive lock");
    rig.requests
        .send(Request::Scan(badge("M-2")))
        .expect("desk");
    rig.wait_text("Not saved");
    assert!(rig.shows("Please scan again. If this keeps happening, tell the coordinator."));
    assert!(!rig.shows("Good morning, Ann Lee!"));
    blocker.execute_batch("ROLLBACK").expect("release");
    assert_eq!(rig.events().len(), before, "nothing half-written");
    // The next scan goes through.
    rig.click("Not saved");
    rig.requests
        .send(Request::Scan(badge("M-2")))
        .expect("desk");
    rig.wait_text("Good morning, Ann Lee!");
}

#[test]
fn the_desk_finishes_what_was_asked_then_stops_on_shutdown() {
    let mut rig = Rig::new();
    rig.requests
        .send(Request::Scan(badge("M-1")))
        .expect("desk");
    rig.requests.send(Request::Shutdown).expect("desk");
    rig.desk
        .take()
        .expect("desk thread")
        .join()
        .expect("the desk stops");
    assert_eq!(
        rig.events().len(),
        2,
        "the scan sent before shutdown is on disk"
    );
}

#[test]
fn wrong_pins_are_refused_and_lock_the_keypad_then_the_right_pin_opens_coordinator_mode() {
    let rig = Rig::new();
    rig.click("Coordinator");
    rig.wait_text("Enter your PIN, then OK.");
    rig.enter_pin("12");
    rig.wait_text("A PIN has at least 6 digits.");
    rig.enter_pin("111111");
    rig.wait_text("Wrong PIN. 4 tries left.");
    for left in [3, 2, 1] {
        rig.enter_pin("111111");
        rig.wait_text(&format!("Wrong PIN. {left} tries left."));
    }
    rig.enter_pin("111111");
    rig.wait_text("Too many wrong PINs. Try again at 9:05.");
    // Locked out: even the right PIN is refused.
    rig.enter_pin(PIN);
    rig.wait_text("Too many wrong PINs. Try again at 9:05.");
    assert_eq!(rig.screen(), Screen::Pin);
    rig.click("Cancel");
    assert_eq!(rig.screen(), Screen::Scan);

    rig.advance_clock(Duration::minutes(6));
    rig.unlock();
    assert!(rig.shows("Ms. Rivera"));
    // Left alone, coordinator mode locks itself.
    rig.advance_clock(Duration::minutes(3));
    mock_elapsed_time(StdDuration::from_millis(1_100));
    rig.wait_for("the idle lock", |ui| {
        ui.global::<KioskState>().get_screen() == Screen::Scan
    });
    assert!(!rig.shows("Ms. Rivera"));
}

#[test]
fn a_restart_does_not_lift_the_pin_lockout() {
    let mut rig = Rig::new();
    rig.click("Coordinator");
    for _ in 0..5 {
        rig.enter_pin("111111");
        rig.wait_for("the PIN checked", |ui| {
            ui.global::<KioskState>().get_pin_message() != "checking"
        });
    }
    rig.wait_text("Too many wrong PINs. Try again at 9:05.");
    rig.requests.send(Request::Shutdown).expect("desk");
    rig.desk.take().expect("desk").join().expect("desk stops");

    // The kiosk starts again on the same database.
    let store = kiosk::open_store(rig.dir.path(), local(TODAY, 9, 1)).expect("store");
    let engine =
        kiosk::engine::Engine::new(store, pm_shared::KioskId::new("k1").expect("kiosk"), zone())
            .expect("engine");
    let wired = wire_desk(&rig.ui, engine, None);
    *wired.clock.lock().expect("clock") = local(TODAY, 9, 1);
    rig.jobs = wired.jobs;
    rig.requests = wired.requests;
    rig.clock = wired.clock;
    rig._tick = wired.tick;
    rig.desk = Some(wired.desk);
    rig.click("Cancel");
    rig.click("Coordinator");
    rig.enter_pin(PIN);
    rig.wait_text("Too many wrong PINs. Try again at 9:05.");
    assert_eq!(rig.screen(), Screen::Pin);
}

#[test]
fn the_coordinator_closes_a_forgotten_check_out_at_a_chosen_time() {
    let rig = Rig::new();
    rig.unlock();
    rig.wait_text("Rosa Díaz");
    assert!(rig.shows("No check-out"));
    rig.click("close Rosa Díaz");
    rig.wait_text("Check-out time for Rosa Díaz");
    assert!(rig.shows("Checked in 2026-11-23 at 8:05"));
    rig.wait_text("10:05");
    rig.click("plus 5");
    rig.wait_text("10:10");
    rig.click("save");
    rig.wait_text("Saved.");
    assert!(!rig.shows("No check-out"), "Rosa's session is closed");
    let close = rig
        .events()
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::CloseSession { .. }))
        .expect("a close event");
    assert_eq!(
        close.kind,
        EventKind::CloseSession {
            check_in: rosas_check_in(),
            end: local(YESTERDAY, 10, 10),
        }
    );
    assert_eq!(
        close.source,
        Source::Coordinator {
            coordinator: "Ms. Rivera".into(),
            reason: "forgot to check out".into(),
        }
    );
}

#[test]
fn the_coordinator_checks_in_a_mentor_without_her_badge_only_with_a_reason() {
    let rig = Rig::new();
    rig.unlock();
    rig.click("tab mentors");
    rig.click("check in Ann Lee");
    rig.wait_text("Check in Ann Lee without a badge");
    rig.click("save");
    rig.wait_text("Choose a reason first.");
    assert!(!rig.events().iter().any(|e| e.mentor_str() == "M-2"));
    rig.click("reason forgot-badge");
    rig.click("save");
    rig.wait_text("Saved.");
    rig.wait_text("check out Ann Lee");
    let event = rig
        .events()
        .into_iter()
        .find(|e| e.mentor_str() == "M-2")
        .expect("Ann's check-in");
    assert_eq!(event.kind, EventKind::CheckIn);
    assert_eq!(
        event.source,
        Source::Coordinator {
            coordinator: "Ms. Rivera".into(),
            reason: "forgot her badge".into(),
        }
    );
}

#[test]
fn the_coordinator_finds_a_mentor_by_name_without_accents() {
    let rig = Rig::new();
    rig.unlock();
    rig.click("tab mentors");
    rig.wait_text("check in Rosa Díaz");
    rig.wait_text("search");
    ElementHandle::find_by_accessible_label(&rig.ui, "search")
        .next()
        .expect("search box")
        .set_accessible_value("maria");
    rig.wait_gone("check in Rosa Díaz");
    assert!(rig.shows("check in María López"));
    assert!(!rig.shows("check in Ann Lee"));
}

#[test]
fn the_coordinator_narrows_the_list_by_tapping_an_initial() {
    let rig = Rig::new();
    rig.unlock();
    rig.click("tab mentors");
    rig.click("letter L");
    rig.wait_gone("check in Rosa Díaz");
    assert!(rig.shows("check in María López"));
    assert!(rig.shows("check in Ann Lee"));
    rig.click("letter R");
    rig.wait_gone("check in Ann Lee");
    assert!(rig.shows("check in Rosa Díaz"));
    assert!(!rig.shows("check in María López"));
    // The same initial again shows everyone.
    rig.click("letter R");
    rig.wait_text("check in Ann Lee");
    assert!(rig.shows("check in María López"));
    // A narrowed list does not follow the coordinator to another tab.
    rig.click("letter A");
    rig.wait_gone("check in Rosa Díaz");
    rig.click("tab group");
    rig.wait_text("attendee Rosa Díaz");
    assert!(rig.shows("attendee María López"));
}

#[test]
fn the_coordinator_records_a_group_session_for_several_mentors_in_one_step() {
    let rig = Rig::new();
    rig.unlock();
    rig.click("tab group");
    rig.wait_text("7:00");
    rig.wait_text("9:00");
    rig.click("start later");
    rig.wait_text("7:15");
    rig.click("training");
    rig.click("attendee María López");
    rig.click("attendee Ann Lee");
    rig.wait_text("Record for 2 mentors");
    rig.click("record group session");
    rig.wait_text("Saved.");
    let added: Vec<pm_shared::Event> = rig
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::AddSession { .. }))
        .collect();
    assert_eq!(added.len(), 2);
    let mut mentors: Vec<&str> = added.iter().map(|e| e.mentor_str()).collect();
    mentors.sort();
    assert_eq!(mentors, ["M-1", "M-2"]);
    for e in &added {
        let EventKind::AddSession {
            category,
            start,
            end,
            group,
        } = &e.kind
        else {
            unreachable!()
        };
        assert_eq!(*category, HourCategory::Training);
        assert_eq!((*start, *end), (local(TODAY, 7, 15), local(TODAY, 9, 0)));
        assert!(group.is_some());
    }
    let groups: Vec<_> = added
        .iter()
        .map(|e| match &e.kind {
            EventKind::AddSession { group, .. } => *group,
            _ => None,
        })
        .collect();
    assert_eq!(groups[0], groups[1], "one group");
}

#[test]
fn the_coordinator_enters_a_past_day_from_a_paper_sheet() {
    let rig = Rig::new();
    rig.unlock();
    rig.click("tab group");
    rig.wait_text("Today");
    // Two days back: the day the kiosk was broken; classroom time, for the organizer to confirm.
    rig.click("day earlier");
    rig.click("day earlier");
    rig.wait_text("November 22, 2026");
    rig.click("classroom");
    rig.wait_text("Classroom time entered by hand waits for the organizer to confirm it.");
    rig.click("attendee Ann Lee");
    rig.wait_text("Record for 1 mentors");
    // A past day needs a reason.
    rig.click("record group session");
    rig.wait_text("Choose a reason first.");
    rig.click("reason paper-sheet");
    rig.click("record group session");
    rig.wait_text("Saved.");
    let added: Vec<pm_shared::Event> = rig
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::AddSession { .. }))
        .collect();
    assert_eq!(added.len(), 1);
    let EventKind::AddSession {
        category,
        start,
        end,
        ..
    } = &added[0].kind
    else {
        unreachable!()
    };
    assert_eq!(*category, HourCategory::Classroom);
    let (y, m, d) = TODAY;
    let day = (y, m, d - 2);
    assert_eq!((*start, *end), (local(day, 7, 0), local(day, 9, 0)));
    assert!(
        matches!(&added[0].source, pm_shared::Source::Coordinator { reason, .. } if reason.contains("after the fact") && reason.contains("paper sign-in sheet")),
        "{:?}",
        added[0].source
    );
    // Never further back than the server accepts, never into the future.
    for _ in 0..20 {
        rig.click("day earlier");
    }
    for _ in 0..20 {
        rig.click("day later");
    }
    rig.wait_text("Today");
}

#[test]
fn a_coordinator_taps_her_name_then_her_pin_is_checked_against_hers_alone() {
    let mut roster = roster();
    roster.version = "two coordinators".into();
    roster.coordinators.push(pm_shared::Coordinator {
        name: "Mr. Okafor".into(),
        pin_hash: pm_shared::hash_pin("97531864", &[6; 16]).expect("pin"),
        change_salt: None,
    });
    let rig = Rig::with_roster(roster);
    rig.click("Coordinator");
    rig.wait_text("Tap your name, then enter your PIN.");
    // No name yet: not a try.
    rig.enter_pin(PIN);
    rig.wait_text("Tap your name, then enter your PIN.");
    assert_eq!(rig.screen(), Screen::Pin);
    // Her PIN under another's name is wrong.
    rig.click("coordinator Mr. Okafor");
    rig.enter_pin(PIN);
    rig.wait_text("Wrong PIN. 4 tries left.");
    rig.click("coordinator Ms. Rivera");
    rig.enter_pin(PIN);
    rig.wait_for("coordinator mode", |ui| {
        ui.global::<KioskState>().get_screen() == Screen::Coordinator
    });
    assert_eq!(
        rig.ui.global::<KioskState>().get_coordinator_name(),
        "Ms. Rivera"
    );
}

#[test]
fn a_paper_sheet_with_different_times_is_entered_at_once() {
    let rig = Rig::new();
    rig.unlock();
    rig.click("tab group");
    rig.wait_text("Today");
    rig.click("day earlier");
    rig.wait_text("November 23, 2026");
    rig.click("reason paper-sheet");
    // Ann came 7:00-9:00; then the times change and María, who came 8:00-10:30, is tapped.
    let times_of = |ui: &MainWindow, name: &str| {
        ui.global::<KioskState>()
            .get_mentor_rows()
            .iter()
            .find(|r| r.name == name && r.selected)
            .map(|r| r.hours.to_string())
    };
    rig.click("attendee Ann Lee");
    rig.wait_for("Ann's times", |ui| {
        times_of(ui, "Ann Lee").as_deref() == Some("7:00–9:00")
    });
    for _ in 0..4 {
        rig.click("start later");
    }
    for _ in 0..6 {
        rig.click("end later");
    }
    rig.wait_text("10:30");
    rig.click("attendee María López");
    rig.wait_for("María's times", |ui| {
        times_of(ui, "María López").as_deref() == Some("8:00–10:30")
    });
    assert_eq!(
        times_of(&rig.ui, "Ann Lee").as_deref(),
        Some("7:00–9:00"),
        "Ann keeps her times"
    );
    rig.wait_text("Record for 2 mentors");
    rig.click("record group session");
    rig.wait_text("Saved.");
    let mut added: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = rig
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::AddSession { start, end, .. } => {
                Some((e.mentor_str().to_owned(), start, end))
            }
            _ => None,
        })
        .collect();
    added.sort();
    let (y, m, d) = TODAY;
    let day = (y, m, d - 1);
    assert_eq!(
        added,
        [
            ("M-1".to_owned(), local(day, 8, 0), local(day, 10, 30)),
            ("M-2".to_owned(), local(day, 7, 0), local(day, 9, 0)),
        ]
    );
}

#[test]
fn the_coordinator_switches_the_kiosk_to_spanish_and_it_stays_spanish() {
    let rig = Rig::new();
    rig.unlock();
    rig.click("tab language");
    rig.click("Español");
    rig.wait_text("Bloquear");
    rig.click("lock");
    rig.wait_text("Muestre su credencial");
    // The other language stays underneath, for the mentor who reads it better.
    assert!(rig.shows("Show your badge"));
    assert!(rig.shows("Coordinador"));
    let store = Store::open(
        &kiosk::db_path(rig.dir.path()),
        SeriesId::from_parts(0, [0; 10]),
        Utc::now(),
    )
    .expect("store");
    assert_eq!(
        store.setting("language").expect("setting").as_deref(),
        Some("es")
    );
}

/// A camera that can be unplugged.
struct Pluggable(Arc<AtomicBool>);

impl FrameSource for Pluggable {
    fn next_frame(&mut self) -> Result<Frame, SourceError> {
        std::thread::sleep(StdDuration::from_millis(30));
        if self.0.load(Ordering::Relaxed) {
            Ok(Frame {
                image: frame_with(None),
                captured: Instant::now(),
            })
        } else {
            Err(SourceError::NoCamera)
        }
    }
}

#[test]
fn the_no_camera_screen_comes_and_goes_with_the_camera() {
    let plugged = Arc::new(AtomicBool::new(true));
    let (sightings, _ignored) = channel();
    let source = Pluggable(plugged.clone());
    let scanner = Scanner::start(move || Box::new(source), forward_sightings(sightings));
    let rig = Rig::with_camera(Some(scanner.stats.clone()));
    assert_eq!(rig.screen(), Screen::Scan);
    plugged.store(false, Ordering::Relaxed);
    rig.wait_for("the no-camera screen", |ui| {
        mock_elapsed_time(StdDuration::from_millis(200));
        ui.global::<KioskState>().get_screen() == Screen::NoCamera
    });
    assert!(rig.shows("The camera is not working"));
    plugged.store(true, Ordering::Relaxed);
    rig.wait_for("the scan screen again", |ui| {
        mock_elapsed_time(StdDuration::from_millis(200));
        ui.global::<KioskState>().get_screen() == Screen::Scan
    });
    drop(scanner);
}

#[test]
fn the_coordinator_closes_and_voids_items_from_the_needs_review_tab() {
    use pm_shared::{EventId, MentorId, ReviewEntry, ReviewReason};
    let rig = Rig::new();
    // The server's review queue for the school arrives with the roster.
    let long_day = EventId::from_parts(7, [7; 10]);
    let mut roster = roster();
    roster.version = "v2".into();
    roster.review = vec![
        ReviewEntry {
            item: rosas_check_in(),
            mentor: MentorId::new("M-3").expect("id"),
            category: HourCategory::Classroom,
            local_date: YESTERDAY_DATE(),
            start: Some(local(YESTERDAY, 8, 5)),
            end: None,
            reasons: vec![ReviewReason::Open],
        },
        ReviewEntry {
            item: long_day,
            mentor: MentorId::new("M-2").expect("id"),
            category: HourCategory::Classroom,
            local_date: YESTERDAY_DATE(),
            start: Some(local(YESTERDAY, 6, 0)),
            end: Some(local(YESTERDAY, 15, 0)),
            reasons: vec![ReviewReason::OverCap],
        },
        ReviewEntry {
            item: EventId::from_parts(8, [8; 10]),
            mentor: MentorId::new("M-1").expect("id"),
            category: HourCategory::Classroom,
            local_date: YESTERDAY_DATE(),
            start: Some(local(YESTERDAY, 8, 0)),
            end: None,
            reasons: vec![ReviewReason::SetAside],
        },
    ];
    let mut store = Store::open(
        &kiosk::db_path(rig.dir.path()),
        SeriesId::from_parts(0, [0; 10]),
        Utc::now(),
    )
    .expect("store");
    store
        .save_roster(&roster, local(TODAY, 9, 0))
        .expect("roster");

    rig.unlock();
    rig.click("tab review");
    rig.wait_text("Longer than a session may be");
    assert!(rig.shows("No check-out"));
    assert!(rig.shows("Set aside by the server"));
    assert!(
        !rig.shows("fix María López") && !rig.shows("void María López"),
        "a set-aside event is the organizer's to decide"
    );

    // Close Rosa's forgotten check-out at 10:10.
    rig.click("fix Rosa Díaz");
    rig.wait_text("Times for Rosa Díaz");
    rig.wait_text("10:05");
    rig.click("end plus 5");
    rig.wait_text("10:10");
    rig.click("save");
    rig.wait_text("Saved.");
    rig.wait_gone("fix Rosa Díaz");

    // Void Ann's long day: a reason is required.
    rig.click("void Ann Lee");
    rig.wait_text("Void this session of Ann Lee?");
    rig.click("save");
    rig.wait_text("Choose a reason first.");
    rig.click("reason mistake");
    rig.click("save");
    rig.wait_text("Saved.");
    rig.wait_gone("void Ann Lee");

    let events = rig.events();
    let close = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::CloseSession { .. }))
        .expect("a close");
    assert_eq!(
        close.kind,
        EventKind::CloseSession {
            check_in: rosas_check_in(),
            end: local(YESTERDAY, 10, 10),
        }
    );
    let void = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Void { .. }))
        .expect("a void");
    assert_eq!(void.kind, EventKind::Void { target: long_day });
    assert_eq!(
        void.source,
        Source::Coordinator {
            coordinator: "Ms. Rivera".into(),
            reason: "recorded by mistake".into(),
        }
    );
    assert!(
        !events.iter().any(|e| e.kind.is_organizer_only()),
        "a coordinator never approves"
    );
}

#[allow(non_snake_case)]
fn YESTERDAY_DATE() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(YESTERDAY.0, YESTERDAY.1, YESTERDAY.2).expect("date")
}

#[test]
fn a_coordinator_changes_her_own_pin_with_her_current_pin_and_the_new_one_twice() {
    let rig = Rig::new();
    rig.unlock();
    rig.click("tab language");
    // Giving up halfway changes nothing.
    rig.click("change my pin");
    rig.wait_text("Enter your current PIN, then OK.");
    rig.click("Cancel");
    rig.wait_for("back in coordinator mode", |ui| {
        ui.global::<KioskState>().get_screen() == Screen::Coordinator
    });
    rig.click("change my pin");
    rig.wait_text("Enter your current PIN, then OK.");
    // Her current PIN first, a try like any other.
    rig.enter_pin("11111111");
    rig.wait_text("Wrong PIN. 4 tries left.");
    rig.enter_pin(PIN);
    rig.wait_text("Enter a new PIN of 8 to 12 digits, then OK.");
    rig.enter_pin("4081726");
    rig.wait_text("A new PIN has 8 to 12 digits.");
    rig.enter_pin("12345678");
    rig.wait_text("Too easy to guess: not one digit repeated, and not a run like 12345678.");
    rig.enter_pin("40817263");
    rig.wait_text("Enter the new PIN again, then OK.");
    rig.enter_pin("40817264");
    rig.wait_text("The two new PINs were not the same. Enter a new PIN again.");
    rig.enter_pin("40817263");
    rig.wait_text("Enter the new PIN again, then OK.");
    rig.enter_pin("40817263");
    rig.wait_text("Your new PIN works on this kiosk now, and on the others after their next sync.");
    assert_eq!(rig.screen(), Screen::Coordinator);

    // Kept for the server, as a hash over the one it replaces; the PIN itself is nowhere.
    let store = Store::open(
        &kiosk::db_path(rig.dir.path()),
        SeriesId::from_parts(0, [0; 10]),
        Utc::now(),
    )
    .expect("store");
    let pending = store.own_pins().expect("pending");
    assert_eq!(pending.len(), 1);
    assert!(pm_shared::verify_pin("40817263", &pending[0].pin_hash));
    assert!(pm_shared::verify_pin(PIN, &pending[0].replaces));
    assert!(pm_shared::is_strong_pin_hash(&pending[0].pin_hash));
    // Proven with her old PIN's change key (which the server keeps, from the roster's salt).
    let old_key = pm_shared::change_key(PIN, &"09".repeat(16)).expect("key");
    assert!(pm_shared::verify_own_pin_proof(
        &data_encoding::HEXLOWER.encode(&old_key),
        &pending[0]
    ));
    assert!(pending[0].proof.len() == 64 && !pending[0].proof.contains(PIN));

    // Locked again: the old PIN no longer opens it, the new one does.
    rig.click("lock");
    rig.click("Coordinator");
    rig.wait_text("Enter your PIN, then OK.");
    rig.enter_pin(PIN);
    rig.wait_text("Wrong PIN. 4 tries left.");
    rig.enter_pin("40817263");
    rig.wait_for("coordinator mode", |ui| {
        ui.global::<KioskState>().get_screen() == Screen::Coordinator
    });

    // A second change waits until the first has reached the server.
    rig.click("tab language");
    rig.click("change my pin");
    rig.wait_text(
        "Your last change has not reached the server yet. Try again after the next sync.",
    );
    assert_eq!(store.own_pins().expect("pending").len(), 1);
}
