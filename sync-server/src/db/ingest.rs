//! A kiosk's upload: checked, then stored in one transaction, each event id once.

use std::collections::{HashMap, HashSet};

use super::sql::{params, Conn, OptionalExtension, ToValue, TxKind, Value};
use chrono::{DateTime, NaiveDate, Utc};
use pm_shared::protocol::{
    SeriesConflict, SetAside, UploadAck, UploadBatch, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION,
};
use pm_shared::{Event, EventKind, KioskId, MentorId, SchoolId, SeriesId, Source};

use super::events::{mark_all_changed, mark_changed, organizer_resolved};
use super::lookups::{memberships_in, rules_in};
use super::{corrupt, school_on, ts, Db, Membership};
use crate::ServerError;

/// Why an event was set aside: stable codes, listed in docs/rules.md.
pub mod reason {
    pub const UNKNOWN_MENTOR: &str = "unknown_mentor";
    pub const NOT_AT_SCHOOL: &str = "not_at_school";
    /// Her own badge, checked out, at another school's kiosk: held for the organizers of
    /// either school to accept; the kiosk still pairs it with her next scan there.
    pub const VISIT: &str = "visit";
    pub const BADGE_REPLACED: &str = "badge_replaced";
    pub const BADGE_MISMATCH: &str = "badge_mismatch";
    pub const NO_SUCH_BADGE: &str = "no_such_badge";
    pub const ORGANIZER_ONLY: &str = "organizer_only";
    pub const RESOLVED_BY_ORGANIZER: &str = "resolved_by_organizer";
    pub const NOT_A_COORDINATOR: &str = "not_a_coordinator";
    pub const OVER_CAP: &str = "over_cap";
    pub const IN_THE_FUTURE: &str = "in_the_future";
    pub const TOO_OLD: &str = "too_old";
    pub const END_BEFORE_START: &str = "end_before_start";
    pub const TEXT_TOO_LONG: &str = "text_too_long";
    pub const TEXT_UNREADABLE: &str = "text_unreadable";
    /// What a kiosk's acknowledgement says of every set-aside event, whatever the reason.
    pub const SET_ASIDE: &str = "set_aside";
    /// A badge scan without a valid scan proof from a kiosk that must prove its scans.
    pub const SCAN_UNPROVEN: &str = "scan_unproven";
    pub const AT_OUT_OF_RANGE: &str = "instant_out_of_range:at";
    pub const START_OUT_OF_RANGE: &str = "instant_out_of_range:start";
    pub const END_OUT_OF_RANGE: &str = "instant_out_of_range:end";
}

