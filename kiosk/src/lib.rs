//! The kiosk: local store, scan engine, capture and decoding, sync client, headless commands,
//! and the Slint UI (`ui`), which calls the engine; the engine never knows about Slint.

// Slint's generated UI code uses unsafe internally (see `ui`); our own code may not.
#![deny(unsafe_code)]

pub mod app;
pub mod capture;
pub mod config;
pub mod coordinator;
pub mod decode;
pub mod demo;
pub mod engine;
mod error;
pub mod replay;
pub mod store;
pub mod sync;
pub mod today;
pub mod ui;
pub mod watchdog;

pub use error::KioskError;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use pm_shared::{SeriesId, TimeZone};

/// The database file inside a kiosk's data folder.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("kiosk.db")
}

/// Opens the data folder's database, creating it (with a fresh series) if it is new.
pub fn open_store(data_dir: &Path, now: DateTime<Utc>) -> Result<store::Store, KioskError> {
    std::fs::create_dir_all(data_dir)?;
    // The database holds the roster (names, badge hashes, PIN hashes): owner only from the start.
    if !db_path(data_dir).exists() {
        private_file(&db_path(data_dir))?;
    }
    let series = SeriesId::from_parts(
        u64::try_from(now.timestamp_millis()).unwrap_or(0),
        rand::random(),
    );
    store::Store::open(&db_path(data_dir), series, now)
}

/// The machine's own time zone, used until the first roster names the school's.
pub fn system_time_zone() -> TimeZone {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| TimeZone::new(&name).ok())
        .or_else(|| TimeZone::new("UTC").ok())
        .unwrap_or_else(|| unreachable!("UTC is in the tz database"))
}

/// Creates a new file readable and writable by its owner only (0600), failing if it exists.
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
