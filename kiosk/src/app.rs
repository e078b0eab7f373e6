//! The running kiosk: the UI thread only shows things and forwards touches; the engine thread
//! (the "desk") owns the engine, the PIN gate and the coordinator's drafts, and sends the UI
//! what to show. Camera, decode, disk and network never run on the UI thread.
//!
//! ```text
//!  capture ─frames─> decode ─Scan─┐                         ┌─> UiPoster ─> UI thread
//!  UI callbacks ──────Request─────┼─> desk (engine, SQLite) ─┤
//!  1 s UI timer ──────Tick────────┘                         └─ (jobs applied between frames)
//! ```

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, NaiveTime, TimeZone as _, Utc};
use pm_shared::{HourCategory, MentorId, Session};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::capture::{Frame, ScannerStats};
use crate::coordinator::{PinGate, PinVerdict, IDLE_LOCK};
use crate::engine::{local_date, Direction, Engine};
use crate::ui::{
    self, HeaderView, KioskState, MainWindow, MentorRow, Panel, Screen, Tab, TodayRow,
};

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
    Unlock(String),
    CancelPin,
    Lock,
    SelectTab(Tab),
    Search(String),
    /// An initial tapped (the same one again clears it).
    PickLetter(String),
    CloseSession(String),
    CheckWithoutBadge(String),
    AdjustTime(i64),
    SavePanel(String),
    CancelPanel,
    AdjustGroup {
        start: bool,
        minutes: i64,
    },
    ToggleAttendee(String),
    SaveGroup(String),
    SetLanguage(String),
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
            if let Some(ui) = weak.upgrade() {
                // At once, before the (deliberately slow) check on the desk.
                ui.global::<KioskState>().set_pin_message("checking".into());
                ui.global::<KioskState>().set_pin("".into());
            }
            let _ = tx.send(Request::Unlock(pin.to_string()));
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
    state.on_cancel_pin(leave(Request::CancelPin));
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
            let category = weak
                .upgrade()
                .map(|ui| ui.global::<KioskState>().get_category().to_string())
                .unwrap_or_default();
            let _ = tx.send(Request::SaveGroup(category));
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

/// The coordinator's open dialog.
enum Draft {
    None,
    Close {
        session: Box<Session>,
        end: DateTime<Utc>,
    },
    Manual {
        mentor: MentorId,
        direction: Direction,
    },
}

/// The desk: everything behind the screen, on its own thread.
struct Desk {
    engine: Engine,
    poster: UiPoster,
    clock: Clock,
    settings: DeskSettings,
    gate: PinGate,
    /// When the PIN keypad was opened: it closes itself when left alone.
    pin_opened: Option<DateTime<Utc>>,
    language: String,
    tab: Tab,
    search: String,
    /// The initial the list is narrowed to, folded ("r"), or empty.
    letter: String,
    draft: Draft,
    group_start: DateTime<Utc>,
    group_end: DateTime<Utc>,
    attendees: BTreeSet<MentorId>,
    /// Today's sessions as last shown: the Today list's keys refer to these.
    today: Vec<Session>,
}

/// The reasons the coordinator picks from, as recorded in the audit trail.
fn reason_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "forgot-checkout" => "forgot to check out",
        "left-early" => "left without scanning",
        "forgot-badge" => "forgot her badge",
        "camera" => "camera not working",
        "other" => "other (ask the coordinator)",
        _ => return None,
    })
}

fn category_of(code: &str) -> Option<HourCategory> {
    HourCategory::ALL.into_iter().find(|c| c.as_str() == code)
}

/// Lower case without accents, so "maria" finds "María".
fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c => c,
        })
        .collect()
}

/// The folded first letter of each word of a name: "María López" → m, l.
fn initials(name: &str) -> impl Iterator<Item = char> + '_ {
    name.split_whitespace()
        .filter_map(|word| fold(word).chars().next())
        .filter(|c| c.is_alphabetic())
}

