//! `GET /api/v1/leaderboard`: the board's rows as JSON, or CSV with `?format=csv`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::{AppError, ErrorBody};
use crate::leaderboard::{self, Board};
use crate::state::AppState;

/// Query parameters of the board.
#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    /// Metric to sort by (default `auc_vs_all`); higher is better for every metric.
    sort: Option<String>,
    /// `true` lists every entry, not only each participant's best per method.
    all: Option<bool>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// The public board.
#[utoipa::path(
    get,
    path = "/api/v1/leaderboard",
    params(
        ("sort" = Option<String>, Query, description = "metric to sort by (default auc_vs_all); higher is better for every metric"),
        ("all" = Option<bool>, Query, description = "true lists every entry, not only each participant's best per method"),
        ("format" = Option<String>, Query, description = "json (default) or csv"),
    ),
    responses(
        (status = 200, description = "the board (CSV with format=csv)", body = Board),
        (status = 400, description = "unknown sort metric or format", body = ErrorBody),
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
    let board =
        leaderboard::build(&state, query.sort.as_deref(), query.all.unwrap_or(false)).await?;
    if csv {
        let text = to_csv(&board)?;
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"leaderboard.csv\"",
                ),
            ],
            text,
        )
            .into_response())
    } else {
        Ok(Json(board).into_response())
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
    let number = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_f64)
            .map(|x| x.to_string())
            .unwrap_or_default()
    };
    for row in &board.rows {
        let mut record = vec![
            row.rank.to_string(),
            row.participant.clone(),
            spreadsheet_safe(&row.method),
            row.baseline.to_string(),
            row.submission_id.to_string(),
            row.created_at.clone(),
        ];
        for metric in &board.metrics {
            let ci = row.scores.get(format!("{metric}_ci"));
            record.push(number(row.scores.get(metric)));
            record.push(number(ci.and_then(|c| c.get(0))));
            record.push(number(ci.and_then(|c| c.get(1))));
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
