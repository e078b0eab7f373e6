//! The desk: everything behind the screen, on its own thread. It owns the engine, the PIN
//! gate and the coordinator's open dialog, and watches the wall clock for jumps.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Duration, DurationRound, Utc};
use pm_shared::{HourCategory, MentorId, ReviewEntry, Session};
use slint::ComponentHandle;

use super::{lock_view, Clock, DeskSettings, Request, SyncMode, UiPoster};
use crate::coordinator::{PinGate, PinVerdict, IDLE_LOCK};
use crate::engine::{local_date, Direction, Engine};
use crate::ui::{self, HeaderView, KioskState, Screen, Tab};

/// The coordinator's open dialog.
pub(super) enum Draft {
    None,
    Close {
        session: Box<Session>,
        end: DateTime<Utc>,
    },
    Manual {
        mentor: MentorId,
        direction: Direction,
    },
    /// New times for a review item (a close when it has no end yet).
    Review {
        entry: Box<ReviewEntry>,
        start: Option<DateTime<Utc>>,
        end: DateTime<Utc>,
    },
    /// Voiding a review item.
    Void {
        entry: Box<ReviewEntry>,
    },
}

/// The desk: everything behind the screen, on its own thread.
pub(super) struct Desk {
    pub(super) engine: Engine,
    pub(super) poster: UiPoster,
    pub(super) clock: Clock,
    pub(super) settings: DeskSettings,
    pub(super) gate: PinGate,
    /// When the PIN keypad was opened: it closes itself when left alone.
    pub(super) pin_opened: Option<DateTime<Utc>>,
    pub(super) language: String,
    pub(super) tab: Tab,
    pub(super) search: String,
    /// The initial the list is narrowed to, folded ("r"), or empty.
    pub(super) letter: String,
    pub(super) draft: Draft,
    pub(super) group_start: DateTime<Utc>,
    pub(super) group_end: DateTime<Utc>,
    /// The group tab's attendees, each with the span she was tapped with (a paper sheet's
    /// mentors may have come and gone at different times).
    pub(super) attendees: BTreeMap<MentorId, crate::engine::Span>,
    /// Today's sessions as last shown: the Today list's keys refer to these.
    pub(super) today: Vec<Session>,
    /// The review items as last shown: the Needs review list's keys refer to these.
    pub(super) review: Vec<ReviewEntry>,
    /// The wall clock and the monotonic clock read together at the last tick: a wall clock
    /// that moves otherwise has jumped (`None` when the desk does not watch the clock).
    pub(super) clock_reading: Option<(DateTime<Utc>, std::time::Instant)>,
    /// The camera state last written for the health report.
    pub(super) camera_saved: Option<bool>,
    /// A coordinator changing her own PIN: which step she is at.
    pub(super) pin_change: Option<super::own_pin::Step>,
}

/// The reasons the coordinator picks from, as recorded in the audit trail.
pub(super) fn reason_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "forgot-checkout" => "forgot to check out",
        "left-early" => "left without scanning",
        "forgot-badge" => "forgot her badge",
        "camera" => "camera not working",
        "wrong-time" => "wrong time recorded",
        "mistake" => "recorded by mistake",
        "duplicate" => "entered twice",
        "paper-sheet" => "paper sign-in sheet",
        "kiosk-broken" => "the kiosk was not working",
        "other" => "other (ask the coordinator)",
        _ => return None,
    })
}

pub(super) fn category_of(code: &str) -> Option<HourCategory> {
    HourCategory::ALL.into_iter().find(|c| c.as_str() == code)
}

/// Lower case without accents, so "maria" finds "María".
pub(super) fn fold(s: &str) -> String {
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
pub(super) fn initials(name: &str) -> impl Iterator<Item = char> + '_ {
    name.split_whitespace()
        .filter_map(|word| fold(word).chars().next())
        .filter(|c| c.is_alphabetic())
}

pub(super) fn floor_to(t: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(minutes)).unwrap_or(t)
}

