//! The running kiosk: the UI thread only shows things and forwards touches; the engine thread
//! (the "desk") owns the engine, the PIN gate and the coordinator's drafts, and sends the UI
//! what to show. Camera, decode, disk and network never run on the UI thread.
//!
//! ```text
//!  capture ─frames─> decode ─Scan─┐                         ┌─> UiPoster ─> UI thread
//!  UI callbacks ──────Request─────┼─> desk (engine, SQLite) ─┤
//!  1 s UI timer ──────Tick────────┘                         └─ (jobs applied between frames)
//! ```

//!
//! `desk` is the desk's loop (scans, the clock, the PIN); `coordinator` builds the coordinator's
//! screens and carries out what she asks.

mod coordinator;
mod desk;
mod own_pin;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use chrono::{DateTime, TimeZone as _, Utc};
use slint::{ComponentHandle, ModelRc, SharedString};

use crate::capture::{Frame, ScannerStats};
use crate::engine::Engine;
use crate::ui::{self, KioskState, MainWindow, Panel, Screen, Tab};
use desk::Desk;

/// Something for the UI thread to do with the window.
pub type UiJob = Box<dyn FnOnce(&MainWindow) + Send>;

/// The one way other threads reach the UI.
#[derive(Clone)]
pub enum UiPoster {
    /// The real event loop: jobs run on the UI thread between frames.
    EventLoop(slint::Weak<MainWindow>),
    /// Jobs wait until the window's owner drains them with [`drain`] (tests, benchmarks).
    Channel(Sender<UiJob>),
}

impl UiPoster {
    pub fn post(&self, job: impl FnOnce(&MainWindow) + Send + 'static) {
        match self {
            UiPoster::EventLoop(weak) => {
                // Fails only once the event loop has ended: nothing left to show.
                let _ = weak.upgrade_in_event_loop(move |ui| job(&ui));
            }
            UiPoster::Channel(tx) => {
                let _ = tx.send(Box::new(job));
            }
        }
    }
}

/// Applies every job waiting in a [`UiPoster::Channel`]; returns how many ran.
pub fn drain(ui: &MainWindow, jobs: &Receiver<UiJob>) -> usize {
    let mut n = 0;
    while let Ok(job) = jobs.try_recv() {
        job(ui);
        n += 1;
    }
    n
}

/// The time, from the system or, in tests, from a hand.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What the UI and the scanner ask of the desk.
#[derive(Debug, Clone)]
pub enum Request {
    Scan(String),
    /// Once a second: header, camera state, the coordinator's idle lock.
    Tick,
    OpenCoordinator,
    /// The coordinator's name as tapped ("" when none was), and the PIN.
    Unlock {
        name: String,
        pin: String,
    },
    CancelPin,
    Lock,
    SelectTab(Tab),
    Search(String),
    /// An initial tapped (the same one again clears it).
    PickLetter(String),
    CloseSession(String),
    CheckWithoutBadge(String),
    /// New times for the review item with this key.
    FixItem(String),
    /// Void the review item with this key.
    VoidItem(String),
    /// Moves the review dialog's start (`true`) or end by some minutes.
    AdjustItem {
        start: bool,
        minutes: i64,
    },
    AdjustTime(i64),
    SavePanel(String),
    CancelPanel,
    AdjustGroup {
        start: bool,
        minutes: i64,
    },
    /// Moves the group session to another day (a past day, up to two weeks back).
    ShiftGroupDay(i64),
    ToggleAttendee(String),
    /// Records the group session: its category, and the reason chip (a past day needs one).
    SaveGroup {
        category: String,
        reason: String,
    },
    SetLanguage(String),
    /// A coordinator starts changing her own PIN; each step's digits; she gives up.
    StartPinChange,
    ChangePin(String),
    CancelPinChange,
    /// Finish what was asked before, then stop (the window keeps senders in its callbacks, so
    /// the channel alone never closes while it lives).
    Shutdown,
}

/// How the desk reports sync health: from the store (a real kiosk), or "demo".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    Server,
    Demo,
}

pub struct DeskSettings {
    pub sync: SyncMode,
    /// Record that the kiosk started, and every jump of the wall clock against the monotonic
    /// clock (the real kiosk; tests that move a hand-set clock leave it off).
    pub watch_clock: bool,
    /// The camera's health, when there is a scanner.
    pub camera: Option<Arc<ScannerStats>>,
}

