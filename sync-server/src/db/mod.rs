//! The server's SQLite storage, one file per job: `people` (schools, kiosks, coordinators,
//! organizers, mentors and their school over time, badges), `ingest` (a kiosk's upload, checked
//! and stored exactly once), `events` (reading the merged log, organizers' resolutions,
//! materialized totals), `payments` (stipends). This file: opening, the schema, backups.

mod events;
mod ingest;
mod lookups;
mod payments;
mod people;
mod pg_tls;
mod placements;
mod postgres;
pub mod sql;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use pm_shared::{Language, MentorId, ProgramRules, SchoolId};
use rusqlite::Connection;
use sql::{Conn, OptionalExtension};

use crate::ServerError;

pub use events::{series_of, CachedTotals, ComputedTotals, StoredEvent, TotalsSnapshot};
pub use payments::{normalize_amount, Payment};
pub use people::visitors_window;

/// A coordinator and the state of her PIN, for organizers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CoordinatorStatus {
    pub school_id: String,
    pub name: String,
    /// Set before PINs had 8 digits: organizers are asked to set a new one.
    pub weak: bool,
    /// When a kiosk holding it was replaced as lost (RFC 3339); kiosks refuse it once the
    /// grace period is over, until it is set again.
    pub exposed_at: Option<String>,
}

/// PINs exposed before this instant are refused by the kiosks (the grace period is over).
pub fn exposed_cutoff(rules: &ProgramRules, now: DateTime<Utc>) -> DateTime<Utc> {
    let days = rules
        .exposed_pin_grace_days
        .unwrap_or(pm_shared::DEFAULT_EXPOSED_PIN_GRACE_DAYS);
    now - chrono::Duration::days(i64::from(days))
}
pub use placements::KioskStatus;
pub use postgres::{is_postgres_url, redacted_url, PgPool};

/// The kiosk id the server records organizers' resolutions under (kiosk ids it issues start
/// with `k-`, so no kiosk can be called this).
pub const SERVER_KIOSK: &str = "server";

const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE program (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), rules TEXT NOT NULL);
CREATE TABLE schools (id TEXT PRIMARY KEY, name TEXT NOT NULL, time_zone TEXT NOT NULL);
CREATE TABLE kiosks (
    id TEXT PRIMARY KEY, school TEXT NOT NULL REFERENCES schools(id), name TEXT NOT NULL,
    token_hash TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE coordinators (
    school TEXT NOT NULL REFERENCES schools(id), name TEXT NOT NULL, pin_hash TEXT NOT NULL,
    PRIMARY KEY (school, name));
CREATE TABLE mentors (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, school TEXT NOT NULL REFERENCES schools(id),
    language TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1);
CREATE TABLE badges (
    mentor TEXT NOT NULL REFERENCES mentors(id), generation INTEGER NOT NULL,
    text TEXT NOT NULL, hash TEXT NOT NULL, issued_at TEXT NOT NULL,
    PRIMARY KEY (mentor, generation));
CREATE TABLE events (
    id TEXT PRIMARY KEY, kiosk TEXT NOT NULL, series TEXT NOT NULL, sequence INTEGER NOT NULL,
    mentor TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL,
    received_at TEXT NOT NULL, clock_offset_ms INTEGER NOT NULL,
    badge_verified INTEGER NOT NULL, set_aside_reason TEXT,
    UNIQUE (kiosk, series, sequence));
CREATE INDEX events_by_mentor ON events (mentor, at);
",
    "
CREATE TABLE organizers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, all_schools INTEGER NOT NULL,
    schools TEXT NOT NULL, token_hash TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE stipend_payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, mentor TEXT NOT NULL REFERENCES mentors(id),
    period TEXT NOT NULL, amount TEXT NOT NULL, paid_on TEXT NOT NULL, reference TEXT NOT NULL,
    recorded_at TEXT NOT NULL, recorded_by TEXT NOT NULL);
CREATE INDEX stipends_by_mentor ON stipend_payments (mentor, period);
",
    "
CREATE TABLE mentor_totals_state (
    mentor TEXT PRIMARY KEY, changed INTEGER NOT NULL, computed INTEGER NOT NULL DEFAULT 0,
    valid_until TEXT);
