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

/// What a server lets each client do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests per second per token, sustained.
    pub per_second: f64,
    /// Requests a token may make at once before the rate applies.
    pub burst: f64,
    /// How long a client may take to send a request's headers.
    pub header_read: std::time::Duration,
    /// How long a connection may sit without a byte moving either way.
    pub idle: std::time::Duration,
    /// How long a new connection may take to send its first complete request.
    pub first_request: std::time::Duration,
    /// How long a connection may live, whatever it does (a keep-alive connection that asks
    /// something every 25 s included).
    pub lifetime: std::time::Duration,
    /// Open connections at most, in all (one more is accepted and closed at once).
    pub max_connections: usize,
    /// Open connections at most from one client address.
    pub max_connections_per_address: usize,
    /// The bearer token `/metrics` asks for, if any.
    pub metrics_token: Option<String>,
    /// Whether `/metrics` may answer without a token: only on a loopback listener.
    pub metrics_open: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (its last hop); any other
    /// peer is the client itself.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Whether the server speaks TLS itself (set by [`serve_tls`]).
    pub tls: bool,
    /// Scheduled backups while serving, if any.
    pub backups: Option<crate::backups::BackupPlan>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_second: 20.0,
            burst: 100.0,
            header_read: std::time::Duration::from_secs(30),
            idle: std::time::Duration::from_secs(60),
            first_request: std::time::Duration::from_secs(10),
            lifetime: std::time::Duration::from_secs(600),
            max_connections: crate::net::ConnectionLimits::default_total(),
            max_connections_per_address: 256,
            metrics_token: None,
            metrics_open: true,
            trusted_proxies: Vec::new(),
            tls: false,
            backups: None,
        }
    }
}

impl Limits {
    fn connections(&self) -> crate::net::ConnectionLimits {
        crate::net::ConnectionLimits {
            total: self.max_connections,
            per_address: self.max_connections_per_address,
            proxies: self.trusted_proxies.clone(),
            idle: self.idle,
            lifetime: self.lifetime,
        }
    }

    /// Header limits for HTTP/1 and HTTP/2 alike: a request's headers within the header
    /// timeout (HTTP/1) and at most 100 headers (HTTP/1) or 16 KiB of them (HTTP/2), at most
    /// 64 requests at once on one HTTP/2 connection.
    fn apply(
        &self,
        builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    ) {
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.header_read)
            .max_headers(100);
        builder
            .http2()
            .timer(hyper_util::rt::TokioTimer::new())
            .max_header_list_size(16 * 1024)
            .max_concurrent_streams(64)
            .keep_alive_interval(None);
    }
}

/// A connection that could not be accepted (the system out of files, one past the caps):
/// logged with the client's address, never fatal.
fn log_accept_error(client: Option<&std::net::SocketAddr>, error: &std::io::Error) {
    let client = client.map_or_else(|| "-".to_owned(), |a| a.ip().to_string());
    tracing::debug!(%client, %error, "connection not accepted");
}

/// Token buckets: one per verified token (by its public id part, never the secret), charged
/// only once the token checked out; one per client address for requests that fail to
/// authenticate, so nobody can empty another's bucket by sending its id with a wrong secret,
/// and a stream of failures from one address, however it varies the id, is answered 429 and
/// logged. (Each request still costs one token look-up: a valid token is never refused because
/// of its address; tokens carry 100+ random bits, so guessing is not the danger.)
pub struct RateLimiter {
    limits: Limits,
    buckets: Mutex<std::collections::HashMap<String, (f64, std::time::Instant)>>,
}

impl RateLimiter {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// A request that failed to authenticate: logged with its client address and why (never
    /// the token), charged to that address's bucket, and answered 401, or 429 once the
    /// address has failed too often.
    fn refuse(&self, client: Option<std::net::IpAddr>, reason: &'static str) -> Response {
        let address = client.map_or_else(|| "-".to_owned(), |a| a.to_string());
        tracing::warn!(client = %address, %reason, "authentication failed");
        match self.take(&format!("failures:{address}")) {
            Ok(()) => ApiError::from(ServerError::Unauthorized).into_response(),
            Err(wait) => too_many(wait),
        }
    }

