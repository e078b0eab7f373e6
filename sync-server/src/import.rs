//! Mentor import from CSV (`id,name,school,language`, optional `teacher,classroom`, other
//! columns ignored), and clearance import (`mentor_id,kind,expires`). All or nothing: a file
//! with any broken row imports nothing, and the broken row is reported by line.

use std::path::Path;

use pm_shared::{Clearance, ClearanceKind, Language, MentorId, Placement, SchoolId};

use crate::db::{Db, MentorRecord};
use crate::ServerError;

/// A mentor file: the mentors, and their placements when the file has a `teacher` or a
/// `classroom` column (a column it lacks leaves that part of a placement as it was).
#[derive(Debug, Clone, Default)]
pub struct MentorFile {
    pub mentors: Vec<MentorRecord>,
    pub placements: Vec<(MentorId, Placement)>,
    pub has_teacher: bool,
    pub has_classroom: bool,
}

pub fn read_mentors(db: &Db, path: &Path) -> Result<Vec<MentorRecord>, ServerError> {
    Ok(read_mentor_file(db, path)?.mentors)
}

pub fn read_mentor_file(db: &Db, path: &Path) -> Result<MentorFile, ServerError> {
    let origin = path.display().to_string();
    let err = |line: u64, why: String| ServerError::Csv {
        path: origin.clone(),
        line,
        why,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| err(0, e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                err(
                    1,
                    format!(
                        "missing column {name:?} (header must include id,name,school,language)"
                    ),
                )
            })
    };
    let (id_col, name_col, school_col, lang_col) = (
        column("id")?,
        column("name")?,
        column("school")?,
        column("language")?,
    );
    let optional = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (teacher_col, classroom_col) = (optional("teacher"), optional("classroom"));
    let mut file = MentorFile {
        has_teacher: teacher_col.is_some(),
        has_classroom: classroom_col.is_some(),
        ..MentorFile::default()
    };
    let mut mentors = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(err(
                    e.position().map(|p| p.line()).unwrap_or(0),
                    e.to_string(),
                ));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let field = |i: usize| record.get(i).unwrap_or("");
        let parsed = (|| -> Result<(MentorRecord, Placement), String> {
            let id = MentorId::new(field(id_col)).map_err(|e| e.to_string())?;
            let name = field(name_col).to_owned();
            if name.is_empty() {
                return Err("name is empty".into());
            }
            if crate::review::has_control(&name) {
                return Err("name contains control characters".into());
            }
            if name.chars().count() > crate::review::MAX_TEXT {
                return Err(format!(
                    "name is longer than {} characters",
                    crate::review::MAX_TEXT
                ));
            }
            let school = SchoolId::new(field(school_col)).map_err(|e| e.to_string())?;
            if !db.school_exists(&school).map_err(|e| e.to_string())? {
                return Err(format!(
                    "unknown school {school:?} (add it with `school add`)"
                ));
            }
            let language = Language::new(field(lang_col)).map_err(|e| e.to_string())?;
            let placement = Placement::new(teacher_col.map(field), classroom_col.map(field))
                .map_err(|e| e.to_string())?;
            Ok((
                MentorRecord {
                    id,
                    name,
                    school,
                    language,
                    active: true,
                },
                placement,
            ))
        })();
        match parsed {
            Ok((m, _)) if !seen.insert(m.id.clone()) => {
                problems.push(err(line, format!("mentor {} appears twice", m.id)))
            }
            Ok((m, placement)) => {
                if file.has_teacher || file.has_classroom {
                    file.placements.push((m.id.clone(), placement));
                }
                mentors.push(m);
            }
            Err(why) => problems.push(err(line, why)),
        }
    }
    if let Some(first) = problems.into_iter().next() {
        return Err(first);
    }
    file.mentors = mentors;
    Ok(file)
}

/// Clearances from CSV with header `mentor_id,kind,expires` (`mentor` or `id` also name the
/// first column); dates as 2027-06-30.
pub fn read_clearances(db: &Db, path: &Path) -> Result<Vec<(MentorId, Clearance)>, ServerError> {
    let origin = path.display().to_string();
    let err = |line: u64, why: String| ServerError::Csv {
        path: origin.clone(),
        line,
        why,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| err(0, e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
            .ok_or_else(|| {
                err(
                    1,
                    format!(
                        "missing column {:?} (header must include mentor_id,kind,expires)",
                        names[0]
                    ),
                )
            })
    };
    let (mentor_col, kind_col, expires_col) = (
        column(&["mentor_id", "mentor", "id"])?,
        column(&["kind"])?,
        column(&["expires"])?,
    );
    let known = db.mentors(None)?;
    let mut out = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| err(e.position().map(|p| p.line()).unwrap_or(0), e.to_string()))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let field = |i: usize| record.get(i).unwrap_or("");
        let mentor = MentorId::new(field(mentor_col)).map_err(|e| err(line, e.to_string()))?;
        if !known.iter().any(|m| m.id == mentor) {
            return Err(err(line, format!("unknown mentor {mentor}")));
        }
        let kind = ClearanceKind::new(field(kind_col)).map_err(|e| err(line, e.to_string()))?;
        let expires = field(expires_col)
            .parse::<chrono::NaiveDate>()
            .map_err(|_| {
                err(
                    line,
                    format!(
                        "expires {:?} is not a date like 2027-06-30",
                        field(expires_col)
                    ),
                )
            })?;
        out.push((mentor, Clearance { kind, expires }));
    }
    Ok(out)
}
