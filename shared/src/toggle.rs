//! The toggle rule: is a badge scan a check-in or a check-out? One function, used by the kiosk
//! when it scans and by the server when it reasons about the merged timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{EventId, KioskId, ProgramRules, Session, TimeZone};

/// A check-in with no check-out yet, from any kiosk of the school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenCheckIn {
    pub event: EventId,
    pub kiosk: KioskId,
    pub at: DateTime<Utc>,
}

/// What a scan means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanAction {
    CheckIn,
    /// Closes the open check-in made at `since`.
    CheckOut {
        check_in: EventId,
        since: DateTime<Utc>,
    },
    /// She checked in at `since`, less than the minimum session ago: nothing is recorded.
    AlreadyIn {
        since: DateTime<Utc>,
    },
    /// She checked out at `at`, less than the minimum session ago: nothing is recorded.
    AlreadyOut {
        at: DateTime<Utc>,
    },
}

/// A scan is a check-out only if the mentor's latest open check-in is on the same school-local
/// date as the scan and no longer ago than the session cap. Otherwise it is a check-in, and an
/// older open check-in stays open for a coordinator to review: a mentor who forgot to check out
/// yesterday is checked *in* this morning, never credited 24 hours.
///
/// Within the minimum session after that check-in the scan records nothing ("already checked
/// in"), and within it after her latest check-out nothing either ("already checked out"):
/// nobody volunteers for three minutes, and an accidental second scan must not close the
/// session or open a new one.
///
/// A check-in dated after the scan (a kiosk clock running ahead) never pairs: the scan is a
/// check-in, and the sessionizer flags what needs review.
///
/// `sessions` are the mentor's, merged from every kiosk as far as the caller knows.
pub fn decide_scan(
    sessions: &[Session],
    scan_at: DateTime<Utc>,
    time_zone: TimeZone,
    rules: &ProgramRules,
) -> ScanAction {
    let day = |t: DateTime<Utc>| time_zone.local_date(t);
    let zero = chrono::Duration::zero();
    // A set-aside event never pairs; a visit held for organizers (its session marked set
    // aside on the kiosk, its event not) still does.
    let badge = || {
        sessions
            .iter()
            .filter(|s| !s.entered && s.set_aside.is_none())
    };
    let latest_open = badge()
        .filter(|s| s.is_open())
        .filter_map(|s| Some((s.start?, s.opened_by?)))
        .max();
    if let Some((since, check_in)) = latest_open {
        let elapsed = scan_at - since;
        if day(since) == day(scan_at)
            && elapsed >= zero
            && elapsed <= rules.on(day(since)).session_cap()
        {
            return if elapsed < rules.min_session() {
                ScanAction::AlreadyIn { since }
            } else {
                ScanAction::CheckOut { check_in, since }
            };
        }
    }
    let latest_out = badge()
        .filter(|s| s.opened_by.is_some() && !s.is_open())
        .filter_map(|s| s.end)
        .filter(|end| *end <= scan_at)
        .max();
    match latest_out {
        Some(at) if scan_at - at < rules.min_session() && day(at) == day(scan_at) => {
            ScanAction::AlreadyOut { at }
        }
        _ => ScanAction::CheckIn,
    }
}

