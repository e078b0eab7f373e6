use thiserror::Error;

/// The kiosk library's one error type.
#[derive(Debug, Error)]
pub enum KioskError {
    #[error("local database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("local database holds a malformed record: {0}")]
    CorruptRecord(String),
    #[error("the local database has schema version {found}, newer than this kiosk understands ({supported}); upgrade the kiosk software")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("configuration file {path}: {why}")]
    Config { path: String, why: String },
    #[error("the kiosk is not set up: run `kiosk --data DIR setup --server URL --token TOKEN`")]
    NotSetUp,
    #[error("{0}")]
    Domain(#[from] pm_shared::DomainError),
    #[error("server {url}: {why}")]
    Server { url: String, why: String },
    /// The server asked this kiosk to slow down (HTTP 429): wait, then go on; not a failure.
    #[error("the server is busy: trying again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error("cannot reach the server {url}: {why}")]
    Unreachable { url: String, why: String },
    #[error("image {path}: {why}")]
    Image { path: String, why: String },
    #[error("replay script {path}, line {line}: {why}")]
    Replay {
        path: String,
        line: u64,
        why: String,
    },
    #[error("{0}")]
    Invalid(String),
    /// She checked in (or out) less than the minimum session ago: nothing was recorded.
    #[error("she checked in or out only minutes ago: nothing recorded")]
    TooSoon,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
