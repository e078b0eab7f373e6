//! What one PIN check costs on this machine: `cargo run --release -p pm-shared --example
//! pin_cost`. Prints the median of 9 checks, in milliseconds, for the PINs set now and for the
//! older parameters (PINs set before keep theirs: a hash carries its parameters).

use std::time::Instant;

fn median_ms(hash: &str) -> f64 {
    let mut samples: Vec<f64> = (0..9)
        .map(|_| {
            let start = Instant::now();
            assert!(pm_shared::verify_pin("48291375", hash));
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let now = pm_shared::hash_pin("48291375", &[7; 16]).expect("hash");
    println!(
        "current parameters ({}): {:.1} ms",
        params(&now),
        median_ms(&now)
    );
    let old = pm_shared::hash_pin_with("48291375", &[7; 16], 19 * 1024, 2).expect("hash");
    println!("before ({}): {:.1} ms", params(&old), median_ms(&old));
}

fn params(hash: &str) -> &str {
    hash.split('$').nth(3).unwrap_or_default()
}
