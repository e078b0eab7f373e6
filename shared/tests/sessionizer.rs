//! The sessionizer, decided case by case (DESIGN.md, "Cases the sessionizer must decide"), and
//! its properties over random timelines.

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use pm_shared::*;
use proptest::prelude::*;

const CHICAGO: &str = "America/Chicago";

fn tz() -> TimeZone {
    TimeZone::new(CHICAGO).expect("tz")
}

/// A Chicago wall-clock time, e.g. `local("2026-10-05 08:00")`.
fn local(s: &str) -> DateTime<Utc> {
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("test time");
    tz().tz()
        .from_local_datetime(&naive)
        .earliest()
        .expect("exists")
        .with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn now() -> DateTime<Utc> {
    local("2027-06-01 12:00")
}

/// Builds a timeline: each event gets a fresh id and the next sequence number.
struct Log {
    events: Vec<Observed>,
    next: u64,
}

impl Log {
    fn new() -> Self {
        Self {
            events: Vec::new(),
            next: 1,
        }
    }

    fn push(
        &mut self,
        mentor: &str,
        kiosk: &str,
        at: DateTime<Utc>,
        kind: EventKind,
        source: Source,
    ) -> EventId {
        let n = self.next;
        self.next += 1;
        let id = EventId::from_parts(
            n,
            (n as u128).to_be_bytes()[6..].try_into().expect("10 bytes"),
        );
        self.events.push(Observed::local(Event {
            id,
            kiosk: KioskId::new(kiosk).expect("kiosk"),
            series: SeriesId::from_parts(0, [0; 10]),
            sequence: n,
            mentor: Some(MentorId::new(mentor).expect("mentor")),
            at,
            time_zone: tz(),
            kind,
            source,
        }));
        id
    }

    fn scan(&mut self, kind: EventKind, mentor: &str, kiosk: &str, at: &str) -> EventId {
        self.push(mentor, kiosk, local(at), kind, scan_source(false))
    }
    fn check_in(&mut self, mentor: &str, at: &str) -> EventId {
        self.scan(EventKind::CheckIn, mentor, "k1", at)
    }
    fn check_out(&mut self, mentor: &str, at: &str) -> EventId {
        self.scan(OUT, mentor, "k1", at)
    }
    /// A protocol 2 check-out, naming the check-in it closes.
    fn check_out_of(&mut self, check_in: EventId, mentor: &str, kiosk: &str, at: &str) -> EventId {
        self.scan(
            EventKind::CheckOut {
                check_in: Some(check_in),
            },
            mentor,
            kiosk,
            at,
        )
    }
    fn organizer(&mut self, mentor: &str, at: &str, kind: EventKind) -> EventId {
        self.push(mentor, "server", local(at), kind, organizer())
    }
    fn correct(&mut self, mentor: &str, at: &str, kind: EventKind) -> EventId {
        self.push(mentor, "k1", local(at), kind, coordinator())
    }

    fn sessions(&self) -> Vec<Session> {
        sessionize(&self.events, &ProgramRules::default(), now())
    }
    fn totals(&self, mentor: &str, period: &str) -> PeriodTotals {
        let all = period_totals(&self.sessions(), &ProgramRules::default());
        all.get(&(
            MentorId::new(mentor).expect("mentor"),
            PeriodName(period.into()),
        ))
        .cloned()
        .expect("totals for that mentor and period")
    }
}

fn scan_source(provisional: bool) -> Source {
    Source::BadgeScan {
        generation: 1,
        provisional,
        badge_hash: "h".into(),
        proof: None,
    }
}

/// A protocol 1 check-out: it names no check-in and pairs by time.
const OUT: EventKind = EventKind::CheckOut { check_in: None };

fn organizer() -> Source {
    Source::Organizer {
        organizer: "Olga".into(),
        reason: "checked with the teacher".into(),
    }
}

fn coordinator() -> Source {
    Source::Coordinator {
        coordinator: "Ana".into(),
        reason: "fix".into(),
    }
}

/// (start, end, reasons) of one session.
type Shape = (
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Vec<ReviewReason>,
);

/// As if every event had arrived in its own upload, with the kiosk's clock off by `offset_ms`.
fn set_delivery_offsets(log: &mut Log, offset_ms: i64) {
    for e in &mut log.events {
        e.delivery = Some(Delivery {
            offset_ms,
            through_sequence: e.event.sequence,
            received_at: None,
        });
    }
}

/// (start, end, reasons) per session, for compact expectations.
fn shape(sessions: &[Session]) -> Vec<Shape> {
    sessions
        .iter()
        .map(|s| (s.start, s.end, s.reasons.clone()))
        .collect()
}

fn hours(s: &Session) -> Option<f64> {
    s.counted_duration().map(hours_2dp)
}

#[test]
fn a_plain_morning_counts_two_hours() {
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 08:02");
    log.check_out("M1", "2026-10-05 10:02");
    let sessions = log.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(hours(&sessions[0]), Some(2.0));
    assert_eq!(sessions[0].local_date, date("2026-10-05"));
    assert_eq!(sessions[0].period.0, "2026-fall");
    assert_eq!(sessions[0].category, HourCategory::Classroom);
    let t = log.totals("M1", "2026-fall");
    assert_eq!(
        (
            t.stipend_hours(),
            t.days,
            t.sessions,
            t.open_sessions,
            t.needs_review
        ),
        (2.0, 1, 1, 0, 0)
    );
}

#[test]
fn forgotten_check_out_stays_open_and_earns_nothing() {
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 08:00");
    // Next morning the toggle rule checks her in again; the stale check-in stays open.
    log.check_in("M1", "2026-10-06 08:00");
    log.check_out("M1", "2026-10-06 10:00");
    assert_eq!(
        shape(&log.sessions()),
        vec![
            (
                Some(local("2026-10-05 08:00")),
                None,
                vec![ReviewReason::Open]
            ),
            (
                Some(local("2026-10-06 08:00")),
                Some(local("2026-10-06 10:00")),
                vec![]
            ),
        ]
    );
    let t = log.totals("M1", "2026-fall");
    assert_eq!(
        (t.stipend_hours(), t.open_sessions, t.needs_review),
        (2.0, 1, 1)
    );
}

#[test]
fn a_coordinator_closes_a_forgotten_check_out() {
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    let close = log.correct(
        "M1",
        "2026-10-06 08:30",
        EventKind::CloseSession {
            check_in,
            end: local("2026-10-05 10:00"),
        },
    );
    let sessions = log.sessions();
    assert_eq!(
        shape(&sessions),
        vec![(
            Some(local("2026-10-05 08:00")),
            Some(local("2026-10-05 10:00")),
            vec![]
        )]
    );
    assert_eq!(
        sessions[0].events,
        vec![check_in, close],
        "the correction is part of the session's history"
    );
    // A second correction wins over the first; both stay in the log.
    log.correct(
        "M1",
        "2026-10-06 09:00",
        EventKind::CloseSession {
            check_in,
            end: local("2026-10-05 10:30"),
        },
    );
    assert_eq!(hours(&log.sessions()[0]), Some(2.5));
}

#[test]
fn two_check_ins_from_two_kiosks() {
    // Within the duplicate window: the same arrival seen twice.
    let mut log = Log::new();
    log.scan(EventKind::CheckIn, "M1", "k1", "2026-10-05 08:00");
    log.scan(EventKind::CheckIn, "M1", "k2", "2026-10-05 08:01");
    log.scan(OUT, "M1", "k1", "2026-10-05 10:00");
    let sessions = log.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].events.len(), 3);
    assert_eq!(hours(&sessions[0]), Some(2.0));

    // Later than that (kiosk 2 was offline and did not know): the first stays open for review.
    let mut log = Log::new();
    log.scan(EventKind::CheckIn, "M1", "k1", "2026-10-05 08:00");
    log.scan(EventKind::CheckIn, "M1", "k2", "2026-10-05 09:00");
    log.scan(OUT, "M1", "k1", "2026-10-05 10:00");
    assert_eq!(
        shape(&log.sessions()),
        vec![
            (
                Some(local("2026-10-05 08:00")),
                None,
                vec![ReviewReason::Open]
            ),
            (
                Some(local("2026-10-05 09:00")),
                Some(local("2026-10-05 10:00")),
                vec![]
            ),
        ]
    );
}

