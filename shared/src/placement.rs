//! Where a mentor volunteers (her teacher and classroom), and the clearances a school requires
//! before a parent works in a classroom (background check, TB test, initial training, …).
//! Pure: dates are passed in.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Longest teacher name, classroom or clearance kind accepted.
pub const MAX_PLACEMENT_TEXT: usize = 80;

/// A clearance expiring within this many days is listed (Overview, the kiosk's Today tab).
pub const EXPIRING_WITHIN_DAYS: i64 = 30;

/// The teacher and classroom the organizer placed a mentor with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classroom: Option<String>,
}

impl Placement {
    /// Trimmed, empty as none, length and control characters checked.
    pub fn new(teacher: Option<&str>, classroom: Option<&str>) -> Result<Self, DomainError> {
        Ok(Self {
            teacher: placement_text("teacher", teacher)?,
            classroom: placement_text("classroom", classroom)?,
        })
    }
    pub fn is_empty(&self) -> bool {
        self.teacher.is_none() && self.classroom.is_none()
    }
}

fn placement_text(what: &str, text: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_PLACEMENT_TEXT || text.chars().any(char::is_control) {
        return Err(DomainError::InvalidPlacement(format!(
            "{what} must be at most {MAX_PLACEMENT_TEXT} characters, without control characters"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// A kind of clearance: `background-check`, `tb-test`, `initial-training`, or the program's
/// own (lower case letters, digits and dashes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClearanceKind(String);

impl ClearanceKind {
    pub const BACKGROUND_CHECK: &'static str = "background-check";
    pub const TB_TEST: &'static str = "tb-test";
    pub const INITIAL_TRAINING: &'static str = "initial-training";

    /// "TB test", "tb_test" and "tb-test" are the same kind.
    pub fn new(text: &str) -> Result<Self, DomainError> {
        let folded: String = text
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '_' => '-',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        let ok = !folded.is_empty()
            && folded.len() <= 40
            && folded
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !folded.starts_with('-')
            && !folded.ends_with('-');
        if !ok {
            return Err(DomainError::InvalidPlacement(format!(
                "clearance kind {text:?}: use background-check, tb-test, initial-training, or a name of letters, digits and dashes"
            )));
        }
        Ok(Self(folded))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClearanceKind {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<ClearanceKind> for String {
    fn from(k: ClearanceKind) -> Self {
        k.0
    }
}

impl std::fmt::Display for ClearanceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mentor's clearance of one kind, good through `expires` (included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clearance {
    pub kind: ClearanceKind,
    pub expires: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClearanceStatus {
    /// Past its last day.
    Expired,
    /// Good for at most [`EXPIRING_WITHIN_DAYS`] more days (0: today is the last).
    Expiring {
        days_left: i64,
    },
    Current,
}

impl ClearanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClearanceStatus::Expired => "expired",
            ClearanceStatus::Expiring { .. } => "expiring",
            ClearanceStatus::Current => "current",
        }
    }
    /// Expired or expiring: listed for the organizer and the coordinator.
    pub fn needs_attention(self) -> bool {
        self != ClearanceStatus::Current
    }
}

impl Clearance {
    pub fn status(&self, today: NaiveDate) -> ClearanceStatus {
        let days_left = (self.expires - today).num_days();
        if days_left < 0 {
            ClearanceStatus::Expired
        } else if days_left <= EXPIRING_WITHIN_DAYS {
            ClearanceStatus::Expiring { days_left }
        } else {
            ClearanceStatus::Current
        }
    }
}

/// The clearance worth telling a mentor about on `today`: an expired one (the longest
/// expired first), else the one expiring soonest within [`EXPIRING_WITHIN_DAYS`].
pub fn clearance_notice(clearances: &[Clearance], today: NaiveDate) -> Option<&Clearance> {
    clearances
        .iter()
        .filter(|c| c.status(today).needs_attention())
        .min_by_key(|c| (c.expires, c.kind.clone()))
}

/// What the kiosk does when a mentor's clearance has expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpiredClearance {
    /// She is checked in; the confirmation and the coordinator's Today tab say it expired.
    #[default]
    Warn,
    /// Her check-in by badge is refused, kindly, in her language (the coordinator can still
    /// record her time, under her own name).
    Refuse,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn kinds_are_folded_and_checked() {
        assert_eq!(
            ClearanceKind::new("TB test").expect("kind").as_str(),
            "tb-test"
        );
        assert_eq!(
            ClearanceKind::new(" Background_Check ")
                .expect("kind")
                .as_str(),
            "background-check"
        );
        assert_eq!(ClearanceKind::new("cpr-2").expect("kind").as_str(), "cpr-2");
        for bad in ["", "-", "tb/test", "x".repeat(41).as_str(), "ñandú", "a-"] {
            assert!(ClearanceKind::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_counts_the_last_day_as_good() {
        let c = Clearance {
            kind: ClearanceKind::new("tb-test").expect("kind"),
            expires: d("2026-12-01"),
        };
        assert_eq!(c.status(d("2026-10-31")), ClearanceStatus::Current);
        assert_eq!(
            c.status(d("2026-11-01")),
            ClearanceStatus::Expiring { days_left: 30 }
        );
        assert_eq!(
            c.status(d("2026-12-01")),
            ClearanceStatus::Expiring { days_left: 0 }
        );
        assert_eq!(c.status(d("2026-12-02")), ClearanceStatus::Expired);
    }

    #[test]
    fn the_notice_is_the_expired_one_first() {
        let c = |kind: &str, expires: &str| Clearance {
            kind: ClearanceKind::new(kind).expect("kind"),
            expires: d(expires),
        };
        let list = [
            c("tb-test", "2026-12-10"),
            c("background-check", "2026-11-01"),
            c("initial-training", "2027-06-01"),
        ];
        let today = d("2026-11-25");
        assert_eq!(
            clearance_notice(&list, today).map(|c| c.kind.as_str()),
            Some("background-check")
        );
        assert_eq!(clearance_notice(&list[2..], today), None);
        assert_eq!(
            clearance_notice(&list[..1], today).map(|c| c.kind.as_str()),
            Some("tb-test")
        );
    }

    #[test]
    fn placements_trim_and_refuse_control_characters() {
        let p = Placement::new(Some(" Ms. Smith "), Some("")).expect("placement");
        assert_eq!(p.teacher.as_deref(), Some("Ms. Smith"));
        assert_eq!(p.classroom, None);
        assert!(Placement::new(Some("a\u{7}"), None).is_err());
        assert!(Placement::new(None, Some(&"x".repeat(81))).is_err());
        assert!(Placement::new(None, None).expect("empty").is_empty());
    }
}
