//! Organizer pages: every submission with its status; rescore one or all, hide or
//! disqualify an entry, flag baselines; rerun the reference models and look at their
//! coronal projections (which show per-study findings, so organizers only).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::submit::{ActivityRow, ListPage, ListRow};
use super::{CsrfForm, Nav, PagePath, render};
use crate::db::users::User;
use crate::db::{jobs, submissions};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::session::{CsrfToken, PageUser};
use crate::{baselines, clock, disclosure};
use reference_model::zoo::Model;

/// Refuses anyone but an organizer.
pub(super) fn organizer(user: &User) -> Result<(), AppError> {
    if user.is_organizer() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "this page is for organizers".to_owned(),
        ))
    }
}

/// Checks that an organizer sent a form with the session's CSRF token; returns the page
/// navigation for errors shown after the check.
pub(super) fn organizer_form(
    user: &User,
    csrf: &CsrfToken,
    sent: Option<&str>,
) -> Result<Nav, AppError> {
    let nav = Nav::new(Some(user), &csrf.0);
    organizer(user)?;
    csrf.verify(sent)?;
    Ok(nav)
}

pub(super) async fn list(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, AppError> {
    let nav = Nav::new(Some(&user), &csrf);
    organizer(&user)?;
    let rows = submissions::list_all(state.db.pool()).await?;
    let (queued, running) = jobs::queue_length(state.db.pool()).await?;
    let (point_bits, all_bits) = disclosure::final_bits(&state.testset);
    let activity = submissions::activity(state.db.pool())
        .await?
        .into_iter()
        .map(|a| ActivityRow {
            bits: format!(
                "{:.0} ({:.0})",
                a.finals as f64 * point_bits,
                a.finals as f64 * all_bits
            ),
            participant: a.user_name,
            submissions: a.submissions,
            scored: a.scored,
            finals: a.finals,
            probes: a.probes,
        })
        .collect();
    render(&ListPage {
        nav: nav.clone(),
        heading: "Every submission".to_owned(),
        quota_line: format!("{queued} queued, {running} being scored."),
        organizer: true,
        rows: rows
            .into_iter()
            .map(|s| ListRow::for_viewer(s, &user))
            .collect(),
        reference: Some(reference_status(&state)),
        activity,
        bits_line: format!(
            "One final reveals at most {point_bits:.0} bits about the private split through its point estimates, {all_bits:.0} with its interval bounds (docs/integrity.md says how this bound is computed); the private split's labels hold about {:.0} bits.",
            disclosure::private_label_bits(&state.testset)
        ),
    })
}

fn reference_status(state: &AppState) -> (String, bool, Vec<Model>) {
    let p = state
        .baselines
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    let status = if p.message.is_empty() {
        "No run since the service started.".to_owned()
    } else if p.running {
        format!("Running: {}.", p.message)
    } else {
        format!("Last run: {}.", p.message)
    };
    (status, p.running, baselines::models())
}

pub(super) async fn rerun_baselines(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, AppError> {
    organizer_form(&user, &csrf, form.csrf.as_deref())?;
    if baselines::spawn(&state, baselines::Source::Compute) {
        tracing::info!(organizer = user.name, "rerunning the reference baselines");
    }
    Ok(Redirect::to("/organizer"))
}

#[derive(Template)]
#[template(path = "projections.html")]
struct ProjectionsPage {
    nav: Nav,
    model: String,
    studies: Vec<String>,
}

/// The baseline model a path names (not the lungs, which enter no baseline).
fn known_model(model: &str) -> Result<Model, AppError> {
    model
        .parse()
        .ok()
        .filter(|m| baselines::models().contains(m))
        .ok_or_else(|| AppError::NotFound(format!("no reference model {model:?}")))
}

pub(super) async fn projections(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
    Path(model): Path<String>,
) -> Result<Html<String>, AppError> {
    let nav = Nav::new(Some(&user), &csrf);
    organizer(&user)?;
    let known = known_model(&model)?;
    let dir = baselines::projections_dir(state.config.data_dir(), known);
    let mut studies: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| {
                    e.ok()?
                        .file_name()
                        .to_str()?
                        .strip_suffix(".png")
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    studies.sort();
    render(&ProjectionsPage {
        nav: nav.clone(),
        model,
        studies,
    })
}

pub(super) async fn projection_png(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((model, file)): Path<(String, String)>,
) -> Result<Response, AppError> {
    organizer(&user)?;
    let model = known_model(&model)?;
    let study = file.strip_suffix(".png").filter(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    let Some(study) = study else {
        return Err(AppError::NotFound(format!("no projection {file:?}")));
    };
    let path =
        baselines::projections_dir(state.config.data_dir(), model).join(format!("{study}.png"));
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| AppError::NotFound(format!("no projection {file:?}")))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], bytes).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    csrf: Option<String>,
    value: Option<String>,
}

pub(super) async fn act(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    PagePath((id, action)): PagePath<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, AppError> {
    organizer_form(&user, &csrf, form.csrf.as_deref())?;
    let value = form.value.as_deref() == Some("true");
    let pool = state.db.pool();
    let found = match action.as_str() {
        "baseline" => submissions::set_baseline(pool, id, value).await,
        "hidden" => submissions::set_hidden(pool, id, value).await,
        "rescore" => match submissions::find_submission(pool, id).await {
            Ok(Some(_)) => jobs::enqueue(pool, id, clock::now_ms())
                .await
                .map(|()| true),
            Ok(None) => Ok(false),
            Err(err) => Err(err),
        },
        _ => return Err(AppError::NotFound(format!("no action {action:?}"))),
    }?;
    if !found {
        return Err(AppError::NotFound(format!("no submission {id}")));
    }
    state.jobs_ready.notify_one();
    Ok(Redirect::to("/organizer"))
}

pub(super) async fn rescore_all(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, AppError> {
    organizer_form(&user, &csrf, form.csrf.as_deref())?;
    let queued = jobs::enqueue_all(state.db.pool(), clock::now_ms()).await?;
    tracing::info!(organizer = user.name, queued, "rescoring every submission");
    state.jobs_ready.notify_waiters();
    state.jobs_ready.notify_one();
    Ok(Redirect::to("/organizer"))
}
