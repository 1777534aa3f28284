//! The upload page, the submission page (live status) and "my submissions".

use askama::Template;
use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::{Nav, PageError, fmt_ci, fmt_value, metric, metric_label, render};
use crate::clock;
use crate::db::submissions::{self, Status};
use crate::db::users::User;
use crate::error::AppError;
use crate::intake::{self, Quota};
use crate::leaderboard::metric_keys;
use crate::state::AppState;
use crate::web::api::submissions::{SubmissionView, TEXT_FIELDS};
use crate::web::session::{CsrfToken, PageUser};
use crate::web::upload;

#[derive(Template)]
#[template(path = "submit.html")]
struct SubmitPage {
    nav: Nav,
    error: Option<String>,
    details: Vec<String>,
    quota_line: String,
    images_line: String,
    images_href: Option<String>,
}

fn quota_line(quota: &Quota) -> String {
    match quota.remaining() {
        None => "Organizers have no daily limit.".to_owned(),
        Some(0) => format!(
            "You have used today's {} submissions; the next one is allowed at {} (UTC).",
            quota.limit.unwrap_or_default(),
            clock::rfc3339(quota.next_allowed_at)
        ),
        Some(left) => format!(
            "You have {left} of {} submissions left today (UTC); failed ones do not count.",
            quota.limit.unwrap_or_default()
        ),
    }
}

async fn submit_page(
    state: &AppState,
    user: &User,
    csrf: &str,
    error: Option<&AppError>,
) -> Result<Html<String>, AppError> {
    let quota = intake::quota(state, user).await?;
    let (images_line, images_href) = if state.config.images_dir().is_dir() {
        (
            "The public test images are one NIfTI file per study.".to_owned(),
            Some("/testset/images.zip".to_owned()),
        )
    } else {
        (
            "Ask the organizers where to get the public test images.".to_owned(),
            None,
        )
    };
    render(&SubmitPage {
        nav: Nav::new(Some(user), csrf),
        error: error.map(ToString::to_string),
        details: match error {
            Some(AppError::Invalid(lines) | AppError::BadRequest { details: lines, .. }) => {
                lines.clone()
            }
            Some(AppError::QuotaExhausted {
                next_allowed_at, ..
            }) => {
                vec![format!(
                    "The next submission is allowed at {}.",
                    clock::rfc3339(*next_allowed_at)
                )]
            }
            _ => Vec::new(),
        },
        quota_line: quota_line(&quota),
        images_line,
        images_href,
    })
}

pub(super) async fn form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, AppError> {
    submit_page(&state, &user, &csrf, None).await
}

pub(super) async fn upload(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    match accept(&state, &user, &csrf, multipart).await {
        Ok(id) => Redirect::to(&format!("/submissions/{id}")).into_response(),
        Err(err) => {
            let status = err.status();
            if status == StatusCode::INTERNAL_SERVER_ERROR || status == StatusCode::FORBIDDEN {
                return PageError::new(err, Nav::new(Some(&user), &csrf.0)).into_response();
            }
            match submit_page(&state, &user, &csrf.0, Some(&err)).await {
                Ok(html) => (status, html).into_response(),
                Err(page_err) => page_err.into_response(),
            }
        }
    }
}

