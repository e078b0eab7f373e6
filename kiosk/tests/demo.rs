//! `kiosk --demo`'s pieces: its badge frames in `assets/demo/frames/` are real QR images of the
//! demo badges (they decode through the real pipeline), and the demo roster accepts them.
//! `cargo test -p kiosk --test demo -- --ignored` rewrites the frames.

use chrono::{Duration, Utc};
use image::{GrayImage, Luma};
use kiosk::decode::decode_frame;
use kiosk::demo;
use kiosk::engine::{Direction, ScanOutcome};
use qrcode::{EcLevel, QrCode};

fn frames_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo/frames")
}

/// A parent-room wall with a badge card held up, a little off-centre.
fn scene(text: Option<&str>) -> GrayImage {
    let mut frame = GrayImage::from_fn(640, 480, |x, y| {
        Luma([(130 + (x / 16 + y / 24) % 12) as u8])
    });
    if let Some(text) = text {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .expect("qr")
            .render::<Luma<u8>>()
            .quiet_zone(true)
            .module_dimensions(7, 7)
            .build();
        let card = GrayImage::from_pixel(code.width() + 40, code.height() + 90, Luma([235]));
        let (cx, cy) = (200, 60);
        image::imageops::overlay(&mut frame, &card, cx, cy);
        image::imageops::overlay(&mut frame, &code, cx + 20, cy + 20);
    }
    frame
}

#[test]
#[ignore = "rewrites assets/demo/frames; run by hand when the demo badges change"]
fn regenerate_demo_frames() {
    let texts = demo::badge_texts().expect("badges");
    let dir = frames_dir();
    scene(None).save(dir.join("blank.png")).expect("blank");
    scene(Some(&texts[0].1))
        .save(dir.join("maria.png"))
        .expect("maria");
    scene(Some(&texts[1].1))
        .save(dir.join("ann.png"))
        .expect("ann");
    scene(Some(demo::FLYER_TEXT))
        .save(dir.join("flyer.png"))
        .expect("flyer");
}

#[test]
fn demo_frames_hold_the_demo_badges() {
    let texts = demo::badge_texts().expect("badges");
    let mut seen: Vec<Vec<String>> = Vec::new();
    let frames = demo::frames().expect("frames");
    for f in &frames {
        let found = decode_frame(f);
        if seen.last() != Some(&found) {
            seen.push(found);
        }
    }
    let expect = |t: &str| vec![t.to_owned()];
    assert_eq!(
        seen,
        vec![
            vec![],
            expect(&texts[0].1),
            vec![],
            expect(&texts[1].1),
            vec![],
            expect(demo::FLYER_TEXT),
            vec![],
        ]
    );
}

#[test]
fn the_demo_roster_accepts_its_badges_and_refuses_the_flyer() {
    let dir = tempfile::tempdir().expect("dir");
    let zone = pm_shared::TimeZone::new("America/Chicago").expect("tz");
    let now = Utc::now();
    let mut engine = demo::engine(dir.path(), zone, now).expect("demo engine");
    let texts = demo::badge_texts().expect("badges");
    let ScanOutcome::Recorded(c) = engine.scan(&texts[0].1, now).expect("scan") else {
        panic!("María's demo badge is accepted");
    };
    assert_eq!(c.name.as_deref(), Some("María López"));
    assert_eq!(c.language.code(), "es");
    assert_eq!(c.direction, Direction::In);
    let ScanOutcome::Recorded(c) = engine
        .scan(&texts[0].1, now + Duration::seconds(17))
        .expect("scan")
    else {
        panic!("the next loop checks her out");
    };
    assert_eq!(c.direction, Direction::Out);
    assert!(matches!(
        engine.scan(demo::FLYER_TEXT, now).expect("scan"),
        ScanOutcome::Rejected(_)
    ));
    // The demo starts with something for the coordinator to fix: Rosa's check-out from
    // yesterday is missing, Fatima is in.
    let today = engine.today(now).expect("today");
    assert!(today
        .iter()
        .any(|s| s.mentor.as_str() == "M-0003" && s.is_open()));
    assert!(today
        .iter()
        .any(|s| s.mentor.as_str() == "M-0004" && s.is_open()));
}
