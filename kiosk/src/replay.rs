//! `kiosk replay`: recorded frames through the same decode → engine path as the camera, each at
//! the instant the script gives. Used by tests, demos and support.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::decode::{decode_frame, load_frame};
use crate::engine::Engine;
use crate::KioskError;

#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRow {
    /// 1-based line in the CSV file (the header is line 1).
    pub line: u64,
    pub at: DateTime<Utc>,
    /// The instant as written in the script, for the output.
    pub at_text: String,
    /// As written in the script, for the output.
    pub image_text: String,
    pub image: PathBuf,
}

/// Reads and checks the whole script before anything is recorded: a broken row is reported
/// with its line number and nothing changes.
pub fn read_script(path: &Path) -> Result<Vec<ReplayRow>, KioskError> {
    let origin = path.display().to_string();
    let err = |line: u64, why: String| KioskError::Replay {
        path: origin.clone(),
        line,
        why,
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| err(0, e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    if headers.iter().collect::<Vec<_>>() != ["at", "image"] {
        return Err(err(
            1,
            format!(
                "header must be `at,image`, found `{}`",
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            err(line, e.to_string())
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let (Some(at), Some(image)) = (record.get(0), record.get(1)) else {
            return Err(err(line, "expected two fields: at,image".into()));
        };
        let at_text = at.to_owned();
        let at = DateTime::parse_from_rfc3339(at)
            .map_err(|e| {
                err(
                    line,
                    format!("`at` {at:?} is not an RFC 3339 instant with offset: {e}"),
                )
            })?
            .with_timezone(&Utc);
        if image.is_empty() {
            return Err(err(line, "`image` is empty".into()));
        }
        let full = base.join(image);
        image::image_dimensions(&full)
            .map_err(|e| err(line, format!("image {image:?} cannot be read: {e}")))?;
        rows.push(ReplayRow {
            line,
            at,
            at_text,
            image_text: image.to_owned(),
            image: full,
        });
    }
    Ok(rows)
}

/// Runs every row through decode and the engine; writes `at<TAB>image<TAB>outcome` per row,
/// flushed only after the outcome's event is committed.
pub fn run(
    engine: &mut Engine,
    rows: &[ReplayRow],
    out: &mut impl Write,
) -> Result<(), KioskError> {
    for row in rows {
        let frame = load_frame(&row.image).map_err(|e| KioskError::Replay {
            path: row.image_text.clone(),
            line: row.line,
            why: e.to_string(),
        })?;
        let texts = decode_frame(&frame);
        let outcome = match texts.first() {
            Some(text) => engine.scan(text, row.at)?.summary(),
            None => "no-code".to_owned(),
        };
        writeln!(out, "{}\t{}\t{}", row.at_text, row.image_text, outcome)?;
        out.flush()?;
    }
    Ok(())
}
