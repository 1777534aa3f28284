//! The REST API (v1), for CI scripts: submissions, validation, the board, the caller's
//! quota, organizer actions (submissions and accounts), and its OpenAPI document.

pub mod accounts;
pub mod admin;
pub mod leaderboard;
pub mod me;
pub mod openapi;
pub mod submissions;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::state::AppState;

/// Room for the multipart framing and text fields beyond the file's size cap.
const FORM_OVERHEAD: u64 = 64 * 1024;

/// The routes under `/api/v1`.
pub fn router(state: &AppState) -> Router<AppState> {
    let body_limit = usize::try_from(state.config.max_upload_bytes.saturating_add(FORM_OVERHEAD))
        .unwrap_or(usize::MAX);
    let uploads = Router::new()
        .route(
            "/submissions",
            post(submissions::create)
                .get(submissions::list_mine)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route(
            "/validate",
            post(submissions::validate).layer(DefaultBodyLimit::max(body_limit)),
        );
    let rest = Router::new()
        .route("/submissions/{id}", get(submissions::show))
        .route("/submissions/{id}/final", post(submissions::mark_final))
        .route("/submissions/{id}/withdraw", post(submissions::withdraw))
        .route("/leaderboard", get(leaderboard::show))
        .route("/me", get(me::show))
        .route("/openapi.json", get(openapi::document))
        .route(
            "/admin/submissions/{id}/baseline",
            post(admin::set_baseline),
        )
        .route("/admin/submissions/{id}/hidden", post(admin::set_hidden))
        .route("/admin/submissions/{id}/rescore", post(admin::rescore))
        .route("/admin/accounts", get(accounts::list))
        .route("/admin/accounts/{id}/approve", post(accounts::approve))
        .route("/admin/accounts/{id}/refuse", post(accounts::refuse));
    super::with_deadline(rest, state.config.request_timeout()).merge(uploads)
}
