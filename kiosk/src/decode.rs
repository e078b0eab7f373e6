//! QR decoding of camera frames and image files. Every decode is guarded: rqrr has been seen to
//! panic on real photos, and a camera frame must never take the kiosk down.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use image::GrayImage;

use crate::KioskError;

/// How many decodes panicked inside the decoder and were contained (for the health screen).
pub static DECODER_PANICS: AtomicU64 = AtomicU64::new(0);

/// Every QR text found in a grayscale frame, in the decoder's order.
pub fn decode_frame(frame: &GrayImage) -> Vec<String> {
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

/// Loads an image file as a grayscale frame.
pub fn load_frame(path: &Path) -> Result<GrayImage, KioskError> {
    let image = image::ImageReader::open(path)
        .map_err(|e| KioskError::Image {
            path: path.display().to_string(),
            why: e.to_string(),
        })?
        .with_guessed_format()
        .map_err(|e| KioskError::Image {
            path: path.display().to_string(),
            why: e.to_string(),
        })?
        .decode()
        .map_err(|e| KioskError::Image {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
    Ok(image.to_luma8())
}

/// Decodes an image file.
pub fn decode_file(path: &Path) -> Result<Vec<String>, KioskError> {
    Ok(decode_frame(&load_frame(path)?))
}
