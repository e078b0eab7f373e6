//! Raw frames into the decoder: any pixels, any size up to 320×240, never a panic or a made-up
//! code. `PM_FUZZ_CASES=10000 cargo test --release -p kiosk --test fuzz` is the long mode.

use image::{GrayImage, Luma};
use kiosk::decode::{decode_frame, StreamDecoder};
use proptest::prelude::*;

fn cases(normal: u32) -> u32 {
    std::env::var("PM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(normal)
}

/// A frame: noise, blocks or stripes (what fools finder-pattern detectors), any size.
fn frame() -> impl Strategy<Value = GrayImage> {
    (0u32..=320, 0u32..=240, any::<u64>(), 0u8..3).prop_map(|(w, h, seed, style)| {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let block = 1 + (seed % 9) as u32;
        let mut blocks = std::collections::HashMap::new();
        GrayImage::from_fn(w, h, |x, y| {
            let v = match style {
                0 => next() as u8,
                1 => *blocks.entry((x / block, y / block)).or_insert_with(|| {
                    if next() % 2 == 0 {
                        0
                    } else {
                        255
                    }
                }),
                _ => {
                    if (x / block + y / (block + 1)) % 2 == 0 {
                        0
                    } else {
                        255
                    }
                }
            };
            Luma([v])
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    #[test]
    fn any_frame_decodes_to_nothing_without_panicking(f in frame()) {
        prop_assert!(decode_frame(&f).is_empty());
        let mut stream = StreamDecoder::default();
        for _ in 0..4 {
            prop_assert!(stream.decode(&f).is_empty());
        }
    }
}
