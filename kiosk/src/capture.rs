//! Frames in, badge texts out. A [`FrameSource`] is the seam between the camera and the rest:
//! the webcam (nokhwa, feature `camera`) in production, recorded frames in tests, replay and the
//! demo. [`Scanner`] runs capture and decode on their own threads and never falls behind: a
//! new frame replaces one not yet decoded (dropped, counted), frames are never queued.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::GrayImage;

use crate::decode::{load_frame, StreamDecoder};
use crate::KioskError;

/// One camera frame, grayscale, with the moment it was captured.
#[derive(Debug, Clone)]
pub struct Frame {
    pub image: GrayImage,
    pub captured: Instant,
}

/// Why a source has no frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// No camera is connected (the UI says so and offers coordinator help).
    NoCamera,
    /// The camera failed; the source will try to reopen it.
    Failed(String),
    /// A recorded source has played all its frames.
    Finished,
}

/// Where frames come from. `next_frame` blocks until the next frame is due.
pub trait FrameSource: Send {
    fn next_frame(&mut self) -> Result<Frame, SourceError>;
}

/// Recorded frames from image files, played at a steady rate (optionally looping): tests,
/// replay and the demo's simulated camera.
pub struct RecordedFrames {
    frames: Vec<GrayImage>,
    next: usize,
    interval: Duration,
    looping: bool,
    due: Option<Instant>,
}

impl RecordedFrames {
    pub fn new(frames: Vec<GrayImage>, fps: f64, looping: bool) -> Self {
        Self {
            frames,
            next: 0,
            interval: Duration::from_secs_f64(1.0 / fps.max(0.1)),
            looping,
            due: None,
        }
    }

    /// Every image in `dir`, in name order.
    pub fn from_dir(dir: &std::path::Path, fps: f64, looping: bool) -> Result<Self, KioskError> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                    matches!(x.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg")
                })
            })
            .collect();
        paths.sort();
        let frames = paths
            .iter()
            .map(|p| load_frame(p))
            .collect::<Result<_, _>>()?;
        Ok(Self::new(frames, fps, looping))
    }
}

impl FrameSource for RecordedFrames {
    fn next_frame(&mut self) -> Result<Frame, SourceError> {
        if self.frames.is_empty() {
            return Err(SourceError::NoCamera);
        }
        if self.next >= self.frames.len() {
            if !self.looping {
                return Err(SourceError::Finished);
            }
            self.next = 0;
        }
        let now = Instant::now();
        let due = self.due.unwrap_or(now);
        if due > now {
            std::thread::sleep(due - now);
        }
        self.due = Some(due.max(now) + self.interval);
        let image = self.frames[self.next].clone();
        self.next += 1;
        Ok(Frame {
            image,
            captured: Instant::now(),
        })
    }
}

/// A badge text read from a frame, and when that frame was captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub text: String,
    pub captured: Instant,
}

/// Health of the capture and decode threads, for the UI and the health screen.
#[derive(Debug, Default)]
pub struct ScannerStats {
    pub frames: AtomicU64,
    pub decoded: AtomicU64,
    /// Frames replaced before they were decoded.
    pub dropped: AtomicU64,
    /// True while the source reports no camera.
    pub no_camera: AtomicBool,
}

/// A single-slot mailbox: the newest frame waits for the decoder; a newer one replaces it.
struct Slot {
    frame: Mutex<(Option<Frame>, bool)>,
    ready: Condvar,
}

/// Capture and decode threads. Dropping the scanner stops them.
pub struct Scanner {
    stop: Arc<AtomicBool>,
    slot: Arc<Slot>,
    pub stats: Arc<ScannerStats>,
    threads: Vec<JoinHandle<()>>,
}

impl Scanner {
    /// Starts capturing from `source`; `on_sighting` is called on the decode thread for every
    /// frame with a code in it (the caller applies the repeat window, via the engine).
    pub fn start(
        mut source: Box<dyn FrameSource>,
        on_sighting: impl Fn(Sighting) + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Slot {
            frame: Mutex::new((None, false)),
            ready: Condvar::new(),
        });
        let stats = Arc::new(ScannerStats::default());
        let capture = {
            let (stop, slot, stats) = (stop.clone(), slot.clone(), stats.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match source.next_frame() {
                        Ok(frame) => {
                            stats.no_camera.store(false, Ordering::Relaxed);
                            stats.frames.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut guard) = slot.frame.lock() {
                                if guard.0.replace(frame).is_some() {
                                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                                }
                                slot.ready.notify_one();
                            }
                        }
                        Err(SourceError::Finished) => break,
                        Err(SourceError::NoCamera) | Err(SourceError::Failed(_)) => {
                            stats.no_camera.store(true, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(500));
                        }
                    }
                }
                if let Ok(mut guard) = slot.frame.lock() {
                    guard.1 = true;
                    slot.ready.notify_one();
                }
            })
        };
        let decode = {
            let (stop, slot, stats) = (stop.clone(), slot.clone(), stats.clone());
            let mut decoder = StreamDecoder::default();
            std::thread::spawn(move || loop {
                let frame = {
                    let Ok(mut guard) = slot.frame.lock() else {
                        return;
                    };
                    while guard.0.is_none() && !guard.1 && !stop.load(Ordering::Relaxed) {
                        guard = match slot.ready.wait_timeout(guard, Duration::from_millis(100)) {
                            Ok((g, _)) => g,
                            Err(_) => return,
                        };
                    }
                    match guard.0.take() {
                        Some(frame) => frame,
                        None => return,
                    }
                };
                if let Some(text) = decoder.decode(&frame.image).into_iter().next() {
                    stats.decoded.fetch_add(1, Ordering::Relaxed);
                    on_sighting(Sighting {
                        text,
                        captured: frame.captured,
                    });
                }
            })
        };
        Self {
            stop,
            slot,
            stats,
            threads: vec![capture, decode],
        }
    }

    /// Waits until a finite source has played out and its last frame is decoded.
    pub fn join(mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.slot.ready.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
