//! Events: the unit of truth and of sync. Append-only; a correction is a new event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EventId, HourCategory, KioskId, MentorId, SeriesId, TimeZone};

/// One fact, recorded once on one kiosk (or by the server, for an organizer's resolution) and
/// never changed afterwards.
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
    /// The mentor the fact is about; `None` only for kiosk-level events (clock checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentor: Option<MentorId>,
    /// When it happened, by the recording clock (UTC).
    pub at: DateTime<Utc>,
    /// The school's time zone when it was recorded: "the day" is always a school-local day.
    pub time_zone: TimeZone,
    pub kind: EventKind,
    pub source: Source,
}

impl Event {
    /// The mentor's id as text, empty for a kiosk-level event.
    pub fn mentor_str(&self) -> &str {
        self.mentor.as_ref().map(|m| m.as_str()).unwrap_or_default()
    }

    /// Kiosk-level events (clock checks) name no mentor; every other kind names one. The wire
    /// format cannot say this by itself, so both sides check it.
    pub fn is_well_formed(&self) -> bool {
        self.kind.is_kiosk_level() == self.mentor.is_none()
            && self.kind.is_kiosk_level() == matches!(self.source, Source::System)
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventKind {
    /// The mentor arrived (a classroom session starts).
    CheckIn,
    /// The mentor left. `check_in` names the check-in it closes, as the recording kiosk knew it
    /// (protocol 2); kiosks of protocol 1 send none, and those are paired by time.
    CheckOut {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check_in: Option<EventId>,
    },
    /// Correction: the session that began with `check_in` ended at `end` (a forgotten
    /// check-out). On a session already closed it is a conflict for review, never a silent win.
    CloseSession {
        check_in: EventId,
        end: DateTime<Utc>,
    },
    /// Resolution of review item `item`: its start and/or its end set by hand.
    SetTimes {
        item: EventId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end: Option<DateTime<Utc>>,
    },
    /// Correction: `target` was a mistake and counts for nothing. A void of a session's opening
    /// event (its review item) voids the whole session; a void of a check-out reopens its
    /// session. The target itself stays in the log.
    Void { target: EventId },
    /// Correction: a session the kiosk did not see (training, a workshop, a forgotten badge
    /// for the whole day). A group session is one such event per attendee, sharing `group`.
    AddSession {
        category: HourCategory,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        group: Option<Uuid>,
    },
    /// Organizer's resolution: the session whose item is `check_in` counts as recorded (over
    /// the cap, across midnight, clock skew, overlap, closed twice). It settles the `reasons`
    /// the organizer saw, at the `start` and `end` she saw; a reason that arises later, or
    /// times that change since, need a look again. (None listed: every approvable reason, at
    /// any times, as protocol 1 meant it.)
    ApproveSession {
        check_in: EventId,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<crate::ReviewReason>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end: Option<DateTime<Utc>>,
    },
    /// Organizer's resolution: the set-aside event `item` is accepted and counts like any other.
    AcceptEvent { item: EventId },
    /// Organizer's resolution: the set-aside event `item` stays out for good.
    RejectEvent { item: EventId },
    /// Kiosk-level: at a successful sync, the kiosk's clock (`at`) against the server's.
    ClockCheck { server_clock: DateTime<Utc> },
    /// Kiosk-level: the wall clock moved against the monotonic clock by `delta_ms` (an NTP
    /// correction, a board that booted at 1970). Positive: the clock moved forward.
    ClockJump { delta_ms: i64 },
    /// Kiosk-level: the kiosk program started; what its clock said before is not known.
    Started,
}

impl EventKind {
    /// An approval of the item `check_in` as it is, whatever it shows.
    pub fn approve(check_in: EventId) -> Self {
        EventKind::ApproveSession {
            check_in,
            reasons: Vec::new(),
            start: None,
            end: None,
        }
    }

    pub fn is_correction(&self) -> bool {
        !matches!(self, EventKind::CheckIn | EventKind::CheckOut { .. }) && !self.is_kiosk_level()
    }
    /// Clock checks and jumps: facts about the kiosk, not about a mentor.
    pub fn is_kiosk_level(&self) -> bool {
        matches!(
            self,
            EventKind::ClockCheck { .. } | EventKind::ClockJump { .. } | EventKind::Started
        )
    }
    /// Only organizers may approve, accept or reject.
    pub fn is_organizer_only(&self) -> bool {
        matches!(
            self,
            EventKind::ApproveSession { .. }
                | EventKind::AcceptEvent { .. }
                | EventKind::RejectEvent { .. }
        )
    }
    /// The review item a resolution names, if this is one.
    pub fn resolves(&self) -> Option<EventId> {
        match *self {
            EventKind::CloseSession { check_in, .. }
            | EventKind::ApproveSession { check_in, .. } => Some(check_in),
            EventKind::SetTimes { item, .. }
            | EventKind::AcceptEvent { item }
            | EventKind::RejectEvent { item } => Some(item),
            EventKind::Void { target } => Some(target),
            _ => None,
        }
    }
    /// Every instant the event carries besides `at`.
    pub fn instants(&self) -> Vec<DateTime<Utc>> {
        match *self {
            EventKind::CloseSession { end, .. } => vec![end],
            EventKind::SetTimes { start, end, .. } => start.into_iter().chain(end).collect(),
            EventKind::AddSession { start, end, .. } => vec![start, end],
            EventKind::ClockCheck { server_clock } => vec![server_clock],
            _ => Vec::new(),
        }
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
        /// The scan proof (protocol 3, see `scan_proof`): made from the badge text at scan
        /// time, so only a kiosk that read the badge can make it. Kiosks of protocols 1 and 2
        /// send none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proof: Option<String>,
    },
    /// A coordinator in coordinator mode, with the reason she gave.
    Coordinator { coordinator: String, reason: String },
    /// An organizer, through the server (review resolutions), with the reason she gave.
    Organizer { organizer: String, reason: String },
    /// The kiosk software itself (clock checks).
    System,
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
    pub fn is_organizer(&self) -> bool {
        matches!(self, Source::Organizer { .. })
    }
    /// Who, for a person's entry (coordinator or organizer).
    pub fn person(&self) -> Option<(&str, &str)> {
        match self {
            Source::Coordinator {
                coordinator,
                reason,
            } => Some((coordinator, reason)),
            Source::Organizer { organizer, reason } => Some((organizer, reason)),
            _ => None,
        }
    }
}

/// Where the server measured the kiosk's clock when an upload arrived: the offset holds just
/// after the last event of that upload in its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Delivery {
    /// The kiosk's clock minus the server's, in milliseconds.
    pub offset_ms: i64,
    /// The highest sequence number of the upload in this event's series.
    pub through_sequence: u64,
    /// When the server received it (its own clock): a scan delivered long after it happened
    /// needs an organizer's look (`late_delivery`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
}

/// An event as the sessionizer sees it: with what the server learned when it received it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Observed {
    pub event: Event,
    /// A provisional badge scan the server has verified against the badge it issued.
    pub badge_verified: bool,
    /// The clock reading of the upload that delivered it; `None` where unknown (on the kiosk).
    pub delivery: Option<Delivery>,
    /// Why the server set it aside on receipt (a stable code), if it did.
    pub set_aside: Option<String>,
}

impl Observed {
    /// An event as the kiosk sees its own log: nothing verified, no clock reading known.
    pub fn local(event: Event) -> Self {
        Self {
            event,
            badge_verified: false,
            delivery: None,
            set_aside: None,
        }
    }
}
