//! PostgreSQL next to SQLite, in one run, on the same machine and the same data: ingest over
//! real HTTP with one server and then two servers sharing the load, roster pulls over HTTP,
//! and the hours report at a tenth of 12× the statewide program (600,000 events; the full
//! 6 M of `--bench report` would take PostgreSQL most of an hour here).
//!
//! Both engines durable: SQLite WAL with `synchronous=FULL`; PostgreSQL in its own throwaway
//! cluster with its defaults (fsync, synchronous commit), started by this benchmark.
//!
//! Run: `cargo bench -p sync-server --bench backends` (`PM_BENCH_SCHOOLS=N` for the report
//! part; default 50).

use std::time::Instant;

use chrono::{DateTime, TimeZone as _, Utc};
use pm_shared::protocol::{UploadBatch, PROTOCOL_VERSION};
use pm_shared::ProgramRules;
use sync_server::db::{Db, PgPool};
use sync_server::http::{Backend, Limits};
use sync_server::{report, roster};

#[path = "../../tests/src/pg.rs"]
mod pg;

mod common;
use common::{schools, School, EVENTS_PER_MENTOR, MENTORS_PER_SCHOOL};

const BATCH: usize = 500;
/// Kiosks (one per school) posting at once in the HTTP parts.
const HTTP_SCHOOLS: usize = 8;

#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
    /// A new, empty database: a file's path or a URL.
    fn fresh(self, dir: &std::path::Path, n: &mut u32) -> String {
        *n += 1;
        match self {
            Engine::Sqlite => dir.join(format!("bench-{n}.db")).display().to_string(),
            Engine::Postgres => pg::fresh_durable_database(),
        }
    }
    fn backend(self, spec: &str) -> Backend {
        match self {
            Engine::Sqlite => Db::open_spec(spec).expect("db").into(),
            Engine::Postgres => PgPool::new(spec, 16).expect("pool").into(),
        }
    }
}

/// A real server on a loopback port (rate limits out of the way); stops when `stop` is sent.
fn start_server(
    backend: Backend,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let limits = Limits {
                per_second: 1e9,
                burst: 1e9,
                ..Limits::default()
            };
            sync_server::http::serve_with(backend, listener, limits, async {
                let _ = stop_rx.await;
            })
            .await
            .expect("serve");
        });
    });
    (format!("http://{addr}"), stop_tx, thread)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(true)
        .build()
        .into()
}

