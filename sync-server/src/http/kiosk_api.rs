//! The kiosk API: event uploads, health reports and the roster.

use super::*;

pub(super) async fn upload(
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
pub(super) async fn post_health(
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
pub(super) struct RosterQuery {
    pub(super) since: Option<String>,
    /// The kiosk's protocol version; without it, the roster is shaped for protocol 1.
    pub(super) protocol: Option<u32>,
}

pub(super) async fn get_roster(
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

/// A coordinator changed her own PIN at a kiosk of her school: 204 when taken (or taken
/// before), 409 when her PIN changed since (an organizer's reset wins; the kiosk drops its
/// change), 403 when not proven with her current PIN. Only a hash as strong as the server's
/// own is taken.
pub(super) async fn post_own_pin(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let change: pm_shared::protocol::OwnPinChange = parse_json(&body, "PIN change")?;
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !hex(&change.change_salt, 32) || !hex(&change.change_key, 64) || !hex(&change.proof, 64) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid",
            "change_salt, change_key and proof are 32, 64 and 64 lower-case hex digits".into(),
        ));
    }
    if !pm_shared::is_strong_pin_hash(&change.pin_hash) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid",
            "pin_hash must be an Argon2id hash made as the server makes them (64 MiB, 3 passes, 1 lane)".into(),
        ));
    }
    let taken = with_db_writing(&state, move |db| {
        let (_, school) = db.authenticate_kiosk(&token)?;
        db.change_own_pin(&school, &change)
    })
    .await?;
    if taken {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError(
            StatusCode::CONFLICT,
            "pin_changed",
            "her PIN was changed since (an organizer reset it): the kiosk keeps the new one".into(),
        ))
    }
}
