//! `POST /api/v1/submissions`, `GET /api/v1/submissions[/{id}]` and `POST /api/v1/validate`.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock;
use crate::db::submissions::{self, Submission};
use crate::error::{AppError, ErrorBody};
use crate::intake;
use crate::state::AppState;
use crate::web::auth::CurrentUser;
use crate::web::upload;

/// The text fields a submission form may carry beside `file`.
pub const TEXT_FIELDS: [&str; 4] = ["method", "description", "paper_url", "code_url"];

/// The answer to an accepted upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The new submission's id.
    pub id: i64,
    /// Always `queued`.
    pub status: String,
    /// Where to poll its status.
    pub url: String,
}

/// A submission as its owner (or an organizer) sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionView {
    /// Id.
    pub id: i64,
    /// `queued`, `running`, `scored` or `failed`.
    pub status: String,
    /// Why it failed (participant-safe).
    pub error: Option<String>,
    /// Every validation problem found, when invalid.
    pub details: Vec<String>,
    /// The scores of EVALUATION.md section 4, once scored.
    #[schema(value_type = Option<Object>)]
    pub scores: Option<serde_json::Value>,
    /// When it was uploaded (RFC 3339).
    pub created_at: String,
    /// When scoring finished (RFC 3339).
    pub scored_at: Option<String>,
    /// The submitter.
    pub participant: String,
    /// Method name.
    pub method: String,
    /// Free text.
    pub description: String,
    /// Link to a paper.
    pub paper_url: Option<String>,
    /// Link to code.
    pub code_url: Option<String>,
    /// The uploaded file's name.
    pub file_name: String,
    /// Its size in bytes.
    pub size_bytes: i64,
    /// Its sha256.
    pub sha256: String,
    /// Flagged as a reference baseline.
    pub baseline: bool,
    /// Hidden from the board by an organizer.
    pub hidden: bool,
    /// The manifest version it was scored against.
    pub manifest_version: Option<String>,
}

impl From<Submission> for SubmissionView {
    fn from(s: Submission) -> Self {
        Self {
            id: s.id,
            status: s.status,
            error: s.error,
            details: s
                .details_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or_default(),
            scores: s
                .scores_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
            created_at: clock::rfc3339(s.created_at),
            scored_at: s.scored_at.map(clock::rfc3339),
            participant: s.user_name,
            method: s.method,
            description: s.description,
            paper_url: s.paper_url,
            code_url: s.code_url,
            file_name: s.file_name,
            size_bytes: s.size_bytes,
            sha256: s.sha256,
            baseline: s.baseline != 0,
            hidden: s.hidden != 0,
            manifest_version: s.manifest_version,
        }
    }
}

/// The answer of a successful validation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Valid {
    /// Always true.
    pub valid: bool,
}

/// The multipart form of an upload (documentation only).
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes the multipart form in the OpenAPI document"
)]
pub struct UploadForm {
    /// `predictions.csv` or a zip of `<study_id>.nii.gz` masks.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Method name shown on the board.
    method: Option<String>,
    /// Free text.
    description: Option<String>,
    /// Link to a paper.
    paper_url: Option<String>,
    /// Link to code.
    code_url: Option<String>,
}

/// Refuses a body that announces more bytes than the cap allows, before reading it.
fn check_length(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let limit = state.config.max_upload_bytes;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(n) if n > limit.saturating_add(super::FORM_OVERHEAD) => {
            Err(AppError::TooLarge { limit })
        }
        _ => Ok(()),
    }
}

/// Uploads a submission for scoring.
#[utoipa::path(
    post,
    path = "/api/v1/submissions",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "stored and queued", body = Accepted),
        (status = 400, description = "malformed form", body = ErrorBody),
        (status = 401, description = "no or unknown token", body = ErrorBody),
        (status = 413, description = "larger than the upload cap", body = ErrorBody),
        (status = 429, description = "daily quota used up; Retry-After says until when", body = ErrorBody),
        (status = 503, description = "queue full; see Retry-After", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "submissions"
)]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Accepted>), AppError> {
    check_length(&state, &headers)?;
    intake::precheck(&state, &user).await?;
    let received = upload::receive(
        multipart,
        &state.config.incoming_dir(),
        state.config.max_upload_bytes,
        &TEXT_FIELDS,
    )
    .await?;
    let id = intake::accept(&state, &user, received).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            id,
            status: "queued".to_owned(),
            url: format!("/api/v1/submissions/{id}"),
        }),
    ))
}

/// The caller's submissions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/submissions",
    responses(
        (status = 200, body = Vec<SubmissionView>),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "submissions"
)]
pub async fn list_mine(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Vec<SubmissionView>>, AppError> {
    let rows = submissions::list_for_user(state.db.pool(), user.id).await?;
    Ok(Json(rows.into_iter().map(SubmissionView::from).collect()))
}

/// One submission: status, validation messages, scores.
#[utoipa::path(
    get,
    path = "/api/v1/submissions/{id}",
    params(("id" = i64, Path, description = "submission id")),
    responses(
        (status = 200, body = SubmissionView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "another participant's submission", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "submissions"
)]
pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<SubmissionView>, AppError> {
    let not_found = || {
        AppError::NotFound(format!(
            "no submission {:?}",
            id.escape_default().to_string()
        ))
    };
    let id_number: i64 = id.parse().map_err(|_| not_found())?;
    let submission = submissions::find_submission(state.db.pool(), id_number)
        .await?
        .ok_or_else(not_found)?;
    if submission.user_id != user.id && !user.is_organizer() {
        return Err(AppError::Forbidden(
            "this submission belongs to another participant".to_owned(),
        ));
    }
    Ok(Json(submission.into()))
}

/// Checks a file's format against the test set without scoring it and without using
/// quota: the same messages as a failed scoring.
#[utoipa::path(
    post,
    path = "/api/v1/validate",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "the file would be scored", body = Valid),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "every problem found", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "submissions"
)]
pub async fn validate(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Valid>, AppError> {
    check_length(&state, &headers)?;
    let received = upload::receive(
        multipart,
        &state.config.incoming_dir(),
        state.config.max_upload_bytes,
        &TEXT_FIELDS,
    )
    .await?;
    intake::validate(&state, received).await?;
    Ok(Json(Valid { valid: true }))
}