/// The first instant an event may carry: before it, a kiosk clock was reset (to 1970, say).
fn earliest_instant() -> DateTime<Utc> {
    DateTime::from_timestamp(946_684_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    // 2000-01-01
}

/// How far past the server's clock an instant may be.
const FUTURE_LIMIT_HOURS: i64 = 24;

/// The field of the first instant outside [2000-01-01, now + 24 h], if any: such an event is
/// kept and set aside, never sessionized (a year-262142 instant breaks every calendar).
fn instant_out_of_range(event: &Event, now: DateTime<Utc>) -> Option<&'static str> {
    let latest = now
        .checked_add_signed(chrono::Duration::hours(FUTURE_LIMIT_HOURS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let bad = |t: DateTime<Utc>| t < earliest_instant() || t > latest;
    let (start, end) = match event.kind {
        EventKind::CloseSession { end, .. } => (None, Some(end)),
        EventKind::SetTimes { start, end, .. } => (start, end),
        EventKind::AddSession { start, end, .. } => (Some(start), Some(end)),
        _ => (None, None),
    };
    if bad(event.at) {
        Some(reason::AT_OUT_OF_RANGE)
    } else if start.is_some_and(bad) {
        Some(reason::START_OUT_OF_RANGE)
    } else if end.is_some_and(bad) {
        Some(reason::END_OUT_OF_RANGE)
    } else {
        None
    }
}

impl Db {
    /// Stores a kiosk's batch in one transaction: new events stored, resends recognised,
    /// clashes of (kiosk, series, sequence) reported, events that cannot be accepted set aside
    /// with a reason code (stored, never counted until an organizer accepts them).
    pub fn ingest(
        &mut self,
        kiosk: &KioskId,
        school: &SchoolId,
        batch: &UploadBatch,
        now: DateTime<Utc>,
    ) -> Result<UploadAck, ServerError> {
        if !(OLDEST_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&batch.protocol) {
            return Err(ServerError::Invalid(format!(
                "protocol version {} is not supported (this server speaks {OLDEST_PROTOCOL_VERSION} to {PROTOCOL_VERSION})",
                batch.protocol
            )));
        }
        // Its own events, and those of the kiosks it replaced (recorded there, never sent).
        let lineage = self.kiosk_lineage(kiosk)?;
        if &batch.kiosk != kiosk || batch.events.iter().any(|e| !lineage.contains(&e.kiosk)) {
            return Err(ServerError::Forbidden(
                "a kiosk may only send its own events (and those of the kiosk it replaced)".into(),
            ));
        }
        if let Some(bad) = batch
            .events
            .iter()
            .find(|e| e.sequence == 0 || i64::try_from(e.sequence).is_err())
        {
            return Err(ServerError::Invalid(format!(
                "event {}: sequence numbers run from 1 to 2^63 - 1",
                bad.id
            )));
        }
        if let Some(bad) = batch.events.iter().find(|e| !e.is_well_formed()) {
            return Err(ServerError::Invalid(format!(
                "event {}: a clock event names no mentor and comes from the kiosk itself; every other event names a mentor",
                bad.id
            )));
        }
        let offset_ms = (batch.kiosk_clock - now).num_milliseconds();
        // The clock reading of this upload holds just after its last event in each series.
        let mut through: HashMap<SeriesId, u64> = HashMap::new();
        for e in &batch.events {
            let last = through.entry(e.series).or_insert(e.sequence);
            *last = (*last).max(e.sequence);
        }
        let mut ack = UploadAck {
            protocol: batch.protocol,
            server_clock: now,
            ..UploadAck::default()
        };
        let rules = self.rules()?;
        let tx = self.conn.begin(TxKind::Write)?;
        let received_at = ts(now);
        claim_series(&tx, batch, &lineage)?;
        let proof_required = scan_proof_required(&tx, &lineage, &rules, now)?;
        // A kiosk that must prove its scans but runs older software would have every scan set
        // aside, quietly: refuse the upload instead, so it keeps its events and says why.
        let scans = batch
            .events
            .iter()
            .any(|e| matches!(e.source, Source::BadgeScan { .. }));
        if proof_required && scans && batch.protocol < 3 {
            return Err(ServerError::Invalid(
                "this kiosk must prove its badge scans (protocol 3): update its software; its events stay on it until then".into(),
            ));
        }
        let mut verifier = Verifier::new(school, rules, now);
        verifier.badges.proof_required = proof_required;
        let mut changed: HashSet<MentorId> = HashSet::new();
        // Mentors' events are inserted many rows to a statement (one round trip per chunk, not
        // per event, on PostgreSQL), in batch order; a kiosk-level event first flushes those
        // before it, so the acknowledgement lists keep the batch's order.
        let mut rows: Vec<EventRow> = Vec::new();
        for event in &batch.events {
            let Some(mentor) = &event.mentor else {
                insert_rows(&tx, &mut rows, &mut ack, &mut changed)?;
                let fresh = store_kiosk_event(&tx, event, &received_at)?;
                if fresh {
                    // What it says of the kiosk's clock may change verdicts on the sessions
                    // recorded around it: their totals are computed again.
                    changed.extend(judged_by(&tx, event)?);
                }
                record(&tx, &mut ack, event, fresh, None)?;
                continue;
            };
            let (verified, set_aside) = match instant_out_of_range(event, now) {
                Some(why) => (false, Some(why)),
                None => verifier.check(&tx, event, mentor)?,
            };
            let body = serde_json::to_string(event).map_err(corrupt)?;
            let values = vec![
                event.id.to_string().to_value(),
                event.kiosk.as_str().to_value(),
                event.series.to_string().to_value(),
                event.sequence.to_value(),
                mentor.as_str().to_value(),
                ts(event.at).to_value(),
                body.to_value(),
                received_at.to_value(),
                offset_ms.to_value(),
                verified.to_value(),
                set_aside.to_value(),
                through
                    .get(&event.series)
                    .copied()
                    .unwrap_or(event.sequence)
                    .to_value(),
                event.kind.resolves().map(|i| i.to_string()).to_value(),
                // The name to list her entries by; the body keeps it exactly as sent (a
                // control character in it is shown as U+FFFD: PostgreSQL holds no NUL).
                match &event.source {
                    Source::Coordinator { coordinator, .. } => {
                        Some(coordinator.replace(char::is_control, "\u{fffd}"))
                    }
                    _ => None,
                }
                .to_value(),
            ];
            rows.push(EventRow {
                event,
                mentor,
                set_aside,
                values,
            });
        }
        insert_rows(&tx, &mut rows, &mut ack, &mut changed)?;
        mark_all_changed(&tx, &changed)?;
        if verifier.badges.proven && !proof_required {
            // It proves its scans now: an unproven one from it (or its lineage) is never
            // accepted again.
            tx.prepare_cached("UPDATE kiosks SET proof_required = 1 WHERE id = ?1")?
                .execute([kiosk.as_str()])?;
        }
        // This upload's clock reading, for every series it brought something new in.
        let fresh: HashSet<SeriesId> = batch
            .events
            .iter()
            .filter(|e| ack.stored.contains(&e.id) || ack.set_aside.iter().any(|s| s.id == e.id))
            .map(|e| e.series)
            .collect();
        for series in fresh {
            if let Some(through) = through.get(&series) {
                tx.prepare_cached(
                    "INSERT INTO clock_readings (series, through_sequence, offset_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![series.to_string(), through, offset_ms])?;
            }
        }
        tx.commit()?;
        Ok(ack)
    }
}

/// Each series belongs to the kiosk that first used it (and the kiosks that replaced it): the
/// clock checks in a series judge every event of it, so no other kiosk may write there. A
/// series new to the server is claimed by the kiosk of its first event.
fn claim_series(conn: &Conn, batch: &UploadBatch, lineage: &[KioskId]) -> Result<(), ServerError> {
    let mut seen: HashSet<SeriesId> = HashSet::new();
    for e in &batch.events {
        if !seen.insert(e.series) {
            continue;
        }
        let owner: Option<String> = conn
            .prepare_cached("SELECT kiosk FROM series_owners WHERE series = ?1")?
            .query_row([e.series.to_string()], |r| r.get(0))
            .optional()?;
        match owner {
            Some(owner) if !lineage.iter().any(|k| k.as_str() == owner) => {
                return Err(ServerError::Forbidden(format!(
                    "series {} belongs to another kiosk: a kiosk writes only its own series",
                    e.series
                )))
            }
            Some(_) => {}
            None => {
                conn.prepare_cached(
                    "INSERT INTO series_owners (series, kiosk) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )?
                .execute(params![e.series.to_string(), e.kiosk.as_str()])?;
            }
        }
    }
    Ok(())
}

/// The mentors whose events a kiosk-level event helps judge: those recorded in its series
/// between the kiosk-level events before and after it.
fn judged_by(conn: &Conn, event: &Event) -> Result<Vec<MentorId>, ServerError> {
    let series = event.series.to_string();
    let before: Option<i64> = conn
        .prepare_cached(
            "SELECT MAX(sequence) FROM kiosk_events WHERE series = ?1 AND sequence < ?2",
        )?
        .query_row(params![series, event.sequence], |r| r.get(0))?;
    let after: Option<i64> = conn
        .prepare_cached(
            "SELECT MIN(sequence) FROM kiosk_events WHERE series = ?1 AND sequence > ?2",
        )?
        .query_row(params![series, event.sequence], |r| r.get(0))?;
    let rows = conn.rows(
        "SELECT DISTINCT mentor FROM events
         WHERE kiosk = ?1 AND series = ?2 AND sequence > ?3 AND sequence < ?4",
        params![
            event.kiosk.as_str(),
            series,
            before.unwrap_or(0),
            after.unwrap_or(i64::MAX)
        ],
    )?;
    rows.iter()
        .map(|r| MentorId::new(r.get::<_, String>(0)?).map_err(ServerError::from))
        .collect()
}

/// Whether every badge scan of this upload must carry a valid proof: a kiosk of its lineage
/// was registered with proofs or has sent a proven scan, or the program's date for kiosks
/// registered before proofs has come (by default 30 days after this server first ran them).
fn scan_proof_required(
    conn: &Conn,
    lineage: &[KioskId],
    rules: &pm_shared::ProgramRules,
    now: DateTime<Utc>,
) -> Result<bool, ServerError> {
    for k in lineage {
        let required: Option<i64> = conn
            .prepare_cached("SELECT proof_required FROM kiosks WHERE id = ?1")?
            .query_row([k.as_str()], |r| r.get(0))
            .optional()?;
        if required.unwrap_or(0) != 0 {
            return Ok(true);
        }
    }
    let from = match rules.require_scan_proof_from {
        Some(day) => Some(day),
        None => scan_proof_default_from(conn)?,
    };
    Ok(from.is_some_and(|day| now.date_naive() >= day))
}

/// 30 days after this server first ran with scan proofs.
pub(super) fn scan_proof_default_from(conn: &Conn) -> Result<Option<NaiveDate>, ServerError> {
    let since: Option<String> = conn
        .prepare_cached("SELECT at FROM upgrades WHERE name = 'scan_proof'")?
        .query_row((), |r| r.get(0))
        .optional()?;
    Ok(since
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.date_naive() + chrono::Duration::days(SCAN_PROOF_GRACE_DAYS)))
}

/// Days kiosks registered before scan proofs may still send unproven scans, by default.
pub const SCAN_PROOF_GRACE_DAYS: i64 = 30;

/// Stores a kiosk-level event (a clock check); whether it was new.
fn store_kiosk_event(tx: &Conn, event: &Event, received_at: &str) -> Result<bool, ServerError> {
    let body = serde_json::to_string(event).map_err(corrupt)?;
    let n = tx
        .prepare_cached(
            "INSERT INTO kiosk_events (id, kiosk, series, sequence, at, body, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            event.id.to_string(),
            event.kiosk.as_str(),
            event.series.to_string(),
            event.sequence,
            ts(event.at),
            body,
            received_at
        ])?;
    Ok(n == 1)
}

/// A mentor's event of an upload, judged and ready to insert.
struct EventRow<'a> {
    event: &'a Event,
    mentor: &'a MentorId,
    set_aside: Option<&'static str>,
    /// The `events` columns of [`EVENT_COLUMNS`], in order.
    values: Vec<Value>,
}

const EVENT_COLUMNS: &str = "id, kiosk, series, sequence, mentor, at, body, received_at, clock_offset_ms, badge_verified, set_aside_reason, delivered_through, item, coordinator";
/// Rows per statement: 14 parameters each, well under both engines' limits (SQLite 32,766).
const ROWS_PER_INSERT: usize = 250;

/// Inserts the waiting rows, many to a statement; a unique-key collision inserts nothing (a
/// resend, or numbers that name another event: `record` tells which). Each event is then put
/// in the acknowledgement, in order.
fn insert_rows(
    tx: &Conn,
    rows: &mut Vec<EventRow<'_>>,
    ack: &mut UploadAck,
    changed: &mut HashSet<MentorId>,
) -> Result<(), ServerError> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let width = EVENT_COLUMNS.split(',').count();
        let tuples: Vec<String> = (0..chunk.len())
            .map(|r| {
                let cells: Vec<String> =
                    (1..=width).map(|c| format!("?{}", r * width + c)).collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO events ({EVENT_COLUMNS}) VALUES {} ON CONFLICT DO NOTHING RETURNING id, series, sequence",
            tuples.join(", ")
        );
        let values: Vec<Value> = chunk
            .iter()
            .flat_map(|r| r.values.iter().cloned())
            .collect();
        // What was inserted, by (id, series, sequence): two rows of a chunk may share an id
        // with different numbers (one inserted, the other a conflict), or numbers with
        // different ids.
        let mut inserted: HashSet<(String, String, i64)> = HashSet::new();
        for row in tx.rows(&sql, values)? {
            inserted.insert((row.get(0)?, row.get(1)?, row.get(2)?));
        }
        for row in chunk {
            // The very same event twice in one statement is inserted once: the first.
            let key = (
                row.event.id.to_string(),
                row.event.series.to_string(),
                i64::try_from(row.event.sequence).unwrap_or(-1),
            );
            let fresh = inserted.remove(&key);
            if fresh {
                changed.insert(row.mentor.clone());
            }
            record(tx, ack, row.event, fresh, row.set_aside)?;
        }
    }
    rows.clear();
    Ok(())
}

