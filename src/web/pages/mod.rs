//! The HTML pages (askama templates under `templates/`): the board with its forest plot,
//! sign-up and log-in, upload, submission and settings pages, the organizer's list and
//! accounts.
//! Every form carries the CSRF token of [`crate::web::session`]; every page works without
//! JavaScript except live status updates and drag and drop.

mod account;
mod accounts_admin;
mod board;
mod entry;
mod info;
mod models;
mod organizer;
pub mod plot;
mod submit;
mod testset;

use askama::Template;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use scorer::{MetricKey, Scores};

use crate::db::users::User;
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use crate::web::limits;
use crate::web::session::{self, CsrfToken};

/// The routes of the pages.
pub fn router(state: &AppState) -> Router<AppState> {
    let body_limit = usize::try_from(state.config.max_upload_bytes.saturating_add(64 * 1024))
        .unwrap_or(usize::MAX);
    let uploads = Router::new().route(
        "/submit",
        get(submit::form)
            .post(submit::upload)
            .layer(axum::extract::DefaultBodyLimit::max(body_limit)),
    );
    let rest = Router::new()
        .route("/", get(board::show_final))
        .route("/live", get(board::show_live))
        .route("/plot/{file}", get(board::plot))
        .route("/entries/{id}", get(entry::show))
        .route("/about", get(info::about))
        .route("/api", get(info::api))
        .route(
            "/signup",
            get(account::signup_form)
                .post(account::signup)
                .layer(limits::per_address(
                    limits::SIGNUP_BURST,
                    limits::SIGNUP_PERIOD,
                )),
        )
        .route(
            "/login",
            get(account::login_form)
                .post(account::login)
                .layer(limits::per_address(
                    limits::LOGIN_BURST,
                    limits::LOGIN_PERIOD,
                )),
        )
        .route("/logout", post(account::logout))
        .route("/settings", get(account::settings))
        .route("/settings/tokens", post(account::create_token))
        .route("/settings/password", post(account::change_password))
        .route("/settings/tokens/{id}/revoke", post(account::revoke_token))
        .route("/submissions/{id}", get(submit::show))
        .route("/submissions/{id}/status.json", get(submit::status))
        .route("/submissions/{id}/final", post(submit::mark_final))
        .route("/submissions/{id}/withdraw", post(submit::withdraw))
        .route(
            "/submissions/{id}/plots/{file}",
            get(submit::organizer_plot),
        )
        .route("/my", get(submit::mine))
        .route("/organizer", get(organizer::list))
        .route("/organizer/accounts", get(accounts_admin::list))
        .route(
            "/organizer/accounts/{id}/{action}",
            post(accounts_admin::decide),
        )
        .route("/organizer/rescore-all", post(organizer::rescore_all))
        .route(
            "/organizer/reference-baselines",
            post(organizer::rerun_baselines),
        )
        .route("/organizer/reference/{model}", get(organizer::projections))
        .route(
            "/organizer/reference/{model}/{file}",
            get(organizer::projection_png),
        )
        .route("/models", get(models::index))
        .route("/models/{name}", get(models::card))
        .route("/organizer/submissions/{id}/{action}", post(organizer::act))
        .route("/testset/images.zip", get(testset::images_zip))
        .route(
            "/testset/sample_submission.csv",
            get(testset::sample_submission),
        );
    crate::web::with_deadline(rest, state.config.request_timeout())
        .merge(uploads)
        .layer(Extension(limits::AccountLimiter::new()))
}

/// What the layout needs: who is signed in and the CSRF token of the forms.
#[derive(Clone, Debug, Default)]
pub struct Nav {
    /// The signed-in user's name.
    pub user: Option<String>,
    /// Whether they are an organizer.
    pub organizer: bool,
    /// The CSRF token.
    pub csrf: String,
}

impl Nav {
    /// The layout's data for a user and token.
    pub fn new(user: Option<&User>, csrf: &str) -> Self {
        Self {
            user: user.map(|u| u.name.clone()),
            organizer: user.is_some_and(User::is_organizer),
            csrf: csrf.to_owned(),
        }
    }
}

/// A form that carries only its CSRF token (buttons that post an action).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    /// The token of [`crate::web::session::CsrfToken`].
    pub csrf: Option<String>,
}

/// Renders a template as an HTML answer.
pub fn render<T: Template>(template: &T) -> Result<Html<String>, AppError> {
    template
        .render()
        .map(Html)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering a page: {e}")))
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    nav: Nav,
    heading: String,
    lines: Vec<String>,
}

