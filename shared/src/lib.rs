//! The Parent Mentor domain that the kiosk and the sync server must agree on.
//!
//! Pure: no I/O, no clock reads, no randomness. Time, random bytes and everything else from the
//! outside world are passed in, so every rule here can be tested exhaustively.

#![forbid(unsafe_code)]

mod badge;
mod error;
mod event;
mod ids;
mod pin;
mod placement;
pub mod protocol;
mod roster;
mod rules;
mod rules_in_force;
mod scan_proof;
mod sessionize;
mod toggle;

pub use badge::{
    badge_hash, badge_text, parse_badge, verify_badge, BadgeClaim, BadgeStatus, BadgeVerdict,
    NotAClaim, BADGE_TAG, MAX_GENERATION, SECRET_BYTES,
};
pub use error::DomainError;
pub use event::{Delivery, Event, EventKind, Observed, Source};
pub use ids::{EventId, KioskId, Language, MentorId, SchoolId, SeriesId, TimeZone};
pub use pin::{
    change_key, check_new_pin, check_pin, hash_pin, hash_pin_with, is_strong_pin_hash,
    own_pin_proof, pin_secrets, verify_own_pin_proof, verify_pin, wrap_change_key, PinSecrets,
    MIN_NEW_PIN_DIGITS, MIN_PIN_DIGITS,
};
pub use placement::{
    clearance_notice, Clearance, ClearanceKind, ClearanceStatus, ExpiredClearance, Placement,
    EXPIRING_WITHIN_DAYS, MAX_PLACEMENT_TEXT,
};
pub use roster::{
    BadgeGeneration, Coordinator, RecentSession, ReviewEntry, Roster, RosterMentor, School,
};
pub use rules::{
    money_cents, money_text, HourCategory, MonthDay, Period, PeriodName, PeriodScheme,
    ProgramRules, DEFAULT_EXPOSED_PIN_GRACE_DAYS, DEFAULT_LATE_DELIVERY_DAYS,
};
pub use rules_in_force::{EarlierRules, InForce, PeriodRules, RuleChange, Stretch, Today};
pub use scan_proof::{prove_scan, scan_proof, verify_scan_proof, ScanClaim, SCAN_PROOF_INFO};
pub use sessionize::{
    centi_hours, hours_2dp, open_check_ins, period_totals, rejected_in_force, review_items,
    sessionize, sessionize_with_readings, voided_in_force, PeriodTotals, Reading, ReviewReason,
    Session,
};
pub use toggle::{decide_scan, is_repeat_scan, OpenCheckIn, ScanAction};