/// Puts an event in exactly one list of the acknowledgement. Nothing inserted: either this id
/// is stored already (a resend, whatever its numbers), or its (kiosk, series, sequence) names
/// a different event.
fn record(
    tx: &Conn,
    ack: &mut UploadAck,
    event: &Event,
    inserted: bool,
    set_aside: Option<&'static str>,
) -> Result<(), ServerError> {
    if inserted {
        match set_aside {
            // The kiosk is told only that it was set aside: the reason stays on the server, so
            // a kiosk's token cannot tell an unknown mentor id from another school's.
            Some(why) => ack.set_aside.push(SetAside {
                id: event.id,
                reason: reason::SET_ASIDE.to_owned(),
                pairs: why == reason::VISIT,
            }),
            None => ack.stored.push(event.id),
        }
        return Ok(());
    }
    let known: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM events WHERE id = ?1)
                 OR EXISTS (SELECT 1 FROM kiosk_events WHERE id = ?1)",
        )?
        .query_row([event.id.to_string()], |r| r.get(0))?;
    if known {
        ack.already_stored.push(event.id);
    } else {
        ack.conflicts.push(SeriesConflict {
            id: event.id,
            series: event.series,
            sequence: event.sequence,
        });
    }
    Ok(())
}

/// Checks events against the mentors, their schools over time, the coordinators' terms and the
/// badges this server issued, caching what it looked up for the rest of the batch. Returns
/// (verified, set-aside reason) per event.
struct Verifier<'a> {
    school: &'a SchoolId,
    rules: pm_shared::ProgramRules,
    now: DateTime<Utc>,
    /// Coordinator name → her terms at this school: (from, until).
    terms: HashMap<String, Vec<(String, Option<String>)>>,
    /// `None`: no such mentor; else her schools over time and whether she is active.
    memberships: HashMap<MentorId, Option<(Vec<Membership>, bool)>>,
    badges: BadgeBook,
}

