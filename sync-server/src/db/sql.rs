//! One small SQL surface over both engines: SQLite (rusqlite, the embedded default) and
//! PostgreSQL (postgres). The storage code is written once, in SQL both engines run: `?N`
//! placeholders (rewritten to `$N` for PostgreSQL), `ON CONFLICT`, `RETURNING`, text timestamps
//! that compare as text, 0/1 integers for flags. The shapes mirror rusqlite's (`query_row`,
//! `prepare_cached(..).query_map(..)`, `optional()`), so the SQLite code reads as before.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{FromSql, IsNull, ToSql, Type};
use thiserror::Error;

use crate::ServerError;

/// A database failure, sorted by what the caller can do about it.
#[derive(Debug, Error)]
#[error("{message}")]
pub struct DbError {
    pub kind: DbErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// `query_row` found nothing (`optional()` turns this into `None`).
    NoRow,
    /// A unique, foreign-key or check constraint refused the change.
    Constraint,
    /// PostgreSQL gave up on the transaction (serialization failure, deadlock): run it again.
    Retry,
    /// The connection is gone (the database restarted, an administrator ended it, the network
    /// dropped): nothing more can run on it; a pooled request is run again on a fresh one.
    Lost,
    /// The connection was lost while COMMIT was under way: the transaction may or may not be
    /// recorded. Only a request that can safely be recorded twice runs again.
    CommitUnknown,
    Other,
}

impl DbError {
    fn new(kind: DbErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<rusqlite::Error> for ServerError {
    fn from(e: rusqlite::Error) -> Self {
        let kind = match &e {
            rusqlite::Error::QueryReturnedNoRows => DbErrorKind::NoRow,
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                DbErrorKind::Constraint
            }
            _ => DbErrorKind::Other,
        };
        ServerError::Database(DbError::new(kind, e.to_string()))
    }
}

impl From<postgres::Error> for ServerError {
    fn from(e: postgres::Error) -> Self {
        use postgres::error::{Severity, SqlState};
        // Gone: the server ended the session (any FATAL or PANIC: an administrator, a
        // shutdown, a timeout, a standby's recovery conflict), said the connection is broken,
        // or the socket failed or closed. An ERROR of class 08 (a protocol violation) leaves the
        // connection usable and is a bug, not an outage.
        let lost = match e.as_db_error() {
            Some(db) => {
                matches!(
                    db.parsed_severity(),
                    Some(Severity::Fatal | Severity::Panic)
                ) || *db.code() == SqlState::CONNECTION_FAILURE
                    || *db.code() == SqlState::CONNECTION_DOES_NOT_EXIST
            }
            // The library's own kinds are only visible through their text ("error
            // communicating with the server" is an I/O failure; encoding errors are not).
            None => e.is_closed() || e.to_string().starts_with("error communicating"),
        };
        let kind = match e.code() {
            _ if lost => DbErrorKind::Lost,
            Some(c)
                if *c == SqlState::UNIQUE_VIOLATION
                    || *c == SqlState::FOREIGN_KEY_VIOLATION
                    || *c == SqlState::CHECK_VIOLATION
                    || *c == SqlState::NOT_NULL_VIOLATION =>
            {
                DbErrorKind::Constraint
            }
            Some(c)
                if *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                DbErrorKind::Retry
            }
            _ => DbErrorKind::Other,
        };
        // The server's message only: its DETAIL can quote row values (mentor ids, names).
        let message = match e.as_db_error() {
            Some(db) => format!("postgres: {}", db.message()),
            None => match std::error::Error::source(&e) {
                Some(why) => format!("postgres: {e}: {why}"),
                None => format!("postgres: {e}"),
            },
        };
        ServerError::Database(DbError::new(kind, message))
    }
}

impl ServerError {
    pub fn is_constraint(&self) -> bool {
        matches!(self, ServerError::Database(e) if e.kind == DbErrorKind::Constraint)
    }
    /// A transaction PostgreSQL aborted to keep concurrent ones serializable: safe to rerun.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ServerError::Database(e) if e.kind == DbErrorKind::Retry)
    }
    /// The database connection this ran on is gone; the work did not finish on it (or, for
    /// [`ServerError::is_commit_unknown`], may have).
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, ServerError::Database(e)
            if e.kind == DbErrorKind::Lost || e.kind == DbErrorKind::CommitUnknown)
    }
    /// The connection was lost during COMMIT: the work may be recorded.
    pub fn is_commit_unknown(&self) -> bool {
        matches!(self, ServerError::Database(e) if e.kind == DbErrorKind::CommitUnknown)
    }
}

