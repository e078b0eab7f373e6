//! The coordinator's screens: what each tab lists, the open dialog, and carrying out what she
//! asks (corrections, group sessions, review resolutions) through the engine.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use pm_shared::MentorId;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use pm_shared::ReviewEntry;

use super::desk::{category_of, floor_to, fold, initials, reason_text, Desk, Draft};
use super::Request;
use crate::engine::{local_date, Direction, ItemResolution, Span};
use crate::ui::{
    self, ClearanceRow, KioskState, MentorRow, Panel, ReviewRow, Screen, Tab, TodayRow,
};
use crate::KioskError;

impl Desk {
    pub(super) fn coordinator_request(
        &mut self,
        request: Request,
        coordinator: &str,
        now: DateTime<Utc>,
    ) {
        let message = match request {
            Request::StartPinChange => {
                self.start_pin_change(coordinator);
                return;
            }
            Request::ChangePin(pin) => {
                self.pin_change_step(coordinator, &pin, now);
                return;
            }
            Request::CancelPinChange => {
                self.cancel_pin_change(now);
                return;
            }
            Request::SelectTab(tab) => {
                self.tab = tab;
                self.draft = Draft::None;
                // Each tab starts with the whole roster (the group tab has no search of its own).
                self.search.clear();
                self.letter.clear();
                self.poster
                    .post(|ui| ui.global::<KioskState>().set_search("".into()));
                if tab == Tab::Group {
                    self.group_end = floor_to(now, 15);
                    self.group_start = self.group_end - Duration::hours(2);
                    // A reason chip left from a dialog is not this entry's reason.
                    self.poster
                        .post(|ui| ui.global::<KioskState>().set_reason("".into()));
                }
                ""
            }
            Request::Search(text) => {
                self.search = text;
                ""
            }
            Request::PickLetter(letter) => {
                let letter = fold(&letter);
                self.letter = if self.letter == letter {
                    String::new()
                } else {
                    letter
                };
                ""
            }
            Request::CloseSession(key) => {
                let session = self
                    .today
                    .iter()
                    .find(|s| s.opened_by.is_some_and(|id| id.to_string() == key) && s.is_open());
                match session.and_then(|s| s.start.map(|start| (s.clone(), start))) {
                    Some((session, start)) => {
                        let today = local_date(now, self.engine.time_zone());
                        let end = if session.local_date == today {
                            floor_to(now, 5)
                        } else {
                            start + Duration::hours(2)
                        };
                        self.draft = Draft::Close {
                            session: Box::new(session),
                            end: end.max(start + Duration::minutes(5)).min(now),
                        };
                        ""
                    }
                    None => "failed",
                }
            }
            Request::CheckWithoutBadge(id) => match MentorId::new(id) {
                Ok(mentor) => match self.engine.next_direction(&mentor, now) {
                    Ok(direction) => {
                        self.draft = Draft::Manual { mentor, direction };
                        ""
                    }
                    Err(_) => "failed",
                },
                Err(_) => "failed",
            },
            Request::AdjustTime(minutes) => {
                if let Draft::Close { session, end } = &mut self.draft {
                    if let Some(start) = session.start {
                        let lowest = start + Duration::minutes(1);
                        *end = (*end + Duration::minutes(minutes)).clamp(lowest, now.max(lowest));
                    }
                }
                ""
            }
            Request::CancelPanel => {
                self.draft = Draft::None;
                ""
            }
            Request::SavePanel(reason) => self.save_panel(&reason, coordinator, now),
            Request::FixItem(key) => match self.review_entry(&key) {
                Some(entry) => {
                    let zone = self.engine.time_zone();
                    // A sensible first guess: the recorded end, or two hours after the start
                    // (the usual morning), never later than now.
                    let start = entry.start.or(entry.end.map(|e| e - Duration::hours(2)));
                    let end = entry
                        .end
                        .or(start.map(|s| s + Duration::hours(2)))
                        .unwrap_or(now)
                        .min(now);
                    let _ = zone;
                    self.draft = Draft::Review {
                        entry: Box::new(entry),
                        start,
                        end,
                    };
                    ""
                }
                None => "failed",
            },
            Request::VoidItem(key) => match self.review_entry(&key) {
                Some(entry) => {
                    self.draft = Draft::Void {
                        entry: Box::new(entry),
                    };
                    ""
                }
                None => "failed",
            },
            Request::AdjustItem { start, minutes } => {
                if let Draft::Review {
                    start: s, end: e, ..
                } = &mut self.draft
                {
                    let step = Duration::minutes(minutes);
                    if start {
                        *s = s.map(|s| (s + step).min(*e - Duration::minutes(1)));
                    } else {
                        let lowest = s
                            .map(|s| s + Duration::minutes(1))
                            .unwrap_or(*e - Duration::days(1));
                        *e = (*e + step).clamp(lowest, now.max(lowest));
                    }
                }
                ""
            }
            Request::AdjustGroup { start, minutes } => {
                // Within the session's day, and never past now.
                let zone = self.engine.time_zone();
                let day = local_date(self.group_start, zone);
                let (first, next) = (
                    midnight_of(day, zone),
                    midnight_of(day + Duration::days(1), zone),
                );
                let (first, last) = match (first, next) {
                    (Some(f), Some(n)) => (f, (n - Duration::minutes(1)).min(now)),
                    _ => (now - Duration::hours(12), now),
                };
                let step = Duration::minutes(minutes);
                if start {
                    self.group_start = (self.group_start + step).clamp(first, last.max(first));
                } else {
                    self.group_end = (self.group_end + step).clamp(first, last.max(first));
                }
                ""
            }
            Request::ShiftGroupDay(days) => {
                self.shift_group_day(days, now);
                ""
            }
            Request::ToggleAttendee(id) => {
                // She came at the times set now; a tap again takes her off.
                if let Ok(mentor) = MentorId::new(id) {
                    if self.attendees.remove(&mentor).is_none() {
                        self.attendees
                            .insert(mentor, (self.group_start, self.group_end));
                    }
                }
                ""
            }
            Request::SaveGroup { category, reason } => {
                self.save_group(&category, &reason, coordinator, now)
            }
            Request::SetLanguage(code) => {
                let code = if code == "es" { "es" } else { "en" }.to_owned();
                if self
                    .engine
                    .store_mut()
                    .set_setting("language", &code)
                    .is_err()
                {
                    "failed"
                } else {
                    self.language = code.clone();
                    self.poster.post(move |ui| {
                        ui::set_language(&code);
                        ui.global::<KioskState>().set_language(code.into());
                    });
                    ""
                }
            }
            _ => "",
        };
        self.show_coordinator(now, message);
    }

