//! The coordinator's "today" table, as text for `kiosk today`.

use chrono::{DateTime, Utc};
use pm_shared::{hours_2dp, Roster, Session};

/// One line per session: who, in, out, time, and what needs doing.
pub fn render(sessions: &[Session], roster: Option<&Roster>, now: DateTime<Utc>) -> String {
    let mut out = String::from("mentor\tname\tin\tout\thours\tstatus\n");
    for s in sessions {
        let clock = |t: Option<DateTime<Utc>>| {
            t.map(|t| s.time_zone.local(t).format("%H:%M").to_string())
                .unwrap_or_else(|| "-".into())
        };
        let name = roster
            .and_then(|r| r.mentor(&s.mentor))
            .map(|m| m.name.as_str())
            .unwrap_or("(not in roster yet)");
        let hours = match (s.start, s.end) {
            (Some(a), Some(b)) if b >= a => format!("{:.2}", hours_2dp(b - a)),
            _ => "-".into(),
        };
        let status = if s.is_open() {
            let today = s.time_zone.local_date(now);
            if s.local_date == today {
                "in now".to_owned()
            } else {
                "open: needs check-out".to_owned()
            }
        } else if s.needs_review() {
            let reasons: Vec<&str> = s.reasons.iter().map(|r| r.as_str()).collect();
            format!("needs review: {}", reasons.join(", "))
        } else {
            "completed".to_owned()
        };
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            s.mentor,
            name,
            clock(s.start),
            clock(s.end),
            hours,
            status
        ));
    }
    out
}

/// The clearances to renew, after the sessions: a blank line, then
/// `clearance<TAB>mentor<TAB>name<TAB>kind<TAB>expires<TAB>status` rows (status expired or
/// expiring). Nothing when none.
pub fn render_clearances(due: &[crate::engine::ClearanceDue]) -> String {
    if due.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nclearance\tmentor\tname\tkind\texpires\tstatus\n");
    for d in due {
        out.push_str(&format!(
            "clearance\t{}\t{}\t{}\t{}\t{}\n",
            d.mentor,
            d.name,
            d.note.kind,
            d.note.expires,
            if d.note.expired {
                "expired"
            } else {
                "expiring"
            }
        ));
    }
    out
}
