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

/// Writes a mentor's badge as PNG and SVG into `dir` (see [`private_dir`]): files only their
/// owner can read, since a badge's text is what proves her presence.
pub fn write_files(dir: &Path, mentor: &str, text: &str) -> Result<(), ServerError> {
    private_dir(dir)?;
    let mut png_bytes = std::io::Cursor::new(Vec::new());
    png(text, 10)?
        .write_to(&mut png_bytes, image::ImageFormat::Png)
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    write_private(&dir.join(format!("{mentor}.png")), png_bytes.get_ref())?;
    write_private(&dir.join(format!("{mentor}.svg")), svg(text)?.as_bytes())?;
    Ok(())
}

/// Creates `dir` if needed and makes it its owner's alone (0700).
pub fn private_dir(dir: &Path) -> Result<(), ServerError> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes (or replaces) a file readable and writable by its owner only (0600), whatever
/// permissions an older copy had.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        std::io::Write::write_all(&mut &file, bytes)?;
        file.sync_all()?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, bytes)?;
    Ok(())
}

/// One badge on the printable sheet.
pub struct SheetBadge<'a> {
    pub mentor: &'a str,
    pub name: &'a str,
    pub school: &'a str,
}

fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// A printable page of ID-card-sized badges (85.6 × 54 mm, CSS print layout) that uses the
/// PNGs written beside it. Open it in a browser and print at 100 %.
pub fn sheet_html(badges: &[SheetBadge<'_>]) -> String {
    let mut cards = String::new();
    for b in badges {
        cards.push_str(&format!(
            "<div class=\"card\"><img src=\"{id}.png\" alt=\"QR badge\"><div class=\"who\"><div class=\"name\">{name}</div><div class=\"school\">{school}</div><div class=\"id\">{id}</div><div class=\"hint\">Parent Mentor · Madre/Padre Mentor</div></div></div>\n",
            id = escape_html(b.mentor),
            name = escape_html(b.name),
            school = escape_html(b.school),
        ));
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parent Mentor badges</title>
<style>
  @page {{ size: letter; margin: 10mm; }}
  body {{ margin: 0; font-family: system-ui, "DejaVu Sans", sans-serif; color: #1d2733; }}
  .sheet {{ display: flex; flex-wrap: wrap; gap: 4mm; }}
  .card {{ width: 85.6mm; height: 54mm; border: 0.3mm dashed #999; border-radius: 3mm; display: flex;
           align-items: center; gap: 3mm; padding: 3mm; box-sizing: border-box; break-inside: avoid; }}
  .card img {{ width: 44mm; height: 44mm; image-rendering: pixelated; }}
  .name {{ font-size: 14pt; font-weight: 700; line-height: 1.15; }}
  .school {{ font-size: 10pt; margin-top: 1.5mm; }}
  .id {{ font-size: 9pt; color: #5b6773; margin-top: 1.5mm; }}
  .hint {{ font-size: 7.5pt; color: #5b6773; margin-top: 3mm; }}
</style></head>
<body><div class="sheet">
{cards}</div></body></html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_escapes_names() {
        let html = sheet_html(&[SheetBadge {
            mentor: "M-1",
            name: "<script>x</script> & Ana",
            school: "Lincoln",
        }]);
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt; &amp; Ana"));
        assert!(html.contains("src=\"M-1.png\""));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn png_has_quiet_zone_and_8px_modules_or_more() {
        let img = png("PM1:M-1:1:TJAQP3RRLSEAFVD7", 10).expect("png");
        // Version 2 is 25 modules, plus 4 quiet modules each side: 33 × 10 px.
        assert_eq!(img.width(), 330);
        assert!(img.get_pixel(5, 5).0[0] > 200, "quiet zone is white");
    }
}
