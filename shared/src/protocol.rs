//! The sync wire protocol (JSON over HTTPS, bearer token). Both sides compile these structs, so
//! they cannot disagree; `protocol` in every body lets either side refuse a version it does not
//! speak with a clear error instead of a misread.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Event, EventId, KioskId, MentorId, PeriodName, Roster, SeriesId};

/// Version 3: badge scans carry a scan proof (`Source::BadgeScan::proof`). Version 2:
/// check-outs name their check-in, kiosk-level clock events, rosters with recent sessions and
/// the review queue. The server still accepts versions 1 and 2 (scans without a proof are
/// accepted only from kiosks that need not prove them yet), and answers a roster pull in the
/// version asked for, so upgrade the server first.
pub const PROTOCOL_VERSION: u32 = 3;
/// The oldest version the server still accepts.
pub const OLDEST_PROTOCOL_VERSION: u32 = 1;
/// Most events a kiosk sends in one upload; the server refuses larger batches.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// POST /api/v1/events: a kiosk's undelivered events, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadBatch {
    pub protocol: u32,
    pub kiosk: KioskId,
    /// The kiosk's clock when it sent the batch: the server records the offset.
    pub kiosk_clock: DateTime<Utc>,
    pub events: Vec<Event>,
}

/// POST /api/v1/health: how a kiosk is doing, sent at every sync (before its events), so an
/// organizer sees a kiosk that stopped syncing, lost its camera or has a wrong clock.
/// Unknown fields are ignored: a newer kiosk's report still reaches an older server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KioskHealth {
    pub protocol: u32,
    /// The kiosk's clock when it sent the report: the server records the offset.
    pub kiosk_clock: DateTime<Utc>,
    /// The kiosk program's version.
    pub app_version: String,
    /// `ok`, `not-working` (the UI sees no frames), or `unknown` (no UI has run yet).
    pub camera: String,
    /// The last badge scan recorded, if any.
    #[serde(default)]
    pub last_scan: Option<DateTime<Utc>>,
    /// Events recorded and not yet delivered.
    pub pending_events: u64,
}

impl KioskHealth {
    /// Short, printable texts only: the server shows them to organizers.
    pub fn validate(&self) -> Result<(), String> {
        let printable = |s: &str| s.len() <= 40 && !s.chars().any(char::is_control);
        if !printable(&self.app_version) {
            return Err("app_version must be at most 40 printable characters".into());
        }
        if !["ok", "not-working", "unknown"].contains(&self.camera.as_str()) {
            return Err("camera is ok, not-working or unknown".into());
        }
        Ok(())
    }
}

/// The answer to an upload: every event of the batch is in exactly one list.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UploadAck {
    pub protocol: u32,
    /// Newly stored.
    pub stored: Vec<EventId>,
    /// Stored before (a resend): nothing changed.
    pub already_stored: Vec<EventId>,
    /// Kept aside for an organizer to review (never dropped); the kiosk counts them delivered.
    pub set_aside: Vec<SetAside>,
    /// Their (kiosk, series, sequence) already names a different event: the kiosk's database
    /// was restored from an old copy. The kiosk starts a new series and sends them again.
    pub conflicts: Vec<SeriesConflict>,
    pub server_clock: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAside {
    pub id: EventId,
    /// `set_aside` (protocol 3: the reason stays on the server, for organizers; older servers
    /// sent the reason code).
    pub reason: String,
    /// Held as a visit (her badge checked out at another school's kiosk) for organizers to
    /// decide: the kiosk still pairs it with her next scan, as it did on screen.
    #[serde(default)]
    pub pairs: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesConflict {
    pub id: EventId,
    pub series: SeriesId,
    pub sequence: u64,
}

/// POST /api/v1/coordinators/own-pin (kiosk token): a coordinator changed her own PIN at the
/// kiosk (old PIN, new PIN twice). The kiosk sends the new hash, the one it replaces, the new
/// PIN's change salt and key (see `pin::change_key`; the key wrapped by the old one, see
/// `pin::wrap_change_key`), and `proof`: an HMAC keyed by the *old*
/// PIN's change key, which the server keeps and no roster carries, so only someone who knows
/// the old PIN can make it. The server takes it only if hers is still the one replaced (an
/// organizer's reset meanwhile wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnPinChange {
    pub name: String,
    pub pin_hash: String,
    pub replaces: String,
    pub change_salt: String,
    pub change_key: String,
    pub proof: String,
}

