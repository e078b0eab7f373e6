//! Every kiosk screen rendered headlessly with Slint's software renderer, in English and in
//! Spanish, written to `target/screenshots/` to be looked at, and checked for what a mentor must
//! see.

use std::rc::Rc;

use chrono::{Duration, TimeZone as _, Utc};
use kiosk::engine::{Confirmation, Direction, Rejection, ScanOutcome};
use kiosk::ui::{self, KioskState, MainWindow, Screen};
use pm_shared::{EventId, Language, MentorId, TimeZone};
use slint::platform::software_renderer::{
    MinimalSoftwareWindow, PremultipliedRgbaColor, RepaintBufferType,
};
use slint::platform::{Platform, WindowAdapter};
use slint::ComponentHandle;

const W: u32 = 1280;
const H: u32 = 800;

struct Headless(Rc<MinimalSoftwareWindow>);

impl Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.0.clone())
    }
}

fn render(window: &MinimalSoftwareWindow, name: &str) -> image::RgbaImage {
    slint::platform::update_timers_and_animations();
    window.request_redraw();
    let mut buffer = vec![PremultipliedRgbaColor::default(); (W * H) as usize];
    window.draw_if_needed(|renderer| {
        renderer.render(&mut buffer, W as usize);
    });
    let bytes: Vec<u8> = buffer
        .iter()
        .flat_map(|p| [p.red, p.green, p.blue, 255])
        .collect();
    let img = image::RgbaImage::from_raw(W, H, bytes).expect("frame buffer");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    img.save(dir.join(format!("{name}.png")))
        .expect("save screenshot");
    img
}

fn confirmation(language: Language, direction: Direction) -> ScanOutcome {
    let zone = TimeZone::new("America/Chicago").expect("tz");
    let at = zone
        .tz()
        .with_ymd_and_hms(2026, 10, 5, 8, 2, 0)
        .single()
        .expect("t")
        .with_timezone(&Utc);
    let c = Confirmation {
        mentor: MentorId::new("M-1").expect("id"),
        name: Some("María López".into()),
        language,
        direction,
        at: if direction == Direction::In {
            at
        } else {
            at + Duration::hours(2)
        },
        time_zone: zone,
        today: Duration::hours(2),
        period_time: Duration::minutes(62 * 60 + 30),
        threshold: Duration::hours(100),
        provisional: false,
        event: EventId::from_parts(1, [1; 10]),
    };
    ScanOutcome::Recorded(c)
}

#[test]
fn every_screen_in_english_and_spanish() {
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    slint::platform::set_platform(Box::new(Headless(window.clone()))).expect("platform");
    let app = MainWindow::new().expect("ui");
    window.set_size(slint::PhysicalSize::new(W, H));
    app.show().expect("show");
    let now = Utc
        .with_ymd_and_hms(2026, 10, 5, 13, 2, 0)
        .single()
        .expect("now");
    let zone = TimeZone::new("America/Chicago").expect("tz");

    let mut shots = Vec::new();
    for lang in ["en", "es"] {
        ui::set_language(lang);
        ui::show_scan(
            &app,
            "Lincoln Elementary",
            now,
            zone,
            true,
            "synced 2 min ago",
        );
        shots.push(render(&window, &format!("scan-{lang}")));
        let mentor_language = if lang == "es" {
            Language::spanish()
        } else {
            Language::english()
        };
        ui::show_outcome(
            &app,
            &confirmation(mentor_language.clone(), Direction::In),
            lang,
        );
        shots.push(render(&window, &format!("checked-in-{lang}")));
        ui::show_outcome(&app, &confirmation(mentor_language, Direction::Out), lang);
        shots.push(render(&window, &format!("checked-out-{lang}")));
        for r in [
            Rejection::NotABadge,
            Rejection::Replaced,
            Rejection::Revoked,
        ] {
            ui::show_outcome(&app, &ScanOutcome::Rejected(r), lang);
            shots.push(render(&window, &format!("rejected-{}-{lang}", r.code())));
        }
        app.global::<KioskState>().set_screen(Screen::NoCamera);
        shots.push(render(&window, &format!("no-camera-{lang}")));
    }
    // Each screen draws something different; none is blank.
    for (i, a) in shots.iter().enumerate() {
        let distinct: std::collections::HashSet<[u8; 4]> = a.pixels().map(|p| p.0).collect();
        assert!(distinct.len() > 8, "screen {i} looks blank");
        for b in &shots[i + 1..] {
            assert!(
                a.as_raw() != b.as_raw(),
                "screens {i} and another rendered the same"
            );
        }
    }
    // The confirmation speaks the mentor's language, whatever the kiosk's.
    ui::show_outcome(
        &app,
        &confirmation(Language::spanish(), Direction::In),
        "en",
    );
    assert_eq!(
        app.global::<KioskState>().get_screen(),
        Screen::Confirmation
    );
    assert_eq!(app.global::<KioskState>().get_period_hours(), "62.5");
    assert_eq!(app.global::<KioskState>().get_time(), "8:02");
}
