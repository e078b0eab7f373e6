//! Scheduled online backups: one at start-up and every interval after, each checked for
//! integrity, the oldest pruned so `keep` remain. Files are
//! `pm-backup-YYYYMMDDTHHMMSS.sssZ.db`, so their names sort by age. The database is held only
//! while it is copied; the check runs on the copy without it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::storage::Storage;
use crate::ServerError;

const PREFIX: &str = "pm-backup-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPlan {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

/// `90s`, `30m`, `6h`, `1d`: at least a minute, at most 30 days.
pub fn parse_interval(text: &str) -> Result<Duration, ServerError> {
    let bad = || {
        ServerError::Invalid(format!(
            "interval {text:?}: use a number and a unit, like 30m, 6h or 1d (at least 1m)"
        ))
    };
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if !(60..=30 * 86_400).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs(secs))
}

/// Takes one backup into `dir`, checks it and prunes; returns the new file. `db` is locked
/// only for the copy.
pub fn take(
    db: &Mutex<Box<dyn Storage>>,
    plan: &BackupPlan,
    now: DateTime<Utc>,
) -> Result<PathBuf, ServerError> {
    std::fs::create_dir_all(&plan.dir)?;
    let name = format!("{PREFIX}{}.db", now.format("%Y%m%dT%H%M%S%.3fZ"));
    let out = plan.dir.join(name);
    let copied = {
        let guard = db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.backup_copy(&out)
    };
    if let Err(e) = copied.and_then(|()| crate::db::check_backup(&out)) {
        // A half-written or damaged copy must not be taken for a good one later.
        let _ = std::fs::remove_file(&out);
        return Err(e);
    }
    prune(&plan.dir, plan.keep)?;
    Ok(out)
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, ServerError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(".db"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Removes the oldest backups so `keep` remain (at least one is always kept).
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, ServerError> {
    let files = list(dir)?;
    let excess = files.len().saturating_sub(keep.max(1));
    let mut removed = Vec::new();
    for old in files.into_iter().take(excess) {
        std::fs::remove_file(&old)?;
        for side in ["-wal", "-shm"] {
            let mut name = old.clone().into_os_string();
            name.push(side);
            let _ = std::fs::remove_file(name);
        }
        removed.push(old);
    }
    Ok(removed)
}

/// Runs the plan until the process ends: a backup now, then one every interval. A failed
/// backup is logged and tried again at the next tick; serving goes on.
pub fn schedule(db: Arc<Mutex<Box<dyn Storage>>>, plan: BackupPlan) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(plan.every);
        loop {
            ticks.tick().await;
            let (db, plan) = (db.clone(), plan.clone());
            let done = tokio::task::spawn_blocking(move || take(&db, &plan, Utc::now())).await;
            match done {
                Ok(Ok(file)) => tracing::info!(file = %file.display(), "backup taken and checked"),
                Ok(Err(e)) => tracing::error!(error = %e, "backup failed"),
                Err(e) => tracing::error!(error = %e, "backup task failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_need_a_unit_and_a_sane_size() {
        assert_eq!(
            parse_interval("6h").ok(),
            Some(Duration::from_secs(6 * 3600))
        );
        assert_eq!(parse_interval("30m").ok(), Some(Duration::from_secs(1800)));
        assert_eq!(parse_interval("1d").ok(), Some(Duration::from_secs(86_400)));
        for bad in [
            "",
            "6",
            "h",
            "10s",
            "6 h",
            "-1h",
            "99999999999999999999h",
            "31d",
            "6x",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pruning_keeps_the_newest() {
        let dir = tempfile::tempdir().expect("dir");
        for n in 1..=5 {
            std::fs::write(
                dir.path()
                    .join(format!("{PREFIX}2026112{n}T000000.000Z.db")),
                "x",
            )
            .expect("write");
        }
        std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
        let removed = prune(dir.path(), 3).expect("prune");
        assert_eq!(removed.len(), 2);
        let left = list(dir.path()).expect("list");
        assert_eq!(left.len(), 3);
        assert!(left[0].ends_with(format!("{PREFIX}20261123T000000.000Z.db")));
        assert!(
            dir.path().join("notes.txt").exists(),
            "other files are left alone"
        );
        assert_eq!(
            prune(dir.path(), 0).expect("prune").len(),
            2,
            "one is always kept"
        );
    }
}
