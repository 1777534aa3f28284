//! The board pages, modelled on the paper's Table 2, and their forest plots: `/` is the
//! main board (final entries on the private split, with tie marks), `/live` the live
//! board (every scored entry on the public split).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use scorer::{MetricKey, Scores};

use super::{Nav, fmt_ci, fmt_value, metric_cells, plot, render};
use crate::error::AppError;
use crate::leaderboard::{self, Board, BoardKind};
use crate::state::AppState;
use crate::web::session::{CsrfToken, MaybeUser};

/// The paper's Table 2 (`docs/paper-table2.csv`): numbers published on the real
/// Mosmed test set, without intervals, shown apart as "reported in the paper, not
/// reproduced here": `(method, [(metric key, value, interval)])`.
const PAPER_ROWS: &[(&str, &[PaperValue])] = &[
    (
        "Thresholding",
        &[
            ("auc_vs_normal", 0.649, None),
            ("auc_vs_all", 0.567, None),
            ("spearman", 0.87, None),
            ("dice", 0.45, None),
        ],
    ),
    (
        "3D U-Net",
        &[
            ("auc_vs_normal", 0.865, None),
            ("auc_vs_all", 0.772, None),
            ("spearman", 0.94, None),
            ("dice", 0.49, None),
        ],
    ),
    (
        "2D U-Net",
        &[
            ("auc_vs_normal", 0.89, None),
            ("auc_vs_all", 0.83, None),
            ("spearman", 0.98, None),
            ("dice", 0.5, None),
        ],
    ),
    (
        "2D U-Net+",
        &[
            ("auc_vs_normal", 0.996, None),
            ("auc_vs_all", 0.957, None),
            ("spearman", 0.76, None),
            ("dice", 0.33, None),
        ],
    ),
    (
        "ResNet50",
        &[
            ("auc_vs_normal", 0.966, None),
            ("auc_vs_all", 0.934, None),
            ("spearman", 0.45, None),
        ],
    ),
    (
        "Multitask (proposed)",
        &[
            ("auc_vs_normal", 0.978, None),
            ("auc_vs_all", 0.951, None),
            ("spearman", 0.98, None),
            ("dice", 0.48, None),
        ],
    ),
];

/// One published value: metric key, value, interval.
type PaperValue = (&'static str, f64, Option<[f64; 2]>);

#[derive(Debug, Default, Deserialize)]
pub(super) struct BoardParams {
    sort: Option<String>,
    all: Option<String>,
    board: Option<String>,
}

impl BoardParams {
    fn all(&self) -> bool {
        matches!(self.all.as_deref(), Some("true" | "1" | "on"))
    }
}

/// The path of a board's page.
fn page_path(kind: BoardKind) -> &'static str {
    match kind {
        BoardKind::Final => "/",
        BoardKind::Live => "/live",
    }
}

struct Column {
    label: String,
    href: String,
    sorted: bool,
}

struct Cell {
    value: String,
    ci: String,
}

struct Row {
    /// The rank, or a dash for an entry without a value for the sorted metric.
    rank: String,
    /// The entry's page.
    id: i64,
    method: String,
    participant: String,
    baseline: bool,
    /// The model card of a reference baseline.
    card: Option<String>,
    tied: bool,
    cells: Vec<Cell>,
}

struct PaperRow {
    method: String,
    cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    nav: Nav,
    live: bool,
    sort_label: String,
    all: bool,
    toggle_href: String,
    /// The table and plot, rendered once per board ([`table_html`]).
    table: Arc<String>,
    /// What is being computed that will change the board (the demo's first minutes).
    notice: Option<String>,
}

/// The board's table and forest plot: the same for every reader, so rendered once per
/// board generation and kept with the board.
#[derive(Template)]
#[template(path = "board_table.html")]
struct BoardTable {
    live: bool,
    sort_label: String,
    columns: Vec<Column>,
    rows: Vec<Row>,
    paper_rows: Vec<PaperRow>,
    plot_src: String,
}

pub(super) async fn show_final(
    state: State<AppState>,
    user: MaybeUser,
    csrf: CsrfToken,
    Query(params): Query<BoardParams>,
) -> Result<Html<String>, AppError> {
    show(state, user, csrf, BoardKind::Final, params).await
}

pub(super) async fn show_live(
    state: State<AppState>,
    user: MaybeUser,
    csrf: CsrfToken,
    Query(params): Query<BoardParams>,
) -> Result<Html<String>, AppError> {
    show(state, user, csrf, BoardKind::Live, params).await
}