/// GET /api/v1/roster?since=VERSION: `roster` is `None` when the kiosk's copy is current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RosterResponse {
    pub protocol: u32,
    pub version: String,
    pub roster: Option<Roster>,
}

/// POST /api/v1/stipends: an organizer records a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StipendPayment {
    pub mentor: MentorId,
    /// The canonical period name (`2026-fall`); anything else is refused.
    pub period: PeriodName,
    /// Decimal text, e.g. `600.00`: money is never a float.
    pub amount: String,
    pub paid_on: NaiveDate,
    pub reference: String,
    /// A further payment for a mentor and period already paid (a second installment).
    #[serde(default)]
    pub additional: bool,
    /// Pay a mentor who has not reached the threshold in that period (an exception).
    #[serde(default)]
    pub not_eligible: bool,
}

/// POST /api/v1/reviews/{item}: an organizer resolves a review item. Who resolved it comes
/// from the token, never from the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewResolution {
    pub action: ReviewAction,
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    pub reason: String,
    /// The item as the organizer saw it: if it changed since, nothing is recorded
    /// (`item_changed`). Without it the action applies to the item as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<SeenItem>,
}

/// What an organizer saw of a review item when she decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenItem {
    #[serde(default)]
    pub reasons: Vec<crate::ReviewReason>,
    /// RFC 3339 as the item showed it; empty or absent: none (open, or no check-in).
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// Count the session as recorded (organizers only).
    Approve,
    /// Set the start and/or end.
    SetTimes,
    /// The session (or event) counts for nothing.
    Void,
    /// A set-aside event counts like any other (organizers only).
    Accept,
    /// A set-aside event stays out for good (organizers only).
    Reject,
}

