//! The benchmarks' program: schools of 40 mentors, each with a badge, a kiosk, and 150
//! two-hour mornings in 2026-fall (check-outs naming their check-ins, as protocol 2 sends them).
//! Each bench includes it with `mod common;` and uses what it needs.
#![allow(dead_code)]

use chrono::{Duration, TimeZone as _, Utc};
use pm_shared::{
    Event, EventId, EventKind, Language, MentorId, SchoolId, SeriesId, Source, TimeZone,
};
use sync_server::db::{Db, MentorRecord};

pub const MENTORS_PER_SCHOOL: usize = 40;
pub const EVENTS_PER_MENTOR: usize = 300;

/// One school: its kiosk, token and every event of its mentors (two-hour mornings).
pub struct School {
    pub id: SchoolId,
    pub kiosk: pm_shared::KioskId,
    pub token: String,
    pub events: Vec<Event>,
}

pub fn schools(db: &mut Db, count: usize, offset: usize) -> Vec<School> {
    let zone = TimeZone::new("America/Chicago").expect("tz");
    let first_day = Utc
        .with_ymd_and_hms(2026, 7, 6, 13, 0, 0)
        .single()
        .expect("start");
    let mut out = Vec::new();
    for s in offset..offset + count {
        let school = SchoolId::new(format!("school-{s:03}")).expect("school");
        db.add_school(&school, &format!("School {s}"), zone)
            .expect("school");
        let mentors: Vec<MentorRecord> = (0..MENTORS_PER_SCHOOL)
            .map(|m| MentorRecord {
                id: MentorId::new(format!("S{s:03}-M{m:02}")).expect("id"),
                name: format!("Mentor {m} of school {s}"),
                school: school.clone(),
                language: Language::spanish(),
                active: true,
            })
            .collect();
        db.upsert_mentors(&mentors, first_day - Duration::days(7))
            .expect("mentors");
        let texts: Vec<String> = mentors
            .iter()
            .map(|m| {
                db.issue_badge(&m.id, first_day - Duration::days(7))
                    .expect("badge")
            })
            .collect();
        let hashes: Vec<String> = texts.iter().map(|t| pm_shared::badge_hash(t)).collect();
        let (kiosk, token) = db.add_kiosk(&school, "parent room").expect("kiosk");
        let mut events = Vec::with_capacity(MENTORS_PER_SCHOOL * EVENTS_PER_MENTOR);
        let mut sequence = 0u64;
        let id = |sequence: u64| {
            EventId::from_parts(
                sequence,
                [1, 2, 3, 4, 5, 6, 7, 8, (s % 256) as u8, (s / 256) as u8],
            )
        };
        for day in 0..(EVENTS_PER_MENTOR / 2) as i64 {
            for (m, mentor) in mentors.iter().enumerate() {
                let arrive = first_day + Duration::days(day) + Duration::minutes(m as i64);
                let check_in = id(sequence + 1);
                for (kind, at) in [
                    (EventKind::CheckIn, arrive),
                    (
                        EventKind::CheckOut {
                            check_in: Some(check_in),
                        },
                        arrive + Duration::hours(2),
                    ),
                ] {
                    sequence += 1;
                    let mut event = Event {
                        id: id(sequence),
                        kiosk: kiosk.clone(),
                        series: SeriesId::from_parts(s as u64, [9; 10]),
                        sequence,
                        mentor: Some(mentor.id.clone()),
                        at,
                        time_zone: zone,
                        kind,
                        source: Source::BadgeScan {
                            generation: 1,
                            provisional: false,
                            badge_hash: hashes[m].clone(),
                            proof: None,
                        },
                    };
                    // As a kiosk of protocol 3 sends it: with its scan proof.
                    pm_shared::prove_scan(&mut event, &texts[m]);
                    events.push(event);
                }
            }
        }
        out.push(School {
            id: school,
            kiosk,
            token,
            events,
        });
    }
    out
}
