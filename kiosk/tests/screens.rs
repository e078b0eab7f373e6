//! Every kiosk screen rendered headlessly with Slint's software renderer, in English and in
//! Spanish, written to `target/screenshots/` to be looked at, and checked for what a mentor must
//! see. The coordinator screens are filled by the real desk thread from a seeded database.

mod support;

use std::rc::Rc;

use chrono::{Duration, TimeZone as _, Utc};
use kiosk::app::{preview_pixels, Request};
use kiosk::engine::{Confirmation, Direction, Rejection, ScanOutcome};
use kiosk::ui::{self, KioskState, MainWindow, Panel, Screen, Tab};
use pm_shared::{EventId, Language, MentorId, TimeZone};
use slint::platform::software_renderer::{
    MinimalSoftwareWindow, PremultipliedRgbaColor, RepaintBufferType,
};
use slint::platform::{Platform, WindowAdapter};
use slint::{ComponentHandle, Model as _};

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
        pending_review: Duration::zero(),
        period_time: Duration::minutes(62 * 60 + 30),
        threshold: Duration::hours(100),
        provisional: false,
        event: EventId::from_parts(1, [1; 10]),
        placement: Some(pm_shared::Placement {
            teacher: Some("Ms. Smith".into()),
            classroom: Some("Room 12".into()),
        }),
        clearance: None,
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
    let dir = tempfile::tempdir().expect("dir");
    let engine = support::seeded_engine(dir.path());
    // The school's review queue, as the server sends it with the roster.
    let long_day = pm_shared::EventId::from_parts(7, [7; 10]);
    {
        use pm_shared::{HourCategory, MentorId, ReviewEntry, ReviewReason};
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let mut roster = support::roster();
        roster.version = "v2".into();
        // Rosa's TB test expired last month; Ann's background check runs out in two weeks.
        let clearance = |kind: &str, days: i64| pm_shared::Clearance {
            kind: pm_shared::ClearanceKind::new(kind).expect("kind"),
            expires: support::local(support::TODAY, 9, 0)
                .with_timezone(&support::zone().tz())
                .date_naive()
                + Duration::days(days),
        };
        for m in &mut roster.mentors {
            match m.id.as_str() {
                "M-3" => m.clearances = vec![clearance("tb-test", -30)],
                "M-2" => m.clearances = vec![clearance("background-check", 14)],
                _ => {}
            }
        }
        roster.review = vec![
            ReviewEntry {
                item: long_day,
                mentor: MentorId::new("M-2").expect("id"),
                category: HourCategory::Classroom,
                local_date: day,
                start: Some(support::local(support::YESTERDAY, 6, 0)),
                end: Some(support::local(support::YESTERDAY, 15, 0)),
                reasons: vec![ReviewReason::OverCap, ReviewReason::KioskClockSkew],
            },
            ReviewEntry {
                item: pm_shared::EventId::from_parts(8, [8; 10]),
                mentor: MentorId::new("M-1").expect("id"),
                category: HourCategory::Classroom,
                local_date: day,
                start: Some(support::local(support::YESTERDAY, 8, 0)),
                end: None,
                reasons: vec![ReviewReason::SetAside],
            },
        ];
        let mut store =
            kiosk::open_store(dir.path(), support::local(support::TODAY, 9, 0)).expect("store");
        store
            .save_roster(&roster, support::local(support::TODAY, 9, 0))
            .expect("roster");
    }
    let desk = support::wire_desk(&app, engine, None);
    let state = app.global::<KioskState>();
    let wait = |what: &str, done: &dyn Fn(&MainWindow) -> bool| {
        support::wait_for(
            &app,
            &desk.jobs,
            what,
            slint::platform::update_timers_and_animations,
            done,
        )
    };
    let send = |r: Request| desk.requests.send(r).expect("desk");
    // A morning: María in at 9:00 and out at 11:00, Ann in at 11:00; Rosa forgot yesterday.
    send(Request::Scan(support::badge("M-1")));
    wait("María in", &|ui| {
        ui.global::<KioskState>().get_mentor_name() == "María López"
    });
    *desk.clock.lock().expect("clock") += Duration::hours(2);
    send(Request::Scan(support::badge("M-1")));
    send(Request::Scan(support::badge("M-2")));
    wait("Ann in", &|ui| {
        ui.global::<KioskState>().get_mentor_name() == "Ann Lee"
    });
    ui::dismiss(&app);
    let preview = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/demo/frames/maria.png"
    ))
    .expect("demo frame")
    .to_luma8();
    state.set_preview(slint::Image::from_rgb8(preview_pixels(&preview)));

    let mut shots = Vec::new();
    for lang in ["en", "es"] {
        ui::set_language(lang);
        state.set_language(lang.into());
        state.set_screen(Screen::Scan);
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
        ui::show_outcome(
            &app,
            &confirmation(mentor_language.clone(), Direction::Out),
            lang,
        );
        shots.push(render(&window, &format!("checked-out-{lang}")));
        let ScanOutcome::Recorded(again) = confirmation(mentor_language.clone(), Direction::In)
        else {
            unreachable!()
        };
        ui::show_outcome(&app, &ScanOutcome::Already(again.clone()), lang);
        shots.push(render(&window, &format!("already-in-{lang}")));
        let pending = kiosk::engine::Confirmation {
            direction: Direction::Out,
            pending_review: Duration::hours(3),
            ..again.clone()
        };
        ui::show_outcome(&app, &ScanOutcome::Recorded(pending), lang);
        shots.push(render(&window, &format!("checked-out-pending-{lang}")));
        assert_eq!(state.get_placement_room(), "12");
        assert_eq!(state.get_placement_teacher(), "Ms. Smith");
        // Her TB test runs out soon (the program warns); then, expired under a refusing rule.
        let note = |expired: bool| kiosk::engine::ClearanceNote {
            kind: pm_shared::ClearanceKind::new("tb-test").expect("kind"),
            expires: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
            expired,
        };
        let warned = kiosk::engine::Confirmation {
            clearance: Some(note(false)),
            ..again.clone()
        };
        ui::show_outcome(&app, &ScanOutcome::Recorded(warned), lang);
        assert_eq!(state.get_clearance_kind(), "tb-test");
        assert!(!state.get_clearance_expired());
        shots.push(render(
            &window,
            &format!("checked-in-clearance-expiring-{lang}"),
        ));
        let refused = kiosk::engine::Refusal {
            mentor: again.mentor.clone(),
            name: "María López".into(),
            language: mentor_language.clone(),
            clearance: note(true),
        };
        ui::show_outcome(&app, &ScanOutcome::Refused(refused), lang);
        assert_eq!(state.get_rejection(), "clearance");
        assert_eq!(
            state.get_clearance_date(),
            if lang == "es" {
                "1 de diciembre de 2026"
            } else {
                "December 1, 2026"
            }
        );
        shots.push(render(&window, &format!("refused-clearance-{lang}")));
        for r in [
            Rejection::NotABadge,
            Rejection::Replaced,
            Rejection::Revoked,
        ] {
            ui::show_outcome(&app, &ScanOutcome::Rejected(r), lang);
            shots.push(render(&window, &format!("rejected-{}-{lang}", r.code())));
        }
        state.set_rejection("failed".into());
        shots.push(render(&window, &format!("rejected-failed-{lang}")));
        ui::dismiss(&app);
        state.set_screen(Screen::NoCamera);
        shots.push(render(&window, &format!("no-camera-{lang}")));
        state.set_screen(Screen::Scan);

        send(Request::OpenCoordinator);
        wait("PIN keypad", &|ui| {
            ui.global::<KioskState>().get_screen() == Screen::Pin
        });
        state.set_pin("1234".into());
        shots.push(render(&window, &format!("pin-{lang}")));
        send(Request::Unlock {
            name: "Ms. Rivera".into(),
            pin: "111111".into(),
        });
        wait("wrong PIN", &|ui| {
            ui.global::<KioskState>().get_pin_message() == "wrong"
        });
        shots.push(render(&window, &format!("pin-wrong-{lang}")));
        send(Request::Unlock {
            name: "Ms. Rivera".into(),
            pin: support::PIN.into(),
        });
        wait("coordinator mode", &|ui| {
            ui.global::<KioskState>().get_screen() == Screen::Coordinator
                && ui.global::<KioskState>().get_today_rows().row_count() == 3
                && ui.global::<KioskState>().get_clearance_rows().row_count() == 2
        });
        // The kiosk's language (set on its Language tab) dates the clearances too.
        send(Request::SetLanguage(lang.into()));
        let expected_date = if lang == "es" {
            "25 de octubre de 2026"
        } else {
            "October 25, 2026"
        };
        wait("clearances dated in the kiosk's language", &|ui| {
            ui.global::<KioskState>()
                .get_clearance_rows()
                .row_data(0)
                .is_some_and(|r| r.date == expected_date)
        });
        send(Request::SelectTab(Tab::Today));
        let first = state.get_clearance_rows().row_data(0).expect("row");
        assert_eq!((first.name.as_str(), first.expired), ("Rosa Díaz", true));
        shots.push(render(&window, &format!("coordinator-today-{lang}")));
        send(Request::SelectTab(Tab::Review));
        wait("review tab", &|ui| {
            ui.global::<KioskState>().get_tab() == Tab::Review
                && ui.global::<KioskState>().get_review_rows().row_count() == 2
        });
        shots.push(render(&window, &format!("coordinator-review-{lang}")));
        send(Request::FixItem(long_day.to_string()));
        wait("times dialog", &|ui| {
            ui.global::<KioskState>().get_panel() == Panel::Review
        });
        shots.push(render(&window, &format!("coordinator-review-times-{lang}")));
        send(Request::CancelPanel);
        send(Request::VoidItem(long_day.to_string()));
        wait("void dialog", &|ui| {
            ui.global::<KioskState>().get_panel() == Panel::Void
        });
        state.set_reason("mistake".into());
        shots.push(render(&window, &format!("coordinator-void-{lang}")));
        send(Request::CancelPanel);
        send(Request::SelectTab(Tab::Today));
        wait("today again", &|ui| {
            ui.global::<KioskState>().get_tab() == Tab::Today
                && ui.global::<KioskState>().get_panel() == Panel::None
        });
        send(Request::CloseSession(support::rosas_check_in().to_string()));
        wait("close dialog", &|ui| {
            ui.global::<KioskState>().get_panel() == Panel::Close
        });
        shots.push(render(&window, &format!("coordinator-close-{lang}")));
        send(Request::CancelPanel);
        send(Request::SelectTab(Tab::Mentors));
        wait("mentors", &|ui| {
            ui.global::<KioskState>().get_tab() == Tab::Mentors
                && ui.global::<KioskState>().get_panel() == Panel::None
        });
        shots.push(render(&window, &format!("coordinator-mentors-{lang}")));
        // Hours include this morning's session, which the roster (pulled at 9:00) does not.
        let maria = state
            .get_mentor_rows()
            .iter()
            .find(|m| m.name == "María López")
            .expect("María listed");
        assert_eq!(maria.hours, "62");
        send(Request::CheckWithoutBadge("M-3".into()));
        wait("manual dialog", &|ui| {
            ui.global::<KioskState>().get_panel() == Panel::Manual
        });
        state.set_reason("forgot-badge".into());
        shots.push(render(&window, &format!("coordinator-manual-{lang}")));
        send(Request::CancelPanel);
        send(Request::SelectTab(Tab::Group));
        send(Request::ToggleAttendee("M-1".into()));
        send(Request::ToggleAttendee("M-3".into()));
        wait("group", &|ui| {
            ui.global::<KioskState>().get_group_count() == 2
        });
        shots.push(render(&window, &format!("coordinator-group-{lang}")));
        // A past day's classroom time, from a paper sign-in sheet: day, note and reasons.
        send(Request::ShiftGroupDay(-2));
        state.set_category("classroom".into());
        state.set_reason("paper-sheet".into());
        wait("past day", &|ui| {
            !ui.global::<KioskState>().get_group_day().is_empty()
        });
        shots.push(render(&window, &format!("coordinator-group-past-{lang}")));
        state.set_category("workshop".into());
        state.set_reason("".into());
        send(Request::ShiftGroupDay(2));
        send(Request::ToggleAttendee("M-1".into()));
        send(Request::ToggleAttendee("M-3".into()));
        send(Request::SelectTab(Tab::Sync));
        wait("sync", &|ui| {
            ui.global::<KioskState>().get_tab() == Tab::Sync
        });
        shots.push(render(&window, &format!("coordinator-sync-{lang}")));
        send(Request::SelectTab(Tab::Language));
        wait("language", &|ui| {
            ui.global::<KioskState>().get_tab() == Tab::Language
        });
        shots.push(render(&window, &format!("coordinator-language-{lang}")));
        // Changing her own PIN: the keypad asks for the new one, then says a run is too easy.
        send(Request::StartPinChange);
        wait("PIN change", &|ui| {
            ui.global::<KioskState>().get_pin_step() == "current"
        });
        send(Request::ChangePin(support::PIN.into()));
        wait("new PIN step", &|ui| {
            ui.global::<KioskState>().get_pin_step() == "new"
        });
        send(Request::ChangePin("12345678".into()));
        wait("too easy", &|ui| {
            ui.global::<KioskState>().get_pin_message() == "trivial"
        });
        shots.push(render(&window, &format!("coordinator-pin-change-{lang}")));
        send(Request::CancelPinChange);
        wait("back from the PIN change", &|ui| {
            ui.global::<KioskState>().get_screen() == Screen::Coordinator
        });
        state.set_notice("pin-changed".into());
        shots.push(render(&window, &format!("coordinator-pin-changed-{lang}")));
        state.set_notice("".into());
        send(Request::Lock);
        wait("locked", &|ui| {
            ui.global::<KioskState>().get_screen() == Screen::Scan
        });
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
    assert_eq!(state.get_screen(), Screen::Confirmation);
    assert_eq!(state.get_period_hours(), "62.5");
    assert_eq!(state.get_time(), "8:02");
}