#[test]
fn check_in_at_one_kiosk_and_out_at_another_pair_up() {
    let mut log = Log::new();
    log.scan(EventKind::CheckIn, "M1", "k1", "2026-10-05 08:00");
    log.scan(OUT, "M1", "k2", "2026-10-05 10:15");
    let sessions = log.sessions();
    assert_eq!(hours(&sessions[0]), Some(2.25));
    assert_eq!(sessions[0].kiosk.as_str(), "k1");
}

#[test]
fn check_out_with_no_check_in() {
    let mut log = Log::new();
    log.check_out("M1", "2026-10-05 10:00");
    log.check_out("M1", "2026-10-05 10:00"); // a second scan within the window is absorbed
    let sessions = log.sessions();
    assert_eq!(
        shape(&sessions),
        vec![(
            None,
            Some(local("2026-10-05 10:00")),
            vec![ReviewReason::CheckOutWithoutCheckIn]
        )]
    );
    assert_eq!(sessions[0].local_date, date("2026-10-05"));
    assert_eq!(hours(&sessions[0]), None);
    let t = log.totals("M1", "2026-fall");
    assert_eq!(
        (t.stipend_hours(), t.needs_review, t.open_sessions),
        (0.0, 1, 0)
    );
}

#[test]
fn a_session_over_midnight_needs_approval() {
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 22:00");
    log.check_out("M1", "2026-10-06 01:00");
    assert_eq!(
        log.sessions()[0].reasons,
        vec![ReviewReason::AcrossMidnight]
    );
    log.organizer("M1", "2026-10-06 09:00", EventKind::approve(check_in));
    assert_eq!(hours(&log.sessions()[0]), Some(3.0));
}

#[test]
fn a_session_over_the_cap_needs_approval_or_a_corrected_end() {
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 06:00");
    log.check_out("M1", "2026-10-05 15:00");
    assert_eq!(log.sessions()[0].reasons, vec![ReviewReason::OverCap]);
    assert_eq!(log.totals("M1", "2026-fall").stipend_hours(), 0.0);

    let mut approved = Log {
        events: log.events.clone(),
        next: log.next,
    };
    approved.organizer("M1", "2026-10-06 09:00", EventKind::approve(check_in));
    assert_eq!(hours(&approved.sessions()[0]), Some(9.0));

    log.correct(
        "M1",
        "2026-10-06 09:00",
        EventKind::CloseSession {
            check_in,
            end: local("2026-10-05 12:00"),
        },
    );
    assert_eq!(hours(&log.sessions()[0]), Some(6.0));
}

#[test]
fn exactly_the_cap_counts() {
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 06:00");
    log.check_out("M1", "2026-10-05 14:00");
    assert_eq!(hours(&log.sessions()[0]), Some(8.0));
}

#[test]
fn dst_days_in_chicago() {
    // Spring forward, 2026-03-08: 02:00 becomes 03:00. 01:30 to 03:30 is one hour.
    let mut log = Log::new();
    log.check_in("M1", "2026-03-08 01:30");
    log.check_out("M1", "2026-03-08 03:30");
    // Fall back, 2026-11-01: 02:00 becomes 01:00. 00:30 to 02:30 is three hours.
    log.check_in("M1", "2026-11-01 00:30");
    log.check_out("M1", "2026-11-01 02:30");
    let sessions = log.sessions();
    assert_eq!(hours(&sessions[0]), Some(1.0));
    assert_eq!(sessions[0].local_date, date("2026-03-08"));
    assert_eq!(hours(&sessions[1]), Some(3.0));
    assert_eq!(sessions[1].local_date, date("2026-11-01"));
}

#[test]
fn the_day_is_the_school_day_not_the_utc_day() {
    // 18:00–20:00 in Chicago crosses midnight UTC but is one school day.
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 18:00");
    log.check_out("M1", "2026-10-05 20:00");
    let sessions = log.sessions();
    assert_eq!(sessions[0].reasons, vec![]);
    assert_eq!(sessions[0].local_date, date("2026-10-05"));
}

#[test]
fn a_kiosk_with_a_wrong_clock() {
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    // The server saw this kiosk's clock 2 hours off when these events arrived.
    set_delivery_offsets(&mut log, 2 * 3_600_000);
    assert_eq!(
        log.sessions()[0].reasons,
        vec![ReviewReason::KioskClockSkew]
    );
    set_delivery_offsets(&mut log, -20_000); // 20 s: within tolerance
    assert_eq!(log.sessions()[0].reasons, vec![]);
    set_delivery_offsets(&mut log, 2 * 3_600_000);
    log.organizer("M1", "2026-10-06 09:00", EventKind::approve(check_in));
    assert_eq!(hours(&log.sessions()[0]), Some(2.0));
}

