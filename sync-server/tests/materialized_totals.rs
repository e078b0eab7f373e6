//! Materialized totals must equal a recomputation from the event log after any sequence of
//! ingests, corrections, organizers' resolutions, moves between schools, rule changes, roster
//! builds and the passing of time.

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
    /// An organizer resolves the item an earlier event names: approve (0), void (1), accept
    /// (2), or new times (3).
    Resolve(u8, u8),
    /// A mentor moves to the other school from a day (days after the base).
    Move(u8, u16),
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::collection::vec((0u8..3, 0u16..(24 * 4 * 400), 0u8..7, any::<u8>()), 1..12).prop_map(Step::Ingest),
        1 => (1u8..10).prop_map(Step::SetThreshold),
        2 => Just(Step::BuildRoster),
        3 => Just(Step::Report),
        2 => (1u16..2000).prop_map(Step::Wait),
        2 => (any::<u8>(), 0u8..4).prop_map(|(pick, action)| Step::Resolve(pick, action)),
        1 => (0u8..3, 0u16..60).prop_map(|(m, day)| Step::Move(m, day)),
    ]
}

#[path = "../../tests/src/pg.rs"]
mod pg;

struct World {
    _dir: tempfile::TempDir,
    db: Db,
    kiosk: pm_shared::KioskId,
    school: SchoolId,
    mentors: Vec<MentorId>,
    hashes: Vec<String>,
    /// The badge texts, for the scan proofs a kiosk makes.
    texts: Vec<String>,
    /// Every event id recorded, with its mentor's index.
    ids: Vec<(EventId, u8)>,
    seq: u64,
    now: DateTime<Utc>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // SQLite, or with PM_TEST_DB=postgres a fresh database in the tests' own cluster.
        let mut db = match std::env::var("PM_TEST_DB").as_deref() {
            Ok("postgres") => Db::open_spec(&pg::fresh_database()).expect("db"),
            _ => Db::open(&dir.path().join("server.db")).expect("db"),
        };
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
        db.add_school(
            &SchoolId::new("other").expect("school"),
            "Other",
            TimeZone::new("America/Chicago").expect("tz"),
        )
        .expect("school");
        let now = Utc
            .with_ymd_and_hms(2026, 9, 1, 12, 0, 0)
            .single()
            .expect("now");
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
            now,
        )
        .expect("mentors");
        let texts: Vec<String> = mentors
            .iter()
            .map(|m| db.issue_badge(m, now - Duration::days(30)).expect("badge"))
            .collect();
        let hashes = texts.iter().map(|t| pm_shared::badge_hash(t)).collect();
        let (kiosk, _) = db.add_kiosk(&school, "k").expect("kiosk");
        Self {
            _dir: dir,
            db,
            kiosk,
            school,
            mentors,
            hashes,
            texts,
            ids: Vec::new(),
            seq: 0,
            now,
        }
    }

    fn ingest(&mut self, specs: &[(u8, u16, u8, u8)]) {
        let now = self.now;
        self.ingest_at(specs, now);
    }

    /// Ingests with the kiosk's clock reading `kiosk_clock` when it sent the batch.
    fn ingest_at(&mut self, specs: &[(u8, u16, u8, u8)], kiosk_clock: DateTime<Utc>) {
        let base = Utc
            .with_ymd_and_hms(2026, 7, 1, 12, 0, 0)
            .single()
            .expect("base");
        let mut events = Vec::new();
        for &(m, quarter, kind, pick) in specs {
            self.seq += 1;
            let at = base + Duration::minutes(15 * i64::from(quarter));
            let target =
                (!self.ids.is_empty()).then(|| self.ids[usize::from(pick) % self.ids.len()].0);
            let kind = match (kind, target) {
                (0 | 1, _) | (_, None) => EventKind::CheckIn,
                (2, _) => EventKind::CheckOut { check_in: None },
                (3, t) => EventKind::CheckOut { check_in: t },
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
                    proof: None,
                }
            };
            let id = EventId::from_parts(self.seq, [pick; 10]);
            self.ids.push((id, m));
            let mut event = Event {
                id,
                kiosk: self.kiosk.clone(),
                series: SeriesId::from_parts(0, [1; 10]),
                sequence: self.seq,
                mentor: Some(self.mentors[usize::from(m)].clone()),
                at,
                time_zone: TimeZone::new("America/Chicago").expect("tz"),
                kind,
                source,
            };
            pm_shared::prove_scan(&mut event, &self.texts[usize::from(m)]);
            events.push(event);
        }
        let batch = UploadBatch {
            protocol: PROTOCOL_VERSION,
            kiosk: self.kiosk.clone(),
            kiosk_clock,
            events,
        };
        let school = self.school.clone();
        let kiosk = self.kiosk.clone();
        self.db
            .ingest(&kiosk, &school, &batch, self.now)
            .expect("ingest");
    }

    fn resolve(&mut self, pick: u8, action: u8) {
        if self.ids.is_empty() {
            return;
        }
        let (item, m) = self.ids[usize::from(pick) % self.ids.len()];
        let base = Utc
            .with_ymd_and_hms(2026, 7, 1, 12, 0, 0)
            .single()
            .expect("base");
        let kind = match action {
            0 => EventKind::approve(item),
            1 => EventKind::Void { target: item },
            2 => EventKind::AcceptEvent { item },
            _ => EventKind::SetTimes {
                item,
                start: None,
                end: Some(base + Duration::hours(i64::from(pick))),
            },
        };
        let mentor = self.mentors[usize::from(m)].clone();
        self.db
            .append_resolution(
                &mentor,
                TimeZone::new("America/Chicago").expect("tz"),
                kind,
                "Olga",
                "checked",
                self.now,
            )
            .expect("resolution");
    }

    fn move_mentor(&mut self, m: u8, day: u16) {
        let from = chrono::NaiveDate::from_ymd_opt(2026, 7, 1).expect("date")
            + Duration::days(i64::from(day));
        let today = self.now.date_naive();
        if from > today {
            return;
        }
        let mentor = self.mentors[usize::from(m)].clone();
        self.db
            .move_mentor(
                &mentor,
                &SchoolId::new("other").expect("school"),
                from,
                today,
                self.now,
            )
            .expect("move");
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        for period in [
            None,
            Some("all"),
            Some("2026-fall"),
            Some("2027-spring"),
            Some("2027-fall"),
        ] {
            let cached =
                report::hours(&mut self.db, None, period, self.now).expect("cached report");
            let school = [self.school.clone()];
            let one = report::hours(&mut self.db, Some(&school), period, self.now)
                .expect("one school's report");
            let one_fresh = report::hours_recomputed(&self.db, Some(&school), period, self.now)
                .expect("one school's recomputed report");
            prop_assert_eq!(one, one_fresh, "school report, period {:?}", period);
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
                Step::Resolve(pick, action) => world.resolve(pick, action),
                Step::Move(m, day) => world.move_mentor(m, day),
            }
        }
        world.check()?;
    }
}

