//! The kiosk's local SQLite database: the event log (durable before anything is shown), the
//! last roster pulled, and the sync state. WAL with `synchronous=FULL`: a committed check-in
//! survives a power cut.

use std::path::Path;

use chrono::{DateTime, Utc};
use pm_shared::protocol::{OwnPinChange, SetAside};
use pm_shared::{Event, EventId, EventKind, KioskId, MentorId, Roster, SeriesId, Source, TimeZone};

/// The active series and the last number used in it (by a mentor's event or the kiosk's own).
fn next_number(tx: &Connection) -> Result<(SeriesId, u64), KioskError> {
    let (series, last): (String, u64) = tx
        .prepare_cached(
            "SELECT s.id, MAX(
                 COALESCE((SELECT MAX(sequence) FROM events e WHERE e.series = s.id), 0),
                 COALESCE((SELECT MAX(sequence) FROM clock_events c WHERE c.series = s.id), 0))
             FROM series s WHERE s.active = 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let series: SeriesId = series
        .parse()
        .map_err(|_| corrupt(format!("series id {series:?}")))?;
    Ok((series, last))
}
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::KioskError;

/// Schema migrations, in order; `schema_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE series (
        id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        active INTEGER NOT NULL
     );
     CREATE TABLE events (
        id TEXT PRIMARY KEY,
        series TEXT NOT NULL REFERENCES series(id),
        sequence INTEGER NOT NULL,
        mentor TEXT NOT NULL,
        at TEXT NOT NULL,
        is_scan INTEGER NOT NULL,
        body TEXT NOT NULL,
        delivered_at TEXT,
        set_aside_reason TEXT,
        UNIQUE (series, sequence)
     );
     CREATE INDEX events_by_mentor ON events (mentor, at);
     CREATE INDEX events_undelivered ON events (delivered_at) WHERE delivered_at IS NULL;
     CREATE TABLE roster (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        version TEXT NOT NULL,
        body TEXT NOT NULL,
        pulled_at TEXT NOT NULL
     );
     CREATE TABLE sync_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
     );",
    // 2: the kiosk's own settings (its screen language).
    "CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
     );",
    // 3: kiosk-level events (clock checks and jumps), numbered in the same series as the
    // mentors' events but kept apart from them.
    "CREATE TABLE clock_events (
        id TEXT PRIMARY KEY,
        series TEXT NOT NULL REFERENCES series(id),
        sequence INTEGER NOT NULL,
        at TEXT NOT NULL,
        body TEXT NOT NULL,
        delivered_at TEXT,
        UNIQUE (series, sequence)
     );",
    // 4: a set-aside scan the kiosk still pairs (a visit held for organizers to decide).
    "ALTER TABLE events ADD COLUMN set_aside_pairs INTEGER NOT NULL DEFAULT 0;",
];

/// What is to be recorded; the store numbers it in the kiosk's series.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: EventId,
    pub kiosk: KioskId,
    pub mentor: MentorId,
    pub at: DateTime<Utc>,
    pub time_zone: TimeZone,
    pub kind: EventKind,
    pub source: Source,
}

/// The roster and when it was pulled (totals in it are as of then).
#[derive(Debug, Clone)]
pub struct StoredRoster {
    pub roster: Roster,
    pub pulled_at: DateTime<Utc>,
}

/// An event with what the kiosk knows about its delivery.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event: Event,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The server set it aside on receipt (it counts for nothing until an organizer accepts it).
    pub set_aside: Option<String>,
    /// Set aside, yet paired with her next scan here: a visit held for organizers.
    pub pairs: bool,
}

/// Sync health for the coordinator screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStatus {
    pub pending: u64,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
}

pub struct Store {
    conn: Connection,
}

fn corrupt(what: impl std::fmt::Display) -> KioskError {
    KioskError::CorruptRecord(what.to_string())
}

