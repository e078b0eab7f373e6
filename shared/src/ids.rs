//! Identifiers. Every id that crosses a boundary is validated once, when parsed, so the rest of
//! the code can trust it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Offset, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;

fn check_simple_id(kind: &'static str, value: &str, max_len: usize) -> Result<(), DomainError> {
    let why = if value.is_empty() {
        "empty"
    } else if value.len() > max_len {
        "too long"
    } else if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        "only letters, digits, '-' and '_' are allowed"
    } else {
        return Ok(());
    };
    Err(DomainError::InvalidId {
        kind,
        value: value.to_owned(),
        why,
    })
}

macro_rules! simple_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, DomainError> {
                let value = value.into();
                check_simple_id($kind, &value, $max)?;
                Ok(Self(value))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, DomainError> {
                Self::new(value)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                Self::new(s)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

simple_id!(
    /// A school, as the organizers name it (`lincoln-elementary`).
    SchoolId, "school", 64
);
simple_id!(
    /// A kiosk, assigned by the server when the kiosk is registered.
    KioskId, "kiosk", 64
);

/// A mentor's id. It is printed inside the badge QR code, so it is limited to the characters QR
/// alphanumeric mode can carry (`A–Z`, `0–9`, `-`) and to 20 characters, which keeps a badge at
/// QR version 3 or lower at error-correction level M. Lower-case input is upper-cased: `m-17` and
/// `M-17` are the same mentor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MentorId(String);

impl MentorId {
    pub const MAX_LEN: usize = 20;

    pub fn new(value: impl Into<String>) -> Result<Self, DomainError> {
        let value = value.into().trim().to_ascii_uppercase();
        let why = if value.is_empty() {
            "empty"
        } else if value.len() > Self::MAX_LEN {
            "longer than 20 characters"
        } else if !value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        {
            "only letters, digits and '-' are allowed"
        } else {
            return Ok(Self(value));
        };
        Err(DomainError::InvalidId {
            kind: "mentor",
            value,
            why,
        })
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for MentorId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        Self::new(value)
    }
}
impl From<MentorId> for String {
    fn from(id: MentorId) -> String {
        id.0
    }
}
impl FromStr for MentorId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::new(s)
    }
}
impl fmt::Display for MentorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Builds an id from 16 random bytes and the creation instant in Unix milliseconds
            /// (UUIDv7). The caller supplies both: this crate reads no clock and no RNG.
            pub fn from_parts(unix_millis: u64, random: [u8; 10]) -> Self {
                Self(uuid::Builder::from_unix_timestamp_millis(unix_millis, &random).into_uuid())
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, uuid::Error> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A globally unique event id, made on the kiosk (UUIDv7: time-ordered, random tail).
    EventId
);
uuid_id!(
    /// A kiosk's append-only series. Created with the kiosk's database; a kiosk whose database
    /// was restored from an old copy starts a new series so it never reuses sequence numbers.
    SeriesId
);

/// A language as a two-letter ISO 639-1 code. `en` and `es` have catalogs today; any other
/// valid code is kept (the roster may carry it) and the UI falls back to English.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

impl Language {
    pub fn english() -> Self {
        Self("en".into())
    }
    pub fn spanish() -> Self {
        Self("es".into())
    }
    pub fn new(code: impl Into<String>) -> Result<Self, DomainError> {
        let code = code.into().trim().to_ascii_lowercase();
        if code.len() == 2 && code.chars().all(|c| c.is_ascii_lowercase()) {
            Ok(Self(code))
        } else {
            Err(DomainError::InvalidLanguage(code))
        }
    }
    pub fn code(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Language {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        Self::new(value)
    }
}
impl From<Language> for String {
    fn from(l: Language) -> String {
        l.0
    }
}
impl FromStr for Language {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::new(s)
    }
}
impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IANA time zone name, checked against the tz database compiled into `chrono-tz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn new(name: &str) -> Result<Self, DomainError> {
        name.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| DomainError::InvalidTimeZone(name.to_owned()))
    }
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
    /// The school-local date and time of an instant; at the edges of chrono's range, where the
    /// local time would fall outside it, the UTC one (never a panic).
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        let utc = t.naive_utc();
        let offset = self.0.offset_from_utc_datetime(&utc).fix();
        utc.checked_add_offset(offset).unwrap_or(utc)
    }
    /// The school-local date of an instant: "the day" is always this, never the UTC date.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        self.local(t).date()
    }
    /// RFC 3339 with the school's offset (`2026-10-05T08:00:00-05:00`); in UTC at the edges of
    /// chrono's range.
    pub fn rfc3339(&self, t: DateTime<Utc>) -> String {
        let utc = t.naive_utc();
        let offset = self.0.offset_from_utc_datetime(&utc).fix();
        match utc.checked_add_offset(offset) {
            Some(local) => format!("{}{offset}", local.format("%Y-%m-%dT%H:%M:%S")),
            None => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}
impl PartialOrd for TimeZone {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimeZone {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}
impl TryFrom<String> for TimeZone {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        Self::new(&value)
    }
}
impl From<TimeZone> for String {
    fn from(tz: TimeZone) -> String {
        tz.name().to_owned()
    }
}
impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentor_ids_are_upper_cased_and_qr_alphanumeric() {
        assert_eq!(MentorId::new("m-17").map(|m| m.0), Ok("M-17".to_owned()));
        assert!(MentorId::new("").is_err());
        assert!(MentorId::new("a:b").is_err());
        assert!(MentorId::new("maría").is_err());
        assert!(MentorId::new("X".repeat(21)).is_err());
        assert!(MentorId::new("X".repeat(20)).is_ok());
    }

    #[test]
    fn simple_ids_reject_odd_characters() {
        assert!(SchoolId::new("lincoln-elem_2").is_ok());
        assert!(SchoolId::new("lincoln elem").is_err());
        assert!(KioskId::new("").is_err());
        assert!(serde_json::from_str::<SchoolId>("\"../etc\"").is_err());
    }

    #[test]
    fn languages_are_two_letter_codes() {
        assert_eq!(Language::new("ES"), Ok(Language::spanish()));
        assert!(Language::new("spa").is_err());
        assert!(Language::new("e1").is_err());
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(
            TimeZone::new("America/Chicago").map(|t| t.name()),
            Ok("America/Chicago")
        );
        assert!(TimeZone::new("Central").is_err());
        let json = serde_json::to_string(&TimeZone::new("America/Chicago").ok()).ok();
        assert_eq!(json.as_deref(), Some("\"America/Chicago\""));
    }

    #[test]
    fn event_ids_are_time_ordered() {
        let a = EventId::from_parts(1_000, [9; 10]);
        let b = EventId::from_parts(2_000, [0; 10]);
        assert!(a < b);
        assert_eq!(a.0.get_version_num(), 7);
    }
}