/// One cell, as both engines can hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// An integer beyond i64: both engines refuse it (as rusqlite did), nothing is stored.
    OutOfRange,
}

pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                // Never saturated: a value that does not fit is refused when bound.
                i64::try_from(*self).map_or(Value::OutOfRange, Value::Int)
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u64, usize, i16, u16, u8);

pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, ServerError>;
}

fn wrong(v: &Value, want: &str) -> ServerError {
    ServerError::Corrupt(format!("expected {want}, found {v:?}"))
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, ServerError> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(wrong(other, "text")),
        }
    }
}
impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, ServerError> {
        match v {
            Value::Int(i) => Ok(*i),
            other => Err(wrong(other, "an integer")),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, ServerError> {
        match v {
            Value::Int(i) => Ok(*i != 0),
            other => Err(wrong(other, "a flag")),
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, ServerError> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(wrong(other, "a number")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, ServerError> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}
macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, ServerError> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| wrong(v, stringify!($t)))
            }
        }
    )*};
}
int_from_value!(i32, u32, u64, usize, i16, u16, u8);

/// A row read into memory.
#[derive(Debug, Clone)]
pub struct Row(Vec<Value>);

pub trait RowIndex {
    fn position(self) -> usize;
}
impl RowIndex for usize {
    fn position(self) -> usize {
        self
    }
}

impl Row {
    pub fn values(&self) -> &[Value] {
        &self.0
    }
    /// Column `i` as `T` (the `_` type parameter keeps rusqlite's `get::<_, T>` spelling).
    pub fn get<I: RowIndex, T: FromValue>(&self, i: I) -> Result<T, ServerError> {
        let i = i.position();
        let value = self
            .0
            .get(i)
            .ok_or_else(|| ServerError::Corrupt(format!("no column {i}")))?;
        T::from_value(value)
    }
}

/// Parameters of one statement.
pub trait Params {
    fn into_values(self) -> Vec<Value>;
}
impl Params for () {
    fn into_values(self) -> Vec<Value> {
        Vec::new()
    }
}
impl<T: ToValue, const N: usize> Params for [T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}
impl Params for &[&dyn ToValue] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}
impl Params for Vec<Value> {
    fn into_values(self) -> Vec<Value> {
        self
    }
}

/// `params![a, b]`: parameters of different types.
macro_rules! params {
    ($($x:expr),* $(,)?) => {
        &[$(&$x as &dyn $crate::db::sql::ToValue),*] as &[&dyn $crate::db::sql::ToValue]
    };
}
pub(crate) use params;

/// `query_row(..).optional()`: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>, ServerError>;
}
impl<T> OptionalExtension<T> for Result<T, ServerError> {
    fn optional(self) -> Result<Option<T>, ServerError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(ServerError::Database(e)) if e.kind == DbErrorKind::NoRow => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A PostgreSQL connection with its prepared statements (they live as long as it does).
pub struct PgConn {
    client: RefCell<postgres::Client>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> Self {
        Self {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
        }
    }
    pub fn is_closed(&self) -> bool {
        self.client.borrow().is_closed()
    }
}

/// A connection to either engine, with the depth of the transactions open on it.
pub struct Conn {
    link: Link,
    /// Transactions begun and not yet ended: an inner one joins the outer (PostgreSQL runs a
    /// whole request in one transaction; the storage code's own then nest inside it).
    depth: std::cell::Cell<u32>,
    /// A statement failed inside the open transaction: it must not be committed as if whole
    /// (PostgreSQL would answer COMMIT with a silent rollback).
    failed: std::cell::Cell<bool>,
}

enum Link {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConn>),
}

