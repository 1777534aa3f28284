//! Organizer pages: every submission with its status; rescore one or all, hide or
//! disqualify an entry, flag baselines.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, Redirect};
use serde::Deserialize;

use super::submit::{ListPage, ListRow};
use super::{Nav, PageError, render};
use crate::clock;
use crate::db::users::User;
use crate::db::{jobs, submissions};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::session::{CsrfToken, PageUser};

fn organizer(user: &User) -> Result<(), AppError> {
    if user.is_organizer() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "this page is for organizers".to_owned(),
        ))
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, PageError> {
    let nav = Nav::new(Some(&user), &csrf);
    let wrap = |e: AppError| PageError::new(e, nav.clone());
    organizer(&user).map_err(wrap)?;
    let rows = submissions::list_all(state.db.pool())
        .await
        .map_err(|e| wrap(e.into()))?;
    let (queued, running) = jobs::queue_length(state.db.pool())
        .await
        .map_err(|e| wrap(e.into()))?;
    render(&ListPage {
        nav: nav.clone(),
        heading: "Every submission".to_owned(),
        quota_line: format!("{queued} queued, {running} being scored."),
        organizer: true,
        rows: rows.into_iter().map(ListRow::from).collect(),
    })
    .map_err(wrap)
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
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, PageError> {
    let nav = Nav::new(Some(&user), &csrf.0);
    let wrap = |e: AppError| PageError::new(e, nav.clone());
    organizer(&user).map_err(wrap)?;
    csrf.verify(form.csrf.as_deref()).map_err(wrap)?;
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
        _ => return Err(wrap(AppError::NotFound(format!("no action {action:?}")))),
    }
    .map_err(|e| wrap(e.into()))?;
    if !found {
        return Err(wrap(AppError::NotFound(format!("no submission {id}"))));
    }
    state.jobs_ready.notify_one();
    Ok(Redirect::to("/organizer"))
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    csrf: Option<String>,
}

pub(super) async fn rescore_all(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    let nav = Nav::new(Some(&user), &csrf.0);
    let wrap = |e: AppError| PageError::new(e, nav.clone());
    organizer(&user).map_err(wrap)?;
    csrf.verify(form.csrf.as_deref()).map_err(wrap)?;
    let queued = jobs::enqueue_all(state.db.pool(), clock::now_ms())
        .await
        .map_err(|e| wrap(e.into()))?;
    tracing::info!(organizer = user.name, queued, "rescoring every submission");
    state.jobs_ready.notify_waiters();
    state.jobs_ready.notify_one();
    Ok(Redirect::to("/organizer"))
}
