//! The HTTP API under /api/v1. JSON in and out, bearer tokens, a clear 4xx for bad input and
//! nothing stored; details of 5xx errors go to the log, never to the client.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use pm_shared::protocol::{
    ErrorBody, KioskHealth, ReviewResolution, StipendPayment, UploadBatch, MAX_BATCH_EVENTS,
    PROTOCOL_VERSION,
};
use pm_shared::SchoolId;
use serde::Deserialize;

use crate::db::{Db, OrganizerScope, RequestIsolation};
use crate::metrics::{Gauges, Metrics};
use crate::storage::Storage;
use crate::{overview, payments, placements, program, report, review, roster, ServerError};

mod database;
mod decisions;
mod error;
mod kiosk_api;
mod limits;
mod ops;
mod organizers;
mod pages;
mod reports;
mod request;
mod serve;
mod stipends;

use database::*;
use decisions::*;
use error::*;
use kiosk_api::*;
pub use limits::*;
use ops::*;
use organizers::*;
use pages::*;
use reports::*;
use request::*;
pub use serve::*;
use stipends::*;

/// Largest request body accepted: a full batch of events with room to spare.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Where requests find the database.
#[derive(Clone)]
pub enum Backend {
    /// SQLite: one connection, one request at a time (SQLite has one writer anyway).
    Locked(Arc<Mutex<Box<dyn Storage>>>),
    /// PostgreSQL: each request takes a pooled connection and runs in its own transaction,
    /// side by side with the others, on this server and on any other one sharing the database.
    Pool(Arc<crate::db::PgPool>),
}

impl From<Db> for Backend {
    fn from(db: Db) -> Self {
        Backend::Locked(Arc::new(Mutex::new(Box::new(db))))
    }
}

impl From<crate::db::PgPool> for Backend {
    fn from(pool: crate::db::PgPool) -> Self {
        Backend::Pool(Arc::new(pool))
    }
}

#[derive(Clone)]
pub struct AppState {
    db: Backend,
    limiter: Arc<RateLimiter>,
    metrics: Arc<Metrics>,
    /// SHA-256 of the token `/metrics` asks for (none: open, as on a loopback address).
    metrics_token_hash: Option<String>,
    /// No token set: whether `/metrics` answers anyway (a loopback listener).
    metrics_open: bool,
    trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// Served over TLS (HSTS is sent).
    tls: bool,
}