    /// `Ok` to go ahead, or how many seconds to wait before the next try.
    fn take(&self, key: &str) -> Result<(), u64> {
        let now = std::time::Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget quiet clients now and then, so the map stays small.
        if buckets.len() > 10_000 {
            let burst = self.limits.burst;
            let rate = self.limits.per_second;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets
            .entry(key.to_owned())
            .or_insert((self.limits.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.limits.per_second)
            .min(self.limits.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.limits.per_second.max(f64::MIN_POSITIVE);
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

struct ApiError(StatusCode, &'static str, String);

/// 429 with how long to wait, in the body and in `Retry-After`.
fn too_many(wait: u64) -> Response {
    let mut response = ApiError(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!("too many requests: try again in {wait} s"),
    )
    .into_response();
    if let Ok(value) = wait.to_string().parse() {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// The client's address: the peer's, or the last hop a trusted proxy names.
#[derive(Clone, Copy)]
struct ClientAddr(std::net::IpAddr);

/// Present when the request came through a trusted reverse proxy.
#[derive(Clone, Copy)]
struct ViaProxy;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.1.to_owned(),
            message: self.2,
        };
        (self.0, Json(body)).into_response()
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Unauthorized => {
                ApiError(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string())
            }
            ServerError::Forbidden(_) => {
                ApiError(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            ServerError::NotFound { .. } => {
                ApiError(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            ServerError::Conflict(_) => ApiError(StatusCode::CONFLICT, "conflict", e.to_string()),
            ServerError::ItemChanged(_) => {
                ApiError(StatusCode::CONFLICT, "item_changed", e.to_string())
            }
            // Concurrent requests kept winning (PostgreSQL): nothing was stored, try again.
            ref busy if busy.is_retryable() => ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the database is busy with concurrent changes: nothing was recorded, try again"
                    .into(),
            ),
            // A decision whose COMMIT was cut off: say so, so nobody records it twice.
            ref unknown if unknown.is_commit_unknown() => {
                tracing::warn!(error = %unknown, "database connection lost during commit");
                ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "outcome_unknown",
                    "the connection to the database was lost while saving: this may have been \
                     recorded. Reload and check before trying again"
                        .into(),
                )
            }
            // The database cannot be reached (PostgreSQL down, restarting, refusing
            // connections): a reason to try again later, not a bug in this server.
            ref lost if lost.is_connection_lost() => {
                tracing::warn!(error = %lost, "database unreachable");
                ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database cannot be reached right now: try again later".into(),
                )
            }
            ServerError::Invalid(_) | ServerError::Domain(_) => {
                ApiError(StatusCode::BAD_REQUEST, "invalid", e.to_string())
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log".into(),
                )
            }
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

/// Who made a request, for the log: a kiosk id or an organizer's name, never a token.
#[derive(Clone)]
struct Principal(String);

/// One log line per request: method, route (ids in paths replaced by their parameter name, so
/// no mentor id reaches the log), status, time, and who.
async fn log_request(
    State(state): State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let client = client_addr(&request, &state.trusted_proxies);
    if let Some(addr) = client {
        request.extensions_mut().insert(ClientAddr(addr));
    }
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if peer.is_some_and(|p| state.trusted_proxies.contains(&p)) {
        request.extensions_mut().insert(ViaProxy);
    }
    let method = request.method().clone();
    let route = route_of(request.uri().path());
    let response = next.run(request).await;
    let who = response
        .extensions()
        .get::<Principal>()
        .map(|p| p.0.clone())
        .unwrap_or_else(|| "-".into());
    tracing::info!(
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        who = %who,
        client = %client.map_or_else(|| "-".to_owned(), |a| a.to_string()),
        "request"
    );
    response
}

/// The peer's address, or, when the peer is a trusted proxy, the last hop its
/// `X-Forwarded-For` names (the one address the proxy itself vouches for).
fn client_addr(
    request: &axum::extract::Request,
    trusted_proxies: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|hop| hop.trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}

/// A request path as its route template: a known route, with ids replaced by their parameter
/// name, or `(unmatched)`; nothing from a path that might carry a mentor id is logged.
fn route_of(path: &str) -> &'static str {
    const STATIC: [&str; 22] = [
        "/",
        "/organizer.js",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/events",
        "/api/v1/roster",
        "/api/v1/health",
        "/api/v1/kiosks",
        "/api/v1/overview",
        "/api/v1/clearances",
        "/api/v1/reports/hours",
        "/api/v1/reports/program",
        "/api/v1/stipends",
        "/api/v1/reviews",
        "/api/v1/coordinator-entries",
        "/api/v1/sessions",
        "/api/v1/coordinators",
        "/api/v1/coordinators/pin",
        "/favicon.ico",
        "/robots.txt",
        "/api/v1",
    ];
    if let Some(known) = STATIC.iter().find(|r| **r == path) {
        return known;
    }
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "api", "v1", "mentors", id] if !id.is_empty() => "/api/v1/mentors/{id}",
        ["", "api", "v1", "reviews", item] if !item.is_empty() => "/api/v1/reviews/{item}",
        ["", "api", "v1", "stipends", id, "void"] if !id.is_empty() => "/api/v1/stipends/{id}/void",
        _ => "(unmatched)",
    }
}

/// The process is up.
async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// The database answers and its schema is the one this binary knows.
async fn readyz(State(state): State<AppState>) -> Response {
    match with_db(&state, |db| db.ready()).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(ApiError(_, _, why)) => {
            tracing::warn!(%why, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
        }
    }
}

/// Prometheus metrics (behind the metrics token when one is set).
async fn metrics(
    State(state): State<AppState>,
    client: Option<axum::Extension<ClientAddr>>,
    via: Option<axum::Extension<ViaProxy>>,
    headers: HeaderMap,
) -> Response {
    let client = client.map(|c| c.0 .0);
    // A request a reverse proxy forwards comes from anywhere, whatever our listener is.
    let through_proxy = via.is_some();
    // The token first: a wrong one is charged to its sender's address, never to the scraper.
    if let Some(expected) = &state.metrics_token_hash {
        let verdict = match bearer(&headers) {
            Ok(given) if &crate::db::sha256_hex(&given) == expected => Ok(()),
            Ok(_) => Err("wrong metrics token"),
            Err(_) => Err("no bearer token"),
        };
        if let Err(reason) = verdict {
            return state.limiter.refuse(client, reason);
        }
    } else if !state.metrics_open || through_proxy {
        return state.limiter.refuse(
            client,
            "metrics need a token on a listener that is not loopback, or through a proxy",
        );
    }
    // Scrapers share one bucket: a flood of scrapes cannot hold the database.
    if let Err(wait) = state.limiter.take("/metrics") {
        return too_many(wait);
    }
    let gauges = with_db(&state, |db| {
        let now = Utc::now();
        let review_items_open = review::list(db, None, None, now)?.len() as u64;
        let kiosks_last_seen = db
            .kiosk_statuses(None, now)?
            .into_iter()
            .filter(|k| !k.revoked)
            .filter_map(|k| {
                let seen = k.last_sync.as_deref()?;
                let seen = chrono::DateTime::parse_from_rfc3339(seen).ok()?;
                Some((
                    k.kiosk,
                    (now - seen.to_utc()).num_milliseconds() as f64 / 1000.0,
                ))
            })
            .collect();
        Ok(Gauges {
            review_items_open,
            kiosks_last_seen,
        })
    })
    .await;
    match gauges {
        Ok(gauges) => (
            [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
            state.metrics.render(&gauges),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Every API request shows a valid token before anything else, its body included, is read;
/// then each token gets its share of the server (429 with `Retry-After` past it).
async fn authenticate_first(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let client = request.extensions().get::<ClientAddr>().map(|c| c.0);
    let token = match bearer(request.headers()) {
        Ok(t) => t,
        Err(_) => {
            return state
                .limiter
                .refuse(client, "no bearer token")
                .into_response()
        }
    };
    let id = token.split('.').next().unwrap_or_default().to_owned();
    let known = with_db(&state, move |db| {
        match db.authenticate_kiosk(&token) {
            Ok((kiosk, _)) => return Ok(format!("kiosk:{kiosk}")),
            Err(ServerError::Unauthorized) => {}
            Err(other) => return Err(other),
        }
        db.authenticate_organizer(&token)
            .map(|scope| format!("organizer:{}", scope.name))
    })
    .await;
    match known {
        Ok(who) => {
            // Charged only now that the token checked out.
            if let Err(wait) = state.limiter.take(&format!("token:{id}")) {
                return too_many(wait);
            }
            let mut response = next.run(request).await;
            response.extensions_mut().insert(Principal(who));
            response
        }
        Err(ApiError(StatusCode::UNAUTHORIZED, ..)) => state
            .limiter
            .refuse(client, "unknown or revoked token")
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// What the page may do: its own script only (no inline script), its own styles, images it
/// makes itself, requests to this server; never framed, no `<base>`, no plugins.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The organizer page: one page and its script, served by the server itself.
async fn organizer_page() -> Response {
    (
        [
            ("content-type", "text/html; charset=utf-8"),
            ("content-security-policy", PAGE_POLICY),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
        ],
        include_str!("web/organizer.html"),
    )
        .into_response()
}

async fn organizer_script() -> Response {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        include_str!("web/organizer.js"),
    )
        .into_response()
}

/// Headers every answer carries: no type sniffing; nothing kept in caches (mentor records
/// are confidential, and a shared computer's cache is not the place for them); under TLS,
/// HTTPS only from then on (HSTS).
async fn security_headers(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        axum::http::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "cache-control",
        axum::http::HeaderValue::from_static("no-store"),
    );
    if state.tls {
        headers.insert(
            "strict-transport-security",
            axum::http::HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| ServerError::Unauthorized.into())
}

/// How many times a PostgreSQL request is run when concurrent ones keep winning.
const SERIALIZATION_ATTEMPTS: u32 = 20;

/// Runs storage work off the async threads. A panic inside `work` answers 500 for this request
/// alone: it is caught while the lock is held, so the lock is never poisoned (an open SQLite
/// transaction rolls back as the panic unwinds), and other requests go on.
///
/// On PostgreSQL the work runs in one REPEATABLE READ transaction on a pooled connection, run
/// again from the start when it fails to serialize with a concurrent one, so it must only touch
/// the database. Resolutions and voids run here too: two of them racing on one item or one
/// payment both write the same row (the server's series, the payment), so the second fails to
/// serialize, runs again, and finds the item resolved (409), as with SQLite's lock.
async fn with_db<T: Send + 'static>(
    state: &AppState,
    work: impl Fn(&mut dyn Storage) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ApiError> {
    run_db(state, RequestIsolation::Snapshot, Replay::Always, work).await
}

/// Whether a request whose connection was lost during its COMMIT runs again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Reads, uploads and health: running twice records nothing twice (event ids are stored
    /// once; caches and health are overwritten).
    Always,
    /// A decision (a payment, a void, a resolution): it may already be recorded, and a second
    /// run could book an additional payment twice or answer 409 for what succeeded. Answered
    /// 503 saying it may be recorded; run again only when the connection broke before COMMIT.
    NotAfterCommit,
}

/// A decision an organizer makes (a payment, a void, a resolution), at `isolation`: see
/// [`Replay::NotAfterCommit`].
async fn with_db_deciding<T: Send + 'static>(
    state: &AppState,
    isolation: RequestIsolation,
    work: impl Fn(&mut dyn Storage) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ApiError> {
    run_db(state, isolation, Replay::NotAfterCommit, work).await
}

/// [`with_db`] for a request that records something (an upload, health; a payment too,
/// through [`with_db_deciding`]): on PostgreSQL it runs READ COMMITTED, so two servers storing
/// events of the same mentor wait on each other's row locks instead of failing to serialize;
/// exactly-once rests on the unique keys (`ON CONFLICT DO NOTHING`), which hold at any
/// isolation level.
async fn with_db_writing<T: Send + 'static>(
    state: &AppState,
    work: impl Fn(&mut dyn Storage) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ApiError> {
    run_db(state, RequestIsolation::ReadCommitted, Replay::Always, work).await
}

async fn run_db<T: Send + 'static>(
    state: &AppState,
    isolation: RequestIsolation,
    replay: Replay,
    work: impl Fn(&mut dyn Storage) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ApiError> {
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || match db {
        Backend::Locked(db) => {
            // A poisoned lock can only come from a panic outside `catch_unwind`; the storage
            // it guards is still usable (every write is one transaction), so take it back.
            let mut guard = db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let storage: &mut dyn Storage = guard.as_mut();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(storage)))
                .unwrap_or_else(|_| Err(ServerError::Panicked))
        }
        Backend::Pool(pool) => {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut db = match pool.get() {
                    Ok(db) => db,
                    Err(e) => break Err(e),
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    db.in_request(isolation, |db| work(db))
                }))
                .unwrap_or_else(|_| {
                    // Its transaction was left open mid-way: the connection is not reused.
                    db.discard();
                    Err(ServerError::Panicked)
                });
                // A connection that broke (the database restarted, an administrator ended it,
                // an idle timeout): dropped, with the idle ones (a restart ended them too), and
                // the request tried on a fresh one, unless it is a decision whose COMMIT was
                // under way (see `Replay`). The client may not have noticed the close yet when
                // the error comes back (the server's "terminating connection" arrives as the
                // answer to the next statement), so the error's own kind counts too.
                let broken =
                    db.conn.is_closed() || matches!(&result, Err(e) if e.is_connection_lost());
                if broken {
                    db.discard();
                    pool.discard_idle();
                }
                drop(db);
                match result {
                    Err(e) if e.is_commit_unknown() && replay == Replay::NotAfterCommit => {
                        break Err(e)
                    }
                    Err(ServerError::Database(_)) if broken && attempt < SERIALIZATION_ATTEMPTS => {
                    }
                    Err(e) if e.is_retryable() && attempt < SERIALIZATION_ATTEMPTS => {
                        // Let the transaction that won finish before trying again (holding
                        // no connection meanwhile).
                        let jitter = u64::from(rand::random::<u8>() % 20);
                        std::thread::sleep(std::time::Duration::from_millis(
                            u64::from(attempt) * 5 + jitter,
                        ));
                    }
                    other => break other,
                }
            }
        }
    })
    .await
    .map_err(|_| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error".into(),
        )
    })?
    .map_err(ApiError::from)
}