async fn accept(
    state: &AppState,
    user: &User,
    csrf: &CsrfToken,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<i64, AppError> {
    intake::precheck(state, user).await?;
    let mut fields = TEXT_FIELDS.to_vec();
    fields.push("csrf");
    let received = upload::receive(
        multipart,
        &state.config.incoming_dir(),
        state.config.max_upload_bytes,
        &fields,
    )
    .await?;
    csrf.verify(received.field("csrf").as_deref())?;
    intake::accept(state, user, received).await
}

struct ScoreCell {
    label: String,
    value: String,
    ci: String,
}

#[derive(Template)]
#[template(path = "submission.html")]
struct SubmissionPage {
    nav: Nav,
    s: SubmissionView,
    done: bool,
    cells: Vec<ScoreCell>,
    sources: String,
    organizer_plots: bool,
}

async fn visible_submission(
    state: &AppState,
    user: &User,
    id: i64,
) -> Result<submissions::Submission, AppError> {
    let submission = submissions::find_submission(state.db.pool(), id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no submission {id}")))?;
    if submission.user_id != user.id && !user.is_organizer() {
        return Err(AppError::Forbidden(
            "this submission belongs to another participant".to_owned(),
        ));
    }
    Ok(submission)
}

pub(super) async fn show(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let nav = Nav::new(Some(&user), &csrf);
    let submission = visible_submission(&state, &user, id)
        .await
        .map_err(|e| PageError::new(e, nav.clone()))?;
    let done = matches!(submission.status(), Status::Scored | Status::Failed);
    let view = SubmissionView::from(submission);
    let (cells, sources) = match &view.scores {
        Some(scores) => (
            metric_keys(&state)
                .iter()
                .map(|key| {
                    let (value, ci) = metric(scores, key);
                    ScoreCell {
                        label: metric_label(key),
                        value: fmt_value(value),
                        ci: fmt_ci(ci),
                    }
                })
                .collect(),
            format!(
                "identification from {}, severity from {}",
                scores["identification_source"].as_str().unwrap_or("?"),
                scores["severity_source"].as_str().unwrap_or("?")
            ),
        ),
        None => (Vec::new(), String::new()),
    };
    let organizer_plots = user.is_organizer() && view.status == "scored";
    render(&SubmissionPage {
        nav: nav.clone(),
        s: view,
        done,
        cells,
        sources,
        organizer_plots,
    })
    .map_err(|e| PageError::new(e, nav))
}

/// `/submissions/{id}/{roc,severity}.svg`: per-study plots for organizers only.
pub(super) async fn organizer_plot(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((id, file)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    if !user.is_organizer() {
        return Err(AppError::Forbidden(
            "per-study plots are for organizers".to_owned(),
        ));
    }
    let outcomes: Vec<crate::leaderboard::StoredOutcome> =
        submissions::find_outcomes(state.db.pool(), id)
            .await?
            .and_then(|j| serde_json::from_str(&j).ok())
            .ok_or_else(|| AppError::NotFound(format!("submission {id} has no scores")))?;
    let covid = |o: &&crate::leaderboard::StoredOutcome| o.category == scorer::scores::POSITIVE;
    let svg = match file.as_str() {
        "roc.svg" => {
            let positives: Vec<f64> = outcomes
                .iter()
                .filter(covid)
                .map(|o| o.identification)
                .collect();
            let negatives: Vec<f64> = outcomes
                .iter()
                .filter(|o| !covid(o))
                .map(|o| o.identification)
                .collect();
            super::plot::roc("ROC curve, COVID-19 vs all", &positives, &negatives)
        }
        "severity.svg" => {
            let points: Vec<(f64, f64)> = outcomes
                .iter()
                .filter(covid)
                .map(|o| (o.true_severity, o.severity))
                .collect();
            super::plot::severity_scatter(&points)
        }
        _ => return Err(AppError::NotFound(format!("no plot {file:?}"))),
    }?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "private, no-store"),
        ],
        svg,
    )
        .into_response())
}

/// What the page's script polls (the session authenticates it).
pub(super) async fn status(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, AppError> {
    let submission = visible_submission(&state, &user, id).await?;
    Ok(Json(serde_json::json!({ "status": submission.status })))
}

pub(super) struct ListRow {
    pub(super) id: i64,
    pub(super) participant: String,
    pub(super) method: String,
    pub(super) status: String,
    pub(super) auc: String,
    pub(super) created_at: String,
    pub(super) baseline: bool,
    pub(super) hidden: bool,
}

impl From<submissions::Submission> for ListRow {
    fn from(s: submissions::Submission) -> Self {
        let scores: Option<serde_json::Value> = s
            .scores_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok());
        Self {
            id: s.id,
            auc: scores
                .as_ref()
                .map(|v| fmt_value(metric(v, "auc_vs_all").0))
                .unwrap_or_default(),
            participant: s.user_name,
            method: s.method,
            status: s.status,
            created_at: clock::rfc3339(s.created_at),
            baseline: s.baseline != 0,
            hidden: s.hidden != 0,
        }
    }
}

#[derive(Template)]
#[template(path = "my.html")]
pub(super) struct ListPage {
    pub(super) nav: Nav,
    pub(super) heading: String,
    pub(super) quota_line: String,
    pub(super) organizer: bool,
    pub(super) rows: Vec<ListRow>,
    /// Organizers: what the reference-baseline run is doing, and the models' names.
    pub(super) reference: Option<(String, bool, Vec<String>)>,
}

pub(super) async fn mine(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, AppError> {
    let rows = submissions::list_for_user(state.db.pool(), user.id).await?;
    let quota = intake::quota(&state, &user).await?;
    render(&ListPage {
        nav: Nav::new(Some(&user), &csrf),
        heading: "My submissions".to_owned(),
        quota_line: quota_line(&quota),
        organizer: false,
        rows: rows.into_iter().map(ListRow::from).collect(),
        reference: None,
    })
}
