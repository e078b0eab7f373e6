//! Reports for organizers: hours and the program report.

use super::*;

#[derive(Deserialize)]
pub(super) struct HoursQuery {
    pub(super) format: Option<String>,
    pub(super) school: Option<String>,
    pub(super) period: Option<String>,
}

pub(super) async fn get_hours(
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
pub(super) struct ProgramQuery {
    pub(super) format: Option<String>,
    pub(super) school: Option<String>,
    pub(super) period: Option<String>,
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
}

/// The program report for funders: CSV, JSON (the default) or XLSX.
pub(super) async fn get_program_report(
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