/// The same badge seen again within the duplicate window repeats the last confirmation and
/// records nothing: people hold a badge up for many frames and often scan twice.
pub fn is_repeat_scan(
    previous_scan: Option<DateTime<Utc>>,
    scan_at: DateTime<Utc>,
    rules: &ProgramRules,
) -> bool {
    previous_scan.is_some_and(|prev| {
        let since = scan_at - prev;
        since >= chrono::Duration::zero() && since <= rules.duplicate_window()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, EventKind, MentorId, Observed, SeriesId, Source};
    use chrono::TimeZone as _;

    fn chicago() -> TimeZone {
        TimeZone::new("America/Chicago").expect("tz")
    }
    fn local(d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chicago()
            .tz()
            .with_ymd_and_hms(2026, 10, d, h, min, 0)
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc)
    }
    /// Sessions from scans: (kind, at) with check-outs naming the latest check-in.
    fn sessions(scans: &[(bool, DateTime<Utc>)]) -> Vec<Session> {
        let mut events = Vec::new();
        let mut last_in = None;
        for (n, (is_in, at)) in scans.iter().enumerate() {
            let id = EventId::from_parts(n as u64 + 1, [n as u8; 10]);
            let kind = if *is_in {
                last_in = Some(id);
                EventKind::CheckIn
            } else {
                EventKind::CheckOut { check_in: last_in }
            };
            events.push(Observed::local(Event {
                id,
                kiosk: KioskId::new("k1").expect("kiosk"),
                series: SeriesId::from_parts(0, [0; 10]),
                sequence: n as u64 + 1,
                mentor: Some(MentorId::new("M1").expect("mentor")),
                at: *at,
                time_zone: chicago(),
                kind,
                source: Source::BadgeScan {
                    generation: 1,
                    provisional: false,
                    badge_hash: "h".into(),
                    proof: None,
                },
            }));
        }
        crate::sessionize(&events, &ProgramRules::default(), local(30, 12, 0))
    }
    fn action(scans: &[(bool, DateTime<Utc>)], at: DateTime<Utc>) -> ScanAction {
        decide_scan(&sessions(scans), at, chicago(), &ProgramRules::default())
    }

    #[test]
    fn nothing_open_means_check_in() {
        assert_eq!(action(&[], local(5, 8, 0)), ScanAction::CheckIn);
    }

    #[test]
    fn same_morning_means_check_out_of_the_latest() {
        let got = action(&[(true, local(5, 8, 0))], local(5, 10, 0));
        assert!(matches!(got, ScanAction::CheckOut { since, .. } if since == local(5, 8, 0)));
    }

    #[test]
    fn a_second_scan_soon_after_records_nothing() {
        assert_eq!(
            action(&[(true, local(5, 8, 2))], local(5, 8, 5)),
            ScanAction::AlreadyIn {
                since: local(5, 8, 2)
            }
        );
        assert!(matches!(
            action(&[(true, local(5, 8, 2))], local(5, 8, 12)),
            ScanAction::CheckOut { .. }
        ));
        let day = [(true, local(5, 8, 0)), (false, local(5, 10, 0))];
        assert_eq!(
            action(&day, local(5, 10, 4)),
            ScanAction::AlreadyOut {
                at: local(5, 10, 0)
            }
        );
        assert_eq!(action(&day, local(5, 10, 10)), ScanAction::CheckIn);
    }

    #[test]
    fn forgotten_check_out_yesterday_means_check_in_today() {
        assert_eq!(
            action(&[(true, local(4, 8, 0))], local(5, 8, 0)),
            ScanAction::CheckIn
        );
    }

    #[test]
    fn the_day_is_school_local_not_utc() {
        // 18:30 and 19:30 in Chicago are different UTC dates but the same school day.
        assert!(matches!(
            action(&[(true, local(5, 18, 30))], local(5, 19, 30)),
            ScanAction::CheckOut { .. }
        ));
        // 23:30 and 00:30 are one UTC date but two school days.
        assert_eq!(
            action(&[(true, local(5, 23, 30))], local(6, 0, 30)),
            ScanAction::CheckIn
        );
    }

    #[test]
    fn over_the_cap_means_check_in() {
        assert!(matches!(
            action(&[(true, local(5, 6, 0))], local(5, 14, 0)),
            ScanAction::CheckOut { .. }
        ));
        assert_eq!(
            action(&[(true, local(5, 6, 0))], local(5, 14, 1)),
            ScanAction::CheckIn
        );
    }

    #[test]
    fn a_check_in_from_the_future_never_pairs() {
        assert_eq!(
            action(&[(true, local(5, 11, 0))], local(5, 10, 0)),
            ScanAction::CheckIn
        );
    }

    #[test]
    fn repeat_window() {
        let rules = ProgramRules::default();
        let t = local(5, 8, 0);
        assert!(!is_repeat_scan(None, t, &rules));
        assert!(is_repeat_scan(
            Some(t),
            t + chrono::Duration::seconds(60),
            &rules
        ));
        assert!(!is_repeat_scan(
            Some(t),
            t + chrono::Duration::seconds(61),
            &rules
        ));
        assert!(!is_repeat_scan(
            Some(t + chrono::Duration::seconds(5)),
            t,
            &rules
        ));
    }
}