async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let batch: UploadBatch = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("not a valid event batch: {e}"),
        )
    })?;
    if batch.events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!("at most {MAX_BATCH_EVENTS} events per batch"),
        ));
    }
    let started = std::time::Instant::now();
    let ack = with_db_writing(&state, move |db| {
        let (kiosk, school) = db.authenticate_kiosk(&token)?;
        db.ingest(&kiosk, &school, &batch, Utc::now())
    })
    .await?;
    let m = &state.metrics;
    m.upload_batch.observe(started.elapsed());
    Metrics::add(&m.events_ingested, ack.stored.len());
    Metrics::add(&m.events_set_aside, ack.set_aside.len());
    Metrics::add(&m.events_already_stored, ack.already_stored.len());
    Ok(Json(ack).into_response())
}

/// A kiosk's health report (sent at every sync).
async fn post_health(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let health: KioskHealth = parse_json(&body, "health report")?;
    health
        .validate()
        .map_err(|why| ApiError(StatusCode::BAD_REQUEST, "invalid", why))?;
    with_db_writing(&state, move |db| {
        let (kiosk, _) = db.authenticate_kiosk(&token)?;
        db.save_kiosk_health(&kiosk, &health, Utc::now())
    })
    .await?;
    Ok(Json(serde_json::json!({"recorded": true})).into_response())
}

