//! QR decoding of camera frames and image files.
//!
//! rqrr first, on the frame as it is; frames it cannot read get general retries for what a
//! webcam in a dim parent room sees: local (adaptive) binarization for uneven light and glare,
//! a double-size copy for codes held far away, then rxing (a port of ZXing, with its hybrid
//! binarizer and finder search) as a second decoder, and an inverted copy. BENCHMARKS.md says
//! what each pass contributes on real photos. Every decode is guarded: rqrr has been seen to
//! panic on real photos, and a camera frame must never take the kiosk down.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use image::imageops::FilterType;
use image::GrayImage;

use crate::KioskError;

/// How many decodes panicked inside the decoder and were contained (for the health screen).
pub static DECODER_PANICS: AtomicU64 = AtomicU64::new(0);

/// rqrr alone on the frame as it is: the baseline the pipeline is measured against.
pub fn decode_plain(frame: &GrayImage) -> Vec<String> {
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        let mut prepared = rqrr::PreparedImage::prepare(frame.clone());
        prepared
            .detect_grids()
            .into_iter()
            .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
            .collect::<Vec<String>>()
    }));
    attempt.unwrap_or_else(|_| {
        DECODER_PANICS.fetch_add(1, Ordering::Relaxed);
        Vec::new()
    })
}

/// rxing (a Rust port of ZXing) with its hybrid binarizer, trying harder: the second decoder,
/// for frames the rqrr passes cannot read.
pub fn decode_rxing(frame: &GrayImage) -> Vec<String> {
    use rxing::common::HybridBinarizer;
    use rxing::qrcode::QRCodeReader;
    use rxing::{BinaryBitmap, DecodeHints, ImmutableReader, Luma8LuminanceSource};
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        let (w, h) = frame.dimensions();
        let hints = DecodeHints {
            TryHarder: Some(true),
            ..Default::default()
        };
        let source = Luma8LuminanceSource::new(frame.as_raw().clone(), w, h);
        let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
        QRCodeReader::new()
            .immutable_decode_with_hints(&mut bitmap, &hints)
            .map(|r| vec![r.getText().to_owned()])
            .unwrap_or_default()
    }));
    attempt.unwrap_or_else(|_| {
        DECODER_PANICS.fetch_add(1, Ordering::Relaxed);
        Vec::new()
    })
}

/// The decode passes, in the order they are tried; the first that reads anything wins.
pub const PASSES: [&str; 5] = [
    "rqrr",
    "rqrr, adaptive binarization",
    "rqrr, double size, adaptive",
    "rxing",
    "rqrr, inverted",
];

/// Every QR text found in a grayscale frame.
pub fn decode_frame(frame: &GrayImage) -> Vec<String> {
    decode_frame_traced(frame)
        .map(|(_, texts)| texts)
        .unwrap_or_default()
}

/// Like [`decode_frame`], and which of [`PASSES`] read it.
pub fn decode_frame_traced(frame: &GrayImage) -> Option<(usize, Vec<String>)> {
    let frame = bounded(frame)?;
    (0..PASSES.len()).find_map(|i| {
        Some(run_pass(i, &frame))
            .filter(|t| !t.is_empty())
            .map(|t| (i, t))
    })
}

/// Frames larger than this are scaled down before any pass: a badge needs far fewer pixels, and
/// every pass's memory and arithmetic stay bounded.
pub const MAX_PIXELS: u64 = 8_000_000;

/// The frame, scaled down to at most [`MAX_PIXELS`] (behind the panic guard too); `None` if
/// even that failed or the frame is empty.
fn bounded(frame: &GrayImage) -> Option<std::borrow::Cow<'_, GrayImage>> {
    let (w, h) = frame.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels == 0 {
        return None;
    }
    if pixels <= MAX_PIXELS {
        return Some(std::borrow::Cow::Borrowed(frame));
    }
    let scale = (MAX_PIXELS as f64 / pixels as f64).sqrt();
    let (nw, nh) = (
        ((f64::from(w) * scale) as u32).max(1),
        ((f64::from(h) * scale) as u32).max(1),
    );
    guarded(|| image::imageops::resize(frame, nw, nh, FilterType::Triangle))
        .map(std::borrow::Cow::Owned)
}

/// Runs a step of decoding behind the panic guard: a panic is counted and contained.
fn guarded<T>(step: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(step))
        .map_err(|_| DECODER_PANICS.fetch_add(1, Ordering::Relaxed))
        .ok()
}

