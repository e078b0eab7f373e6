//! One truth on the kiosk: what it shows agrees with what the server will credit, with the
//! roster's recent sessions merged in (the engine, on a real SQLite file, no window).

mod support;

use chrono::{DateTime, Duration, Utc};
use kiosk::engine::{Direction, Engine, ScanOutcome};
use kiosk::store::NewEvent;
use pm_shared::{
    badge_hash, Event, EventId, EventKind, HourCategory, KioskId, MentorId, PeriodName,
    RecentSession, ReviewReason, Roster, SeriesId, Source,
};
use support::*;

fn scan_source(mentor: &str) -> Source {
    Source::BadgeScan {
        generation: 1,
        provisional: false,
        badge_hash: badge_hash(&badge(mentor)),
        proof: None,
    }
}

/// An event as another kiosk (`k2`) recorded it and the server merged it.
fn elsewhere(n: u8, mentor: &str, at: DateTime<Utc>, kind: EventKind) -> Event {
    Event {
        id: EventId::from_parts(u64::from(n) + 100, [n; 10]),
        kiosk: KioskId::new("k2").expect("kiosk"),
        series: SeriesId::from_parts(9, [9; 10]),
        sequence: u64::from(n),
        mentor: Some(MentorId::new(mentor).expect("id")),
        at,
        time_zone: zone(),
        kind,
        source: scan_source(mentor),
    }
}

fn period() -> PeriodName {
    roster().current_period
}

/// An engine whose roster carries `recent` and these period totals, pulled at 9:30.
fn engine_with(
    dir: &std::path::Path,
    recent: Vec<RecentSession>,
    totals: &[(&str, f64)],
) -> Engine {
    let engine = seeded_engine(dir);
    let mut roster: Roster = roster();
    roster.version = "recent".into();
    roster.recent = recent;
    for m in &mut roster.mentors {
        if let Some((_, h)) = totals.iter().find(|(id, _)| *id == m.id.as_str()) {
            m.period_time_ms = (h * 3_600_000.0) as i64;
        }
    }
    let mut store = kiosk::open_store(dir, local(TODAY, 9, 30)).expect("store");
    store
        .save_roster(&roster, local(TODAY, 9, 30))
        .expect("roster");
    drop(engine);
    let store = kiosk::open_store(dir, local(TODAY, 9, 30)).expect("store");
    Engine::new(store, KioskId::new("k1").expect("kiosk"), zone()).expect("engine")
}

#[test]
fn a_check_in_closed_at_another_kiosk_is_not_open_here() {
    let dir = tempfile::tempdir().expect("dir");
    let check_in = elsewhere(1, "M-2", local(TODAY, 7, 0), EventKind::CheckIn);
    let check_out = elsewhere(
        2,
        "M-2",
        local(TODAY, 9, 0),
        EventKind::CheckOut {
            check_in: Some(check_in.id),
        },
    );
    let recent = vec![RecentSession {
        mentor: MentorId::new("M-2").expect("id"),
        item: check_in.id,
        category: HourCategory::Classroom,
        period: period(),
        events: vec![check_in, check_out],
        reasons: vec![],
        credited_ms: 2 * 3_600_000,
    }];
    let mut engine = engine_with(dir.path(), recent, &[("M-2", 62.0)]);
    let today = engine.today(local(TODAY, 10, 0)).expect("today");
    let ann: Vec<_> = today
        .iter()
        .filter(|s| s.mentor.as_str() == "M-2")
        .collect();
    assert_eq!(ann.len(), 1);
    assert!(!ann[0].is_open(), "she left at 9:00 at the other kiosk");
    // Her next scan here is a check-in, not a check-out of the 7:00 check-in.
    let outcome = engine
        .scan(&badge("M-2"), local(TODAY, 12, 0))
        .expect("scan");
    let ScanOutcome::Recorded(c) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(c.direction, Direction::In);
    assert_eq!(
        c.period_time,
        Duration::hours(62),
        "the roster's total, once"
    );
}

