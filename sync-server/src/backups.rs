//! Scheduled online backups: one at start-up and every interval after, each checked for
//! integrity, the oldest pruned so `keep` remain. Files are
//! `pm-backup-YYYYMMDDTHHMMSS.sssZ.db`, so their names sort by age. The database is held only
//! while it is copied; the check runs on the copy without it. A copy is written under a hidden
//! `.pm-backup-….partial` name and renamed once checked, so a server killed midway never leaves
//! a file that looks like a backup.

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
    // Partial copies of earlier runs that were killed midway; this one writes its own.
    remove_partials(&plan.dir)?;
    crate::db::write_backup(&out, |partial| {
        let guard = db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.backup_copy(partial)
    })?;
    prune(&plan.dir, plan.keep)?;
    Ok(out)
}

/// Removes what killed backups left in `dir` (hidden `.pm-backup-…` files). A backup folder
/// belongs to one server: the scheduler takes one backup at a time.
fn remove_partials(dir: &Path) -> Result<(), ServerError> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let partial = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&format!(".{PREFIX}")));
        // Best effort: a leftover that cannot be removed must not stop today's backup.
        if partial && std::fs::remove_file(&path).is_err() {
            tracing::warn!(file = %path.display(), "could not remove a partial backup");
        }
    }
    Ok(())
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
    fn a_backup_appears_complete_or_not_at_all_and_killed_runs_are_cleared() {
        let dir = tempfile::tempdir().expect("dir");
        let db = crate::db::Db::open(&dir.path().join("server.db")).expect("db");
        let db: Mutex<Box<dyn Storage>> = Mutex::new(Box::new(db));
        let plan = BackupPlan {
            dir: dir.path().join("backups"),
            every: Duration::from_secs(60),
            keep: 2,
        };
        std::fs::create_dir_all(&plan.dir).expect("dir");
        // What a server killed while copying and checking leaves behind.
        let killed = plan
            .dir
            .join(format!(".{PREFIX}20261124T000000.000Z.db.partial"));
        std::fs::write(&killed, "half a database").expect("write");
        std::fs::write(
            plan.dir
                .join(format!(".{PREFIX}20261124T000000.000Z.db.partial-journal")),
            "j",
        )
        .expect("write");
        assert!(
            list(&plan.dir).expect("list").is_empty(),
            "a partial copy is no backup"
        );

        let now = "2026-11-25T08:00:00Z".parse().expect("instant");
        let file = take(&db, &plan, now).expect("backup");
        let mut left: Vec<_> = std::fs::read_dir(&plan.dir)
            .expect("read")
            .map(|e| e.expect("entry").path())
            .collect();
        left.sort();
        assert_eq!(left, vec![file.clone()], "only the checked backup remains");
        crate::db::check_backup(&file).expect("restorable");

        // A copy that fails leaves nothing behind either.
        let target = plan.dir.join(format!("{PREFIX}x.db"));
        let failed = crate::db::write_backup(&target, |partial| {
            std::fs::write(partial, "the first pages")?;
            assert!(
                !target.exists(),
                "the backup's name appears only once it is checked"
            );
            Err(ServerError::Invalid("disk full".into()))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_dir(&plan.dir).expect("read").count(), 1);
        assert!(
            take(&db, &plan, now).is_err(),
            "an existing backup is never overwritten"
        );
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
