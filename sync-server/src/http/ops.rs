//! Operations endpoints: liveness, readiness and Prometheus metrics.

use super::*;

/// The process is up.
pub(super) async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// The database answers and its schema is the one this binary knows.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    match with_db(&state, |db| db.ready()).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(ApiError(_, _, why)) => {
            tracing::warn!(%why, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
        }
    }
}

/// Prometheus metrics (behind the metrics token when one is set).
pub(super) async fn metrics(
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
