//! Placements (teacher, classroom), clearances (append-only: the latest of each kind counts),
//! and each kiosk's last health report.

use std::collections::HashMap;

use super::sql::{params, OptionalExtension};
use chrono::{DateTime, NaiveDate, Utc};
use pm_shared::protocol::KioskHealth;
use pm_shared::{Clearance, ClearanceKind, KioskId, MentorId, Placement, SchoolId};
use serde::Serialize;

use super::{corrupt, found, ts, Db};
use crate::ServerError;

/// A kiosk as the organizer's Kiosks section lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KioskStatus {
    pub kiosk: String,
    pub name: String,
    pub school_id: String,
    pub revoked: bool,
    /// When the server last heard from it (a health report), RFC 3339.
    pub last_sync: Option<String>,
    pub pending_events: Option<u64>,
    /// Kiosk clock minus server clock at its last report, in seconds.
    pub clock_offset_secs: Option<i64>,
    pub app_version: Option<String>,
    pub camera: Option<String>,
    pub last_scan: Option<String>,
    /// Not heard from in more than 24 hours (or never).
    pub silent: bool,
    /// Every badge scan it sends must carry a scan proof (registered with proofs, or it has
    /// sent a proven scan). `false`: an older kiosk that may still send unproven scans until
    /// the program's date (`program set --require-scan-proof-from`).
    pub proves_scans: bool,
}

impl Db {
    /// Places a mentor with a teacher and classroom (an empty placement clears it).
    pub fn set_placement(
        &mut self,
        mentor: &MentorId,
        placement: &Placement,
    ) -> Result<(), ServerError> {
        let rows = self.conn.execute(
            "UPDATE mentors SET teacher = ?2, classroom = ?3 WHERE id = ?1",
            params![mentor.as_str(), placement.teacher, placement.classroom],
        )?;
        found(rows, "mentor", mentor.as_str())
    }

    /// Every placed mentor's placement (of one school, or all).
    pub fn placements(
        &self,
        school: Option<&SchoolId>,
    ) -> Result<HashMap<MentorId, Placement>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, teacher, classroom FROM mentors
             WHERE (CAST(?1 AS TEXT) IS NULL OR school = ?1) AND (teacher IS NOT NULL OR classroom IS NOT NULL)",
        )?;
        let rows = stmt.query_map([school.map(|s| s.as_str())], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, teacher, classroom) = row?;
            out.insert(MentorId::new(id)?, Placement { teacher, classroom });
        }
        Ok(out)
    }

    /// Records clearances (a new row each: the history stays), all or none.
    pub fn add_clearances(
        &mut self,
        clearances: &[(MentorId, Clearance)],
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        let tx = self.conn.transaction()?;
        for (mentor, c) in clearances {
            let known: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM mentors WHERE id = ?1",
                    [mentor.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            if known.is_none() {
                return Err(ServerError::NotFound {
                    what: "mentor",
                    id: mentor.to_string(),
                });
            }
            tx.execute(
                "INSERT INTO clearances (mentor, kind, expires, recorded_at) VALUES (?1, ?2, ?3, ?4)",
                params![mentor.as_str(), c.kind.as_str(), c.expires.to_string(), ts(now)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The latest clearance of each kind, per mentor (of one school, or all), by kind.
    pub fn clearances(
        &self,
        school: Option<&SchoolId>,
    ) -> Result<HashMap<MentorId, Vec<Clearance>>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.mentor, c.kind, c.expires FROM clearances c JOIN mentors m ON m.id = c.mentor
             WHERE (CAST(?1 AS TEXT) IS NULL OR m.school = ?1)
               AND c.id = (SELECT MAX(id) FROM clearances l WHERE l.mentor = c.mentor AND l.kind = c.kind)
             ORDER BY c.mentor, c.kind",
        )?;
        let rows = stmt.query_map([school.map(|s| s.as_str())], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out: HashMap<MentorId, Vec<Clearance>> = HashMap::new();
        for row in rows {
            let (mentor, kind, expires) = row?;
            out.entry(MentorId::new(mentor)?)
                .or_default()
                .push(Clearance {
                    kind: ClearanceKind::new(&kind)?,
                    expires: expires.parse::<NaiveDate>().map_err(corrupt)?,
                });
        }
        Ok(out)
    }

    /// Keeps a kiosk's latest health report and when it came.
    pub fn save_kiosk_health(
        &self,
        kiosk: &KioskId,
        health: &KioskHealth,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        let offset_ms = (health.kiosk_clock - now).num_milliseconds();
        let report = serde_json::to_string(health).map_err(corrupt)?;
        self.conn.execute(
            "INSERT INTO kiosk_health (kiosk, received_at, report, offset_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kiosk) DO UPDATE SET received_at = ?2, report = ?3, offset_ms = ?4",
            params![kiosk.as_str(), ts(now), report, offset_ms],
        )?;
        Ok(())
    }

    /// Every kiosk (of the given schools, or all) with its last report.
    pub fn kiosk_statuses(
        &self,
        schools: Option<&[SchoolId]>,
        now: DateTime<Utc>,
    ) -> Result<Vec<KioskStatus>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT k.id, k.name, k.school, k.revoked, h.received_at, h.report, h.offset_ms,
                    k.proof_required
             FROM kiosks k LEFT JOIN kiosk_health h ON h.kiosk = k.id ORDER BY k.school, k.name, k.id",
        )?;
        let rows = stmt.query_map((), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kiosk, name, school, revoked, received_at, report, offset_ms, proves) = row?;
            if schools.is_some_and(|list| !list.iter().any(|s| s.as_str() == school)) {
                continue;
            }
            let health: Option<KioskHealth> =
                report.as_deref().and_then(|r| serde_json::from_str(r).ok());
            let heard = received_at
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.to_utc());
            out.push(KioskStatus {
                kiosk,
                name,
                school_id: school,
                revoked,
                proves_scans: proves != 0,
                silent: heard.is_none_or(|t| now - t > chrono::Duration::hours(24)),
                last_sync: received_at,
                pending_events: health.as_ref().map(|h| h.pending_events),
                clock_offset_secs: offset_ms.map(|ms| ms / 1000),
                app_version: health.as_ref().map(|h| h.app_version.clone()),
                camera: health.as_ref().map(|h| h.camera.clone()),
                last_scan: health
                    .as_ref()
                    .and_then(|h| h.last_scan)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            });
        }
        Ok(out)
    }
}