/// How a transaction holds the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// Changes. SQLite: `BEGIN IMMEDIATE` (the write lock at once, no upgrade deadlock).
    /// PostgreSQL: READ COMMITTED: every write here is guarded by row locks (`UPDATE`, upserts)
    /// and unique indexes (`ON CONFLICT DO NOTHING`, one payment per period), which hold across
    /// concurrent servers at this level; the reads they make see other servers' commits.
    Write,
    /// Several reads that must agree (a report, a totals snapshot). PostgreSQL: REPEATABLE READ,
    /// READ ONLY: one snapshot for the whole transaction, and read-only ones never fail to
    /// serialize.
    Snapshot,
}
// A whole HTTP request on PostgreSQL runs in one REPEATABLE READ transaction (`Db::in_request`):
// everything it reads comes from one snapshot, and a write to a row another transaction changed
// since fails to serialize; the request is then run again from the start (`http::with_db`).

fn not_sqlite() -> ServerError {
    ServerError::Invalid(
        "this is a PostgreSQL database: back it up and restore it with PostgreSQL's own tools, \
         pg_dump and pg_restore (see docs/install.md, \"Scaling out\")"
            .into(),
    )
}

impl Conn {
    pub fn sqlite_conn(conn: rusqlite::Connection) -> Self {
        Self {
            link: Link::Sqlite(conn),
            depth: std::cell::Cell::new(0),
            failed: std::cell::Cell::new(false),
        }
    }
    pub fn postgres_conn(conn: PgConn) -> Self {
        Self {
            link: Link::Postgres(Box::new(conn)),
            depth: std::cell::Cell::new(0),
            failed: std::cell::Cell::new(false),
        }
    }

    pub fn engine(&self) -> Engine {
        match &self.link {
            Link::Sqlite(_) => Engine::Sqlite,
            Link::Postgres(_) => Engine::Postgres,
        }
    }

    /// A PostgreSQL connection that broke (it is not put back in the pool).
    pub fn is_closed(&self) -> bool {
        matches!(&self.link, Link::Postgres(pg) if pg.is_closed())
    }

    /// The SQLite connection, for what only SQLite does (backups, pragmas).
    pub fn sqlite(&self) -> Result<&rusqlite::Connection, ServerError> {
        match &self.link {
            Link::Sqlite(c) => Ok(c),
            Link::Postgres(_) => Err(not_sqlite()),
        }
    }
    pub fn sqlite_mut(&mut self) -> Result<&mut rusqlite::Connection, ServerError> {
        match &mut self.link {
            Link::Sqlite(c) => Ok(c),
            Link::Postgres(_) => Err(not_sqlite()),
        }
    }

    pub fn execute_batch(&self, sql: &str) -> Result<(), ServerError> {
        let done = self.execute_raw(sql);
        self.noted(done)
    }

    /// Remembers a failure inside an open transaction.
    fn noted<T>(&self, result: Result<T, ServerError>) -> Result<T, ServerError> {
        if result.is_err() && self.depth.get() > 0 {
            self.failed.set(true);
        }
        result
    }

    /// Ends the outermost transaction: COMMIT, unless a statement in it failed (then ROLLBACK
    /// and an error); a COMMIT that fails is rolled back, so no transaction is left open.
    pub fn finish(&self) -> Result<(), ServerError> {
        if self.failed.replace(false) {
            let _ = self.execute_raw("ROLLBACK");
            return Err(ServerError::Corrupt(
                "a statement failed inside the transaction; nothing was recorded".into(),
            ));
        }
        if let Err(e) = self.execute_raw("COMMIT") {
            let _ = self.execute_raw("ROLLBACK");
            // The server may have made the transaction durable before the connection went.
            return Err(match e {
                ServerError::Database(mut lost) if lost.kind == DbErrorKind::Lost => {
                    lost.kind = DbErrorKind::CommitUnknown;
                    ServerError::Database(lost)
                }
                other => other,
            });
        }
        Ok(())
    }

    /// Ends the outermost transaction without keeping anything.
    pub fn abandon(&self) {
        self.failed.set(false);
        let _ = self.execute_raw("ROLLBACK");
    }

    fn execute_raw(&self, sql: &str) -> Result<(), ServerError> {
        match &self.link {
            Link::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Link::Postgres(pg) => Ok(pg.client.borrow_mut().batch_execute(sql)?),
        }
    }

    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize, ServerError> {
        let done = self.execute_values(sql, params.into_values());
        self.noted(done)
    }

