//! Sign-up, log-in, log-out and the settings page with API tokens.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, PageError, render};
use crate::accounts::{hash_password, new_token, token_hash, verify_password};
use crate::clock;
use crate::db::sessions::find_password_hash;
use crate::db::tokens;
use crate::db::users::{self, Role};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::session::{self, CsrfToken, PageUser};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    heading: String,
    action: String,
    signup: bool,
    name: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Credentials {
    csrf: Option<String>,
    name: String,
    password: String,
}

fn login_page(csrf: &str, signup: bool, name: &str, error: Option<String>) -> LoginPage {
    LoginPage {
        nav: Nav::new(None, csrf),
        heading: if signup { "Sign up" } else { "Log in" }.to_owned(),
        action: if signup { "/signup" } else { "/login" }.to_owned(),
        signup,
        name: name.to_owned(),
        error,
    }
}

fn refused(status: StatusCode, page: &LoginPage) -> Response {
    match render(page) {
        Ok(html) => (status, html).into_response(),
        Err(err) => err.into_response(),
    }
}

pub(super) async fn signup_form(CsrfToken(csrf): CsrfToken) -> Result<Html<String>, AppError> {
    render(&login_page(&csrf, true, "", None))
}

pub(super) async fn login_form(CsrfToken(csrf): CsrfToken) -> Result<Html<String>, AppError> {
    render(&login_page(&csrf, false, "", None))
}

pub(super) async fn signup(
    State(state): State<AppState>,
    csrf: CsrfToken,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Result<Response, PageError> {
    let nav = Nav::new(None, &csrf.0);
    csrf.verify(form.csrf.as_deref())
        .map_err(|e| PageError::new(e, nav.clone()))?;
    let name = form.name.trim();
    let problem = if !users::valid_user_name(name) {
        Some(
            "A user name has 1 to 40 letters, digits, '_', '.' or '-', and starts with a letter or digit.",
        )
    } else if form.password.chars().count() < 8 {
        Some("A password has at least 8 characters.")
    } else if form.password.len() > 1024 {
        Some("A password has at most 1024 bytes.")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            &login_page(&csrf.0, true, name, Some(problem.to_owned())),
        ));
    }
    let password = form.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| {
            PageError::new(
                AppError::Internal(anyhow::anyhow!("hashing: {e}")),
                nav.clone(),
            )
        })?
        .map_err(|e| PageError::new(AppError::Internal(e), nav.clone()))?;
    let created = users::insert_user(
        state.db.pool(),
        name,
        Some(&hash),
        Role::Participant,
        clock::now_ms(),
    )
    .await;
    let user_id = match created {
        Ok(id) => id,
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            let page = login_page(
                &csrf.0,
                true,
                name,
                Some("That user name is taken.".to_owned()),
            );
            return Ok(refused(StatusCode::CONFLICT, &page));
        }
        Err(err) => return Err(PageError::new(err.into(), nav)),
    };
    let cookie = session::start_session(&state, user_id, session::is_https(&headers))
        .await
        .map_err(|e| PageError::new(e, nav))?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/submit")).into_response())
}

pub(super) async fn login(
    State(state): State<AppState>,
    csrf: CsrfToken,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Result<Response, PageError> {
    let nav = Nav::new(None, &csrf.0);
    csrf.verify(form.csrf.as_deref())
        .map_err(|e| PageError::new(e, nav.clone()))?;
    let name = form.name.trim().to_owned();
    let found = find_password_hash(state.db.pool(), &name)
        .await
        .map_err(|e| PageError::new(e.into(), nav.clone()))?;
    let password = form.password.clone();
    let user_id = tokio::task::spawn_blocking(move || match found {
        Some((id, Some(hash))) if verify_password(&password, &hash) => Some(id),
        _ => None,
    })
    .await
    .map_err(|e| {
        PageError::new(
            AppError::Internal(anyhow::anyhow!("verifying: {e}")),
            nav.clone(),
        )
    })?;
    let Some(user_id) = user_id else {
        let page = login_page(
            &csrf.0,
            false,
            &name,
            Some("Wrong user name or password.".to_owned()),
        );
        return Ok(refused(StatusCode::UNAUTHORIZED, &page));
    };
    let cookie = session::start_session(&state, user_id, session::is_https(&headers))
        .await
        .map_err(|e| PageError::new(e, nav))?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfOnly {
    csrf: Option<String>,
}

pub(super) async fn logout(
    State(state): State<AppState>,
    csrf: CsrfToken,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    let nav = Nav::new(None, &csrf.0);
    csrf.verify(form.csrf.as_deref())
        .map_err(|e| PageError::new(e, nav.clone()))?;
    let cookie = session::end_session(&state, &headers)
        .await
        .map_err(|e| PageError::new(e, nav))?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

struct TokenRow {
    id: i64,
    name: String,
    created_at: String,
    state: String,
    live: bool,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    nav: Nav,
    new_token: Option<String>,
    tokens: Vec<TokenRow>,
}

async fn settings_page(
    state: &AppState,
    nav: Nav,
    user_id: i64,
    new_token: Option<String>,
) -> Result<Html<String>, AppError> {
    let tokens = tokens::list_tokens(state.db.pool(), user_id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created_at: clock::rfc3339(t.created_at),
            state: t.revoked_at.map_or_else(
                || "active".to_owned(),
                |at| format!("revoked {}", clock::rfc3339(at)),
            ),
            live: t.revoked_at.is_none(),
        })
        .collect();
    render(&SettingsPage {
        nav,
        new_token,
        tokens,
    })
}

pub(super) async fn settings(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, AppError> {
    settings_page(&state, Nav::new(Some(&user), &csrf), user.id, None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct NewToken {
    csrf: Option<String>,
    name: String,
}

pub(super) async fn create_token(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    Form(form): Form<NewToken>,
) -> Result<Html<String>, PageError> {
    let nav = Nav::new(Some(&user), &csrf.0);
    let wrap = |e: AppError| PageError::new(e, nav.clone());
    csrf.verify(form.csrf.as_deref()).map_err(wrap)?;
    let name: String = form.name.trim().chars().take(60).collect();
    if name.is_empty() {
        return Err(wrap(AppError::bad_request("give the token a name")));
    }
    let token = new_token().map_err(|e| wrap(AppError::Internal(e)))?;
    tokens::insert_token(
        state.db.pool(),
        user.id,
        &name,
        &token_hash(&token),
        clock::now_ms(),
    )
    .await
    .map_err(|e| wrap(e.into()))?;
    settings_page(&state, nav.clone(), user.id, Some(token))
        .await
        .map_err(wrap)
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Redirect, PageError> {
    let nav = Nav::new(Some(&user), &csrf.0);
    csrf.verify(form.csrf.as_deref())
        .map_err(|e| PageError::new(e, nav.clone()))?;
    if !tokens::revoke_token(state.db.pool(), user.id, id, clock::now_ms())
        .await
        .map_err(|e| PageError::new(e.into(), nav.clone()))?
    {
        return Err(PageError::new(
            AppError::NotFound("no such token".to_owned()),
            nav,
        ));
    }
    Ok(Redirect::to("/settings"))
}
