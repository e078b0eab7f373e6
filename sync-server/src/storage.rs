//! The storage boundary the API, rosters, reports and the review queue are written against.
//! SQLite ([`Db`]) is the embedded default; a PostgreSQL backend implements the same trait.
//! Nothing here names a database library's types: only domain types and this crate's records
//! cross it. (Admin commands that only the command line runs, such as adding schools or
//! kiosks, stay on [`Db`] until a second backend needs them.)

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use pm_shared::protocol::{KioskHealth, StipendPayment, UploadAck, UploadBatch};
use pm_shared::{
    Clearance, Coordinator, Event, EventId, EventKind, KioskId, MentorId, Placement, ProgramRules,
    Reading, School, SchoolId, SeriesId, TimeZone,
};

use crate::db::{
    CachedTotals, ComputedTotals, Db, KioskStatus, Membership, MentorRecord, OrganizerScope,
    Payment, StoredEvent, TotalsSnapshot,
};
use crate::ServerError;

pub trait Storage: Send {
    /// The database answers and its schema is the one this binary knows.
    fn ready(&self) -> Result<(), ServerError>;
    /// An online, consistent copy at `out` (a new file); check it with
    /// [`crate::db::check_backup`] once the storage is free again.
    fn backup_copy(&self, out: &std::path::Path) -> Result<(), ServerError>;
    fn rules(&self) -> Result<ProgramRules, ServerError>;
    fn school(&self, id: &SchoolId) -> Result<School, ServerError>;
    fn schools(&self) -> Result<Vec<School>, ServerError>;
    fn mentors(&self, school: Option<&SchoolId>) -> Result<Vec<MentorRecord>, ServerError>;
    fn mentor(&self, id: &MentorId) -> Result<MentorRecord, ServerError>;
    /// Every mentor who ever belonged to this school.
    fn mentors_ever_at(&self, school: &SchoolId) -> Result<Vec<MentorId>, ServerError>;
    fn membership_history(&self, id: &MentorId) -> Result<Vec<Membership>, ServerError>;
    /// The mentor's current badge: (generation, text, hash).
    fn current_badge(
        &self,
        mentor: &MentorId,
    ) -> Result<Option<(u32, String, String)>, ServerError>;
    /// The coordinators whose PINs the school's kiosks accept (see [`Db::coordinators`]).
    fn coordinators(
        &self,
        school: &SchoolId,
        exposed_before: DateTime<Utc>,
    ) -> Result<Vec<Coordinator>, ServerError>;
    /// Every coordinator of these schools and the state of her PIN.
    fn coordinator_statuses(
        &self,
        schools: Option<&[SchoolId]>,
    ) -> Result<Vec<crate::db::CoordinatorStatus>, ServerError>;
    /// Sets a coordinator's PIN (hashed by the caller, with its change key).
    fn set_coordinator_pin(
        &self,
        school: &SchoolId,
        name: &str,
        pin: &pm_shared::PinSecrets,
    ) -> Result<(), ServerError>;
    /// A coordinator's own new PIN, from a kiosk of her school: taken only if her hash is still
    /// `replaces` (false: it changed since, an organizer's reset wins).
    fn change_own_pin(
        &self,
        school: &SchoolId,
        change: &pm_shared::protocol::OwnPinChange,
    ) -> Result<bool, ServerError>;
    /// Placed mentors' teacher and classroom (of one school, or all).
    fn placements(
        &self,
        school: Option<&SchoolId>,
    ) -> Result<HashMap<MentorId, Placement>, ServerError>;
    /// The latest clearance of each kind, per mentor (of one school, or all).
    fn clearances(
        &self,
        school: Option<&SchoolId>,
    ) -> Result<HashMap<MentorId, Vec<Clearance>>, ServerError>;
    fn kiosk_schools(&self) -> Result<HashMap<KioskId, SchoolId>, ServerError>;
    /// Keeps a kiosk's latest health report.
    fn save_kiosk_health(
        &self,
        kiosk: &KioskId,
        health: &KioskHealth,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError>;
    /// Every kiosk (of the given schools, or all) with its last health report.
    fn kiosk_statuses(
        &self,
        schools: Option<&[SchoolId]>,
        now: DateTime<Utc>,
    ) -> Result<Vec<KioskStatus>, ServerError>;
    fn events(&self, school: Option<&SchoolId>) -> Result<Vec<StoredEvent>, ServerError>;
    /// One mentor id's events (set-aside ones included), with her kiosks' clock events.
    fn mentor_events(&self, mentor: &str) -> Result<Vec<StoredEvent>, ServerError>;
    /// The mentor id an event names, if the event is stored.
    fn event_mentor(&self, id: &EventId) -> Result<Option<String>, ServerError>;
    /// A digest of what a school's roster is built from (see [`Db::roster_stamp`]).
    fn roster_stamp(
        &self,
        school: &SchoolId,
        today: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<String, ServerError>;
    fn cached_roster(&self, school: &SchoolId) -> Result<Option<(String, String)>, ServerError>;
    fn save_roster(&self, school: &SchoolId, stamp: &str, body: &str) -> Result<(), ServerError>;
    /// Every upload's clock reading in these series.
    fn clock_readings(&self, series: &[SeriesId]) -> Result<Vec<Reading>, ServerError>;
    /// Every event a coordinator entered at a kiosk.
    fn coordinator_entries(&self) -> Result<Vec<StoredEvent>, ServerError>;
    /// Mentor ids on set-aside events that name no known mentor.
    fn unknown_mentors_set_aside(&self) -> Result<Vec<String>, ServerError>;
    /// The latest payment date per (mentor id, period name), voided payments left out.
    fn paid_on(&self) -> Result<HashMap<(String, String), String>, ServerError>;
    fn payments(&self) -> Result<Vec<Payment>, ServerError>;
    fn payment(&self, id: i64) -> Result<Payment, ServerError>;
    fn is_paid(&self, mentor: &str, period: &str) -> Result<bool, ServerError>;
    fn insert_payment(
        &mut self,
        payment: &StipendPayment,
        recorded_by: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, ServerError>;
    fn void_payment(
        &mut self,
        id: i64,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Payment, ServerError>;
    fn authenticate_kiosk(&self, token: &str) -> Result<(KioskId, SchoolId), ServerError>;
    fn authenticate_organizer(&self, token: &str) -> Result<OrganizerScope, ServerError>;
    fn ingest(
        &mut self,
        kiosk: &KioskId,
        school: &SchoolId,
        batch: &UploadBatch,
        now: DateTime<Utc>,
    ) -> Result<UploadAck, ServerError>;
    /// Why the badge on a scan does not check out (`None`: it does, or it is no scan).
    fn badge_refusal(&self, event: &Event) -> Result<Option<&'static str>, ServerError>;
    /// Records that a scan's badge checked out (an organizer's accept verified it), so the scan
    /// counts as verified; her totals are recomputed.
    fn mark_badge_verified(&mut self, event: &Event) -> Result<(), ServerError>;
    /// Mentors with events at this school's kiosks (visitors included).
    fn mentors_seen_at(&self, school: &SchoolId) -> Result<Vec<MentorId>, ServerError>;
    /// Mentors of other schools seen at this school's kiosks since then (see
    /// [`Db::visitors_since`]).
    fn visitors_since(
        &self,
        school: &SchoolId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(MentorId, i64)>, ServerError>;
    /// An organizer's resolution, recorded as a new event.
    fn append_resolution(
        &mut self,
        mentor: &MentorId,
        time_zone: TimeZone,
        kind: EventKind,
        organizer: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Event, ServerError>;
    /// Several of an organizer's events in one transaction (all or nothing).
    fn append_resolutions(
        &mut self,
        entries: &[(MentorId, TimeZone, EventKind)],
        organizer: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, ServerError>;
    /// These mentors' events and the change counters they reflect, consistently.
    fn totals_snapshot(&mut self, mentors: &[MentorId]) -> Result<TotalsSnapshot, ServerError>;
    fn save_totals(&mut self, computed: &[ComputedTotals]) -> Result<(), ServerError>;
    fn cached_totals(
        &self,
        mentors: &[MentorId],
        now: DateTime<Utc>,
    ) -> Result<CachedTotals, ServerError>;
}

impl Storage for Db {
    fn ready(&self) -> Result<(), ServerError> {
        Db::ready(self)
    }
    fn backup_copy(&self, out: &std::path::Path) -> Result<(), ServerError> {
        Db::backup_copy(self, out)
    }
    fn rules(&self) -> Result<ProgramRules, ServerError> {
        Db::rules(self)
    }
    fn school(&self, id: &SchoolId) -> Result<School, ServerError> {
        Db::school(self, id)
    }
    fn schools(&self) -> Result<Vec<School>, ServerError> {
        Db::schools(self)
    }
    fn mentors(&self, school: Option<&SchoolId>) -> Result<Vec<MentorRecord>, ServerError> {
        Db::mentors(self, school)
    }
    fn mentor(&self, id: &MentorId) -> Result<MentorRecord, ServerError> {
        Db::mentor(self, id)
    }
    fn mentors_ever_at(&self, school: &SchoolId) -> Result<Vec<MentorId>, ServerError> {
        Db::mentors_ever_at(self, school)
    }
    fn membership_history(&self, id: &MentorId) -> Result<Vec<Membership>, ServerError> {
        Db::membership_history(self, id)
    }
    fn current_badge(
        &self,
        mentor: &MentorId,
    ) -> Result<Option<(u32, String, String)>, ServerError> {
        Db::current_badge(self, mentor)
    }
    fn placements(
        &self,
        school: Option<&SchoolId>,
    ) -> Result<HashMap<MentorId, Placement>, ServerError> {
        Db::placements(self, school)
    }
    fn clearances(
        &self,
        school: Option<&SchoolId>,
    ) -> Result<HashMap<MentorId, Vec<Clearance>>, ServerError> {
        Db::clearances(self, school)
    }
    fn coordinators(
        &self,
        school: &SchoolId,
        exposed_before: DateTime<Utc>,
    ) -> Result<Vec<Coordinator>, ServerError> {
        Db::coordinators(self, school, exposed_before)
    }
    fn coordinator_statuses(
        &self,
        schools: Option<&[SchoolId]>,
    ) -> Result<Vec<crate::db::CoordinatorStatus>, ServerError> {
        Db::coordinator_statuses(self, schools)
    }
    fn set_coordinator_pin(
        &self,
        school: &SchoolId,
        name: &str,
        pin: &pm_shared::PinSecrets,
    ) -> Result<(), ServerError> {
        Db::set_coordinator_pin(self, school, name, pin)
    }
    fn change_own_pin(
        &self,
        school: &SchoolId,
        change: &pm_shared::protocol::OwnPinChange,
    ) -> Result<bool, ServerError> {
        Db::change_own_pin(self, school, change)
    }
    fn save_kiosk_health(
        &self,
        kiosk: &KioskId,
        health: &KioskHealth,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        Db::save_kiosk_health(self, kiosk, health, now)
    }
    fn kiosk_statuses(
        &self,
        schools: Option<&[SchoolId]>,
        now: DateTime<Utc>,
    ) -> Result<Vec<KioskStatus>, ServerError> {
        Db::kiosk_statuses(self, schools, now)
    }
    fn kiosk_schools(&self) -> Result<HashMap<KioskId, SchoolId>, ServerError> {
        Db::kiosk_schools(self)
    }
    fn events(&self, school: Option<&SchoolId>) -> Result<Vec<StoredEvent>, ServerError> {
        Db::events(self, school)
    }
    fn mentor_events(&self, mentor: &str) -> Result<Vec<StoredEvent>, ServerError> {
        Db::mentor_events(self, mentor)
    }
    fn event_mentor(&self, id: &EventId) -> Result<Option<String>, ServerError> {
        Db::event_mentor(self, id)
    }
    fn unknown_mentors_set_aside(&self) -> Result<Vec<String>, ServerError> {
        Db::unknown_mentors_set_aside(self)
    }
    fn coordinator_entries(&self) -> Result<Vec<StoredEvent>, ServerError> {
        Db::coordinator_entries(self)
    }
    fn clock_readings(&self, series: &[SeriesId]) -> Result<Vec<Reading>, ServerError> {
        Db::clock_readings(self, series)
    }
    fn roster_stamp(
        &self,
        school: &SchoolId,
        today: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<String, ServerError> {
        Db::roster_stamp(self, school, today, now)
    }
    fn cached_roster(&self, school: &SchoolId) -> Result<Option<(String, String)>, ServerError> {
        Db::cached_roster(self, school)
    }
    fn save_roster(&self, school: &SchoolId, stamp: &str, body: &str) -> Result<(), ServerError> {
        Db::save_roster(self, school, stamp, body)
    }
    fn paid_on(&self) -> Result<HashMap<(String, String), String>, ServerError> {
        Db::paid_on(self)
    }
    fn payments(&self) -> Result<Vec<Payment>, ServerError> {
        Db::payments(self)
    }
    fn payment(&self, id: i64) -> Result<Payment, ServerError> {
        Db::payment(self, id)
    }
    fn is_paid(&self, mentor: &str, period: &str) -> Result<bool, ServerError> {
        Db::is_paid(self, mentor, period)
    }
    fn insert_payment(
        &mut self,
        payment: &StipendPayment,
        recorded_by: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, ServerError> {
        Db::insert_payment(self, payment, recorded_by, now)
    }
    fn void_payment(
        &mut self,
        id: i64,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Payment, ServerError> {
        Db::void_payment(self, id, by, reason, now)
    }
    fn authenticate_kiosk(&self, token: &str) -> Result<(KioskId, SchoolId), ServerError> {
        Db::authenticate_kiosk(self, token)
    }
    fn authenticate_organizer(&self, token: &str) -> Result<OrganizerScope, ServerError> {
        Db::authenticate_organizer(self, token)
    }
    fn ingest(
        &mut self,
        kiosk: &KioskId,
        school: &SchoolId,
        batch: &UploadBatch,
        now: DateTime<Utc>,
    ) -> Result<UploadAck, ServerError> {
        Db::ingest(self, kiosk, school, batch, now)
    }
    fn badge_refusal(&self, event: &Event) -> Result<Option<&'static str>, ServerError> {
        Db::badge_refusal(self, event)
    }
    fn mentors_seen_at(&self, school: &SchoolId) -> Result<Vec<MentorId>, ServerError> {
        Db::mentors_seen_at(self, school)
    }
    fn visitors_since(
        &self,
        school: &SchoolId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(MentorId, i64)>, ServerError> {
        Db::visitors_since(self, school, since)
    }
    fn mark_badge_verified(&mut self, event: &Event) -> Result<(), ServerError> {
        Db::mark_badge_verified(self, event)
    }
    fn append_resolution(
        &mut self,
        mentor: &MentorId,
        time_zone: TimeZone,
        kind: EventKind,
        organizer: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Event, ServerError> {
        Db::append_resolution(self, mentor, time_zone, kind, organizer, reason, now)
    }
    fn append_resolutions(
        &mut self,
        entries: &[(MentorId, TimeZone, EventKind)],
        organizer: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, ServerError> {
        Db::append_resolutions(self, entries, organizer, reason, now)
    }
    fn totals_snapshot(&mut self, mentors: &[MentorId]) -> Result<TotalsSnapshot, ServerError> {
        Db::totals_snapshot(self, mentors)
    }
    fn save_totals(&mut self, computed: &[ComputedTotals]) -> Result<(), ServerError> {
        Db::save_totals(self, computed)
    }
    fn cached_totals(
        &self,
        mentors: &[MentorId],
        now: DateTime<Utc>,
    ) -> Result<CachedTotals, ServerError> {
        Db::cached_totals(self, mentors, now)
    }
}