/// Instants as fixed-width text (millisecond precision, `Z`), so they sort as text.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, KioskError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt(format!("instant {s:?}: {e}")))
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// `new_series` is used only when the database is new: the kiosk's first series.
    pub fn open(path: &Path, new_series: SeriesId, now: DateTime<Utc>) -> Result<Self, KioskError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // What is deleted (a PIN change once the server has it) is overwritten, not left in
        // free pages for whoever takes the disk.
        conn.pragma_update(None, "secure_delete", "ON")?;
        let mut store = Self { conn };
        store.migrate()?;
        let tx = store
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let has_series: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM series)", [], |r| r.get(0))?;
        if !has_series {
            tx.execute(
                "INSERT INTO series (id, started_at, active) VALUES (?1, ?2, 1)",
                params![new_series.to_string(), ts(now)],
            )?;
        }
        tx.commit()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), KioskError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
        let version: i64 = tx
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(KioskError::SchemaTooNew {
                found: version,
                supported,
            });
        }
        for migration in &MIGRATIONS[version as usize..] {
            tx.execute_batch(migration)?;
        }
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [supported],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The series new events are numbered in.
    pub fn active_series(&self) -> Result<SeriesId, KioskError> {
        let id: String =
            self.conn
                .query_row("SELECT id FROM series WHERE active = 1", [], |r| r.get(0))?;
        id.parse().map_err(|_| corrupt(format!("series id {id:?}")))
    }

    /// Numbers the event in the active series and commits it durably. When this returns, the
    /// event is on disk: only then may anyone be told about it.
    pub fn append(&mut self, new: NewEvent) -> Result<Event, KioskError> {
        self.append_all(vec![new])?
            .pop()
            .ok_or_else(|| corrupt("an append recorded nothing"))
    }

    /// Records several events in one transaction (a group session): all of them or none.
    pub fn append_all(&mut self, news: Vec<NewEvent>) -> Result<Vec<Event>, KioskError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (series, last) = next_number(&tx)?;
        let mut events = Vec::with_capacity(news.len());
        for (offset, new) in (1u64..).zip(news) {
            let event = Event {
                id: new.id,
                kiosk: new.kiosk,
                series,
                sequence: last + offset,
                mentor: Some(new.mentor),
                at: new.at,
                time_zone: new.time_zone,
                kind: new.kind,
                source: new.source,
            };
            insert_event(&tx, &event)?;
            events.push(event);
        }
        tx.commit()?;
        Ok(events)
    }

    /// Records a kiosk-level event (a clock check or jump) in the active series.
    pub fn append_clock_event(
        &mut self,
        id: EventId,
        kiosk: KioskId,
        at: DateTime<Utc>,
        time_zone: TimeZone,
        kind: EventKind,
    ) -> Result<Event, KioskError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (series, last) = next_number(&tx)?;
        let event = Event {
            id,
            kiosk,
            series,
            sequence: last + 1,
            mentor: None,
            at,
            time_zone,
            kind,
            source: Source::System,
        };
        let body = serde_json::to_string(&event).map_err(corrupt)?;
        tx.prepare_cached(
            "INSERT INTO clock_events (id, series, sequence, at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            event.id.to_string(),
            series.to_string(),
            event.sequence,
            ts(at),
            body
        ])?;
        tx.commit()?;
        Ok(event)
    }

    /// A kiosk setting (`language`), if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, KioskError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<(), KioskError> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    /// A coordinator's own new PIN, kept until the server has it (one per coordinator: a
    /// second change replaces the first, over the same old hash).
    pub fn save_own_pin(&mut self, change: &OwnPinChange) -> Result<(), KioskError> {
        let body = serde_json::to_string(change).map_err(corrupt)?;
        self.set_setting(&format!("own_pin:{}", change.name), &body)
    }

    /// The PIN changes not yet taken by the server.
    pub fn own_pins(&self) -> Result<Vec<OwnPinChange>, KioskError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT value FROM settings WHERE key LIKE 'own\\_pin:%' ESCAPE '\\' ORDER BY key",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?).map_err(corrupt)?);
        }
        Ok(out)
    }

    /// The server took this change, or refused it for good.
    pub fn forget_own_pin(&mut self, name: &str) -> Result<(), KioskError> {
        self.conn.execute(
            "DELETE FROM settings WHERE key = ?1",
            [format!("own_pin:{name}")],
        )?;
        Ok(())
    }

    /// This mentor's events recorded here from `since` on, plus older ones not delivered
    /// before `reflected_until` (the roster's totals do not include those yet), oldest first.
    pub fn mentor_events_since(
        &self,
        mentor: &MentorId,
        since: DateTime<Utc>,
        reflected_until: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredEvent>, KioskError> {
        self.select_events(
            "WHERE mentor = ?1 AND (at >= ?2 OR delivered_at IS NULL OR delivered_at > ?3) ORDER BY at, id",
            params![mentor.as_str(), ts(since), reflected_until.map(ts).unwrap_or_default()],
        )
    }

    /// Every event recorded here in `[from, to)`, oldest first.
    pub fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredEvent>, KioskError> {
        self.select_events(
            "WHERE at >= ?1 AND at < ?2 ORDER BY at, id",
            params![ts(from), ts(to)],
        )
    }

    /// The instant of this mentor's latest badge scan recorded here, for the repeat window.
    pub fn last_scan_of(&self, mentor: &MentorId) -> Result<Option<StoredEvent>, KioskError> {
        Ok(self
            .select_events(
                "WHERE mentor = ?1 AND is_scan = 1 ORDER BY at DESC, id DESC LIMIT 1",
                params![mentor.as_str()],
            )?
            .pop())
    }

    /// The instant of the latest badge scan recorded here (for the health report).
    pub fn last_scan_at(&self) -> Result<Option<DateTime<Utc>>, KioskError> {
        let text: Option<String> =
            self.conn
                .query_row("SELECT MAX(at) FROM events WHERE is_scan = 1", [], |r| {
                    r.get(0)
                })?;
        Ok(text
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.to_utc()))
    }

    /// Up to `limit` undelivered events (mentors' and the kiosk's own), in series order.
    pub fn undelivered(&self, limit: usize) -> Result<Vec<Event>, KioskError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body, series, sequence FROM events WHERE delivered_at IS NULL
             UNION ALL
             SELECT body, series, sequence FROM clock_events WHERE delivered_at IS NULL
             ORDER BY series, sequence LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?).map_err(corrupt)?);
        }
        Ok(out)
    }

    /// The review items named by resolutions recorded here that the roster pulled at
    /// `pulled_at` does not reflect yet (undelivered, or delivered after it).
    pub fn resolutions_since(
        &self,
        pulled_at: Option<DateTime<Utc>>,
    ) -> Result<std::collections::HashSet<EventId>, KioskError> {
        let events = self.select_events(
            "WHERE (delivered_at IS NULL OR delivered_at > ?1) AND is_scan = 0",
            params![pulled_at.map(ts).unwrap_or_default()],
        )?;
        Ok(events
            .into_iter()
            .filter_map(|e| e.event.kind.resolves())
            .collect())
    }

    /// When the kiosk last recorded a clock check, if ever.
    pub fn last_clock_check(&self) -> Result<Option<DateTime<Utc>>, KioskError> {
        let at: Option<String> = self.conn.query_row(
            "SELECT MAX(at) FROM clock_events WHERE body LIKE '%\"clock_check\"%'",
            [],
            |r| r.get(0),
        )?;
        at.as_deref().map(parse_instant).transpose()
    }

    fn select_events(
        &self,
        tail: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<StoredEvent>, KioskError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT body, delivered_at, set_aside_reason, set_aside_pairs FROM events {tail}"
        ))?;
        let rows = stmt.query_map(params, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (body, delivered, set_aside, pairs) = row?;
            let event: Event = serde_json::from_str(&body).map_err(corrupt)?;
            let delivered_at = delivered.as_deref().map(parse_instant).transpose()?;
            out.push(StoredEvent {
                event,
                delivered_at,
                set_aside,
                pairs,
            });
        }
        Ok(out)
    }

    /// Marks events delivered after the server acknowledged them (stored, already stored, or
    /// set aside with a reason, which the server keeps for review).
    pub fn mark_delivered(
        &mut self,
        delivered: &[EventId],
        set_aside: &[SetAside],
        at: DateTime<Utc>,
    ) -> Result<(), KioskError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut mark = tx.prepare_cached(
                "UPDATE events SET delivered_at = ?2 WHERE id = ?1 AND delivered_at IS NULL",
            )?;
            let mut mark_clock = tx.prepare_cached(
                "UPDATE clock_events SET delivered_at = ?2 WHERE id = ?1 AND delivered_at IS NULL",
            )?;
            for id in delivered {
                mark.execute(params![id.to_string(), ts(at)])?;
                mark_clock.execute(params![id.to_string(), ts(at)])?;
            }
            let mut aside = tx.prepare_cached(
                "UPDATE events SET delivered_at = ?2, set_aside_reason = ?3, set_aside_pairs = ?4
                 WHERE id = ?1",
            )?;
            for s in set_aside {
                aside.execute(params![s.id.to_string(), ts(at), s.reason, s.pairs])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The server already holds other events under our numbers: this database was restored
    /// from an old copy. Start series `new` and renumber every undelivered event into it, in
    /// order. Only the delivery envelope changes: the server never saw these events, and their
    /// ids and facts stay as recorded.
    pub fn start_new_series(
        &mut self,
        new: SeriesId,
        now: DateTime<Utc>,
    ) -> Result<(), KioskError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("UPDATE series SET active = 0", [])?;
        tx.execute(
            "INSERT INTO series (id, started_at, active) VALUES (?1, ?2, 1)",
            params![new.to_string(), ts(now)],
        )?;
        let pending: Vec<(String, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, body, 'events' FROM events WHERE delivered_at IS NULL
                 UNION ALL
                 SELECT id, body, 'clock_events' FROM clock_events WHERE delivered_at IS NULL
",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut pending: Vec<(String, Event, String)> = pending
            .into_iter()
            .map(|(id, body, table)| {
                serde_json::from_str::<Event>(&body)
                    .map(|e| (id, e, table))
                    .map_err(corrupt)
            })
            .collect::<Result<_, _>>()?;
        pending.sort_by_key(|p| (p.1.series, p.1.sequence));
        for (n, (id, mut event, table)) in pending.into_iter().enumerate() {
            event.series = new;
            event.sequence = n as u64 + 1;
            let body = serde_json::to_string(&event).map_err(corrupt)?;
            // `table` is one of two names written above, never input.
            tx.execute(
                &format!("UPDATE {table} SET series = ?2, sequence = ?3, body = ?4 WHERE id = ?1"),
                params![id, new.to_string(), event.sequence, body],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn roster(&self) -> Result<Option<StoredRoster>, KioskError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row("SELECT body, pulled_at FROM roster", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(body, pulled_at)| {
            Ok(StoredRoster {
                roster: serde_json::from_str(&body).map_err(corrupt)?,
                pulled_at: parse_instant(&pulled_at)?,
            })
        })
        .transpose()
    }

    pub fn roster_version(&self) -> Result<Option<String>, KioskError> {
        Ok(self.roster_stamp()?.map(|(version, _)| version))
    }

    /// The roster's version and pull time: when neither changed, a cached copy is current.
    pub fn roster_stamp(&self) -> Result<Option<(String, String)>, KioskError> {
        Ok(self
            .conn
            .query_row("SELECT version, pulled_at FROM roster", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    pub fn save_roster(
        &mut self,
        roster: &Roster,
        pulled_at: DateTime<Utc>,
    ) -> Result<(), KioskError> {
        let body = serde_json::to_string(roster).map_err(corrupt)?;
        self.conn.execute(
            "INSERT INTO roster (singleton, version, body, pulled_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (singleton) DO UPDATE SET version = ?1, body = ?2, pulled_at = ?3",
            params![roster.version, body, ts(pulled_at)],
        )?;
        Ok(())
    }

    /// The roster is unchanged: its totals are now as of `at`.
    pub fn touch_roster(&mut self, at: DateTime<Utc>) -> Result<(), KioskError> {
        self.conn
            .execute("UPDATE roster SET pulled_at = ?1", [ts(at)])?;
        Ok(())
    }

    pub fn record_sync(&mut self, result: Result<DateTime<Utc>, String>) -> Result<(), KioskError> {
        let (key, value) = match result {
            Ok(at) => ("last_success", ts(at)),
            Err(e) => ("last_error", e),
        };
        self.conn.execute(
            "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        if key == "last_success" {
            self.conn
                .execute("DELETE FROM sync_state WHERE key = 'last_error'", [])?;
        }
        Ok(())
    }

    pub fn sync_status(&self) -> Result<SyncStatus, KioskError> {
        let get = |key: &str| -> Result<Option<String>, KioskError> {
            Ok(self
                .conn
                .query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?)
        };
        let pending: u64 = self.conn.query_row(
            "SELECT COUNT(*) FROM events WHERE delivered_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(SyncStatus {
            pending,
            last_success: get("last_success")?,
            last_error: get("last_error")?,
        })
    }

    pub fn event_count(&self) -> Result<u64, KioskError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?)
    }

    pub fn integrity_check(&self) -> Result<String, KioskError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

fn insert_event(conn: &Connection, event: &Event) -> Result<(), KioskError> {
    let body = serde_json::to_string(event).map_err(corrupt)?;
    let is_scan = matches!(event.kind, EventKind::CheckIn | EventKind::CheckOut { .. })
        && matches!(event.source, Source::BadgeScan { .. });
    let mentor = event
        .mentor
        .as_ref()
        .ok_or_else(|| corrupt("a mentor's event without a mentor"))?;
    conn.prepare_cached(
        "INSERT INTO events (id, series, sequence, mentor, at, is_scan, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
            event.id.to_string(),
            event.series.to_string(),
            event.sequence,
            mentor.as_str(),
            ts(event.at),
            is_scan,
            body
        ],
    )?;
    Ok(())
}
