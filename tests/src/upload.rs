//! Hand-made kiosk uploads for end-to-end tests: events built with the shared types and posted
//! over real HTTP with a kiosk's token (protocol 2).

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use pm_shared::protocol::UploadBatch;
use pm_shared::{Event, EventId, EventKind, KioskId, MentorId, SeriesId, Source, TimeZone};

use crate::{http, kiosk_id_of, Server, Site};

pub fn chicago() -> TimeZone {
    TimeZone::new("America/Chicago").expect("tz")
}

/// Today's date at the test school (the server counts days in the school's zone, not UTC).
pub fn chicago_today() -> NaiveDate {
    Utc::now().with_timezone(&chicago().tz()).date_naive()
}

/// A Chicago wall-clock time on a date: `at("2026-10-05", 8, 0)`.
pub fn at(date: &str, h: u32, m: u32) -> DateTime<Utc> {
    let d: NaiveDate = date.parse().expect("date");
    chicago()
        .tz()
        .from_local_datetime(&d.and_hms_opt(h, m, 0).expect("time"))
        .earliest()
        .expect("exists")
        .with_timezone(&Utc)
}

/// The badge hash the server issued for a mentor.
pub fn badge_hash(site: &Site, mentor: &str) -> String {
    badge_of(site, mentor).1
}

/// The mentor's current badge: (text, hash).
pub fn badge_of(site: &Site, mentor: &str) -> (String, String) {
    let db = site.open_db();
    let id = pm_shared::MentorId::new(mentor).expect("mentor id");
    let (_, text, hash) = sync_server::storage::Storage::current_badge(&db, &id)
        .expect("badge")
        .expect("issued");
    (text, hash)
}

/// A kiosk speaking to the server over HTTP with hand-made events (the current protocol).
pub struct Uploader {
    url: String,
    token: String,
    pub kiosk: KioskId,
    series: SeriesId,
    /// The last sequence number used in its series.
    pub sequence: u64,
}

impl Uploader {
    pub fn new(server: &Server, token: &str, series: u8) -> Self {
        Self {
            url: server.url.clone(),
            token: token.to_owned(),
            kiosk: KioskId::new(kiosk_id_of(token)).expect("kiosk"),
            series: SeriesId::from_parts(1, [series; 10]),
            sequence: 0,
        }
    }

    pub fn event(
        &mut self,
        mentor: Option<&str>,
        at: DateTime<Utc>,
        kind: EventKind,
        source: Source,
    ) -> Event {
        self.sequence += 1;
        Event {
            id: EventId::from_parts(
                u64::try_from(at.timestamp_millis()).unwrap_or(0),
                rand_bytes(self.sequence, self.series),
            ),
            kiosk: self.kiosk.clone(),
            series: self.series,
            sequence: self.sequence,
            mentor: mentor.map(|m| MentorId::new(m).expect("mentor")),
            at,
            time_zone: chicago(),
            kind,
            source,
        }
    }

    /// A badge scan as a kiosk that read her badge makes it: with its scan proof.
    pub fn scan(&mut self, site: &Site, mentor: &str, at: DateTime<Utc>, kind: EventKind) -> Event {
        let (text, _) = badge_of(site, mentor);
        let mut event = self.unproven_scan(site, mentor, at, kind);
        pm_shared::prove_scan(&mut event, &text);
        event
    }

    /// A badge scan with the badge's hash but no proof: what a kiosk's disk and roster alone
    /// can make.
    pub fn unproven_scan(
        &mut self,
        site: &Site,
        mentor: &str,
        at: DateTime<Utc>,
        kind: EventKind,
    ) -> Event {
        let source = Source::BadgeScan {
            generation: 1,
            provisional: false,
            badge_hash: badge_hash(site, mentor),
            proof: None,
        };
        self.event(Some(mentor), at, kind, source)
    }

    pub fn coordinator(&mut self, mentor: &str, at: DateTime<Utc>, kind: EventKind) -> Event {
        let source = Source::Coordinator {
            coordinator: "Ms. Rivera".into(),
            reason: "training day".into(),
        };
        self.event(Some(mentor), at, kind, source)
    }

    pub fn clock(&mut self, at: DateTime<Utc>, kind: EventKind) -> Event {
        self.event(None, at, kind, Source::System)
    }

    /// Posts the events with the kiosk's clock reading `kiosk_clock`; returns the ack's JSON.
    pub fn send_at(&self, events: Vec<Event>, kiosk_clock: DateTime<Utc>) -> String {
        let batch = UploadBatch {
            protocol: pm_shared::protocol::PROTOCOL_VERSION,
            kiosk: self.kiosk.clone(),
            kiosk_clock,
            events,
        };
        let body = serde_json_string(&batch);
        let (status, ack) = http(
            &self.url,
            "POST",
            "/api/v1/events",
            Some(&self.token),
            body.as_bytes(),
        );
        assert_eq!(status, 200, "{ack}");
        ack
    }

    pub fn send(&self, events: Vec<Event>) -> String {
        self.send_at(events, Utc::now())
    }
}

fn rand_bytes(sequence: u64, series: SeriesId) -> [u8; 10] {
    let mut out = [0u8; 10];
    out[..8].copy_from_slice(&sequence.to_be_bytes());
    out[8] = series.0.as_bytes()[15];
    out[9] = 0x5a;
    out
}

fn serde_json_string<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("json")
}

/// The reasons the server stored for the events an upload's acknowledgement lists as set
/// aside (the kiosk itself is told only `set_aside`), joined by commas.
pub fn server_reasons(site: &Site, ack: &str) -> String {
    let ack: serde_json::Value = serde_json::from_str(ack).expect("ack");
    ack["set_aside"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str())
        .map(|id| {
            site.scalar::<Option<String>>(
                "SELECT set_aside_reason FROM events WHERE id = ?1",
                &[id],
            )
            .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(",")
}
