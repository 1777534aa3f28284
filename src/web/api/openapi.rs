//! The OpenAPI document of API v1 at `/api/v1/openapi.json`, generated from the handlers'
//! annotations so that it cannot drift from the code.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{accounts, admin, leaderboard, me, submissions};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "TriageBoard API",
        version = "1",
        description = "Submit predictions for the hidden CT test set, poll their scores, read the board. Scores follow EVALUATION.md section 4 at display precision (3 decimals): live scores over the public split for every submission, final scores over the private split for submissions marked final. Nothing per-study is ever returned."
    ),
    paths(
        submissions::create,
        submissions::list_mine,
        submissions::show,
        submissions::mark_final,
        submissions::withdraw,
        submissions::validate,
        leaderboard::show,
        me::show,
        admin::set_baseline,
        admin::set_hidden,
        admin::rescore,
        accounts::list,
        accounts::approve,
        accounts::refuse,
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::leaderboard::Board,
        crate::leaderboard::Row,
        crate::leaderboard::BoardKind,
        submissions::Accepted,
        submissions::SubmissionView,
        submissions::UploadForm,
        submissions::Valid,
        me::Me,
        admin::Flag,
        accounts::AccountView,
        crate::db::users::AccountStatus,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Serves the document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
