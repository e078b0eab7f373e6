//! A coordinator changes her own PIN at the kiosk: her current PIN (a try like any other,
//! counted toward the lockout), a new one (8 to 12 digits, not trivial), the new one again.
//! The new hash works here at once and reaches the server at the next sync; an organizer's
//! reset meanwhile wins (see `Engine::coordinators`).

use chrono::{DateTime, Utc};
use pm_shared::protocol::OwnPinChange;
use pm_shared::{check_new_pin, DomainError};
use slint::ComponentHandle;

use super::desk::Desk;
use crate::coordinator::PinVerdict;
use crate::ui::{self, KioskState, Screen};

/// Where she is in the change. The new PIN stays in memory only, until it is hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Current,
    /// Her current PIN, checked: the change is proven with it.
    New {
        old: String,
    },
    Again {
        old: String,
        new: String,
    },
}

impl Step {
    fn code(&self) -> &'static str {
        match self {
            Step::Current => "current",
            Step::New { .. } => "new",
            Step::Again { .. } => "again",
        }
    }
}

impl Desk {
    /// Opens the keypad for her current PIN, if her PIN can be changed here: it was set by
    /// this version (the roster carries its change salt), and no change of hers is still on
    /// its way to the server.
    pub(super) fn start_pin_change(&mut self, coordinator: &str) {
        let hers = self
            .engine
            .coordinators()
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.name == coordinator);
        let pending = self
            .engine
            .store()
            .own_pins()
            .unwrap_or_default()
            .iter()
            .any(|p| p.name == coordinator);
        let refusal = match hers {
            _ if pending => Some("pin-pending"),
            Some(c) if c.change_salt.is_some() => None,
            _ => Some("pin-organizer-only"),
        };
        if let Some(notice) = refusal {
            self.poster
                .post(move |ui| ui.global::<KioskState>().set_notice(notice.into()));
            return;
        }
        self.pin_change = Some(Step::Current);
        self.show_pin_step(coordinator, "");
    }

    /// Back to coordinator mode, nothing changed.
    pub(super) fn cancel_pin_change(&mut self, now: DateTime<Utc>) {
        self.pin_change = None;
        self.show_coordinator(now, "");
        self.poster.post(|ui| {
            let state = ui.global::<KioskState>();
            state.set_pin_step("".into());
            state.set_pin("".into());
        });
    }

    /// One step of the change, with the digits she entered.
    pub(super) fn pin_change_step(&mut self, coordinator: &str, pin: &str, now: DateTime<Utc>) {
        let Some(step) = self.pin_change.clone() else {
            return;
        };
        match step {
            Step::Current => {
                let hers: Vec<pm_shared::Coordinator> = self
                    .engine
                    .coordinators()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| c.name == coordinator)
                    .collect();
                let verdict = self.gate.try_unlock(pin, &hers, now);
                self.save_pin_failures();
                match verdict {
                    PinVerdict::Unlocked { .. } => {
                        self.pin_change = Some(Step::New {
                            old: pin.to_owned(),
                        });
                        self.show_pin_step(coordinator, "");
                    }
                    PinVerdict::Wrong { left } => self.show_pin_message("wrong", left, ""),
                    PinVerdict::LockedOut { until } => {
                        // Locked out: coordinator mode closes, as after wrong PINs at the door.
                        self.pin_change = None;
                        self.gate.lock();
                        let until = ui::local_clock(until, self.engine.time_zone());
                        self.show_locked();
                        self.poster.post(move |ui| {
                            let state = ui.global::<KioskState>();
                            state.set_pin_step("".into());
                            state.set_pin_message("locked".into());
                            state.set_pin_until(until.into());
                            state.set_screen(Screen::Pin);
                        });
                    }
                    _ => self.show_pin_message("malformed", 0, ""),
                }
            }
            Step::New { old } => match check_new_pin(pin) {
                Ok(()) => {
                    self.pin_change = Some(Step::Again {
                        old,
                        new: pin.to_owned(),
                    });
                    self.show_pin_step(coordinator, "");
                }
                Err(DomainError::TrivialPin) => self.show_pin_message("trivial", 0, ""),
                Err(_) => self.show_pin_message("short", 0, ""),
            },
            Step::Again { old, new } if new != pin => {
                // Start the new PIN over: she may not remember which of the two she meant.
                self.pin_change = Some(Step::New { old });
                self.show_pin_step(coordinator, "mismatch");
            }
            Step::Again { old, new } => {
                let saved = self.save_own_pin(coordinator, &old, &new);
                self.pin_change = None;
                self.show_coordinator(now, "");
                let done = if saved { "pin-changed" } else { "pin-failed" };
                self.poster.post(move |ui| {
                    let state = ui.global::<KioskState>();
                    state.set_pin_step("".into());
                    state.set_pin("".into());
                    state.set_pin_message("".into());
                    state.set_notice(done.into());
                });
            }
        }
    }

    /// Hashes the new PIN (Argon2id, as the server does), derives its change key, proves the
    /// change with the old PIN's change key, and keeps it until the server has it.
    fn save_own_pin(&mut self, coordinator: &str, old: &str, new: &str) -> bool {
        let Some(current) = self
            .engine
            .coordinators()
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.name == coordinator)
        else {
            return false;
        };
        let Some(old_salt) = current.change_salt.as_deref() else {
            return false;
        };
        let Ok(old_key) = pm_shared::change_key(old, old_salt) else {
            return false;
        };
        let Ok(secrets) = pm_shared::pin_secrets(new, &rand::random(), &rand::random()) else {
            return false;
        };
        let mut change = OwnPinChange {
            name: coordinator.to_owned(),
            pin_hash: secrets.hash,
            replaces: current.pin_hash,
            change_salt: secrets.change_salt,
            change_key: String::new(),
            proof: String::new(),
        };
        // Kept and sent wrapped: a pending change read off this disk gives no key.
        let Some(wrapped) = pm_shared::wrap_change_key(&old_key, &change, &secrets.change_key)
        else {
            return false;
        };
        change.change_key = wrapped;
        change.proof = pm_shared::own_pin_proof(&old_key, &change);
        match self.engine.store_mut().save_own_pin(&change) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("kiosk: new PIN not saved: {e}");
                false
            }
        }
    }

    fn show_pin_step(&self, coordinator: &str, message: &'static str) {
        let step = self.pin_change.as_ref().map(Step::code).unwrap_or("");
        let name = coordinator.to_owned();
        self.poster.post(move |ui| {
            let state = ui.global::<KioskState>();
            state.set_pin_step(step.into());
            state.set_pin_name(name.into());
            state.set_pin("".into());
            state.set_pin_message(message.into());
            state.set_notice("".into());
            state.set_screen(Screen::Pin);
        });
    }

    fn show_pin_message(&self, message: &'static str, left: u32, until: &str) {
        let until = until.to_owned();
        self.poster.post(move |ui| {
            let state = ui.global::<KioskState>();
            state.set_pin_message(message.into());
            state.set_pin_left(i32::try_from(left).unwrap_or(0));
            state.set_pin_until(until.into());
        });
    }
}
