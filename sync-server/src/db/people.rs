//! Schools, kiosks, coordinators, organizers, mentors (and their school over time), badges.

use std::collections::HashMap;

use super::lookups::memberships_in;
use super::sql::{params, OptionalExtension, Value};
use chrono::{DateTime, NaiveDate, Utc};
use pm_shared::{KioskId, Language, MentorId, SchoolId, TimeZone};

use super::{
    found, random_base32, school_on, sha256_hex, ts, Db, Membership, MentorRecord, OrganizerScope,
};
use crate::ServerError;

/// From when a visitor's scans at a school's kiosks reach its roster: the roster's recent days,
/// with two days' margin for time zones.
pub fn visitors_window(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::days(crate::roster::RECENT_DAYS + 2)
}

/// Since always: the first membership of a mentor imported into a school.
const SINCE_ALWAYS: &str = "0001-01-01";

impl Db {
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
            .prepare_cached("SELECT name, time_zone FROM schools WHERE id = ?1")?
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
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

    pub fn schools(&self) -> Result<Vec<pm_shared::School>, ServerError> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare("SELECT id FROM schools ORDER BY id")?;
            let rows = stmt.query_map((), |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        ids.into_iter()
            .map(|id| self.school(&SchoolId::new(id)?))
            .collect()
    }

