//! Can the pipeline keep up with a camera? Decode time per 640×480 frame, for frames with a
//! badge in view and for empty frames (the common case, and the slowest: every pass runs),
//! and the time from the first readable frame's capture to a committed check-in through the
//! real scanner threads and scan engine.
//!
//! Run: `cargo bench -p kiosk --bench frame_rate`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use image::{GrayImage, Luma};
use kiosk::capture::{RecordedFrames, Scanner};
use kiosk::decode::{decode_frame, run_pass, StreamDecoder, PASSES};
use kiosk::engine::{Engine, ScanOutcome};
use kiosk::store::Store;
use pm_shared::{KioskId, SeriesId, TimeZone};
use qrcode::{EcLevel, QrCode};

fn noise(x: u32, y: u32, seed: u32) -> u8 {
    let mut h = x.wrapping_mul(374_761_393)
        ^ y.wrapping_mul(668_265_263)
        ^ seed.wrapping_mul(2_246_822_519);
    h = (h ^ (h >> 13)).wrapping_mul(1_274_126_177);
    (h >> 24) as u8
}

/// A parent-room-like background: a soft gradient with sensor noise and some edges.
fn background(seed: u32) -> GrayImage {
    GrayImage::from_fn(640, 480, |x, y| {
        let base = 90 + (x / 8 + y / 12) as i32 % 60;
        let edge = if (x / 90 + y / 70 + seed) % 5 == 0 {
            40
        } else {
            0
        };
        Luma([(base + edge + i32::from(noise(x, y, seed)) / 16).clamp(0, 255) as u8])
    })
}

fn badge(text: &str, px: u32) -> GrayImage {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .expect("qr")
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(px, px)
        .build()
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.95), at(1.0))
}

fn main() {
    let code = badge("PM1:M-0001:1:TJAQP3RRLSEAFVD7", 5);
    let backgrounds: Vec<GrayImage> = (0..60u32).map(background).collect();
    for (pass, name) in PASSES.iter().enumerate() {
        let ms: Vec<f64> = backgrounds
            .iter()
            .map(|bg| {
                let t = Instant::now();
                run_pass(pass, bg);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        let (p50, _, _) = percentiles(ms);
        println!("pass {pass} ({name}) on an empty frame: median {p50:.1} ms");
    }
    let mut still = Vec::new();
    let mut stream = Vec::new();
    let mut with_badge = Vec::new();
    // One decoder per stream, as on a kiosk: the retries take turns frame by frame.
    let (mut empty_stream, mut badge_stream) = (StreamDecoder::default(), StreamDecoder::default());
    for (i, bg) in backgrounds.iter().enumerate() {
        let t = Instant::now();
        assert!(decode_frame(bg).is_empty());
        still.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        assert!(empty_stream.decode(bg).is_empty());
        stream.push(t.elapsed().as_secs_f64() * 1000.0);
        let mut f = bg.clone();
        let i = i as i64;
        image::imageops::overlay(&mut f, &code, 60 + i * 7 % 300, 40 + i * 5 % 200);
        let t = Instant::now();
        assert!(!badge_stream.decode(&f).is_empty(), "badge frame {i} read");
        with_badge.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p95, max) = percentiles(still);
    println!("every pass (still images), 640x480, nothing in view: median {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms");
    let (p50, p95, max) = percentiles(stream);
    println!("camera stream, 640x480, nothing in view          : median {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms");
    let (p50, p95, max) = percentiles(with_badge);
    println!("camera stream, 640x480, badge in view            : median {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms");

    // First readable frame to committed check-in, through the scanner threads and the engine.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let store = Store::open(
        &dir.path().join("kiosk.db"),
        SeriesId::from_parts(0, [1; 10]),
        Utc::now(),
    )
    .expect("store");
    let mut engine = Engine::new(
        store,
        KioskId::new("bench").expect("kiosk"),
        TimeZone::new("America/Chicago").expect("tz"),
    )
    .expect("engine");
    let mut latencies = Vec::new();
    for round in 0..20u32 {
        // Half a second of empty frames, then the badge slides into view, 40 px a frame, at
        // 15 frames per second. The first readable frame is the first with the whole code in.
        let text = format!("PM1:M-{round:04}:1:TJAQP3RRLSEAFVD7");
        let code = badge(&text, 5);
        let quiet = 4 * 5;
        let mut frames: Vec<GrayImage> = (0..8).map(|i| background(round * 100 + i)).collect();
        let mut first_readable = None;
        for i in 0..15u32 {
            let x = -i64::from(code.width()) + 40 * i64::from(i);
            if first_readable.is_none() && x + quiet >= 0 {
                first_readable = Some(frames.len() as u32);
            }
            let mut f = background(round * 100 + 50 + i);
            image::imageops::overlay(&mut f, &code, x, 100);
            frames.push(f);
        }
        let first_readable = first_readable.expect("the badge comes fully into view");
        let (tx, rx) = mpsc::channel();
        let scanner = Scanner::start(
            move || Box::new(RecordedFrames::new(frames, 15.0, false)),
            move |s| {
                let _ = tx.send(s);
            },
        );
        let start = Instant::now();
        let sighting = rx.recv_timeout(Duration::from_secs(5)).expect("sighted");
        let outcome = engine.scan(&sighting.text, Utc::now()).expect("scan");
        let committed = Instant::now();
        assert!(matches!(outcome, ScanOutcome::Recorded(_)));
        // The first readable frame was due first_readable/15 s after the start.
        let first_due = start + Duration::from_secs_f64(f64::from(first_readable) / 15.0);
        latencies.push(
            committed
                .saturating_duration_since(first_due.min(sighting.captured))
                .as_secs_f64()
                * 1000.0,
        );
        drop(scanner);
    }
    let (p50, p95, max) = percentiles(latencies);
    println!("first readable frame -> committed check-in (15 fps, 20 rounds): median {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms");
}
