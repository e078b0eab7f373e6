//! Ingest throughput: batches of 500 events over real HTTP into the real server, next to a
//! like-for-like raw SQLite baseline in the same run (same schema and pragmas, one transaction
//! per 500-row batch, the same rows): the floor no server can beat.
//!
//! Run: `cargo bench -p sync-server --bench ingest`.

use std::time::Instant;

use chrono::{Duration, TimeZone as _, Utc};
use pm_shared::protocol::{UploadBatch, PROTOCOL_VERSION};
use pm_shared::{
    Event, EventId, EventKind, Language, MentorId, SchoolId, SeriesId, Source, TimeZone,
};
use rusqlite::params;
use sync_server::db::{Db, MentorRecord};

const BATCHES: usize = 100;
const BATCH: usize = 500;

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let zone = TimeZone::new("America/Chicago").expect("tz");
    let school = SchoolId::new("bench").expect("school");
    let mut db = Db::open(&dir.path().join("server.db")).expect("db");
    db.add_school(&school, "Bench Elementary", zone)
        .expect("school");
    let mentors: Vec<MentorRecord> = (0..40)
        .map(|i| MentorRecord {
            id: MentorId::new(format!("M-{i:03}")).expect("id"),
            name: format!("Mentor {i}"),
            school: school.clone(),
            language: Language::spanish(),
            active: true,
        })
        .collect();
    let now = Utc::now();
    db.upsert_mentors(&mentors, now).expect("mentors");
    let texts: Vec<String> = mentors
        .iter()
        .map(|m| db.issue_badge(&m.id, now).expect("badge"))
        .collect();
    let hashes: Vec<String> = texts.iter().map(|t| pm_shared::badge_hash(t)).collect();
    let (kiosk, token) = db.add_kiosk(&school, "bench").expect("kiosk");

    // The events: every mentor in and out, a minute apart.
    let series = SeriesId::from_parts(1, [1; 10]);
    let start = Utc
        .with_ymd_and_hms(2026, 9, 1, 13, 0, 0)
        .single()
        .expect("start");
    let events: Vec<Event> = (0..BATCHES * BATCH)
        .map(|i| {
            let mut event = Event {
                id: EventId::from_parts(i as u64, [(i % 251) as u8; 10]),
                kiosk: kiosk.clone(),
                series,
                sequence: i as u64 + 1,
                mentor: Some(mentors[i % 40].id.clone()),
                at: start + Duration::minutes(i as i64),
                time_zone: zone,
                // Protocol 2: a check-out names the check-in 40 events before it.
                kind: if (i / 40) % 2 == 0 {
                    EventKind::CheckIn
                } else {
                    EventKind::CheckOut {
                        check_in: Some(EventId::from_parts(
                            (i - 40) as u64,
                            [((i - 40) % 251) as u8; 10],
                        )),
                    }
                },
                source: Source::BadgeScan {
                    generation: 1,
                    provisional: false,
                    badge_hash: hashes[i % 40].clone(),
                    proof: None,
                },
            };
            // As a kiosk of protocol 3 sends it: with its scan proof.
            pm_shared::prove_scan(&mut event, &texts[i % 40]);
            event
        })
        .collect();
    let bodies: Vec<String> = events
        .chunks(BATCH)
        .map(|chunk| {
            serde_json::to_string(&UploadBatch {
                protocol: PROTOCOL_VERSION,
                kiosk: kiosk.clone(),
                kiosk_clock: Utc::now(),
                events: chunk.to_vec(),
            })
            .expect("json")
        })
        .collect();

    // The real server on a loopback port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            sync_server::http::serve(db, listener, async {
                let _ = stop_rx.await;
            })
            .await
            .expect("serve");
        });
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(true)
        .build()
        .into();
    let url = format!("http://{addr}/api/v1/events");
    let t = Instant::now();
    for body in &bodies {
        agent
            .post(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body.as_str())
            .expect("upload");
    }
    let http_secs = t.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    server.join().expect("server thread");

    // Baseline: the same rows into the same schema, one transaction per batch.
    let base_path = dir.path().join("baseline.db");
    drop(Db::open(&base_path).expect("baseline schema"));
    let mut conn = rusqlite::Connection::open(&base_path).expect("baseline");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("full");
    let received = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let t = Instant::now();
    for chunk in events.chunks(BATCH) {
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO events (id, kiosk, series, sequence, mentor, at, body, received_at, clock_offset_ms, badge_verified, set_aside_reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 1, NULL)",
                )
                .expect("prepare");
            for e in chunk {
                insert
                    .execute(params![
                        e.id.to_string(),
                        e.kiosk.as_str(),
                        e.series.to_string(),
                        e.sequence,
                        e.mentor.as_ref().map(|m| m.as_str()),
                        e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        serde_json::to_string(e).expect("json"),
                        received
                    ])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    let raw_secs = t.elapsed().as_secs_f64();
    let n = (BATCHES * BATCH) as f64;
    println!(
        "ingest of {} events in batches of {BATCH} (WAL, synchronous=FULL):",
        BATCHES * BATCH
    );
    println!("  HTTP server : {:>8.0} events/s", n / http_secs);
    println!("  raw SQLite  : {:>8.0} events/s", n / raw_secs);
    println!("  server / raw: {:.0}%", 100.0 * raw_secs / http_secs);
}