CREATE TABLE mentor_totals (
    mentor TEXT NOT NULL, period TEXT NOT NULL, totals TEXT NOT NULL, PRIMARY KEY (mentor, period));
INSERT INTO mentor_totals_state (mentor, changed) SELECT DISTINCT mentor, 1 FROM events;
",
    // 4: trustworthy hours. Where each upload's clock reading holds; the review item a
    // correction names; kiosk-level events (clock checks) apart from mentors' events; a
    // mentor's school over time; payments that can be additional or voided, at most one
    // otherwise; set-aside reasons as stable codes; every total recomputed by the new rules.
    "
ALTER TABLE events ADD COLUMN delivered_through INTEGER;
ALTER TABLE events ADD COLUMN item TEXT;
CREATE INDEX events_by_item ON events (item) WHERE item IS NOT NULL;
CREATE INDEX events_set_aside ON events (set_aside_reason) WHERE set_aside_reason IS NOT NULL;
CREATE TABLE kiosk_events (
    id TEXT PRIMARY KEY, kiosk TEXT NOT NULL, series TEXT NOT NULL, sequence INTEGER NOT NULL,
    at TEXT NOT NULL, body TEXT NOT NULL, received_at TEXT NOT NULL,
    UNIQUE (kiosk, series, sequence));
CREATE INDEX kiosk_events_by_series ON kiosk_events (series, sequence);
CREATE TABLE memberships (
    mentor TEXT NOT NULL REFERENCES mentors(id), school TEXT NOT NULL REFERENCES schools(id),
    from_date TEXT NOT NULL, recorded_at TEXT NOT NULL, PRIMARY KEY (mentor, from_date));
CREATE INDEX memberships_by_school ON memberships (school);
INSERT INTO memberships (mentor, school, from_date, recorded_at)
    SELECT id, school, '0001-01-01', '' FROM mentors;
ALTER TABLE stipend_payments ADD COLUMN additional INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stipend_payments ADD COLUMN not_eligible INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stipend_payments ADD COLUMN voided_at TEXT;
ALTER TABLE stipend_payments ADD COLUMN voided_by TEXT;
ALTER TABLE stipend_payments ADD COLUMN void_reason TEXT;
UPDATE stipend_payments SET period = lower(ltrim(trim(period), '+'));
UPDATE stipend_payments SET additional = 1
    WHERE id NOT IN (SELECT MIN(id) FROM stipend_payments GROUP BY mentor, period);
CREATE UNIQUE INDEX one_payment_per_period ON stipend_payments (mentor, period)
    WHERE additional = 0 AND voided_at IS NULL;
CREATE TABLE server_series (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1), series TEXT NOT NULL, last INTEGER NOT NULL);
UPDATE events SET set_aside_reason = CASE set_aside_reason
    WHEN 'unknown mentor' THEN 'unknown_mentor'
    WHEN 'mentor is not at this kiosk''s school' THEN 'not_at_school'
    WHEN 'badge had been replaced before this scan' THEN 'badge_replaced'
    WHEN 'badge does not match the one issued' THEN 'badge_mismatch'
    WHEN 'no such badge was issued' THEN 'no_such_badge'
    ELSE set_aside_reason END
    WHERE set_aside_reason IS NOT NULL;
UPDATE mentor_totals_state SET changed = changed + 1;
",
    // 5: hostile input. Who was a coordinator of which school, and when (a removed
    // coordinator's entries after her removal are set aside).
    "
CREATE TABLE coordinator_terms (
    school TEXT NOT NULL REFERENCES schools(id), name TEXT NOT NULL,
    from_at TEXT NOT NULL, until_at TEXT);
CREATE INDEX coordinator_terms_by_name ON coordinator_terms (school, name);
INSERT INTO coordinator_terms (school, name, from_at) SELECT school, name, '' FROM coordinators;
ALTER TABLE events ADD COLUMN coordinator TEXT;
UPDATE events SET coordinator = json_extract(body, '$.source.coordinator')
    WHERE json_extract(body, '$.source.type') = 'coordinator';
CREATE INDEX events_by_coordinator ON events (kiosk) WHERE coordinator IS NOT NULL;
",
    // 6: the clock reading of every upload, by series: a clock-skew verdict reads every
    // reading of the kiosk, never only those on the events of the mentors at hand.
    "
