//! No date computation in the domain can panic, whatever instant a kiosk sends: every
//! `DateTime<Utc>` chrono can hold, as event instants, session bounds and "now".

use chrono::{DateTime, Utc};
use pm_shared::*;
use proptest::prelude::*;

/// Any instant chrono represents, with the extremes themselves over-weighted.
fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp_millis();
    let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
    prop_oneof![
        1 => Just(DateTime::<Utc>::MIN_UTC),
        1 => Just(DateTime::<Utc>::MAX_UTC),
        1 => (-10_000i64..10_000).prop_map(move |d| DateTime::from_timestamp_millis(min + d.abs()).unwrap_or(DateTime::<Utc>::MIN_UTC)),
        1 => (-10_000i64..10_000).prop_map(move |d| DateTime::from_timestamp_millis(max - d.abs()).unwrap_or(DateTime::<Utc>::MAX_UTC)),
        4 => (min..=max).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default()),
    ]
}

fn zone(n: u8) -> TimeZone {
    let names = [
        "America/Chicago",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "UTC",
    ];
    TimeZone::new(names[usize::from(n) % names.len()]).expect("tz")
}

fn event(n: u64, at: DateTime<Utc>, z: u8, kind: EventKind) -> Observed {
    let kiosk_level = kind.is_kiosk_level();
    let mut o = Observed::local(Event {
        id: EventId::from_parts(n, [n as u8; 10]),
        kiosk: KioskId::new("k1").expect("kiosk"),
        series: SeriesId::from_parts(0, [1; 10]),
        sequence: n,
        mentor: (!kiosk_level).then(|| MentorId::new("M-1").expect("mentor")),
        at,
        time_zone: zone(z),
        kind,
        source: if kiosk_level {
            Source::System
        } else {
            Source::Organizer {
                organizer: "O".into(),
                reason: "r".into(),
            }
        },
    });
    o.delivery = Some(Delivery {
        offset_ms: i64::MAX,
        through_sequence: n,
        received_at: None,
    });
    o
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn nothing_panics_at_any_instant(
        a in any_instant(), b in any_instant(), c in any_instant(), now in any_instant(), z in 0u8..4,
    ) {
        let first = EventId::from_parts(1, [1; 10]);
        let events = vec![
            event(1, a, z, EventKind::CheckIn),
            event(2, b, z, EventKind::CheckOut { check_in: Some(first) }),
            event(3, c, z, EventKind::CheckOut { check_in: None }),
            event(4, a, z, EventKind::AddSession { category: HourCategory::Training, start: b, end: c, group: None }),
            event(5, c, z, EventKind::CloseSession { check_in: first, end: a }),
            event(6, b, z, EventKind::SetTimes { item: first, start: Some(c), end: Some(a) }),
            event(7, c, z, EventKind::approve(first)),
            event(8, a, z, EventKind::ClockCheck { server_clock: b }),
            event(9, b, z, EventKind::ClockJump { delta_ms: i64::MIN }),
        ];
        for rules in [ProgramRules::default(), ProgramRules { periods: PeriodScheme::school_years(), ..ProgramRules::default() }] {
            let sessions = sessionize(&events, &rules, now);
            let _ = period_totals(&sessions, &rules);
            let _ = review_items(&sessions, now);
            let _ = decide_scan(&sessions, now, zone(z), &rules);
            let _ = is_repeat_scan(Some(a), b, &rules);
            for t in [a, b, c, now] {
                let p = rules.period_of(t.date_naive());
                let _ = rules.period_named(&p.name.0);
            }
        }
    }
}
