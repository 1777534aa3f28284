//! The upload page (`/submit`), the submission page (`/submissions/{id}`: live status,
//! marking final, withdrawing, the organizers' per-study plots) and "my submissions"
//! (`/my`).

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};

use super::{CsrfForm, Nav, PagePath, fmt_value, metric_cells, render};
use crate::clock;
use crate::db::submissions::{self, Status};
use crate::db::users::User;
use crate::error::AppError;
use crate::intake::{self, FinalsQuota, Quota};
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
    /// Today's limit is used up: the form is shown disabled, with when the next is allowed.
    at_limit: bool,
    images_line: String,
    images_href: Option<String>,
}

fn quota_line(quota: &Quota) -> String {
    match quota.remaining() {
        None => "Organizers have no daily limit.".to_owned(),
        Some(0) => format!(
            "You have used today's {} submissions; the next one is allowed at {}.",
            quota.limit.unwrap_or_default(),
            clock::human(quota.next_allowed_at)
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
        error: error.map(|e| super::sentence(&e.to_string())),
        details: match error {
            Some(AppError::Invalid(lines) | AppError::BadRequest { details: lines, .. }) => {
                lines.clone()
            }
            Some(AppError::QuotaExhausted {
                next_allowed_at, ..
            }) => {
                vec![format!(
                    "The next submission is allowed at {}.",
                    clock::human(*next_allowed_at)
                )]
            }
            _ => Vec::new(),
        },
        quota_line: quota_line(&quota),
        at_limit: quota.remaining() == Some(0),
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
                return err.into_response();
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

/// One metric's row on the submission page: live, final and (organizers) whole-set cells.
struct ScoreRow {
    label: String,
    cells: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "submission.html")]
struct SubmissionPage {
    nav: Nav,
    s: SubmissionView,
    done: bool,
    /// Column headings of the scores table, after "Metric".
    score_columns: Vec<String>,
    score_rows: Vec<ScoreRow>,
    sources: String,
    organizer_plots: bool,
    /// The owner may mark it final now (scored, not final).
    can_mark_final: bool,
    /// The owner may withdraw it from the main board (final, not withdrawn).
    can_withdraw: bool,
    /// The finals limit in one sentence.
    finals_line: String,
    /// The times and size as the page shows them ([`clock::human`], [`super::fmt_bytes`]).
    when: Times,
}

/// A submission's times and size, for reading.
struct Times {
    created: String,
    scored: Option<String>,
    marked_final: Option<String>,
    size: String,
}

impl Times {
    fn of(s: &submissions::Submission) -> Self {
        Self {
            created: clock::human(s.created_at),
            scored: s.scored_at.map(clock::human),
            marked_final: s.final_at.map(clock::human),
            size: super::fmt_bytes(s.size_bytes),
        }
    }
}

/// The one 404 for another participant's submission and a missing one.
async fn visible_submission(
    state: &AppState,
    user: &User,
    id: &str,
) -> Result<submissions::Submission, AppError> {
    crate::web::api::submissions::own_submission(state, user, id).await
}

/// The finals limit as the page says it.
pub(super) fn finals_line(quota: &FinalsQuota) -> String {
    match quota.remaining() {
        None => "Organizers have no limit on final submissions.".to_owned(),
        Some(0) => format!(
            "You have marked {} final in the last 30 days, the limit; the next final is allowed at {}.",
            quota.used,
            clock::human(quota.next_allowed_at)
        ),
        Some(left) => format!(
            "You may mark {left} more submission{} final in the current 30 days; it is scored on the private split and enters the main board, and it cannot be undone.",
            if left == 1 { "" } else { "s" }
        ),
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let nav = Nav::new(Some(&user), &csrf);
    let submission = visible_submission(&state, &user, &id).await?;
    let own = submission.user_id == user.id;
    let done = matches!(submission.status(), Status::Scored | Status::Failed);
    let when = Times::of(&submission);
    let view = SubmissionView::for_viewer(submission, &user);
    let mut columns: Vec<(String, &Option<scorer::Scores>)> =
        vec![("Live: public split".to_owned(), &view.live_scores)];
    if view.final_scores.is_some() {
        columns.push(("Final: private split".to_owned(), &view.final_scores));
    }
    if view.full_scores.is_some() {
        columns.push(("Whole test set (organizers)".to_owned(), &view.full_scores));
    }
    let score_rows = if view.live_scores.is_some() {
        metric_keys(&state)
            .iter()
            .map(|key| ScoreRow {
                label: key.label(),
                cells: columns
                    .iter()
                    .map(|(_, scores)| {
                        scores.as_ref().map_or_else(
                            || (String::new(), String::new()),
                            |s| metric_cells(s, key),
                        )
                    })
                    .collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let sources = view
        .live_scores
        .as_ref()
        .map_or_else(String::new, |scores| {
            format!(
                "identification from {}, severity from {}",
                scores.identification_source.as_str(),
                scores.severity_source.as_str()
            )
        });
    let quota = intake::finals_quota(&state, &user).await?;
    let page = SubmissionPage {
        nav: nav.clone(),
        done,
        score_columns: columns.iter().map(|(c, _)| c.clone()).collect(),
        score_rows,
        sources,
        organizer_plots: user.is_organizer() && view.status == "scored",
        can_mark_final: own && view.status == "scored" && !view.is_final,
        can_withdraw: own && view.is_final && !view.withdrawn,
        finals_line: finals_line(&quota),
        when,
        s: SubmissionView {
            error: view.error.as_deref().map(super::sentence),
            ..view
        },
    };
    render(&page)
}

/// What the owner's buttons on a submission page do.
#[derive(Clone, Copy)]
enum OwnerAction {
    MarkFinal,
    Withdraw,
}

/// Checks the form and that the submission is the user's own (organizers included: they
/// act on their own entries only), does the action and goes back to the page.
async fn owner_action(
    state: &AppState,
    user: &User,
    csrf: &CsrfToken,
    id: &str,
    form: &CsrfForm,
    action: OwnerAction,
) -> Result<Redirect, AppError> {
    csrf.verify(form.csrf.as_deref())?;
    let submission = visible_submission(state, user, id).await?;
    if submission.user_id != user.id {
        return Err(intake::no_submission(id));
    }
    match action {
        OwnerAction::MarkFinal => intake::mark_final(state, user, submission.id).await,
        OwnerAction::Withdraw => intake::withdraw(state, user, submission.id).await,
    }?;
    Ok(Redirect::to(&format!("/submissions/{}", submission.id)))
}

/// The page's "Mark final" button.
pub(super) async fn mark_final(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, AppError> {
    owner_action(&state, &user, &csrf, &id, &form, OwnerAction::MarkFinal).await
}

/// The page's "Withdraw from the board" button.
pub(super) async fn withdraw(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, AppError> {
    owner_action(&state, &user, &csrf, &id, &form, OwnerAction::Withdraw).await
}

/// `/submissions/{id}/plots/{roc,severity}.svg`: per-study plots for organizers only.
pub(super) async fn organizer_plot(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PagePath((id, file)): PagePath<(i64, String)>,
) -> Result<Response, AppError> {
    if !user.is_organizer() {
        return Err(AppError::Forbidden(
            "per-study plots are for organizers".to_owned(),
        ));
    }
    let outcomes: Vec<scorer::StudyOutcome> = submissions::find_outcomes(state.db.pool(), id)
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .ok_or_else(|| AppError::NotFound(format!("submission {id} has no scores")))?;
    let covid = |o: &&scorer::StudyOutcome| o.category == scorer::scores::POSITIVE;
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
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let submission = visible_submission(&state, &user, &id).await?;
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
    pub(super) is_final: bool,
    pub(super) withdrawn: bool,
    /// Organizers only: the predictions look like a probe.
    pub(super) probe_like: bool,
}

impl ListRow {
    /// A row of "my submissions" or the organizers' list: the live AUC vs all, at display
    /// precision for participants.
    pub(super) fn for_viewer(s: submissions::Submission, viewer: &User) -> Self {
        let scores: Option<scorer::Scores> = s
            .public_scores_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok());
        let value = scores.and_then(|v| v.auc_vs_all.value);
        let value = if viewer.is_organizer() {
            value
        } else {
            value.map(crate::disclosure::round)
        };
        Self {
            id: s.id,
            auc: value.map(|v| fmt_value(Some(v))).unwrap_or_default(),
            participant: s.user_name,
            method: s.method,
            status: s.status,
            created_at: clock::human(s.created_at),
            baseline: s.baseline != 0,
            hidden: s.hidden != 0,
            is_final: s.final_at.is_some(),
            withdrawn: s.withdrawn_at.is_some(),
            probe_like: viewer.is_organizer() && s.probe_like != 0,
        }
    }
}

/// One participant's activity on the organizers' page, with the bound on what their finals
/// could have revealed of the private split.
pub(super) struct ActivityRow {
    pub(super) participant: String,
    pub(super) submissions: i64,
    pub(super) scored: i64,
    pub(super) finals: i64,
    pub(super) probes: i64,
    /// `finals x bits per final` (point estimates; with intervals in parentheses).
    pub(super) bits: String,
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
    pub(super) reference: Option<(String, bool, Vec<reference_model::zoo::Model>)>,
    /// Organizers: per participant, submissions, finals and probing.
    pub(super) activity: Vec<ActivityRow>,
    /// Organizers: the information bound of one final, in words.
    pub(super) bits_line: String,
}

pub(super) async fn mine(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, AppError> {
    let rows = submissions::list_for_user(state.db.pool(), user.id).await?;
    let quota = intake::quota(&state, &user).await?;
    let finals = intake::finals_quota(&state, &user).await?;
    render(&ListPage {
        nav: Nav::new(Some(&user), &csrf),
        heading: "My submissions".to_owned(),
        quota_line: format!("{} {}", quota_line(&quota), finals_line(&finals)),
        organizer: false,
        rows: rows
            .into_iter()
            .map(|s| ListRow::for_viewer(s, &user))
            .collect(),
        reference: None,
        activity: Vec::new(),
        bits_line: String::new(),
    })
}
