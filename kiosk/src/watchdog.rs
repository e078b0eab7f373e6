//! systemd's service notification and watchdog (`Type=notify`, `WatchdogSec=`), sent with the
//! `sd-notify` crate. Whether the watchdog is ours is read here: under cage, systemd's main
//! process (`WATCHDOG_PID`) is cage, our parent, which `sd_notify::watchdog_enabled` would
//! refuse. The watchdog is fed only after a job posted
//! through the UI's event loop has run, so a hung UI thread (not just a live desk thread)
//! stops the pings and systemd restarts the kiosk.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

use crate::app::UiPoster;

/// Sends one notification (ready, watchdog, stopping); nothing happens without systemd.
pub fn notify(state: NotifyState<'_>) {
    // Nothing to do about a failure here: systemd notices a missing ping by itself.
    let _ = sd_notify::notify(&[state]);
}

/// How often to feed the watchdog: half of `WATCHDOG_USEC`, if systemd asked for one.
pub fn interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    // The watchdog is meant for this process (or for cage, our parent, with NotifyAccess=all).
    if let Some(pid) = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        let ours = std::process::id();
        let parent = std::os::unix::process::parent_id();
        if pid != ours && pid != parent {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// A heartbeat through the UI event loop: each round posts a job that bumps a counter, and
/// the watchdog is fed only when the previous round's job has run.
pub struct Heartbeat {
    ran: Arc<AtomicU64>,
    posted: u64,
}

impl Heartbeat {
    pub fn new() -> Self {
        Self {
            ran: Arc::new(AtomicU64::new(0)),
            posted: 0,
        }
    }

    /// Whether the UI ran the last job posted (true on the first round), then posts the next.
    pub fn round(&mut self, poster: &UiPoster) -> bool {
        let alive = self.ran.load(Ordering::Acquire) >= self.posted;
        self.posted += 1;
        let ran = self.ran.clone();
        let n = self.posted;
        poster.post(move |_| ran.store(n, Ordering::Release));
        alive
    }
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

/// Under systemd with a watchdog: tells it the kiosk is ready and feeds the watchdog while the
/// UI thread keeps running jobs, until `stop`. Does nothing otherwise.
pub fn spawn(poster: UiPoster, stop: Arc<AtomicBool>) {
    notify(NotifyState::Ready);
    let Some(every) = interval() else {
        return;
    };
    std::thread::spawn(move || {
        let mut heart = Heartbeat::new();
        while !stop.load(Ordering::Relaxed) {
            if heart.round(&poster) {
                notify(NotifyState::Watchdog);
            }
            std::thread::sleep(every);
        }
        notify(NotifyState::Stopping);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_fed_only_while_the_ui_runs_jobs() {
        let (tx, rx) = std::sync::mpsc::channel::<crate::app::UiJob>();
        let poster = UiPoster::Channel(tx);
        let mut heart = Heartbeat::new();
        assert!(heart.round(&poster), "first round");
        // The UI thread is hung: the job waits, the next round says so.
        assert!(!heart.round(&poster));
        assert!(!heart.round(&poster));
        // It runs its jobs again (they need no window here: run them as the UI would).
        let jobs: Vec<_> = rx.try_iter().collect();
        assert_eq!(jobs.len(), 3);
        let ran = heart.ran.clone();
        for (i, _) in jobs.into_iter().enumerate() {
            ran.store(i as u64 + 1, Ordering::Release);
        }
        assert!(heart.round(&poster));
    }
}