/// Middleware: an error answered on a page route is shown as a page, with the layout and
/// the visitor's navigation, whichever handler, extractor or fallback answered it. Its text
/// is the one the API gives ([`ErrorBody`]); an error axum answers by itself (a form it
/// cannot read) is shown with axum's text. `/api/`, `/healthz` and the pages' `.json`
/// answers, which scripts read, keep their JSON.
pub async fn html_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") || path == "/healthz" || path.ends_with(".json") {
        return next.run(request).await;
    }
    let cookies = request.headers().clone();
    let csrf = request
        .extensions()
        .get::<CsrfToken>()
        .map(|token| token.0.clone())
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status();
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let (heading, lines) = match parts.extensions.remove::<ErrorBody>() {
        // The cause is in the log; the page says no more.
        Some(_) if status == StatusCode::INTERNAL_SERVER_ERROR => (
            "Something went wrong".to_owned(),
            vec!["The error was logged for the organizers.".to_owned()],
        ),
        Some(ErrorBody { error, details }) => (sentence(&error), details),
        None => {
            let text = axum::body::to_bytes(body, 4096)
                .await
                .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
                .unwrap_or_default();
            let heading = status.canonical_reason().unwrap_or("Error").to_owned();
            (
                heading,
                (!text.is_empty())
                    .then(|| sentence(&text))
                    .into_iter()
                    .collect(),
            )
        }
    };
    // A failed look-up shows the page as to a visitor: the error is already being shown.
    let user = session::signed_in(&state, &cookies).await.ok().flatten();
    let mut page = message(status, Nav::new(user.as_ref(), &csrf), &heading, lines);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().append(name, value.clone());
        }
    }
    page
}

/// A path parameter of a page; one that does not parse (`/organizer/accounts/abc/approve`)
/// is a page that does not exist, not a request to explain.
#[derive(Debug)]
pub struct PagePath<T>(pub T);

impl<T, S> FromRequestParts<S> for PagePath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PagePath(value)),
            Err(_) => Err(AppError::NotFound(format!(
                "there is no page {}",
                parts.uri.path()
            ))),
        }
    }
}

/// A message as a page shows it, as a sentence: its first letter upper case. The API keeps
/// its messages as they are (scripts may match them).
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A page with a heading and a few lines.
pub fn message(status: StatusCode, nav: Nav, heading: &str, lines: Vec<String>) -> Response {
    let page = MessagePage {
        nav,
        heading: heading.to_owned(),
        lines,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, heading.to_owned()).into_response(),
    }
}

/// `1.2 MB` for a size in bytes (decimal units, as browsers show downloads).
pub fn fmt_bytes(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `0.951` for a metric, `—` when undefined.
pub fn fmt_value(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.3}"))
}

/// `[0.910, 0.980]` for an interval (brackets, since bounds may be negative), empty when
/// undefined.
pub fn fmt_ci(ci: Option<[f64; 2]>) -> String {
    ci.map_or_else(String::new, |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"))
}

/// A metric's value and interval as two cells' text (`—` and nothing when undefined or
/// absent). The scores given are already at display precision where a participant reads.
pub fn metric_cells(scores: &Scores, key: &MetricKey) -> (String, String) {
    let metric = scores.metric(key).copied().unwrap_or_default();
    (fmt_value(metric.value), fmt_ci(metric.ci))
}

#[cfg(test)]
mod tests {
    use super::{fmt_bytes, fmt_ci, fmt_value};

    #[test]
    fn sizes_read_in_decimal_units() {
        assert_eq!(fmt_bytes(0), "0 bytes");
        assert_eq!(fmt_bytes(999), "999 bytes");
        assert_eq!(fmt_bytes(1000), "1.0 kB");
        assert_eq!(fmt_bytes(1_234_567), "1.2 MB");
        assert_eq!(fmt_bytes(999_960), "1.0 MB");
        assert_eq!(fmt_bytes(2_000_000_000_000_000), "2000.0 TB");
    }

    #[test]
    fn undefined_metrics_show_a_dash_never_a_number() {
        assert_eq!(fmt_value(None), "—");
        assert_eq!(fmt_value(Some(0.95123)), "0.951");
        assert_eq!(fmt_ci(None), "");
        assert_eq!(fmt_ci(Some([-0.5, 1.0])), "[-0.500, 1.000]");
    }
}
