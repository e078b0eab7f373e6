//! Scan-to-committed latency (decode excluded) with `synchronous=FULL`, next to the machine's
//! own fsync latency measured in the same run: the floor no durable write can beat.
//!
//! Run: `cargo bench -p kiosk --bench scan_latency`. Prints p50/p99 in milliseconds.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{TimeZone as _, Utc};
use kiosk::engine::{Engine, ScanOutcome};
use kiosk::store::Store;
use pm_shared::{
    badge_hash, badge_text, BadgeGeneration, KioskId, Language, MentorId, PeriodName, ProgramRules,
    Roster, RosterMentor, School, SchoolId, SeriesId, TimeZone,
};

const SCANS: usize = 1000;

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1000.0
}

/// Appends one 4 KiB block and fsyncs, SCANS times: the least a one-page WAL commit must do
/// (SQLite's page size is 4 KiB; a commit appends a frame and fsyncs the WAL).
fn fsync_latencies(dir: &std::path::Path) -> Vec<Duration> {
    let mut file = std::fs::File::create(dir.join("fsync-probe")).expect("probe file");
    let block = [0x5au8; 4096];
    (0..SCANS)
        .map(|_| {
            let start = Instant::now();
            file.write_all(&block).expect("write");
            file.sync_all().expect("fsync");
            start.elapsed()
        })
        .collect()
}

fn main() {
    // On the target disk (not a tmpfs), so fsync is real.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let zone = TimeZone::new("America/Chicago").expect("tz");
    let mentors: Vec<(MentorId, String)> = (0..40)
        .map(|i| {
            let id = MentorId::new(format!("M-{i:04}")).expect("id");
            let text = badge_text(&id, 1, &[i as u8; 10]).expect("badge");
            (id, text)
        })
        .collect();
    let roster = Roster {
        version: "bench".into(),
        school: School {
            id: SchoolId::new("bench").expect("school"),
            name: "Bench Elementary".into(),
            time_zone: zone,
        },
        rules: ProgramRules::default(),
        current_period: PeriodName("2026-fall".into()),
        mentors: mentors
            .iter()
            .map(|(id, text)| RosterMentor {
                id: id.clone(),
                name: format!("Mentor {id}"),
                language: Language::spanish(),
                badge: Some(BadgeGeneration {
                    generation: 1,
                    hash: badge_hash(text),
                }),
                period_time_ms: 0,
                placement: None,
                clearances: Vec::new(),
            })
            .collect(),
        revoked: vec![],
        coordinators: vec![],
        open_check_ins: vec![],
        recent: vec![],
        review: vec![],
        voided: vec![],
    };
    let start = Utc
        .with_ymd_and_hms(2026, 9, 1, 13, 0, 0)
        .single()
        .expect("start");
    let mut store = Store::open(
        &dir.path().join("kiosk.db"),
        SeriesId::from_parts(0, [1; 10]),
        start,
    )
    .expect("store");
    store.save_roster(&roster, start).expect("roster");
    let mut engine =
        Engine::new(store, KioskId::new("bench").expect("kiosk"), zone).expect("engine");

    let mut scans = Vec::with_capacity(SCANS);
    for i in 0..SCANS {
        // Each mentor scans every 40th slot, two minutes apart: check-ins and check-outs.
        let (_, text) = &mentors[i % mentors.len()];
        let at = start + chrono::Duration::minutes(2 * i as i64);
        let t = Instant::now();
        let outcome = engine.scan(text, at).expect("scan");
        scans.push(t.elapsed());
        assert!(matches!(outcome, ScanOutcome::Recorded(_)));
    }
    let mut fsyncs = fsync_latencies(dir.path());
    println!(
        "scan-to-committed ({SCANS} scans, synchronous=FULL, WAL) and fsync on the same disk:"
    );
    println!(
        "  scan  p50 {:.3} ms  p99 {:.3} ms",
        percentile(&mut scans, 0.5),
        percentile(&mut scans, 0.99)
    );
    println!(
        "  fsync p50 {:.3} ms  p99 {:.3} ms",
        percentile(&mut fsyncs, 0.5),
        percentile(&mut fsyncs, 0.99)
    );
}
