//! The sync client: push undelivered events (at least once; the server makes it exactly once),
//! pull the roster. Events are marked delivered only on the server's acknowledgement.

use std::time::Duration as StdDuration;

use chrono::{DateTime, DurationRound, Utc};
use pm_shared::protocol::{
    ErrorBody, KioskHealth, RosterResponse, UploadAck, UploadBatch, PROTOCOL_VERSION,
};
use pm_shared::{EventId, EventKind, KioskId, SeriesId, TimeZone};

use crate::config::Config;
use crate::store::Store;
use crate::KioskError;

/// The store setting where the UI keeps the camera's state (`ok`, `not-working`).
pub const CAMERA_SETTING: &str = "camera";

/// Events per upload.
pub const BATCH_SIZE: usize = 500;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub stored: usize,
    pub already_stored: usize,
    pub set_aside: usize,
    /// Times the server reported a series clash and the kiosk started a new series.
    pub new_series: usize,
}

pub struct SyncClient {
    base: String,
    token: String,
    kiosk: KioskId,
    agent: ureq::Agent,
}

impl SyncClient {
    pub fn new(config: &Config) -> Result<Self, KioskError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(StdDuration::from_secs(60)))
            .timeout_connect(Some(StdDuration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Self {
            base: config.server.clone(),
            token: config.token.clone(),
            kiosk: config.kiosk_id()?,
            agent,
        })
    }

    fn unreachable(&self, e: ureq::Error) -> KioskError {
        KioskError::Unreachable {
            url: self.base.clone(),
            why: e.to_string(),
        }
    }

    fn refused(&self, status: u16, retry_after: Option<u64>, body: &mut ureq::Body) -> KioskError {
        if status == 429 {
            return KioskError::Busy {
                retry_after_secs: retry_after.unwrap_or(5).clamp(1, 300),
            };
        }
        let why = match body.read_json::<ErrorBody>() {
            Ok(e) => format!("HTTP {status}: {}", e.message),
            Err(_) => format!("HTTP {status}"),
        };
        KioskError::Server {
            url: self.base.clone(),
            why,
        }
    }

    /// Sends every undelivered event, batch by batch, until none is left.
    pub fn push(
        &self,
        store: &mut Store,
        now: impl Fn() -> DateTime<Utc>,
    ) -> Result<PushReport, KioskError> {
        let mut report = PushReport::default();
        // The last reading of our clock against the server's: (our clock mid-request, theirs).
        let mut reading: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        loop {
            let events = store.undelivered(BATCH_SIZE)?;
            if events.is_empty() {
                if report.stored + report.already_stored + report.set_aside > 0 {
                    if let Some((ours, theirs)) = reading {
                        self.record_clock_check(store, ours, theirs)?;
                    }
                }
                return Ok(report);
            }
            let kiosk_level: std::collections::HashSet<EventId> = events
                .iter()
                .filter(|e| e.kind.is_kiosk_level())
                .map(|e| e.id)
                .collect();
            let sent_at = now();
            let batch = UploadBatch {
                protocol: PROTOCOL_VERSION,
                kiosk: self.kiosk.clone(),
                kiosk_clock: sent_at,
                events,
            };
            let mut response = self
                .agent
                .post(&format!("{}/api/v1/events", self.base))
                .header("Authorization", &format!("Bearer {}", self.token))
                .send_json(&batch)
                .map_err(|e| self.unreachable(e))?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let retry = retry_after(&response);
                return Err(self.refused(status, retry, response.body_mut()));
            }
            let ack: UploadAck =
                response
                    .body_mut()
                    .read_json()
                    .map_err(|e| KioskError::Server {
                        url: self.base.clone(),
                        why: format!("unreadable acknowledgement: {e}"),
                    })?;
            let received_at = now();
            reading = Some((sent_at + (received_at - sent_at) / 2, ack.server_clock));
            let mut delivered = ack.stored.clone();
            delivered.extend(ack.already_stored.iter().copied());
            store.mark_delivered(&delivered, &ack.set_aside, received_at)?;
            // The report counts mentors' events; the kiosk's own clock checks go unmentioned.
            let mentors =
                |ids: &[EventId]| ids.iter().filter(|id| !kiosk_level.contains(id)).count();
            report.stored += mentors(&ack.stored);
            report.already_stored += mentors(&ack.already_stored);
            report.set_aside += ack.set_aside.len();
            if !ack.conflicts.is_empty() {
                // Our numbers name other events on the server: this database is an old copy.
                let fresh = SeriesId::from_parts(
                    u64::try_from(now().timestamp_millis()).unwrap_or(0),
                    rand::random(),
                );
                store.start_new_series(fresh, now())?;
                report.new_series += 1;
                if report.new_series > 3 {
                    return Err(KioskError::Server {
                        url: self.base.clone(),
                        why: "the server keeps reporting series clashes".into(),
                    });
                }
            } else if delivered.len() + ack.set_aside.len() < batch.events.len() {
                return Err(KioskError::Server {
                    url: self.base.clone(),
                    why: "the server acknowledged only part of a batch".into(),
                });
            }
        }
    }

    /// Records, after a sync that delivered mentors' events, how our clock stood against the
    /// server's: the reading that brackets the next events recorded (see the sessionizer).
    fn record_clock_check(
        &self,
        store: &mut Store,
        ours: DateTime<Utc>,
        theirs: DateTime<Utc>,
    ) -> Result<(), KioskError> {
        let zone = match store.roster()? {
            Some(r) => r.roster.school.time_zone,
            None => TimeZone::new("UTC")?,
        };
        let ours = ours
            .duration_trunc(chrono::Duration::milliseconds(1))
            .unwrap_or(ours);
        let id = EventId::from_parts(
            u64::try_from(ours.timestamp_millis()).unwrap_or(0),
            rand::random(),
        );
        store.append_clock_event(
            id,
            self.kiosk.clone(),
            ours,
            zone,
            EventKind::ClockCheck {
                server_clock: theirs,
            },
        )?;
        Ok(())
    }

    /// Pulls the roster if it changed. Returns whether it did.
    pub fn pull(
        &self,
        store: &mut Store,
        now: impl Fn() -> DateTime<Utc>,
    ) -> Result<bool, KioskError> {
        let since = store.roster_version()?.unwrap_or_default();
        let mut response = self
            .agent
            .get(&format!("{}/api/v1/roster", self.base))
            .query("since", &since)
            .query("protocol", PROTOCOL_VERSION.to_string())
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let retry = retry_after(&response);
            return Err(self.refused(status, retry, response.body_mut()));
        }
        let answer: RosterResponse =
            response
                .body_mut()
                .read_json()
                .map_err(|e| KioskError::Server {
                    url: self.base.clone(),
                    why: format!("unreadable roster: {e}"),
                })?;
        if answer.protocol != PROTOCOL_VERSION {
            return Err(KioskError::Server {
                url: self.base.clone(),
                why: format!(
                    "protocol version {} (this kiosk speaks {PROTOCOL_VERSION})",
                    answer.protocol
                ),
            });
        }
        match answer.roster {
            Some(roster) => {
                roster.rules.validate()?;
                store.save_roster(&roster, now())?;
                Ok(true)
            }
            None => {
                store.touch_roster(now())?;
                Ok(false)
            }
        }
    }

    /// Tells the server how this kiosk is doing. Best effort: a server that does not answer
    /// it (an older one) changes nothing, and no hour depends on it.
    pub fn report_health(&self, store: &Store, now: DateTime<Utc>) -> Result<(), KioskError> {
        let health = KioskHealth {
            protocol: PROTOCOL_VERSION,
            kiosk_clock: now,
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            camera: store
                .setting(CAMERA_SETTING)?
                .filter(|c| c == "ok" || c == "not-working")
                .unwrap_or_else(|| "unknown".into()),
            last_scan: store.last_scan_at()?,
            pending_events: store.sync_status()?.pending,
        };
        let mut response = self
            .agent
            .post(&format!("{}/api/v1/health", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(&health)
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let retry = retry_after(&response);
            return Err(self.refused(status, retry, response.body_mut()));
        }
        Ok(())
    }

    /// Sends the PIN changes coordinators made here. One the server refused for good is
    /// forgotten (409: an organizer reset her PIN meanwhile, which wins; 400/403/404: it can
    /// never be taken); one it took stays until a roster carries it (see
    /// `forget_own_pins_in_roster`), so the old PIN never works here again meanwhile.
    pub fn push_own_pins(&self, store: &mut Store) -> Result<(), KioskError> {
        for change in store.own_pins()? {
            let response = self
                .agent
                .post(&format!("{}/api/v1/coordinators/own-pin", self.base))
                .header("Authorization", &format!("Bearer {}", self.token))
                .send_json(&change)
                .map_err(|e| self.unreachable(e))?;
            let status = response.status().as_u16();
            match status {
                200..=299 => {}
                400 | 403 | 404 | 409 => store.forget_own_pin(&change.name)?,
                _ => {
                    let mut response = response;
                    let retry = retry_after(&response);
                    return Err(self.refused(status, retry, response.body_mut()));
                }
            }
        }
        Ok(())
    }

    /// Push, then pull; the outcome is recorded for the coordinator's sync status.
    pub fn sync_once(
        &self,
        store: &mut Store,
        now: impl Fn() -> DateTime<Utc> + Copy,
    ) -> Result<PushReport, KioskError> {
        match self.report_health(store, now()) {
            // Nobody there: the push would wait out the same timeout; try again later.
            Err(e @ KioskError::Unreachable { .. }) => {
                store.record_sync(Err(e.to_string()))?;
                return Err(e);
            }
            Err(e) => eprintln!("kiosk: health report not sent: {e}"),
            Ok(()) => {}
        }
        // A push the server refuses must never keep the roster from arriving: revocations,
        // badges and PINs matter most when something is wrong.
        let pushed = self.push(store, now);
        // The health report went out before the push: once events were delivered, the count
        // it gave is stale, and the organizer's Kiosks section would show them as waiting.
        if let Ok(report) = &pushed {
            if report.stored + report.already_stored + report.set_aside > 0 {
                if let Err(e) = self.report_health(store, now()) {
                    eprintln!("kiosk: health report not sent: {e}");
                }
            }
        }
        // A PIN changed here goes before the pull, so the roster pulled carries it.
        if !matches!(pushed, Err(KioskError::Unreachable { .. })) {
            if let Err(e) = self.push_own_pins(store) {
                eprintln!("kiosk: PIN change not sent yet: {e}");
            }
        }
        let pulled = match &pushed {
            Err(KioskError::Unreachable { .. }) => Ok(false),
            _ => self.pull(store, now),
        };
        if let Err(e) = forget_own_pins_in_roster(store) {
            eprintln!("kiosk: PIN changes not tidied: {e}");
        }
        let result = match (pushed, pulled) {
            (Ok(report), Ok(_)) => Ok(report),
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        };
        match &result {
            Ok(_) => store.record_sync(Ok(now()))?,
            // Asked to slow down: nothing is wrong, the events wait on disk a little longer.
            Err(KioskError::Busy { .. }) => {}
            Err(e) => store.record_sync(Err(e.to_string()))?,
        }
        result
    }
}

