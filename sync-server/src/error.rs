use thiserror::Error;

/// The server library's one error type. `status()` maps it to HTTP.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("database: {0}")]
    Database(crate::db::sql::DbError),
    #[error("{0}")]
    Domain(#[from] pm_shared::DomainError),
    #[error("{0}")]
    Invalid(String),
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("missing or wrong token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// The request is well formed but clashes with what is recorded (a second payment, an item
    /// already resolved).
    #[error("{0}")]
    Conflict(String),
    /// A decision about a review item that changed since the organizer saw it.
    #[error("{0}")]
    ItemChanged(String),
    #[error("{path}, line {line}: {why}")]
    Csv {
        path: String,
        line: u64,
        why: String,
    },
    #[error("stored record is malformed: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A request's work panicked; it was stopped and answered 500, and nothing else was hurt.
    #[error("the request's work panicked")]
    Panicked,
}
