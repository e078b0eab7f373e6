//! What a scan proof costs to make and to verify: `cargo run --release -p pm-shared --example
//! proof_cost`. Prints the median of 10,000, in microseconds.

use std::time::Instant;

use pm_shared::{
    badge_hash, prove_scan, verify_scan_proof, Event, EventId, EventKind, KioskId, MentorId,
    ScanClaim, SeriesId, Source, TimeZone,
};

const BADGE: &str = "PM1:M-0042:1:TJAQP3RRLSEAFVD7";

fn median_us(mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..10_000)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let mut event = Event {
        id: EventId::from_parts(1_780_000_000_000, [7; 10]),
        kiosk: KioskId::new("k-abcde").expect("kiosk"),
        series: SeriesId::from_parts(1, [1; 10]),
        sequence: 1,
        mentor: MentorId::new("M-0042").ok(),
        at: chrono::DateTime::from_timestamp_millis(1_780_000_000_123).expect("at"),
        time_zone: TimeZone::new("America/Chicago").expect("zone"),
        kind: EventKind::CheckIn,
        source: Source::BadgeScan {
            generation: 1,
            provisional: false,
            badge_hash: badge_hash(BADGE),
            proof: None,
        },
    };
    let make = median_us(|| prove_scan(&mut event, BADGE));
    let Source::BadgeScan {
        proof: Some(proof), ..
    } = event.source.clone()
    else {
        panic!("no proof");
    };
    let claim = ScanClaim::of(&event).expect("claim");
    let check = median_us(|| assert!(verify_scan_proof(BADGE, &claim, &proof)));
    println!("make a scan proof: {make:.1} µs; verify one: {check:.1} µs");
}
