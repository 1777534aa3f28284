//! `GET /api/v1/leaderboard`: a board's rows as JSON, or CSV with `?format=csv`; the main
//! (final) board by default, the live board with `?board=live`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::{AppError, ErrorBody};
use scorer::MetricKey;

use crate::leaderboard::{Board, BoardKind};
use crate::state::AppState;

/// Query parameters of the board.
#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    /// `final` (default: final entries on the private split) or `live`.
    board: Option<String>,
    /// Metric to sort by (default `auc_vs_all`); higher is better for every metric.
    sort: Option<String>,
    /// `true` lists every entry, not only each participant's best (baselines each have their row).
    all: Option<bool>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// The public board.
#[utoipa::path(
    get,
    path = "/api/v1/leaderboard",
    params(
        ("board" = Option<String>, Query, description = "final (default): final entries ranked on the private split, with tie marks; live: every scored entry on the public split"),
        ("sort" = Option<String>, Query, description = "metric to sort by (default auc_vs_all); higher is better for every metric"),
        ("all" = Option<bool>, Query, description = "true lists every entry, not only each participant's best (baselines each have their row)"),
        ("format" = Option<String>, Query, description = "json (default) or csv"),
    ),
    responses(
        (status = 200, description = "the board (CSV with format=csv)", body = Board),
        (status = 400, description = "unknown board, sort metric or format", body = ErrorBody),
    ),
    tag = "leaderboard"
)]
pub async fn show(
    State(state): State<AppState>,
    query: Result<Query<BoardQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.map_err(|e| AppError::BadRequest {
        message: "malformed query string".to_owned(),
        details: vec![e.body_text()],
    })?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(AppError::BadRequest {
                message: format!("unknown format {:?}", other.escape_default().to_string()),
                details: vec!["use format=json or format=csv".to_owned()],
            });
        }
    };
    let kind = parse_board(query.board.as_deref())?;
    let (sort, all) = (query.sort.as_deref(), query.all.unwrap_or(false));
    if csv {
        let board = state.boards.board(&state, kind, sort, all).await?;
        let text = to_csv(&board)?;
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    match kind {
                        BoardKind::Final => "attachment; filename=\"leaderboard.csv\"",
                        BoardKind::Live => "attachment; filename=\"leaderboard-live.csv\"",
                    },
                ),
            ],
            text,
        )
            .into_response())
    } else {
        // Serialized once per board and kept with it.
        let (_, json) = state
            .boards
            .rendered(&state, kind, sort, all, "json", |board| {
                serde_json::to_string(board)
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("serializing the board: {e}")))
            })
            .await?;
        Ok((
            [(header::CONTENT_TYPE, "application/json")],
            String::clone(&json),
        )
            .into_response())
    }
}

/// `final` (the default) or `live`.
pub fn parse_board(text: Option<&str>) -> Result<BoardKind, AppError> {
    match text {
        None => Ok(BoardKind::Final),
        Some(text) => BoardKind::parse(text).ok_or_else(|| AppError::BadRequest {
            message: format!("unknown board {:?}", text.escape_default().to_string()),
            details: vec!["use board=final or board=live".to_owned()],
        }),
    }
}

/// Participants' free text as a CSV cell that a spreadsheet shows rather than runs: a
/// leading `=`, `+`, `-`, `@`, tab or carriage return would start a formula.
fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The board as CSV: one row per entry, each metric with its interval's bounds.
fn to_csv(board: &Board) -> anyhow::Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<String> = [
        "rank",
        "participant",
        "method",
        "baseline",
        "submission_id",
        "created_at",
    ]
    .map(str::to_owned)
    .to_vec();
    for metric in &board.metrics {
        head.extend([
            metric.clone(),
            format!("{metric}_ci_low"),
            format!("{metric}_ci_high"),
        ]);
    }
    head.push("tied_with_leader".to_owned());
    out.write_record(&head)?;
    let number = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for row in &board.rows {
        let mut record = vec![
            row.rank.map(|r| r.to_string()).unwrap_or_default(),
            row.participant.clone(),
            spreadsheet_safe(&row.method),
            row.baseline.to_string(),
            row.submission_id.to_string(),
            row.created_at.clone(),
        ];
        for metric in &board.metrics {
            let found = MetricKey::parse(metric).and_then(|k| row.scores.metric(&k).copied());
            let ci = found.and_then(|m| m.ci);
            record.push(number(found.and_then(|m| m.value)));
            record.push(number(ci.map(|[lo, _]| lo)));
            record.push(number(ci.map(|[_, hi]| hi)));
        }
        record.push(
            row.tied_with_leader
                .map(|t| t.to_string())
                .unwrap_or_default(),
        );
        out.write_record(&record)?;
    }
    Ok(String::from_utf8(out.into_inner()?)?)
}