    fn execute_values(&self, sql: &str, values: Vec<Value>) -> Result<usize, ServerError> {
        match &self.link {
            Link::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(values.iter().map(SqliteValue)))?)
            }
            Link::Postgres(pg) => {
                let stmt = pg_statement(pg, sql)?;
                let args = pg_args(&values);
                let n = pg.client.borrow_mut().execute(&stmt, &pg_refs(&args))?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Every row, read into memory.
    pub fn rows(&self, sql: &str, params: impl Params) -> Result<Vec<Row>, ServerError> {
        let done = self.rows_of(sql, params.into_values());
        self.noted(done)
    }

    fn rows_of(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>, ServerError> {
        match &self.link {
            Link::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let width = stmt.column_count();
                let mut rows =
                    stmt.query(rusqlite::params_from_iter(values.iter().map(SqliteValue)))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut cells = Vec::with_capacity(width);
                    for i in 0..width {
                        cells.push(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                            rusqlite::types::ValueRef::Real(f) => Value::Real(f),
                            rusqlite::types::ValueRef::Text(t) => {
                                Value::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(_) => {
                                return Err(ServerError::Corrupt("unexpected blob".into()))
                            }
                        });
                    }
                    out.push(Row(cells));
                }
                Ok(out)
            }
            Link::Postgres(pg) => {
                let stmt = pg_statement(pg, sql)?;
                let args = pg_args(&values);
                let rows = pg.client.borrow_mut().query(&stmt, &pg_refs(&args))?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| Ok(r.try_get::<_, PgCell>(i)?.0))
                            .collect::<Result<Vec<_>, ServerError>>()
                            .map(Row)
                    })
                    .collect()
            }
        }
    }

    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        read: impl FnOnce(&Row) -> Result<T, ServerError>,
    ) -> Result<T, ServerError> {
        let rows = self.rows(sql, params)?;
        match rows.first() {
            Some(r) => read(r),
            None => Err(ServerError::Database(DbError::new(
                DbErrorKind::NoRow,
                "query returned no rows",
            ))),
        }
    }

    /// A statement to run (statements are cached per connection by both engines).
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>, ServerError> {
        Ok(Statement {
            conn: self,
            sql: sql.to_owned(),
        })
    }
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>, ServerError> {
        self.prepare_cached(sql)
    }

    /// Begins a transaction; it rolls back unless committed. Inside another one it joins it
    /// (the outer one commits or rolls back the whole).
    pub fn begin(&self, kind: TxKind) -> Result<Transaction<'_>, ServerError> {
        let begin = match (self.engine(), kind) {
            (Engine::Sqlite, TxKind::Write) => "BEGIN IMMEDIATE",
            (Engine::Sqlite, TxKind::Snapshot) => "BEGIN DEFERRED",
            (Engine::Postgres, TxKind::Write) => "BEGIN ISOLATION LEVEL READ COMMITTED",
            (Engine::Postgres, TxKind::Snapshot) => {
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
            }
        };
        let depth = self.depth.get();
        if depth == 0 {
            self.failed.set(false);
            self.execute_raw(begin)?;
        }
        self.depth.set(depth + 1);
        Ok(Transaction {
            conn: self,
            done: false,
        })
    }
    /// Transactions open on this connection (0: none).
    pub fn depth(&self) -> u32 {
        self.depth.get()
    }

    /// An outer transaction begun by the caller: the storage code's own join it.
    pub fn enter_outer(&self) {
        if self.depth.get() == 0 {
            self.failed.set(false);
        }
        self.depth.set(self.depth.get() + 1);
    }
    pub fn leave_outer(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    /// A transaction that writes (see [`TxKind::Write`]).
    pub fn transaction(&self) -> Result<Transaction<'_>, ServerError> {
        self.begin(TxKind::Write)
    }
}

pub struct Statement<'c> {
    conn: &'c Conn,
    sql: String,
}

impl Statement<'_> {
    pub fn execute(&mut self, params: impl Params) -> Result<usize, ServerError> {
        self.conn.execute(&self.sql, params)
    }
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        read: impl FnOnce(&Row) -> Result<T, ServerError>,
    ) -> Result<T, ServerError> {
        self.conn.query_row(&self.sql, params, read)
    }
    /// Each row read by `read` (rusqlite's shape: iterate, each item a `Result`).
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        read: impl FnMut(&Row) -> Result<T, ServerError>,
    ) -> Result<std::vec::IntoIter<Result<T, ServerError>>, ServerError> {
        let rows = self.conn.rows(&self.sql, params)?;
        Ok(rows.iter().map(read).collect::<Vec<_>>().into_iter())
    }
}