CREATE TABLE clock_readings (
    series TEXT NOT NULL, through_sequence INTEGER NOT NULL, offset_ms INTEGER NOT NULL,
    PRIMARY KEY (series, through_sequence, offset_ms)) WITHOUT ROWID;
INSERT OR IGNORE INTO clock_readings (series, through_sequence, offset_ms)
    SELECT series, COALESCE(delivered_through, sequence), clock_offset_ms FROM events
    WHERE kiosk != 'server';
UPDATE mentor_totals_state SET changed = changed + 1;
",
    // 7: the last roster built per school and the stamp of what it was built from: an
    // unchanged roster costs a few small reads, no sessionizing.
    "
CREATE TABLE roster_cache (school TEXT PRIMARY KEY, stamp TEXT NOT NULL, body TEXT NOT NULL);
ALTER TABLE kiosks ADD COLUMN replaces TEXT REFERENCES kiosks(id);
",
    // 8: the organizer's workplace. Each mentor's teacher and classroom; clearances, kept
    // as recorded (the latest of each kind counts); each kiosk's last health report.
    "
ALTER TABLE mentors ADD COLUMN teacher TEXT;
ALTER TABLE mentors ADD COLUMN classroom TEXT;
CREATE TABLE clearances (
    id INTEGER PRIMARY KEY, mentor TEXT NOT NULL REFERENCES mentors(id), kind TEXT NOT NULL,
    expires TEXT NOT NULL, recorded_at TEXT NOT NULL);
CREATE INDEX clearances_by_mentor ON clearances (mentor, kind, id);
CREATE TABLE kiosk_health (
    kiosk TEXT PRIMARY KEY REFERENCES kiosks(id), received_at TEXT NOT NULL,
    report TEXT NOT NULL, offset_ms INTEGER NOT NULL);
",
    // 9: decisions that can be reversed, eligibility on the hours as shown, hours by the
    // kiosk where they were earned: every stored total and roster is computed again.
    "
UPDATE mentor_totals_state SET changed = changed + 1;
DELETE FROM roster_cache;
",
    // 10: entered hours by day (filed where she was that day), visitors' recent sessions in
    // the visited school's roster (found by kiosk and instant).
    "
CREATE INDEX events_by_kiosk ON events (kiosk, at);
UPDATE mentor_totals_state SET changed = changed + 1;
DELETE FROM roster_cache;
",
    // 11: scan proofs. A kiosk registered from now on, or one that has sent a proven scan,
    // must prove every scan; kiosks registered before must from a date (by default 30 days
    // after this step ran, which `upgrades` remembers).
    "
ALTER TABLE kiosks ADD COLUMN proof_required INTEGER NOT NULL DEFAULT 0;
CREATE TABLE upgrades (name TEXT PRIMARY KEY, at TEXT NOT NULL);
INSERT INTO upgrades (name, at) VALUES ('scan_proof', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
ALTER TABLE coordinators ADD COLUMN weak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE coordinators ADD COLUMN exposed_at TEXT;
UPDATE coordinators SET weak = 1;
CREATE TABLE series_owners (series TEXT PRIMARY KEY, kiosk TEXT NOT NULL);
INSERT INTO series_owners (series, kiosk)
    SELECT series, MIN(kiosk) FROM (
        SELECT series, kiosk FROM events WHERE kiosk <> 'server'
        UNION ALL SELECT series, kiosk FROM kiosk_events)
    GROUP BY series;
",
    // 12: a coordinator changes her own PIN at a kiosk, proven with a key derived from her old
    // PIN (kept here, never in a roster; its salt goes in the roster). PINs set before have none.
    "
ALTER TABLE coordinators ADD COLUMN change_salt TEXT;
ALTER TABLE coordinators ADD COLUMN change_key TEXT;
",
];

pub struct Db {
    pub(crate) conn: Conn,
}

pub fn sha256_hex(text: &str) -> String {
    pm_shared::badge_hash(text)
}

pub(crate) fn random_base32(bytes: usize) -> String {
    let secret: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    data_encoding::BASE32_NOPAD.encode(&secret)
}

/// An instant as the database stores it (RFC 3339, milliseconds, `Z`): stored texts compare
/// in time order.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> ServerError {
    ServerError::Corrupt(e.to_string())
}

