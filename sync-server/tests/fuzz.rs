//! Property-based fuzzing of what comes from outside: uploads (valid structure, hostile values),
//! mentor CSV files, and review actions. None may panic, hang or be answered with a server
//! error; bad input gets a clear error and changes nothing it should not.
//!
//! `PM_FUZZ_CASES=100000 cargo test --release -p sync-server --test fuzz` runs the long mode
//! (BENCHMARKS.md records the counts); the normal run does a few hundred cases per target.

use chrono::{DateTime, TimeZone as _, Utc};
use pm_shared::protocol::{ReviewAction, ReviewResolution, UploadBatch, PROTOCOL_VERSION};
use pm_shared::*;
use proptest::prelude::*;
use sync_server::db::{Db, MentorRecord};
use sync_server::ServerError;

#[path = "../../tests/src/pg.rs"]
mod pg;

fn cases(normal: u32) -> u32 {
    std::env::var("PM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(normal)
}

/// Server errors that mean a bug, not bad input.
fn is_bug(e: &ServerError) -> bool {
    matches!(
        e,
        ServerError::Database(_)
            | ServerError::Corrupt(_)
            | ServerError::Panicked
            | ServerError::Io(_)
    )
}

struct Site {
    _dir: tempfile::TempDir,
    db: Db,
    kiosk: KioskId,
    school: SchoolId,
    now: DateTime<Utc>,
}

fn site() -> Site {
    let dir = tempfile::tempdir().expect("dir");
    // SQLite, or with PM_TEST_DB=postgres a fresh database in the tests' own cluster.
    let mut db = match std::env::var("PM_TEST_DB").as_deref() {
        Ok("postgres") => Db::open_spec(&pg::fresh_database()).expect("db"),
        _ => Db::open(&dir.path().join("server.db")).expect("db"),
    };
    let school = SchoolId::new("s").expect("school");
    db.add_school(&school, "S", TimeZone::new("America/Chicago").expect("tz"))
        .expect("school");
    let now = Utc
        .with_ymd_and_hms(2026, 11, 25, 18, 0, 0)
        .single()
        .expect("now");
    let mentors: Vec<MentorRecord> = ["M-1", "M-2"]
        .iter()
        .map(|id| MentorRecord {
            id: MentorId::new(*id).expect("id"),
            name: id.to_string(),
            school: school.clone(),
            language: Language::english(),
            active: true,
        })
        .collect();
    db.upsert_mentors(&mentors, now).expect("mentors");
    db.add_coordinator(
        &school,
        "C",
        "$argon2id$x",
        now - chrono::Duration::days(400),
    )
    .expect("coordinator");
    let (kiosk, _) = db.add_kiosk(&school, "k").expect("kiosk");
    Site {
        _dir: dir,
        db,
        kiosk,
        school,
        now,
    }
}

/// Any instant chrono can hold, weighted toward the edges and the program's years.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp_millis();
    let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
    prop_oneof![
        1 => Just(DateTime::<Utc>::MIN_UTC),
        1 => Just(DateTime::<Utc>::MAX_UTC),
        2 => (min..=max).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default()),
        6 => (1_780_000_000_000i64..1_800_000_000_000).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z ]{0,12}",
        ".{0,40}",
        "[=+@-][A-Z(\"),]{0,20}",
        (0usize..400).prop_map(|n| "x".repeat(n)),
    ]
}

fn kind(ids: Vec<EventId>) -> impl Strategy<Value = EventKind> {
    let pick = move |i: usize| {
        ids.get(i % ids.len().max(1))
            .copied()
            .unwrap_or(EventId::from_parts(0, [0; 10]))
    };
    let p1 = pick.clone();
    let p2 = pick.clone();
    let p3 = pick.clone();
    let p4 = pick.clone();
    prop_oneof![
        Just(EventKind::CheckIn),
        (any::<usize>(), any::<bool>()).prop_map(move |(i, named)| EventKind::CheckOut {
            check_in: named.then(|| p1(i))
        }),
        (any::<usize>(), instant()).prop_map(move |(i, end)| EventKind::CloseSession {
            check_in: p2(i),
            end
        }),
        (
            any::<usize>(),
            prop::option::of(instant()),
            prop::option::of(instant())
        )
            .prop_map(move |(i, start, end)| EventKind::SetTimes {
                item: p3(i),
                start,
                end
            }),
        any::<usize>().prop_map(move |i| EventKind::Void { target: p4(i) }),
        (0usize..4, instant(), instant()).prop_map(|(c, start, end)| EventKind::AddSession {
            category: HourCategory::ALL[c],
            start,
            end,
            group: None
        }),
        any::<usize>().prop_map(move |i| EventKind::approve(pick(i))),
    ]
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        (0u32..5, any::<bool>(), text()).prop_map(|(generation, provisional, badge_hash)| {
            Source::BadgeScan {
                generation,
                provisional,
                badge_hash,
                proof: None,
            }
        }),
        (prop_oneof![Just("C".to_owned()), text()], text()).prop_map(|(coordinator, reason)| {
            Source::Coordinator {
                coordinator,
                reason,
            }
        }),
        (text(), text()).prop_map(|(organizer, reason)| Source::Organizer { organizer, reason }),
    ]
}

