//! Who may open coordinator mode, and for how long: PINs checked against the roster's hashes,
//! a lockout after repeated wrong PINs, and a lock after inactivity. Time is passed in.

use chrono::{DateTime, Duration, Utc};
use pm_shared::{check_pin, verify_pin, Coordinator};

/// Wrong PINs in a row before the keypad locks.
pub const MAX_WRONG_PINS: u32 = 5;
/// How long the keypad stays locked after too many wrong PINs; each lockout that follows
/// without a right PIN between doubles it, up to [`MAX_LOCKOUT`].
pub const LOCKOUT: Duration = Duration::minutes(5);
/// The longest lockout: long enough to make guessing hopeless, short enough that someone
/// locking the keypad on purpose keeps the coordinator out for an hour at most.
pub const MAX_LOCKOUT: Duration = Duration::hours(1);
/// Coordinator mode closes itself after this long without a touch.
pub const IDLE_LOCK: Duration = Duration::minutes(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinVerdict {
    /// The PIN belongs to this coordinator.
    Unlocked { coordinator: String },
    /// Not six or more digits: not counted as an attempt.
    Malformed,
    /// Wrong; `left` attempts before the lockout.
    Wrong { left: u32 },
    /// Too many wrong PINs: try again after `until`.
    LockedOut { until: DateTime<Utc> },
    /// The roster has no coordinator (never synced, or none set up on the server).
    NoCoordinators,
}

/// The PIN keypad's memory of failures, and the open coordinator session if any.
#[derive(Debug, Default)]
pub struct PinGate {
    wrong_in_a_row: u32,
    locked_until: Option<DateTime<Utc>>,
    /// Lockouts since the last right PIN: each makes the next one longer.
    lockouts: u32,
    session: Option<(String, DateTime<Utc>)>,
}

impl PinGate {
    /// A gate that remembers failures from before a restart (see [`PinGate::failures`]), so
    /// switching the kiosk off and on does not reset the lockout.
    pub fn restored(wrong_in_a_row: u32, locked_until: Option<DateTime<Utc>>) -> Self {
        Self {
            wrong_in_a_row,
            locked_until,
            lockouts: 0,
            session: None,
        }
    }

    /// The lockouts since the last right PIN, kept across a restart too.
    pub fn with_lockouts(mut self, lockouts: u32) -> Self {
        self.lockouts = lockouts;
        self
    }

    pub fn lockouts(&self) -> u32 {
        self.lockouts
    }

    /// What to keep across a restart: wrong PINs in a row, and the lockout's end if any.
    pub fn failures(&self) -> (u32, Option<DateTime<Utc>>) {
        (self.wrong_in_a_row, self.locked_until)
    }

    /// Checks `pin` against the coordinators' hashes (slow on purpose: Argon2id, so call it
    /// off the UI thread).
    pub fn try_unlock(
        &mut self,
        pin: &str,
        coordinators: &[Coordinator],
        now: DateTime<Utc>,
    ) -> PinVerdict {
        if let Some(until) = self.locked_until {
            if now < until {
                return PinVerdict::LockedOut { until };
            }
            self.locked_until = None;
            self.wrong_in_a_row = 0;
        }
        if coordinators.is_empty() {
            return PinVerdict::NoCoordinators;
        }
        if check_pin(pin).is_err() {
            return PinVerdict::Malformed;
        }
        if let Some(c) = coordinators.iter().find(|c| verify_pin(pin, &c.pin_hash)) {
            self.wrong_in_a_row = 0;
            self.lockouts = 0;
            self.session = Some((c.name.clone(), now));
            return PinVerdict::Unlocked {
                coordinator: c.name.clone(),
            };
        }
        self.wrong_in_a_row += 1;
        if self.wrong_in_a_row >= MAX_WRONG_PINS {
            // Someone guessing online waits longer each time: 5, 10, 20, 40 minutes, then an hour.
            let doubling = 2i32.saturating_pow(self.lockouts.min(16));
            let until = now + (LOCKOUT * doubling).min(MAX_LOCKOUT);
            self.lockouts = self.lockouts.saturating_add(1);
            self.locked_until = Some(until);
            PinVerdict::LockedOut { until }
        } else {
            PinVerdict::Wrong {
                left: MAX_WRONG_PINS - self.wrong_in_a_row,
            }
        }
    }

    /// The coordinator whose session is open, noting the touch; `None` once it has been idle
    /// too long (the session is then closed).
    pub fn touch(&mut self, now: DateTime<Utc>) -> Option<String> {
        let open = self.is_open(now);
        match (&mut self.session, open) {
            (Some((name, last)), true) => {
                *last = now;
                Some(name.clone())
            }
            _ => None,
        }
    }

    /// Whether a coordinator session is open and has been touched within [`IDLE_LOCK`];
    /// an idle session is closed.
    pub fn is_open(&mut self, now: DateTime<Utc>) -> bool {
        match &self.session {
            Some((_, last)) if now - *last < IDLE_LOCK => true,
            Some(_) => {
                self.session = None;
                false
            }
            None => false,
        }
    }

    pub fn lock(&mut self) {
        self.session = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pm_shared::hash_pin;

    fn coordinators() -> Vec<Coordinator> {
        vec![Coordinator {
            name: "Ms. Rivera".into(),
            pin_hash: hash_pin("246810", &[3; 16]).expect("hash"),
            change_salt: None,
        }]
    }

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default() + Duration::minutes(minutes)
    }

    #[test]
    fn right_pin_opens_and_idle_closes() {
        let mut gate = PinGate::default();
        let c = coordinators();
        assert_eq!(
            gate.try_unlock("246810", &c, t(0)),
            PinVerdict::Unlocked {
                coordinator: "Ms. Rivera".into()
            }
        );
        assert_eq!(gate.touch(t(1)).as_deref(), Some("Ms. Rivera"));
        assert!(gate.is_open(t(2)), "touched at 1, idle 1 min");
        assert!(!gate.is_open(t(4)), "idle more than two minutes");
        assert_eq!(gate.touch(t(4)), None);
    }

    #[test]
    fn five_wrong_pins_lock_the_keypad_even_for_the_right_one() {
        let mut gate = PinGate::default();
        let c = coordinators();
        assert_eq!(gate.try_unlock("12", &c, t(0)), PinVerdict::Malformed);
        for left in (1..MAX_WRONG_PINS).rev() {
            assert_eq!(
                gate.try_unlock("111111", &c, t(0)),
                PinVerdict::Wrong { left }
            );
        }
        let until = t(0) + LOCKOUT;
        assert_eq!(
            gate.try_unlock("111111", &c, t(0)),
            PinVerdict::LockedOut { until }
        );
        assert_eq!(
            gate.try_unlock("246810", &c, t(1)),
            PinVerdict::LockedOut { until }
        );
        assert!(matches!(
            gate.try_unlock("246810", &c, t(6)),
            PinVerdict::Unlocked { .. }
        ));
    }

    #[test]
    fn a_restart_keeps_the_count_and_the_lockout() {
        let c = coordinators();
        let mut gate = PinGate::default();
        for _ in 0..3 {
            gate.try_unlock("111111", &c, t(0));
        }
        let (wrong, until) = gate.failures();
        let mut after_restart = PinGate::restored(wrong, until);
        assert_eq!(
            after_restart.try_unlock("111111", &c, t(0)),
            PinVerdict::Wrong { left: 1 }
        );
        after_restart.try_unlock("111111", &c, t(0));
        let (wrong, until) = after_restart.failures();
        assert!(until.is_some());
        let mut again = PinGate::restored(wrong, until);
        assert!(matches!(
            again.try_unlock("246810", &c, t(1)),
            PinVerdict::LockedOut { .. }
        ));
    }

    #[test]
    fn each_lockout_is_longer_until_a_right_pin() {
        let c = coordinators();
        let mut gate = PinGate::default();
        let mut now = t(0);
        let mut lengths = Vec::new();
        for _ in 0..3 {
            let mut verdict = PinVerdict::NoCoordinators;
            for _ in 0..MAX_WRONG_PINS {
                verdict = gate.try_unlock("111111", &c, now);
            }
            let PinVerdict::LockedOut { until } = verdict else {
                panic!("{verdict:?}");
            };
            lengths.push(until - now);
            now = until;
        }
        assert_eq!(
            lengths,
            [
                Duration::minutes(5),
                Duration::minutes(10),
                Duration::minutes(20)
            ]
        );
        // Kept across a restart; a right PIN starts over.
        let mut again = PinGate::restored(0, None).with_lockouts(gate.lockouts());
        assert_eq!(again.lockouts(), 3);
        assert!(matches!(
            again.try_unlock("246810", &c, now),
            PinVerdict::Unlocked { .. }
        ));
        assert_eq!(again.lockouts(), 0);
    }

    #[test]
    fn no_coordinators_means_no_unlock() {
        let mut gate = PinGate::default();
        assert_eq!(
            gate.try_unlock("246810", &[], t(0)),
            PinVerdict::NoCoordinators
        );
    }
}
