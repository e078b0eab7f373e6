//! The hours report for 12× the real statewide program: 500 schools × 40 mentors × 300 events
//! = 6 M events. Events go in through the real ingest (batches of 500 per kiosk), every
//! school's kiosk pulls its roster (which materializes its mentors' totals as a side effect of
//! work the roster needs anyway), then the all-schools report is timed. For honesty it also
//! times the report with every total invalidated (a rule change), and a full recomputation.
//!
//! Run: `cargo bench -p sync-server --bench report` (about 4 GB of disk, a few minutes).
//! `PM_BENCH_SCHOOLS=50` runs a tenth of it.

use std::time::Instant;

use chrono::{TimeZone as _, Utc};
use pm_shared::protocol::{UploadBatch, PROTOCOL_VERSION};
use pm_shared::ProgramRules;
use sync_server::db::Db;
use sync_server::{report, roster};

mod common;
use common::{EVENTS_PER_MENTOR, MENTORS_PER_SCHOOL};

fn main() {
    let schools: usize = std::env::var("PM_BENCH_SCHOOLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let mut db = Db::open(&dir.path().join("server.db")).expect("db");
    let now = Utc
        .with_ymd_and_hms(2026, 12, 20, 18, 0, 0)
        .single()
        .expect("now");

    let t = Instant::now();
    let mut school_ids = Vec::new();
    for s in 0..schools {
        // One school at a time: its events are dropped once stored.
        let school = common::schools(&mut db, 1, s).remove(0);
        for chunk in school.events.chunks(500) {
            let batch = UploadBatch {
                protocol: PROTOCOL_VERSION,
                kiosk: school.kiosk.clone(),
                kiosk_clock: now,
                events: chunk.to_vec(),
            };
            db.ingest(&school.kiosk, &school.id, &batch, now)
                .expect("ingest");
        }
        school_ids.push(school.id);
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

    // A rule that decides hours changes (setting the same rules again would invalidate nothing).
    db.set_rules(&ProgramRules {
        stipend_threshold_hours: 99.0,
        ..ProgramRules::default()
    })
    .expect("invalidate");
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
