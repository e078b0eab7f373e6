//! Materialized totals must equal a recomputation from the event log after any sequence of
//! ingests, corrections, rule changes, roster builds and the passing of time.

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use pm_shared::protocol::{UploadBatch, PROTOCOL_VERSION};
use pm_shared::{
    Event, EventId, EventKind, HourCategory, Language, MentorId, ProgramRules, SchoolId, SeriesId,
    Source, TimeZone,
};
use proptest::prelude::*;
use sync_server::db::{Db, MentorRecord};
use sync_server::{report, roster};

#[derive(Debug, Clone)]
enum Step {
    /// Events for mentor (0..3) at quarter-hour offsets from the base, of kinds 0..6.
    Ingest(Vec<(u8, u16, u8, u8)>),
    SetThreshold(u8),
    BuildRoster,
    Report,
    /// Time passes by this many hours.
    Wait(u16),
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::collection::vec((0u8..3, 0u16..(24 * 4 * 400), 0u8..7, any::<u8>()), 1..12).prop_map(Step::Ingest),
        1 => (1u8..10).prop_map(Step::SetThreshold),
        2 => Just(Step::BuildRoster),
        3 => Just(Step::Report),
        2 => (1u16..2000).prop_map(Step::Wait),
    ]
}

struct World {
    _dir: tempfile::TempDir,
    db: Db,
    kiosk: pm_shared::KioskId,
    school: SchoolId,
    mentors: Vec<MentorId>,
    hashes: Vec<String>,
    ids: Vec<EventId>,
    seq: u64,
    now: DateTime<Utc>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = Db::open(&dir.path().join("server.db")).expect("db");
        let school = SchoolId::new("s").expect("school");
        db.add_school(
            &school,
            "School",
            TimeZone::new("America/Chicago").expect("tz"),
        )
        .expect("school");
        let mentors: Vec<MentorId> = (0..3)
            .map(|i| MentorId::new(format!("M-{i}")).expect("id"))
            .collect();
        db.upsert_mentors(
            &mentors
                .iter()
                .map(|id| MentorRecord {
                    id: id.clone(),
                    name: id.to_string(),
                    school: school.clone(),
                    language: Language::english(),
                    active: true,
                })
                .collect::<Vec<_>>(),
        )
        .expect("mentors");
        let now = Utc
            .with_ymd_and_hms(2026, 9, 1, 12, 0, 0)
            .single()
            .expect("now");
        let hashes = mentors
            .iter()
            .map(|m| {
                pm_shared::badge_hash(&db.issue_badge(m, now - Duration::days(30)).expect("badge"))
            })
            .collect();
        let (kiosk, _) = db.add_kiosk(&school, "k").expect("kiosk");
        Self {
            _dir: dir,
            db,
            kiosk,
            school,
            mentors,
            hashes,
            ids: Vec::new(),
            seq: 0,
            now,
        }
    }

    fn ingest(&mut self, specs: &[(u8, u16, u8, u8)]) {
        let base = Utc
            .with_ymd_and_hms(2026, 7, 1, 12, 0, 0)
            .single()
            .expect("base");
        let mut events = Vec::new();
        for &(m, quarter, kind, pick) in specs {
            self.seq += 1;
            let at = base + Duration::minutes(15 * i64::from(quarter));
            let target =
                (!self.ids.is_empty()).then(|| self.ids[usize::from(pick) % self.ids.len()]);
            let kind = match (kind, target) {
                (0 | 1, _) | (_, None) => EventKind::CheckIn,
                (2 | 3, _) => EventKind::CheckOut,
                (4, Some(t)) => EventKind::CloseSession {
                    check_in: t,
                    end: at + Duration::hours(2),
                },
                (5, Some(t)) => EventKind::Void { target: t },
                (_, Some(_)) => EventKind::AddSession {
                    category: HourCategory::ALL[usize::from(pick) % 4],
                    start: at,
                    end: at + Duration::minutes(30 * i64::from(pick % 9)),
                    group: None,
                },
            };
            let source = if kind.is_correction() {
                Source::Coordinator {
                    coordinator: "C".into(),
                    reason: "r".into(),
                }
            } else {
                Source::BadgeScan {
                    generation: 1,
                    provisional: false,
                    badge_hash: self.hashes[usize::from(m)].clone(),
                }
            };
            let id = EventId::from_parts(self.seq, [pick; 10]);
            self.ids.push(id);
            events.push(Event {
                id,
                kiosk: self.kiosk.clone(),
                series: SeriesId::from_parts(0, [1; 10]),
                sequence: self.seq,
                mentor: self.mentors[usize::from(m)].clone(),
                at,
                time_zone: TimeZone::new("America/Chicago").expect("tz"),
                kind,
                source,
            });
        }
        let batch = UploadBatch {
            protocol: PROTOCOL_VERSION,
            kiosk: self.kiosk.clone(),
            kiosk_clock: self.now,
            events,
        };
        let school = self.school.clone();
        let kiosk = self.kiosk.clone();
        self.db
            .ingest(&kiosk, &school, &batch, self.now)
            .expect("ingest");
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        for period in [
            None,
            Some("2026-fall"),
            Some("2027-spring"),
            Some("2027-fall"),
        ] {
            let cached =
                report::hours(&mut self.db, None, period, self.now).expect("cached report");
            let fresh = report::hours_recomputed(&self.db, None, period, self.now)
                .expect("recomputed report");
            prop_assert_eq!(cached, fresh, "period {:?} at {}", period, self.now);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn materialized_totals_equal_a_recomputation(steps in prop::collection::vec(arb_step(), 1..14)) {
        let mut world = World::new();
        for step in steps {
            match step {
                Step::Ingest(specs) => world.ingest(&specs),
                Step::SetThreshold(h) => {
                    let rules = ProgramRules { stipend_threshold_hours: f64::from(h), ..ProgramRules::default() };
                    world.db.set_rules(&rules).expect("rules");
                }
                Step::BuildRoster => {
                    let school = world.school.clone();
                    roster::build(&mut world.db, &school, world.now).expect("roster");
                }
                Step::Report => world.check()?,
                Step::Wait(hours) => world.now += Duration::hours(i64::from(hours)),
            }
        }
        world.check()?;
    }
}