/// Starts the desk thread; it ends on [`Request::Shutdown`] or when every sender is gone.
pub fn spawn_desk(
    engine: Engine,
    requests: Receiver<Request>,
    poster: UiPoster,
    clock: Clock,
    settings: DeskSettings,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut desk = Desk::new(engine, poster, clock, settings);
        desk.start();
        while let Ok(request) = requests.recv() {
            if matches!(request, Request::Shutdown) {
                break;
            }
            desk.handle(request);
        }
    })
}

/// Connects the window's callbacks to the desk and starts the one-second tick. Keep the
/// returned timer alive as long as the window.
pub fn wire(ui: &MainWindow, requests: &Sender<Request>) -> slint::Timer {
    let state = ui.global::<KioskState>();
    let send = |make: fn(SharedString) -> Request| {
        let tx = requests.clone();
        move |s: SharedString| {
            let _ = tx.send(make(s));
        }
    };
    let plain = |request: Request| {
        let tx = requests.clone();
        move || {
            let _ = tx.send(request.clone());
        }
    };
    {
        let weak = ui.as_weak();
        state.on_dismiss(move || {
            if let Some(ui) = weak.upgrade() {
                ui::dismiss(&ui);
            }
        });
    }
    {
        let weak = ui.as_weak();
        let tx = requests.clone();
        state.on_submit_pin(move |pin| {
            let mut name = String::new();
            let mut changing = false;
            if let Some(ui) = weak.upgrade() {
                // At once, before the (deliberately slow) check on the desk.
                let state = ui.global::<KioskState>();
                name = state.get_pin_name().to_string();
                changing = !state.get_pin_step().is_empty();
                state.set_pin_message("checking".into());
                state.set_pin("".into());
            }
            let _ = tx.send(if changing {
                Request::ChangePin(pin.to_string())
            } else {
                Request::Unlock {
                    name,
                    pin: pin.to_string(),
                }
            });
        });
    }
    state.on_open_coordinator(plain(Request::OpenCoordinator));
    // Leaving coordinator mode shows at once; the desk forgets the session after.
    let leave = |request: Request| {
        let weak = ui.as_weak();
        let tx = requests.clone();
        move || {
            if let Some(ui) = weak.upgrade() {
                lock_view(&ui);
            }
            let _ = tx.send(request.clone());
        }
    };
    {
        // Giving up a PIN change goes back to coordinator mode; at the door, back to scanning.
        let weak = ui.as_weak();
        let tx = requests.clone();
        let door = leave(Request::CancelPin);
        state.on_cancel_pin(move || {
            let changing = weak
                .upgrade()
                .is_some_and(|ui| !ui.global::<KioskState>().get_pin_step().is_empty());
            if changing {
                let _ = tx.send(Request::CancelPinChange);
            } else {
                door();
            }
        });
    }
    state.on_change_own_pin(plain(Request::StartPinChange));
    state.on_lock(leave(Request::Lock));
    state.on_cancel_panel(plain(Request::CancelPanel));
    {
        let tx = requests.clone();
        state.on_select_tab(move |tab| {
            let _ = tx.send(Request::SelectTab(tab));
        });
    }
    state.on_search_changed(send(|s| Request::Search(s.to_string())));
    state.on_pick_letter(send(|s| Request::PickLetter(s.to_string())));
    state.on_close_session(send(|s| Request::CloseSession(s.to_string())));
    state.on_check_without_badge(send(|s| Request::CheckWithoutBadge(s.to_string())));
    state.on_fix_item(send(|s| Request::FixItem(s.to_string())));
    state.on_void_item(send(|s| Request::VoidItem(s.to_string())));
    {
        let tx = requests.clone();
        state.on_adjust_item(move |start, m| {
            let _ = tx.send(Request::AdjustItem {
                start,
                minutes: i64::from(m),
            });
        });
    }
    state.on_toggle_attendee(send(|s| Request::ToggleAttendee(s.to_string())));
    state.on_set_language(send(|s| Request::SetLanguage(s.to_string())));
    {
        let tx = requests.clone();
        state.on_adjust_time(move |m| {
            let _ = tx.send(Request::AdjustTime(i64::from(m)));
        });
    }
    {
        let tx = requests.clone();
        state.on_adjust_group(move |start, m| {
            let _ = tx.send(Request::AdjustGroup {
                start,
                minutes: i64::from(m),
            });
        });
    }
    {
        let tx = requests.clone();
        state.on_shift_group_day(move |days| {
            let _ = tx.send(Request::ShiftGroupDay(i64::from(days)));
        });
    }
    {
        let weak = ui.as_weak();
        let tx = requests.clone();
        state.on_save_panel(move || {
            let reason = weak
                .upgrade()
                .map(|ui| ui.global::<KioskState>().get_reason().to_string())
                .unwrap_or_default();
            let _ = tx.send(Request::SavePanel(reason));
        });
    }
    {
        let weak = ui.as_weak();
        let tx = requests.clone();
        state.on_save_group(move || {
            let (category, reason) = weak
                .upgrade()
                .map(|ui| {
                    let state = ui.global::<KioskState>();
                    (
                        state.get_category().to_string(),
                        state.get_reason().to_string(),
                    )
                })
                .unwrap_or_default();
            let _ = tx.send(Request::SaveGroup { category, reason });
        });
    }
    let timer = slint::Timer::default();
    let tx = requests.clone();
    timer.start(
        slint::TimerMode::Repeated,
        std::time::Duration::from_secs(1),
        move || {
            let _ = tx.send(Request::Tick);
        },
    );
    timer
}

