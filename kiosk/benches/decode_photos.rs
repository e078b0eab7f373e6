//! Decode rate, wrong decodes and time per image on the real photos in `../shared/qr-photos`
//! (not part of the repository; the bench says so and stops when they are absent).
//!
//! Run: `cargo bench -p kiosk --bench decode_photos`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kiosk::decode::{
    decode_frame, decode_frame_traced, decode_plain, decode_rxing, load_frame, PASSES,
};

struct Tally {
    name: &'static str,
    right: usize,
    wrong: usize,
    millis: Vec<f64>,
}

fn photos(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for set in ["set-1", "set-2", "set-3"] {
        let Ok(entries) = std::fs::read_dir(root.join(set)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "png" || x == "jpg"))
            .collect();
        paths.sort();
        for p in paths {
            if let Ok(expected) = std::fs::read_to_string(p.with_extension("txt")) {
                out.push((p, expected));
            }
        }
    }
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/qr-photos");
    let photos = photos(&root);
    if photos.is_empty() {
        println!("no photos at {}: nothing to measure", root.display());
        return;
    }
    let mut tallies = [
        (
            Tally {
                name: "plain rqrr",
                right: 0,
                wrong: 0,
                millis: vec![],
            },
            decode_plain as fn(&image::GrayImage) -> Vec<String>,
        ),
        (
            Tally {
                name: "rxing alone",
                right: 0,
                wrong: 0,
                millis: vec![],
            },
            decode_rxing,
        ),
        (
            Tally {
                name: "kiosk pipeline",
                right: 0,
                wrong: 0,
                millis: vec![],
            },
            decode_frame,
        ),
    ];
    let verbose = std::env::var("PM_BENCH_VERBOSE").is_ok();
    let mut contributions = [0usize; PASSES.len()];
    for (path, expected) in &photos {
        let frame = load_frame(path).expect("photo");
        if let Some((pass, _)) = decode_frame_traced(&frame) {
            contributions[pass] += 1;
        }
        for (tally, decode) in tallies.iter_mut() {
            let t = Instant::now();
            let texts = decode(&frame);
            tally.millis.push(t.elapsed().as_secs_f64() * 1000.0);
            match texts.first() {
                // The expected texts were saved with LF line ends; codes may carry CRLF.
                Some(text)
                    if text.replace("\r\n", "\n").trim_end()
                        == expected.replace("\r\n", "\n").trim_end() =>
                {
                    tally.right += 1
                }
                Some(text) => {
                    tally.wrong += 1;
                    if verbose {
                        println!("WRONG {}: {text:?}", path.display());
                    }
                }
                None if verbose => println!("miss  {} ({})", path.display(), tally.name),
                None => {}
            }
        }
    }
    println!("{} photos ({}):", photos.len(), root.display());
    println!("| decoder | decoded | rate | wrong | median ms | p95 ms |");
    println!("|---|---|---|---|---|---|");
    for (t, _) in tallies.iter_mut() {
        t.millis.sort_by(f64::total_cmp);
        let pct = |p: f64| t.millis[((t.millis.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {} | {}/{} | {:.1}% | {} | {:.1} | {:.1} |",
            t.name,
            t.right,
            photos.len(),
            100.0 * t.right as f64 / photos.len() as f64,
            t.wrong,
            pct(0.5),
            pct(0.95)
        );
    }
    println!();
    println!("| kiosk pipeline pass | photos it read first |");
    println!("|---|---|");
    for (name, n) in PASSES.iter().zip(contributions) {
        println!("| {name} | {n} |");
    }
}
