//! The roster a kiosk pulls: just what one school's kiosks need to work offline.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    BadgeStatus, Clearance, Event, EventId, HourCategory, Language, MentorId, PeriodName,
    Placement, ProgramRules, ReviewReason, SchoolId, Session, TimeZone,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roster {
    /// Opaque; changes whenever anything below changes.
    pub version: String,
    pub school: School,
    pub rules: ProgramRules,
    pub current_period: PeriodName,
    pub mentors: Vec<RosterMentor>,
    /// Deactivated mentors of this school, ids only: their badges are refused.
    pub revoked: Vec<MentorId>,
    pub coordinators: Vec<Coordinator>,
    /// Check-ins with no check-out yet, from every kiosk of the school (merged on the server),
    /// so a mentor who checked in at one kiosk is checked out at another. (Protocol 1 kiosks
    /// read only this; protocol 2 kiosks read `recent`.)
    pub open_check_ins: Vec<Event>,
    /// Every session of the school's mentors from the last 14 school-local days, and every open
    /// one, from every kiosk: their events (so a kiosk never takes as open what another closed)
    /// and the server's verdict (so it shows what the server will credit).
    #[serde(default)]
    pub recent: Vec<RecentSession>,
    /// The school's review queue, for the coordinator's "Needs review" tab.
    #[serde(default)]
    pub review: Vec<ReviewEntry>,
    /// Events of this school's kiosks from the last 14 days that an organizer voided: a kiosk
    /// that recorded one stops counting it (a voided check-in is not open any more), so it
    /// shows what the server decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voided: Vec<EventId>,
}

/// A session as the server merged it, with the events it was made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentSession {
    pub mentor: MentorId,
    pub item: EventId,
    pub category: HourCategory,
    pub period: PeriodName,
    pub events: Vec<Event>,
    pub reasons: Vec<ReviewReason>,
    pub credited_ms: i64,
}

/// One review item of the school, as the coordinator's screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewEntry {
    pub item: EventId,
    pub mentor: MentorId,
    pub category: HourCategory,
    pub local_date: NaiveDate,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub reasons: Vec<ReviewReason>,
}

impl ReviewEntry {
    pub fn from_session(s: &Session) -> Self {
        Self {
            item: s.item,
            mentor: s.mentor.clone(),
            category: s.category,
            local_date: s.local_date,
            start: s.start,
            end: s.end,
            reasons: s.reasons.clone(),
        }
    }
    /// A set-aside event: only an organizer can decide it.
    pub fn organizer_only(&self) -> bool {
        self.reasons.contains(&ReviewReason::SetAside)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct School {
    pub id: SchoolId,
    pub name: String,
    pub time_zone: TimeZone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterMentor {
    pub id: MentorId,
    pub name: String,
    pub language: Language,
    /// Generation and SHA-256 of the current badge, never the badge text.
    pub badge: Option<BadgeGeneration>,
    /// Time counted toward the stipend in the current period, merged from every kiosk, in
    /// milliseconds, as of the roster's making.
    pub period_time_ms: i64,
    /// Her teacher and classroom ("Room 12 · Ms. Smith" on her confirmation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Her clearances (the latest of each kind): the kiosk warns about, or refuses, an expired
    /// one by the program's rule, and lists expiring ones for the coordinator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clearances: Vec<Clearance>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadgeGeneration {
    pub generation: u32,
    pub hash: String,
}

/// A coordinator who may unlock coordinator mode: a name and a salted, slow hash of the PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coordinator {
    pub name: String,
    pub pin_hash: String,
    /// The salt of her PIN's change key (hex), for changing it at the kiosk; `None` for a PIN
    /// set before this version (an organizer sets a new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_salt: Option<String>,
}

impl Roster {
    pub fn mentor(&self, id: &MentorId) -> Option<&RosterMentor> {
        self.mentors.iter().find(|m| &m.id == id)
    }

    /// What this roster says about a mentor's badge, for [`crate::verify_badge`].
    pub fn badge_status(&self, id: &MentorId) -> Option<BadgeStatus> {
        if self.revoked.contains(id) {
            return Some(BadgeStatus::Revoked);
        }
        let mentor = self.mentor(id)?;
        Some(match &mentor.badge {
            Some(b) => BadgeStatus::Current {
                generation: b.generation,
                hash: b.hash.clone(),
            },
            // In the roster but never issued a badge: any badge claiming her is made up.
            None => BadgeStatus::Current {
                generation: 0,
                hash: String::new(),
            },
        })
    }
}