/// Creates a new, empty file readable and writable by its owner only (0600).
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// The hidden name a backup is written under until it is complete and checked.
pub fn partial_backup_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!(".{name}.partial"))
}

/// Removes a partial backup and the journal SQLite may have left beside it.
fn remove_partial(partial: &Path) {
    let _ = std::fs::remove_file(partial);
    for side in ["-journal", "-wal", "-shm"] {
        let mut name = partial.as_os_str().to_owned();
        name.push(side);
        let _ = std::fs::remove_file(name);
    }
}

/// Writes a backup so that `out` only ever names a complete, checked copy: `copy` writes it
/// under a hidden partial name beside `out`, the copy is checked and synced to disk, and only
/// then renamed. A process killed midway leaves the partial file, never a file that looks like
/// a backup and cannot be restored (or that pruning would count as one).
pub fn write_backup(
    out: &Path,
    copy: impl FnOnce(&Path) -> Result<(), ServerError>,
) -> Result<(), ServerError> {
    if out.exists() {
        return Err(ServerError::Invalid(format!(
            "{} exists already",
            out.display()
        )));
    }
    let partial = partial_backup_path(out);
    // Left by a run that was killed: it is ours by its name and never complete.
    remove_partial(&partial);
    let written = copy(&partial)
        .and_then(|()| check_backup(&partial))
        .and_then(|()| Ok(std::fs::File::open(&partial)?.sync_all()?))
        .and_then(|()| Ok(std::fs::rename(&partial, out)?))
        .and_then(|()| sync_dir(out));
    if written.is_err() {
        remove_partial(&partial);
    }
    written
}

/// Makes a rename durable: the directory entry is synced too (where the platform allows).
fn sync_dir(file: &Path) -> Result<(), ServerError> {
    #[cfg(unix)]
    if let Some(dir) = file.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Makes a backup one self-contained file (no -wal or -shm beside it) and checks its integrity:
/// a backup nobody can restore is worse than none.
pub fn check_backup(out: &Path) -> Result<(), ServerError> {
    let check = Connection::open(out)?;
    check.pragma_update(None, "journal_mode", "DELETE")?;
    let ok: String = check.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(ServerError::Corrupt(format!(
            "backup {} failed its integrity check: {ok}",
            out.display()
        )));
    }
    Ok(())
}

/// An UPDATE that changed no row named something that does not exist.
pub(crate) fn found(rows: usize, what: &'static str, id: &str) -> Result<(), ServerError> {
    if rows == 0 {
        Err(ServerError::NotFound {
            what,
            id: id.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// How a request's transaction sees other servers' work (PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestIsolation {
    /// REPEATABLE READ: reads that must agree (reports, rosters, the review queue).
    Snapshot,
    /// READ COMMITTED: recording (uploads, payments, resolutions), where unique keys and row
    /// locks keep concurrent servers right and waiting beats failing.
    ReadCommitted,
}

/// A mentor as imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentorRecord {
    pub id: MentorId,
    pub name: String,
    /// Her school now (her school on earlier dates: [`Db::membership_history`]).
    pub school: SchoolId,
    pub language: Language,
    pub active: bool,
}

/// A mentor's school from a school-local date on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub school: SchoolId,
    pub from: NaiveDate,
}

/// Her school on `date`, from her memberships (any order).
pub fn school_on(memberships: &[Membership], date: NaiveDate) -> Option<&SchoolId> {
    memberships
        .iter()
        .filter(|m| m.from <= date)
        .max_by_key(|m| m.from)
        .map(|m| &m.school)
}

/// What an organizer may see: some schools, or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizerScope {
    pub name: String,
    /// `None`: every school.
    pub schools: Option<Vec<SchoolId>>,
}

impl OrganizerScope {
    pub fn allows(&self, school: &SchoolId) -> bool {
        self.schools
            .as_ref()
            .is_none_or(|list| list.contains(school))
    }
}

