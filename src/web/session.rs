//! Browser sessions and CSRF protection.
//!
//! A session is a random id in an HttpOnly, SameSite=Lax cookie; the database keeps its
//! sha256. Every form carries a CSRF token that must equal the `tb_csrf` cookie (a
//! double-submit token, set by [`csrf_cookie`] on the first request): a cross-site page can
//! neither read the cookie nor, with SameSite=Strict, make the browser send it. Cookies
//! are marked Secure when the request came over https (directly or via a proxy's
//! `X-Forwarded-Proto`).

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::accounts::token_hash;
use crate::clock;
use crate::db::sessions;
use crate::db::users::User;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::upload::random_name;

/// The session cookie.
pub const SESSION_COOKIE: &str = "tb_session";
/// The CSRF cookie.
pub const CSRF_COOKIE: &str = "tb_csrf";
/// How long a session lasts.
pub const SESSION_DAYS: i64 = 30;

/// The value of a cookie in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// True when the request came over https.
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_s: i64,
    same_site: &str,
    secure: bool,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age_s}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CSRF token of this request (the cookie's, or a new one the response will set).
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// Middleware: makes sure the browser holds a CSRF cookie and hands the token to handlers.
pub async fn csrf_cookie(mut request: Request, next: Next) -> Response {
    let existing = cookie(request.headers(), CSRF_COOKIE).filter(|v| v.len() == 32);
    let secure = is_https(request.headers());
    let token = existing.clone().unwrap_or_else(random_name);
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if existing.is_none() {
        let value = set_cookie(CSRF_COOKIE, &token, 365 * 86_400, "Strict", secure);
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CsrfToken>().cloned().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("the CSRF middleware is not installed"))
        })
    }
}

impl CsrfToken {
    /// Checks a submitted form's token.
    pub fn verify(&self, submitted: Option<&str>) -> Result<(), AppError> {
        match submitted {
            Some(value) if !value.is_empty() && value == self.0 => Ok(()),
            _ => Err(AppError::Forbidden(
                "the form has expired or did not come from this site; reload the page and try again".to_owned(),
            )),
        }
    }
}

/// The signed-in user of a page, if any.
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<User>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(MaybeUser(None));
        };
        let user =
            sessions::find_user_by_session(state.db.pool(), &token_hash(&id), clock::now_ms())
                .await?;
        Ok(MaybeUser(user))
    }
}

/// A signed-in user; anonymous visitors are sent to the log-in page.
#[derive(Clone, Debug)]
pub struct PageUser(pub User);

/// Why a page needs a signed-in user.
#[derive(Debug)]
pub enum PageAuthRejection {
    /// Not signed in: redirect to log in.
    SignIn,
    /// The lookup failed.
    Error(AppError),
}

impl IntoResponse for PageAuthRejection {
    fn into_response(self) -> Response {
        match self {
            PageAuthRejection::SignIn => Redirect::to("/login").into_response(),
            PageAuthRejection::Error(err) => err.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = PageAuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match MaybeUser::from_request_parts(parts, state).await {
            Ok(MaybeUser(Some(user))) => Ok(PageUser(user)),
            Ok(MaybeUser(None)) => Err(PageAuthRejection::SignIn),
            Err(err) => Err(PageAuthRejection::Error(err)),
        }
    }
}

/// Starts a session for a user; returns the cookie to set.
pub async fn start_session(
    state: &AppState,
    user_id: i64,
    secure: bool,
) -> Result<HeaderValue, AppError> {
    let id = random_name();
    let now = clock::now_ms();
    sessions::insert_session(
        state.db.pool(),
        &token_hash(&id),
        user_id,
        now,
        now + SESSION_DAYS * clock::DAY_MS,
    )
    .await?;
    Ok(set_cookie(
        SESSION_COOKIE,
        &id,
        SESSION_DAYS * 86_400,
        "Lax",
        secure,
    ))
}

/// Ends the request's session; returns the cookie that clears it.
pub async fn end_session(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, AppError> {
    if let Some(id) = cookie(headers, SESSION_COOKIE) {
        sessions::delete_session(state.db.pool(), &token_hash(&id)).await?;
    }
    Ok(set_cookie(SESSION_COOKIE, "", 0, "Lax", is_https(headers)))
}

#[cfg(test)]
mod tests {
    use super::cookie;
    use axum::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tb_csrf=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, "tb_csrf").as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