/// The scanner's callback: each badge text read becomes a scan request.
pub fn forward_sightings(requests: Sender<Request>) -> impl Fn(crate::capture::Sighting) + Send {
    move |sighting| {
        let _ = requests.send(Request::Scan(sighting.text));
    }
}

/// The camera preview: a small copy of about every other frame, posted only when the UI has
/// taken the last one, so previews never queue up behind a busy UI.
pub fn preview_feed(poster: UiPoster) -> impl FnMut(&Frame) + Send {
    let in_flight = Arc::new(AtomicBool::new(false));
    let mut last: Option<std::time::Instant> = None;
    move |frame: &Frame| {
        if last.is_some_and(|t| frame.captured.duration_since(t).as_millis() < 66)
            || in_flight.swap(true, Ordering::AcqRel)
        {
            return;
        }
        last = Some(frame.captured);
        let buffer = preview_pixels(&frame.image);
        let in_flight = in_flight.clone();
        poster.post(move |ui| {
            ui.global::<KioskState>()
                .set_preview(slint::Image::from_rgb8(buffer));
            in_flight.store(false, Ordering::Release);
        });
    }
}

/// Half-size RGB copy of a gray frame (every other pixel: cheap, and plenty for a preview).
pub fn preview_pixels(image: &image::GrayImage) -> slint::SharedPixelBuffer<slint::Rgb8Pixel> {
    let (w, h) = ((image.width() / 2).max(1), (image.height() / 2).max(1));
    let mut buffer = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::new(w, h);
    let pixels = buffer.make_mut_slice();
    for y in 0..h {
        for x in 0..w {
            let v = image
                .get_pixel_checked((x * 2).min(image.width().saturating_sub(1)), y * 2)
                .map(|p| p.0[0])
                .unwrap_or(0);
            pixels[(y * w + x) as usize] = slint::Rgb8Pixel { r: v, g: v, b: v };
        }
    }
    buffer
}

/// Closes coordinator mode on screen: back to scanning, nothing of it left showing.
fn lock_view(ui: &MainWindow) {
    let state = ui.global::<KioskState>();
    state.set_coordinator_name("".into());
    state.set_pin("".into());
    state.set_pin_name("".into());
    state.set_pin_message("".into());
    state.set_pin_step("".into());
    state.set_notice("".into());
    state.set_panel(Panel::None);
    state.set_message("".into());
    state.set_search("".into());
    state.set_today_rows(ModelRc::default());
    state.set_clearance_rows(ModelRc::default());
    state.set_clearance_more(0);
    state.set_mentor_rows(ModelRc::default());
    state.set_tab(Tab::Today);
    if matches!(state.get_screen(), Screen::Pin | Screen::Coordinator) {
        state.set_screen(if state.get_camera_ok() {
            Screen::Scan
        } else {
            Screen::NoCamera
        });
    }
}

/// Midnight-free local time for tests and the demo: `hh:mm` on a date in the school's zone.
pub fn local_instant(
    zone: pm_shared::TimeZone,
    date: chrono::NaiveDate,
    hour: u32,
    minute: u32,
) -> Option<DateTime<Utc>> {
    zone.tz()
        .from_local_datetime(&date.and_hms_opt(hour, minute, 0)?)
        .earliest()
        .map(|t| t.to_utc())
}