#[derive(Deserialize)]
struct ScopeQuery {
    school: Option<String>,
    format: Option<String>,
    /// Clearances: only the expired and expiring.
    attention: Option<bool>,
}

/// Every kiosk of the organizer's schools: last sync, events waiting, clock offset, app
/// version, camera, last scan, and whether it has been silent for more than 24 hours.
async fn get_kiosks(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ScopeQuery>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let rows = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let schools = schools_for(db, &scope, query.school.as_deref())?;
        db.kiosk_statuses(schools.as_deref(), Utc::now())
    })
    .await?;
    Ok(Json(rows).into_response())
}

/// The coordinators of her schools and the state of their PINs (weak, exposed on a lost
/// kiosk, refused by the kiosks).
async fn get_coordinators(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let rows = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let cutoff = crate::db::exposed_cutoff(&db.rules()?, Utc::now());
        let rows: Vec<serde_json::Value> = db
            .coordinator_statuses(scope.schools.as_deref())?
            .into_iter()
            .map(|c| {
                let refused = c
                    .exposed_at
                    .as_deref()
                    .is_some_and(|at| at <= crate::db::ts(cutoff).as_str());
                serde_json::json!({
                    "school_id": c.school_id,
                    "name": c.name,
                    "weak": c.weak,
                    "exposed_at": c.exposed_at,
                    "refused": refused,
                })
            })
            .collect();
        Ok(rows)
    })
    .await?;
    Ok(Json(rows).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PinReset {
    school: String,
    name: String,
    pin: String,
}

/// An organizer sets a coordinator's new PIN (8+ digits, not trivial), for her schools.
async fn post_coordinator_pin(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let reset: PinReset = parse_json(&body, "PIN reset")?;
    pm_shared::check_new_pin(&reset.pin).map_err(ServerError::from)?;
    let school = pm_shared::SchoolId::new(&reset.school).map_err(ServerError::from)?;
    // Only an organizer of that school, and only then the (deliberately slow) hash: a kiosk's
    // token, or anyone else's, never makes the server spend Argon2id's memory.
    let allowed = school.clone();
    let organizer = token.clone();
    with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&organizer)?;
        match scope.schools {
            Some(list) if !list.contains(&allowed) => Err(ServerError::Forbidden(format!(
                "no access to school {allowed}"
            ))),
            _ => Ok(()),
        }
    })
    .await?;
    let salt: [u8; 16] = rand::random();
    let hash = tokio::task::spawn_blocking(move || pm_shared::hash_pin(&reset.pin, &salt))
        .await
        .map_err(|e| ServerError::Corrupt(e.to_string()))?
        .map_err(ServerError::from)?;
    let name = reset.name;
    with_db(&state, move |db| {
        db.authenticate_organizer(&token)?;
        db.set_coordinator_pin(&school, &name, &hash)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The Overview: per school this period, hours per week, progress bands, clearances.
async fn get_overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HoursQuery>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let overview = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let schools = schools_for(db, &scope, query.school.as_deref())?;
        overview::overview(db, schools.as_deref(), query.period.as_deref(), Utc::now())
    })
    .await?;
    Ok(Json(overview).into_response())
}