impl Desk {
    pub(super) fn new(
        engine: Engine,
        poster: UiPoster,
        clock: Clock,
        settings: DeskSettings,
    ) -> Self {
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
        )
        .with_lockouts(
            setting("pin_lockouts")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        );
        Self {
            engine,
            poster,
            clock,
            settings,
            gate,
            pin_opened: None,
            pin_change: None,
            language,
            tab: Tab::Today,
            search: String::new(),
            letter: String::new(),
            draft: Draft::None,
            group_start: now,
            group_end: now,
            attendees: BTreeMap::new(),
            today: Vec::new(),
            review: Vec::new(),
            clock_reading: None,
            camera_saved: None,
        }
    }

    pub(super) fn start(&mut self) {
        if self.settings.watch_clock {
            let now = (self.clock)();
            // What the clock said before this start is unknown: the server will not carry
            // earlier clock checks across it.
            if let Err(e) = self
                .engine
                .record_clock_event(pm_shared::EventKind::Started, now)
            {
                eprintln!("kiosk: start not recorded: {e}");
            }
            self.clock_reading = Some((now, std::time::Instant::now()));
        }
        let language = self.language.clone();
        self.poster.post(move |ui| {
            ui::set_language(&language);
            ui.global::<KioskState>().set_language(language.into());
        });
        self.tick();
    }

    pub(super) fn handle(&mut self, request: Request) {
        let now = (self.clock)();
        match request {
            Request::Scan(text) => self.scan(&text, now),
            Request::Tick => self.tick(),
            Request::OpenCoordinator => {
                if self.gate.touch(now).is_some() {
                    self.show_coordinator(now, "");
                } else {
                    self.pin_opened = Some(now);
                    let mut names: Vec<String> = self
                        .engine
                        .roster()
                        .map(|r| r.coordinators.iter().map(|c| c.name.clone()).collect())
                        .unwrap_or_default();
                    names.sort();
                    // One coordinator: her name is already chosen.
                    let chosen = match names.as_slice() {
                        [only] => only.clone(),
                        _ => String::new(),
                    };
                    self.poster.post(move |ui| {
                        let state = ui.global::<KioskState>();
                        let names: Vec<slint::SharedString> =
                            names.iter().map(|n| n.as_str().into()).collect();
                        state.set_coordinator_names(
                            std::rc::Rc::new(slint::VecModel::from(names)).into(),
                        );
                        state.set_pin_name(chosen.into());
                        state.set_pin("".into());
                        state.set_pin_message("".into());
                        state.set_screen(Screen::Pin);
                    });
                }
            }
            Request::Unlock { name, pin } => self.unlock(&name, &pin, now),
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

    pub(super) fn header(&mut self, now: DateTime<Utc>) -> HeaderView {
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

    /// Records a clock jump when the wall clock moved against the monotonic clock by more
    /// than the tolerance since the last tick (an NTP correction, a board that booted at 1970).
    fn watch_clock(&mut self, now: DateTime<Utc>) {
        let Some((wall, mono)) = self.clock_reading else {
            return;
        };
        let elapsed = Duration::from_std(mono.elapsed()).unwrap_or_else(|_| Duration::zero());
        let drift = now - (wall + elapsed);
        self.clock_reading = Some((now, std::time::Instant::now()));
        if drift.abs() > self.engine.rules().clock_skew_tolerance() {
            let kind = pm_shared::EventKind::ClockJump {
                delta_ms: drift.num_milliseconds(),
            };
            if let Err(e) = self.engine.record_clock_event(kind, now) {
                eprintln!("kiosk: clock jump not recorded: {e}");
            }
        }
    }

    /// Keeps the camera's state where the sync worker reads it for the health report.
    fn save_camera_state(&mut self) {
        let Some(camera) = &self.settings.camera else {
            return;
        };
        let ok = !camera.no_camera.load(Ordering::Relaxed);
        if self.camera_saved != Some(ok) {
            let state = if ok { "ok" } else { "not-working" };
            if self
                .engine
                .store_mut()
                .set_setting(crate::sync::CAMERA_SETTING, state)
                .is_ok()
            {
                self.camera_saved = Some(ok);
            }
        }
    }

    fn tick(&mut self) {
        let now = (self.clock)();
        self.watch_clock(now);
        self.save_camera_state();
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

    /// Checks the PIN against the named coordinator's hash alone: one slow hash per try.
    fn unlock(&mut self, name: &str, pin: &str, now: DateTime<Utc>) {
        let coordinators = self.engine.coordinators().unwrap_or_default();
        let hers: Vec<pm_shared::Coordinator> = coordinators
            .iter()
            .filter(|c| c.name == name)
            .cloned()
            .collect();
        if hers.is_empty() && !coordinators.is_empty() {
            // No name tapped (or one removed since): not a try.
            self.poster.post(|ui| {
                ui.global::<KioskState>()
                    .set_pin_message("pick-name".into());
            });
            return;
        }
        let verdict = self.gate.try_unlock(pin, &hers, now);
        self.save_pin_failures();
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

    /// Failures survive a restart: switching the kiosk off does not reset the lockout.
    pub(super) fn save_pin_failures(&mut self) {
        let (wrong, until) = self.gate.failures();
        let lockouts = self.gate.lockouts();
        let store = self.engine.store_mut();
        let saved = store
            .set_setting("pin_wrong", &wrong.to_string())
            .and_then(|()| {
                store.set_setting(
                    "pin_locked_until",
                    &until.map(|t| t.to_rfc3339()).unwrap_or_default(),
                )
            })
            .and_then(|()| store.set_setting("pin_lockouts", &lockouts.to_string()));
        if let Err(e) = saved {
            eprintln!("kiosk: PIN failures not saved: {e}");
        }
    }

    pub(super) fn show_locked(&mut self) {
        self.pin_change = None;
        self.draft = Draft::None;
        self.search.clear();
        self.letter.clear();
        self.attendees.clear();
        self.poster.post(lock_view);
    }
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
            "wrong-time",
            "mistake",
            "duplicate",
            "paper-sheet",
            "kiosk-broken",
            "other",
        ] {
            assert!(reason_text(code).is_some(), "{code}");
        }
        assert_eq!(reason_text(""), None);
    }
}
