//! Organizers' decisions: the review queue, coordinator entries, resolutions, time entered
//! after the fact.

use super::*;

pub(super) async fn get_reviews(
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
pub(super) async fn get_entries(
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

pub(super) async fn post_review(
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
pub(super) async fn post_sessions(
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
