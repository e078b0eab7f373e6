use thiserror::Error;

/// The one error type of the `shared` crate: every way a value from outside can be malformed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("invalid {kind} id {value:?}: {why}")]
    InvalidId {
        kind: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("invalid language code {0:?}: expected a two-letter ISO 639-1 code such as en or es")]
    InvalidLanguage(String),
    #[error("unknown time zone {0:?}: expected an IANA name such as America/Chicago")]
    InvalidTimeZone(String),
    #[error(
        "unknown hour category {0:?}: expected one of classroom, training, workshop, community"
    )]
    InvalidCategory(String),
    #[error(
        "invalid program period {0:?}: expected a name such as 2026-fall, 2027-spring or 2026-year"
    )]
    InvalidPeriod(String),
    #[error("invalid placement or clearance: {0}")]
    InvalidPlacement(String),
    #[error("invalid program rules: {0}")]
    InvalidRules(String),
    #[error("a coordinator PIN is 6 to 12 digits")]
    InvalidPin,
    #[error("a new coordinator PIN is 8 to 12 digits")]
    PinTooShort,
    #[error("that PIN is too easy to guess (one digit repeated, or a run like 12345678): choose another")]
    TrivialPin,
    #[error("badge secret must be at least {min} bytes, got {got}")]
    BadgeSecretTooShort { min: usize, got: usize },
}
