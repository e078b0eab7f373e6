//! Mentor import from CSV (`id,name,school,language`, other columns ignored). All or nothing:
//! a file with any broken row imports nothing, and every broken row is reported by line.

use std::path::Path;

use pm_shared::{Language, MentorId, SchoolId};

use crate::db::{Db, MentorRecord};
use crate::ServerError;

pub fn read_mentors(db: &Db, path: &Path) -> Result<Vec<MentorRecord>, ServerError> {
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
        let parsed = (|| -> Result<MentorRecord, String> {
            let id = MentorId::new(field(id_col)).map_err(|e| e.to_string())?;
            let name = field(name_col).to_owned();
            if name.is_empty() {
                return Err("name is empty".into());
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
            Ok(MentorRecord {
                id,
                name,
                school,
                language,
                active: true,
            })
        })();
        match parsed {
            Ok(m) if !seen.insert(m.id.clone()) => {
                problems.push(err(line, format!("mentor {} appears twice", m.id)))
            }
            Ok(m) => mentors.push(m),
            Err(why) => problems.push(err(line, why)),
        }
    }
    if let Some(first) = problems.into_iter().next() {
        return Err(first);
    }
    Ok(mentors)
}
