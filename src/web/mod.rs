//! HTTP: the router, its middleware (tracing, security headers, the client's address and
//! scheme) and one module per area.

pub mod api;
pub mod assets;
pub mod auth;
pub mod client;
pub mod health;
pub mod limits;
pub mod pages;
pub mod session;
pub mod upload;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;
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
    let mut router = Router::new()
        .merge(health::router())
        .merge(assets::router())
        .merge(pages::router(&state))
        .nest("/api/v1", api::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
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
    router.layer(TraceLayer::new_for_http()).with_state(state)
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

async fn not_found() -> AppError {
    AppError::NotFound("no such page or endpoint".to_owned())
}
