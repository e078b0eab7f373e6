//! The hours report for 12× the real statewide program: 500 schools × 40 mentors × 300 events
//! = 6 M events. Events go in through the real ingest (batches of 500 per kiosk), every
//! school's kiosk pulls its roster (which materializes its mentors' totals as a side effect of
//! work the roster needs anyway), then the all-schools report is timed. For honesty it also
//! times the report with every total invalidated (a rule change), and a full recomputation.
//!
//! Run: `cargo bench -p sync-server --bench report` (about 4 GB of disk, a few minutes).
//! `PM_BENCH_SCHOOLS=50` runs a tenth of it.

use std::time::Instant;

use chrono::{Duration, TimeZone as _, Utc};
use pm_shared::protocol::{UploadBatch, PROTOCOL_VERSION};
use pm_shared::{
    Event, EventId, EventKind, Language, MentorId, ProgramRules, SchoolId, SeriesId, Source,
    TimeZone,
};
use sync_server::db::{Db, MentorRecord};
use sync_server::{report, roster};

const MENTORS_PER_SCHOOL: usize = 40;
const EVENTS_PER_MENTOR: usize = 300;

fn main() {
    let schools: usize = std::env::var("PM_BENCH_SCHOOLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let mut db = Db::open(&dir.path().join("server.db")).expect("db");
    let zone = TimeZone::new("America/Chicago").expect("tz");
    let now = Utc
        .with_ymd_and_hms(2026, 12, 20, 18, 0, 0)
        .single()
        .expect("now");
    let first_day = Utc
        .with_ymd_and_hms(2026, 7, 6, 13, 0, 0)
        .single()
        .expect("start");

    let t = Instant::now();
    let mut school_ids = Vec::new();
    for s in 0..schools {
        let school = SchoolId::new(format!("school-{s:03}")).expect("school");
        db.add_school(&school, &format!("School {s}"), zone)
            .expect("school");
        let mentors: Vec<MentorRecord> = (0..MENTORS_PER_SCHOOL)
            .map(|m| MentorRecord {
                id: MentorId::new(format!("S{s:03}-M{m:02}")).expect("id"),
                name: format!("Mentor {m} of school {s}"),
                school: school.clone(),
                language: Language::spanish(),
                active: true,
            })
            .collect();
        db.upsert_mentors(&mentors, first_day - Duration::days(7))
            .expect("mentors");
        let hashes: Vec<String> = mentors
            .iter()
            .map(|m| {
                pm_shared::badge_hash(
                    &db.issue_badge(&m.id, first_day - Duration::days(7))
                        .expect("badge"),
                )
            })
            .collect();
        let (kiosk, _) = db.add_kiosk(&school, "parent room").expect("kiosk");
        // 150 school days per mentor, in at 8:00 and out at 10:00 (a few minutes apart per mentor).
        let mut events = Vec::with_capacity(MENTORS_PER_SCHOOL * EVENTS_PER_MENTOR);
        let mut sequence = 0u64;
        for day in 0..(EVENTS_PER_MENTOR / 2) as i64 {
            for (m, mentor) in mentors.iter().enumerate() {
                let arrive = first_day + Duration::days(day) + Duration::minutes(m as i64);
                // UUIDv7 keeps only some bits of the first random bytes: put the school in the last ones.
                let id = |sequence: u64| {
                    EventId::from_parts(
                        sequence,
                        [1, 2, 3, 4, 5, 6, 7, 8, (s % 256) as u8, (s / 256) as u8],
                    )
                };
                // Protocol 2: the check-out names the check-in it closes.
                let check_in = id(sequence + 1);
                for (kind, at) in [
                    (EventKind::CheckIn, arrive),
                    (
                        EventKind::CheckOut {
                            check_in: Some(check_in),
                        },
                        arrive + Duration::hours(2),
                    ),
                ] {
                    sequence += 1;
                    events.push(Event {
                        id: id(sequence),
                        kiosk: kiosk.clone(),
                        series: SeriesId::from_parts(s as u64, [9; 10]),
                        sequence,
                        mentor: Some(mentor.id.clone()),
                        at,
                        time_zone: zone,
                        kind: kind.clone(),
                        source: Source::BadgeScan {
                            generation: 1,
                            provisional: false,
                            badge_hash: hashes[m].clone(),
                        },
                    });
                }
            }
        }
        for chunk in events.chunks(500) {
            let batch = UploadBatch {
                protocol: PROTOCOL_VERSION,
                kiosk: kiosk.clone(),
                kiosk_clock: now,
                events: chunk.to_vec(),
            };
            db.ingest(&kiosk, &school, &batch, now).expect("ingest");
        }
        school_ids.push(school);
    }
    let total_events = db.event_count().expect("count");
    assert_eq!(
        total_events as usize,
        schools * MENTORS_PER_SCHOOL * EVENTS_PER_MENTOR,
        "every event stored once"
    );
    println!(
        "{schools} schools, {} mentors, {total_events} events ingested in {:.1} s",
        schools * MENTORS_PER_SCHOOL,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    for school in &school_ids {
        roster::build(&mut db, school, now).expect("roster");
    }
    let pulls = t.elapsed().as_secs_f64();
    println!(
        "every school's roster pull (materializes its totals): {:.1} s in all, {:.0} ms per school",
        pulls,
        1000.0 * pulls / schools as f64
    );

    let mut warm = Vec::new();
    let mut rows = 0;
    for _ in 0..5 {
        let t = Instant::now();
        rows = report::hours(&mut db, None, Some("2026-fall"), now)
            .expect("report")
            .len();
        warm.push(t.elapsed().as_secs_f64());
    }
    warm.sort_by(f64::total_cmp);
    println!(
        "hours report, all schools, {rows} rows, totals materialized: median {:.3} s (min {:.3}, max {:.3}) of 5",
        warm[2], warm[0], warm[4]
    );

    db.set_rules(&ProgramRules::default()).expect("invalidate");
    let t = Instant::now();
    report::hours(&mut db, None, Some("2026-fall"), now).expect("report");
    println!(
        "hours report right after a rule change (every total recomputed): {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    report::hours_recomputed(&db, None, Some("2026-fall"), now).expect("report");
    println!(
        "hours report recomputed from the whole log, no stored totals: {:.1} s",
        t.elapsed().as_secs_f64()
    );
}
