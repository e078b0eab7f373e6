//! The server's SQLite storage: roster, kiosks, and the merged event log.

use std::path::Path;

use chrono::{DateTime, Utc};
use pm_shared::protocol::{SeriesConflict, SetAside, UploadAck, UploadBatch, PROTOCOL_VERSION};
use pm_shared::{
    Event, KioskId, Language, MentorId, Observed, PeriodName, PeriodTotals, ProgramRules, SchoolId,
    Source, TimeZone,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::ServerError;

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
];

pub struct Db {
    pub(crate) conn: Connection,
}

pub fn sha256_hex(text: &str) -> String {
    pm_shared::badge_hash(text)
}

fn random_base32(bytes: usize) -> String {
    let secret: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    data_encoding::BASE32_NOPAD.encode(&secret)
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn corrupt(e: impl std::fmt::Display) -> ServerError {
    ServerError::Corrupt(e.to_string())
}

/// A mentor as imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentorRecord {
    pub id: MentorId,
    pub name: String,
    pub school: SchoolId,
    pub language: Language,
    pub active: bool,
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

/// Money as decimal text with two places (`600.00`): never a float.
pub fn normalize_amount(text: &str) -> Result<String, ServerError> {
    let bad = || ServerError::Invalid(format!("amount {text:?} is not a sum like 600.00"));
    let (whole, cents) = text.trim().split_once('.').unwrap_or((text.trim(), "00"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || whole.len() > 7 || !digits(cents) || cents.len() > 2 {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    Ok(format!("{whole}.{cents:0<2}"))
}

/// An event stored on the server, with what the server learned on receipt.
pub struct StoredEvent {
    pub observed: Observed,
    pub set_aside: Option<String>,
}

impl Db {
    pub fn open(path: &Path) -> Result<Self, ServerError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut db = Self { conn };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&mut self) -> Result<(), ServerError> {
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
            return Err(ServerError::Invalid(format!(
                "database schema {version} is newer than this server ({supported})"
            )));
        }
        for m in &MIGRATIONS[version as usize..] {
            tx.execute_batch(m)?;
        }
        tx.execute("DELETE FROM schema_version", [])?;
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
            .query_row("SELECT rules FROM program", [], |r| r.get(0))
            .optional()?;
        match text {
            Some(t) => serde_json::from_str(&t).map_err(corrupt),
            None => Ok(ProgramRules::default()),
        }
    }

    pub fn set_rules(&mut self, rules: &ProgramRules) -> Result<(), ServerError> {
        rules.validate()?;
        let text = serde_json::to_string(rules).map_err(corrupt)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO program (singleton, rules) VALUES (1, ?1) ON CONFLICT (singleton) DO UPDATE SET rules = ?1",
            [text],
        )?;
        // Every materialized total was computed under the old rules.
        tx.execute("UPDATE mentor_totals_state SET changed = changed + 1", [])?;
        tx.commit()?;
        Ok(())
    }

    pub fn add_school(&self, id: &SchoolId, name: &str, zone: TimeZone) -> Result<(), ServerError> {
        self.conn.execute(
            "INSERT INTO schools (id, name, time_zone) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET name = ?2, time_zone = ?3",
            params![id.as_str(), name, zone.name()],
        )?;
        Ok(())
    }

    pub fn school(&self, id: &SchoolId) -> Result<pm_shared::School, ServerError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT name, time_zone FROM schools WHERE id = ?1",
                [id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (name, zone) = row.ok_or_else(|| ServerError::NotFound {
            what: "school",
            id: id.to_string(),
        })?;
        Ok(pm_shared::School {
            id: id.clone(),
            name,
            time_zone: TimeZone::new(&zone)?,
        })
    }

    /// Registers a kiosk; returns its token (`<kiosk-id>.<secret>`), shown once and stored
    /// only hashed.
    pub fn add_kiosk(
        &self,
        school: &SchoolId,
        name: &str,
    ) -> Result<(KioskId, String), ServerError> {
        self.school(school)?;
        let id = KioskId::new(format!("k-{}", random_base32(5).to_ascii_lowercase()))?;
        let token = format!("{id}.{}", random_base32(20));
        self.conn.execute(
            "INSERT INTO kiosks (id, school, name, token_hash) VALUES (?1, ?2, ?3, ?4)",
            params![id.as_str(), school.as_str(), name, sha256_hex(&token)],
        )?;
        Ok((id, token))
    }

    pub fn revoke_kiosk(&self, id: &KioskId) -> Result<(), ServerError> {
        let n = self
            .conn
            .execute("UPDATE kiosks SET revoked = 1 WHERE id = ?1", [id.as_str()])?;
        found(n, "kiosk", id.as_str())
    }

    /// The kiosk and its school a bearer token belongs to, if it is valid and not revoked.
    pub fn authenticate_kiosk(&self, token: &str) -> Result<(KioskId, SchoolId), ServerError> {
        let (id, _) = token.split_once('.').ok_or(ServerError::Unauthorized)?;
        let row: Option<(String, String, bool)> = self
            .conn
            .query_row(
                "SELECT school, token_hash, revoked FROM kiosks WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match row {
            Some((school, hash, false)) if hash == sha256_hex(token) => {
                Ok((KioskId::new(id)?, SchoolId::new(school)?))
            }
            _ => Err(ServerError::Unauthorized),
        }
    }

    pub fn add_coordinator(
        &self,
        school: &SchoolId,
        name: &str,
        pin_hash: &str,
    ) -> Result<(), ServerError> {
        self.school(school)?;
        self.conn.execute(
            "INSERT INTO coordinators (school, name, pin_hash) VALUES (?1, ?2, ?3)
             ON CONFLICT (school, name) DO UPDATE SET pin_hash = ?3",
            params![school.as_str(), name, pin_hash],
        )?;
        Ok(())
    }

    pub fn coordinators(
        &self,
        school: &SchoolId,
    ) -> Result<Vec<pm_shared::Coordinator>, ServerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, pin_hash FROM coordinators WHERE school = ?1 ORDER BY name")?;
        let rows = stmt.query_map([school.as_str()], |r| {
            Ok(pm_shared::Coordinator {
                name: r.get(0)?,
                pin_hash: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Inserts or updates mentors by id, all in one transaction.
    pub fn upsert_mentors(&mut self, mentors: &[MentorRecord]) -> Result<(), ServerError> {
        let tx = self.conn.transaction()?;
        for m in mentors {
            tx.execute(
                "INSERT INTO mentors (id, name, school, language, active) VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (id) DO UPDATE SET name = ?2, school = ?3, language = ?4, active = 1",
                params![m.id.as_str(), m.name, m.school.as_str(), m.language.code()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn school_exists(&self, id: &SchoolId) -> Result<bool, ServerError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM schools WHERE id = ?1)",
            [id.as_str()],
            |r| r.get(0),
        )?)
    }

    pub fn set_mentor_active(&self, id: &MentorId, active: bool) -> Result<(), ServerError> {
        let n = self.conn.execute(
            "UPDATE mentors SET active = ?2 WHERE id = ?1",
            params![id.as_str(), active],
        )?;
        found(n, "mentor", id.as_str())
    }

    pub fn move_mentor(&self, id: &MentorId, school: &SchoolId) -> Result<(), ServerError> {
        self.school(school)?;
        let n = self.conn.execute(
            "UPDATE mentors SET school = ?2 WHERE id = ?1",
            params![id.as_str(), school.as_str()],
        )?;
        found(n, "mentor", id.as_str())
    }

    pub fn mentors(&self, school: Option<&SchoolId>) -> Result<Vec<MentorRecord>, ServerError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, school, language, active FROM mentors
             WHERE ?1 IS NULL OR school = ?1 ORDER BY school, id",
        )?;
        let rows = stmt.query_map([school.map(|s| s.as_str())], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, school, language, active) = row?;
            out.push(MentorRecord {
                id: MentorId::new(id)?,
                name,
                school: SchoolId::new(school)?,
                language: Language::new(language)?,
                active,
            });
        }
        Ok(out)
    }

    /// The mentor's current badge: (generation, text, hash).
    pub fn current_badge(
        &self,
        mentor: &MentorId,
    ) -> Result<Option<(u32, String, String)>, ServerError> {
        Ok(self
            .conn
            .query_row(
                "SELECT generation, text, hash FROM badges WHERE mentor = ?1 ORDER BY generation DESC LIMIT 1",
                [mentor.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// Issues a badge of the next generation (which revokes the previous one).
    pub fn issue_badge(
        &self,
        mentor: &MentorId,
        now: DateTime<Utc>,
    ) -> Result<String, ServerError> {
        let generation = self.current_badge(mentor)?.map(|b| b.0 + 1).unwrap_or(1);
        let secret: [u8; pm_shared::SECRET_BYTES] = rand::random();
        let text = pm_shared::badge_text(mentor, generation, &secret)?;
        self.conn.execute(
            "INSERT INTO badges (mentor, generation, text, hash, issued_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![mentor.as_str(), generation, text, sha256_hex(&text), ts(now)],
        )?;
        Ok(text)
    }

    /// Stores a kiosk's batch in one transaction: new events stored, resends recognised,
    /// clashes of (kiosk, series, sequence) reported, unverifiable scans set aside (stored,
    /// never counted).
    pub fn ingest(
        &mut self,
        kiosk: &KioskId,
        school: &SchoolId,
        batch: &UploadBatch,
        now: DateTime<Utc>,
    ) -> Result<UploadAck, ServerError> {
        if batch.protocol != PROTOCOL_VERSION {
            return Err(ServerError::Invalid(format!(
                "protocol version {} is not supported (this server speaks {PROTOCOL_VERSION})",
                batch.protocol
            )));
        }
        if &batch.kiosk != kiosk || batch.events.iter().any(|e| &e.kiosk != kiosk) {
            return Err(ServerError::Forbidden(
                "a kiosk may only send its own events".into(),
            ));
        }
        let offset_ms = (batch.kiosk_clock - now).num_milliseconds();
        let mut ack = UploadAck {
            protocol: PROTOCOL_VERSION,
            server_clock: now,
            ..UploadAck::default()
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let received_at = ts(now);
        let mut verifier = Verifier::new(school);
        let mut changed: std::collections::HashSet<&MentorId> = std::collections::HashSet::new();
        for event in &batch.events {
            let id = event.id.to_string();
            let (verified, set_aside) = verifier.check(&tx, event)?;
            let body = serde_json::to_string(event).map_err(corrupt)?;
            // One statement on the common path; a unique-key collision inserts nothing.
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO events (id, kiosk, series, sequence, mentor, at, body, received_at, clock_offset_ms, badge_verified, set_aside_reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![
                    id,
                    kiosk.as_str(),
                    event.series.to_string(),
                    event.sequence,
                    event.mentor.as_str(),
                    ts(event.at),
                    body,
                    received_at,
                    offset_ms,
                    verified,
                    set_aside
                ])?;
            if inserted == 1 {
                changed.insert(&event.mentor);
                match set_aside {
                    Some(reason) => ack.set_aside.push(SetAside {
                        id: event.id,
                        reason,
                    }),
                    None => ack.stored.push(event.id),
                }
                continue;
            }
            // Nothing inserted: either this id is stored already (a resend, whatever its
            // numbers), or its (kiosk, series, sequence) names a different event.
            let known: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM events WHERE id = ?1)")?
                .query_row([&id], |r| r.get(0))?;
            if known {
                ack.already_stored.push(event.id);
            } else {
                ack.conflicts.push(SeriesConflict {
                    id: event.id,
                    series: event.series,
                    sequence: event.sequence,
                });
            }
        }
        for mentor in changed {
            mark_changed(&tx, mentor)?;
        }
        tx.commit()?;
        Ok(ack)
    }

    /// Every stored event (set-aside ones included, marked), optionally for one school's
    /// current mentors.
    pub fn events(&self, school: Option<&SchoolId>) -> Result<Vec<StoredEvent>, ServerError> {
        select_events(
            &self.conn,
            "WHERE ?1 IS NULL OR e.mentor IN (SELECT id FROM mentors WHERE school = ?1)",
            [school.map(|s| s.as_str())],
        )
    }

    /// These mentors' events and the change counters they reflect, read in one transaction so
    /// the two agree (see `totals`).
    pub fn totals_snapshot(&mut self, mentors: &[MentorId]) -> Result<TotalsSnapshot, ServerError> {
        let tx = self.conn.transaction()?;
        let mut snapshot = TotalsSnapshot::default();
        for m in mentors {
            let changed: Option<i64> = tx
                .prepare_cached("SELECT changed FROM mentor_totals_state WHERE mentor = ?1")?
                .query_row([m.as_str()], |r| r.get(0))
                .optional()?;
            snapshot.versions.insert(m.clone(), changed.unwrap_or(0));
            snapshot
                .events
                .extend(select_events(&tx, "WHERE e.mentor = ?1", [m.as_str()])?);
        }
        tx.commit()?;
        Ok(snapshot)
    }

    /// Stores freshly computed totals, for each mentor only if nothing changed since the
    /// snapshot they were computed from.
    pub fn save_totals(&mut self, computed: &[ComputedTotals]) -> Result<(), ServerError> {
        let tx = self.conn.transaction()?;
        for c in computed {
            let updated = tx
                .prepare_cached(
                    "INSERT INTO mentor_totals_state (mentor, changed, computed, valid_until) VALUES (?1, ?2, ?2, ?3)
                     ON CONFLICT (mentor) DO UPDATE SET computed = ?2, valid_until = ?3 WHERE changed = ?2",
                )?
                .execute(params![c.mentor.as_str(), c.version, c.valid_until.map(ts)])?;
            if updated == 0 {
                continue;
            }
            tx.prepare_cached("DELETE FROM mentor_totals WHERE mentor = ?1")?
                .execute([c.mentor.as_str()])?;
            for t in &c.totals {
                let json = serde_json::to_string(t).map_err(corrupt)?;
                tx.prepare_cached(
                    "INSERT INTO mentor_totals (mentor, period, totals) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![c.mentor.as_str(), t.period.0, json])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Materialized totals for these mentors, and which of them are stale (changed since, or
    /// depending on "now" and past their validity).
    pub fn cached_totals(
        &self,
        mentors: &[MentorId],
        now: DateTime<Utc>,
    ) -> Result<CachedTotals, ServerError> {
        let mut cached = CachedTotals::default();
        let now = ts(now);
        for m in mentors {
            let state: Option<(i64, i64, Option<String>)> = self
                .conn
                .prepare_cached("SELECT changed, computed, valid_until FROM mentor_totals_state WHERE mentor = ?1")?
                .query_row([m.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            match state {
                // Never had an event: nothing to count.
                None => continue,
                Some((changed, computed, valid_until))
                    if changed != computed
                        || valid_until.as_deref().is_some_and(|v| v <= now.as_str()) =>
                {
                    cached.stale.push(m.clone());
                    continue;
                }
                Some(_) => {}
            }
            let mut stmt = self
                .conn
                .prepare_cached("SELECT totals FROM mentor_totals WHERE mentor = ?1")?;
            let rows = stmt.query_map([m.as_str()], |r| r.get::<_, String>(0))?;
            for row in rows {
                let t: PeriodTotals = serde_json::from_str(&row?).map_err(corrupt)?;
                cached
                    .totals
                    .insert((t.mentor.clone(), t.period.clone()), t);
            }
        }
        Ok(cached)
    }
}

/// What `totals_snapshot` read.
#[derive(Default)]
pub struct TotalsSnapshot {
    pub events: Vec<StoredEvent>,
    pub versions: std::collections::HashMap<MentorId, i64>,
}

/// One mentor's totals in every period, computed from the snapshot at `version`.
pub struct ComputedTotals {
    pub mentor: MentorId,
    pub version: i64,
    /// When these totals stop being right by themselves (an event dated in the future becomes
    /// plausible); `None`: never.
    pub valid_until: Option<DateTime<Utc>>,
    pub totals: Vec<PeriodTotals>,
}

#[derive(Default)]
pub struct CachedTotals {
    pub totals: std::collections::BTreeMap<(MentorId, PeriodName), PeriodTotals>,
    pub stale: Vec<MentorId>,
}

/// An UPDATE that changed no row named something that does not exist.
fn found(rows: usize, what: &'static str, id: &str) -> Result<(), ServerError> {
    if rows == 0 {
        Err(ServerError::NotFound {
            what,
            id: id.to_owned(),
        })
    } else {
        Ok(())
    }
}

fn mark_changed(conn: &Connection, mentor: &MentorId) -> Result<(), ServerError> {
    conn.prepare_cached(
        "INSERT INTO mentor_totals_state (mentor, changed) VALUES (?1, 1)
         ON CONFLICT (mentor) DO UPDATE SET changed = changed + 1",
    )?
    .execute([mentor.as_str()])?;
    Ok(())
}

fn select_events(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredEvent>, ServerError> {
    {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT e.body, e.badge_verified, e.clock_offset_ms, e.set_aside_reason FROM events e {filter}"
        ))?;
        let rows = stmt.query_map(params, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (body, verified, offset, set_aside) = row?;
            let event: Event = serde_json::from_str(&body).map_err(corrupt)?;
            out.push(StoredEvent {
                observed: Observed {
                    event,
                    badge_verified: verified,
                    kiosk_clock_offset_ms: Some(offset),
                },
                set_aside,
            });
        }
        Ok(out)
    }
}

impl Db {
    /// Registers an organizer; returns her token (`<organizer-id>.<secret>`), stored hashed.
    pub fn add_organizer(
        &self,
        name: &str,
        schools: Option<&[SchoolId]>,
    ) -> Result<String, ServerError> {
        if name.trim().is_empty() {
            return Err(ServerError::Invalid("an organizer needs a name".into()));
        }
        if let Some(list) = schools {
            for s in list {
                self.school(s)?;
            }
        }
        let id = format!("o-{}", random_base32(5).to_ascii_lowercase());
        let token = format!("{id}.{}", random_base32(20));
        let list = schools
            .map(|l| l.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO organizers (id, name, all_schools, schools, token_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, name.trim(), schools.is_none(), list, sha256_hex(&token)],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    ServerError::Invalid(format!("an organizer named {name:?} exists already"))
                }
                other => other.into(),
            })?;
        Ok(token)
    }

    pub fn revoke_organizer(&self, name: &str) -> Result<(), ServerError> {
        let n = self
            .conn
            .execute("UPDATE organizers SET revoked = 1 WHERE name = ?1", [name])?;
        found(n, "organizer", name)
    }

    pub fn authenticate_organizer(&self, token: &str) -> Result<OrganizerScope, ServerError> {
        let (id, _) = token.split_once('.').ok_or(ServerError::Unauthorized)?;
        let row: Option<(String, bool, String, String, bool)> = self
            .conn
            .query_row(
                "SELECT name, all_schools, schools, token_hash, revoked FROM organizers WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        match row {
            Some((name, all, schools, hash, false)) if hash == sha256_hex(token) => {
                Ok(OrganizerScope {
                    name,
                    schools: if all {
                        None
                    } else {
                        Some(
                            schools
                                .split(',')
                                .filter(|s| !s.is_empty())
                                .map(SchoolId::new)
                                .collect::<Result<_, _>>()?,
                        )
                    },
                })
            }
            _ => Err(ServerError::Unauthorized),
        }
    }

    pub fn mentor(&self, id: &MentorId) -> Result<MentorRecord, ServerError> {
        self.mentors(None)?
            .into_iter()
            .find(|m| &m.id == id)
            .ok_or_else(|| ServerError::NotFound {
                what: "mentor",
                id: id.to_string(),
            })
    }

    /// Records a stipend payment (append-only: a correction is another payment record).
    pub fn record_stipend(
        &self,
        payment: &pm_shared::protocol::StipendPayment,
        recorded_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        self.mentor(&payment.mentor)?;
        self.rules()?.periods.period_named(&payment.period.0)?;
        let amount = normalize_amount(&payment.amount)?;
        if payment.reference.trim().is_empty() {
            return Err(ServerError::Invalid(
                "a payment needs a reference (check or transfer number)".into(),
            ));
        }
        self.conn.execute(
            "INSERT INTO stipend_payments (mentor, period, amount, paid_on, reference, recorded_at, recorded_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                payment.mentor.as_str(),
                payment.period.0,
                amount,
                payment.paid_on.to_string(),
                payment.reference.trim(),
                ts(now),
                recorded_by
            ],
        )?;
        Ok(())
    }

    /// The latest payment date per (mentor, period).
    pub fn paid_on(
        &self,
    ) -> Result<std::collections::HashMap<(String, String), String>, ServerError> {
        let mut stmt = self.conn.prepare(
            "SELECT mentor, period, MAX(paid_on) FROM stipend_payments GROUP BY mentor, period",
        )?;
        let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// An online, consistent copy of the whole database (safe while serving).
    pub fn backup_to(&self, out: &Path) -> Result<(), ServerError> {
        if out.exists() {
            return Err(ServerError::Invalid(format!(
                "{} exists already",
                out.display()
            )));
        }
        self.conn.backup(rusqlite::MAIN_DB, out, None)?;
        Ok(())
    }

    /// Replaces this database's content with a backup's (the server must be stopped).
    pub fn restore_from(&mut self, backup: &Path) -> Result<(), ServerError> {
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
        self.conn.restore(
            rusqlite::MAIN_DB,
            backup,
            None::<fn(rusqlite::backup::Progress)>,
        )?;
        Ok(())
    }

    pub fn event_count(&self) -> Result<u64, ServerError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?)
    }

    pub fn integrity_check(&self) -> Result<String, ServerError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// Checks events against the roster and the badges this server issued, caching what it
/// looked up for the rest of the batch. Returns (verified, set-aside reason) per event.
/// Corrections carry no badge; they must name a mentor of the kiosk's school.
struct Verifier<'a> {
    school: &'a SchoolId,
    mentor_school: std::collections::HashMap<MentorId, Option<String>>,
    /// (mentor, generation) → (hash issued, earliest issue time of a later generation).
    badges: std::collections::HashMap<(MentorId, u32), (Option<String>, Option<String>)>,
}

impl<'a> Verifier<'a> {
    fn new(school: &'a SchoolId) -> Self {
        Self {
            school,
            mentor_school: Default::default(),
            badges: Default::default(),
        }
    }

    fn check(
        &mut self,
        conn: &Connection,
        event: &Event,
    ) -> Result<(bool, Option<String>), ServerError> {
        let mentor = &event.mentor;
        if !self.mentor_school.contains_key(mentor) {
            let school: Option<String> = conn
                .prepare_cached("SELECT school FROM mentors WHERE id = ?1")?
                .query_row([mentor.as_str()], |r| r.get(0))
                .optional()?;
            self.mentor_school.insert(mentor.clone(), school);
        }
        match self.mentor_school.get(mentor).and_then(|s| s.as_deref()) {
            None => return Ok((false, Some("unknown mentor".into()))),
            Some(s) if s != self.school.as_str() => {
                return Ok((false, Some("mentor is not at this kiosk's school".into())))
            }
            Some(_) => {}
        }
        let Source::BadgeScan {
            generation,
            badge_hash,
            ..
        } = &event.source
        else {
            return Ok((true, None));
        };
        let key = (mentor.clone(), *generation);
        if !self.badges.contains_key(&key) {
            let issued: Option<String> = conn
                .prepare_cached("SELECT hash FROM badges WHERE mentor = ?1 AND generation = ?2")?
                .query_row(params![mentor.as_str(), generation], |r| r.get(0))
                .optional()?;
            let replaced_at: Option<String> = conn
                .prepare_cached(
                    "SELECT MIN(issued_at) FROM badges WHERE mentor = ?1 AND generation > ?2",
                )?
                .query_row(params![mentor.as_str(), generation], |r| r.get(0))?;
            self.badges.insert(key.clone(), (issued, replaced_at));
        }
        let (issued, replaced_at) = self.badges.get(&key).cloned().unwrap_or_default();
        let replaced_before_scan = replaced_at.is_some_and(|at| at <= ts(event.at));
        Ok(match issued {
            Some(hash) if &hash == badge_hash && replaced_before_scan => (
                false,
                Some("badge had been replaced before this scan".into()),
            ),
            Some(hash) if &hash == badge_hash => (true, None),
            Some(_) => (false, Some("badge does not match the one issued".into())),
            None => (false, Some("no such badge was issued".into())),
        })
    }
}