async fn show(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    CsrfToken(csrf): CsrfToken,
    kind: BoardKind,
    params: BoardParams,
) -> Result<Html<String>, AppError> {
    let all = params.all();
    let (board, table) = state
        .boards
        .rendered(&state, kind, params.sort.as_deref(), all, "page", |board| {
            table_html(&state, kind, all, board)
        })
        .await?;
    let path = page_path(kind);
    let page = BoardPage {
        nav: Nav::new(user.as_ref(), &csrf),
        live: kind == BoardKind::Live,
        sort_label: sort_label(&board),
        all,
        toggle_href: if all {
            format!("{path}?sort={}", board.sort)
        } else {
            format!("{path}?sort={}&all=true", board.sort)
        },
        table,
        notice: crate::baselines::public_status(&state),
    };
    render(&page)
}

fn sort_label(board: &Board) -> String {
    MetricKey::parse(&board.sort)
        .map(|k| k.label())
        .unwrap_or_default()
}

/// Renders the table and plot of `board`.
fn table_html(
    state: &AppState,
    kind: BoardKind,
    all: bool,
    board: &Board,
) -> Result<String, AppError> {
    let path = page_path(kind);
    let suffix = if all { "&all=true" } else { "" };
    let keys: Vec<MetricKey> = leaderboard::metric_keys(state);
    let columns = keys
        .iter()
        .map(|key| Column {
            label: key.label(),
            href: format!("{path}?sort={key}{suffix}"),
            sorted: key.to_string() == board.sort,
        })
        .collect();
    let cells = |scores: &Scores| -> Vec<Cell> {
        keys.iter()
            .map(|key| {
                let (value, ci) = metric_cells(scores, key);
                Cell { value, ci }
            })
            .collect()
    };
    let rows = board
        .rows
        .iter()
        .map(|row| Row {
            rank: row
                .rank
                .map(|r| r.to_string())
                .unwrap_or_else(|| "–".to_owned()),
            id: row.submission_id,
            method: row.method.clone(),
            participant: row.participant.clone(),
            baseline: row.baseline,
            card: row.reference_model.clone(),
            tied: row.tied_with_leader == Some(true),
            cells: cells(&row.scores),
        })
        .collect();
    let paper_rows = PAPER_ROWS
        .iter()
        .map(|(method, values)| PaperRow {
            method: (*method).to_owned(),
            cells: keys
                .iter()
                .map(|key| {
                    let found = values.iter().find(|(k, _, _)| *k == key.to_string());
                    Cell {
                        value: fmt_value(found.map(|(_, v, _)| *v)),
                        ci: fmt_ci(found.and_then(|(_, _, ci)| *ci)),
                    }
                })
                .collect(),
        })
        .collect();
    let board_param = match kind {
        BoardKind::Final => "",
        BoardKind::Live => "board=live&",
    };
    let table = BoardTable {
        live: kind == BoardKind::Live,
        sort_label: sort_label(board),
        columns,
        rows,
        paper_rows,
        plot_src: format!(
            "/plot/{}.svg?{board_param}{}",
            board.sort,
            if all { "all=true" } else { "" }
        ),
    };
    Ok(render(&table)?.0)
}

/// `/plot/<metric>.svg`: the forest plot of one metric over the board's entries.
pub(super) async fn plot(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(params): Query<BoardParams>,
) -> Result<Response, AppError> {
    let metric_key = file
        .strip_suffix(".svg")
        .ok_or_else(|| AppError::NotFound("plots are served as <metric>.svg".to_owned()))?;
    let kind = crate::web::api::leaderboard::parse_board(params.board.as_deref())?;
    let key = leaderboard::parse_sort(&state, Some(metric_key))?;
    // Drawn once per board and kept with it.
    let (_, svg) = state
        .boards
        .rendered(
            &state,
            kind,
            Some(metric_key),
            params.all(),
            "plot",
            |board| forest_svg(board, &key),
        )
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        String::clone(&svg),
    )
        .into_response())
}

/// The forest plot of the board's sorted metric.
fn forest_svg(board: &Board, key: &MetricKey) -> Result<String, AppError> {
    let entries: Vec<plot::Entry> = board
        .rows
        .iter()
        .filter_map(|row| {
            let metric = row.scores.metric(key)?;
            Some(plot::Entry {
                label: match row.rank {
                    Some(rank) => format!("{rank}. {}", row.method),
                    None => format!("– {}", row.method),
                },
                by: if row.baseline {
                    format!("reference baseline, by {}", row.participant)
                } else {
                    format!("by {}", row.participant)
                },
                value: metric.value?,
                ci: metric.ci,
                highlight: row.baseline,
            })
        })
        .collect();
    let title = format!("{} with 95% intervals", key.label());
    Ok(plot::forest(&title, &entries, key.range())?)
}
