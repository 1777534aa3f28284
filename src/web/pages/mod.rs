//! The HTML pages (askama templates under `templates/`): the board with its forest plot,
//! sign-up and log-in, upload, submission and settings pages, the organizer's list and
//! accounts.
//! Every form carries the CSRF token of [`crate::web::session`]; every page works without
//! JavaScript except live status updates and drag and drop.

mod account;
mod accounts_admin;
mod board;
mod info;
mod models;
mod organizer;
pub mod plot;
mod submit;
mod testset;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use scorer::{MetricKey, Scores};

use crate::db::users::User;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::limits;

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

/// An error shown as a page rather than JSON.
#[derive(Debug)]
pub struct PageError {
    error: AppError,
    nav: Nav,
}

impl PageError {
    /// Wraps an error with the layout's data.
    pub fn new(error: AppError, nav: Nav) -> Self {
        Self { error, nav }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.error.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Logs the cause; the page says nothing more.
            let _ = self.error.into_response();
            return message(
                status,
                self.nav,
                "Something went wrong",
                vec!["The error was logged for the organizers.".to_owned()],
            );
        }
        let heading = sentence(&self.error.to_string());
        let lines = match &self.error {
            AppError::Invalid(lines) | AppError::BadRequest { details: lines, .. } => lines.clone(),
            _ => Vec::new(),
        };
        message(status, self.nav, &heading, lines)
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
    use super::{fmt_ci, fmt_value};

    #[test]
    fn undefined_metrics_show_a_dash_never_a_number() {
        assert_eq!(fmt_value(None), "—");
        assert_eq!(fmt_value(Some(0.95123)), "0.951");
        assert_eq!(fmt_ci(None), "");
        assert_eq!(fmt_ci(Some([-0.5, 1.0])), "[-0.500, 1.000]");
    }
}
