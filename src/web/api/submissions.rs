//! `POST /api/v1/submissions`, `GET /api/v1/submissions[/{id}]`,
//! `POST /api/v1/submissions/{id}/final` and `/withdraw`, and `POST /api/v1/validate`.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use scorer::Scores;

use crate::db::submissions::{self, Submission};
use crate::db::users::User;
use crate::error::{AppError, ErrorBody};
use crate::intake;
use crate::state::AppState;
use crate::web::auth::CurrentUser;
use crate::web::upload;
use crate::{clock, disclosure};

/// The text fields a submission form may carry beside `file`.
pub const TEXT_FIELDS: [&str; 5] = [
    "method",
    "description",
    "paper_url",
    "code_url",
    "reference_model",
];

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
///
/// Participants read scores at display precision, live scores always and final scores
/// once the submission is final; organizers read full precision, the private split's
/// scores of every submission, the scores over the whole test set and the scoring time.
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
    /// Live scores: the metrics of EVALUATION.md section 4 over the public split.
    #[schema(value_type = Option<Object>)]
    pub live_scores: Option<Scores>,
    /// Final scores: the same over the private split, once the submission is final.
    #[schema(value_type = Option<Object>)]
    pub final_scores: Option<Scores>,
    /// Organizers only: the metrics over the whole test set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub full_scores: Option<Scores>,
    /// Marked final (it counts against the finals limit and enters the main board).
    #[serde(rename = "final")]
    pub is_final: bool,
    /// When it was marked final (RFC 3339).
    pub final_at: Option<String>,
    /// A final entry withdrawn from the main board (it still counts).
    pub withdrawn: bool,
    /// When it was uploaded (RFC 3339, to the second).
    pub created_at: String,
    /// When scoring finished (RFC 3339, to the second).
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
    /// The reference model behind a baseline.
    pub reference_model: Option<String>,
    /// Hidden from the board by an organizer.
    pub hidden: bool,
    /// The manifest version it was scored against.
    pub manifest_version: Option<String>,
    /// Organizers only: scoring time in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scoring_ms: Option<i64>,
    /// Organizers only: whether the predictions look like a probe of the labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_like: Option<bool>,
}

fn parse_scores(json: Option<&str>) -> Option<Scores> {
    json.and_then(|j| serde_json::from_str(j).ok())
}

impl SubmissionView {
    /// The submission as `viewer` may see it: the owner, or an organizer.
    pub fn for_viewer(s: Submission, viewer: &User) -> Self {
        let organizer = viewer.is_organizer();
        let shown = |scores: Option<Scores>| {
            if organizer {
                scores
            } else {
                scores.as_ref().map(disclosure::for_participant)
            }
        };
        let is_final = s.final_at.is_some();
        Self {
            id: s.id,
            live_scores: shown(parse_scores(s.public_scores_json.as_deref())),
            final_scores: shown(
                parse_scores(s.private_scores_json.as_deref()).filter(|_| organizer || is_final),
            ),
            full_scores: parse_scores(s.scores_json.as_deref()).filter(|_| organizer),
            is_final,
            final_at: s.final_at.map(clock::rfc3339),
            withdrawn: s.withdrawn_at.is_some(),
            status: s.status,
            error: s.error,
            details: s
                .details_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or_default(),
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
            reference_model: s.reference_model,
            hidden: s.hidden != 0,
            manifest_version: s.manifest_version,
            scoring_ms: s.scoring_ms.filter(|_| organizer),
            probe_like: organizer.then_some(s.probe_like != 0),
        }
    }
}

/// One of the caller's submissions, or the one 404 for missing and foreign ids alike.
pub async fn own_submission(
    state: &AppState,
    user: &User,
    id: &str,
) -> Result<Submission, AppError> {
    let number: i64 = id.parse().map_err(|_| intake::no_submission(id))?;
    submissions::find_submission(state.db.pool(), number)
        .await?
        .filter(|s| s.user_id == user.id || user.is_organizer())
        .ok_or_else(|| intake::no_submission(number))
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
    /// Organizers only: the reference model a baseline comes from (it is then entered
    /// as a final baseline).
    reference_model: Option<String>,
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
        (status = 408, description = "the upload sent nothing for the idle timeout and was cut off; nothing was stored", body = ErrorBody),
        (status = 413, description = "larger than the upload cap", body = ErrorBody),
        (status = 429, description = "daily quota used up; Retry-After says until when", body = ErrorBody),
        (status = 503, description = "queue full, or the database is not answering; see Retry-After", body = ErrorBody),
        (status = 507, description = "the server's storage is full: nothing was stored; see Retry-After", body = ErrorBody),
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
    Ok(Json(
        rows.into_iter()
            .map(|s| SubmissionView::for_viewer(s, &user))
            .collect(),
    ))
}

/// One submission: status, validation messages, scores.
#[utoipa::path(
    get,
    path = "/api/v1/submissions/{id}",
    params(("id" = i64, Path, description = "submission id")),
    responses(
        (status = 200, body = SubmissionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such submission of yours (the same answer for another participant's)", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "submissions"
)]
pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<SubmissionView>, AppError> {
    let submission = own_submission(&state, &user, &id).await?;
    Ok(Json(SubmissionView::for_viewer(submission, &user)))
}

/// Marks a scored submission final: it is scored on the private split and enters the
/// main board. At most the configured number per rolling 30 days (`GET /api/v1/me` says how
/// many are left and when the next one frees up); it cannot be undone.
#[utoipa::path(
    post,
    path = "/api/v1/submissions/{id}/final",
    params(("id" = i64, Path, description = "submission id")),
    responses(
        (status = 200, description = "now final; the view carries its final scores", body = SubmissionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such submission of yours", body = ErrorBody),
        (status = 409, description = "not scored yet, or already final", body = ErrorBody),
        (status = 429, description = "finals limit reached; Retry-After says until when", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "submissions"
)]
pub async fn mark_final(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<SubmissionView>, AppError> {
    let number = own_submission(&state, &user, &id).await?.id;
    intake::mark_final(&state, &user, number).await?;
    let submission = own_submission(&state, &user, &id).await?;
    Ok(Json(SubmissionView::for_viewer(submission, &user)))
}

/// Withdraws a final entry from the main board. It still counts against the finals limit.
#[utoipa::path(
    post,
    path = "/api/v1/submissions/{id}/withdraw",
    params(("id" = i64, Path, description = "submission id")),
    responses(
        (status = 200, body = SubmissionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such submission of yours", body = ErrorBody),
        (status = 409, description = "not final, or already withdrawn", body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "submissions"
)]
pub async fn withdraw(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<SubmissionView>, AppError> {
    let number = own_submission(&state, &user, &id).await?.id;
    intake::withdraw(&state, &user, number).await?;
    let submission = own_submission(&state, &user, &id).await?;
    Ok(Json(SubmissionView::for_viewer(submission, &user)))
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