/// One hostile event's makings: id pick, sequence, mentor pick, kind, source, instant, series pick.
type EventParts = (u8, u64, u8, EventKind, Source, DateTime<Utc>, u8);

/// Up to 12 events: mentors known and unknown, any kind, any instants and texts, sequences
/// that clash and repeat, ids that repeat.
fn batch() -> impl Strategy<Value = Vec<EventParts>> {
    let ids: Vec<EventId> = (0..6u8)
        .map(|n| EventId::from_parts(u64::from(n) + 1, [n; 10]))
        .collect();
    prop::collection::vec(
        (
            0u8..6,
            prop_oneof![0u64..8, Just(u64::MAX)],
            0u8..3,
            kind(ids),
            source(),
            instant(),
            0u8..3,
        ),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(96)))]

    /// Any upload: stored once or refused with a clear error; the roster, the report and the
    /// review queue answer afterwards.
    #[test]
    fn uploads_with_hostile_values(batches in prop::collection::vec(batch(), 1..3)) {
        let mut site = site();
        for events in batches {
            let events: Vec<Event> = events
                .into_iter()
                .map(|(id, sequence, mentor, kind, source, at, series)| {
                    let kiosk_level = false;
                    let _ = kiosk_level;
                    Event {
                        id: EventId::from_parts(u64::from(id) + 1, [id; 10]),
                        kiosk: site.kiosk.clone(),
                        series: SeriesId::from_parts(1, [series; 10]),
                        sequence,
                        mentor: Some(MentorId::new(["M-1", "M-2", "M-9"][usize::from(mentor)]).expect("id")),
                        at,
                        time_zone: TimeZone::new("America/Chicago").expect("tz"),
                        kind,
                        source,
                    }
                })
                .collect();
            let batch = UploadBatch { protocol: PROTOCOL_VERSION, kiosk: site.kiosk.clone(), kiosk_clock: site.now, events };
            // Through JSON, as the server receives it.
            let json = serde_json::to_vec(&batch).expect("json");
            let parsed: UploadBatch = serde_json::from_slice(&json).expect("parses back");
            let (kiosk, school) = (site.kiosk.clone(), site.school.clone());
            match site.db.ingest(&kiosk, &school, &parsed, site.now) {
                Ok(ack) => {
                    let answered = ack.stored.len() + ack.already_stored.len() + ack.set_aside.len() + ack.conflicts.len();
                    prop_assert_eq!(answered, parsed.events.len());
                }
                Err(e) => prop_assert!(!is_bug(&e), "{e}"),
            }
        }
        let school = site.school.clone();
        sync_server::roster::build(&mut site.db, &school, site.now).expect("roster");
        sync_server::report::hours(&mut site.db, None, Some("all"), site.now).expect("report");
        let items = sync_server::review::list(&mut site.db, None, None, site.now).expect("review");
        // Every action on every item: a decision or a clear refusal, never a bug.
        for (n, item) in items.iter().enumerate() {
            let action = [ReviewAction::Approve, ReviewAction::SetTimes, ReviewAction::Void, ReviewAction::Accept, ReviewAction::Reject][n % 5];
            let resolution = ReviewResolution { action, start: None, end: Some(site.now), reason: "fuzz".into(), seen: None };
            let by = sync_server::review::Resolver { name: "O", schools: None };
            if let Err(e) = sync_server::review::resolve(&mut site.db, &item.item, &resolution, by, site.now) {
                prop_assert!(!is_bug(&e), "{e}");
            }
        }
        sync_server::report::hours(&mut site.db, None, Some("all"), site.now).expect("report after");
    }

    /// Any CSV file: all imported, or nothing and the first broken line named.
    #[test]
    fn mentor_csv_files(lines in prop::collection::vec(
        prop_oneof![
            Just("M-5,Ana,s,es".to_owned()),
            Just("M-6,\"Lee, Ann\",s,en".to_owned()),
            "[A-Za-z0-9,\"= -]{0,30}",
            ".{0,60}",
        ], 0..8), header in prop_oneof![Just("id,name,school,language".to_owned()), ".{0,30}"]) {
        let site = site();
        let path = site._dir.path().join("mentors.csv");
        std::fs::write(&path, format!("{header}\n{}\n", lines.join("\n"))).expect("write");
        match sync_server::import::read_mentors(&site.db, &path) {
            Ok(mentors) => prop_assert!(mentors.len() <= lines.len()),
            Err(ServerError::Csv { line, .. }) => prop_assert!(line <= lines.len() as u64 + 2),
            Err(e) => prop_assert!(false, "not a CSV error: {e}"),
        }
    }

    /// Any text in a QR code: a verdict, never a panic; only the real badge is accepted.
    #[test]
    fn badge_texts(text in prop_oneof![".{0,80}", "PM1:[A-Z0-9:-]{0,40}", "PM1:M-1:[0-9]{1,6}:[A-Z2-7]{0,30}"]) {
        let real = badge_text(&MentorId::new("M-1").expect("id"), 1, &[7; 10]).expect("badge");
        let status = |m: &MentorId| (m.as_str() == "M-1").then(|| BadgeStatus::Current { generation: 1, hash: badge_hash(&real) });
        let verdict = verify_badge(&text, status);
        prop_assert!(!matches!(verdict, BadgeVerdict::Accepted(_)) || text == real);
    }
}
