//! Bearer-token authentication as extractors: [`CurrentUser`] for any signed-in user,
//! [`Organizer`] for organizers only.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::accounts::token_hash;
use crate::db::tokens;
use crate::db::users::User;
use crate::error::AppError;
use crate::state::AppState;

/// The user whose `Authorization: Bearer <token>` came with the request.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            AppError::Unauthorized(
                "an API token is required: send `Authorization: Bearer <token>`".to_owned(),
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "the Authorization header must be `Bearer <token>`".to_owned(),
                )
            })?;
        let user = tokens::find_user_by_token_hash(state.db.pool(), &token_hash(token))
            .await?
            .ok_or_else(|| {
                AppError::Unauthorized("the API token is unknown or revoked".to_owned())
            })?;
        Ok(CurrentUser(user))
    }
}

/// An organizer; other users get 403.
#[derive(Clone, Debug)]
pub struct Organizer(pub User);

impl FromRequestParts<AppState> for Organizer {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        if user.is_organizer() {
            Ok(Organizer(user))
        } else {
            Err(AppError::Forbidden(
                "this needs an organizer's token".to_owned(),
            ))
        }
    }
}