#[test]
fn the_period_total_never_counts_a_session_twice() {
    let dir = tempfile::tempdir().expect("dir");
    let check_in = elsewhere(1, "M-1", local(TODAY, 8, 0), EventKind::CheckIn);
    let check_out = elsewhere(
        2,
        "M-1",
        local(TODAY, 9, 0),
        EventKind::CheckOut {
            check_in: Some(check_in.id),
        },
    );
    let recent = vec![RecentSession {
        mentor: MentorId::new("M-1").expect("id"),
        item: check_in.id,
        category: HourCategory::Classroom,
        period: period(),
        events: vec![check_in.clone(), check_out],
        reasons: vec![],
        credited_ms: 3_600_000,
    }];
    // The roster's 61 h hold this morning's hour.
    let mut engine = engine_with(dir.path(), recent, &[("M-1", 61.0)]);
    // This kiosk, offline at 8:00, saw her arrive too (the same arrival).
    engine
        .store_mut()
        .append(NewEvent {
            id: EventId::from_parts(50, [5; 10]),
            kiosk: KioskId::new("k1").expect("kiosk"),
            mentor: MentorId::new("M-1").expect("id"),
            at: local(TODAY, 8, 4),
            time_zone: zone(),
            kind: EventKind::CheckIn,
            source: scan_source("M-1"),
        })
        .expect("append");
    let time = engine
        .period_time(&MentorId::new("M-1").expect("id"), local(TODAY, 10, 0))
        .expect("period time");
    assert_eq!(
        time,
        Duration::hours(61),
        "not 62: the hour is in the roster's total already"
    );
}

#[test]
fn today_shows_credited_time_and_sets_review_time_apart() {
    let dir = tempfile::tempdir().expect("dir");
    let mut engine = engine_with(dir.path(), Vec::new(), &[("M-1", 60.0)]);
    let coordinator = Source::Coordinator {
        coordinator: "Ms. Rivera".into(),
        reason: "r".into(),
    };
    let mentor = MentorId::new("M-1").expect("id");
    let add = |engine: &mut Engine, n: u8, kind: EventKind, at: DateTime<Utc>, source: Source| {
        engine
            .store_mut()
            .append(NewEvent {
                id: EventId::from_parts(u64::from(n), [n; 10]),
                kiosk: KioskId::new("k1").expect("kiosk"),
                mentor: mentor.clone(),
                at,
                time_zone: zone(),
                kind,
                source,
            })
            .expect("append")
    };
    // Community hours (reported apart, never toward the stipend), and a session over the cap.
    add(
        &mut engine,
        60,
        EventKind::AddSession {
            category: HourCategory::Community,
            start: local(TODAY, 5, 0),
            end: local(TODAY, 5, 45),
            group: None,
        },
        local(TODAY, 5, 50),
        coordinator,
    );
    let long_in = add(
        &mut engine,
        61,
        EventKind::CheckIn,
        local(TODAY, 6, 0),
        scan_source("M-1"),
    );
    add(
        &mut engine,
        62,
        EventKind::CheckOut {
            check_in: Some(long_in.id),
        },
        local(TODAY, 15, 0),
        scan_source("M-1"),
    );
    let outcome = engine
        .scan(&badge("M-1"), local(TODAY, 16, 0))
        .expect("scan");
    let ScanOutcome::Recorded(c) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(c.direction, Direction::In);
    assert_eq!(c.today, Duration::zero(), "nothing credited today yet");
    assert_eq!(
        c.pending_review,
        Duration::hours(9),
        "the long day waits on a review"
    );
    assert_eq!(c.period_time, Duration::hours(60));
    let sessions = engine.today(local(TODAY, 16, 1)).expect("today");
    assert!(sessions
        .iter()
        .any(|s| s.reasons == vec![ReviewReason::OverCap]));
}

#[test]
fn a_training_entered_here_over_a_synced_session_is_credited_once() {
    let dir = tempfile::tempdir().expect("dir");
    let check_in = elsewhere(1, "M-1", local(TODAY, 6, 0), EventKind::CheckIn);
    let check_out = elsewhere(
        2,
        "M-1",
        local(TODAY, 8, 0),
        EventKind::CheckOut {
            check_in: Some(check_in.id),
        },
    );
    let recent = vec![RecentSession {
        mentor: MentorId::new("M-1").expect("id"),
        item: check_in.id,
        category: HourCategory::Classroom,
        period: period(),
        events: vec![check_in, check_out],
        reasons: vec![],
        credited_ms: 2 * 3_600_000,
    }];
    // 62 h in the roster hold this morning's 2 h.
    let mut engine = engine_with(dir.path(), recent, &[("M-1", 62.0)]);
    // The coordinator enters a training 7:00-9:00 here: the server will credit 1 h classroom
    // and 2 h training, 3 h for the morning, not 4.
    engine
        .record_group_session(
            &[(
                MentorId::new("M-1").expect("id"),
                (local(TODAY, 7, 0), local(TODAY, 9, 0)),
            )],
            HourCategory::Training,
            "Ms. Rivera",
            "training",
            local(TODAY, 9, 10),
        )
        .expect("group");
    let time = engine
        .period_time(&MentorId::new("M-1").expect("id"), local(TODAY, 9, 15))
        .expect("period time");
    assert_eq!(time, Duration::hours(63));
}
