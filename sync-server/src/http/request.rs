//! Who and where a request comes from: its bearer token checked first, its client address
//! (through trusted proxies), and one log line per request.

use super::*;

/// The client's address: the peer's, or the last hop a trusted proxy names.
#[derive(Clone, Copy)]
pub(super) struct ClientAddr(pub(super) std::net::IpAddr);

/// Present when the request came through a trusted reverse proxy.
#[derive(Clone, Copy)]
pub(super) struct ViaProxy;

/// Who made a request, for the log: a kiosk id or an organizer's name, never a token.
#[derive(Clone)]
pub(super) struct Principal(pub(super) String);

/// One log line per request: method, route (ids in paths replaced by their parameter name, so
/// no mentor id reaches the log), status, time, and who.
pub(super) async fn log_request(
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
pub(super) fn client_addr(
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
pub(super) fn route_of(path: &str) -> &'static str {
    const STATIC: [&str; 23] = [
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
        "/api/v1/coordinators/own-pin",
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

/// Every API request shows a valid token before anything else, its body included, is read;
/// then each token gets its share of the server (429 with `Retry-After` past it).
pub(super) async fn authenticate_first(
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

pub(super) fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| ServerError::Unauthorized.into())
}
