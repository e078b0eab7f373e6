//! `sync-server migrate`: a SQLite server's whole database copied into an empty PostgreSQL
//! database in one transaction, then checked: every table's row count, and the hours report,
//! the review list and the program report computed on both sides must be equal.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::sql::Conn;
use crate::db::Db;
use crate::{program, report, review, ServerError};

/// Every table a server holds, parents before the tables that refer to them.
pub const TABLES: &[&str] = &[
    "program",
    "schools",
    "kiosks",
    "coordinators",
    "coordinator_terms",
    "mentors",
    "memberships",
    "badges",
    "organizers",
    "stipend_payments",
    "clearances",
    "kiosk_health",
    "events",
    "kiosk_events",
    "clock_readings",
    "mentor_totals_state",
    "mentor_totals",
    "roster_cache",
    "server_series",
];

/// Tables whose ids PostgreSQL hands out: its counter must start after the copied ids.
const IDENTITY_TABLES: &[&str] = &["stipend_payments", "clearances"];

/// Copies and verifies; returns each table's row count.
pub fn sqlite_to_postgres(
    from: &Path,
    to: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, ServerError> {
    if !from.exists() {
        return Err(ServerError::Invalid(format!(
            "{} does not exist",
            from.display()
        )));
    }
    if !crate::db::is_postgres_url(to) {
        return Err(ServerError::Invalid(
            "--to must be a PostgreSQL URL (postgres://USER@HOST:PORT/DB)".into(),
        ));
    }
    // Opening brings the SQLite file up to the latest schema, as a server would.
    let mut source = Db::open(from)?;
    let mut target = Db::open_spec(to)?;
    for table in TABLES {
        if count(&target.conn, table)? > 0 {
            return Err(ServerError::Invalid(format!(
                "the PostgreSQL database is not empty (table {table} has rows): migrate into a new database"
            )));
        }
    }
    copy(&source.conn, &target.conn)?;
    verify(&mut source, &mut target, now)
}

fn count(conn: &Conn, table: &str) -> Result<i64, ServerError> {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), (), |r| r.get(0))
}

fn columns(source: &Conn, table: &str) -> Result<Vec<String>, ServerError> {
    let rows = source.rows(
        &format!("SELECT name FROM pragma_table_info('{table}')"),
        (),
    )?;
    rows.iter().map(|r| r.get(0)).collect()
}

fn copy(source: &Conn, target: &Conn) -> Result<(), ServerError> {
    let tx = target.transaction()?;
    for table in TABLES {
        let columns = columns(source, table)?;
        let list = columns.join(", ");
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
        // In the order they were written (a kiosk before the one that replaced it).
        // (clock_readings has no rowid: its key orders it.)
        let order = if *table == "clock_readings" {
            "1, 2, 3"
        } else {
            "rowid"
        };
        let rows = source.rows(&format!("SELECT {list} FROM {table} ORDER BY {order}"), ())?;
        for row in rows {
            tx.execute(&insert, row.values().to_vec())?;
        }
    }
    for table in IDENTITY_TABLES {
        tx.query_row(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            ),
            (),
            |_| Ok(()),
        )?;
    }
    tx.commit()
}

fn verify(
    source: &mut Db,
    target: &mut Db,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, ServerError> {
    let mut counts = Vec::new();
    for table in TABLES {
        let (a, b) = (count(&source.conn, table)?, count(&target.conn, table)?);
        if a != b {
            return Err(mismatch(&format!("table {table}: {a} rows, copied {b}")));
        }
        counts.push(((*table).to_owned(), a));
    }
    let hours = |db: &mut Db| report::hours(db, None, Some("all"), now);
    if !same(&hours(source)?, &hours(target)?) {
        return Err(mismatch("the hours report differs"));
    }
    let reviews = |db: &mut Db| review::list(db, None, Some("all"), now);
    if !same(&reviews(source)?, &reviews(target)?) {
        return Err(mismatch("the review list differs"));
    }
    let today = program::today(source, None, now)?;
    let span = || program::Span {
        from: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(today),
        to: today,
    };
    let programs = |db: &mut Db| program::report(db, None, span(), now);
    if !same(&programs(source)?, &programs(target)?) {
        return Err(mismatch("the program report differs"));
    }
    Ok(counts)
}

fn mismatch(what: &str) -> ServerError {
    ServerError::Corrupt(format!(
        "the copy does not match its source ({what}); nothing was changed in the SQLite file, drop the PostgreSQL database and try again"
    ))
}

/// Two reports serialize to the same JSON.
fn same<T: serde::Serialize>(a: &T, b: &T) -> bool {
    match (serde_json::to_string(a), serde_json::to_string(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