    pub fn school_exists(&self, id: &SchoolId) -> Result<bool, ServerError> {
        self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM schools WHERE id = ?1)",
            [id.as_str()],
            |r| r.get(0),
        )
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
        // Registered by a server that checks scan proofs: it must prove every scan.
        self.conn.execute(
            "INSERT INTO kiosks (id, school, name, token_hash, proof_required) VALUES (?1, ?2, ?3, ?4, 1)",
            params![id.as_str(), school.as_str(), name, sha256_hex(&token)],
        )?;
        Ok((id, token))
    }

    /// Registers a kiosk that replaces another of the same school: the old token is revoked in
    /// the same transaction, and the new kiosk may deliver the old one's events.
    pub fn add_replacing_kiosk(
        &mut self,
        school: &SchoolId,
        name: &str,
        replaces: Option<&KioskId>,
    ) -> Result<(KioskId, String), ServerError> {
        let Some(old) = replaces else {
            return self.add_kiosk(school, name);
        };
        let old_school: Option<String> = self
            .conn
            .query_row(
                "SELECT school FROM kiosks WHERE id = ?1",
                [old.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        match old_school {
            None => {
                return Err(ServerError::NotFound {
                    what: "kiosk",
                    id: old.to_string(),
                })
            }
            Some(s) if s != school.as_str() => {
                return Err(ServerError::Invalid(format!(
                    "kiosk {old} is at school {s}, not {school}"
                )))
            }
            Some(_) => {}
        }
        let (id, token) = self.add_kiosk(school, name)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE kiosks SET replaces = ?2 WHERE id = ?1",
            params![id.as_str(), old.as_str()],
        )?;
        tx.execute(
            "UPDATE kiosks SET revoked = 1 WHERE id = ?1",
            [old.as_str()],
        )?;
        // The lost kiosk held every PIN hash of the school: each is exposed from now on.
        tx.execute(
            "UPDATE coordinators SET exposed_at = ?2 WHERE school = ?1 AND exposed_at IS NULL",
            params![school.as_str(), ts(chrono::Utc::now())],
        )?;
        tx.commit()?;
        Ok((id, token))
    }

    /// The kiosks whose events this kiosk may deliver: itself and every kiosk it replaced.
    pub fn kiosk_lineage(&self, id: &KioskId) -> Result<Vec<KioskId>, ServerError> {
        let mut lineage = vec![id.clone()];
        let mut current = id.clone();
        // A chain of replacements, never a loop (each step needs a new kiosk).
        for _ in 0..64 {
            let next: Option<Option<String>> = self
                .conn
                .prepare_cached("SELECT replaces FROM kiosks WHERE id = ?1")?
                .query_row([current.as_str()], |r| r.get(0))
                .optional()?;
            match next.flatten() {
                Some(old) if !lineage.iter().any(|k| k.as_str() == old) => {
                    current = KioskId::new(old)?;
                    lineage.push(current.clone());
                }
                _ => break,
            }
        }
        Ok(lineage)
    }

    pub fn revoke_kiosk(&self, id: &KioskId) -> Result<(), ServerError> {
        let n = self
            .conn
            .execute("UPDATE kiosks SET revoked = 1 WHERE id = ?1", [id.as_str()])?;
        found(n, "kiosk", id.as_str())
    }

    /// Every kiosk's school (revoked ones too: their events still happened there).
    pub fn kiosk_schools(&self) -> Result<HashMap<KioskId, SchoolId>, ServerError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, school FROM kiosks")?;
        let rows = stmt.query_map((), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (kiosk, school) = row?;
            out.insert(KioskId::new(kiosk)?, SchoolId::new(school)?);
        }
        Ok(out)
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

    /// Adds a coordinator to a school (or changes her PIN); her term there starts now.
    pub fn add_coordinator(
        &mut self,
        school: &SchoolId,
        name: &str,
        pin_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        self.school(school)?;
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > crate::review::MAX_TEXT
            || crate::review::has_control(name)
        {
            return Err(ServerError::Invalid(
                "a coordinator's name is 1 to 200 characters, without control characters".into(),
            ));
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO coordinators (school, name, pin_hash, weak, exposed_at) VALUES (?1, ?2, ?3, 0, NULL)
             ON CONFLICT (school, name) DO UPDATE SET pin_hash = ?3, weak = 0, exposed_at = NULL",
            params![school.as_str(), name, pin_hash],
        )?;
        let open: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM coordinator_terms WHERE school = ?1 AND name = ?2 AND until_at IS NULL)",
            params![school.as_str(), name],
            |r| r.get(0),
        )?;
        if !open {
            tx.execute(
                "INSERT INTO coordinator_terms (school, name, from_at) VALUES (?1, ?2, ?3)",
                params![school.as_str(), name, ts(now)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A new PIN for a coordinator who is there: its hash, and the key that proves it when she
    /// changes it at a kiosk.
    pub fn set_coordinator_pin(
        &self,
        school: &SchoolId,
        name: &str,
        pin: &pm_shared::PinSecrets,
    ) -> Result<(), ServerError> {
        // A PIN set again is neither weak nor exposed any more.
        let n = self.conn.execute(
            "UPDATE coordinators SET pin_hash = ?3, change_salt = ?4, change_key = ?5, weak = 0, exposed_at = NULL
             WHERE school = ?1 AND name = ?2",
            params![school.as_str(), name.trim(), pin.hash, pin.change_salt, pin.change_key],
        )?;
        found(n, "coordinator", name)
    }

    /// A coordinator's own new PIN from a kiosk: only over the hash it replaces, so an
    /// organizer's reset meanwhile stands. Set by her, it is neither weak nor exposed.
    pub fn change_own_pin(
        &self,
        school: &SchoolId,
        change: &pm_shared::protocol::OwnPinChange,
    ) -> Result<bool, ServerError> {
        let name = change.name.trim();
        let known: Option<(String, Option<String>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT pin_hash, change_key, exposed_at FROM coordinators WHERE school = ?1 AND name = ?2",
                params![school.as_str(), name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match known {
            // Sent again after it was taken: nothing to do.
            Some((current, _, _)) if current == change.pin_hash => Ok(true),
            // A lost kiosk held her hash and salt: whoever cracked them must not make the PIN
            // theirs for good. An organizer sets a new one.
            Some((current, _, Some(_))) if current == change.replaces => {
                Err(ServerError::Forbidden(
                    "her PIN is exposed (a kiosk was lost): an organizer sets a new one".into(),
                ))
            }
            Some((current, Some(key), None)) if current == change.replaces => {
                // Only her old PIN makes this proof: a stolen kiosk's token and roster do not.
                if !pm_shared::verify_own_pin_proof(&key, change) {
                    return Err(ServerError::Forbidden(
                        "the change is not proven with her current PIN".into(),
                    ));
                }
                let old_key = data_encoding::HEXLOWER
                    .decode(key.as_bytes())
                    .map_err(|_| super::corrupt("a coordinator's change key"))?;
                let new_key = pm_shared::wrap_change_key(&old_key, change, &change.change_key)
                    .ok_or_else(|| ServerError::Invalid("change_key is 64 hex digits".into()))?;
                let n = self.conn.execute(
                    "UPDATE coordinators SET pin_hash = ?4, change_salt = ?5, change_key = ?6, weak = 0, exposed_at = NULL
                     WHERE school = ?1 AND name = ?2 AND pin_hash = ?3",
                    params![
                        school.as_str(),
                        name,
                        change.replaces,
                        change.pin_hash,
                        change.change_salt,
                        new_key
                    ],
                )?;
                Ok(n == 1)
            }
            // A PIN set before own changes existed has no key: an organizer sets it.
            Some((current, None, None)) if current == change.replaces => Err(ServerError::Forbidden(
                "this PIN was set before PINs could be changed at a kiosk: an organizer sets a new one".into(),
            )),
            Some(_) => Ok(false),
            None => Err(ServerError::NotFound {
                what: "coordinator",
                id: name.to_owned(),
            }),
        }
    }

    /// Every coordinator of these schools (`None`: all) and the state of her PIN.
    pub fn coordinator_statuses(
        &self,
        schools: Option<&[SchoolId]>,
    ) -> Result<Vec<super::CoordinatorStatus>, ServerError> {
        let rows = self.conn.rows(
            "SELECT school, name, weak, exposed_at FROM coordinators ORDER BY school, name",
            (),
        )?;
        let mut out = Vec::new();
        for r in rows {
            let school: String = r.get(0)?;
            if schools.is_some_and(|list| !list.iter().any(|s| s.as_str() == school)) {
                continue;
            }
            out.push(super::CoordinatorStatus {
                school_id: school,
                name: r.get(1)?,
                weak: r.get::<_, i64>(2)? != 0,
                exposed_at: r.get(3)?,
            });
        }
        Ok(out)
    }

    /// A coordinator leaves: her PIN stops working at the kiosks' next roster pull, and entries
    /// a kiosk records in her name after now are set aside.
    pub fn remove_coordinator(
        &mut self,
        school: &SchoolId,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM coordinators WHERE school = ?1 AND name = ?2",
            params![school.as_str(), name.trim()],
        )?;
        tx.execute(
            "UPDATE coordinator_terms SET until_at = ?3 WHERE school = ?1 AND name = ?2 AND until_at IS NULL",
            params![school.as_str(), name.trim(), ts(now)],
        )?;
        found(n, "coordinator", name)?;
        tx.commit()?;
        Ok(())
    }

    /// The coordinators whose PINs the school's kiosks accept: all but those exposed (on a
    /// lost kiosk) before `exposed_before` and not set since.
    pub fn coordinators(
        &self,
        school: &SchoolId,
        exposed_before: DateTime<Utc>,
    ) -> Result<Vec<pm_shared::Coordinator>, ServerError> {
        let mut stmt = self.conn.prepare(
            "SELECT name, pin_hash, change_salt FROM coordinators
             WHERE school = ?1 AND (exposed_at IS NULL OR exposed_at > ?2) ORDER BY name",
        )?;
        let rows = stmt.query_map(params![school.as_str(), ts(exposed_before)], |r| {
            Ok(pm_shared::Coordinator {
                name: r.get(0)?,
                pin_hash: r.get(1)?,
                change_salt: r.get(2)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// Inserts or updates mentors by id, all in one transaction. A new mentor belongs to her
    /// school since always; a row that names another school for a known mentor moves her from
    /// today (school-local), never rewriting where she earned her hours before. A deactivated
    /// mentor stays deactivated (her badge revoked) unless `reactivate`.
    pub fn upsert_mentors(
        &mut self,
        mentors: &[MentorRecord],
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        self.import_mentors(mentors, None, now, false)
    }

    /// [`Db::upsert_mentors`], reactivating deactivated mentors if `reactivate`.
    /// With `placed` (which placement columns the file had, and each row's values), their
    /// teacher and classroom too, in the same transaction.
    pub fn import_mentors(
        &mut self,
        mentors: &[MentorRecord],
        placed: Option<&crate::import::MentorFile>,
        now: DateTime<Utc>,
        reactivate: bool,
    ) -> Result<(), ServerError> {
        let mut zones: HashMap<SchoolId, TimeZone> = HashMap::new();
        for m in mentors {
            if !zones.contains_key(&m.school) {
                zones.insert(m.school.clone(), self.school(&m.school)?.time_zone);
            }
        }
        let tx = self.conn.transaction()?;
        // New and moved mentors: their set-aside events are looked at again below.
        let mut placed_anew: Vec<&MentorId> = Vec::new();
        for m in mentors {
            let current: Option<String> = tx
                .query_row(
                    "SELECT school FROM mentors WHERE id = ?1",
                    [m.id.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute(
                "INSERT INTO mentors (id, name, school, language, active) VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (id) DO UPDATE SET name = ?2, school = ?3, language = ?4,
                     active = CASE WHEN ?5 THEN 1 ELSE mentors.active END",
                params![m.id.as_str(), m.name, m.school.as_str(), m.language.code(), reactivate],
            )?;
            let from = match current {
                None => SINCE_ALWAYS.to_owned(),
                Some(s) if s == m.school.as_str() => continue,
                Some(_) => {
                    // A new school: her old teacher and classroom stay behind (a placement
                    // column in the file sets the new ones below).
                    tx.execute(
                        "UPDATE mentors SET teacher = NULL, classroom = NULL WHERE id = ?1",
                        [m.id.as_str()],
                    )?;
                    let zone = zones.get(&m.school).map(|z| z.tz());
                    zone.map(|z| now.with_timezone(&z).date_naive().to_string())
                        .unwrap_or_else(|| now.date_naive().to_string())
                }
            };
            tx.execute(
                "INSERT INTO memberships (mentor, school, from_date, recorded_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (mentor, from_date) DO UPDATE SET school = ?2, recorded_at = ?4",
                params![m.id.as_str(), m.school.as_str(), from, ts(now)],
            )?;
            placed_anew.push(&m.id);
        }
        // As after `mentor move`: scans set aside because she was not (yet) at their kiosk's
        // school, or not known at all, are checked again with her history as it now reads.
        for id in &placed_anew {
            super::ingest::recheck_set_aside(&tx, id, now)?;
        }
        super::events::mark_all_changed(&tx, placed_anew)?;
        if let Some(file) = placed {
            for (id, p) in &file.placements {
                tx.execute(
                    "UPDATE mentors SET teacher = CASE WHEN ?2 THEN ?3 ELSE teacher END,
                         classroom = CASE WHEN ?4 THEN ?5 ELSE classroom END WHERE id = ?1",
                    params![
                        id.as_str(),
                        file.has_teacher,
                        p.teacher,
                        file.has_classroom,
                        p.classroom
                    ],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deactivating stops new scans (the roster revokes her badge); it never removes earned
    /// hours, eligibility or an unpaid stipend from the reports, and she can still be paid.
    pub fn set_mentor_active(&self, id: &MentorId, active: bool) -> Result<(), ServerError> {
        let n = self.conn.execute(
            "UPDATE mentors SET active = ?2 WHERE id = ?1",
            params![id.as_str(), active],
        )?;
        found(n, "mentor", id.as_str())
    }

    /// Moves a mentor to `school` from the school-local date `from` on (not after `today`):
    /// what she did before it was done at her old school and counts there.
    pub fn move_mentor(
        &mut self,
        id: &MentorId,
        school: &SchoolId,
        from: NaiveDate,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        self.school(school)?;
        self.mentor(id)?;
        if from > today {
            return Err(ServerError::Invalid(format!(
                "a move takes effect on a date up to today ({today}), not {from}"
            )));
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO memberships (mentor, school, from_date, recorded_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (mentor, from_date) DO UPDATE SET school = ?2, recorded_at = ?4",
            params![id.as_str(), school.as_str(), from.to_string(), ts(now)],
        )?;
        let history = memberships_in(&tx, id)?;
        let current = school_on(&history, today).unwrap_or(school);
        tx.execute(
            // Her teacher and classroom were at the old school.
            "UPDATE mentors SET school = ?2, teacher = NULL, classroom = NULL WHERE id = ?1",
            params![id.as_str(), current.as_str()],
        )?;
        // Events set aside because she was not at their kiosk's school on their day are looked
        // at again with her history as it now reads: a move entered late must not leave the
        // hours she earned at her new school waiting in the queue.
        super::ingest::recheck_set_aside(&tx, id, now)?;
        // Where her events count may have changed: her totals are recomputed.
        super::events::mark_changed(&tx, id)?;
        tx.commit()?;
        Ok(())
    }

    /// Her schools over time.
    pub fn membership_history(&self, id: &MentorId) -> Result<Vec<Membership>, ServerError> {
        memberships_in(&self.conn, id)
    }

    /// Mentors with events at this school's kiosks, members or visitors.
    pub fn mentors_seen_at(&self, school: &SchoolId) -> Result<Vec<MentorId>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT e.mentor FROM events e WHERE e.kiosk IN (SELECT id FROM kiosks WHERE school = ?1) ORDER BY e.mentor",
        )?;
        let rows = stmt.query_map([school.as_str()], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(id) = MentorId::new(row?) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Mentors of other schools with events at this school's kiosks since `since` (visitors
    /// whose recent sessions the school's kiosks must see as the server decided them), each
    /// with her change counter.
    pub fn visitors_since(
        &self,
        school: &SchoolId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(MentorId, i64)>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT e.mentor, COALESCE(s.changed, 0) FROM events e
             JOIN kiosks k ON k.id = e.kiosk
             JOIN mentors m ON m.id = e.mentor
             LEFT JOIN mentor_totals_state s ON s.mentor = e.mentor
             WHERE k.school = ?1 AND e.at >= ?2 AND m.school <> ?1
             ORDER BY e.mentor",
        )?;
        let rows = stmt.query_map(params![school.as_str(), ts(since)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, changed) = row?;
            out.push((MentorId::new(id)?, changed));
        }
        Ok(out)
    }

    /// Every mentor who ever belonged to this school.
    pub fn mentors_ever_at(&self, school: &SchoolId) -> Result<Vec<MentorId>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT mentor FROM memberships WHERE school = ?1 ORDER BY mentor",
        )?;
        let rows = stmt.query_map([school.as_str()], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(MentorId::new(row?)?);
        }
        Ok(out)
    }

    pub fn mentors(&self, school: Option<&SchoolId>) -> Result<Vec<MentorRecord>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, school, language, active FROM mentors
             WHERE CAST(?1 AS TEXT) IS NULL OR school = ?1 ORDER BY school, id",
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

    pub fn mentor(&self, id: &MentorId) -> Result<MentorRecord, ServerError> {
        let row: Option<(String, String, String, bool)> = self
            .conn
            .prepare_cached("SELECT name, school, language, active FROM mentors WHERE id = ?1")?
            .query_row([id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let (name, school, language, active) = row.ok_or_else(|| ServerError::NotFound {
            what: "mentor",
            id: id.to_string(),
        })?;
        Ok(MentorRecord {
            id: id.clone(),
            name,
            school: SchoolId::new(school)?,
            language: Language::new(language)?,
            active,
        })
    }

    /// The mentor's current badge: (generation, text, hash).
    pub fn current_badge(
        &self,
        mentor: &MentorId,
    ) -> Result<Option<(u32, String, String)>, ServerError> {
        self
            .conn
            .prepare_cached(
                "SELECT generation, text, hash FROM badges WHERE mentor = ?1 ORDER BY generation DESC LIMIT 1",
            )?
            .query_row([mentor.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
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

    /// Registers an organizer; returns her token (`<organizer-id>.<secret>`), stored hashed.
    pub fn add_organizer(
        &self,
        name: &str,
        schools: Option<&[SchoolId]>,
    ) -> Result<String, ServerError> {
        if name.trim().is_empty()
            || name.trim().chars().count() > crate::review::MAX_TEXT
            || crate::review::has_control(name)
        {
            return Err(ServerError::Invalid(
                "an organizer's name is 1 to 200 characters, without control characters".into(),
            ));
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
            .map_err(|e| {
                if e.is_constraint() {
                    ServerError::Invalid(format!("an organizer named {name:?} exists already"))
                } else {
                    e
                }
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
}

impl Db {
    /// A digest of everything a school's roster is built from (the school, the rules, its
    /// mentors with their badges and change counters, its coordinators and kiosks, and the
    /// school-local date), cheap to read: equal stamps, equal rosters.
    pub fn roster_stamp(
        &self,
        school: &SchoolId,
        today: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<String, ServerError> {
        // Rows joined in Rust, not with SQL string functions: both engines give the same.
        let joined = |sql: &str| -> Result<String, ServerError> {
            let rows = self.conn.rows(sql, [school.as_str()])?;
            let mut lines = Vec::with_capacity(rows.len());
            for r in rows {
                let cells: Vec<String> = r
                    .values()
                    .iter()
                    .map(|v| match v {
                        Value::Null | Value::OutOfRange => "\u{0}".to_owned(),
                        Value::Int(i) => i.to_string(),
                        Value::Real(f) => f.to_string(),
                        Value::Text(t) => format!("{t:?}"),
                    })
                    .collect();
                lines.push(cells.join(","));
            }
            Ok(lines.join(";"))
        };
        let now_instant = now;
        let exposed_before = match self.rules() {
            Ok(rules) => super::exposed_cutoff(&rules, now),
            Err(e) => return Err(e),
        };
        let now = ts(now);
        let stale_flags = self
            .conn
            .rows(
                "SELECT s.valid_until FROM mentors m LEFT JOIN mentor_totals_state s ON s.mentor = m.id
                 WHERE m.school = ?1 ORDER BY m.id",
                [school.as_str()],
            )?
            .iter()
            .map(|r| {
                let until: Option<String> = r.get(0)?;
                Ok(if until.is_some_and(|u| u <= now) { '1' } else { '0' })
            })
            .collect::<Result<String, ServerError>>()?;
        let parts = [
            joined("SELECT name, time_zone FROM schools WHERE id = ?1")?,
            self.conn
                .query_row("SELECT rules FROM program", (), |r| r.get::<_, String>(0))
                .optional()?
                .unwrap_or_default(),
            joined(
                "SELECT m.id, m.name, m.language, m.active, COALESCE(s.changed, 0),
                        (SELECT generation FROM badges b WHERE b.mentor = m.id
                         ORDER BY generation DESC LIMIT 1),
                        (SELECT hash FROM badges b WHERE b.mentor = m.id
                         ORDER BY generation DESC LIMIT 1),
                        m.teacher, m.classroom,
                        (SELECT MAX(id) FROM clearances c WHERE c.mentor = m.id)
                 FROM mentors m LEFT JOIN mentor_totals_state s ON s.mentor = m.id
                 WHERE m.school = ?1 ORDER BY m.id",
            )?,
            stale_flags,
            self.coordinators(school, exposed_before)?
                .iter()
                .map(|c| format!("{:?}:{}", c.name, c.pin_hash))
                .collect::<Vec<_>>()
                .join(","),
            joined("SELECT id FROM kiosks WHERE school = ?1 ORDER BY id")?,
            self.visitors_since(school, visitors_window(now_instant))?
                .iter()
                .map(|(m, changed)| format!("{m}:{changed}"))
                .collect::<Vec<_>>()
                .join(","),
            today.to_string(),
        ];
        Ok(sha256_hex(&parts.join("\n")))
    }

    /// The roster last built for a school, and the stamp it was built at.
    pub fn cached_roster(
        &self,
        school: &SchoolId,
    ) -> Result<Option<(String, String)>, ServerError> {
        self.conn
            .prepare_cached("SELECT stamp, body FROM roster_cache WHERE school = ?1")?
            .query_row([school.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }

    pub fn save_roster(
        &self,
        school: &SchoolId,
        stamp: &str,
        body: &str,
    ) -> Result<(), ServerError> {
        self.conn
            .prepare_cached(
                "INSERT INTO roster_cache (school, stamp, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (school) DO UPDATE SET stamp = ?2, body = ?3",
            )?
            .execute(params![school.as_str(), stamp, body])?;
        Ok(())
    }
}