/// With more than a thousand mentors the stored totals are read in one pass over the table:
/// the same answers, stale ones recomputed.
#[test]
fn many_mentors_are_read_in_one_pass_with_the_same_answers() {
    let mut world = World::new();
    let school = world.school.clone();
    let many: Vec<MentorRecord> = (0..1_100)
        .map(|i| MentorRecord {
            id: MentorId::new(format!("X-{i}")).expect("id"),
            name: format!("Mentor {i}"),
            school: school.clone(),
            language: Language::english(),
            active: true,
        })
        .collect();
    world.db.upsert_mentors(&many, world.now).expect("mentors");
    world.ingest(&[(0, 10, 0, 0), (0, 18, 3, 0), (1, 30, 0, 0)]);
    let school_id = world.school.clone();
    roster::build(&mut world.db, &school_id, world.now).expect("roster");
    world
        .check()
        .expect("equal after the roster stored the totals");
    // New events make those mentors' stored totals stale; the one-pass read sees it.
    world.ingest(&[(0, 40, 0, 0), (0, 48, 2, 0), (2, 50, 0, 0)]);
    world.check().expect("equal after more events");
}

/// A clock-skew verdict reads every clock reading of the kiosk's series, whichever mentors are
/// sessionized together: stored totals (one mentor at a time) equal a recomputation (all).
#[test]
fn clock_readings_do_not_depend_on_which_mentors_are_read_together() {
    let mut world = World::new();
    let base = Utc
        .with_ymd_and_hms(2026, 7, 1, 12, 0, 0)
        .single()
        .expect("base");
    let eight = Duration::minutes(8);
    // Upload 1: M-0's morning, the kiosk 8 minutes fast. Upload 2: only M-2's scan, the clock
    // right. Upload 3: M-0's next morning, 8 minutes fast again. Readings 1 and 2 bracket
    // nothing of M-0's; 2 and 3 bracket her second morning.
    let send = |world: &mut World, specs: &[(u8, u16, u8, u8)], clock: Duration| {
        let saved = world.now;
        world.now = saved + clock;
        let kiosk_now = world.now;
        world.now = saved;
        world.ingest_at(specs, kiosk_now);
    };
    send(&mut world, &[(0, 0, 0, 0), (0, 8, 2, 0)], eight);
    send(&mut world, &[(2, 200, 0, 0)], Duration::zero());
    send(&mut world, &[(0, 96, 0, 0), (0, 104, 2, 0)], eight);
    let _ = base;
    world.check().expect("stored totals equal a recomputation");
    let rules = ProgramRules::default();
    let alone = world
        .db
        .totals_snapshot(&world.mentors[..1])
        .expect("snapshot");
    let alone = sync_server::totals::compute(alone, &rules, world.now);
    let together = world.db.totals_snapshot(&world.mentors).expect("snapshot");
    let together = sync_server::totals::compute(together, &rules, world.now);
    let of_m0 = |c: &sync_server::totals::Computed| {
        c.sessions
            .iter()
            .filter(|s| s.mentor == world.mentors[0])
            .map(|s| (s.item, s.reasons.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(of_m0(&alone), of_m0(&together));
    // Her first morning has only a fast reading after it: flagged. Her second has the right
    // reading of M-2's upload before it: not flagged, whoever is read with her.
    let skewed: Vec<bool> = of_m0(&alone)
        .iter()
        .map(|(_, r)| r.contains(&pm_shared::ReviewReason::KioskClockSkew))
        .collect();
    assert_eq!(skewed, vec![true, false]);
}

/// An unchanged roster costs no sessionizing: the same roster comes back from a stamp of what it
/// is built from; anything that changes it (an event, a coordinator, a badge, a new day) makes a
/// new one.
#[test]
fn an_unchanged_roster_is_not_built_again() {
    let mut world = World::new();
    let school = world.school.clone();
    let builds = roster::fresh_builds;
    let first = roster::build(&mut world.db, &school, world.now).expect("roster");
    let before = builds();
    let again = roster::build(&mut world.db, &school, world.now).expect("roster");
    assert_eq!(again, first);
    assert_eq!(builds(), before, "served from the stamp");
    world.ingest(&[(0, 10, 0, 0)]);
    let changed = roster::build(&mut world.db, &school, world.now).expect("roster");
    assert_ne!(changed.version, first.version);
    assert_eq!(builds(), before + 1);
    world
        .db
        .add_coordinator(&school, "Ms. Rivera", "$argon2id$x", world.now)
        .expect("coordinator");
    let with_coordinator = roster::build(&mut world.db, &school, world.now).expect("roster");
    assert_eq!(with_coordinator.coordinators.len(), 1);
    world.now += Duration::days(1);
    roster::build(&mut world.db, &school, world.now).expect("roster");
    assert_eq!(builds(), before + 3, "a new school day, a new roster");
    // Built afresh or not, the same content.
    let fresh = roster::build_fresh(&mut world.db, &school, world.now).expect("roster");
    assert_eq!(
        roster::build(&mut world.db, &school, world.now).expect("roster"),
        fresh
    );
}