/// Forgets the PIN changes the roster now carries (the server took them).
fn forget_own_pins_in_roster(store: &mut Store) -> Result<(), KioskError> {
    let Some(roster) = store.roster()? else {
        return Ok(());
    };
    for change in store.own_pins()? {
        let carried = roster
            .roster
            .coordinators
            .iter()
            .any(|c| c.name == change.name && c.pin_hash == change.pin_hash);
        if carried {
            store.forget_own_pin(&change.name)?;
        }
    }
    Ok(())
}

/// The `Retry-After` seconds of a response, if it says.
fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The background worker's waits: exponential backoff with jitter while the server is
/// unreachable, a steady interval while it is fine.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: StdDuration,
    pub max: StdDuration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: StdDuration, max: StdDuration) -> Self {
        Self {
            base,
            max,
            failures: 0,
        }
    }
    /// The wait after a failure: base × 2^failures, capped, then a random 50–100% of it, so a
    /// school's kiosks coming back together do not all call at once.
    pub fn after_failure(&mut self, jitter: f64) -> StdDuration {
        let exp = self.base.saturating_mul(1u32 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        exp.min(self.max)
            .mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// How often the background worker syncs, and how it backs off while the server is away.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub interval: StdDuration,
    pub backoff_base: StdDuration,
    pub backoff_max: StdDuration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            interval: StdDuration::from_secs(30),
            backoff_base: StdDuration::from_secs(1),
            backoff_max: StdDuration::from_secs(300),
        }
    }
}