/// One mentor's page (404 for a mentor outside the organizer's schools).
async fn get_mentor_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let page = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let id = pm_shared::MentorId::new(id.clone())?;
        overview::mentor_page(db, scope.schools.as_deref(), &id, Utc::now())
    })
    .await?;
    Ok(Json(page).into_response())
}

/// Clearances of the organizer's schools (`attention=true`: expired and expiring only).
async fn get_clearances(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ScopeQuery>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let csv = format_of(query.format.as_deref())?;
    let rows = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let schools = schools_for(db, &scope, query.school.as_deref())?;
        placements::clearance_list(
            db,
            schools.as_deref(),
            query.attention.unwrap_or(false),
            Utc::now(),
        )
    })
    .await?;
    if csv {
        Ok((
            [("content-type", "text/csv; charset=utf-8")],
            placements::clearances_csv(&rows)?,
        )
            .into_response())
    } else {
        Ok(Json(rows).into_response())
    }
}

#[derive(Deserialize)]
struct RosterQuery {
    since: Option<String>,
    /// The kiosk's protocol version; without it, the roster is shaped for protocol 1.
    protocol: Option<u32>,
}

async fn get_roster(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<RosterQuery>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let roster = with_db(&state, move |db| {
        let (_, school) = db.authenticate_kiosk(&token)?;
        roster::build(db, &school, Utc::now())
    })
    .await?;
    Metrics::add(&state.metrics.roster_pulls, 1);
    let unchanged = query.since.as_deref() == Some(roster.version.as_str());
    let protocol = query.protocol.unwrap_or(1).clamp(1, PROTOCOL_VERSION);
    let body = if unchanged {
        serde_json::Value::Null
    } else if protocol == 1 {
        roster::protocol_1_json(&roster)?
    } else if protocol == 2 {
        roster::protocol_2_json(&roster)?
    } else {
        serde_json::to_value(&roster).map_err(|e| ServerError::Corrupt(e.to_string()))?
    };
    Ok(Json(serde_json::json!({
        "protocol": protocol,
        "version": roster.version,
        "roster": body,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct HoursQuery {
    format: Option<String>,
    school: Option<String>,
    period: Option<String>,
}

async fn get_hours(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HoursQuery>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let format = query.format.unwrap_or_else(|| "json".into());
    if format != "csv" && format != "json" {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid",
            "format is csv or json".into(),
        ));
    }
    let started = std::time::Instant::now();
    let rows = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let schools = schools_for(db, &scope, query.school.as_deref())?;
        report::hours(db, schools.as_deref(), query.period.as_deref(), Utc::now())
    })
    .await?;
    state.metrics.report.observe(started.elapsed());
    if format == "csv" {
        let csv = report::to_csv(&rows)?;
        Ok((
            [
                ("content-type", "text/csv; charset=utf-8"),
                ("content-disposition", "attachment; filename=\"hours.csv\""),
            ],
            csv,
        )
            .into_response())
    } else {
        Ok(Json(rows).into_response())
    }
}

#[derive(Deserialize)]
struct ProgramQuery {
    format: Option<String>,
    school: Option<String>,
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The program report for funders: CSV, JSON (the default) or XLSX.
async fn get_program_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ProgramQuery>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let format = query.format.clone().unwrap_or_else(|| "json".into());
    if !["csv", "json", "xlsx"].contains(&format.as_str()) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid",
            "format is csv, json or xlsx".into(),
        ));
    }
    let started = std::time::Instant::now();
    let rows = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let schools = schools_for(db, &scope, query.school.as_deref())?;
        let now = Utc::now();
        let span = program::Span::parse(
            &db.rules()?,
            query.period.as_deref(),
            query.from.as_deref(),
            query.to.as_deref(),
            program::today(db, schools.as_deref(), now)?,
        )?;
        program::report(db, schools.as_deref(), span, now)
    })
    .await?;
    state.metrics.report.observe(started.elapsed());
    Ok(match format.as_str() {
        "csv" => (
            [
                ("content-type", "text/csv; charset=utf-8"),
                (
                    "content-disposition",
                    "attachment; filename=\"program.csv\"",
                ),
            ],
            program::to_csv(&rows)?,
        )
            .into_response(),
        "xlsx" => (
            [
                (
                    "content-type",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
                (
                    "content-disposition",
                    "attachment; filename=\"program.xlsx\"",
                ),
            ],
            program::to_xlsx(&rows)?,
        )
            .into_response(),
        _ => Json(rows).into_response(),
    })
}

