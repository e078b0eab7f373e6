//! The organizer page and its script, and the security headers on every answer.

use super::*;

/// What the page may do: its own script only (no inline script), its own styles, images it
/// makes itself, requests to this server; never framed, no `<base>`, no plugins.
pub(super) const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The organizer page: one page and its script, served by the server itself.
pub(super) async fn organizer_page() -> Response {
    (
        [
            ("content-type", "text/html; charset=utf-8"),
            ("content-security-policy", PAGE_POLICY),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
        ],
        include_str!("../web/organizer.html"),
    )
        .into_response()
}

pub(super) async fn organizer_script() -> Response {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        include_str!("../web/organizer.js"),
    )
        .into_response()
}

/// Headers every answer carries: no type sniffing; nothing kept in caches (mentor records
/// are confidential, and a shared computer's cache is not the place for them); under TLS,
/// HTTPS only from then on (HSTS).
pub(super) async fn security_headers(
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