#[test]
fn absurd_dates_are_kept_and_flagged() {
    let mut log = Log::new();
    log.push(
        "M1",
        "k1",
        Utc.timestamp_opt(0, 0).single().expect("epoch"),
        EventKind::CheckIn,
        scan_source(false),
    );
    log.push(
        "M1",
        "k1",
        Utc.timestamp_opt(7_200, 0).single().expect("epoch"),
        OUT,
        scan_source(false),
    );
    log.check_in("M1", "2027-09-01 08:00"); // after now() + 24 h
    log.check_out("M1", "2027-09-01 10:00");
    let sessions = log.sessions();
    assert_eq!(sessions.len(), 2);
    for s in &sessions {
        assert!(s.reasons.contains(&ReviewReason::ImplausibleDate), "{s:?}");
        assert_eq!(hours(s), None);
    }
    assert_eq!(
        sessions[0].period.0, "1969-fall",
        "kept, in the period its date says"
    );
    // An approval does not make a 1970 date count: void it and add the real session instead.
    let check_in = sessions[0].opened_by.expect("opened");
    log.organizer("M1", "2026-10-06 09:00", EventKind::approve(check_in));
    assert!(log.sessions()[0]
        .reasons
        .contains(&ReviewReason::ImplausibleDate));
}

#[test]
fn the_same_event_received_twice_counts_once() {
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    let once = log.sessions();
    let mut twice = log.events.clone();
    twice.extend(log.events.iter().cloned());
    twice.reverse();
    assert_eq!(sessionize(&twice, &ProgramRules::default(), now()), once);
}

#[test]
fn voiding_a_mistaken_scan() {
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 08:00");
    let mistake = log.check_out("M1", "2026-10-05 08:05"); // scanned twice on the way in
    log.check_out("M1", "2026-10-05 10:00");
    assert_eq!(
        log.sessions().len(),
        2,
        "without the void: a 5-minute session and a lone check-out"
    );
    let void = log.correct(
        "M1",
        "2026-10-05 10:30",
        EventKind::Void { target: mistake },
    );
    let sessions = log.sessions();
    assert_eq!(
        shape(&sessions),
        vec![(
            Some(local("2026-10-05 08:00")),
            Some(local("2026-10-05 10:00")),
            vec![]
        )]
    );
    // A void of a void reverses it (the mistaken check-out stands again), and a void of that
    // restores the first: every decision can be undone by a later one.
    let unvoid = log.correct("M1", "2026-10-05 10:31", EventKind::Void { target: void });
    assert_eq!(
        log.sessions().len(),
        2,
        "back to the 5-minute session and a lone check-out"
    );
    log.correct("M1", "2026-10-05 10:32", EventKind::Void { target: unvoid });
    assert_eq!(shape(&log.sessions()), shape(&sessions));
}

#[test]
fn a_reversal_holds_whatever_the_clocks_said() {
    // The coordinator's kiosk runs an hour fast: her void is stamped after the organizer's
    // void of it. The reversal still stands, and a ring of voids (forged ids) counts for
    // nothing.
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    let void = log.correct(
        "M1",
        "2026-10-05 12:00",
        EventKind::Void { target: check_in },
    );
    assert!(log.sessions().is_empty(), "an open check-in, voided");
    log.organizer("M1", "2026-10-05 11:10", EventKind::Void { target: void });
    assert_eq!(log.sessions().len(), 1, "the void is reversed");
    let mut ring = Log::new();
    let c = ring.check_in("M1", "2026-10-05 08:00");
    let a = pm_shared::EventId::from_parts(9_000_000, [9; 10]);
    let b = pm_shared::EventId::from_parts(9_000_001, [9; 10]);
    let mut forged = |id, target| {
        let mut o = ring.events[0].clone();
        o.event.id = id;
        o.event.kind = EventKind::Void { target };
        o.event.source = coordinator();
        ring.events.push(o);
    };
    forged(a, b);
    forged(b, a);
    let _ = c;
    assert_eq!(ring.sessions().len(), 1, "a ring of voids voids nothing");
}

#[test]
fn a_group_session_adds_hours_in_its_category() {
    let mut log = Log::new();
    let group = Some(uuid::Uuid::from_u128(1));
    for mentor in ["M1", "M2"] {
        log.correct(
            mentor,
            "2026-10-05 13:00",
            EventKind::AddSession {
                category: HourCategory::Training,
                start: local("2026-10-05 09:00"),
                end: local("2026-10-05 12:00"),
                group,
            },
        );
        log.correct(
            mentor,
            "2026-10-06 13:00",
            EventKind::AddSession {
                category: HourCategory::Community,
                start: local("2026-10-06 09:00"),
                end: local("2026-10-06 10:00"),
                group: None,
            },
        );
    }
    for mentor in ["M1", "M2"] {
        let t = log.totals(mentor, "2026-fall");
        assert_eq!(
            t.stipend_hours(),
            3.0,
            "community hours do not count toward the stipend"
        );
        assert_eq!(
            t.by_category.get(&HourCategory::Training),
            Some(&Duration::hours(3))
        );
        assert_eq!(
            t.by_category.get(&HourCategory::Community),
            Some(&Duration::hours(1))
        );
        assert_eq!((t.sessions, t.days), (1, 1));
    }
}

#[test]
fn provisional_badges_count_once_verified() {
    let mut log = Log::new();
    log.push(
        "M9",
        "k1",
        local("2026-10-05 08:00"),
        EventKind::CheckIn,
        scan_source(true),
    );
    log.push(
        "M9",
        "k1",
        local("2026-10-05 10:00"),
        OUT,
        scan_source(true),
    );
    assert_eq!(
        log.sessions()[0].reasons,
        vec![ReviewReason::UnverifiedBadge]
    );
    for e in &mut log.events {
        e.badge_verified = true;
    }
    assert_eq!(hours(&log.sessions()[0]), Some(2.0));
}

#[test]
fn eligibility_date_is_the_day_the_threshold_is_crossed() {
    let mut log = Log::new();
    let first = date("2026-09-01");
    for day in 0..55 {
        let d = first + Duration::days(day);
        log.check_in("M1", &format!("{d} 08:00"));
        log.check_out("M1", &format!("{d} 10:00"));
    }
    let t = log.totals("M1", "2026-fall");
    assert_eq!(t.stipend_hours(), 110.0);
    assert_eq!(
        t.eligible_on,
        Some(first + Duration::days(49)),
        "the 50th two-hour day reaches 100"
    );
    assert_eq!(t.days, 55);
}

#[test]
fn hours_accrue_per_period() {
    let mut log = Log::new();
    log.check_in("M1", "2027-01-15 08:00");
    log.check_out("M1", "2027-01-15 10:00");
    log.check_in("M1", "2027-01-16 08:00");
    log.check_out("M1", "2027-01-16 09:00");
    assert_eq!(log.totals("M1", "2026-fall").stipend_hours(), 2.0);
    assert_eq!(log.totals("M1", "2027-spring").stipend_hours(), 1.0);
    let years = ProgramRules {
        periods: PeriodScheme::school_years(),
        ..ProgramRules::default()
    };
    let sessions = sessionize(&log.events, &years, now());
    let totals = period_totals(&sessions, &years);
    assert_eq!(totals.len(), 1);
    assert_eq!(totals.values().map(|t| t.stipend_hours()).sum::<f64>(), 3.0);
}

