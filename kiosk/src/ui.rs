//! The touchscreen UI's Rust side: fills the `KioskState` global from engine outcomes. The
//! `.slint` files in `ui/` hold the screens; gettext catalogs in `translations/` are bundled in.

use chrono::{DateTime, Duration, Utc};

use crate::engine::{ClearanceNote, Confirmation, Direction, ScanOutcome};

/// The code Slint generates from `ui/app.slint`.
#[allow(unsafe_code, clippy::all, clippy::unwrap_used)]
mod generated {
    slint::include_modules!();
}
pub use generated::*;

/// Switches the UI's strings to a language (`en`, `es`); any language without a catalog shows
/// the English originals.
pub fn set_language(code: &str) {
    if slint::select_bundled_translation(code).is_err() {
        let _ = slint::select_bundled_translation("");
    }
}

/// "2 h 0 min", the way a mentor reads her morning.
pub fn format_duration(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    format!("{} h {} min", minutes / 60, minutes % 60)
}

/// Hours with at most one decimal, cut (never rounded up): "62.5", "99.9", "100". Rounding
/// once, down, means a mentor is never shown 100 of 100 before she has 100 hours.
pub fn format_hours(d: Duration) -> String {
    let tenths = d.num_milliseconds().max(0) / 360_000;
    if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// What the header shows: clock, sync health, camera health.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderView {
    pub school: String,
    pub clock: String,
    /// ok, offline, never, demo (see `KioskState.sync-state`).
    pub sync_state: &'static str,
    pub sync_time: String,
    pub pending: u64,
    pub sync_error: String,
    pub camera_ok: bool,
}

/// A clock reading as the school reads it: "8:02".
pub fn local_clock(t: DateTime<Utc>, zone: pm_shared::TimeZone) -> String {
    zone.local(t).format("%-H:%M").to_string()
}

/// Fills the header, and moves between the scan and no-camera screens as the camera comes
/// and goes (the no-camera screen recovers by itself).
pub fn apply_header(ui: &MainWindow, view: &HeaderView) {
    let state = ui.global::<KioskState>();
    state.set_school_name(view.school.as_str().into());
    state.set_clock(view.clock.as_str().into());
    state.set_sync_state(view.sync_state.into());
    state.set_sync_time(view.sync_time.as_str().into());
    state.set_sync_pending(i32::try_from(view.pending).unwrap_or(i32::MAX));
    state.set_sync_error(view.sync_error.as_str().into());
    state.set_camera_ok(view.camera_ok);
    match (state.get_screen(), view.camera_ok) {
        (Screen::Scan, false) => state.set_screen(Screen::NoCamera),
        (Screen::NoCamera, true) => state.set_screen(Screen::Scan),
        _ => {}
    }
}

/// Back from a confirmation or rejection: to the coordinator's screen if it is open, else to
/// scanning (or no-camera), in the kiosk's own language.
pub fn dismiss(ui: &MainWindow) {
    let state = ui.global::<KioskState>();
    if !matches!(state.get_screen(), Screen::Confirmation | Screen::Rejection) {
        return;
    }
    set_language(state.get_language().as_str());
    state.set_screen(if !state.get_coordinator_name().is_empty() {
        Screen::Coordinator
    } else if state.get_camera_ok() {
        Screen::Scan
    } else {
        Screen::NoCamera
    });
}

/// "morning" before noon, "afternoon" until 6 p.m., then "evening", at the school.
pub fn part_of_day(t: DateTime<Utc>, zone: pm_shared::TimeZone) -> &'static str {
    use chrono::Timelike;
    match zone.local(t).hour() {
        0..=11 => "morning",
        12..=17 => "afternoon",
        _ => "evening",
    }
}

/// Shows what a scan led to: a confirmation in the mentor's language, or a kind rejection in
/// the kiosk's.
pub fn show_outcome(ui: &MainWindow, outcome: &ScanOutcome, kiosk_language: &str) {
    let state = ui.global::<KioskState>();
    match outcome {
        ScanOutcome::Recorded(c) | ScanOutcome::Repeat(c) | ScanOutcome::Already(c) => {
            set_language(c.language.code());
            fill_confirmation(&state, c);
            state.set_already(matches!(outcome, ScanOutcome::Already(_)));
            state.set_provisional(c.provisional);
            state.set_screen(Screen::Confirmation);
        }
        ScanOutcome::Rejected(r) => {
            set_language(kiosk_language);
            state.set_rejection(r.code().into());
            state.set_screen(Screen::Rejection);
        }
        ScanOutcome::Refused(r) => {
            set_language(r.language.code());
            state.set_mentor_name(r.name.clone().into());
            fill_clearance(&state, Some(&r.clearance), r.language.code());
            state.set_rejection("clearance".into());
            state.set_screen(Screen::Rejection);
        }
    }
}