async fn post_stipend(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let payment: StipendPayment = parse_json(&body, "stipend payment")?;
    // READ COMMITTED like an upload: see `with_db_writing`.
    let id = with_db_deciding(&state, RequestIsolation::ReadCommitted, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        payments::record(
            db,
            &payment,
            &scope.name,
            scope.schools.as_deref(),
            Utc::now(),
        )
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"recorded": true, "id": id})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoidBody {
    reason: String,
}

async fn void_stipend(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let id: i64 = id.parse().map_err(|_| {
        ApiError(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no payment {id:?}"),
        )
    })?;
    let body: VoidBody = parse_json(&body, "void request")?;
    let payment = with_db_deciding(&state, RequestIsolation::Snapshot, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        payments::void(
            db,
            id,
            &scope.name,
            &body.reason,
            scope.schools.as_deref(),
            Utc::now(),
        )
    })
    .await?;
    Ok(Json(payment).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    format: Option<String>,
    school: Option<String>,
    period: Option<String>,
}

/// `csv` or `json` (the default).
fn format_of(format: Option<&str>) -> Result<bool, ApiError> {
    match format.unwrap_or("json") {
        "csv" => Ok(true),
        "json" => Ok(false),
        _ => Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid",
            "format is csv or json".into(),
        )),
    }
}

