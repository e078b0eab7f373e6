//! Badge images: the bare QR code as PNG (quiet zone, 10 px per module) and SVG.

use std::path::Path;

use qrcode::{EcLevel, QrCode};

use crate::ServerError;

fn code(text: &str) -> Result<QrCode, ServerError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| ServerError::Invalid(format!("badge text does not fit a QR code: {e}")))
}

/// A PNG of the QR code with its 4-module quiet zone, `module_px` pixels per module.
pub fn png(text: &str, module_px: u32) -> Result<image::GrayImage, ServerError> {
    let code = code(text)?;
    Ok(code
        .render::<image::Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(module_px, module_px)
        .build())
}

pub fn svg(text: &str) -> Result<String, ServerError> {
    let code = code(text)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(200, 200)
        .build())
}

pub fn write_files(dir: &Path, mentor: &str, text: &str) -> Result<(), ServerError> {
    std::fs::create_dir_all(dir)?;
    png(text, 10)?
        .save(dir.join(format!("{mentor}.png")))
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    std::fs::write(dir.join(format!("{mentor}.svg")), svg(text)?)?;
    Ok(())
}
