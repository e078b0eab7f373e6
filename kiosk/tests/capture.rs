//! The scanner threads behind the frame-source seam, fed recorded frames made here.

use std::sync::mpsc;
use std::time::Duration;

use image::{GrayImage, Luma};
use kiosk::capture::{RecordedFrames, Scanner};
use qrcode::{EcLevel, QrCode};

const BADGE: &str = "PM1:M-0007:1:TJAQP3RRLSEAFVD7";

fn badge_frame(x: i64) -> GrayImage {
    let code = QrCode::with_error_correction_level(BADGE.as_bytes(), EcLevel::M)
        .expect("qr")
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(5, 5)
        .build();
    let mut frame = GrayImage::from_pixel(640, 480, Luma([150]));
    image::imageops::overlay(&mut frame, &code, x, 120);
    frame
}

#[test]
fn a_badge_moving_into_view_is_sighted() {
    let frames: Vec<GrayImage> = (0..15).map(|i| badge_frame(-200 + 30 * i)).collect();
    let (tx, rx) = mpsc::channel();
    let scanner = Scanner::start(
        move || Box::new(RecordedFrames::new(frames, 15.0, false)),
        move |s| {
            let _ = tx.send(s.text);
        },
    );
    let stats = scanner.stats.clone();
    scanner.join();
    let seen: Vec<String> = rx.try_iter().collect();
    assert!(!seen.is_empty(), "the badge was read");
    assert!(seen.iter().all(|t| t == BADGE));
    let frames = stats.frames.load(std::sync::atomic::Ordering::Relaxed);
    let dropped = stats.dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(frames, 15);
    assert!(dropped < frames);
}

#[test]
fn a_camera_faster_than_the_decoder_drops_frames_instead_of_queueing() {
    // 200 frames as fast as the source can give them: the decoder sees only the newest.
    let frames: Vec<GrayImage> = (0..200).map(|i| badge_frame(100 + i % 5)).collect();
    let (tx, rx) = mpsc::channel();
    let scanner = Scanner::start(
        move || Box::new(RecordedFrames::new(frames, 10_000.0, false)),
        move |s| {
            let _ = tx.send(s.captured);
        },
    );
    let stats = scanner.stats.clone();
    scanner.join();
    let decoded = rx.try_iter().count() as u64;
    let dropped = stats.dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(stats.frames.load(std::sync::atomic::Ordering::Relaxed), 200);
    assert!(dropped > 0, "frames were dropped");
    assert!(
        decoded + dropped <= 200,
        "{decoded} decoded + {dropped} dropped"
    );
    assert!(decoded >= 1);
}

#[test]
fn no_camera_is_reported_not_fatal() {
    let scanner = Scanner::start(
        move || Box::new(RecordedFrames::new(Vec::new(), 15.0, true)),
        |_| {},
    );
    // The capture thread reports it as soon as it runs (a loaded machine may take a while).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !scanner
        .stats
        .no_camera
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no camera never reported"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(scanner); // stops both threads
}

#[cfg(feature = "camera")]
#[test]
fn without_a_camera_the_webcam_says_so_and_nothing_crashes() {
    use kiosk::capture::{list_cameras, CameraChoice, FrameSource, SourceError, Webcam};
    if !list_cameras().is_empty() {
        eprintln!("this machine has a camera: the no-camera path is not exercised here");
        return;
    }
    let mut webcam = Webcam::new(CameraChoice::Index(0));
    assert_eq!(webcam.next_frame().err(), Some(SourceError::NoCamera));
    let mut by_name = Webcam::new(CameraChoice::Name("Logitech".into()));
    assert_eq!(by_name.next_frame().err(), Some(SourceError::NoCamera));
    let scanner = Scanner::start(|| Box::new(Webcam::new(CameraChoice::Index(0))), |_| {});
    std::thread::sleep(Duration::from_millis(300));
    assert!(scanner
        .stats
        .no_camera
        .load(std::sync::atomic::Ordering::Relaxed));
}
