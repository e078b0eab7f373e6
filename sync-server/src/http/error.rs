//! API errors: a stable code and a clear message for 4xx; 5xx details go to the log only.

use super::*;

pub(super) struct ApiError(
    pub(super) StatusCode,
    pub(super) &'static str,
    pub(super) String,
);

/// 429 with how long to wait, in the body and in `Retry-After`.
pub(super) fn too_many(wait: u64) -> Response {
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
