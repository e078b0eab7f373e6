//! The organizer API: people and places (kiosks, coordinators, mentors, clearances, the
//! overview), and what its other modules share (scope, formats).

use super::*;

#[derive(Deserialize)]
pub(super) struct ScopeQuery {
    pub(super) school: Option<String>,
    pub(super) format: Option<String>,
    /// Clearances: only the expired and expiring.
    pub(super) attention: Option<bool>,
}

/// Every kiosk of the organizer's schools: last sync, events waiting, clock offset, app
/// version, camera, last scan, and whether it has been silent for more than 24 hours.
pub(super) async fn get_kiosks(
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
pub(super) async fn get_coordinators(
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
pub(super) struct PinReset {
    pub(super) school: String,
    pub(super) name: String,
    pub(super) pin: String,
}

/// An organizer sets a coordinator's new PIN (8+ digits, not trivial), for her schools.
pub(super) async fn post_coordinator_pin(
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
    let salts: ([u8; 16], [u8; 16]) = (rand::random(), rand::random());
    let hash =
        tokio::task::spawn_blocking(move || pm_shared::pin_secrets(&reset.pin, &salts.0, &salts.1))
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
pub(super) async fn get_overview(
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
pub(super) async fn get_mentor_page(
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
pub(super) async fn get_clearances(
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
pub(super) struct ListQuery {
    pub(super) format: Option<String>,
    pub(super) school: Option<String>,
    pub(super) period: Option<String>,
}

/// `csv` or `json` (the default).
pub(super) fn format_of(format: Option<&str>) -> Result<bool, ApiError> {
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

pub(super) fn csv_response(name: &str, text: String) -> Response {
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

/// The schools a request covers: the one asked for (if hers), else all of hers (`None`: all).
pub(super) fn schools_for(
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

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("not a valid {what}: {e}"),
        )
    })
}
