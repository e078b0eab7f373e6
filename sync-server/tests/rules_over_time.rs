//! Rule changes made after the database holds data never reach a closed period: for any
//! sequence of `program set` changes (threshold, cap, counting categories, volunteer rate,
//! period scheme, from the current period or a named later one), the closed period's eligible
//! list, its payments and its program report stay as they were.

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use pm_shared::protocol::{StipendPayment, UploadBatch, PROTOCOL_VERSION};
use pm_shared::{
    Event, EventId, EventKind, HourCategory, Language, MentorId, PeriodName, PeriodScheme,
    RuleChange, SchoolId, SeriesId, Source, TimeZone,
};
use proptest::prelude::*;
use sync_server::db::{Db, MentorRecord};
use sync_server::{payments, program, report, rules_over_time};

#[path = "../../tests/src/pg.rs"]
mod pg;

fn chicago() -> TimeZone {
    TimeZone::new("America/Chicago").expect("tz")
}

fn at(date: NaiveDate, h: u32) -> DateTime<Utc> {
    chicago()
        .tz()
        .from_local_datetime(&date.and_hms_opt(h, 0, 0).expect("time"))
        .earliest()
        .expect("exists")
        .with_timezone(&Utc)
}

/// A program in its second semester: three mentors with hours in the closed fall (one paid),
/// and some in the current spring.
struct World {
    _dir: tempfile::TempDir,
    db: Db,
    now: DateTime<Utc>,
}

const CLOSED: &str = "2026-fall";

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = match std::env::var("PM_TEST_DB").as_deref() {
            Ok("postgres") => Db::open_spec(&pg::fresh_database()).expect("db"),
            _ => Db::open(&dir.path().join("server.db")).expect("db"),
        };
        let school = SchoolId::new("s").expect("school");
        db.add_school(&school, "School", chicago()).expect("school");
        let now = Utc
            .with_ymd_and_hms(2027, 2, 10, 18, 0, 0)
            .single()
            .expect("now");
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
            now - Duration::days(300),
        )
        .expect("mentors");
        // Rules before any record: they judge every period.
        rules_over_time::set(
            &mut db,
            &RuleChange {
                stipend_threshold_hours: Some(4.0),
                volunteer_hour_rate: Some(Some("30.00".into())),
                ..RuleChange::default()
            },
            // The scans below are of fixed past dates, delivered now: not late deliveries here.
            |rules| rules.late_delivery_days = Some(0),
            None,
            now,
        )
        .expect("rules");
        let texts: Vec<String> = mentors
            .iter()
            .map(|m| db.issue_badge(m, now - Duration::days(300)).expect("badge"))
            .collect();
        let hashes: Vec<String> = texts.iter().map(|t| pm_shared::badge_hash(t)).collect();
        let (kiosk, _) = db.add_kiosk(&school, "k").expect("kiosk");
        let mut events = Vec::new();
        let mut seq = 0u64;
        let fall = NaiveDate::from_ymd_opt(2026, 9, 1).expect("date");
        let spring = NaiveDate::from_ymd_opt(2027, 1, 20).expect("date");
        // M-0: 3 days × 2 h in the fall (6 h); M-1: 1 day × 5 h (over no cap at 8); M-2: 1 h.
        let plan: [(usize, NaiveDate, u32, u32); 7] = [
            (0, fall, 8, 10),
            (0, fall + Duration::days(1), 8, 10),
            (0, fall + Duration::days(2), 8, 10),
            (1, fall + Duration::days(3), 8, 13),
            (2, fall + Duration::days(4), 8, 9),
            (0, spring, 8, 11),
            (2, spring, 8, 12),
        ];
        for (m, day, from, to) in plan {
            let source = || Source::BadgeScan {
                generation: 1,
                provisional: false,
                badge_hash: hashes[m].clone(),
                proof: None,
            };
            seq += 1;
            let check_in = EventId::from_parts(seq, [7; 10]);
            let mut push = |id: EventId, at: DateTime<Utc>, kind: EventKind, seq: u64| {
                let mut event = Event {
                    id,
                    kiosk: kiosk.clone(),
                    series: SeriesId::from_parts(0, [1; 10]),
                    sequence: seq,
                    mentor: Some(mentors[m].clone()),
                    at,
                    time_zone: chicago(),
                    kind,
                    source: source(),
                };
                pm_shared::prove_scan(&mut event, &texts[m]);
                events.push(event)
            };
            push(check_in, at(day, from), EventKind::CheckIn, seq);
            seq += 1;
            push(
                EventId::from_parts(seq, [7; 10]),
                at(day, to),
                EventKind::CheckOut {
                    check_in: Some(check_in),
                },
                seq,
            );
        }
        let batch = UploadBatch {
            protocol: PROTOCOL_VERSION,
            kiosk: kiosk.clone(),
            kiosk_clock: now,
            events,
        };
        db.ingest(&kiosk, &school, &batch, now).expect("ingest");
        payments::record(
            &mut db,
            &StipendPayment {
                mentor: mentors[0].clone(),
                period: PeriodName(CLOSED.into()),
                amount: "500.00".into(),
                paid_on: NaiveDate::from_ymd_opt(2027, 1, 20).expect("date"),
                reference: "CHK-1".into(),
                additional: false,
                not_eligible: false,
            },
            "Olga",
            None,
            now,
        )
        .expect("payment");
        Self { _dir: dir, db, now }
    }

    /// What must never change for the closed period.
    fn closed_record(&mut self) -> (Vec<report::HoursRow>, Vec<String>, Vec<program::ProgramRow>) {
        let rows = report::hours(&mut self.db, None, Some(CLOSED), self.now).expect("hours");
        let all = report::hours(&mut self.db, None, Some("all"), self.now).expect("all");
        let mut owed: Vec<String> = all
            .iter()
            .filter(|r| r.period == CLOSED && r.eligible)
            .map(|r| format!("{} {} {}", r.mentor_id, r.eligible_on, r.paid_on))
            .collect();
        owed.sort();
        let span = program::Span {
            from: NaiveDate::from_ymd_opt(2026, 7, 1).expect("date"),
            to: NaiveDate::from_ymd_opt(2027, 1, 15).expect("date"),
        };
        let program_rows = program::report(&mut self.db, None, span, self.now).expect("program");
        (rows, owed, program_rows)
    }
}