impl Db {
    pub fn open(path: &Path) -> Result<Self, ServerError> {
        // Mentor records and token hashes: the file is the owner's only from its creation
        // (SQLite gives its -wal and -shm files the same permissions).
        if !path.exists() {
            private_file(path)?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut db = Self {
            conn: Conn::sqlite_conn(conn),
        };
        db.migrate()?;
        Ok(db)
    }

    /// A database named by `spec`: a `postgres://` (or `postgresql://`) URL, else a SQLite
    /// file's path. Either is brought up to date first.
    pub fn open_spec(spec: &str) -> Result<Self, ServerError> {
        if is_postgres_url(spec) {
            postgres::open(spec)
        } else {
            Self::open(Path::new(spec))
        }
    }

    /// Runs one request's work in one transaction (PostgreSQL): committed if it succeeds,
    /// rolled back if it fails; the storage code's own transactions join it.
    pub fn in_request<T>(
        &mut self,
        isolation: RequestIsolation,
        work: impl FnOnce(&mut Db) -> Result<T, ServerError>,
    ) -> Result<T, ServerError> {
        self.conn.execute_batch(match isolation {
            RequestIsolation::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            RequestIsolation::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
        })?;
        self.conn.enter_outer();
        let result = work(self);
        self.conn.leave_outer();
        match result {
            Ok(value) => {
                self.conn.finish()?;
                Ok(value)
            }
            Err(e) => {
                // A broken connection has no transaction left to end.
                self.conn.abandon();
                Err(e)
            }
        }
    }

    /// The rows of a query, for tests and operators' checks on either engine (`?N` parameters,
    /// all text).
    pub fn select(&self, sql: &str, params: &[&str]) -> Result<Vec<sql::Row>, ServerError> {
        let values: Vec<sql::Value> = params
            .iter()
            .map(|p| sql::Value::Text((*p).to_owned()))
            .collect();
        self.conn.rows(sql, values)
    }

    /// Which engine holds this database.
    pub fn engine(&self) -> sql::Engine {
        self.conn.engine()
    }

    fn migrate(&mut self) -> Result<(), ServerError> {
        if self.engine() == sql::Engine::Postgres {
            return postgres::migrate(&self.conn);
        }
        let tx = self.conn.transaction()?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
        let version: i64 = tx
            .query_row("SELECT version FROM schema_version", (), |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(ServerError::Invalid(format!(
                "database schema {version} is newer than this server ({supported})"
            )));
        }
        for m in &MIGRATIONS[version as usize..] {
            tx.execute_batch(m)?;
        }
        tx.execute("DELETE FROM schema_version", ())?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [supported],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn rules(&self) -> Result<ProgramRules, ServerError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT rules FROM program", (), |r| r.get(0))
            .optional()?;
        match text {
            Some(t) => serde_json::from_str(&t).map_err(corrupt),
            None => Ok(ProgramRules::default()),
        }
    }

    /// Whether the database holds an event or a payment: from then on a rule change reaches
    /// only periods that are not closed.
    pub fn holds_records(&self) -> Result<bool, ServerError> {
        let any = |sql: &str| -> Result<bool, ServerError> {
            Ok(self
                .conn
                .query_row(sql, (), |_| Ok(()))
                .optional()?
                .is_some())
        };
        Ok(any("SELECT 1 FROM events LIMIT 1")? || any("SELECT 1 FROM stipend_payments LIMIT 1")?)
    }

    /// The earliest instant an event names (for listing periods from the first one with data).
    pub fn first_event_at(&self) -> Result<Option<DateTime<Utc>>, ServerError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT MIN(at) FROM events", (), |r| r.get(0))?;
        Ok(text.and_then(|t| {
            DateTime::parse_from_rfc3339(&t)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        }))
    }

    pub fn set_rules(&mut self, rules: &ProgramRules) -> Result<(), ServerError> {
        self.set_rules_from(rules, None)
    }

