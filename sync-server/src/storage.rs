//! The storage boundary the API, rosters and reports are written against. SQLite ([`Db`]) is
//! the embedded default; a PostgreSQL backend implements the same trait. Nothing here names a
//! database library's types: only domain types and this crate's records cross it.
//! (Admin commands that only the command line runs, such as adding schools or kiosks, stay on
//! [`Db`] until a second backend needs them.)

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use pm_shared::protocol::{StipendPayment, UploadAck, UploadBatch};
use pm_shared::{Coordinator, KioskId, MentorId, ProgramRules, School, SchoolId};

use crate::db::{
    CachedTotals, ComputedTotals, Db, MentorRecord, OrganizerScope, StoredEvent, TotalsSnapshot,
};
use crate::ServerError;

pub trait Storage: Send {
    fn rules(&self) -> Result<ProgramRules, ServerError>;
    fn school(&self, id: &SchoolId) -> Result<School, ServerError>;
    fn mentors(&self, school: Option<&SchoolId>) -> Result<Vec<MentorRecord>, ServerError>;
    fn mentor(&self, id: &MentorId) -> Result<MentorRecord, ServerError>;
    /// The mentor's current badge: (generation, text, hash).
    fn current_badge(
        &self,
        mentor: &MentorId,
    ) -> Result<Option<(u32, String, String)>, ServerError>;
    fn coordinators(&self, school: &SchoolId) -> Result<Vec<Coordinator>, ServerError>;
    fn events(&self, school: Option<&SchoolId>) -> Result<Vec<StoredEvent>, ServerError>;
    /// The latest payment date per (mentor id, period name).
    fn paid_on(&self) -> Result<HashMap<(String, String), String>, ServerError>;
    fn authenticate_kiosk(&self, token: &str) -> Result<(KioskId, SchoolId), ServerError>;
    fn authenticate_organizer(&self, token: &str) -> Result<OrganizerScope, ServerError>;
    fn ingest(
        &mut self,
        kiosk: &KioskId,
        school: &SchoolId,
        batch: &UploadBatch,
        now: DateTime<Utc>,
    ) -> Result<UploadAck, ServerError>;
    fn record_stipend(
        &self,
        payment: &StipendPayment,
        recorded_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError>;
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
    fn rules(&self) -> Result<ProgramRules, ServerError> {
        Db::rules(self)
    }
    fn school(&self, id: &SchoolId) -> Result<School, ServerError> {
        Db::school(self, id)
    }
    fn mentors(&self, school: Option<&SchoolId>) -> Result<Vec<MentorRecord>, ServerError> {
        Db::mentors(self, school)
    }
    fn mentor(&self, id: &MentorId) -> Result<MentorRecord, ServerError> {
        Db::mentor(self, id)
    }
    fn current_badge(
        &self,
        mentor: &MentorId,
    ) -> Result<Option<(u32, String, String)>, ServerError> {
        Db::current_badge(self, mentor)
    }
    fn coordinators(&self, school: &SchoolId) -> Result<Vec<Coordinator>, ServerError> {
        Db::coordinators(self, school)
    }
    fn events(&self, school: Option<&SchoolId>) -> Result<Vec<StoredEvent>, ServerError> {
        Db::events(self, school)
    }
    fn paid_on(&self) -> Result<HashMap<(String, String), String>, ServerError> {
        Db::paid_on(self)
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
    fn record_stipend(
        &self,
        payment: &StipendPayment,
        recorded_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        Db::record_stipend(self, payment, recorded_by, now)
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
