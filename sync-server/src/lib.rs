//! The sync server: merges every kiosk's event log exactly once, builds rosters, reports hours
//! and stipend eligibility, issues badges.

#![forbid(unsafe_code)]

pub mod backups;
pub mod badges;
pub mod db;
pub mod entries;
mod error;
pub mod http;
pub mod import;
pub mod metrics;
pub mod migrate;
pub mod net;
pub mod overview;
pub mod payments;
pub mod placements;
pub mod program;
pub mod report;
pub mod review;
pub mod roster;
pub mod rules_over_time;
pub mod sessions;
pub mod storage;
pub mod totals;

/// The tests' throwaway PostgreSQL cluster (shared with the end-to-end tests).
#[cfg(test)]
#[path = "../../tests/src/pg.rs"]
mod test_pg;

pub use error::ServerError;
