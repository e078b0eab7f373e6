//! `sync-server migrate`: a SQLite server's whole database copied into an empty PostgreSQL
//! database in one transaction, then checked: every table's row count, and the hours report,
//! the review list and the program report computed on both sides must be equal.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::sql::{Conn, TxKind, Value};
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
    "series_owners",
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

/// Rows read from SQLite at a time, and rows per INSERT into PostgreSQL.
const READ_CHUNK: i64 = 5_000;
const INSERT_ROWS: usize = 200;

fn copy(source: &Conn, target: &Conn) -> Result<(), ServerError> {
    // One read snapshot of the source for the whole copy, one transaction on the target.
    let reading = source.begin(TxKind::Snapshot)?;
    let tx = target.transaction()?;
    for table in TABLES {
        let columns = columns(source, table)?;
        let list = columns.join(", ");
        if *table == "clock_readings" {
            // No rowid: small, read at once in key order.
            let rows = source.rows(&format!("SELECT {list} FROM {table} ORDER BY 1, 2, 3"), ())?;
            insert_rows(
                &tx,
                table,
                &list,
                columns.len(),
                rows.iter().map(|r| r.values()),
            )?;
            continue;
        }
        // In the order they were written (a kiosk before the one that replaced it), a chunk at
        // a time: 6 M events never sit in memory at once.
        let mut after = 0i64;
        loop {
            let rows = source.rows(
                &format!(
                    "SELECT rowid, {list} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT {READ_CHUNK}"
                ),
                [after],
            )?;
            let Some(last) = rows.last() else { break };
            after = last.get(0)?;
            insert_rows(
                &tx,
                table,
                &list,
                columns.len(),
                rows.iter().map(|r| &r.values()[1..]),
            )?;
        }
    }
    // When each upgrade first ran is the source's (the target's own migration just wrote today).
    for row in source.rows("SELECT name, at FROM upgrades", ())? {
        let (name, at): (String, String) = (row.get(0)?, row.get(1)?);
        tx.execute(
            "INSERT INTO upgrades (name, at) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET at = ?2",
            [name, at],
        )?;
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
    tx.commit()?;
    reading.commit()
}

/// Rows into `table`, many per statement. A NUL (which SQLite holds and PostgreSQL cannot,
/// only ever in a forged kiosk entry stored by an older server) is copied as U+FFFD.
fn insert_rows<'r>(
    tx: &Conn,
    table: &str,
    list: &str,
    width: usize,
    rows: impl Iterator<Item = &'r [Value]>,
) -> Result<(), ServerError> {
    let rows: Vec<&[Value]> = rows.collect();
    for chunk in rows.chunks(INSERT_ROWS) {
        let mut values = Vec::with_capacity(chunk.len() * width);
        let mut tuples = Vec::with_capacity(chunk.len());
        for row in chunk {
            let marks: Vec<String> = (0..width)
                .map(|i| format!("?{}", values.len() + i + 1))
                .collect();
            tuples.push(format!("({})", marks.join(", ")));
            values.extend(row.iter().map(|v| match v {
                Value::Text(t) if t.contains('\0') => Value::Text(t.replace('\0', "\u{fffd}")),
                other => other.clone(),
            }));
        }
        tx.execute(
            &format!("INSERT INTO {table} ({list}) VALUES {}", tuples.join(", ")),
            values,
        )?;
    }
    Ok(())
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
        "the copy does not match its source ({what}): was a server still writing to it? Stop it, drop the PostgreSQL database and try again (the SQLite file keeps every record; only its schema and cached totals were brought up to date)"
    ))
}

/// The source's report and the copy's serialize to the same JSON (a NUL in the source is
/// U+FFFD in the copy: see [`insert_rows`]).
fn same<T: serde::Serialize>(source: &T, copy: &T) -> bool {
    match (serde_json::to_string(source), serde_json::to_string(copy)) {
        (Ok(a), Ok(b)) => a.replace("\\u0000", "\u{fffd}") == b,
        _ => false,
    }
}
