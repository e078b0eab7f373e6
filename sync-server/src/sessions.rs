//! Entering time after the fact: a broken kiosk, a camera that would not read, a field trip, a
//! day on a paper sign-in sheet. An organizer enters a past session of any category, for one
//! mentor or a whole sheet at once (all or nothing), with a reason; each is a new event in the
//! server's series (`AddSession`, her name and reason in it), credited like any other session:
//! the overlap rules apply, and nothing she enters is credited twice.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveTime, TimeZone as _, Utc};
use pm_shared::{Event, EventKind, HourCategory, MentorId, SchoolId, TimeZone};
use serde::Deserialize;

use crate::review::checked_text;
use crate::storage::Storage;
use crate::ServerError;

/// Most sessions one entry may carry (a sheet for a whole school's mentors fits easily).
pub const MAX_SESSIONS: usize = 500;

pub const CSV_HEADER: &str = "mentor_id,date,start,end,category";

/// One session to enter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    pub mentor: MentorId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub category: HourCategory,
}

/// Checks every session, then records them all in one transaction; the events recorded.
/// `schools`: the organizer's (`None`: all); each session must be at one of them (the
/// mentor's school on its day).
pub fn enter(
    db: &mut dyn Storage,
    sessions: &[NewSession],
    by: &str,
    reason: &str,
    schools: Option<&[SchoolId]>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, ServerError> {
    let by = checked_text("name", by)?;
    let reason = checked_text("reason", reason)?;
    if sessions.is_empty() {
        return Err(ServerError::Invalid("no session to enter".into()));
    }
    if sessions.len() > MAX_SESSIONS {
        return Err(ServerError::Invalid(format!(
            "at most {MAX_SESSIONS} sessions at once"
        )));
    }
    let rules = db.rules()?;
    let latest = now
        .checked_add_signed(rules.clock_skew_tolerance())
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let many = sessions.len() > 1;
    let mut entries = Vec::with_capacity(sessions.len());
    let mut seen = HashSet::new();
    for (i, s) in sessions.iter().enumerate() {
        let which = |why: String| {
            ServerError::Invalid(if many {
                format!("session {} ({}): {why}", i + 1, s.mentor)
            } else {
                why
            })
        };
        if s.end <= s.start {
            return Err(which("the end must come after the start".into()));
        }
        if s.end > latest {
            return Err(which("it ends in the future".into()));
        }
        if !seen.insert((s.mentor.clone(), s.start, s.end)) {
            return Err(which("the same session is listed twice".into()));
        }
        let (school, zone) = school_on_day(db, &s.mentor, s.start)?;
        if zone.local_date(s.start) < rules.earliest_plausible_date {
            return Err(which(format!(
                "it starts before the program's earliest date, {}",
                rules.earliest_plausible_date
            )));
        }
        if schools.is_some_and(|list| !list.contains(&school)) {
            return Err(ServerError::Forbidden(format!(
                "no access to school {school} (where {} was that day)",
                s.mentor
            )));
        }
        entries.push((
            s.mentor.clone(),
            zone,
            EventKind::AddSession {
                category: s.category,
                start: s.start,
                end: s.end,
                group: None,
            },
        ));
    }
    if many {
        // One sheet: the sessions share a group, as a coordinator's group session does.
        let group = uuid::Uuid::from_u128(rand::random());
        for (_, _, kind) in &mut entries {
            if let EventKind::AddSession { group: g, .. } = kind {
                *g = Some(group);
            }
        }
    }
    db.append_resolutions(&entries, &by, &reason, now)
}

/// The mentor's school on the school-local day of `at`, and its time zone.
fn school_on_day(
    db: &dyn Storage,
    mentor: &MentorId,
    at: DateTime<Utc>,
) -> Result<(SchoolId, TimeZone), ServerError> {
    let record = db.mentor(mentor)?;
    let zone_now = db.school(&record.school)?.time_zone;
    school_on_date(db, mentor, zone_now.local_date(at))
}

/// The mentor's school on a school-local date (her school now if her history says nothing),
/// and its time zone.
fn school_on_date(
    db: &dyn Storage,
    mentor: &MentorId,
    date: NaiveDate,
) -> Result<(SchoolId, TimeZone), ServerError> {
    let history = db.membership_history(mentor)?;
    let school = match crate::db::school_on(&history, date) {
        Some(school) => school.clone(),
        None => db.mentor(mentor)?.school,
    };
    let zone = db.school(&school)?.time_zone;
    Ok((school, zone))
}

/// A school-local time on a date as an instant; a time that does not exist (the hour skipped
/// when clocks spring forward) is refused, one that happens twice is the first.
pub fn local_instant(
    zone: TimeZone,
    date: NaiveDate,
    time: NaiveTime,
) -> Result<DateTime<Utc>, String> {
    match zone.tz().from_local_datetime(&date.and_time(time)) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(format!(
            "{date} {time} does not exist in {} (the clocks skipped it)",
            zone.name()
        )),
    }
}

