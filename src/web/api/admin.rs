//! Organizer actions: flag a baseline, hide an entry, rescore a submission.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::clock;
use crate::db::users::User;
use crate::db::{jobs, submissions};
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use crate::web::api::submissions::SubmissionView;
use crate::web::auth::Organizer;

/// A flag to set or clear.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Flag {
    /// The new value.
    pub value: bool,
}

fn parse_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| {
        AppError::NotFound(format!(
            "no submission {:?}",
            id.escape_default().to_string()
        ))
    })
}

fn parse_flag(body: Result<Json<Flag>, JsonRejection>) -> Result<bool, AppError> {
    body.map(|Json(flag)| flag.value)
        .map_err(|e| AppError::BadRequest {
            message: "expected a JSON body {\"value\": true|false}".to_owned(),
            details: vec![e.body_text()],
        })
}

async fn view(
    state: &AppState,
    organizer: &User,
    id: i64,
) -> Result<Json<SubmissionView>, AppError> {
    let submission = submissions::find_submission(state.db.pool(), id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no submission {id}")))?;
    Ok(Json(SubmissionView::for_viewer(submission, organizer)))
}

/// Flags or unflags a submission as a reference baseline (the hook for issue 4's models).
#[utoipa::path(
    post,
    path = "/api/v1/admin/submissions/{id}/baseline",
    params(("id" = i64, Path, description = "submission id")),
    request_body = Flag,
    responses(
        (status = 200, body = SubmissionView),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "organizers"
)]
pub async fn set_baseline(
    State(state): State<AppState>,
    Organizer(organizer): Organizer,
    Path(id): Path<String>,
    body: Result<Json<Flag>, JsonRejection>,
) -> Result<Json<SubmissionView>, AppError> {
    let id = parse_id(&id)?;
    let value = parse_flag(body)?;
    if !submissions::set_baseline(state.db.pool(), id, value).await? {
        return Err(AppError::NotFound(format!("no submission {id}")));
    }
    view(&state, &organizer, id).await
}

/// Hides a submission from the board (or shows it again), e.g. to disqualify it.
#[utoipa::path(
    post,
    path = "/api/v1/admin/submissions/{id}/hidden",
    params(("id" = i64, Path, description = "submission id")),
    request_body = Flag,
    responses(
        (status = 200, body = SubmissionView),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "organizers"
)]
pub async fn set_hidden(
    State(state): State<AppState>,
    Organizer(organizer): Organizer,
    Path(id): Path<String>,
    body: Result<Json<Flag>, JsonRejection>,
) -> Result<Json<SubmissionView>, AppError> {
    let id = parse_id(&id)?;
    let value = parse_flag(body)?;
    if !submissions::set_hidden(state.db.pool(), id, value).await? {
        return Err(AppError::NotFound(format!("no submission {id}")));
    }
    view(&state, &organizer, id).await
}

/// Queues a submission to be scored again (after the annotations changed).
#[utoipa::path(
    post,
    path = "/api/v1/admin/submissions/{id}/rescore",
    params(("id" = i64, Path, description = "submission id")),
    responses(
        (status = 202, body = SubmissionView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "organizers"
)]
pub async fn rescore(
    State(state): State<AppState>,
    Organizer(organizer): Organizer,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<SubmissionView>), AppError> {
    let id = parse_id(&id)?;
    if submissions::find_submission(state.db.pool(), id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound(format!("no submission {id}")));
    }
    jobs::enqueue(state.db.pool(), id, clock::now_ms()).await?;
    state.jobs_ready.notify_one();
    Ok((StatusCode::ACCEPTED, view(&state, &organizer, id).await?))
}