#[test]
fn open_check_ins_feed_the_toggle_rule() {
    let mut log = Log::new();
    let check_in = log.scan(EventKind::CheckIn, "M1", "k2", "2026-10-05 08:00");
    let open = open_check_ins(&log.sessions(), &MentorId::new("M1").expect("mentor"));
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].event, open[0].kiosk.as_str()), (check_in, "k2"));
    let action = decide_scan(
        &log.sessions(),
        local("2026-10-05 10:00"),
        tz(),
        &ProgramRules::default(),
    );
    assert!(matches!(action, ScanAction::CheckOut { check_in: c, .. } if c == check_in));
}

// ---------------------------------------------------------------------------------------------
// Trustworthy hours: pairing, overlaps, resolutions, clock checks, set-aside events.

fn reasons_of(sessions: &[Session]) -> Vec<Vec<ReviewReason>> {
    sessions.iter().map(|s| s.reasons.clone()).collect()
}

#[test]
fn a_check_out_closes_the_check_in_it_names_wherever_it_was_made() {
    let mut log = Log::new();
    let check_in = log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 08:00");
    log.check_out_of(check_in, "M1", "kb", "2026-10-05 10:00");
    let sessions = log.sessions();
    assert_eq!(
        shape(&sessions),
        vec![(
            Some(local("2026-10-05 08:00")),
            Some(local("2026-10-05 10:00")),
            vec![]
        )]
    );
    assert_eq!(sessions[0].kiosks.len(), 2, "both kiosks shaped it");
    assert_eq!(
        sessions[0].item, check_in,
        "its review item is its check-in"
    );
}

#[test]
fn a_second_check_out_of_a_closed_session_goes_to_review() {
    let mut log = Log::new();
    let check_in = log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 08:00");
    log.check_out_of(check_in, "M1", "kb", "2026-10-05 10:00");
    // Kiosk A had not heard of B's check-out and closed the session again at noon.
    log.check_out_of(check_in, "M1", "ka", "2026-10-05 12:00");
    let sessions = log.sessions();
    assert_eq!(
        shape(&sessions),
        vec![(
            Some(local("2026-10-05 08:00")),
            Some(local("2026-10-05 10:00")),
            vec![ReviewReason::ClosedTwice]
        )],
        "the first check-out stands and nothing is credited until someone decides"
    );
    assert_eq!(log.totals("M1", "2026-fall").stipend_time, Duration::zero());
    // An organizer approves it as recorded: 8:00-10:00.
    log.organizer("M1", "2026-10-06 09:00", EventKind::approve(check_in));
    assert_eq!(hours(&log.sessions()[0]), Some(2.0));
}

#[test]
fn a_coordinator_close_of_a_closed_session_never_silently_wins() {
    let mut log = Log::new();
    let check_in = log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 08:00");
    log.check_out_of(check_in, "M1", "kb", "2026-10-05 10:00");
    // At kiosk A the coordinator "closes" the session she thought open, lengthening it.
    log.push(
        "M1",
        "ka",
        local("2026-10-05 15:00"),
        EventKind::CloseSession {
            check_in,
            end: local("2026-10-05 14:00"),
        },
        coordinator(),
    );
    assert_eq!(
        shape(&log.sessions()),
        vec![(
            Some(local("2026-10-05 08:00")),
            Some(local("2026-10-05 10:00")),
            vec![ReviewReason::ClosedTwice]
        )]
    );
    // The coordinator resolves the conflict with the real end (she may: it needed review).
    log.correct(
        "M1",
        "2026-10-05 15:10",
        EventKind::SetTimes {
            item: check_in,
            start: None,
            end: Some(local("2026-10-05 10:00")),
        },
    );
    assert_eq!(hours(&log.sessions()[0]), Some(2.0));
}

#[test]
fn a_coordinator_close_of_an_open_session_resolves_it_and_a_late_check_out_conflicts() {
    let mut log = Log::new();
    let check_in = log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 08:00");
    log.correct(
        "M1",
        "2026-10-06 08:00",
        EventKind::CloseSession {
            check_in,
            end: local("2026-10-05 10:00"),
        },
    );
    assert_eq!(hours(&log.sessions()[0]), Some(2.0));
    // Then kiosk B, offline until now, delivers her real check-out at 11:00.
    log.check_out_of(check_in, "M1", "kb", "2026-10-05 11:00");
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![ReviewReason::ClosedTwice]]
    );
}

#[test]
fn a_second_arrival_within_the_window_is_the_same_arrival() {
    let mut log = Log::new();
    log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 08:00");
    // Kiosk B was offline and did not know: it checked her in again 7 minutes later, and
    // checked her out of that check-in at 10:00.
    let second = log.scan(EventKind::CheckIn, "M1", "kb", "2026-10-05 08:07");
    log.check_out_of(second, "M1", "kb", "2026-10-05 10:00");
    let sessions = log.sessions();
    assert_eq!(
        shape(&sessions),
        vec![(
            Some(local("2026-10-05 08:00")),
            Some(local("2026-10-05 10:00")),
            vec![]
        )]
    );
    assert_eq!(sessions[0].events.len(), 3);
}

#[test]
fn overlapping_training_is_credited_once_under_its_category() {
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    log.correct(
        "M1",
        "2026-10-05 11:30",
        EventKind::AddSession {
            category: HourCategory::Training,
            start: local("2026-10-05 09:00"),
            end: local("2026-10-05 11:00"),
            group: None,
        },
    );
    let sessions = log.sessions();
    assert!(
        sessions.iter().all(|s| s.reasons.is_empty()),
        "no review needed: {sessions:?}"
    );
    let t = log.totals("M1", "2026-fall");
    assert_eq!(
        t.by_category.get(&HourCategory::Classroom),
        Some(&Duration::hours(1))
    );
    assert_eq!(
        t.by_category.get(&HourCategory::Training),
        Some(&Duration::hours(2))
    );
    assert_eq!(
        t.stipend_time,
        Duration::hours(3),
        "08:00-11:00 is three hours, not four"
    );
}

