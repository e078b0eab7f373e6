//! The decode pipeline on frames made here: a real badge rendered with `qrcode`, then placed
//! and distorted the way a webcam in a parent room sees it. No file from outside the repository.

use image::{GrayImage, Luma};
use kiosk::decode::{decode_frame, decode_plain, StreamDecoder};
use qrcode::{EcLevel, QrCode};

const BADGE: &str = "PM1:M-0042:3:TJAQP3RRLSEAFVD7";

/// The badge's QR code, `px` pixels per module, with its quiet zone.
fn badge(px: u32) -> GrayImage {
    QrCode::with_error_correction_level(BADGE.as_bytes(), EcLevel::M)
        .expect("qr")
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(px, px)
        .build()
}

/// A 640×480 frame of a grey wall with `code` at (x, y).
fn frame_with(code: &GrayImage, x: i64, y: i64) -> GrayImage {
    let mut frame = GrayImage::from_pixel(640, 480, Luma([150]));
    image::imageops::overlay(&mut frame, code, x, y);
    frame
}

fn map(frame: &GrayImage, f: impl Fn(u32, u32, u8) -> u8) -> GrayImage {
    GrayImage::from_fn(frame.width(), frame.height(), |x, y| {
        Luma([f(x, y, frame.get_pixel(x, y).0[0])])
    })
}

/// Deterministic noise in -128..128, so the tests are the same every run.
fn noise(seed: u32) -> impl Fn(u32, u32) -> i32 {
    move |x, y| {
        let mut h = x.wrapping_mul(374_761_393)
            ^ y.wrapping_mul(668_265_263)
            ^ seed.wrapping_mul(2_246_822_519);
        h = (h ^ (h >> 13)).wrapping_mul(1_274_126_177);
        (h >> 24) as i32 - 128
    }
}

/// Rotates the frame by `degrees` about its centre (nearest neighbour, grey outside).
fn rotate(frame: &GrayImage, degrees: f64) -> GrayImage {
    let (w, h) = (f64::from(frame.width()), f64::from(frame.height()));
    let (s, c) = degrees.to_radians().sin_cos();
    GrayImage::from_fn(frame.width(), frame.height(), |x, y| {
        let (dx, dy) = (f64::from(x) - w / 2.0, f64::from(y) - h / 2.0);
        let (sx, sy) = (c * dx + s * dy + w / 2.0, -s * dx + c * dy + h / 2.0);
        if sx >= 0.0 && sy >= 0.0 && sx < w && sy < h {
            *frame.get_pixel(sx as u32, sy as u32)
        } else {
            Luma([150])
        }
    })
}

/// A bright spot washes out the right part of the frame: no single threshold fits it all.
fn with_glare(frame: &GrayImage) -> GrayImage {
    map(frame, |x, y, v| {
        let d = ((f64::from(x) - 430.0).powi(2) + (f64::from(y) - 240.0).powi(2)).sqrt();
        let glare = (150.0 * (1.0 - d / 260.0)).max(0.0);
        (f64::from(v) * 0.6 + glare).min(255.0) as u8
    })
}

fn check(name: &str, frame: &GrayImage) {
    assert_eq!(decode_frame(frame), vec![BADGE.to_owned()], "{name}");
}

#[test]
fn a_clean_badge_at_arms_length() {
    check("clean", &frame_with(&badge(6), 200, 100));
}

#[test]
fn a_small_badge_far_from_the_camera() {
    // 3 px per module: the whole code is under 100 px wide.
    let code = badge(3);
    assert!(code.width() < 100);
    check("small", &frame_with(&code, 300, 200));
}

#[test]
fn a_dim_room() {
    let f = map(&frame_with(&badge(5), 220, 120), |_, _, v| {
        40 + (u32::from(v) * 50 / 255) as u8
    });
    check("dim", &f);
}

#[test]
fn glare_across_the_badge() {
    check("glare", &with_glare(&frame_with(&badge(5), 200, 120)));
}

#[test]
fn a_slightly_blurred_and_noisy_frame() {
    let blurred = image::imageops::blur(&frame_with(&badge(6), 180, 90), 1.2);
    let n = noise(7);
    let f = map(&blurred, |x, y, v| {
        (i32::from(v) + n(x, y) / 5).clamp(0, 255) as u8
    });
    check("blur and noise", &f);
}

