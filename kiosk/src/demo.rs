//! `kiosk --demo`: a kiosk that works on a fresh machine with no camera, server or
//! configuration. A demo school and roster (the mentors of `assets/demo/mentors.csv`), a
//! coordinator PIN, a forgotten check-out from yesterday to fix, and a simulated camera that
//! replays badge frames from `assets/demo/frames/` so check-ins and check-outs happen by
//! themselves within seconds.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use image::GrayImage;
use pm_shared::{
    badge_hash, badge_text, hash_pin, BadgeGeneration, Coordinator, EventId, EventKind, KioskId,
    Language, MentorId, PeriodName, ProgramRules, Roster, RosterMentor, School, SchoolId, Source,
    TimeZone,
};

use crate::capture::RecordedFrames;
use crate::engine::{local_date, Engine};
use crate::store::NewEvent;
use crate::KioskError;

/// The demo coordinator's PIN (printed when the demo starts).
pub const DEMO_PIN: &str = "51627384";
pub const DEMO_COORDINATOR: &str = "Demo Coordinator";
/// Frames per second the simulated camera plays at.
pub const DEMO_FPS: f64 = 10.0;

/// A demo mentor: id, name, language, badge secret, hours already this period.
struct DemoMentor {
    id: &'static str,
    name: &'static str,
    language: &'static str,
    secret: [u8; 10],
    hours: f64,
}

const MENTORS: [DemoMentor; 4] = [
    DemoMentor {
        id: "M-0001",
        name: "María López",
        language: "es",
        secret: *b"demo-maria",
        hours: 62.5,
    },
    DemoMentor {
        id: "M-0002",
        name: "Ann Lee",
        language: "en",
        secret: *b"demo-ann-l",
        hours: 97.0,
    },
    DemoMentor {
        id: "M-0003",
        name: "Rosa Díaz",
        language: "es",
        secret: *b"demo-rosa-",
        hours: 40.0,
    },
    DemoMentor {
        id: "M-0004",
        name: "Fatima Noor",
        language: "en",
        secret: *b"demo-fatim",
        hours: 12.0,
    },
];

/// The QR texts on the demo frames: María's badge, Ann's badge, and a flyer.
pub const FLYER_TEXT: &str = "https://example.org/bake-sale";

/// The demo badges' texts, by mentor id (public: this is a demo).
pub fn badge_texts() -> Result<Vec<(MentorId, String)>, KioskError> {
    MENTORS
        .iter()
        .map(|m| {
            let id = MentorId::new(m.id)?;
            let text = badge_text(&id, 1, &m.secret)?;
            Ok((id, text))
        })
        .collect()
}

/// The demo roster, as a server would send it.
pub fn roster(zone: TimeZone, now: DateTime<Utc>) -> Result<Roster, KioskError> {
    let rules = ProgramRules {
        // The simulated camera shows each badge again within seconds: toggle quickly (a real
        // kiosk says "already checked in" for ten minutes).
        duplicate_window_secs: 4,
        min_session_minutes: 0,
        ..ProgramRules::default()
    };
    let current_period: PeriodName = rules.period_of(local_date(now, zone)).name;
    let mut mentors = Vec::new();
    for (m, (id, text)) in MENTORS.iter().zip(badge_texts()?) {
        mentors.push(RosterMentor {
            id,
            name: m.name.into(),
            language: Language::new(m.language)?,
            badge: Some(BadgeGeneration {
                generation: 1,
                hash: badge_hash(&text),
            }),
            period_time_ms: (m.hours * 3_600_000.0) as i64,
            placement: None,
            clearances: Vec::new(),
        });
    }
    Ok(Roster {
        version: "demo".into(),
        school: School {
            id: SchoolId::new("demo-school")?,
            name: "Demo Elementary".into(),
            time_zone: zone,
        },
        rules,
        current_period,
        mentors,
        revoked: Vec::new(),
        coordinators: vec![Coordinator {
            name: DEMO_COORDINATOR.into(),
            pin_hash: hash_pin(DEMO_PIN, &rand::random())?,
            change_salt: Some(data_encoding::HEXLOWER.encode(&rand::random::<[u8; 16]>())),
        }],
        open_check_ins: Vec::new(),
        recent: Vec::new(),
        review: Vec::new(),
        voided: Vec::new(),
    })
}

/// A fresh demo kiosk in `dir`: roster saved, Rosa's forgotten check-out from yesterday and
/// Fatima in since this morning.
pub fn engine(dir: &Path, zone: TimeZone, now: DateTime<Utc>) -> Result<Engine, KioskError> {
    let mut store = crate::open_store(dir, now)?;
    store.save_roster(&roster(zone, now)?, now)?;
    let kiosk = KioskId::new("demo-kiosk")?;
    let today = local_date(now, zone);
    let at = |date: chrono::NaiveDate, h, m| {
        crate::app::local_instant(zone, date, h, m).unwrap_or(now - Duration::hours(30))
    };
    let yesterday = today.pred_opt().unwrap_or(today);
    let fatima_in = at(today, 8, 0).min(now - Duration::minutes(30));
    for (mentor, when) in [("M-0003", at(yesterday, 8, 5)), ("M-0004", fatima_in)] {
        store.append(NewEvent {
            id: EventId::from_parts(
                u64::try_from(when.timestamp_millis()).unwrap_or(0),
                rand::random(),
            ),
            kiosk: kiosk.clone(),
            mentor: MentorId::new(mentor)?,
            at: when,
            time_zone: zone,
            kind: EventKind::CheckIn,
            source: Source::Coordinator {
                coordinator: DEMO_COORDINATOR.into(),
                reason: "demo".into(),
            },
        })?;
    }
    Engine::new(store, kiosk, zone)
}

const BLANK: &[u8] = include_bytes!("../../assets/demo/frames/blank.png");
const MARIA: &[u8] = include_bytes!("../../assets/demo/frames/maria.png");
const ANN: &[u8] = include_bytes!("../../assets/demo/frames/ann.png");
const FLYER: &[u8] = include_bytes!("../../assets/demo/frames/flyer.png");

fn frame(bytes: &[u8]) -> Result<GrayImage, KioskError> {
    image::load_from_memory(bytes)
        .map(|i| i.to_luma8())
        .map_err(|e| KioskError::Image {
            path: "assets/demo/frames".into(),
            why: e.to_string(),
        })
}

/// The demo camera's loop at [`DEMO_FPS`]: an empty room, María, Ann, a flyer; about 17 s,
/// so each badge alternates check-in and check-out.
pub fn frames() -> Result<Vec<GrayImage>, KioskError> {
    let (blank, maria, ann, flyer) = (frame(BLANK)?, frame(MARIA)?, frame(ANN)?, frame(FLYER)?);
    let mut out = Vec::new();
    for (image, count) in [
        (&blank, 30),
        (&maria, 6),
        (&blank, 40),
        (&ann, 6),
        (&blank, 40),
        (&flyer, 6),
        (&blank, 40),
    ] {
        out.extend(std::iter::repeat_n(image.clone(), count));
    }
    Ok(out)
}

/// The simulated camera.
pub fn camera() -> Result<RecordedFrames, KioskError> {
    Ok(RecordedFrames::new(frames()?, DEMO_FPS, true))
}
