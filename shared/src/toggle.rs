//! The toggle rule: is a badge scan a check-in or a check-out? One function, used by the kiosk
//! when it scans and by the server when it reasons about the merged timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{EventId, KioskId, ProgramRules, TimeZone};

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
}

/// A scan is a check-out only if the mentor's latest open check-in is on the same school-local
/// date as the scan and no longer ago than the session cap. Otherwise it is a check-in, and an
/// older open check-in stays open for a coordinator to review: a mentor who forgot to check out
/// yesterday is checked *in* this morning, never credited 24 hours.
///
/// A check-in dated after the scan (a kiosk clock running ahead) never pairs: the scan is a
/// check-in, and the sessionizer flags what needs review.
pub fn decide_scan(
    open_check_ins: &[OpenCheckIn],
    scan_at: DateTime<Utc>,
    time_zone: TimeZone,
    rules: &ProgramRules,
) -> ScanAction {
    let Some(latest) = open_check_ins.iter().max_by_key(|o| (o.at, o.event)) else {
        return ScanAction::CheckIn;
    };
    let tz = time_zone.tz();
    let same_day =
        latest.at.with_timezone(&tz).date_naive() == scan_at.with_timezone(&tz).date_naive();
    let elapsed = scan_at - latest.at;
    if same_day && elapsed >= chrono::Duration::zero() && elapsed <= rules.session_cap() {
        ScanAction::CheckOut {
            check_in: latest.event,
            since: latest.at,
        }
    } else {
        ScanAction::CheckIn
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
    use chrono::TimeZone as _;

    fn chicago() -> TimeZone {
        TimeZone::new("America/Chicago").expect("tz")
    }
    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chicago()
            .tz()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc)
    }
    fn open(n: u8, at: DateTime<Utc>) -> OpenCheckIn {
        OpenCheckIn {
            event: EventId::from_parts(u64::from(n), [n; 10]),
            kiosk: KioskId::new("k1").expect("kiosk"),
            at,
        }
    }
    fn check(open_check_ins: &[OpenCheckIn], at: DateTime<Utc>, out: bool) {
        let action = decide_scan(open_check_ins, at, chicago(), &ProgramRules::default());
        assert_eq!(
            matches!(action, ScanAction::CheckOut { .. }),
            out,
            "{action:?}"
        );
    }

    #[test]
    fn nothing_open_means_check_in() {
        check(&[], local(2026, 10, 5, 8, 0), false);
    }

    #[test]
    fn same_morning_means_check_out_of_the_latest() {
        let first = open(1, local(2026, 10, 5, 7, 0));
        let latest = open(2, local(2026, 10, 5, 8, 0));
        let action = decide_scan(
            &[latest.clone(), first],
            local(2026, 10, 5, 10, 0),
            chicago(),
            &ProgramRules::default(),
        );
        assert_eq!(
            action,
            ScanAction::CheckOut {
                check_in: latest.event,
                since: latest.at
            }
        );
    }

    #[test]
    fn forgotten_check_out_yesterday_means_check_in_today() {
        check(
            &[open(1, local(2026, 10, 4, 8, 0))],
            local(2026, 10, 5, 8, 0),
            false,
        );
    }

    #[test]
    fn the_day_is_school_local_not_utc() {
        // 18:30 and 19:30 in Chicago are different UTC dates but the same school day.
        check(
            &[open(1, local(2026, 10, 5, 18, 30))],
            local(2026, 10, 5, 19, 30),
            true,
        );
        // 23:30 and 00:30 are one UTC date but two school days.
        check(
            &[open(1, local(2026, 10, 5, 23, 30))],
            local(2026, 10, 6, 0, 30),
            false,
        );
    }

    #[test]
    fn over_the_cap_means_check_in() {
        check(
            &[open(1, local(2026, 10, 5, 6, 0))],
            local(2026, 10, 5, 14, 0),
            true,
        );
        check(
            &[open(1, local(2026, 10, 5, 6, 0))],
            local(2026, 10, 5, 14, 1),
            false,
        );
    }

    #[test]
    fn a_check_in_from_the_future_never_pairs() {
        check(
            &[open(1, local(2026, 10, 5, 11, 0))],
            local(2026, 10, 5, 10, 0),
            false,
        );
    }

    #[test]
    fn repeat_window() {
        let rules = ProgramRules::default();
        let t = local(2026, 10, 5, 8, 0);
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