/// Runs one of [`PASSES`] on a frame (of at most [`MAX_PIXELS`]; larger frames are scaled
/// down first), every step of it behind the panic guard.
pub fn run_pass(pass: usize, frame: &GrayImage) -> Vec<String> {
    let Some(frame) = bounded(frame) else {
        return Vec::new();
    };
    guarded(|| run_pass_unguarded(pass, &frame)).unwrap_or_default()
}

fn run_pass_unguarded(pass: usize, frame: &GrayImage) -> Vec<String> {
    let (w, h) = frame.dimensions();
    match pass {
        0 => decode_plain(frame),
        1 => decode_plain(&adaptive_binarize(frame)),
        // Up to 1280 px: a far-away code gets more pixels per module at double size.
        // (Half-size passes were tried and read none of the real photos that these did not.)
        2 if w.max(h) <= 1280 => {
            let double = image::imageops::resize(frame, w * 2, h * 2, FilterType::Triangle);
            decode_plain(&adaptive_binarize(&double))
        }
        3 => decode_rxing(frame),
        4 => {
            let mut inverted = frame.clone();
            image::imageops::invert(&mut inverted);
            decode_plain(&inverted)
        }
        _ => Vec::new(),
    }
}

/// Decoding for a live camera. A badge held up stays in view for many frames, so each frame
/// gets plain rqrr plus one of the retries in turn, instead of every retry: an empty frame
/// (the common case) costs one retry, and a hard-to-read badge is still tried every way within
/// a few frames.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    frames: usize,
}

impl StreamDecoder {
    pub fn decode(&mut self, frame: &GrayImage) -> Vec<String> {
        let retry = 1 + self.frames % (PASSES.len() - 1);
        self.frames = self.frames.wrapping_add(1);
        let Some(frame) = bounded(frame) else {
            return Vec::new();
        };
        let found = run_pass(0, &frame);
        if found.is_empty() {
            run_pass(retry, &frame)
        } else {
            found
        }
    }
}

/// Black where a pixel is darker than the mean of its neighbourhood (about 1/8 of the frame's
/// shorter side) by a small margin, white elsewhere: uneven light and glare stop mattering.
pub fn adaptive_binarize(frame: &GrayImage) -> GrayImage {
    let (w, h) = frame.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let pixels = frame.as_raw();
    // Integral image with a leading row and column of zeros; u32 holds 255 × 16.8 M pixels,
    // more than the 8 M a frame may have by the time it gets here.
    let stride = wu + 1;
    let mut integral = vec![0u32; stride * (hu + 1)];
    for y in 0..hu {
        let mut row = 0u32;
        let src = &pixels[y * wu..(y + 1) * wu];
        let (above, below) = integral.split_at_mut((y + 1) * stride);
        let above = &above[y * stride..];
        for x in 0..wu {
            row += u32::from(src[x]);
            below[x + 1] = above[x + 1] + row;
        }
    }
    let radius = (w.min(h) as usize / 16).max(4);
    let mut out = vec![255u8; wu * hu];
    for y in 0..hu {
        let (y0, y1) = (y.saturating_sub(radius), (y + radius + 1).min(hu));
        let (top, bottom) = (&integral[y0 * stride..], &integral[y1 * stride..]);
        let src = &pixels[y * wu..(y + 1) * wu];
        let dst = &mut out[y * wu..(y + 1) * wu];
        for x in 0..wu {
            let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(wu));
            let sum = u64::from(bottom[x1] + top[x0] - top[x1] - bottom[x0]);
            let count = ((x1 - x0) * (y1 - y0)) as u64;
            // 7/8 of the local mean: a pixel must be clearly darker to count as a module.
            if u64::from(src[x]) * count * 8 < sum * 7 {
                dst[x] = 0;
            }
        }
    }
    GrayImage::from_raw(w, h, out).unwrap_or_else(|| GrayImage::new(w, h))
}

/// Loads an image file as a grayscale frame.
pub fn load_frame(path: &Path) -> Result<GrayImage, KioskError> {
    let err = |e: &dyn std::fmt::Display| KioskError::Image {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    let image = image::ImageReader::open(path)
        .map_err(|e| err(&e))?
        .with_guessed_format()
        .map_err(|e| err(&e))?
        .decode()
        .map_err(|e| err(&e))?;
    Ok(image.to_luma8())
}

/// Decodes an image file.
pub fn decode_file(path: &Path) -> Result<Vec<String>, KioskError> {
    Ok(decode_frame(&load_frame(path)?))
}