    /// Stores the rules. `changed_from`: the first day whose period rules changed, when no
    /// program-wide rule did (`None`: any day may have). Only totals that can differ are made
    /// stale: a mentor with no event since that day keeps hers (her periods are all before it,
    /// and closed periods keep their rules).
    pub fn set_rules_from(
        &mut self,
        rules: &ProgramRules,
        changed_from: Option<NaiveDate>,
    ) -> Result<(), ServerError> {
        rules.validate()?;
        let text = serde_json::to_string(rules).map_err(corrupt)?;
        let old = self.rules()?;
        // Only what decides hours makes totals stale (the volunteer rate and the date scan
        // proofs are required from decide none).
        let hours_rules = |r: &ProgramRules| ProgramRules {
            volunteer_hour_rate: None,
            require_scan_proof_from: None,
            exposed_pin_grace_days: None,
            ..r.clone()
        };
        let stale = hours_rules(&old) != hours_rules(rules);
        // The program-wide rules alone (windows, tolerances): a change there reaches every day.
        let wide = |r: &ProgramRules| ProgramRules {
            periods: pm_shared::PeriodScheme::default(),
            stipend_threshold_hours: 0.0,
            counting_categories: Vec::new(),
            session_cap_hours: 0.0,
            volunteer_hour_rate: None,
            earlier: Vec::new(),
            ..r.clone()
        };
        let from = changed_from.filter(|_| wide(&old) == wide(rules));
        let tx = self.conn.transaction()?;
        if stale && tx.engine() == sql::Engine::Postgres {
            // Her totals row locked in mentor order first, as every other writer of it does
            // (`events::mark_all_changed`): the bulk update below then waits on nobody.
            tx.prepare_cached("SELECT mentor FROM mentor_totals_state ORDER BY mentor FOR UPDATE")?
                .query_map((), |_| Ok(()))?
                .collect::<Result<Vec<()>, _>>()?;
        }
        tx.execute(
            "INSERT INTO program (singleton, rules) VALUES (1, ?1) ON CONFLICT (singleton) DO UPDATE SET rules = ?1",
            [text],
        )?;
        match (stale, from) {
            (false, _) => {}
            (true, Some(day)) => {
                // Time on or after `day`, in any school's zone and with a margin for a clock
                // behind: three days before its UTC midnight.
                let cutoff = day
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc() - chrono::Duration::days(3))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC);
                tx.execute(
                    "UPDATE mentor_totals_state SET changed = changed + 1
                     WHERE mentor IN (SELECT DISTINCT mentor FROM events WHERE at >= ?1)",
                    [ts(cutoff)],
                )?;
            }
            // Every materialized total was computed under the old rules.
            (true, None) => {
                tx.execute("UPDATE mentor_totals_state SET changed = changed + 1", ())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// An online, consistent copy of the whole database (safe while serving), checked.
    pub fn backup_to(&self, out: &Path) -> Result<(), ServerError> {
        write_backup(out, |partial| self.backup_copy(partial))
    }

    /// The copy alone (what needs this connection); [`check_backup`] can run without it.
    pub fn backup_copy(&self, out: &Path) -> Result<(), ServerError> {
        let conn = self.conn.sqlite()?;
        if out.exists() {
            return Err(ServerError::Invalid(format!(
                "{} exists already",
                out.display()
            )));
        }
        private_file(out)?;
        conn.backup(rusqlite::MAIN_DB, out, None)?;
        Ok(())
    }

    /// The database answers and holds the schema this binary migrates to.
    pub fn ready(&self) -> Result<(), ServerError> {
        let version: i64 = self
            .conn
            .query_row("SELECT version FROM schema_version", (), |r| r.get(0))?;
        let known = self.schema_version();
        if version != known {
            return Err(ServerError::Corrupt(format!(
                "schema version {version}, this server knows {known}"
            )));
        }
        Ok(())
    }

    /// Replaces this database's content with a backup's (the server must be stopped).
    pub fn restore_from(&mut self, backup: &Path) -> Result<(), ServerError> {
        self.conn.sqlite()?;
        let check =
            Connection::open_with_flags(backup, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let ok: String = check.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ok != "ok" {
            return Err(ServerError::Invalid(format!(
                "backup {} is damaged: {ok}",
                backup.display()
            )));
        }
        drop(check);
        self.conn.sqlite_mut()?.restore(
            rusqlite::MAIN_DB,
            backup,
            None::<fn(rusqlite::backup::Progress)>,
        )?;
        // A backup from an older server is brought up to date like any database.
        self.migrate()
    }

    pub fn event_count(&self) -> Result<u64, ServerError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM events", (), |r| r.get(0))
    }

    /// The schema version this binary migrates this engine to.
    pub fn schema_version(&self) -> i64 {
        match self.engine() {
            sql::Engine::Sqlite => MIGRATIONS.len() as i64,
            sql::Engine::Postgres => postgres::SCHEMA_VERSION,
        }
    }

    pub fn integrity_check(&self) -> Result<String, ServerError> {
        Ok(self
            .conn
            .sqlite()?
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}
