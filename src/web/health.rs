//! Operational endpoints: `/healthz` (the database answers within 2 s; otherwise 503 "the
//! database is not answering", never a hang or a 500) and `/metrics` (Prometheus,
//! organizers' token only: scoring durations and queue internals are side channels,
//! EVALUATION.md 5.3).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::db::{jobs, submissions};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::Organizer;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// How long `/healthz` waits for the database.
const HEALTH_DEADLINE: Duration = Duration::from_secs(2);

async fn healthz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    match tokio::time::timeout(HEALTH_DEADLINE, jobs::queue_length(state.db.pool())).await {
        Ok(Ok(_)) => Ok("ok\n"),
        Ok(Err(err)) => {
            tracing::error!(error = %err, "health check: the database failed");
            Err(AppError::DatabaseUnavailable)
        }
        Err(_) => {
            tracing::error!("health check: the database did not answer within 2 s");
            Err(AppError::DatabaseUnavailable)
        }
    }
}

async fn metrics(
    State(state): State<AppState>,
    Organizer(_): Organizer,
) -> Result<impl IntoResponse, AppError> {
    let (queued, running) = jobs::queue_length(state.db.pool()).await?;
    let by_status = submissions::count_by_status(state.db.pool()).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(queued, running, &by_status),
    ))
}