fn csv_response(name: &str, text: String) -> Response {
    (
        [
            ("content-type", "text/csv; charset=utf-8".to_owned()),
            (
                "content-disposition",
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text,
    )
        .into_response()
}

/// The payments ledger of her schools, voided payments included.
async fn get_stipends(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let csv = format_of(query.format.as_deref())?;
    let ledger = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let mentors: std::collections::HashMap<String, SchoolId> = db
            .mentors(None)?
            .into_iter()
            .map(|m| (m.id.to_string(), m.school))
            .collect();
        Ok(db
            .payments()?
            .into_iter()
            .filter(|p| mentors.get(&p.mentor).is_some_and(|s| scope.allows(s)))
            .collect::<Vec<_>>())
    })
    .await?;
    if csv {
        let records: Vec<Vec<String>> = ledger
            .iter()
            .map(|p| {
                vec![
                    p.id.to_string(),
                    p.mentor.clone(),
                    p.period.clone(),
                    p.amount.clone(),
                    p.paid_on.clone(),
                    p.reference.clone(),
                    p.recorded_by.clone(),
                    p.additional.to_string(),
                    p.not_eligible.to_string(),
                    p.voided_at.clone().unwrap_or_default(),
                    p.void_reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let text = report::csv_text(
            "id,mentor_id,period,amount,paid_on,reference,recorded_by,additional,not_eligible,voided_at,void_reason",
            &records,
        )?;
        return Ok(csv_response("payments.csv", text));
    }
    Ok(Json(ledger).into_response())
}

/// The schools a request covers: the one asked for (if hers), else all of hers (`None`: all).
fn schools_for(
    db: &dyn Storage,
    scope: &OrganizerScope,
    school: Option<&str>,
) -> Result<Option<Vec<SchoolId>>, ServerError> {
    match school.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            let s = SchoolId::new(s)?;
            if !scope.allows(&s) {
                return Err(ServerError::Forbidden(format!("no access to school {s}")));
            }
            db.school(&s)?;
            Ok(Some(vec![s]))
        }
        None => Ok(scope.schools.clone()),
    }
}

async fn get_reviews(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let csv = format_of(query.format.as_deref())?;
    let items = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let schools = schools_for(db, &scope, query.school.as_deref())?;
        review::list(db, schools.as_deref(), query.period.as_deref(), Utc::now())
    })
    .await?;
    if csv {
        return Ok(csv_response("review.csv", review::to_csv(&items)?));
    }
    Ok(Json(items).into_response())
}

