//! Sign-up (open, awaiting approval, or closed), log-in, log-out and the settings page with
//! API tokens.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::{CsrfForm, Nav, PagePath, message, render};
use crate::accounts::{LoginOutcome, check_login, hash_password, new_token, token_hash};
use crate::clock;
use crate::config::SignupMode;
use crate::db::tokens;
use crate::db::users::{self, AccountStatus, Role};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::client::Client;
use crate::web::limits::AccountLimiter;
use crate::web::session::{self, CsrfToken, PageUser};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    heading: String,
    action: String,
    signup: bool,
    /// False when sign-up is closed: the page explains instead.
    form: bool,
    notice: Option<String>,
    name: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Credentials {
    csrf: Option<String>,
    name: String,
    password: String,
}

/// What the sign-up page says in each mode, above its form (or instead of it).
fn signup_notice(mode: SignupMode) -> Option<String> {
    match mode {
        SignupMode::Open => None,
        SignupMode::Approval => Some(
            "New accounts wait for an organizer's approval: you can log in once an organizer has approved yours."
                .to_owned(),
        ),
        SignupMode::Closed => Some(
            "Accounts on this board are created by its organizers (triageboard user add NAME). Ask them for one, then log in."
                .to_owned(),
        ),
    }
}

fn signup_page(csrf: &str, mode: SignupMode, name: &str, error: Option<String>) -> LoginPage {
    LoginPage {
        nav: Nav::new(None, csrf),
        heading: "Sign up".to_owned(),
        action: "/signup".to_owned(),
        signup: true,
        form: mode != SignupMode::Closed,
        notice: signup_notice(mode),
        name: name.to_owned(),
        error,
    }
}

fn login_page(csrf: &str, name: &str, error: Option<String>) -> LoginPage {
    LoginPage {
        nav: Nav::new(None, csrf),
        heading: "Log in".to_owned(),
        action: "/login".to_owned(),
        signup: false,
        form: true,
        notice: None,
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

pub(super) async fn signup_form(
    State(state): State<AppState>,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, AppError> {
    render(&signup_page(&csrf, state.config.signup_mode(), "", None))
}

pub(super) async fn login_form(CsrfToken(csrf): CsrfToken) -> Result<Html<String>, AppError> {
    render(&login_page(&csrf, "", None))
}

/// What is wrong with a new account's name or password, if anything.
fn credentials_problem(name: &str, password: &str) -> Option<&'static str> {
    if !users::valid_user_name(name) {
        Some(
            "A user name has 1 to 40 letters, digits, '_', '.' or '-', and starts with a letter or digit.",
        )
    } else if users::RESERVED_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
    {
        // The service enters its own accounts under these names; a participant who took
        // one first would own the reference baselines.
        Some("That user name is reserved for the service; choose another.")
    } else {
        password_problem(password)
    }
}

/// What is wrong with a new password, if anything.
fn password_problem(password: &str) -> Option<&'static str> {
    if password.chars().count() < 8 {
        Some("A password has at least 8 characters.")
    } else if password.len() > 1024 {
        Some("A password has at most 1024 bytes.")
    } else {
        None
    }
}

pub(super) async fn signup(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<AccountLimiter>>,
    csrf: CsrfToken,
    client: Client,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    let nav = Nav::new(None, &csrf.0);
    csrf.verify(form.csrf.as_deref())?;
    let mode = state.config.signup_mode();
    let name = form.name.trim();
    if mode == SignupMode::Closed {
        return Ok(refused(
            StatusCode::FORBIDDEN,
            &signup_page(&csrf.0, mode, name, None),
        ));
    }
    if let Some(problem) = credentials_problem(name, &form.password) {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            &signup_page(&csrf.0, mode, name, Some(problem.to_owned())),
        ));
    }
    if let Err(limited) = limiter.check(name) {
        return Ok(limited.into_response());
    }
    let password = form.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing: {e}")))?
        .map_err(AppError::Internal)?;
    let status = match mode {
        SignupMode::Open => AccountStatus::Active,
        SignupMode::Approval | SignupMode::Closed => AccountStatus::Pending,
    };
    let created = users::insert_user(
        state.db.pool(),
        name,
        Some(&hash),
        Role::Participant,
        status,
        clock::now_ms(),
    )
    .await;
    let user_id = match created {
        Ok(id) => id,
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            let page = signup_page(
                &csrf.0,
                mode,
                name,
                Some("That user name is taken.".to_owned()),
            );
            return Ok(refused(StatusCode::CONFLICT, &page));
        }
        Err(err) => return Err(err.into()),
    };
    if status == AccountStatus::Pending {
        tracing::info!(user = name, "an account waits for approval");
        return Ok(message(
            StatusCode::ACCEPTED,
            nav.clone(),
            "Your account waits for approval",
            vec![
                format!("An organizer must approve the account {name} before you can log in."),
                "Until then, logging in says that the account is waiting.".to_owned(),
            ],
        ));
    }
    let cookie = session::start_session(&state, user_id, client.https).await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/submit")).into_response())
}