impl<'a> Verifier<'a> {
    fn new(school: &'a SchoolId, rules: pm_shared::ProgramRules, now: DateTime<Utc>) -> Self {
        Self {
            school,
            rules,
            now,
            terms: HashMap::new(),
            memberships: HashMap::new(),
            badges: BadgeBook::default(),
        }
    }

    fn check(
        &mut self,
        conn: &Conn,
        event: &Event,
        mentor: &MentorId,
    ) -> Result<(bool, Option<&'static str>), ServerError> {
        // Approving, accepting and rejecting are organizers' work: never a kiosk's.
        if event.kind.is_organizer_only() || matches!(event.source, Source::Organizer { .. }) {
            return Ok((false, Some(reason::ORGANIZER_ONLY)));
        }
        if !self.memberships.contains_key(mentor) {
            let active: Option<bool> = conn
                .prepare_cached("SELECT active FROM mentors WHERE id = ?1")?
                .query_row([mentor.as_str()], |r| r.get(0))
                .optional()?;
            let history = match active {
                Some(active) => Some((memberships_in(conn, mentor)?, active)),
                None => None,
            };
            self.memberships.insert(mentor.clone(), history);
        }
        let Some(Some((history, active))) = self.memberships.get(mentor) else {
            return Ok((false, Some(reason::UNKNOWN_MENTOR)));
        };
        // Her school on the day it happened: before a move she was at her old school.
        let day = event.time_zone.local_date(event.at);
        // A visit (a joint workshop, her other child's school): her own badge, scanned at
        // another school's kiosk, is held as a visit once the badge checks out below, for an
        // organizer of either school to accept. Only a badge proves she was there: a kiosk's
        // corrections and entries stay within its school. (A deactivated mentor's badge is
        // refused at her own school; elsewhere it is no visit.)
        let elsewhere = school_on(history, day) != Some(self.school);
        let visit = *active
            && matches!(event.source, Source::BadgeScan { .. })
            && matches!(event.kind, EventKind::CheckIn | EventKind::CheckOut { .. });
        if elsewhere && !visit {
            return Ok((false, Some(reason::NOT_AT_SCHOOL)));
        }
        if let Some(item) = event.kind.resolves() {
            if organizer_resolved(conn, &item)? {
                return Ok((false, Some(reason::RESOLVED_BY_ORGANIZER)));
            }
            // What a resolution names must be this school's: a kiosk voids or closes only what
            // happened at its own school, and never an organizer's decision.
            let target: Option<(String, Option<String>)> = conn
                .prepare_cached(
                    "SELECT e.kiosk, k.school FROM events e LEFT JOIN kiosks k ON k.id = e.kiosk WHERE e.id = ?1",
                )?
                .query_row([item.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match target {
                Some((kiosk, _)) if kiosk == super::SERVER_KIOSK => {
                    return Ok((false, Some(reason::ORGANIZER_ONLY)))
                }
                Some((_, Some(school))) if school != self.school.as_str() => {
                    return Ok((false, Some(reason::NOT_AT_SCHOOL)))
                }
                _ => {}
            }
        }
        if let Source::Coordinator {
            coordinator,
            reason: why,
        } = &event.source
        {
            if let Some(refused) = self.check_coordinator_entry(conn, event, coordinator, why)? {
                return Ok((false, Some(refused)));
            }
        }
        match self.badges.verdict(conn, event, mentor)? {
            (true, None) if elsewhere => Ok((true, Some(reason::VISIT))),
            verdict => Ok(verdict),
        }
    }
}

/// (hash and text issued, earliest issue time of a later generation) of one badge generation.
type Issued = (Option<(String, String)>, Option<String>);

/// The badges this server issued, looked up once per batch.
#[derive(Default)]
struct BadgeBook {
    /// (mentor, generation) → what was issued.
    badges: HashMap<(MentorId, u32), Issued>,
    /// Every scan without a valid proof is set aside (this kiosk's lineage has proven scans,
    /// was registered with proofs, or the program's date for the others has come).
    proof_required: bool,
    /// A scan of this batch carried a valid proof: the lineage proves its scans from now on.
    proven: bool,
}

impl BadgeBook {
    /// (verified, set-aside reason) of an event's badge; an event that is no scan passes.
    fn verdict(
        &mut self,
        conn: &Conn,
        event: &Event,
        mentor: &MentorId,
    ) -> Result<(bool, Option<&'static str>), ServerError> {
        let Source::BadgeScan {
            generation,
            badge_hash,
            proof,
            ..
        } = &event.source
        else {
            return Ok((true, None));
        };
        if proof.as_ref().is_some_and(|p| p.len() > 128) {
            return Ok((false, Some(reason::TEXT_TOO_LONG)));
        }
        if badge_hash.len() > 128 {
            return Ok((false, Some(reason::TEXT_TOO_LONG)));
        }
        let key = (mentor.clone(), *generation);
        if !self.badges.contains_key(&key) {
            let issued: Option<(String, String)> = conn
                .prepare_cached(
                    "SELECT hash, text FROM badges WHERE mentor = ?1 AND generation = ?2",
                )?
                .query_row(params![mentor.as_str(), generation], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
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
            Some((hash, _)) if &hash == badge_hash && replaced_before_scan => {
                (false, Some(reason::BADGE_REPLACED))
            }
            Some((hash, text)) if &hash == badge_hash => {
                // Only the badge (read at the kiosk) and this server can make a proof; a wrong
                // one is never accepted, a missing one only where proofs are not required yet.
                let proven = match (proof, pm_shared::ScanClaim::of(event)) {
                    (Some(p), Some(claim)) => pm_shared::verify_scan_proof(&text, &claim, p),
                    _ => false,
                };
                if proven {
                    self.proven = true;
                    (true, None)
                } else if proof.is_some() || self.proof_required {
                    (false, Some(reason::SCAN_UNPROVEN))
                } else {
                    (true, None)
                }
            }
            Some(_) => (false, Some(reason::BADGE_MISMATCH)),
            None => (false, Some(reason::NO_SUCH_BADGE)),
        })
    }
}

impl Db {
    /// Marks a stored scan's badge verified (the check an accept made) and invalidates her
    /// totals, in one transaction.
    pub fn mark_badge_verified(&mut self, event: &Event) -> Result<(), ServerError> {
        let Some(mentor) = &event.mentor else {
            return Ok(());
        };
        let tx = self.conn.begin(TxKind::Write)?;
        tx.execute(
            "UPDATE events SET badge_verified = ?2 WHERE id = ?1",
            params![event.id.to_string(), true],
        )?;
        mark_changed(&tx, mentor)?;
        tx.commit()?;
        Ok(())
    }

    /// Why the badge on a scan does not check out (`None`: it does, or the event is no scan):
    /// the check an organizer's accept of a set-aside scan makes, as at any scan.
    pub fn badge_refusal(&self, event: &Event) -> Result<Option<&'static str>, ServerError> {
        let Some(mentor) = &event.mentor else {
            return Ok(None);
        };
        Ok(BadgeBook::default().verdict(&self.conn, event, mentor)?.1)
    }
}

impl Verifier<'_> {
    /// A coordinator's entry from a kiosk is re-checked here, never taken on the kiosk's word:
    /// she was a coordinator of this school when it was made, her texts are of sane length, and
    /// an added session is within the cap, not in the future and not older than the program
    /// allows.
    fn check_coordinator_entry(
        &mut self,
        conn: &Conn,
        event: &Event,
        coordinator: &str,
        why: &str,
    ) -> Result<Option<&'static str>, ServerError> {
        let limit = crate::review::MAX_TEXT;
        if coordinator.chars().count() > limit || why.chars().count() > limit {
            return Ok(Some(reason::TEXT_TOO_LONG));
        }
        if crate::review::has_control(coordinator) || crate::review::has_control(why) {
            return Ok(Some(reason::TEXT_UNREADABLE));
        }
        // A check-in or check-out without a badge reaches back no further than an added
        // session: a stolen kiosk cannot backdate weeks of them.
        if matches!(event.kind, EventKind::CheckIn | EventKind::CheckOut { .. }) {
            let oldest = self
                .now
                .checked_sub_signed(chrono::Duration::days(i64::from(
                    self.rules.coordinator_entry_max_age_days,
                )))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            if event.at < oldest {
                return Ok(Some(reason::TOO_OLD));
            }
        }
        if !self.terms.contains_key(coordinator) {
            let mut stmt = conn.prepare_cached(
                "SELECT from_at, until_at FROM coordinator_terms WHERE school = ?1 AND name = ?2",
            )?;
            let rows = stmt.query_map(params![self.school.as_str(), coordinator], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            let terms = rows.collect::<Result<Vec<_>, _>>()?;
            self.terms.insert(coordinator.to_owned(), terms);
        }
        // The kiosk's clock may be a few minutes behind the server's that started her term.
        let at = ts(event
            .at
            .checked_add_signed(self.rules.clock_skew_tolerance())
            .unwrap_or(event.at));
        let serving = self.terms.get(coordinator).is_some_and(|terms| {
            terms.iter().any(|(from, until)| {
                from.as_str() <= at.as_str()
                    && until.as_deref().is_none_or(|u| event_at_before(event, u))
            })
        });
        if !serving {
            return Ok(Some(reason::NOT_A_COORDINATOR));
        }
        if let EventKind::AddSession { start, end, .. } = event.kind {
            let oldest = self
                .now
                .checked_sub_signed(chrono::Duration::days(i64::from(
                    self.rules.coordinator_entry_max_age_days,
                )))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            if end <= start {
                return Ok(Some(reason::END_BEFORE_START));
            }
            let day = event.time_zone.local_date(start);
            if end - start > self.rules.on(day).session_cap() {
                return Ok(Some(reason::OVER_CAP));
            }
            // The kiosk's clock may run ahead of ours by as much as we tolerate elsewhere.
            let latest = self
                .now
                .checked_add_signed(self.rules.clock_skew_tolerance())
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            if end > latest {
                return Ok(Some(reason::IN_THE_FUTURE));
            }
            if start < oldest {
                return Ok(Some(reason::TOO_OLD));
            }
        }
        Ok(None)
    }
}