impl AppState {
    pub fn new(db: impl Into<Backend>) -> Self {
        Self::with_limits(db, Limits::default())
    }
    /// Starts the backup schedule if `limits` has one (call inside a Tokio runtime; a
    /// PostgreSQL database is backed up with its own tools, so `main` refuses a plan for it).
    pub fn with_limits(db: impl Into<Backend>, limits: Limits) -> Self {
        let db = db.into();
        if let (Some(plan), Backend::Locked(shared)) = (limits.backups.clone(), &db) {
            crate::backups::schedule(shared.clone(), plan);
        }
        Self {
            db,
            metrics_token_hash: limits.metrics_token.as_deref().map(crate::db::sha256_hex),
            metrics_open: limits.metrics_open,
            trusted_proxies: Arc::new(limits.trusted_proxies.clone()),
            tls: limits.tls,
            limiter: Arc::new(RateLimiter::new(limits)),
            metrics: Arc::new(Metrics::default()),
        }
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(organizer_page))
        .route("/organizer.js", get(organizer_script))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/events", post(upload))
        .route("/api/v1/roster", get(get_roster))
        .route("/api/v1/health", post(post_health))
        .route("/api/v1/kiosks", get(get_kiosks))
        .route("/api/v1/overview", get(get_overview))
        .route("/api/v1/mentors/{id}", get(get_mentor_page))
        .route("/api/v1/clearances", get(get_clearances))
        .route("/api/v1/reports/hours", get(get_hours))
        .route("/api/v1/reports/program", get(get_program_report))
        .route("/api/v1/stipends", post(post_stipend).get(get_stipends))
        .route("/api/v1/stipends/{id}/void", post(void_stipend))
        .route("/api/v1/reviews", get(get_reviews))
        .route("/api/v1/coordinator-entries", get(get_entries))
        .route("/api/v1/reviews/{item}", post(post_review))
        .route("/api/v1/sessions", post(post_sessions))
        .route("/api/v1/coordinators", get(get_coordinators))
        .route("/api/v1/coordinators/pin", post(post_coordinator_pin))
        .route("/api/v1/coordinators/own-pin", post(post_own_pin))
        .fallback(|| async {
            ApiError(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint".into(),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate_first,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            log_request,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// Answers with a panic inside the database work, like a bug would.
    async fn boom(State(state): State<AppState>) -> Result<Response, ApiError> {
        with_db(&state, |_| -> Result<(), ServerError> {
            panic!("a bug in a handler")
        })
        .await?;
        Ok(StatusCode::OK.into_response())
    }

    /// Serves `router` on a free loopback port, on a runtime that lives as long as the
    /// returned handle.
    fn serve_on_loopback(router: Router) -> (tokio::runtime::Runtime, std::net::SocketAddr) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(async move { axum::serve(listener, router).await });
        (runtime, addr)
    }

    fn fetch(addr: std::net::SocketAddr, path: &str, token: &str) -> u16 {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        // A hang fails the test instead of stalling the run.
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .expect("timeout");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).expect("write");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn a_panic_answers_500_for_that_request_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(&dir.path().join("server.db")).expect("db");
        panics_stay_in_their_request(db, Backend::from);
    }

    use crate::test_pg as pg;

    /// On PostgreSQL too: the connection whose request panicked is not reused half-way.
    #[test]
    fn a_panic_on_postgres_answers_500_for_that_request_alone() {
        let url = pg::fresh_database();
        let db = Db::open_spec(&url).expect("db");
        panics_stay_in_their_request(db, move |_| {
            Backend::from(crate::db::PgPool::new(&url, 2).expect("pool"))
        });
    }

    /// A pooled connection the database ended (a restart, an administrator, an idle timeout)
    /// is replaced, and the request that found it ended runs again on a fresh one: never a
    /// 500. The backend is gone before the request comes, so its "terminating connection"
    /// message is what the request's first statement reads back.
    #[test]
    fn a_connection_the_database_ended_is_replaced_not_answered_500() {
        let url = pg::fresh_database();
        let admin = Db::open_spec(&url).expect("db");
        let school = SchoolId::new("s").expect("school");
        admin
            .add_school(&school, "S", pm_shared::TimeZone::new("UTC").expect("tz"))
            .expect("school");
        let (_, kiosk) = admin.add_kiosk(&school, "k").expect("kiosk");
        let organizer = admin.add_organizer("O", None).expect("organizer");
        let pool = crate::db::PgPool::new(&url, 2).expect("pool");
        let router = app(AppState::new(Backend::from(pool)));
        let (_runtime, addr) = serve_on_loopback(router);
        for _ in 0..5 {
            assert_eq!(fetch(addr, "/api/v1/roster", &kiosk), 200);
            assert_eq!(fetch(addr, "/api/v1/reports/hours", &organizer), 200);
            end_other_connections(&admin, true);
            assert_eq!(fetch(addr, "/api/v1/roster", &kiosk), 200);
            assert_eq!(fetch(addr, "/api/v1/reviews", &organizer), 200);
        }
    }

    /// The database ends the connection in the middle of a request (after its BEGIN): the
    /// request runs again from the start on a fresh connection and succeeds. The end reaches
    /// the request either as the answer to its next statement ("terminating connection") or
    /// as a closed socket, depending on timing; twenty rounds see both.
    #[test]
    fn a_connection_ended_mid_request_is_run_again_on_a_fresh_one() {
        let url = pg::fresh_database();
        let admin = std::sync::Arc::new(std::sync::Mutex::new(Db::open_spec(&url).expect("db")));
        let organizer = admin
            .lock()
            .expect("admin")
            .add_organizer("O", None)
            .expect("organizer");
        let pool = crate::db::PgPool::new(&url, 2).expect("pool");
        let state = AppState::new(Backend::from(pool));
        let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (admin_, attempts_) = (admin.clone(), attempts.clone());
        let ends_its_connection = get(move |State(state): State<AppState>| {
            let (admin, attempts) = (admin_.clone(), attempts_.clone());
            let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
            async move {
                with_db(&state, move |storage| {
                    attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                        end_other_connections(&admin.lock().expect("admin"), false);
                    }
                    storage.ready()
                })
                .await?;
                Ok::<_, ApiError>(StatusCode::OK.into_response())
            }
        });
        let router = app(state.clone()).merge(
            Router::new()
                .route("/ends-its-connection", ends_its_connection)
                .with_state(state),
        );
        let (_runtime, addr) = serve_on_loopback(router);
        let rounds = 20;
        for _ in 0..rounds {
            assert_eq!(fetch(addr, "/ends-its-connection", &organizer), 200);
        }
        // Most rounds ran twice (a round whose statement beat the end runs once).
        assert!(attempts.load(std::sync::atomic::Ordering::SeqCst) > rounds);
        assert_eq!(fetch(addr, "/api/v1/reports/hours", &organizer), 200);
    }

