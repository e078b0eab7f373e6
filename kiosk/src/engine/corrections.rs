//! The coordinator's entries: check a mentor in or out without her badge, close a forgotten
//! check-out, record a group session, and resolve her school's review items (close, new
//! times within the cap, void; approving is the organizer's). Every entry names the
//! coordinator and a reason: that is the audit trail.

use chrono::{DateTime, Utc};
use pm_shared::{Event, EventKind, HourCategory, MentorId, ReviewEntry, Session, Source};

use super::{new_event_id, to_millis, Confirmation, Engine, ScanOutcome, Span};
use crate::store::NewEvent;
use crate::KioskError;

/// A coordinator's correction, as the coordinator screen records it.
#[derive(Debug, Clone)]
pub struct Correction {
    pub mentor: MentorId,
    pub kind: EventKind,
    pub coordinator: String,
    pub reason: String,
}

/// What a coordinator may do with a review item on the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemResolution {
    /// New start and/or end (the result within the session cap).
    SetTimes {
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    },
    /// It counts for nothing.
    Void,
}

impl Engine {
    /// A coordinator checks a mentor in or out without her badge (forgotten, broken camera).
    /// The same toggle rule as a scan decides which; the reason is the audit trail. Checking
    /// her out minutes after she checked in (or in, after she left) is refused, as a scan is.
    pub fn check_without_badge(
        &mut self,
        mentor: &MentorId,
        coordinator: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Confirmation, KioskError> {
        let at = to_millis(at);
        require_audit(coordinator, reason)?;
        self.refresh_roster()?;
        if self.roster().and_then(|r| r.mentor(mentor)).is_none() {
            return Err(KioskError::Invalid(format!(
                "mentor {mentor} is not in this school's roster"
            )));
        }
        let rules = self.rules();
        let source = Source::Coordinator {
            coordinator: coordinator.trim().to_owned(),
            reason: reason.trim().to_owned(),
        };
        match self.toggle(mentor.clone(), source, None, false, at, &rules)? {
            ScanOutcome::Recorded(c) => Ok(c),
            _ => Err(KioskError::TooSoon),
        }
    }

    /// Closes an open session (a forgotten check-out) at `end`, which must fall after its
    /// check-in, within the session cap and not in the future.
    pub fn close_session(
        &mut self,
        session: &Session,
        end: DateTime<Utc>,
        coordinator: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Event, KioskError> {
        let (Some(check_in), Some(start)) = (session.opened_by, session.start) else {
            return Err(KioskError::Invalid(
                "this session has no check-in to close".into(),
            ));
        };
        let end = to_millis(end);
        if end <= start || end > at {
            return Err(KioskError::Invalid(
                "the check-out time must be after the check-in and not in the future".into(),
            ));
        }
        self.correct(
            Correction {
                mentor: session.mentor.clone(),
                kind: EventKind::CloseSession { check_in, end },
                coordinator: coordinator.to_owned(),
                reason: reason.to_owned(),
            },
            at,
        )
    }

    /// A group session (training, a workshop) for several mentors in one step: one event per
    /// attendee sharing a group id, committed together or not at all.
    #[allow(clippy::too_many_arguments)]
    /// Records a group session, or a paper sheet's day, in one transaction: each attendee with
    /// her own span (attendees with the same span are one group). All or nothing.
    pub fn record_group_session(
        &mut self,
        attendees: &[(MentorId, Span)],
        category: HourCategory,
        coordinator: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Event>, KioskError> {
        let at = to_millis(at);
        require_audit(coordinator, reason)?;
        if attendees.is_empty() {
            return Err(KioskError::Invalid(
                "a group session needs at least one attendee".into(),
            ));
        }
        let zone = self.time_zone();
        let mut unique: Vec<(&MentorId, Span)> = attendees
            .iter()
            .map(|(m, (start, end))| (m, (to_millis(*start), to_millis(*end))))
            .collect();
        unique.sort();
        unique.dedup_by(|a, b| a.0 == b.0);
        let mut groups = std::collections::BTreeMap::new();
        for (_, (start, end)) in &unique {
            // The cap of the day it happened (a past day may lie in a period with other rules).
            let cap = self.rules().on(zone.local_date(*start)).session_cap();
            if end <= start || *end > at || *end - *start > cap {
                return Err(KioskError::Invalid(
                    "a group session must end after it starts, not in the future, within the session cap"
                        .into(),
                ));
            }
            groups
                .entry((*start, *end))
                .or_insert_with(|| new_event_id(at).0);
        }
        let source = Source::Coordinator {
            coordinator: coordinator.trim().to_owned(),
            reason: reason.trim().to_owned(),
        };
        let news = unique
            .into_iter()
            .map(|(mentor, (start, end))| NewEvent {
                id: new_event_id(at),
                kiosk: self.kiosk.clone(),
                mentor: mentor.clone(),
                at,
                time_zone: zone,
                kind: EventKind::AddSession {
                    category,
                    start,
                    end,
                    group: groups.get(&(start, end)).copied(),
                },
                source: source.clone(),
            })
            .collect();
        self.store.append_all(news)
    }

    /// Records a coordinator's correction (a close, a void, an added session, a check-in
    /// without a badge). A reason is required: it is the audit trail. Approving, accepting and
    /// rejecting are organizers' work and are refused here.
    pub fn correct(
        &mut self,
        correction: Correction,
        at: DateTime<Utc>,
    ) -> Result<Event, KioskError> {
        let at = to_millis(at);
        require_audit(&correction.coordinator, &correction.reason)?;
        if correction.kind.is_organizer_only() || correction.kind.is_kiosk_level() {
            return Err(KioskError::Invalid(
                "approving, accepting and rejecting are for organizers".into(),
            ));
        }
        self.store.append(NewEvent {
            id: new_event_id(at),
            kiosk: self.kiosk.clone(),
            mentor: correction.mentor,
            at,
            time_zone: self.time_zone(),
            kind: correction.kind,
            source: Source::Coordinator {
                coordinator: correction.coordinator.trim().to_owned(),
                reason: correction.reason.trim().to_owned(),
            },
        })
    }

    /// The school's review queue from the roster, less the items resolved on this kiosk since
    /// (waiting to sync).
    pub fn review_entries(&self) -> Result<Vec<ReviewEntry>, KioskError> {
        let Some(roster) = self.roster() else {
            return Ok(Vec::new());
        };
        let pending = self.store.resolutions_since(self.pulled_at())?;
        Ok(roster
            .review
            .iter()
            .filter(|e| !pending.contains(&e.item))
            .cloned()
            .collect())
    }

    /// Resolves one of the school's review items as a coordinator may: new times within the
    /// cap, or void. A set-aside event is the organizer's to decide.
    pub fn resolve_item(
        &mut self,
        entry: &ReviewEntry,
        resolution: ItemResolution,
        coordinator: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Event, KioskError> {
        let at = to_millis(at);
        if entry.organizer_only() {
            return Err(KioskError::Invalid(
                "a set-aside event is for the organizer to accept or reject".into(),
            ));
        }
        let item = entry.item;
        let kind = match resolution {
            ItemResolution::Void => EventKind::Void { target: item },
            ItemResolution::SetTimes { start, end } => {
                let (start, end) = (start.map(to_millis), end.map(to_millis));
                let (Some(s), Some(e)) = (start.or(entry.start), end.or(entry.end)) else {
                    return Err(KioskError::Invalid(
                        "give both the start and the end".into(),
                    ));
                };
                if e <= s || e > at || e - s > self.rules().latest_period_rules().session_cap() {
                    return Err(KioskError::Invalid(
                        "the end must come after the start, not in the future, within the session cap"
                            .into(),
                    ));
                }
                // A close of an open session is the kind every kiosk version understands.
                match (start, entry.end) {
                    (None, None) => EventKind::CloseSession {
                        check_in: item,
                        end: e,
                    },
                    _ => EventKind::SetTimes { item, start, end },
                }
            }
        };
        self.correct(
            Correction {
                mentor: entry.mentor.clone(),
                kind,
                coordinator: coordinator.to_owned(),
                reason: reason.to_owned(),
            },
            at,
        )
    }
}

/// Every coordinator entry names who made it and why: that is the audit trail.
fn require_audit(coordinator: &str, reason: &str) -> Result<(), KioskError> {
    if reason.trim().is_empty() || coordinator.trim().is_empty() {
        return Err(KioskError::Invalid(
            "a coordinator correction needs the coordinator's name and a reason".into(),
        ));
    }
    Ok(())
}