/// Whether the event happened before this stored instant.
fn event_at_before(event: &Event, until: &str) -> bool {
    ts(event.at).as_str() < until
}

/// Checks a stored event again, as if it arrived now at its kiosk's school (after a move was
/// entered): (verified, set-aside reason).
pub(super) fn recheck(
    conn: &Conn,
    event: &Event,
    school: &SchoolId,
    rules: pm_shared::ProgramRules,
    now: DateTime<Utc>,
) -> Result<(bool, Option<&'static str>), ServerError> {
    let Some(mentor) = &event.mentor else {
        return Ok((false, None));
    };
    if let Some(why) = instant_out_of_range(event, now) {
        return Ok((false, Some(why)));
    }
    // As at receipt: a kiosk that must prove its scans gets no unproven one counted later.
    let proof_required =
        scan_proof_required(conn, std::slice::from_ref(&event.kiosk), &rules, now)?;
    let mut verifier = Verifier::new(school, rules, now);
    verifier.badges.proof_required = proof_required;
    verifier.check(conn, event, mentor)
}

/// Looks again at a mentor's events set aside because she was not at their kiosk's school on
/// their day, or was not known yet: after a move or an import, her history may now say she
/// was. Every check runs again (her badge too), not just the school; what passes counts.
pub(super) fn recheck_set_aside(
    conn: &Conn,
    mentor: &MentorId,
    now: DateTime<Utc>,
) -> Result<(), ServerError> {
    let waiting: Vec<(String, String, String)> = {
        let mut stmt = conn.prepare(
            "SELECT e.id, e.body, COALESCE(k.school, '') FROM events e LEFT JOIN kiosks k ON k.id = e.kiosk
             WHERE e.mentor = ?1 AND e.set_aside_reason IN ('not_at_school', 'unknown_mentor', 'visit')",
        )?;
        let rows = stmt.query_map([mentor.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    if waiting.is_empty() {
        return Ok(());
    }
    let rules = rules_in(conn)?;
    for (event_id, body, kiosk_school) in waiting {
        let event: Event = serde_json::from_str(&body).map_err(corrupt)?;
        let Ok(kiosk_school) = SchoolId::new(kiosk_school) else {
            continue;
        };
        // Counted now (she was at that school that day), or held for another reason (a scan
        // once of an unknown mentor is a visit now that she is known at another school).
        let (verified, still) = recheck(conn, &event, &kiosk_school, rules.clone(), now)?;
        // A badge once verified (at receipt, or by an organizer's accept) stays verified.
        conn.execute(
            "UPDATE events SET set_aside_reason = ?3,
                 badge_verified = CASE WHEN badge_verified = 1 THEN 1 ELSE ?2 END
             WHERE id = ?1",
            params![event_id, verified, still],
        )?;
    }
    Ok(())
}
