//! Browser sessions and CSRF protection.
//!
//! A session is a random id in an HttpOnly, SameSite=Lax cookie; the database keeps its
//! sha256. Every form carries a CSRF token. A request with a session cookie has the
//! session's own token, derived from the session id under the service key, so that a
//! token taken from one session is worthless in another. A request without one (the
//! sign-up and log-in forms) has a double-submit token that must equal the `tb_csrf`
//! cookie, set by [`csrf_cookie`] on the first request: a cross-site page can neither read
//! the cookie nor, with SameSite=Strict, make the browser send it. Log-in starts a new
//! session, so the page after it carries that session's token. Cookies are marked Secure
//! when the request came over https through a trusted proxy ([`crate::web::client`]).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::accounts::token_hash;
use crate::clock;
use crate::db::sessions;
use crate::db::users::User;
use crate::error::AppError;
use crate::service_key::ServiceKey;
use crate::state::AppState;
use crate::web::client::Client;
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

/// The session id of the request, if it carries a session cookie.
fn session_id(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE).filter(|v| !v.is_empty())
}

/// Length of a CSRF token in hex digits (128 bits).
const CSRF_HEX: usize = 32;

/// The CSRF token of a session: the service key's HMAC of its id, in hex.
fn session_csrf(key: &ServiceKey, session_id: &str) -> String {
    let mut token = crate::accounts::hex(&key.derive("csrf", session_id.as_bytes()));
    token.truncate(CSRF_HEX);
    token
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

/// Middleware: hands handlers the request's CSRF token: the session's when it carries a
/// session cookie, else the double-submit cookie's, set here when the browser has none.
pub async fn csrf_cookie(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(id) = session_id(request.headers()) {
        let token = session_csrf(&state.key, &id);
        request.extensions_mut().insert(CsrfToken(token));
        return next.run(request).await;
    }
    let existing = cookie(request.headers(), CSRF_COOKIE).filter(|v| v.len() == CSRF_HEX);
    let secure = request
        .extensions()
        .get::<Client>()
        .is_some_and(|client| client.https);
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
            Some(value) if !value.is_empty() && same_bytes(value, &self.0) => Ok(()),
            _ => Err(AppError::Forbidden(
                "the form has expired or did not come from this site; reload the page and try again".to_owned(),
            )),
        }
    }
}

/// Compares two tokens in time that depends on their length only.
fn same_bytes(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
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
        Ok(MaybeUser(signed_in(state, &parts.headers).await?))
    }
}

/// The user whose session cookie `headers` carry, if any.
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, AppError> {
    let Some(id) = session_id(headers) else {
        return Ok(None);
    };
    Ok(sessions::find_user_by_session(state.db.pool(), &token_hash(&id), clock::now_ms()).await?)
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

/// The stored hash of the request's session, if it carries a session cookie.
pub fn session_hash(headers: &HeaderMap) -> Option<String> {
    session_id(headers).map(|id| token_hash(&id))
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
pub async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    secure: bool,
) -> Result<HeaderValue, AppError> {
    if let Some(id) = session_id(headers) {
        sessions::delete_session(state.db.pool(), &token_hash(&id)).await?;
    }
    Ok(set_cookie(SESSION_COOKIE, "", 0, "Lax", secure))
}

#[cfg(test)]
mod tests {
    use super::{CSRF_HEX, cookie, session_csrf};
    use crate::service_key::ServiceKey;
    use axum::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn a_session_token_belongs_to_its_session_and_to_the_service_key() {
        let key = ServiceKey::from_bytes([7; 32]);
        let token = session_csrf(&key, "session-a");
        assert_eq!(token.len(), CSRF_HEX);
        assert_eq!(token, session_csrf(&key, "session-a"));
        assert_ne!(token, session_csrf(&key, "session-b"));
        assert_ne!(
            token,
            session_csrf(&ServiceKey::from_bytes([8; 32]), "session-a")
        );
    }

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
