//! Operational endpoints: `/healthz` (the database answers) and `/metrics` (Prometheus,
//! organizers' token only: scoring durations and queue internals are side channels,
//! EVALUATION.md 5.3).

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

async fn healthz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    jobs::queue_length(state.db.pool()).await?;
    Ok("ok\n")
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