#[test]
fn a_badge_held_at_an_angle() {
    check(
        "rotated 20 degrees",
        &rotate(&frame_with(&badge(5), 230, 130), 20.0),
    );
}

#[test]
fn an_inverted_code() {
    let f = map(&frame_with(&badge(6), 200, 100), |_, _, v| 255 - v);
    check("inverted", &f);
}

/// Frames plain rqrr misses and the pipeline's retries read: each is a general condition.
fn check_beyond_plain_rqrr(name: &str, frame: &GrayImage) {
    assert!(
        decode_plain(frame).is_empty(),
        "{name}: plain rqrr reads this frame, so it shows nothing about the retries"
    );
    check(name, frame);
}

#[test]
fn a_shadow_across_half_the_badge() {
    let f = map(&frame_with(&badge(5), 200, 120), |x, _, v| {
        if x < 300 {
            v / 4 + 20
        } else {
            v
        }
    });
    check_beyond_plain_rqrr("half in shadow", &f);
}

#[test]
fn heavy_sensor_noise_on_a_small_badge() {
    let n = noise(7);
    let f = map(&frame_with(&badge(3), 180, 90), |x, y, v| {
        (i32::from(v) + n(x, y)).clamp(0, 255) as u8
    });
    check_beyond_plain_rqrr("noisy", &f);
}

#[test]
fn a_small_blurred_badge() {
    let f = image::imageops::blur(&frame_with(&badge(3), 180, 90), 1.2);
    check_beyond_plain_rqrr("small and blurred", &f);
}

#[test]
fn a_badge_moving_into_view_is_read_once_it_is_in_the_frame() {
    let code = badge(5);
    let width = i64::from(code.width());
    let mut first = None;
    for x in (-width..=240).step_by(40) {
        let texts = decode_frame(&frame_with(&code, x, 120));
        if x + width <= 0 {
            assert!(texts.is_empty(), "nothing to read yet at x={x}");
        }
        if !texts.is_empty() && first.is_none() {
            first = Some(x);
        }
    }
    let x = first.expect("read once in view");
    // The 4-module quiet zone (20 px) may still be cut off; the code itself must be whole.
    assert!(
        x + 20 >= 0,
        "read only when the whole code is in the frame (x={x})"
    );
}

#[test]
fn odd_frames_never_crash_and_never_invent_a_code() {
    let n = noise(99);
    let mut frames = vec![
        GrayImage::new(0, 0),
        GrayImage::new(1, 1),
        GrayImage::new(3, 1000),
        GrayImage::from_pixel(640, 480, Luma([0])),
        GrayImage::from_pixel(640, 480, Luma([255])),
    ];
    for seed in 0..30u32 {
        let (w, h) = (17 + seed * 37 % 700, 9 + seed * 53 % 500);
        frames.push(GrayImage::from_fn(w, h, |x, y| {
            Luma([(n(x + seed, y) + 128) as u8])
        }));
        // Stripes and checkerboards look like finder patterns to a naive detector.
        frames.push(GrayImage::from_fn(w, h, |x, y| {
            let on = (x / (1 + seed % 7) + y / (1 + seed % 5)) % 2 == 0;
            Luma([if on { 0 } else { 255 }])
        }));
    }
    for f in &frames {
        assert!(
            decode_frame(f).is_empty(),
            "{}x{} frame",
            f.width(),
            f.height()
        );
    }
}

#[test]
fn a_frame_over_eight_megapixels_is_scaled_down_and_still_read() {
    // A 4000×2400 frame (9.6 MP), badge in the middle: scaled to fit 8 MP first, every step
    // bounded, still read.
    let code = badge(12);
    let mut frame = GrayImage::from_pixel(4000, 2400, Luma([150]));
    image::imageops::overlay(&mut frame, &code, 1700, 900);
    assert_eq!(decode_frame(&frame), vec![BADGE.to_owned()]);
    let mut stream = StreamDecoder::default();
    assert_eq!(stream.decode(&frame), vec![BADGE.to_owned()]);
    // A huge blank one costs a bounded amount and finds nothing.
    let huge = GrayImage::from_pixel(9000, 9000, Luma([255]));
    assert!(decode_frame(&huge).is_empty());
}
