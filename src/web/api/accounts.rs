//! Organizers admit accounts over the API: list them by status, approve or refuse one
//! (sign-up in `approval` mode creates pending accounts, EVALUATION.md 5.4).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{self, Decision, DecisionError};
use crate::clock;
use crate::db::users::{self, Account, AccountStatus};
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use crate::web::auth::Organizer;

/// An account as organizers see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// Row id, for approving or refusing.
    pub id: i64,
    /// The user name.
    pub name: String,
    /// `participant` or `organizer`.
    pub role: String,
    /// `active`, `pending` or `refused`.
    pub status: AccountStatus,
    /// When the account was created (RFC 3339).
    pub created_at: String,
}

impl From<Account> for AccountView {
    fn from(account: Account) -> Self {
        Self {
            id: account.id,
            name: account.name,
            role: account.role.as_str().to_owned(),
            status: account.status,
            created_at: clock::rfc3339(account.created_at),
        }
    }
}

/// The query of the list.
#[derive(Debug, Deserialize)]
pub struct AccountsQuery {
    /// Only accounts with this status: `pending`, `active` or `refused` (default: all).
    pub status: Option<String>,
}

impl From<DecisionError> for AppError {
    fn from(err: DecisionError) -> Self {
        match err {
            DecisionError::NoSuchAccount(_) => AppError::NotFound(err.to_string()),
            DecisionError::AlreadyActive { .. } => AppError::bad_request(err.to_string()),
            DecisionError::Database(db) => db.into(),
        }
    }
}

/// Parses the `status` filter; an unknown value is refused with the accepted ones.
pub fn parse_status(text: Option<&str>) -> Result<Option<AccountStatus>, AppError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => AccountStatus::parse(text).map(Some).ok_or_else(|| {
            AppError::bad_request(format!(
                "unknown status {:?}: use pending, active or refused",
                text.escape_default().to_string()
            ))
        }),
    }
}

fn parse_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| {
        AppError::NotFound(format!("no account {:?}", id.escape_default().to_string()))
    })
}

/// Lists accounts, oldest first (`?status=pending`: those waiting for approval).
#[utoipa::path(
    get,
    path = "/api/v1/admin/accounts",
    params((
        "status" = Option<String>,
        Query,
        description = "only accounts with this status: pending, active or refused (default: all)"
    )),
    responses(
        (status = 200, body = [AccountView]),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "organizers"
)]
pub async fn list(
    State(state): State<AppState>,
    Organizer(_): Organizer,
    query: Result<Query<AccountsQuery>, QueryRejection>,
) -> Result<Json<Vec<AccountView>>, AppError> {
    let Query(query) = query.map_err(|e| AppError::BadRequest {
        message: "expected ?status=pending|active|refused".to_owned(),
        details: vec![e.body_text()],
    })?;
    let status = parse_status(query.status.as_deref())?;
    let accounts = users::list_accounts(state.db.pool(), status).await?;
    Ok(Json(accounts.into_iter().map(AccountView::from).collect()))
}

async fn decide(
    state: &AppState,
    organizer: &str,
    id: &str,
    decision: Decision,
) -> Result<Json<AccountView>, AppError> {
    let id = parse_id(id)?;
    let account = accounts::decide(&state.db, id, decision).await?;
    tracing::info!(
        organizer,
        account = account.name,
        ?decision,
        "account decided"
    );
    Ok(Json(account.into()))
}

/// Admits a pending (or earlier refused) account: it can log in and use tokens.
#[utoipa::path(
    post,
    path = "/api/v1/admin/accounts/{id}/approve",
    params(("id" = i64, Path, description = "account id")),
    responses(
        (status = 200, body = AccountView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "organizers"
)]
pub async fn approve(
    State(state): State<AppState>,
    Organizer(organizer): Organizer,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, AppError> {
    decide(&state, &organizer.name, &id, Decision::Approve).await
}

/// Refuses a pending account: it cannot log in; its log-in says so after the right password.
#[utoipa::path(
    post,
    path = "/api/v1/admin/accounts/{id}/refuse",
    params(("id" = i64, Path, description = "account id")),
    responses(
        (status = 200, body = AccountView),
        (status = 400, body = ErrorBody, description = "the account is active"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "organizers"
)]
pub async fn refuse(
    State(state): State<AppState>,
    Organizer(organizer): Organizer,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, AppError> {
    decide(&state, &organizer.name, &id, Decision::Refuse).await
}

#[cfg(test)]
mod tests {
    use super::parse_status;
    use crate::db::users::AccountStatus;

    #[test]
    fn the_status_filter_accepts_the_three_statuses_and_names_them_otherwise() {
        assert_eq!(
            parse_status(Some("pending")).unwrap(),
            Some(AccountStatus::Pending)
        );
        assert_eq!(parse_status(None).unwrap(), None);
        let err = parse_status(Some("waiting")).unwrap_err().to_string();
        assert!(err.contains("pending, active or refused"), "{err}");
    }
}