pub struct Transaction<'c> {
    conn: &'c Conn,
    done: bool,
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<(), ServerError> {
        self.done = true;
        let depth = self.conn.depth.get().saturating_sub(1);
        self.conn.depth.set(depth);
        if depth == 0 {
            self.conn.finish()?;
        }
        Ok(())
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            let depth = self.conn.depth.get().saturating_sub(1);
            self.conn.depth.set(depth);
            // An inner transaction that fails fails its outer one: the error goes up to it.
            if depth == 0 {
                // Nothing to do if this fails: the connection is broken, its transaction gone.
                self.conn.abandon();
            }
        }
    }
}

struct SqliteValue<'a>(&'a Value);

impl rusqlite::ToSql for SqliteValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::OutOfRange => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "integer out of range".into(),
                ))
            }
        })
    }
}

/// `?N` placeholders as `$N` (a bare `?` counts on from the last number; the server's SQL numbers
/// every one); quoted text is left alone.
pub fn postgres_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    let mut next = 1u32;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
            out.push(c);
        } else if c == '?' && !quoted {
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            let n = digits.parse().unwrap_or(next);
            next = n + 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_statement(pg: &PgConn, sql: &str) -> Result<postgres::Statement, ServerError> {
    if let Some(s) = pg.statements.borrow().get(sql) {
        return Ok(s.clone());
    }
    let stmt = pg.client.borrow_mut().prepare(&postgres_sql(sql))?;
    let mut cache = pg.statements.borrow_mut();
    // The server's statements are a fixed set; a tool's ad-hoc ones must not pile up.
    if cache.len() >= 512 {
        cache.clear();
    }
    cache.insert(sql.to_owned(), stmt.clone());
    Ok(stmt)
}

/// A parameter written as the type PostgreSQL inferred for its place (integers for flags and
/// counts, text for everything else), so one value works wherever SQLite would take it.
#[derive(Debug)]
struct PgArg(Value);

fn pg_args(values: &[Value]) -> Vec<PgArg> {
    values.iter().cloned().map(PgArg).collect()
}
fn pg_refs(args: &[PgArg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for PgArg {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match (&self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::OutOfRange, _) => Err("integer out of range".into()),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), _) => i.to_string().as_str().to_sql(&Type::TEXT, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Real(f), _) => f.to_string().as_str().to_sql(&Type::TEXT, out),
            (Value::Text(s), &Type::INT8) => s.parse::<i64>()?.to_sql(ty, out),
            (Value::Text(s), &Type::INT4) => s.parse::<i32>()?.to_sql(ty, out),
            (Value::Text(s), _) => s.as_str().to_sql(&Type::TEXT, out),
        }
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    postgres::types::to_sql_checked!();
}

/// A cell read from PostgreSQL as a [`Value`].
struct PgCell(Value);

impl<'a> FromSql<'a> for PgCell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(PgCell(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::VOID => Value::Null,
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(String::from_sql(ty, raw)?)
            }
            _ => return Err(format!("column of type {ty} is not read by this server").into()),
        }))
    }
    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(PgCell(Value::Null))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_sql;

    #[test]
    fn placeholders_become_numbered_dollars_outside_quotes() {
        assert_eq!(
            postgres_sql("SELECT a FROM t WHERE b = ?1 AND c = '?' AND d = ?2 OR e = ?1"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2 OR e = $1"
        );
        assert_eq!(postgres_sql("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    /// However the end of a connection reaches the client (the server's "terminating
    /// connection" as the answer to a statement, or the socket closed), it is reported as a
    /// lost connection, which a pooled request runs again on a fresh one (`http::run_db`).
    #[test]
    fn a_connection_the_database_ends_is_reported_lost() {
        let url = crate::test_pg::fresh_database();
        let db = crate::db::Db::open_spec(&url).expect("db");
        // The backend may end within this statement or just after it.
        if let Err(e) = db.select("SELECT pg_terminate_backend(pg_backend_pid())", &[]) {
            assert!(e.is_connection_lost(), "{e}");
        }
        for _ in 0..2 {
            let e = db.select("SELECT 1", &[]).expect_err("ended");
            assert!(e.is_connection_lost(), "{e}");
        }
    }
}
