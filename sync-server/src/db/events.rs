//! Reading the merged event log, organizers' resolutions, and materialized totals.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::sql::{params, Conn, OptionalExtension, TxKind};
use chrono::{DateTime, Utc};
use pm_shared::{
    Delivery, Event, EventId, EventKind, KioskId, MentorId, Observed, PeriodName, PeriodTotals,
    Reading, SeriesId, Source, TimeZone,
};

use super::{corrupt, ts, Db, SERVER_KIOSK};
use crate::ServerError;

/// An event stored on the server, with what the server learned on receipt.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub observed: Observed,
    pub set_aside: Option<String>,
}

/// What `totals_snapshot` read: these mentors' events (set-aside ones marked), the kiosk-level
/// events of their kiosks' series (clock checks), and the change counters they reflect.
#[derive(Default)]
pub struct TotalsSnapshot {
    pub events: Vec<StoredEvent>,
    /// Every upload's clock reading in the series of those events.
    pub readings: Vec<Reading>,
    pub versions: HashMap<MentorId, i64>,
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
    pub totals: BTreeMap<(MentorId, PeriodName), PeriodTotals>,
    pub stale: Vec<MentorId>,
}

/// Every transaction that touches several mentors' totals rows does so in ascending mentor
/// order (ingest, entries, saving totals, new rules): two of them on PostgreSQL then never
/// wait on each other in a circle.
pub(super) fn mark_all_changed<'m>(
    conn: &Conn,
    mentors: impl IntoIterator<Item = &'m MentorId>,
) -> Result<(), ServerError> {
    let mut mentors: Vec<&MentorId> = mentors.into_iter().collect();
    mentors.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    mentors.dedup();
    for mentor in mentors {
        mark_changed(conn, mentor)?;
    }
    Ok(())
}

pub(super) fn mark_changed(conn: &Conn, mentor: &MentorId) -> Result<(), ServerError> {
    conn.prepare_cached(
        "INSERT INTO mentor_totals_state (mentor, changed) VALUES (?1, 1)
         ON CONFLICT (mentor) DO UPDATE SET changed = mentor_totals_state.changed + 1",
    )?
    .execute([mentor.as_str()])?;
    Ok(())
}

pub(super) fn select_events(
    conn: &Conn,
    filter: &str,
    params: impl super::sql::Params,
) -> Result<Vec<StoredEvent>, ServerError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT e.body, e.badge_verified, e.clock_offset_ms, e.set_aside_reason,
                COALESCE(e.delivered_through, e.sequence), e.kiosk = '{SERVER_KIOSK}',
                CASE WHEN e.received_at >= COALESCE((SELECT u.at FROM upgrades u WHERE u.name = 'scan_proof'), '')
                     THEN e.received_at END
         FROM events e {filter}"
    ))?;
    let rows = stmt.query_map(params, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, bool>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, u64>(4)?,
            r.get::<_, bool>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (body, verified, offset, set_aside, through, by_server, received_at) = row?;
        let event: Event = serde_json::from_str(&body).map_err(corrupt)?;
        // Organizers' resolutions are the server's own: no kiosk clock to read.
        let delivery = (!by_server).then_some(Delivery {
            offset_ms: offset,
            through_sequence: through,
            // Known only for what arrived since late deliveries are judged (this server's
            // upgrade): sessions delivered and paid before it are never reopened.
            received_at: received_at
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.to_utc()),
        });
        out.push(StoredEvent {
            observed: Observed {
                event,
                badge_verified: verified,
                delivery,
                set_aside: set_aside.clone(),
            },
            set_aside,
        });
    }
    Ok(out)
}

/// The kiosk-level events (clock checks and jumps) of these series.
fn kiosk_events_of(
    conn: &Conn,
    series: &HashSet<SeriesId>,
) -> Result<Vec<StoredEvent>, ServerError> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached("SELECT body FROM kiosk_events WHERE series = ?1")?;
    for s in series {
        let rows = stmt.query_map([s.to_string()], |r| r.get::<_, String>(0))?;
        for row in rows {
            let event: Event = serde_json::from_str(&row?).map_err(corrupt)?;
            out.push(StoredEvent {
                observed: Observed::local(event),
                set_aside: None,
            });
        }
    }
    Ok(out)
}