    fn save_panel(&mut self, reason: &str, coordinator: &str, now: DateTime<Utc>) -> &'static str {
        let Some(reason) = reason_text(reason) else {
            return "need-reason";
        };
        let result = match &self.draft {
            Draft::None => return "",
            Draft::Close { session, end } => {
                if session.start.is_none_or(|s| *end <= s) || *end > now {
                    return "bad-time";
                }
                self.engine
                    .close_session(session, *end, coordinator, reason, now)
                    .map(|_| ())
            }
            Draft::Manual { mentor, .. } => self
                .engine
                .check_without_badge(mentor, coordinator, reason, now)
                .map(|_| ()),
            Draft::Review { entry, start, end } => {
                let cap = self.engine.rules().latest_period_rules().session_cap();
                if start.is_some_and(|s| *end <= s || *end - s > cap) || *end > now {
                    return "bad-time";
                }
                let resolution = ItemResolution::SetTimes {
                    start: start.filter(|s| Some(*s) != entry.start),
                    end: Some(*end),
                };
                self.engine
                    .resolve_item(entry, resolution, coordinator, reason, now)
                    .map(|_| ())
            }
            Draft::Void { entry } => self
                .engine
                .resolve_item(entry, ItemResolution::Void, coordinator, reason, now)
                .map(|_| ()),
        };
        match result {
            Ok(()) => {
                self.draft = Draft::None;
                "saved"
            }
            Err(KioskError::TooSoon) => "too-soon",
            Err(e) => {
                eprintln!("kiosk: coordinator entry not recorded: {e}");
                "failed"
            }
        }
    }

    /// Moves the group session to another day, keeping its clock times: from today back to
    /// the oldest day the server accepts a coordinator's entry for (two weeks, less a day of
    /// margin), never into the future.
    fn shift_group_day(&mut self, days: i64, now: DateTime<Utc>) {
        let zone = self.engine.time_zone();
        let today = local_date(now, zone);
        let oldest = i64::from(self.engine.rules().coordinator_entry_max_age_days).max(1) - 1;
        let day = local_date(self.group_start, zone) + Duration::days(days);
        let day = day.clamp(today - Duration::days(oldest), today);
        let moved = |(start, end): (DateTime<Utc>, DateTime<Utc>)| {
            let on_day = |t: DateTime<Utc>| {
                day.and_time(zone.local(t).time())
                    .and_local_timezone(zone.tz())
                    .earliest()
                    .map(|t| t.to_utc())
            };
            let (mut start, mut end) = match (on_day(start), on_day(end)) {
                (Some(s), Some(e)) => (s, e),
                _ => (start, end),
            };
            if end > now {
                end = floor_to(now, 15);
                start = start.min(end - Duration::hours(1));
            }
            (start, end)
        };
        (self.group_start, self.group_end) = moved((self.group_start, self.group_end));
        // Everyone already tapped moves with the day, keeping her own times.
        for span in self.attendees.values_mut() {
            *span = moved(*span);
        }
    }

    fn save_group(
        &mut self,
        category: &str,
        reason: &str,
        coordinator: &str,
        now: DateTime<Utc>,
    ) -> &'static str {
        let Some(category) = category_of(category) else {
            return "failed";
        };
        if self.attendees.is_empty() {
            return "need-attendees";
        }
        if self
            .attendees
            .values()
            .any(|(start, end)| end <= start || *end > now)
        {
            return "bad-time";
        }
        let attendees: Vec<(MentorId, Span)> = self
            .attendees
            .iter()
            .map(|(m, span)| (m.clone(), *span))
            .collect();
        let zone = self.engine.time_zone();
        let reason = if local_date(self.group_start, zone) == local_date(now, zone) {
            format!("group session: {category}")
        } else {
            // A past day: why it is entered by hand is the audit trail (one of the group tab's
            // own chips).
            match reason_text(reason).filter(|_| GROUP_REASONS.contains(&reason)) {
                Some(why) => format!("entered after the fact: {category}; {why}"),
                None => return "need-reason",
            }
        };
        match self
            .engine
            .record_group_session(&attendees, category, coordinator, &reason, now)
        {
            Ok(_) => {
                self.attendees.clear();
                "saved"
            }
            Err(e) => {
                eprintln!("kiosk: group session not recorded: {e}");
                "bad-time"
            }
        }
    }

    /// Sends the whole coordinator screen: small (one school), and never out of step.
    /// The review item behind a row's key, as last shown.
    fn review_entry(&self, key: &str) -> Option<ReviewEntry> {
        self.review
            .iter()
            .find(|e| e.item.to_string() == key)
            .cloned()
    }

    pub(super) fn show_coordinator(&mut self, now: DateTime<Utc>, message: &'static str) {
        let _ = self.engine.refresh_roster();
        let zone = self.engine.time_zone();
        let today_date = local_date(now, zone);
        let mut sessions = self.engine.today(now).unwrap_or_default();
        sessions.sort_by_key(|s| (s.start, s.end));
        self.today = sessions;
        let roster = self.engine.roster();
        let name_of = |m: &MentorId| {
            roster
                .and_then(|r| r.mentor(m))
                .map(|m| m.name.clone())
                .unwrap_or_else(|| m.to_string())
        };
        let clock =
            |t: Option<DateTime<Utc>>| t.map(|t| ui::local_clock(t, zone)).unwrap_or_default();
        let today_rows: Vec<TodayRow> = self
            .today
            .iter()
            .map(|s| TodayRow {
                key: s
                    .opened_by
                    .map(|id| id.to_string())
                    .unwrap_or_default()
                    .into(),
                name: name_of(&s.mentor).into(),
                date: if s.local_date == today_date {
                    String::new()
                } else {
                    s.local_date.to_string()
                }
                .into(),
                start: clock(s.start).into(),
                end: clock(s.end).into(),
                hours: match (s.start, s.end) {
                    (Some(a), Some(b)) if b >= a => format!("{:.2}", pm_shared::hours_2dp(b - a)),
                    _ => "–".into(),
                }
                .into(),
                status: if s.is_open() {
                    if s.local_date == today_date {
                        "in-now"
                    } else {
                        "open"
                    }
                } else if s.needs_review() {
                    "review"
                } else {
                    "completed"
                }
                .into(),
            })
            .collect();
        // The most urgent three on the Today tab; the rest counted.
        let due = self.engine.clearances_to_renew(now);
        let clearance_more = i32::try_from(due.len().saturating_sub(3)).unwrap_or(0);
        let clearance_rows: Vec<ClearanceRow> = due
            .iter()
            .take(3)
            .map(|d| ClearanceRow {
                name: d.name.as_str().into(),
                kind: d.note.kind.as_str().into(),
                date: ui::long_date(d.note.expires, &self.language).into(),
                expired: d.note.expired,
            })
            .collect();
        let in_now: BTreeSet<&MentorId> = self
            .today
            .iter()
            .filter(|s| s.is_open() && s.local_date == today_date)
            .map(|s| &s.mentor)
            .collect();
        let query = fold(self.search.trim());
        // Only the Mentors and Group tabs list mentors, and only Mentors shows hours (a timeline
        // read per mentor): other tabs' clicks do not pay for them.
        let listed = matches!(self.tab, Tab::Mentors | Tab::Group);
        let with_hours = self.tab == Tab::Mentors;
        let mut mentors: Vec<MentorRow> = roster
            .map(|r| r.mentors.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|_| listed)
            .filter(|m| {
                query.is_empty()
                    || fold(&m.name).contains(&query)
                    || fold(m.id.as_str()).contains(&query)
            })
            .filter(|m| {
                self.letter.is_empty() || initials(&m.name).any(|i| i.to_string() == self.letter)
            })
            .map(|m| MentorRow {
                id: m.id.as_str().into(),
                name: m.name.as_str().into(),
                // The Mentors tab shows her hours; the Group tab, an attendee's own times.
                hours: match self.attendees.get(&m.id) {
                    _ if with_hours => ui::format_hours(
                        self.engine
                            .period_time(&m.id, now)
                            .unwrap_or_else(|_| Duration::milliseconds(m.period_time_ms)),
                    )
                    .into(),
                    Some((start, end)) if self.tab == Tab::Group => format!(
                        "{}–{}",
                        ui::local_clock(*start, self.engine.time_zone()),
                        ui::local_clock(*end, self.engine.time_zone())
                    )
                    .into(),
                    _ => SharedString::default(),
                },
                in_now: in_now.contains(&m.id),
                selected: self.attendees.contains_key(&m.id),
            })
            .collect();
        mentors.sort_by_key(|m| fold(&m.name));
        let letters: Vec<SharedString> = roster
            .map(|r| r.mentors.as_slice())
            .unwrap_or_default()
            .iter()
            .flat_map(|m| initials(&m.name).collect::<Vec<_>>())
            .collect::<BTreeSet<char>>()
            .into_iter()
            .map(|c| c.to_uppercase().to_string().into())
            .collect();
        let letter: SharedString = self.letter.to_uppercase().into();
        let panel = self.panel_view(&name_of, now);
        // Only the Needs review tab lists the queue.
        self.review = if self.tab == Tab::Review {
            self.engine.review_entries().unwrap_or_default()
        } else {
            Vec::new()
        };
        let roster = self.engine.roster();
        let name_of = |m: &MentorId| {
            roster
                .and_then(|r| r.mentor(m))
                .map(|m| m.name.clone())
                .unwrap_or_else(|| m.to_string())
        };
        let review_rows: Vec<ReviewRow> = self
            .review
            .iter()
            .map(|e| ReviewRow {
                key: e.item.to_string().into(),
                name: name_of(&e.mentor).into(),
                date: e.local_date.to_string().into(),
                start: clock(e.start).into(),
                end: clock(e.end).into(),
                reason: e
                    .reasons
                    .first()
                    .map(|r| r.as_str())
                    .unwrap_or_default()
                    .into(),
                more: i32::try_from(e.reasons.len().saturating_sub(1)).unwrap_or(0),
                organizer_only: e.organizer_only(),
            })
            .collect();
        // A forgotten check-out starts with its usual reason; other dialogs with none.
        let close_default = match &self.draft {
            Draft::Close { .. } => true,
            Draft::Review { entry, .. } => entry.end.is_none(),
            _ => false,
        };
        let coordinator = self.gate.touch(now).unwrap_or_default();
        let header = self.header(now);
        let group_date = local_date(self.group_start, zone);
        let group_day = if group_date == local_date(now, zone) {
            String::new()
        } else {
            ui::long_date(group_date, &self.language)
        };
        let (tab, group_start, group_end, count) = (
            self.tab,
            ui::local_clock(self.group_start, zone),
            ui::local_clock(self.group_end, zone),
            self.attendees.len(),
        );
        self.poster.post(move |ui| {
            let state = ui.global::<KioskState>();
            ui::apply_header(ui, &header);
            let was_panel = state.get_panel();
            state.set_coordinator_name(coordinator.into());
            state.set_tab(tab);
            state.set_message(message.into());
            state.set_today_rows(ModelRc::new(VecModel::from(today_rows)));
            state.set_clearance_rows(ModelRc::new(VecModel::from(clearance_rows)));
            state.set_clearance_more(clearance_more);
            state.set_mentor_rows(ModelRc::new(VecModel::from(mentors)));
            state.set_letters(ModelRc::new(VecModel::from(letters)));
            state.set_letter(letter);
            state.set_review_rows(ModelRc::new(VecModel::from(review_rows)));
            if panel.panel != was_panel {
                // A new dialog starts with its usual reason (none for a check without badge).
                state.set_reason(if close_default { "forgot-checkout" } else { "" }.into());
            }
            state.set_panel(panel.panel);
            state.set_panel_name(panel.name.into());
            state.set_panel_in(panel.checking_in);
            state.set_panel_date(panel.date.into());
            state.set_panel_start(panel.start.into());
            state.set_panel_time(panel.time.into());
            state.set_panel_end(panel.end.into());
            state.set_group_start(group_start.into());
            state.set_group_end(group_end.into());
            state.set_group_day(group_day.into());
            state.set_group_count(i32::try_from(count).unwrap_or(i32::MAX));
            if !matches!(state.get_screen(), Screen::Confirmation | Screen::Rejection) {
                state.set_screen(Screen::Coordinator);
            }
        });
    }

    /// What the open dialog shows.
    fn panel_view(&self, name_of: &dyn Fn(&MentorId) -> String, now: DateTime<Utc>) -> PanelView {
        let zone = self.engine.time_zone();
        let clock =
            |t: Option<DateTime<Utc>>| t.map(|t| ui::local_clock(t, zone)).unwrap_or_default();
        let _ = now;
        match &self.draft {
            Draft::None => PanelView::default(),
            Draft::Close { session, end } => PanelView {
                panel: Panel::Close,
                name: name_of(&session.mentor),
                date: session.local_date.to_string(),
                start: clock(session.start),
                time: ui::local_clock(*end, zone),
                ..PanelView::default()
            },
            Draft::Manual { mentor, direction } => PanelView {
                panel: Panel::Manual,
                name: name_of(mentor),
                checking_in: *direction == Direction::In,
                ..PanelView::default()
            },
            Draft::Review { entry, start, end } => PanelView {
                panel: Panel::Review,
                name: name_of(&entry.mentor),
                date: entry.local_date.to_string(),
                start: clock(*start),
                end: ui::local_clock(*end, zone),
                ..PanelView::default()
            },
            Draft::Void { entry } => PanelView {
                panel: Panel::Void,
                name: name_of(&entry.mentor),
                date: entry.local_date.to_string(),
                start: clock(entry.start),
                end: clock(entry.end),
                ..PanelView::default()
            },
        }
    }
}

/// The dialog over the tabs, as the UI shows it.
struct PanelView {
    panel: Panel,
    name: String,
    /// A check without badge: in (true) or out.
    checking_in: bool,
    date: String,
    start: String,
    /// The close dialog's time.
    time: String,
    /// The review dialog's end.
    end: String,
}

impl Default for PanelView {
    fn default() -> Self {
        Self {
            panel: Panel::None,
            name: String::new(),
            checking_in: true,
            date: String::new(),
            start: String::new(),
            time: String::new(),
            end: String::new(),
        }
    }
}

/// The reasons the group tab offers for a past day.
const GROUP_REASONS: [&str; 4] = ["paper-sheet", "kiosk-broken", "camera", "other"];

/// Midnight at the start of a school-local date.
fn midnight_of(day: chrono::NaiveDate, zone: pm_shared::TimeZone) -> Option<DateTime<Utc>> {
    day.and_time(NaiveTime::MIN)
        .and_local_timezone(zone.tz())
        .earliest()
        .map(|t| t.to_utc())
}