/// Runs `sync_once` on its own thread and store connection until `stop` is set. Scanning never
/// waits on it: SQLite WAL lets the engine write while the worker reads and marks.
pub fn spawn_worker(
    config: Config,
    db_path: std::path::PathBuf,
    settings: WorkerSettings,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::sync::atomic::Ordering;
        let mut backoff = Backoff::new(settings.backoff_base, settings.backoff_max);
        let mut store: Option<Store> = None;
        while !stop.load(Ordering::Relaxed) {
            if store.is_none() {
                // The engine created the database; the series passed here is never used.
                store = Store::open(
                    &db_path,
                    SeriesId::from_parts(0, rand::random()),
                    Utc::now(),
                )
                .ok();
            }
            let outcome = match (store.as_mut(), SyncClient::new(&config)) {
                (Some(s), Ok(client)) => client.sync_once(s, Utc::now).map(|_| ()),
                _ => Err(KioskError::NotSetUp),
            };
            let wait = match outcome {
                Ok(()) => {
                    backoff.reset();
                    settings.interval
                }
                // The server said when: wait that long, without counting it a failure.
                Err(KioskError::Busy { retry_after_secs }) => {
                    StdDuration::from_secs(retry_after_secs)
                }
                Err(_) => backoff.after_failure(rand::random()),
            };
            let deadline = std::time::Instant::now() + wait;
            while std::time::Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(StdDuration::from_millis(20));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_resets() {
        let mut b = Backoff::new(StdDuration::from_secs(1), StdDuration::from_secs(60));
        assert_eq!(b.after_failure(1.0), StdDuration::from_secs(1));
        assert_eq!(b.after_failure(1.0), StdDuration::from_secs(2));
        assert_eq!(b.after_failure(0.0), StdDuration::from_secs(2));
        for _ in 0..40 {
            assert!(b.after_failure(1.0) <= StdDuration::from_secs(60));
        }
        assert_eq!(b.after_failure(1.0), StdDuration::from_secs(60));
        b.reset();
        assert_eq!(b.after_failure(1.0), StdDuration::from_secs(1));
    }
}