/// Every coordinator entry of her schools: who, which kiosk, when, why, what it changed.
async fn get_entries(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let csv = format_of(query.format.as_deref())?;
    let entries = with_db(&state, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let schools = schools_for(db, &scope, query.school.as_deref())?;
        crate::entries::list(db, schools.as_deref())
    })
    .await?;
    if csv {
        return Ok(csv_response(
            "coordinator-entries.csv",
            crate::entries::to_csv(&entries)?,
        ));
    }
    Ok(Json(entries).into_response())
}

async fn post_review(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(item): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let resolution: ReviewResolution = parse_json(&body, "review resolution")?;
    let resolved = with_db_deciding(&state, RequestIsolation::Snapshot, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        let by = review::Resolver {
            name: &scope.name,
            schools: scope.schools.as_deref(),
        };
        review::resolve(db, &item, &resolution, by, Utc::now())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(resolved)).into_response())
}

/// Time entered after the fact (one session, or a paper sheet): who entered it comes from the
/// token.
async fn post_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let value: serde_json::Value = parse_json(&body, "session entry")?;
    let (sessions, reason) = crate::sessions::parse_request(value)?;
    let events = with_db_deciding(&state, RequestIsolation::ReadCommitted, move |db| {
        let scope = db.authenticate_organizer(&token)?;
        crate::sessions::enter(
            db,
            &sessions,
            &scope.name,
            &reason,
            scope.schools.as_deref(),
            Utc::now(),
        )
    })
    .await?;
    let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"recorded": ids})),
    )
        .into_response())
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("not a valid {what}: {e}"),
        )
    })
}

/// Serves until `shutdown` resolves, with the default limits. Tests bind port 0 and pass the
/// listener in.
pub async fn serve(
    db: impl Into<Backend>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(db, listener, Limits::default(), shutdown).await
}

/// Serves plain HTTP: headers within `limits.header_read`, idle connections dropped after
/// `limits.idle`, each token rate-limited.
pub async fn serve_with(
    db: impl Into<Backend>,
    listener: tokio::net::TcpListener,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut server = axum_server::from_tcp(listener.into_std()?)?
        .acceptor(crate::net::Guard::new(limits.connections()))
        .first_request_timeout(limits.first_request)
        .accept_error_handler(log_accept_error);
    limits.apply(server.http_builder());
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    server
        .handle(handle)
        .serve(
            app(AppState::with_limits(db, limits))
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
}

/// Serves HTTPS with the given PEM certificate chain and key until `shutdown` resolves;
/// `on_listening` is told the bound address (useful with port 0). Same limits as plain HTTP.
pub async fn serve_tls(
    db: impl Into<Backend>,
    addr: std::net::SocketAddr,
    (cert, key): (&std::path::Path, &std::path::Path),
    limits: Limits,
    on_listening: impl FnOnce(std::net::SocketAddr) + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
    let handle = axum_server::Handle::new();
    let watcher = handle.clone();
    tokio::spawn(async move {
        if let Some(bound) = watcher.listening().await {
            on_listening(bound);
        }
    });
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
        .acceptor(crate::net::Guard::new(limits.connections()));
    let mut server = axum_server::bind(addr)
        .acceptor(acceptor)
        .first_request_timeout(limits.first_request)
        .accept_error_handler(log_accept_error);
    limits.apply(server.http_builder());
    server
        .handle(handle)
        .serve(
            app(AppState::with_limits(
                db,
                Limits {
                    tls: true,
                    ..limits
                },
            ))
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
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
