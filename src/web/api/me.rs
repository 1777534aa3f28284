//! `GET /api/v1/me`: who the token belongs to and when the next submission is allowed.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock;
use crate::error::{AppError, ErrorBody};
use crate::intake;
use crate::state::AppState;
use crate::web::auth::CurrentUser;

/// The caller and their quota.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// User name.
    pub name: String,
    /// `participant` or `organizer`.
    pub role: String,
    /// Submissions allowed per UTC day (`null`: no limit).
    pub daily_quota: Option<u32>,
    /// Submissions today that count (failed ones do not).
    pub used_today: i64,
    /// Submissions left today (`null`: no limit).
    pub remaining_today: Option<i64>,
    /// When the next submission is allowed (RFC 3339; now when some are left).
    pub next_submission_allowed_at: String,
    /// Submissions that may be marked final per rolling 30 days (`null`: no limit).
    pub finals_per_30_days: Option<u32>,
    /// Submissions marked final in the last 30 days.
    pub finals_used: i64,
    /// Finals left now (`null`: no limit).
    pub finals_remaining: Option<i64>,
    /// When the next final is allowed (RFC 3339; now when some are left).
    pub next_final_allowed_at: String,
}

/// The caller's identity, daily quota and finals limit.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "account"
)]
pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Me>, AppError> {
    let quota = intake::quota(&state, &user).await?;
    let finals = intake::finals_quota(&state, &user).await?;
    Ok(Json(Me {
        finals_per_30_days: finals.limit,
        finals_used: finals.used,
        finals_remaining: finals.remaining(),
        next_final_allowed_at: clock::rfc3339(finals.next_allowed_at),
        name: user.name.clone(),
        role: user.role.as_str().to_owned(),
        daily_quota: quota.limit,
        used_today: quota.used,
        remaining_today: quota.remaining(),
        next_submission_allowed_at: clock::rfc3339(quota.next_allowed_at),
    }))
}