#[test]
fn the_same_training_entered_at_two_kiosks_counts_once() {
    let mut log = Log::new();
    let training = |k: &str, log: &mut Log, at: &str| {
        log.push(
            "M1",
            k,
            local(at),
            EventKind::AddSession {
                category: HourCategory::Training,
                start: local("2026-10-05 09:00"),
                end: local("2026-10-05 11:00"),
                group: None,
            },
            coordinator(),
        )
    };
    let first = training("ka", &mut log, "2026-10-05 11:30");
    let second = training("kb", &mut log, "2026-10-05 12:00");
    let sessions = log.sessions();
    let later = sessions.iter().find(|s| s.item == second).expect("second");
    assert_eq!(
        later.reasons,
        vec![ReviewReason::Overlap],
        "the later-recorded one needs review"
    );
    assert!(sessions
        .iter()
        .any(|s| s.item == first && s.reasons.is_empty()));
    assert_eq!(
        log.totals("M1", "2026-fall").stipend_time,
        Duration::hours(2)
    );
    // Even approved, the same two hours are never credited twice.
    log.organizer("M1", "2026-10-06 09:00", EventKind::approve(second));
    assert_eq!(
        log.totals("M1", "2026-fall").stipend_time,
        Duration::hours(2)
    );
}

#[test]
fn overlapping_badge_sessions_put_the_later_one_in_review() {
    let mut log = Log::new();
    let a = log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 08:00");
    log.check_out_of(a, "M1", "ka", "2026-10-05 10:00");
    let b = log.scan(EventKind::CheckIn, "M1", "kb", "2026-10-05 09:00");
    log.check_out_of(b, "M1", "kb", "2026-10-05 11:00");
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![], vec![ReviewReason::Overlap]]
    );
    assert_eq!(
        log.totals("M1", "2026-fall").stipend_time,
        Duration::hours(2)
    );
    log.organizer("M1", "2026-10-06 09:00", EventKind::approve(b));
    // Approved: the union, 08:00-11:00, never 4 hours.
    assert_eq!(
        log.totals("M1", "2026-fall").stipend_time,
        Duration::hours(3)
    );
}

#[test]
fn resolutions_settle_every_kind_of_item() {
    // A check-out with no check-in: an organizer sets the start.
    let mut log = Log::new();
    let out = log.check_out("M1", "2026-10-05 10:00");
    log.organizer(
        "M1",
        "2026-10-06 09:00",
        EventKind::SetTimes {
            item: out,
            start: Some(local("2026-10-05 08:00")),
            end: None,
        },
    );
    assert_eq!(hours(&log.sessions()[0]), Some(2.0));

    // Ends before it starts: new times.
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    log.correct(
        "M1",
        "2026-10-05 12:00",
        EventKind::CloseSession {
            check_in,
            end: local("2026-10-05 07:00"),
        },
    );
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![ReviewReason::EndBeforeStart]]
    );
    log.organizer(
        "M1",
        "2026-10-06 09:00",
        EventKind::SetTimes {
            item: check_in,
            start: None,
            end: Some(local("2026-10-05 09:30")),
        },
    );
    assert_eq!(hours(&log.sessions()[0]), Some(1.5));

    // Over the cap: coordinator's new times beyond the cap stay over the cap; only an
    // organizer's approval credits more than the cap.
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 06:00");
    log.check_out("M1", "2026-10-05 15:00");
    log.correct(
        "M1",
        "2026-10-05 16:00",
        EventKind::SetTimes {
            item: check_in,
            start: Some(local("2026-10-05 06:30")),
            end: None,
        },
    );
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![ReviewReason::OverCap]]
    );
    log.organizer("M1", "2026-10-06 09:00", EventKind::approve(check_in));
    assert_eq!(hours(&log.sessions()[0]), Some(8.5));

    // A coordinator's approval counts for nothing: approving is the organizer's.
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 22:00");
    log.check_out("M1", "2026-10-06 01:00");
    log.correct("M1", "2026-10-06 09:00", EventKind::approve(check_in));
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![ReviewReason::AcrossMidnight]]
    );

    // An organizer's void of a session's item removes the whole session; a coordinator's void
    // of a session that needed nothing is a change after it was closed: held for review
    // (closed twice), never a silent loss of hours. An organizer's approval lets it count; her
    // void removes it.
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    log.check_out_of(check_in, "M1", "k1", "2026-10-05 10:00");
    log.organizer(
        "M1",
        "2026-10-05 11:00",
        EventKind::Void { target: check_in },
    );
    assert_eq!(log.sessions(), vec![]);
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    log.check_out_of(check_in, "M1", "k1", "2026-10-05 10:00");
    log.correct(
        "M1",
        "2026-10-05 11:00",
        EventKind::Void { target: check_in },
    );
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![ReviewReason::ClosedTwice]]
    );
    let mut decide = Log {
        events: log.events.clone(),
        next: log.next,
    };
    decide.organizer("M1", "2026-10-06 09:00", EventKind::approve(check_in));
    assert_eq!(hours(&decide.sessions()[0]), Some(2.0));
    log.organizer(
        "M1",
        "2026-10-06 09:00",
        EventKind::Void { target: check_in },
    );
    assert_eq!(log.sessions(), vec![]);
}

#[test]
fn set_aside_events_wait_for_an_organizer() {
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    let out = log.check_out_of(check_in, "M1", "k1", "2026-10-05 10:00");
    for e in &mut log.events {
        e.set_aside = Some("not_at_school".into());
    }
    let sessions = log.sessions();
    assert_eq!(sessions.len(), 2, "each set-aside event is one item");
    assert!(sessions
        .iter()
        .all(|s| s.reasons == vec![ReviewReason::SetAside] && s.end.is_none()));
    assert_eq!(sessions[0].set_aside.as_deref(), Some("not_at_school"));
    assert_eq!(
        sessions[0].start,
        Some(local("2026-10-05 08:00")),
        "the event's instant"
    );
    let t = log.totals("M1", "2026-fall");
    assert_eq!(
        (t.set_aside, t.needs_review, t.stipend_time),
        (2, 2, Duration::zero())
    );

    // A coordinator cannot accept; an organizer can.
    let mut tried = Log {
        events: log.events.clone(),
        next: log.next,
    };
    tried.correct(
        "M1",
        "2026-10-06 08:00",
        EventKind::AcceptEvent { item: check_in },
    );
    assert_eq!(tried.sessions().len(), 2);
    log.organizer(
        "M1",
        "2026-10-06 08:00",
        EventKind::AcceptEvent { item: check_in },
    );
    log.organizer(
        "M1",
        "2026-10-06 08:01",
        EventKind::AcceptEvent { item: out },
    );
    assert_eq!(
        shape(&log.sessions()),
        vec![(
            Some(local("2026-10-05 08:00")),
            Some(local("2026-10-05 10:00")),
            vec![]
        )]
    );

    // Rejected: gone, and nothing left to review.
    let mut rejected = Log {
        events: tried.events.clone(),
        next: tried.next,
    };
    rejected.organizer(
        "M1",
        "2026-10-06 08:00",
        EventKind::RejectEvent { item: check_in },
    );
    rejected.organizer(
        "M1",
        "2026-10-06 08:00",
        EventKind::RejectEvent { item: out },
    );
    assert_eq!(rejected.sessions(), vec![]);
}

