//! The organizers' page of accounts (`/organizer/accounts`): approve or refuse those that
//! signed up in `approval` mode, and admit a refused one after all.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{Html, Redirect};

use super::organizer::{organizer, organizer_form};
use super::{CsrfForm, Nav, PagePath, render};
use crate::accounts::{self, Decision};
use crate::clock;
use crate::config::SignupMode;
use crate::db::users::{self, Account, AccountStatus};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::session::{CsrfToken, PageUser};

struct AccountRow {
    id: i64,
    name: String,
    created_at: String,
}

impl From<Account> for AccountRow {
    fn from(account: Account) -> Self {
        Self {
            id: account.id,
            name: account.name,
            created_at: clock::human(account.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    nav: Nav,
    mode: &'static str,
    mode_line: &'static str,
    pending: Vec<AccountRow>,
    refused: Vec<AccountRow>,
}

fn mode_line(mode: SignupMode) -> &'static str {
    match mode {
        SignupMode::Open => "new accounts can be used at once (--signup open).",
        SignupMode::Approval => {
            "new accounts wait here until an organizer approves them (--signup approval)."
        }
        SignupMode::Closed => {
            "nobody can sign up; create accounts with triageboard user add (--signup closed)."
        }
    }
}

async fn rows(state: &AppState, status: AccountStatus) -> Result<Vec<AccountRow>, AppError> {
    let accounts = users::list_accounts(state.db.pool(), Some(status)).await?;
    Ok(accounts.into_iter().map(AccountRow::from).collect())
}

pub(super) async fn list(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, AppError> {
    let nav = Nav::new(Some(&user), &csrf);
    organizer(&user)?;
    let pending = rows(&state, AccountStatus::Pending).await?;
    let refused = rows(&state, AccountStatus::Refused).await?;
    let mode = state.config.signup_mode();
    render(&AccountsPage {
        nav: nav.clone(),
        mode: mode.as_str(),
        mode_line: mode_line(mode),
        pending,
        refused,
    })
}

pub(super) async fn decide(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    PagePath((id, action)): PagePath<(i64, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, AppError> {
    organizer_form(&user, &csrf, form.csrf.as_deref())?;
    let decision = match action.as_str() {
        "approve" => Decision::Approve,
        "refuse" => Decision::Refuse,
        _ => return Err(AppError::NotFound(format!("no action {action:?}"))),
    };
    let account = accounts::decide(&state.db, id, decision).await?;
    tracing::info!(
        organizer = user.name,
        account = account.name,
        ?decision,
        "account decided"
    );
    Ok(Redirect::to("/organizer/accounts"))
}