fn floor_to(t: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(minutes)).unwrap_or(t)
}

impl Desk {
    fn new(engine: Engine, poster: UiPoster, clock: Clock, settings: DeskSettings) -> Self {
        let language = engine
            .store()
            .setting("language")
            .ok()
            .flatten()
            .unwrap_or_else(|| "en".into());
        let now = clock();
        let setting = |key: &str| engine.store().setting(key).ok().flatten();
        let gate = PinGate::restored(
            setting("pin_wrong")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            setting("pin_locked_until")
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.to_utc()),
        );
        Self {
            engine,
            poster,
            clock,
            settings,
            gate,
            pin_opened: None,
            language,
            tab: Tab::Today,
            search: String::new(),
            letter: String::new(),
            draft: Draft::None,
            group_start: now,
            group_end: now,
            attendees: BTreeSet::new(),
            today: Vec::new(),
        }
    }

    fn start(&mut self) {
        let language = self.language.clone();
        self.poster.post(move |ui| {
            ui::set_language(&language);
            ui.global::<KioskState>().set_language(language.into());
        });
        self.tick();
    }

    fn handle(&mut self, request: Request) {
        let now = (self.clock)();
        match request {
            Request::Scan(text) => self.scan(&text, now),
            Request::Tick => self.tick(),
            Request::OpenCoordinator => {
                if self.gate.touch(now).is_some() {
                    self.show_coordinator(now, "");
                } else {
                    self.pin_opened = Some(now);
                    self.poster.post(|ui| {
                        let state = ui.global::<KioskState>();
                        state.set_pin("".into());
                        state.set_pin_message("".into());
                        state.set_screen(Screen::Pin);
                    });
                }
            }
            Request::Unlock(pin) => self.unlock(&pin, now),
            Request::CancelPin => {
                self.pin_opened = None;
                self.show_locked();
            }
            Request::Lock => {
                self.gate.lock();
                self.show_locked();
            }
            other => {
                // Everything else is coordinator work: only with an open, recently touched session.
                let Some(coordinator) = self.gate.touch(now) else {
                    self.show_locked();
                    return;
                };
                self.coordinator_request(other, &coordinator, now);
            }
        }
    }

    fn scan(&mut self, text: &str, now: DateTime<Utc>) {
        match self.engine.scan(text, now) {
            Ok(outcome) => {
                let language = self.language.clone();
                self.poster
                    .post(move |ui| ui::show_outcome(ui, &outcome, &language));
            }
            // Not recorded (a full or failing disk): the mentor is told so, never shown a
            // check-in that is not on disk; the log says why, without names.
            Err(e) => {
                eprintln!("kiosk: scan not recorded: {e}");
                let language = self.language.clone();
                self.poster.post(move |ui| {
                    ui::set_language(&language);
                    let state = ui.global::<KioskState>();
                    state.set_rejection("failed".into());
                    state.set_screen(Screen::Rejection);
                });
            }
        }
    }

    fn header(&mut self, now: DateTime<Utc>) -> HeaderView {
        let zone = self.engine.time_zone();
        let school = self
            .engine
            .roster()
            .map(|r| r.school.name.clone())
            .unwrap_or_default();
        let status = self.engine.store().sync_status().unwrap_or_default();
        let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc());
        let last_success = status.last_success.as_deref().and_then(parse);
        let sync_state = match (self.settings.sync, &status.last_error, last_success) {
            (SyncMode::Demo, _, _) => "demo",
            (_, Some(_), _) => "offline",
            (_, None, Some(_)) => "ok",
            (_, None, None) => "never",
        };
        HeaderView {
            school,
            clock: ui::local_clock(now, zone),
            sync_state,
            // "8:02" today; with its date when the last sync is older (a kiosk offline for days).
            sync_time: last_success
                .map(|t| {
                    if local_date(t, zone) == local_date(now, zone) {
                        ui::local_clock(t, zone)
                    } else {
                        format!("{} {}", local_date(t, zone), ui::local_clock(t, zone))
                    }
                })
                .unwrap_or_default(),
            pending: status.pending,
            sync_error: status.last_error.unwrap_or_default(),
            camera_ok: self
                .settings
                .camera
                .as_ref()
                .is_none_or(|s| !s.no_camera.load(Ordering::Relaxed)),
        }
    }

    fn tick(&mut self) {
        let now = (self.clock)();
        let _ = self.engine.refresh_roster();
        let header = self.header(now);
        self.poster.post(move |ui| ui::apply_header(ui, &header));
        let pin_idle = self.pin_opened.is_some_and(|t| now - t >= IDLE_LOCK);
        if pin_idle {
            self.pin_opened = None;
        }
        let coordinator_idle = !self.gate.is_open(now);
        if pin_idle || coordinator_idle {
            // Locks an idle coordinator screen or keypad; leaves other screens alone.
            let pin_only = !pin_idle;
            self.poster.post(move |ui| {
                let state = ui.global::<KioskState>();
                let screen = state.get_screen();
                if screen == Screen::Coordinator || (screen == Screen::Pin && !pin_only) {
                    lock_view(ui);
                } else if screen != Screen::Pin {
                    state.set_coordinator_name("".into());
                }
            });
        }
    }

    fn unlock(&mut self, pin: &str, now: DateTime<Utc>) {
        let coordinators = self
            .engine
            .roster()
            .map(|r| r.coordinators.clone())
            .unwrap_or_default();
        let verdict = self.gate.try_unlock(pin, &coordinators, now);
        // Failures survive a restart: switching the kiosk off does not reset the lockout.
        let (wrong, until) = self.gate.failures();
        let store = self.engine.store_mut();
        let saved = store
            .set_setting("pin_wrong", &wrong.to_string())
            .and_then(|()| {
                store.set_setting(
                    "pin_locked_until",
                    &until.map(|t| t.to_rfc3339()).unwrap_or_default(),
                )
            });
        if let Err(e) = saved {
            eprintln!("kiosk: PIN failures not saved: {e}");
        }
        let zone = self.engine.time_zone();
        match verdict {
            PinVerdict::Unlocked { .. } => {
                self.pin_opened = None;
                self.tab = Tab::Today;
                self.draft = Draft::None;
                self.show_coordinator(now, "");
            }
            other => {
                self.pin_opened = Some(now);
                let (message, left, until) = match other {
                    PinVerdict::Wrong { left } => ("wrong", left, String::new()),
                    PinVerdict::LockedOut { until } => ("locked", 0, ui::local_clock(until, zone)),
                    PinVerdict::Malformed => ("malformed", 0, String::new()),
                    _ => ("no-coordinators", 0, String::new()),
                };
                self.poster.post(move |ui| {
                    let state = ui.global::<KioskState>();
                    state.set_pin_message(message.into());
                    state.set_pin_left(i32::try_from(left).unwrap_or(0));
                    state.set_pin_until(until.into());
                });
            }
        }
    }

    fn show_locked(&mut self) {
        self.draft = Draft::None;
        self.search.clear();
        self.letter.clear();
        self.attendees.clear();
        self.poster.post(lock_view);
    }

    fn coordinator_request(&mut self, request: Request, coordinator: &str, now: DateTime<Utc>) {
        let message = match request {
            Request::SelectTab(tab) => {
                self.tab = tab;
                self.draft = Draft::None;
                // Each tab starts with the whole roster (the group tab has no search of its own).
                self.search.clear();
                self.letter.clear();
                self.poster
                    .post(|ui| ui.global::<KioskState>().set_search("".into()));
                if tab == Tab::Group {
                    self.group_end = floor_to(now, 15);
                    self.group_start = self.group_end - Duration::hours(2);
                }
                ""
            }
            Request::Search(text) => {
                self.search = text;
                ""
            }
            Request::PickLetter(letter) => {
                let letter = fold(&letter);
                self.letter = if self.letter == letter {
                    String::new()
                } else {
                    letter
                };
                ""
            }
            Request::CloseSession(key) => {
                let session = self
                    .today
                    .iter()
                    .find(|s| s.opened_by.is_some_and(|id| id.to_string() == key) && s.is_open());
                match session.and_then(|s| s.start.map(|start| (s.clone(), start))) {
                    Some((session, start)) => {
                        let today = local_date(now, self.engine.time_zone());
                        let end = if session.local_date == today {
                            floor_to(now, 5)
                        } else {
                            start + Duration::hours(2)
                        };
                        self.draft = Draft::Close {
                            session: Box::new(session),
                            end: end.max(start + Duration::minutes(5)).min(now),
                        };
                        ""
                    }
                    None => "failed",
                }
            }
            Request::CheckWithoutBadge(id) => match MentorId::new(id) {
                Ok(mentor) => match self.engine.next_direction(&mentor, now) {
                    Ok(direction) => {
                        self.draft = Draft::Manual { mentor, direction };
                        ""
                    }
                    Err(_) => "failed",
                },
                Err(_) => "failed",
            },
            Request::AdjustTime(minutes) => {
                if let Draft::Close { session, end } = &mut self.draft {
                    if let Some(start) = session.start {
                        let lowest = start + Duration::minutes(1);
                        *end = (*end + Duration::minutes(minutes)).clamp(lowest, now.max(lowest));
                    }
                }
                ""
            }
            Request::CancelPanel => {
                self.draft = Draft::None;
                ""
            }
            Request::SavePanel(reason) => self.save_panel(&reason, coordinator, now),
            Request::AdjustGroup { start, minutes } => {
                let zone = self.engine.time_zone();
                let midnight = local_date(now, zone)
                    .and_time(NaiveTime::MIN)
                    .and_local_timezone(zone.tz())
                    .earliest()
                    .map(|t| t.to_utc())
                    .unwrap_or(now - Duration::hours(12));
                let step = Duration::minutes(minutes);
                if start {
                    self.group_start = (self.group_start + step).clamp(midnight, now);
                } else {
                    self.group_end = (self.group_end + step).clamp(midnight, now);
                }
                ""
            }
            Request::ToggleAttendee(id) => {
                if let Ok(mentor) = MentorId::new(id) {
                    if !self.attendees.remove(&mentor) {
                        self.attendees.insert(mentor);
                    }
                }
                ""
            }
            Request::SaveGroup(category) => self.save_group(&category, coordinator, now),
            Request::SetLanguage(code) => {
                let code = if code == "es" { "es" } else { "en" }.to_owned();
                if self
                    .engine
                    .store_mut()
                    .set_setting("language", &code)
                    .is_err()
                {
                    "failed"
                } else {
                    self.language = code.clone();
                    self.poster.post(move |ui| {
                        ui::set_language(&code);
                        ui.global::<KioskState>().set_language(code.into());
                    });
                    ""
                }
            }
            _ => "",
        };
        self.show_coordinator(now, message);
    }

    fn save_panel(&mut self, reason: &str, coordinator: &str, now: DateTime<Utc>) -> &'static str {
        let Some(reason) = reason_text(reason) else {
            return "need-reason";
        };
        let result = match &self.draft {
            Draft::None => return "",
            Draft::Close { session, end } => {
                if session.start.is_none_or(|s| *end <= s) || *end > now {
                    return "bad-time";
                }
                self.engine
                    .close_session(session, *end, coordinator, reason, now)
                    .map(|_| ())
            }
            Draft::Manual { mentor, .. } => self
                .engine
                .check_without_badge(mentor, coordinator, reason, now)
                .map(|_| ()),
        };
        match result {
            Ok(()) => {
                self.draft = Draft::None;
                "saved"
            }
            Err(e) => {
                eprintln!("kiosk: coordinator entry not recorded: {e}");
                "failed"
            }
        }
    }

    fn save_group(
        &mut self,
        category: &str,
        coordinator: &str,
        now: DateTime<Utc>,
    ) -> &'static str {
        let Some(category) = category_of(category) else {
            return "failed";
        };
        if self.attendees.is_empty() {
            return "need-attendees";
        }
        if self.group_end <= self.group_start || self.group_end > now {
            return "bad-time";
        }
        let attendees: Vec<MentorId> = self.attendees.iter().cloned().collect();
        let reason = format!("group session: {category}");
        match self.engine.record_group_session(
            &attendees,
            category,
            (self.group_start, self.group_end),
            coordinator,
            &reason,
            now,
        ) {
            Ok(_) => {
                self.attendees.clear();
                "saved"
            }
            Err(e) => {
                eprintln!("kiosk: group session not recorded: {e}");
                "bad-time"
            }
        }
    }

    /// Sends the whole coordinator screen: small (one school), and never out of step.
    fn show_coordinator(&mut self, now: DateTime<Utc>, message: &'static str) {
        let _ = self.engine.refresh_roster();
        let zone = self.engine.time_zone();
        let today_date = local_date(now, zone);
        let mut sessions = self.engine.today(now).unwrap_or_default();
        sessions.sort_by_key(|s| (s.start, s.end));
        self.today = sessions;
        let roster = self.engine.roster();
        let name_of = |m: &MentorId| {
            roster
                .and_then(|r| r.mentor(m))
                .map(|m| m.name.clone())
                .unwrap_or_else(|| m.to_string())
        };
        let clock =
            |t: Option<DateTime<Utc>>| t.map(|t| ui::local_clock(t, zone)).unwrap_or_default();
        let today_rows: Vec<TodayRow> = self
            .today
            .iter()
            .map(|s| TodayRow {
                key: s
                    .opened_by
                    .map(|id| id.to_string())
                    .unwrap_or_default()
                    .into(),
                name: name_of(&s.mentor).into(),
                date: if s.local_date == today_date {
                    String::new()
                } else {
                    s.local_date.to_string()
                }
                .into(),
                start: clock(s.start).into(),
                end: clock(s.end).into(),
                hours: match (s.start, s.end) {
                    (Some(a), Some(b)) if b >= a => format!("{:.2}", pm_shared::hours_2dp(b - a)),
                    _ => "–".into(),
                }
                .into(),
                status: if s.is_open() {
                    if s.local_date == today_date {
                        "in-now"
                    } else {
                        "open"
                    }
                } else if s.needs_review() {
                    "review"
                } else {
                    "completed"
                }
                .into(),
            })
            .collect();
        let in_now: BTreeSet<&MentorId> = self
            .today
            .iter()
            .filter(|s| s.is_open() && s.local_date == today_date)
            .map(|s| &s.mentor)
            .collect();
        let query = fold(self.search.trim());
        // Only the Mentors and Group tabs list mentors, and only Mentors shows hours (a timeline
        // read per mentor): other tabs' clicks do not pay for them.
        let listed = matches!(self.tab, Tab::Mentors | Tab::Group);
        let with_hours = self.tab == Tab::Mentors;
        let mut mentors: Vec<MentorRow> = roster
            .map(|r| r.mentors.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|_| listed)
            .filter(|m| {
                query.is_empty()
                    || fold(&m.name).contains(&query)
                    || fold(m.id.as_str()).contains(&query)
            })
            .filter(|m| {
                self.letter.is_empty() || initials(&m.name).any(|i| i.to_string() == self.letter)
            })
            .map(|m| MentorRow {
                id: m.id.as_str().into(),
                name: m.name.as_str().into(),
                hours: if with_hours {
                    ui::format_hours(
                        self.engine
                            .period_time(&m.id, now)
                            .unwrap_or_else(|_| Duration::milliseconds(m.period_time_ms)),
                    )
                    .into()
                } else {
                    SharedString::default()
                },
                in_now: in_now.contains(&m.id),
                selected: self.attendees.contains(&m.id),
            })
            .collect();
        mentors.sort_by_key(|m| fold(&m.name));
        let letters: Vec<SharedString> = roster
            .map(|r| r.mentors.as_slice())
            .unwrap_or_default()
            .iter()
            .flat_map(|m| initials(&m.name).collect::<Vec<_>>())
            .collect::<BTreeSet<char>>()
            .into_iter()
            .map(|c| c.to_uppercase().to_string().into())
            .collect();
        let letter: SharedString = self.letter.to_uppercase().into();
        let (panel, panel_name, panel_in, panel_date, panel_start, panel_time) = match &self.draft {
            Draft::None => (
                Panel::None,
                String::new(),
                true,
                String::new(),
                String::new(),
                String::new(),
            ),
            Draft::Close { session, end } => (
                Panel::Close,
                name_of(&session.mentor),
                false,
                session.local_date.to_string(),
                clock(session.start),
                ui::local_clock(*end, zone),
            ),
            Draft::Manual { mentor, direction } => (
                Panel::Manual,
                name_of(mentor),
                *direction == Direction::In,
                String::new(),
                String::new(),
                String::new(),
            ),
        };
        let close_default = matches!(self.draft, Draft::Close { .. });
        let coordinator = self.gate.touch(now).unwrap_or_default();
        let header = self.header(now);
        let (tab, group_start, group_end, count) = (
            self.tab,
            ui::local_clock(self.group_start, zone),
            ui::local_clock(self.group_end, zone),
            self.attendees.len(),
        );
        self.poster.post(move |ui| {
            let state = ui.global::<KioskState>();
            ui::apply_header(ui, &header);
            let was_panel = state.get_panel();
            state.set_coordinator_name(coordinator.into());
            state.set_tab(tab);
            state.set_message(message.into());
            state.set_today_rows(ModelRc::new(VecModel::from(today_rows)));
            state.set_mentor_rows(ModelRc::new(VecModel::from(mentors)));
            state.set_letters(ModelRc::new(VecModel::from(letters)));
            state.set_letter(letter);
            if panel != was_panel {
                // A new dialog starts with its usual reason (none for a check without badge).
                state.set_reason(if close_default { "forgot-checkout" } else { "" }.into());
            }
            state.set_panel(panel);
            state.set_panel_name(panel_name.into());
            state.set_panel_in(panel_in);
            state.set_panel_date(panel_date.into());
            state.set_panel_start(panel_start.into());
            state.set_panel_time(panel_time.into());
            state.set_group_start(group_start.into());
            state.set_group_end(group_end.into());
            state.set_group_count(i32::try_from(count).unwrap_or(i32::MAX));
            if !matches!(state.get_screen(), Screen::Confirmation | Screen::Rejection) {
                state.set_screen(Screen::Coordinator);
            }
        });
    }
}

/// Closes coordinator mode on screen: back to scanning, nothing of it left showing.
fn lock_view(ui: &MainWindow) {
    let state = ui.global::<KioskState>();
    state.set_coordinator_name("".into());
    state.set_pin("".into());
    state.set_pin_message("".into());
    state.set_panel(Panel::None);
    state.set_message("".into());
    state.set_search("".into());
    state.set_today_rows(ModelRc::default());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_ignores_case_and_accents() {
        assert_eq!(fold("María José"), "maria jose");
        assert!(fold("Peña Núñez").contains(&fold("PENA")));
    }

    #[test]
    fn initials_are_folded_first_letters_of_each_name() {
        assert_eq!(initials("María  Ñúñez-Díaz").collect::<String>(), "mn");
        assert_eq!(initials("Ann Lee").collect::<String>(), "al");
    }

    #[test]
    fn every_reason_chip_has_an_audit_text() {
        for code in [
            "forgot-checkout",
            "left-early",
            "forgot-badge",
            "camera",
            "other",
        ] {
            assert!(reason_text(code).is_some(), "{code}");
        }
        assert_eq!(reason_text(""), None);
    }
}