/// Sets the delivery reading of the events with these sequence numbers.
fn delivered(log: &mut Log, sequences: std::ops::RangeInclusive<u64>, offset_ms: i64) {
    let through = *sequences.end();
    for e in &mut log.events {
        if sequences.contains(&e.event.sequence) {
            e.delivery = Some(Delivery {
                offset_ms,
                through_sequence: through,
                received_at: None,
            });
        }
    }
}

fn kiosk_event(log: &mut Log, at: &str, kind: EventKind) {
    log.push("M1", "k1", local(at), kind, Source::System);
    if let Some(e) = log.events.last_mut() {
        e.event.mentor = None;
    }
}

#[test]
fn clock_skew_is_judged_by_the_readings_around_each_event() {
    const SIX_MIN: i64 = 6 * 60_000;
    // The kiosk was right at its last sync (a clock check), then 6 minutes fast at this one:
    // the events between are not parked (only one side says the clock was off).
    let mut log = Log::new();
    kiosk_event(
        &mut log,
        "2026-10-05 07:00",
        EventKind::ClockCheck {
            server_clock: local("2026-10-05 07:00"),
        },
    );
    log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    delivered(&mut log, 1..=3, SIX_MIN);
    assert_eq!(reasons_of(&log.sessions()), vec![vec![]]);

    // Off at both: flagged.
    let mut log = Log::new();
    kiosk_event(
        &mut log,
        "2026-10-05 07:06",
        EventKind::ClockCheck {
            server_clock: local("2026-10-05 07:00"),
        },
    );
    log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    delivered(&mut log, 1..=3, SIX_MIN);
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![ReviewReason::KioskClockSkew]]
    );

    // The kiosk restarted 6 minutes fast, recorded the morning, then NTP set it back (a clock
    // jump) before it synced: the sync sees a right clock, but the jump says the morning's was
    // not. Before this change nobody noticed.
    let mut log = Log::new();
    kiosk_event(
        &mut log,
        "2026-10-04 12:00",
        EventKind::ClockCheck {
            server_clock: local("2026-10-04 12:00"),
        },
    );
    kiosk_event(&mut log, "2026-10-05 07:30", EventKind::Started);
    log.check_in("M1", "2026-10-05 08:06");
    log.check_out("M1", "2026-10-05 10:06");
    kiosk_event(
        &mut log,
        "2026-10-05 10:30",
        EventKind::ClockJump { delta_ms: -SIX_MIN },
    );
    delivered(&mut log, 3..=5, 0);
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![ReviewReason::KioskClockSkew]]
    );

    // The same morning without the jump: the clock was right. (And a protocol 1 kiosk with
    // nothing but the upload's reading is judged by that alone.)
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    delivered(&mut log, 1..=2, 0);
    assert_eq!(reasons_of(&log.sessions()), vec![vec![]]);
}

#[test]
fn an_open_session_is_a_review_item_only_once_its_day_is_over() {
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 08:00");
    let sessions = log.sessions();
    assert!(sessions[0].is_open());
    assert!(
        review_items(&sessions, local("2026-10-05 11:00")).is_empty(),
        "she is in today"
    );
    assert_eq!(review_items(&sessions, local("2026-10-06 00:01")).len(), 1);
}

/// An organizer's approval of what she saw: those reasons, at those times.
fn approval_of(item: EventId, s: &Session) -> EventKind {
    EventKind::ApproveSession {
        check_in: item,
        reasons: s.reasons.clone(),
        start: s.start,
        end: s.end,
    }
}

#[test]
fn an_approval_holds_only_for_what_the_organizer_saw() {
    // C1 at kiosk A 07:00, C2 at offline kiosk B 07:05 (the same arrival), out at A 15:30:
    // over the cap. The organizer approves 8.5 h.
    let mut log = Log::new();
    let c1 = log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 07:00");
    let c2 = log.scan(EventKind::CheckIn, "M1", "kb", "2026-10-05 07:05");
    log.check_out_of(c1, "M1", "ka", "2026-10-05 15:30");
    let seen = log.sessions()[0].clone();
    assert_eq!(seen.reasons, vec![ReviewReason::OverCap]);
    log.organizer("M1", "2026-10-06 09:00", approval_of(c1, &seen));
    assert_eq!(hours(&log.sessions()[0]), Some(8.5));
    // Later, kiosk B's coordinator still sees her "in" and closes C2 at 18:00: the organizer's
    // decision stands.
    log.push(
        "M1",
        "kb",
        local("2026-10-06 10:00"),
        EventKind::CloseSession {
            check_in: c2,
            end: local("2026-10-05 18:00"),
        },
        coordinator(),
    );
    assert_eq!(hours(&log.sessions()[0]), Some(8.5));
    // A close recorded before the approval but delivered after it changes the times she
    // approved: back to review, never 11 h on an old approval.
    let mut late = Log::new();
    let c1 = late.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 07:00");
    let c2 = late.scan(EventKind::CheckIn, "M1", "kb", "2026-10-05 07:05");
    let out = late.check_out_of(c1, "M1", "ka", "2026-10-05 15:30");
    let seen = late.sessions()[0].clone();
    late.organizer("M1", "2026-10-06 09:00", approval_of(c1, &seen));
    late.push(
        "M1",
        "kb",
        local("2026-10-05 19:00"),
        EventKind::SetTimes {
            item: c2,
            start: None,
            end: Some(local("2026-10-05 18:00")),
        },
        coordinator(),
    );
    let _ = out;
    let s = &late.sessions()[0];
    assert!(s.needs_review(), "{s:?}");
    assert_eq!(s.counted_duration(), None);
}

#[test]
fn a_coordinator_cannot_undo_an_organizer() {
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    log.check_out_of(check_in, "M1", "k1", "2026-10-05 16:30");
    let set = log.organizer(
        "M1",
        "2026-10-06 09:00",
        EventKind::SetTimes {
            item: check_in,
            start: None,
            end: Some(local("2026-10-05 10:00")),
        },
    );
    assert_eq!(hours(&log.sessions()[0]), Some(2.0));
    log.correct("M1", "2026-10-06 10:00", EventKind::Void { target: set });
    assert_eq!(
        hours(&log.sessions()[0]),
        Some(2.0),
        "the void of her decision is ignored"
    );
}