fn any_change() -> impl Strategy<Value = (RuleChange, Option<&'static str>)> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(1u32..12),
        proptest::option::of(1u32..10),
        proptest::option::of(proptest::sample::subsequence(
            HourCategory::ALL.to_vec(),
            1..4,
        )),
        proptest::option::of(proptest::option::of(1u32..60)),
        proptest::sample::select(vec![
            None,
            Some("2027-spring"),
            Some("2027-fall"),
            Some(CLOSED),
            Some("2027-year"),
        ]),
    )
        .prop_map(|(years, threshold, cap, counting, rate, from)| {
            (
                RuleChange {
                    periods: years.map(|y| {
                        if y {
                            PeriodScheme::school_years()
                        } else {
                            PeriodScheme::default()
                        }
                    }),
                    stipend_threshold_hours: threshold.map(f64::from),
                    session_cap_hours: cap.map(|c| f64::from(c) + 0.5),
                    counting_categories: counting,
                    volunteer_hour_rate: rate.map(|r| r.map(|r| format!("{r}.00"))),
                },
                from,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn a_closed_period_keeps_its_eligible_list_payments_and_report(
        changes in proptest::collection::vec(any_change(), 1..5),
    ) {
        let mut world = World::new();
        let before = world.closed_record();
        prop_assert_eq!(before.1.len(), 2, "M-0 and M-1 reached 4 h in the fall: {:?}", before.1);
        for (change, from) in changes {
            // Some are refused (a closed period, a year that would cut a semester): fine, as
            // long as nothing changes.
            let _ = rules_over_time::set(&mut world.db, &change, |_| {}, from, world.now);
            let after = world.closed_record();
            prop_assert_eq!(&after, &before);
        }
        // And the paid period cannot be paid again under another name.
        let again = payments::record(
            &mut world.db,
            &StipendPayment {
                mentor: MentorId::new("M-0").expect("id"),
                period: PeriodName("2026-year".into()),
                amount: "500.00".into(),
                paid_on: NaiveDate::from_ymd_opt(2027, 2, 1).expect("date"),
                reference: "CHK-2".into(),
                additional: false,
                not_eligible: true,
            },
            "Olga",
            None,
            world.now,
        );
        prop_assert!(again.is_err());
    }
}

/// A rule change from the current period leaves the stored totals of a mentor whose time is
/// all in closed periods as they were; the others are computed again.
#[test]
fn a_rule_change_recomputes_only_mentors_with_time_in_open_periods() {
    let mut world = World::new();
    let before = world.closed_record();
    let state = |db: &Db, mentor: &str| -> (i64, i64) {
        let rows = db
            .select(
                "SELECT changed, computed FROM mentor_totals_state WHERE mentor = ?1",
                &[mentor],
            )
            .expect("state");
        let row = rows.first().expect("a row");
        (row.get(0).expect("changed"), row.get(1).expect("computed"))
    };
    let (changed, computed) = state(&world.db, "M-1");
    assert_eq!(changed, computed, "stored and current before the change");
    rules_over_time::set(
        &mut world.db,
        &RuleChange {
            stipend_threshold_hours: Some(7.0),
            ..RuleChange::default()
        },
        |_| {},
        None,
        world.now,
    )
    .expect("change");
    assert_eq!(
        state(&world.db, "M-1"),
        (changed, computed),
        "only fall time: kept"
    );
    let (changed, computed) = state(&world.db, "M-0");
    assert!(changed > computed, "spring time: computed again");
    assert_eq!(world.closed_record(), before);
}
