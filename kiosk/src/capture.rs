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

/// Where frames come from. `next_frame` blocks until the next frame is due. Sources need not be
/// `Send` (a nokhwa camera is not): the scanner makes its source on the capture thread.
pub trait FrameSource {
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
    /// Starts capturing from the source `make_source` makes (on the capture thread);
    /// `on_sighting` is called on the decode thread for every frame with a code in it (the
    /// caller applies the repeat window, via the engine).
    pub fn start(
        make_source: impl FnOnce() -> Box<dyn FrameSource> + Send + 'static,
        on_sighting: impl Fn(Sighting) + Send + 'static,
    ) -> Self {
        Self::start_with_preview(make_source, on_sighting, |_: &Frame| {})
    }

    /// As [`Scanner::start`], and also shows each captured frame to `on_frame` on the
    /// capture thread (the UI's preview), before it goes to the decoder.
    pub fn start_with_preview(
        make_source: impl FnOnce() -> Box<dyn FrameSource> + Send + 'static,
        on_sighting: impl Fn(Sighting) + Send + 'static,
        mut on_frame: impl FnMut(&Frame) + Send + 'static,
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
                let mut source = make_source();
                while !stop.load(Ordering::Relaxed) {
                    match source.next_frame() {
                        Ok(frame) => {
                            on_frame(&frame);
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

/// Which camera to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraChoice {
    Index(u32),
    /// The first camera whose name contains this text.
    Name(String),
}

#[cfg(feature = "camera")]
pub use webcam::{list_cameras, Webcam};

#[cfg(feature = "camera")]
mod webcam {
    use std::time::{Duration, Instant};

    use image::GrayImage;
    use nokhwa::pixel_format::LumaFormat;
    use nokhwa::utils::{
        ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
        Resolution,
    };

    use super::{CameraChoice, Frame, FrameSource, SourceError};

    /// The cameras the system reports: (index, name). Empty, not an error, with none attached.
    pub fn list_cameras() -> Vec<(u32, String)> {
        nokhwa::query(ApiBackend::Auto)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|info| match info.index() {
                CameraIndex::Index(i) => Some((*i, info.human_name())),
                CameraIndex::String(_) => None,
            })
            .collect()
    }

    /// A webcam through nokhwa: 640×480 MJPEG where offered. It opens the camera lazily, says
    /// "no camera" while there is none, and reopens it (at most once a second) after it is
    /// unplugged.
    pub struct Webcam {
        choice: CameraChoice,
        camera: Option<nokhwa::Camera>,
        last_attempt: Option<Instant>,
    }

    impl Webcam {
        pub fn new(choice: CameraChoice) -> Self {
            Self {
                choice,
                camera: None,
                last_attempt: None,
            }
        }

        fn open(&mut self) -> Result<(), SourceError> {
            if self
                .last_attempt
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
            {
                return Err(SourceError::NoCamera);
            }
            self.last_attempt = Some(Instant::now());
            let cameras = list_cameras();
            let index = match &self.choice {
                CameraChoice::Index(i) => cameras.iter().find(|(c, _)| c == i).map(|(c, _)| *c),
                CameraChoice::Name(n) => cameras
                    .iter()
                    .find(|(_, name)| name.to_lowercase().contains(&n.to_lowercase()))
                    .map(|(c, _)| *c),
            }
            .ok_or(SourceError::NoCamera)?;
            let wanted = CameraFormat::new(Resolution::new(640, 480), FrameFormat::MJPEG, 30);
            let format = RequestedFormat::new::<LumaFormat>(RequestedFormatType::Closest(wanted));
            let mut camera = nokhwa::Camera::new(CameraIndex::Index(index), format)
                .map_err(|e| SourceError::Failed(e.to_string()))?;
            camera
                .open_stream()
                .map_err(|e| SourceError::Failed(e.to_string()))?;
            self.camera = Some(camera);
            Ok(())
        }
    }

    impl FrameSource for Webcam {
        fn next_frame(&mut self) -> Result<Frame, SourceError> {
            if self.camera.is_none() {
                self.open()?;
            }
            let Some(camera) = self.camera.as_mut() else {
                return Err(SourceError::NoCamera);
            };
            let grabbed = camera
                .frame()
                .and_then(|buffer| buffer.decode_image::<LumaFormat>());
            match grabbed {
                Ok(image) => {
                    let (w, h) = (image.width(), image.height());
                    let image = GrayImage::from_raw(w, h, image.into_raw())
                        .ok_or_else(|| SourceError::Failed("frame of the wrong size".into()))?;
                    Ok(Frame {
                        image,
                        captured: Instant::now(),
                    })
                }
                Err(e) => {
                    // Unplugged or failed: drop it and reopen on a later call.
                    self.camera = None;
                    Err(SourceError::Failed(e.to_string()))
                }
            }
        }
    }
}