    /// A database that cannot be reached answers 503 (try again), never 500, and the server
    /// serves again as soon as it is back.
    #[test]
    fn an_unreachable_database_answers_503_until_it_is_back() {
        let url = pg::fresh_database();
        let admin = Db::open_spec(&url).expect("db");
        let organizer = admin.add_organizer("O", None).expect("organizer");
        let pool = crate::db::PgPool::new(&url, 2).expect("pool");
        let router = app(AppState::new(Backend::from(pool)));
        let (_runtime, addr) = serve_on_loopback(router);
        assert_eq!(fetch(addr, "/api/v1/reports/hours", &organizer), 200);
        let name: String = admin
            .select("SELECT current_database()", &[])
            .expect("name")[0]
            .get(0)
            .expect("text");
        // A database cannot refuse connections from inside itself.
        let allow = |yes: bool| {
            pg::run_in_cluster(&format!(
                "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {yes}"
            ))
        };
        allow(false);
        end_other_connections(&admin, true);
        assert_eq!(fetch(addr, "/api/v1/reports/hours", &organizer), 503);
        assert_eq!(fetch(addr, "/readyz", &organizer), 503);
        assert_eq!(fetch(addr, "/healthz", &organizer), 200);
        allow(true);
        assert_eq!(fetch(addr, "/api/v1/reports/hours", &organizer), 200);
        assert_eq!(fetch(addr, "/readyz", &organizer), 200);
    }

    /// Ends every connection to this database but `admin`'s, and waits until they are gone
    /// if asked to.
    fn end_other_connections(admin: &Db, wait: bool) {
        let others = "FROM pg_stat_activity \
                      WHERE datname = current_database() AND pid <> pg_backend_pid()";
        admin
            .select(
                &format!("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) {others}) t"),
                &[],
            )
            .expect("terminate");
        if !wait {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !admin
            .select(&format!("SELECT pid {others}"), &[])
            .expect("activity")
            .is_empty()
        {
            assert!(std::time::Instant::now() < deadline, "backends still there");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    fn panics_stay_in_their_request(db: Db, backend: impl FnOnce(Db) -> Backend) {
        let school = SchoolId::new("s").expect("school");
        db.add_school(&school, "S", pm_shared::TimeZone::new("UTC").expect("tz"))
            .expect("school");
        let (_, kiosk) = db.add_kiosk(&school, "k").expect("kiosk");
        let organizer = db.add_organizer("O", None).expect("organizer");
        let state = AppState::new(backend(db));
        let router =
            app(state.clone()).merge(Router::new().route("/boom", get_boom()).with_state(state));
        let (_runtime, addr) = serve_on_loopback(router);
        for _ in 0..3 {
            assert_eq!(fetch(addr, "/boom", &organizer), 500);
            assert_eq!(fetch(addr, "/api/v1/roster", &kiosk), 200);
            assert_eq!(fetch(addr, "/api/v1/reports/hours", &organizer), 200);
            assert_eq!(fetch(addr, "/api/v1/reviews", &organizer), 200);
        }
    }

    fn get_boom() -> axum::routing::MethodRouter<AppState> {
        get(boom)
    }
}