/// Every 4xx/5xx body: a stable code for programs, a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    fn event() -> Event {
        Event {
            id: EventId::from_parts(1_780_000_000_000, [7; 10]),
            kiosk: KioskId::new("k-1").expect("kiosk"),
            series: SeriesId::from_parts(1_780_000_000_000, [1; 10]),
            sequence: 1,
            mentor: Some(MentorId::new("M-1").expect("mentor")),
            at: "2026-10-05T13:02:00Z".parse().expect("instant"),
            time_zone: TimeZone::new("America/Chicago").expect("tz"),
            kind: EventKind::CheckIn,
            source: Source::BadgeScan {
                generation: 1,
                provisional: false,
                badge_hash: badge_hash("PM1:M-1:1:AAAAAAAAAAAAAAAA"),
                proof: None,
            },
        }
    }

    fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        value: &T,
    ) {
        let json = serde_json::to_string(value).expect("serialize");
        let back: T = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(&back, value, "{json}");
    }

    #[test]
    fn upload_batch_round_trips() {
        let mut correction = event();
        correction.sequence = 2;
        correction.kind = EventKind::AddSession {
            category: HourCategory::Training,
            start: "2026-10-05T14:00:00Z".parse().expect("instant"),
            end: "2026-10-05T16:00:00Z".parse().expect("instant"),
            group: Some(uuid::Uuid::from_u128(5)),
        };
        correction.source = Source::Coordinator {
            coordinator: "Ana".into(),
            reason: "training day".into(),
        };
        round_trip(&UploadBatch {
            protocol: PROTOCOL_VERSION,
            kiosk: KioskId::new("k-1").expect("kiosk"),
            kiosk_clock: "2026-10-05T16:00:05Z".parse().expect("instant"),
            events: vec![event(), correction],
        });
    }

    #[test]
    fn ack_and_roster_round_trip() {
        let e = event();
        round_trip(&UploadAck {
            protocol: PROTOCOL_VERSION,
            stored: vec![e.id],
            already_stored: vec![],
            set_aside: vec![SetAside {
                id: e.id,
                reason: "set_aside".into(),
                pairs: true,
            }],
            conflicts: vec![SeriesConflict {
                id: e.id,
                series: e.series,
                sequence: 1,
            }],
            server_clock: e.at,
        });
        let roster = Roster {
            version: "v1".into(),
            school: School {
                id: SchoolId::new("lincoln").expect("school"),
                name: "Lincoln Elementary".into(),
                time_zone: e.time_zone,
            },
            rules: ProgramRules::default(),
            current_period: PeriodName("2026-fall".into()),
            mentors: vec![RosterMentor {
                id: MentorId::new("M-1").expect("mentor"),
                name: "María López".into(),
                language: Language::spanish(),
                badge: Some(BadgeGeneration {
                    generation: 1,
                    hash: badge_hash("x"),
                }),
                period_time_ms: 3_600_000,
                placement: None,
                clearances: Vec::new(),
            }],
            revoked: vec![MentorId::new("M-2").expect("mentor")],
            coordinators: vec![Coordinator {
                name: "Ana".into(),
                pin_hash: "$argon2id$...".into(),
                change_salt: Some("00".repeat(16)),
            }],
            open_check_ins: vec![e.clone()],
            recent: vec![RecentSession {
                mentor: MentorId::new("M-1").expect("mentor"),
                item: e.id,
                category: HourCategory::Classroom,
                period: PeriodName("2026-fall".into()),
                events: vec![e.clone()],
                reasons: vec![ReviewReason::Open],
                credited_ms: 0,
            }],
            review: vec![],
            voided: vec![],
        };
        round_trip(&RosterResponse {
            protocol: PROTOCOL_VERSION,
            version: roster.version.clone(),
            roster: Some(roster),
        });
    }

    #[test]
    fn protocol_1_events_still_parse() {
        // A check-out from a kiosk not yet upgraded names no check-in.
        let mut json = serde_json::to_value(event()).expect("to value");
        json["kind"] = serde_json::json!({"type": "check_out"});
        let parsed: Event = serde_json::from_value(json).expect("protocol 1 check-out");
        assert_eq!(parsed.kind, EventKind::CheckOut { check_in: None });
        assert!(parsed.is_well_formed());
        // A protocol 2 check-out names it, and round-trips.
        let mut out = event();
        out.kind = EventKind::CheckOut {
            check_in: Some(event().id),
        };
        round_trip(&out);
        // A clock check names no mentor and comes from the kiosk itself.
        let mut check = event();
        check.mentor = None;
        check.kind = EventKind::ClockCheck {
            server_clock: check.at,
        };
        check.source = Source::System;
        round_trip(&check);
        assert!(check.is_well_formed());
        check.mentor = event().mentor;
        assert!(!check.is_well_formed(), "a clock check is not a mentor's");
        let mut nobody = event();
        nobody.mentor = None;
        assert!(!nobody.is_well_formed(), "a check-in names a mentor");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        let mut json = serde_json::to_value(event()).expect("to value");
        json["time_zone"] = "Mars/Olympus".into();
        assert!(serde_json::from_value::<Event>(json).is_err());
        let mut json = serde_json::to_value(event()).expect("to value");
        json["extra"] = 1.into();
        assert!(serde_json::from_value::<Event>(json).is_err());
        let mut json = serde_json::to_value(event()).expect("to value");
        json["kind"] = serde_json::json!({"type": "teleport"});
        assert!(serde_json::from_value::<Event>(json).is_err());
    }
}
