//! HTTP: the router, its middleware (tracing, security headers, the client's address and
//! scheme) and one module per area.

pub mod api;
pub mod assets;
pub mod auth;
pub mod client;
pub mod health;
pub mod limits;
pub mod pages;
pub mod server;
pub mod session;
pub mod upload;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::map_request_body::MapRequestBodyLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::TraceLayer;

use crate::error::AppError;
use crate::state::AppState;

/// The whole application's routes.
pub fn router(state: AppState) -> Router {
    let security_headers = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        // Pages carry CSRF tokens, the settings page a new API token shown once: no cache
        // may keep them. Static assets and the board set their own policy.
        (header::CACHE_CONTROL, "no-store"),
    ];
    let deadline = state.config.request_timeout();
    let mut router = Router::new()
        .merge(with_deadline(
            health::router().merge(assets::router()),
            deadline,
        ))
        .merge(pages::router(&state))
        .nest("/api/v1", api::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the CSRF middleware, whose token the error pages' forms carry.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::html_errors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::csrf_cookie,
        ))
        // Outside the CSRF middleware and the rate limits, which read the client it finds.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client::resolve_client,
        ));
    for (name, value) in security_headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::clone(&name),
            HeaderValue::from_static(value),
        ));
    }
    router
        // A request body that sends nothing for this long is cut off; a slow but steady
        // upload is never (its total time has no limit).
        .layer(MapRequestBodyLayer::new(Body::new))
        .layer(RequestBodyTimeoutLayer::new(
            state.config.body_idle_timeout(),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Gives every route of `router` a deadline: past it the request answers 503 with a
/// message. Uploads are left out (their bodies have the idle timeout instead), so that a
/// large upload over a slow link is not cut off.
pub(crate) fn with_deadline(router: Router<AppState>, timeout: Duration) -> Router<AppState> {
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(axum::middleware::map_response(explain_timeout))
}

/// `TimeoutLayer` answers with an empty body: say what happened.
async fn explain_timeout(response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        return AppError::TimedOut.into_response();
    }
    response
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

async fn not_found() -> AppError {
    AppError::NotFound("no such page or endpoint".to_owned())
}