/// The clearance line: its kind, its last good day in the mentor's language, expired or not.
fn fill_clearance(state: &KioskState<'_>, note: Option<&ClearanceNote>, language: &str) {
    state.set_clearance_kind(note.map(|n| n.kind.to_string()).unwrap_or_default().into());
    state.set_clearance_date(
        note.map(|n| long_date(n.expires, language))
            .unwrap_or_default()
            .into(),
    );
    state.set_clearance_expired(note.is_some_and(|n| n.expired));
}

/// The classroom without a leading "Room" (the screen says "Room {}" in her language).
pub fn room_number(classroom: &str) -> &str {
    let trimmed = classroom.trim();
    for word in ["room ", "rm. ", "rm ", "salón ", "salon ", "aula "] {
        if trimmed.len() > word.len()
            && trimmed.is_char_boundary(word.len())
            && trimmed[..word.len()].eq_ignore_ascii_case(word)
        {
            return trimmed[word.len()..].trim_start();
        }
    }
    trimmed
}

/// "December 1" / "1 de diciembre": a date as a mentor reads it.
pub fn long_date(date: chrono::NaiveDate, language: &str) -> String {
    use chrono::Datelike;
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const ES: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    let month = date.month0() as usize;
    if language == "es" {
        format!("{} de {} de {}", date.day(), ES[month], date.year())
    } else {
        format!("{} {}, {}", EN[month], date.day(), date.year())
    }
}

fn fill_confirmation(state: &KioskState<'_>, c: &Confirmation) {
    let name = c.name.clone().unwrap_or_else(|| c.mentor.to_string());
    state.set_mentor_name(name.into());
    state.set_checked_in(c.direction == Direction::In);
    state.set_time(local_clock(c.at, c.time_zone).into());
    state.set_part_of_day(part_of_day(c.at, c.time_zone).into());
    state.set_today_hours(format_duration(c.today).into());
    state.set_period_hours(format_hours(c.period_time).into());
    state.set_threshold_hours(format_hours(c.threshold).into());
    state.set_pending_hours(if c.pending_review > Duration::zero() {
        format_hours(c.pending_review).into()
    } else {
        "".into()
    });
    let progress = if c.threshold > Duration::zero() {
        c.period_time.num_milliseconds() as f32 / c.threshold.num_milliseconds() as f32
    } else {
        0.0
    };
    state.set_progress(progress.clamp(0.0, 1.0));
    let placement = c.placement.clone().unwrap_or_default();
    state
        .set_placement_room(room_number(placement.classroom.as_deref().unwrap_or_default()).into());
    state.set_placement_teacher(placement.teacher.unwrap_or_default().into());
    fill_clearance(state, c.clearance.as_ref(), c.language.code());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_not_named_twice() {
        assert_eq!(room_number("12"), "12");
        assert_eq!(room_number("Room 12"), "12");
        assert_eq!(room_number("room  4B"), "4B");
        assert_eq!(room_number("Library"), "Library");
        assert_eq!(room_number("Roomba"), "Roomba");
    }

    #[test]
    fn dates_read_in_her_language() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        assert_eq!(long_date(d, "en"), "December 1, 2026");
        assert_eq!(long_date(d, "es"), "1 de diciembre de 2026");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::minutes(120)), "2 h 0 min");
        assert_eq!(format_duration(Duration::minutes(95)), "1 h 35 min");
        assert_eq!(format_hours(Duration::minutes(62 * 60 + 30)), "62.5");
        assert_eq!(format_hours(Duration::hours(100)), "100");
        // Never shown as reached before it is: 99.96 h is 99.9, not 100.
        assert_eq!(format_hours(Duration::milliseconds(359_856_000)), "99.9");
        assert_eq!(format_hours(Duration::minutes(59)), "0.9");
    }
}