pub(super) async fn login(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<AccountLimiter>>,
    csrf: CsrfToken,
    client: Client,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    csrf.verify(form.csrf.as_deref())?;
    let name = form.name.trim();
    if let Err(limited) = limiter.check(name) {
        return Ok(limited.into_response());
    }
    let outcome = check_login(&state.db, name, &form.password)
        .await
        .map_err(AppError::Internal)?;
    // The account's status is told only to whoever gave its password.
    let (status, error) = match outcome {
        LoginOutcome::Active(user_id) => {
            let cookie = session::start_session(&state, user_id, client.https).await?;
            return Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response());
        }
        LoginOutcome::Pending => (
            StatusCode::FORBIDDEN,
            "The password is right, but an organizer has not approved this account yet. Log in once they have.",
        ),
        LoginOutcome::Refused => (
            StatusCode::FORBIDDEN,
            "The password is right, but an organizer refused this account. Ask the organizers if this is a mistake.",
        ),
        LoginOutcome::Wrong => (StatusCode::UNAUTHORIZED, "Wrong user name or password."),
    };
    Ok(refused(
        status,
        &login_page(&csrf.0, name, Some(error.to_owned())),
    ))
}

pub(super) async fn logout(
    State(state): State<AppState>,
    csrf: CsrfToken,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    csrf.verify(form.csrf.as_deref())?;
    let cookie = session::end_session(&state, &headers, client.https).await?;
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
    /// What the password form says: that the password changed, or what to fix.
    password: Option<PasswordNote>,
}

/// The line above the password form after a try.
enum PasswordNote {
    Changed,
    Problem(String),
}

async fn settings_page(
    state: &AppState,
    nav: Nav,
    user_id: i64,
    new_token: Option<String>,
    password: Option<PasswordNote>,
) -> Result<Html<String>, AppError> {
    let tokens = tokens::list_tokens(state.db.pool(), user_id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created_at: clock::human(t.created_at),
            state: t.revoked_at.map_or_else(
                || "active".to_owned(),
                |at| format!("revoked {}", clock::human(at)),
            ),
            live: t.revoked_at.is_none(),
        })
        .collect();
    render(&SettingsPage {
        nav,
        new_token,
        tokens,
        password,
    })
}

/// The cookie that carries a token just created from its POST to the settings page that
/// shows it once (post, redirect, get: a reload does not create another token).
const NEW_TOKEN_COOKIE: &str = "tb_new_token";

pub(super) async fn settings(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response, AppError> {
    let fresh = session::cookie(&headers, NEW_TOKEN_COOKIE).filter(|t| t.starts_with("tb_"));
    let changed = (uri.query() == Some("password=changed")).then_some(PasswordNote::Changed);
    let nav = Nav::new(Some(&user), &csrf);
    let page = settings_page(&state, nav, user.id, fresh.clone(), changed).await?;
    if fresh.is_none() {
        return Ok(page.into_response());
    }
    // Shown once: the cookie goes with this page.
    let clear = session::set_cookie(NEW_TOKEN_COOKIE, "", 0, "Strict", client.https);
    Ok(([(header::SET_COOKIE, clear)], page).into_response())
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
    Extension(client): Extension<Client>,
    Form(form): Form<NewToken>,
) -> Result<Response, AppError> {
    csrf.verify(form.csrf.as_deref())?;
    let name: String = form.name.trim().chars().take(60).collect();
    if name.is_empty() {
        return Err(AppError::bad_request("give the token a name"));
    }
    let token = new_token().map_err(AppError::Internal)?;
    tokens::insert_token(
        state.db.pool(),
        user.id,
        &name,
        &token_hash(&token),
        clock::now_ms(),
    )
    .await?;
    // The token rides to the settings page in a short-lived cookie, HttpOnly and
    // SameSite=Strict, which that page clears as it shows the token.
    let carry = session::set_cookie(NEW_TOKEN_COOKIE, &token, 120, "Strict", client.https);
    Ok(([(header::SET_COOKIE, carry)], Redirect::to("/settings")).into_response())
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    PagePath(id): PagePath<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, AppError> {
    csrf.verify(form.csrf.as_deref())?;
    if !tokens::revoke_token(state.db.pool(), user.id, id, clock::now_ms()).await? {
        return Err(AppError::NotFound("no such token".to_owned()));
    }
    Ok(Redirect::to("/settings"))
}

#[derive(Debug, Deserialize)]
pub(super) struct PasswordChange {
    csrf: Option<String>,
    current: String,
    new: String,
    repeat: String,
}

/// `POST /settings/password`: changes the password given the current one, logs the user's
/// other sessions out and goes back to the settings page. Tries count against the same
/// per-account limit as log-ins, so a stolen session cannot guess the password faster.
pub(super) async fn change_password(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<AccountLimiter>>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    headers: HeaderMap,
    Form(form): Form<PasswordChange>,
) -> Result<Response, AppError> {
    csrf.verify(form.csrf.as_deref())?;
    let problem = if form.new != form.repeat {
        Some("The two new passwords differ; type the same one twice.")
    } else {
        password_problem(&form.new)
    };
    // Only a try that checks the current password counts against the limit.
    if problem.is_none()
        && let Err(limited) = limiter.check(&user.name)
    {
        return Ok(limited.into_response());
    }
    let problem = match problem {
        Some(problem) => Some((StatusCode::BAD_REQUEST, problem)),
        None if !crate::accounts::change_password(
            &state.db,
            &user.name,
            &form.current,
            &form.new,
        )
        .await? =>
        {
            Some((
                StatusCode::UNAUTHORIZED,
                "The current password is wrong; nothing was changed.",
            ))
        }
        None => None,
    };
    if let Some((status, problem)) = problem {
        let note = PasswordNote::Problem(problem.to_owned());
        let nav = Nav::new(Some(&user), &csrf.0);
        let page = settings_page(&state, nav, user.id, None, Some(note)).await?;
        return Ok((status, page).into_response());
    }
    if let Some(keep) = session::session_hash(&headers) {
        crate::db::sessions::delete_other_sessions(state.db.pool(), user.id, &keep).await?;
    }
    Ok(Redirect::to("/settings?password=changed").into_response())
}
