//! `/entries/{id}`: an entry's public page, linked from the boards: the method, who
//! submitted it, its description and links, when, and its scores as the boards show them.
//!
//! The page is built from the boards themselves (every entry, as `?all=true` lists them):
//! an entry on no board has no page, and a page shows no score, split or precision that the
//! boards do not already show to everyone.

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use super::{Nav, PagePath, metric_cells, render};
use crate::clock;
use crate::db::submissions;
use crate::error::AppError;
use crate::leaderboard::{self, BoardKind, Row};
use crate::state::AppState;
use crate::web::session::{CsrfToken, MaybeUser};

#[derive(Template)]
#[template(path = "entry.html")]
struct EntryPage {
    nav: Nav,
    id: i64,
    method: String,
    participant: String,
    baseline: bool,
    card: Option<String>,
    description: String,
    paper_url: Option<String>,
    code_url: Option<String>,
    submitted: String,
    on_final_board: bool,
    tied: bool,
    columns: Vec<&'static str>,
    rows: Vec<(String, Vec<(String, String)>)>,
}

/// The entry's row on a board (every entry, the default sort), if it is on it.
async fn row_on(state: &AppState, kind: BoardKind, id: i64) -> Result<Option<Row>, AppError> {
    let board = state.boards.board(state, kind, None, true).await?;
    Ok(board.rows.iter().find(|r| r.submission_id == id).cloned())
}

pub(super) async fn show(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    CsrfToken(csrf): CsrfToken,
    PagePath(id): PagePath<i64>,
) -> Result<Html<String>, AppError> {
    let missing = || AppError::NotFound(format!("there is no entry {id} on the boards"));
    let live = row_on(&state, BoardKind::Live, id).await?;
    let main = row_on(&state, BoardKind::Final, id).await?;
    let Some(shown) = live.as_ref().or(main.as_ref()) else {
        return Err(missing());
    };
    let submission = submissions::find_submission(state.db.pool(), id)
        .await?
        .ok_or_else(missing)?;
    let mut columns = vec!["Live: public split"];
    let mut boards = vec![live.as_ref()];
    if main.is_some() {
        columns.push("Final: private split");
        boards.push(main.as_ref());
    }
    let rows = leaderboard::metric_keys(&state)
        .iter()
        .map(|key| {
            let cells = boards
                .iter()
                .map(|row| row.map_or_else(Default::default, |r| metric_cells(&r.scores, key)))
                .collect();
            (key.label(), cells)
        })
        .collect();
    render(&EntryPage {
        nav: Nav::new(user.as_ref(), &csrf),
        id,
        method: shown.method.clone(),
        participant: shown.participant.clone(),
        baseline: shown.baseline,
        card: shown.reference_model.clone(),
        description: submission.description,
        paper_url: submission.paper_url,
        code_url: submission.code_url,
        submitted: clock::human(submission.created_at),
        on_final_board: main.is_some(),
        tied: main.as_ref().and_then(|r| r.tied_with_leader) == Some(true),
        columns,
        rows,
    })
}