/// The series of kiosks' events among these (organizers' resolutions have no kiosk clock).
pub fn series_of(events: &[StoredEvent]) -> Vec<SeriesId> {
    let mut series: Vec<SeriesId> = Vec::new();
    for e in events {
        let s = e.observed.event.series;
        if e.observed.delivery.is_some() && series.last() != Some(&s) {
            series.push(s);
        }
    }
    series.sort_unstable();
    series.dedup();
    series
}

/// Every upload's clock reading in these series.
pub(super) fn clock_readings(
    conn: &Conn,
    series: &[SeriesId],
) -> Result<Vec<Reading>, ServerError> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT through_sequence, offset_ms FROM clock_readings WHERE series = ?1",
    )?;
    for s in series {
        let rows = stmt.query_map([s.to_string()], |r| {
            Ok((r.get::<_, u64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (through_sequence, offset_ms) = row?;
            out.push(Reading {
                series: *s,
                through_sequence,
                offset_ms,
            });
        }
    }
    Ok(out)
}

/// Adds the kiosk-level events of the series these events came from.
fn with_clock_events(
    conn: &Conn,
    mut events: Vec<StoredEvent>,
) -> Result<Vec<StoredEvent>, ServerError> {
    let mut series: HashSet<SeriesId> = HashSet::new();
    let mut last: Option<SeriesId> = None;
    for e in &events {
        // A series' events come together: only a change of series needs the set.
        let s = e.observed.event.series;
        if last != Some(s) && e.observed.delivery.is_some() {
            series.insert(s);
            last = Some(s);
        }
    }
    events.extend(kiosk_events_of(conn, &series)?);
    Ok(events)
}

impl Db {
    /// Every upload's clock reading in these series.
    pub fn clock_readings(&self, series: &[SeriesId]) -> Result<Vec<Reading>, ServerError> {
        clock_readings(&self.conn, series)
    }

    /// Every stored event (set-aside ones included, marked) of the mentors of one school now
    /// (or of all), with the clock events of their kiosks.
    pub fn events(&self, school: Option<&SchoolId>) -> Result<Vec<StoredEvent>, ServerError> {
        let events = select_events(
            &self.conn,
            "WHERE CAST(?1 AS TEXT) IS NULL OR e.mentor IN (SELECT id FROM mentors WHERE school = ?1)",
            [school.map(|s| s.as_str())],
        )?;
        with_clock_events(&self.conn, events)
    }

    /// One mentor's events (set-aside ones included), with the clock events of her kiosks.
    pub fn mentor_events(&self, mentor: &str) -> Result<Vec<StoredEvent>, ServerError> {
        let events = select_events(&self.conn, "WHERE e.mentor = ?1", [mentor])?;
        with_clock_events(&self.conn, events)
    }

    /// The mentor id an event names (the event may be set aside, for a mentor nobody knows).
    pub fn event_mentor(&self, id: &EventId) -> Result<Option<String>, ServerError> {
        self.conn
            .prepare_cached("SELECT mentor FROM events WHERE id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()
    }

    /// Mentor ids on set-aside events that name no mentor of this server.
    pub fn unknown_mentors_set_aside(&self) -> Result<Vec<String>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT mentor FROM events
             WHERE set_aside_reason IS NOT NULL AND mentor NOT IN (SELECT id FROM mentors)",
        )?;
        let rows = stmt.query_map((), |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()
    }

    /// Whether an organizer has already resolved this review item.
    pub fn organizer_resolved(&self, item: &EventId) -> Result<bool, ServerError> {
        organizer_resolved(&self.conn, item)
    }

    /// Records an organizer's resolution as a new event in the server's own series (who, when
    /// and why are in it), and invalidates the mentor's totals in the same transaction.
    #[allow(clippy::too_many_arguments)]
    pub fn append_resolution(
        &mut self,
        mentor: &MentorId,
        time_zone: TimeZone,
        kind: EventKind,
        organizer: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Event, ServerError> {
        let mut events =
            self.append_resolutions(&[(mentor.clone(), time_zone, kind)], organizer, reason, now)?;
        events.pop().ok_or_else(|| corrupt("no event was recorded"))
    }

    /// Several of an organizer's events (a paper sign-in sheet) in one transaction: all or
    /// nothing, each numbered in the server's own series.
    pub fn append_resolutions(
        &mut self,
        entries: &[(MentorId, TimeZone, EventKind)],
        organizer: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, ServerError> {
        let tx = self.conn.begin(TxKind::Write)?;
        // The next number of the server's own series, taken under the row's lock (two
        // servers on one PostgreSQL database never hand out the same one).
        let bump = |tx: &Conn| -> Result<Option<(String, u64)>, ServerError> {
            tx.query_row(
                "UPDATE server_series SET last = last + 1 RETURNING series, last",
                (),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        };
        let mut recorded = Vec::with_capacity(entries.len());
        for (mentor, time_zone, kind) in entries {
            let mut current = bump(&tx)?;
            if current.is_none() {
                let fresh = SeriesId::from_parts(
                    u64::try_from(now.timestamp_millis()).unwrap_or(0),
                    rand::random(),
                );
                tx.execute(
                    "INSERT INTO server_series (singleton, series, last) VALUES (1, ?1, 0)
                     ON CONFLICT (singleton) DO NOTHING",
                    [fresh.to_string()],
                )?;
                current = bump(&tx)?;
            }
            let (series, sequence) = match current {
                Some((s, last)) => (
                    s.parse::<SeriesId>()
                        .map_err(|_| corrupt(format!("series id {s:?}")))?,
                    last,
                ),
                None => return Err(corrupt("the server's series could not be started")),
            };
            let event = Event {
                id: EventId::from_parts(
                    u64::try_from(now.timestamp_millis()).unwrap_or(0),
                    rand::random(),
                ),
                kiosk: KioskId::new(SERVER_KIOSK)?,
                series,
                sequence,
                mentor: Some(mentor.clone()),
                at: now,
                time_zone: *time_zone,
                kind: kind.clone(),
                source: Source::Organizer {
                    organizer: organizer.to_owned(),
                    reason: reason.to_owned(),
                },
            };
            let body = serde_json::to_string(&event).map_err(corrupt)?;
            tx.execute(
                "INSERT INTO events (id, kiosk, series, sequence, mentor, at, body, received_at, clock_offset_ms, badge_verified, set_aside_reason, item)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, 0, 1, NULL, ?8)",
                params![
                    event.id.to_string(),
                    SERVER_KIOSK,
                    series.to_string(),
                    sequence,
                    mentor.as_str(),
                    ts(now),
                    body,
                    event.kind.resolves().map(|i| i.to_string())
                ],
            )?;
            recorded.push(event);
        }
        mark_all_changed(&tx, entries.iter().map(|(m, _, _)| m))?;
        tx.commit()?;
        Ok(recorded)
    }

    /// These mentors' events and the change counters they reflect, read in one transaction so
    /// the two agree (see `totals`).
    pub fn totals_snapshot(&mut self, mentors: &[MentorId]) -> Result<TotalsSnapshot, ServerError> {
        let tx = self.conn.begin(TxKind::Snapshot)?;
        let mut snapshot = TotalsSnapshot::default();
        let mut events = Vec::new();
        for m in mentors {
            let changed: Option<i64> = tx
                .prepare_cached("SELECT changed FROM mentor_totals_state WHERE mentor = ?1")?
                .query_row([m.as_str()], |r| r.get(0))
                .optional()?;
            snapshot.versions.insert(m.clone(), changed.unwrap_or(0));
            events.extend(select_events(&tx, "WHERE e.mentor = ?1", [m.as_str()])?);
        }
        snapshot.events = with_clock_events(&tx, events)?;
        snapshot.readings = clock_readings(&tx, &series_of(&snapshot.events))?;
        tx.commit()?;
        Ok(snapshot)
    }

    /// Stores freshly computed totals, for each mentor only if nothing changed since the
    /// snapshot they were computed from.
    pub fn save_totals(&mut self, computed: &[ComputedTotals]) -> Result<(), ServerError> {
        let tx = self.conn.transaction()?;
        // In mentor order, as `mark_all_changed`: a report saving totals while an upload or
        // another report does never deadlocks with it (a HashMap's order differs per process).
        let mut computed: Vec<&ComputedTotals> = computed.iter().collect();
        computed.sort_unstable_by(|a, b| a.mentor.as_str().cmp(b.mentor.as_str()));
        for c in computed {
            let updated = tx
                .prepare_cached(
                    "INSERT INTO mentor_totals_state (mentor, changed, computed, valid_until) VALUES (?1, ?2, ?2, ?3)
                     ON CONFLICT (mentor) DO UPDATE SET computed = ?2, valid_until = ?3 WHERE mentor_totals_state.changed = ?2",
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
        // (changed, computed, valid until, one period's totals) rows, for every mentor asked.
        type Row = (String, i64, i64, Option<String>, Option<String>);
        let read = |r: &super::sql::Row| -> Result<Row, ServerError> {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        };
        const SELECT: &str = "SELECT s.mentor, s.changed, s.computed, s.valid_until, t.totals
             FROM mentor_totals_state s LEFT JOIN mentor_totals t ON t.mentor = s.mentor";
        let mut rows: Vec<Row> = Vec::new();
        if mentors.len() > 1000 {
            // Most of the table: one pass over it beats a look-up per mentor.
            let wanted: HashSet<&str> = mentors.iter().map(|m| m.as_str()).collect();
            let mut stmt = self.conn.prepare_cached(SELECT)?;
            for row in stmt.query_map((), read)? {
                let row = row?;
                if wanted.contains(row.0.as_str()) {
                    rows.push(row);
                }
            }
        } else {
            let mut stmt = self
                .conn
                .prepare_cached(&format!("{SELECT} WHERE s.mentor = ?1"))?;
            for m in mentors {
                for row in stmt.query_map([m.as_str()], read)? {
                    rows.push(row?);
                }
            }
        }
        let mut stale: HashSet<String> = HashSet::new();
        for (mentor, changed, computed, valid_until, totals) in rows {
            if changed != computed || valid_until.as_deref().is_some_and(|v| v <= now.as_str()) {
                stale.insert(mentor);
                continue;
            }
            if let Some(json) = totals {
                let t: PeriodTotals = serde_json::from_str(&json).map_err(corrupt)?;
                cached
                    .totals
                    .insert((t.mentor.clone(), t.period.clone()), t);
            }
        }
        // Mentors who never had an event have no state: nothing to count, nothing stale.
        cached.stale = mentors
            .iter()
            .filter(|m| stale.contains(m.as_str()))
            .cloned()
            .collect();
        Ok(cached)
    }
}

use pm_shared::SchoolId;

pub(super) fn organizer_resolved(conn: &Conn, item: &EventId) -> Result<bool, ServerError> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM events WHERE item = ?1 AND kiosk = ?2)")?
        .query_row(params![item.to_string(), SERVER_KIOSK], |r| r.get(0))
}

impl Db {
    /// Every event a coordinator entered at a kiosk (set-aside ones included), oldest first.
    pub fn coordinator_entries(&self) -> Result<Vec<StoredEvent>, ServerError> {
        select_events(
            &self.conn,
            // Coordinators' entries, and the sessions organizers entered (the server's only
            // events that name no item).
            "WHERE e.coordinator IS NOT NULL OR (e.kiosk = 'server' AND e.item IS NULL) ORDER BY e.at, e.id",
            (),
        )
    }
}