#[test]
fn voiding_a_mistaken_arrival_keeps_the_real_one() {
    // C1 at A 08:00 was a mistaken scan; C2 at B 08:08 is her real arrival (absorbed into C1's
    // session), and B checks her out at 12:00 naming C2. A's coordinator voids C1.
    let mut log = Log::new();
    let c1 = log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 08:00");
    let c2 = log.scan(EventKind::CheckIn, "M1", "kb", "2026-10-05 08:08");
    log.check_out_of(c2, "M1", "kb", "2026-10-05 12:00");
    log.correct("M1", "2026-10-05 12:30", EventKind::Void { target: c1 });
    assert_eq!(
        shape(&log.sessions()),
        vec![(
            Some(local("2026-10-05 08:08")),
            Some(local("2026-10-05 12:00")),
            vec![]
        )],
        "the session lives on from her real arrival"
    );
}

#[test]
fn a_coordinator_cannot_settle_a_conflict_by_lengthening_the_session() {
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    log.check_out_of(check_in, "M1", "k1", "2026-10-05 10:00");
    let later = EventKind::SetTimes {
        item: check_in,
        start: None,
        end: Some(local("2026-10-05 15:00")),
    };
    log.correct("M1", "2026-10-05 15:10", later.clone());
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![ReviewReason::ClosedTwice]]
    );
    log.correct("M1", "2026-10-05 15:11", later);
    assert_eq!(
        reasons_of(&log.sessions()),
        vec![vec![ReviewReason::ClosedTwice]],
        "asking twice does not make 7 hours"
    );
    // Within what was recorded, she may settle it.
    log.correct(
        "M1",
        "2026-10-05 15:12",
        EventKind::SetTimes {
            item: check_in,
            start: None,
            end: Some(local("2026-10-05 09:50")),
        },
    );
    assert_eq!(hours(&log.sessions()[0]), Some(1.83));
}

