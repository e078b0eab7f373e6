//! Reads that writers in several modules make inside their own transaction (ingest checks a
//! scan against her memberships; a move re-checks what was set aside): here, so those modules
//! do not import each other.

use super::sql::{Conn, OptionalExtension};
use super::Membership;
use crate::ServerError;
use pm_shared::{MentorId, SchoolId};

pub(super) fn memberships_in(conn: &Conn, id: &MentorId) -> Result<Vec<Membership>, ServerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT school, from_date FROM memberships WHERE mentor = ?1 ORDER BY from_date",
    )?;
    let rows = stmt.query_map([id.as_str()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (school, from) = row?;
        out.push(Membership {
            school: SchoolId::new(school)?,
            from: from
                .parse()
                .map_err(|_| super::corrupt(format!("membership date {from:?}")))?,
        });
    }
    Ok(out)
}

/// The program rules, read inside a transaction.
pub(super) fn rules_in(conn: &Conn) -> Result<pm_shared::ProgramRules, ServerError> {
    let text: Option<String> = conn
        .query_row("SELECT rules FROM program", (), |r| r.get::<_, String>(0))
        .optional()?;
    match text {
        Some(t) => serde_json::from_str(&t).map_err(super::corrupt),
        None => Ok(pm_shared::ProgramRules::default()),
    }
}
