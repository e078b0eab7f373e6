//! Events: the unit of truth and of sync. Append-only; a correction is a new event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EventId, HourCategory, KioskId, MentorId, SeriesId, TimeZone};

/// One fact, recorded once on one kiosk and never changed afterwards.
///
/// `(kiosk, series, sequence)` numbers the kiosk's own log 1, 2, 3, … without gaps, so the
/// server can see what is missing by comparing last numbers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub id: EventId,
    pub kiosk: KioskId,
    pub series: SeriesId,
    pub sequence: u64,
    pub mentor: MentorId,
    /// When it happened, by the kiosk's clock (UTC).
    pub at: DateTime<Utc>,
    /// The school's time zone when it was recorded: "the day" is always a school-local day.
    pub time_zone: TimeZone,
    pub kind: EventKind,
    pub source: Source,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventKind {
    /// The mentor arrived (a classroom session starts).
    CheckIn,
    /// The mentor left.
    CheckOut,
    /// Correction: the session that began with `check_in` ended at `end` (a forgotten
    /// check-out, or a wrong one). The latest such correction for a session wins; all stay in
    /// the history.
    CloseSession {
        check_in: EventId,
        end: DateTime<Utc>,
    },
    /// Correction: `target` was a mistake (a scan by the wrong badge, a double entry) and
    /// counts for nothing. The target event itself stays in the log.
    Void { target: EventId },
    /// Correction: a session the kiosk did not see (training, a workshop, a forgotten badge
    /// for the whole day). A group session is one such event per attendee, sharing `group`.
    AddSession {
        category: HourCategory,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        group: Option<Uuid>,
    },
    /// Correction: a coordinator looked at the session that began with `check_in` (over the
    /// cap, across midnight, from a kiosk with a wrong clock) and confirms it as recorded.
    ApproveSession { check_in: EventId },
}

impl EventKind {
    pub fn is_correction(&self) -> bool {
        !matches!(self, EventKind::CheckIn | EventKind::CheckOut)
    }
}

/// Who recorded it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A badge held up to the kiosk camera. `provisional` when the mentor was not yet in the
    /// kiosk's roster: the server verifies the badge text's hash at sync.
    BadgeScan {
        generation: u32,
        provisional: bool,
        /// SHA-256 of the scanned badge text, so the server can verify a provisional scan
        /// without the kiosk storing or sending the secret itself.
        badge_hash: String,
    },
    /// A coordinator in coordinator mode, with the reason she gave.
    Coordinator { coordinator: String, reason: String },
}

impl Source {
    pub fn is_provisional(&self) -> bool {
        matches!(
            self,
            Source::BadgeScan {
                provisional: true,
                ..
            }
        )
    }
}

/// An event as the sessionizer sees it: with what the server learned when it received it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Observed {
    pub event: Event,
    /// A provisional badge scan the server has verified against the badge it issued.
    pub badge_verified: bool,
    /// The kiosk's clock minus the server's, in milliseconds, in the upload that delivered
    /// this event; `None` where unknown (on the kiosk itself).
    pub kiosk_clock_offset_ms: Option<i64>,
}

impl Observed {
    /// An event as the kiosk sees its own log: nothing verified, no clock offset known.
    pub fn local(event: Event) -> Self {
        Self {
            event,
            badge_verified: false,
            kiosk_clock_offset_ms: None,
        }
    }
}