/// Every school's events posted by its own kiosk thread, to `urls` in turn; events per second.
fn ingest_over_http(schools: &[School], urls: &[String], now: DateTime<Utc>) -> f64 {
    let bodies: Vec<Vec<String>> = schools
        .iter()
        .map(|s| {
            s.events
                .chunks(BATCH)
                .map(|chunk| {
                    serde_json::to_string(&UploadBatch {
                        protocol: PROTOCOL_VERSION,
                        kiosk: s.kiosk.clone(),
                        kiosk_clock: now,
                        events: chunk.to_vec(),
                    })
                    .expect("json")
                })
                .collect()
        })
        .collect();
    let total: usize = schools.iter().map(|s| s.events.len()).sum();
    let t = Instant::now();
    std::thread::scope(|scope| {
        for (i, (school, bodies)) in schools.iter().zip(&bodies).enumerate() {
            let url = format!("{}/api/v1/events", urls[i % urls.len()]);
            scope.spawn(move || {
                let agent = agent();
                for body in bodies {
                    agent
                        .post(&url)
                        .header("Authorization", &format!("Bearer {}", school.token))
                        .header("Content-Type", "application/json")
                        .send(body.as_str())
                        .expect("upload");
                }
            });
        }
    });
    total as f64 / t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let report_schools: usize = std::env::var("PM_BENCH_SCHOOLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let now = Utc
        .with_ymd_and_hms(2026, 12, 20, 18, 0, 0)
        .single()
        .expect("now");
    let mut n = 0;
    let mut results: Vec<[String; 2]> = vec![Default::default(); 7];
    for (e, engine) in [Engine::Sqlite, Engine::Postgres].into_iter().enumerate() {
        println!("== {}", engine.name());
        // 1. One server, eight kiosks at once.
        let spec = engine.fresh(dir.path(), &mut n);
        let mut db = Db::open_spec(&spec).expect("db");
        let set = schools(&mut db, HTTP_SCHOOLS, 0);
        drop(db);
        let (url, stop, thread) = start_server(engine.backend(&spec));
        let one = ingest_over_http(&set, std::slice::from_ref(&url), now);
        println!("ingest over HTTP, one server, {HTTP_SCHOOLS} kiosks at once: {one:.0} events/s");
        // 3. Roster pulls from that server (every school, 5 rounds).
        let agent = agent();
        let mut pulls = Vec::new();
        for _ in 0..5 {
            for s in &set {
                let t = Instant::now();
                agent
                    .get(&format!("{url}/api/v1/roster?protocol=2"))
                    .header("Authorization", &format!("Bearer {}", s.token))
                    .call()
                    .expect("roster")
                    .into_body()
                    .read_to_string()
                    .expect("body");
                pulls.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let first_round = median(pulls[..HTTP_SCHOOLS].to_vec());
        let warm = median(pulls[HTTP_SCHOOLS..].to_vec());
        println!("roster pull over HTTP: first {first_round:.1} ms (median), then {warm:.1} ms (median, unchanged)");
        let _ = stop.send(());
        thread.join().expect("server");

        // 2. Two servers on one database, the kiosks split between them.
        let spec = engine.fresh(dir.path(), &mut n);
        let mut db = Db::open_spec(&spec).expect("db");
        let set = schools(&mut db, HTTP_SCHOOLS, 0);
        drop(db);
        let (a, stop_a, thread_a) = start_server(engine.backend(&spec));
        let (b, stop_b, thread_b) = start_server(engine.backend(&spec));
        let two = ingest_over_http(&set, &[a, b], now);
        println!("ingest over HTTP, two servers sharing the load: {two:.0} events/s");
        let _ = (stop_a.send(()), stop_b.send(()));
        thread_a.join().expect("server a");
        thread_b.join().expect("server b");
        let db = Db::open_spec(&spec).expect("db");
        assert_eq!(
            db.event_count().expect("count") as usize,
            HTTP_SCHOOLS * MENTORS_PER_SCHOOL * EVENTS_PER_MENTOR,
            "every event stored once"
        );

        // 4. The report at scale (events in through the real ingest, no HTTP).
        let spec = engine.fresh(dir.path(), &mut n);
        let mut db = Db::open_spec(&spec).expect("db");
        let set = schools(&mut db, report_schools, 0);
        let t = Instant::now();
        for s in &set {
            for chunk in s.events.chunks(BATCH) {
                let batch = UploadBatch {
                    protocol: PROTOCOL_VERSION,
                    kiosk: s.kiosk.clone(),
                    kiosk_clock: now,
                    events: chunk.to_vec(),
                };
                db.ingest(&s.kiosk, &s.id, &batch, now).expect("ingest");
            }
        }
        let events = db.event_count().expect("count");
        let ingest = t.elapsed().as_secs_f64();
        println!("{events} events ingested directly in {ingest:.1} s");
        let t = Instant::now();
        for s in &set {
            roster::build(&mut db, &s.id, now).expect("roster");
        }
        let rosters = t.elapsed().as_secs_f64();
        let mut reports = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            report::hours(&mut db, None, Some("2026-fall"), now).expect("report");
            reports.push(t.elapsed().as_secs_f64());
        }
        let report_median = median(reports);
        // A rule that decides hours changes: every stored total is stale.
        db.set_rules(&ProgramRules {
            stipend_threshold_hours: 99.0,
            ..ProgramRules::default()
        })
        .expect("invalidate");
        let t = Instant::now();
        report::hours(&mut db, None, Some("2026-fall"), now).expect("report");
        let after_rules = t.elapsed().as_secs_f64();
        println!("rosters {rosters:.1} s; hours report median {report_median:.3} s; after a rule change {after_rules:.1} s");
        results[0][e] = format!("{one:.0} events/s");
        results[1][e] = format!("{two:.0} events/s");
        results[2][e] = format!("{first_round:.1} ms / {warm:.1} ms");
        results[3][e] = format!("{ingest:.1} s ({:.0} events/s)", events as f64 / ingest);
        results[4][e] = format!(
            "{rosters:.1} s ({:.0} ms per school)",
            1000.0 * rosters / report_schools as f64
        );
        results[5][e] = format!("{report_median:.3} s");
        results[6][e] = format!("{after_rules:.1} s");
    }
    let events = report_schools * MENTORS_PER_SCHOOL * EVENTS_PER_MENTOR;
    let http_events = HTTP_SCHOOLS * MENTORS_PER_SCHOOL * EVENTS_PER_MENTOR;
    for (what, r) in [
        format!("ingest over HTTP, one server ({http_events} events, {HTTP_SCHOOLS} kiosks at once, batches of {BATCH})"),
        "ingest over HTTP, two servers on one database (kiosks split)".to_owned(),
        "roster pull over HTTP, median: first / unchanged".to_owned(),
        format!("ingest {events} events directly (no HTTP)"),
        format!("{report_schools} roster builds (totals stored)"),
        "hours report, all schools, totals materialized (median of 5)".to_owned(),
        "hours report right after a rule change".to_owned(),
    ]
    .into_iter()
    .zip(results)
    {
        if what.is_empty() {
            continue;
        }
        if what.starts_with("ingest over HTTP, one") {
            println!("\n| step | SQLite | PostgreSQL |\n|---|---|---|");
        }
        let [sqlite, postgres] = r;
        println!("| {what} | {sqlite} | {postgres} |");
    }
}
