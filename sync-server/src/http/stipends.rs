//! The payments ledger: booking, voiding and listing stipend payments.

use super::*;

pub(super) async fn post_stipend(
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
pub(super) struct VoidBody {
    pub(super) reason: String,
}

pub(super) async fn void_stipend(
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

/// The payments ledger of her schools, voided payments included.
pub(super) async fn get_stipends(
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