/// A paper sign-in sheet: CSV with header exactly `mentor_id,date,start,end,category`, times
/// `HH:MM` at the mentor's school that day. All or nothing: the first broken row is reported by
/// its line.
pub fn read_sheet(db: &dyn Storage, path: &Path) -> Result<Vec<NewSession>, ServerError> {
    let origin = path.display().to_string();
    let err = |line: u64, why: String| ServerError::Csv {
        path: origin.clone(),
        line,
        why,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| err(0, e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let header: Vec<&str> = headers.iter().collect();
    if header.join(",") != CSV_HEADER {
        return Err(err(1, format!("the header must be exactly {CSV_HEADER}")));
    }
    let mut sessions = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| err(e.position().map(|p| p.line()).unwrap_or(0), e.to_string()))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let field = |i: usize| record.get(i).unwrap_or("");
        let parsed = (|| -> Result<NewSession, String> {
            let mentor = MentorId::new(field(0)).map_err(|e| e.to_string())?;
            let date: NaiveDate = field(1)
                .parse()
                .map_err(|_| format!("date {:?} is not a date like 2026-10-05", field(1)))?;
            let time = |i: usize, what: &str| {
                NaiveTime::parse_from_str(field(i), "%H:%M")
                    .map_err(|_| format!("{what} {:?} is not a time like 08:15", field(i)))
            };
            let (start, end) = (time(2, "start")?, time(3, "end")?);
            let category: HourCategory = field(4)
                .parse()
                .map_err(|e: pm_shared::DomainError| e.to_string())?;
            let (_, zone) = school_on_date(db, &mentor, date).map_err(|e| e.to_string())?;
            Ok(NewSession {
                mentor,
                start: local_instant(zone, date, start)?,
                end: local_instant(zone, date, end)?,
                category,
            })
        })();
        match parsed {
            Ok(s) if s.end <= s.start => {
                return Err(err(line, "the end must come after the start".into()))
            }
            Ok(s) => sessions.push(s),
            Err(why) => return Err(err(line, why)),
        }
    }
    if sessions.is_empty() {
        return Err(err(2, "the sheet lists no session".into()));
    }
    Ok(sessions)
}

/// `POST /api/v1/sessions`: one session (`{"mentor", "start", "end", "category", "reason"}`),
/// or a sheet (`{"sessions": [{"mentor", "start", "end", "category"}, …], "reason"}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SheetRequest {
    sessions: Vec<NewSession>,
    reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneRequest {
    mentor: MentorId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    category: HourCategory,
    reason: String,
}

/// The sessions and the reason of a `POST /api/v1/sessions` body.
pub fn parse_request(body: serde_json::Value) -> Result<(Vec<NewSession>, String), ServerError> {
    let bad = |e: serde_json::Error| ServerError::Invalid(format!("malformed request: {e}"));
    if body.get("sessions").is_some() {
        let sheet: SheetRequest = serde_json::from_value(body).map_err(bad)?;
        Ok((sheet.sessions, sheet.reason))
    } else {
        let one: OneRequest = serde_json::from_value(body).map_err(bad)?;
        Ok((
            vec![NewSession {
                mentor: one.mentor,
                start: one.start,
                end: one.end,
                category: one.category,
            }],
            one.reason,
        ))
    }
}