#[test]
fn the_arrival_window_is_the_kiosks() {
    // Exactly ten minutes later is a new scan on the kiosk (not "already checked in"), and a
    // new arrival here.
    let mut log = Log::new();
    log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 08:00");
    log.scan(EventKind::CheckIn, "M1", "kb", "2026-10-05 08:10");
    assert_eq!(log.sessions().len(), 2);
    let mut log = Log::new();
    log.scan(EventKind::CheckIn, "M1", "ka", "2026-10-05 08:00");
    log.push(
        "M1",
        "kb",
        local("2026-10-05 08:00") + Duration::seconds(599),
        EventKind::CheckIn,
        scan_source(false),
    );
    assert_eq!(log.sessions().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Properties over random timelines.

/// A random timeline of up to 30 events for 2 mentors over a week that includes the fall-back
/// DST day in Chicago: scans (with and without the check-in they close), corrections and
/// resolutions by coordinators and organizers referring to earlier events, set-aside events,
/// and kiosk-level clock events.
fn arb_timeline() -> impl Strategy<Value = Vec<Observed>> {
    let step = (
        0u8..14,
        0i64..(7 * 24 * 4),
        0u8..2,
        0usize..64,
        any::<bool>(),
        prop::option::of(-600_000i64..600_000),
        0i64..40,
        0u8..8,
    );
    prop::collection::vec(step, 0..30).prop_map(|steps| {
        let base = local("2026-10-29 00:00");
        let mut log = Log::new();
        let mut ids: Vec<EventId> = Vec::new();
        for (kind, quarter, mentor, target, flag, offset, len, extra) in steps {
            let at = base + Duration::minutes(15 * quarter);
            let mentor = if mentor == 0 { "M1" } else { "M2" };
            let target_id = if ids.is_empty() {
                None
            } else {
                Some(ids[target % ids.len()])
            };
            let later = at + Duration::minutes(15 * len);
            let kind = match (kind, target_id) {
                (0..=2, _) | (_, None) => EventKind::CheckIn,
                (3, _) => OUT,
                (4, Some(t)) => EventKind::CheckOut { check_in: Some(t) },
                (5, Some(t)) => EventKind::CloseSession {
                    check_in: t,
                    end: later,
                },
                (6, Some(t)) => EventKind::Void { target: t },
                (7, Some(t)) => EventKind::approve(t),
                (8, Some(t)) => EventKind::SetTimes {
                    item: t,
                    start: flag.then_some(at),
                    end: Some(later),
                },
                (9, Some(t)) if flag => EventKind::AcceptEvent { item: t },
                (9, Some(t)) => EventKind::RejectEvent { item: t },
                (10, _) => EventKind::ClockJump {
                    delta_ms: (len - 20) * 60_000,
                },
                (11, _) => EventKind::Started,
                (_, Some(_)) => EventKind::AddSession {
                    category: HourCategory::ALL[target % 4],
                    start: at,
                    end: later,
                    group: None,
                },
            };
            let kiosk_level = kind.is_kiosk_level();
            let source = if kiosk_level {
                Source::System
            } else if kind.is_organizer_only() || (kind.is_correction() && extra % 2 == 0) {
                organizer()
            } else if kind.is_correction() {
                coordinator()
            } else {
                scan_source(flag && kind == EventKind::CheckIn)
            };
            let kiosk = if flag { "k1" } else { "k2" };
            let id = log.push(mentor, kiosk, at, kind, source);
            if let Some(e) = log.events.last_mut() {
                if kiosk_level {
                    e.event.mentor = None;
                }
                e.delivery = offset.map(|offset_ms| Delivery {
                    offset_ms,
                    through_sequence: e.event.sequence + u64::from(extra % 3),
                    received_at: None,
                });
                e.badge_verified = flag;
                if extra == 7 && !kiosk_level {
                    e.set_aside = Some("not_at_school".into());
                }
            }
            ids.push(id);
        }
        log.events
    })
}

fn shuffled_with_duplicates(events: &[Observed], seed: u64) -> Vec<Observed> {
    let mut out: Vec<Observed> = events.to_vec();
    let mut state = seed | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for event in events {
        if next() % 3 == 0 {
            out.push(event.clone());
        }
    }
    for i in (1..out.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn permuting_or_duplicating_never_changes_the_result(events in arb_timeline(), seed in any::<u64>()) {
        let rules = ProgramRules::default();
        let expected = sessionize(&events, &rules, now());
        let shuffled = shuffled_with_duplicates(&events, seed);
        let got = sessionize(&shuffled, &rules, now());
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(period_totals(&got, &rules), period_totals(&expected, &rules));
    }

    #[test]
    fn hours_are_never_negative_and_open_sessions_earn_nothing(events in arb_timeline()) {
        for s in sessionize(&events, &ProgramRules::default(), now()) {
            if let Some(d) = s.counted_duration() {
                prop_assert!(d >= Duration::zero(), "{s:?}");
            }
            if s.is_open() || s.end.is_none() || s.start.is_none() {
                prop_assert_eq!(s.counted_duration(), None);
            }
        }
    }

    #[test]
    fn period_totals_equal_the_sum_of_their_sessions(events in arb_timeline()) {
        let rules = ProgramRules::default();
        let sessions = sessionize(&events, &rules, now());
        let totals = period_totals(&sessions, &rules);
        for ((mentor, period), t) in &totals {
            let mine: Vec<&Session> = sessions.iter().filter(|s| &s.mentor == mentor && &s.period == period).collect();
            let stipend: Duration = mine.iter()
                .filter(|s| rules.on(s.local_date).counts_toward_stipend(s.category))
                .filter_map(|s| s.counted_duration())
                .fold(Duration::zero(), |a, b| a + b);
            prop_assert_eq!(t.stipend_time, stipend);
            let all: Duration = mine.iter().filter_map(|s| s.counted_duration()).fold(Duration::zero(), |a, b| a + b);
            prop_assert_eq!(t.by_category.values().fold(Duration::zero(), |a, b| a + *b), all);
            prop_assert_eq!(t.open_sessions as usize, mine.iter().filter(|s| s.is_open()).count());
            prop_assert_eq!(t.needs_review as usize, mine.iter().filter(|s| s.needs_review()).count());
            prop_assert_eq!(t.eligible_on.is_some(), t.stipend_time >= rules.latest_period_rules().threshold());
        }
        // Every session is in exactly one period's totals.
        prop_assert_eq!(
            totals.values().map(|t| t.needs_review as usize).sum::<usize>(),
            sessions.iter().filter(|s| s.needs_review()).count()
        );
    }

    /// A mentor is never credited twice for the same minute, whatever is approved: her credited
    /// time is at most the union of her sessions' intervals (and exactly the union of the
    /// intervals of the sessions that count).
    #[test]
    fn credited_time_never_exceeds_the_union_of_intervals(events in arb_timeline()) {
        let sessions = sessionize(&events, &ProgramRules::default(), now());
        for mentor in ["M1", "M2"] {
            let mine: Vec<&Session> = sessions.iter().filter(|s| s.mentor.as_str() == mentor).collect();
            let credited: i64 = mine.iter().filter_map(|s| s.counted_duration()).map(|d| d.num_milliseconds()).sum();
            let spans = |only_counted: bool| {
                let mut v: Vec<(DateTime<Utc>, DateTime<Utc>)> = mine
                    .iter()
                    .filter(|s| !only_counted || s.reasons.is_empty())
                    .filter_map(|s| match (s.start, s.end) { (Some(a), Some(b)) if b > a => Some((a, b)), _ => None })
                    .collect();
                v.sort();
                let mut total = 0i64;
                let mut cur: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
                for (a, b) in v {
                    match cur {
                        Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
                        Some((ca, cb)) => { total += (cb - ca).num_milliseconds(); cur = Some((a, b)); }
                        None => cur = Some((a, b)),
                    }
                }
                if let Some((ca, cb)) = cur { total += (cb - ca).num_milliseconds(); }
                total
            };
            prop_assert!(credited <= spans(false), "{mentor}: {credited} > {}", spans(false));
            prop_assert_eq!(credited, spans(true));
        }
    }

    /// Around the fall-back and spring-forward days in Chicago, a complete session's hours are the
    /// real elapsed time and its day is the school-local date of its start.
    #[test]
    fn dst_days_in_chicago_are_exact(day in prop::sample::select(vec!["2026-03-08", "2026-11-01", "2027-03-14"]),
                                      start_min in 0i64..(20 * 60), len_min in 1i64..(8 * 60)) {
        let midnight = local(&format!("{day} 00:00"));
        let start = midnight + Duration::minutes(start_min);
        let end = start + Duration::minutes(len_min);
        let mut log = Log::new();
        log.push("M1", "k1", start, EventKind::CheckIn, scan_source(false));
        log.push("M1", "k1", end, OUT, scan_source(false));
        let s = &log.sessions()[0];
        let zone = tz().tz();
        prop_assert_eq!(s.local_date, start.with_timezone(&zone).date_naive());
        prop_assert_eq!(s.local_date.to_string(), day);
        let crosses = end.with_timezone(&zone).date_naive() != s.local_date;
        prop_assert_eq!(s.reasons.contains(&ReviewReason::AcrossMidnight), crosses);
        if !crosses {
            prop_assert_eq!(s.counted_duration(), Some(Duration::minutes(len_min)));
        }
    }
}

/// Marks every event as received by the server at `received`.
fn received_at(log: &mut Log, received: DateTime<Utc>) {
    for e in &mut log.events {
        e.delivery = Some(Delivery {
            offset_ms: 0,
            through_sequence: e.event.sequence,
            received_at: Some(received),
        });
    }
}

#[test]
fn scans_delivered_weeks_late_wait_for_an_organizer() {
    // Delivered 15 days after the morning (default limit 14): held, and an approval settles it.
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    received_at(&mut log, local("2026-10-20 09:00"));
    let sessions = log.sessions();
    assert_eq!(sessions[0].reasons, vec![ReviewReason::LateDelivery]);
    assert_eq!(hours(&sessions[0]), None);
    log.organizer(
        "M1",
        "2026-10-21 09:00",
        EventKind::ApproveSession {
            check_in,
            reasons: vec![ReviewReason::LateDelivery],
            start: None,
            end: None,
        },
    );
    assert_eq!(hours(&log.sessions()[0]), Some(2.0));

    // A kiosk offline for a week delivers normally.
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    received_at(&mut log, local("2026-10-12 09:00"));
    assert_eq!(hours(&log.sessions()[0]), Some(2.0));

    // 0 turns the rule off; a coordinator's entry is judged by its own rules, never this one.
    let mut log = Log::new();
    log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    received_at(&mut log, local("2026-11-20 09:00"));
    let rules = ProgramRules {
        late_delivery_days: Some(0),
        ..ProgramRules::default()
    };
    let sessions = sessionize(&log.events, &rules, now());
    assert!(sessions[0].reasons.is_empty(), "{:?}", sessions[0].reasons);
}

#[test]
fn a_coordinators_new_times_do_not_settle_a_late_delivery() {
    let mut log = Log::new();
    let check_in = log.check_in("M1", "2026-10-05 08:00");
    log.check_out("M1", "2026-10-05 10:00");
    received_at(&mut log, local("2026-10-20 09:00"));
    log.correct(
        "M1",
        "2026-10-21 09:00",
        EventKind::SetTimes {
            item: check_in,
            start: Some(local("2026-10-05 08:00")),
            end: Some(local("2026-10-05 10:00")),
        },
    );
    let sessions = log.sessions();
    assert!(
        sessions[0].reasons.contains(&ReviewReason::LateDelivery),
        "{:?}",
        sessions[0].reasons
    );
    assert_eq!(hours(&sessions[0]), None);
}
