//! The board: scored, visible submissions ranked by one metric, the best entry per
//! participant and method (or all), and which entries are statistically tied with the
//! leader (paired DeLong for AUCs, paired bootstrap for Spearman and Dice).
//!
//! The paired tests read the per-study outcomes, which are hidden; only their verdict, one
//! boolean per entry, is published.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock;
use crate::db::submissions::{self, Submission};
use crate::error::AppError;
use crate::state::AppState;

/// Significance level of "statistically tied with the leader".
pub const ALPHA: f64 = 0.05;

/// One row of the board.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Row {
    /// 1 for the leader.
    pub rank: usize,
    /// The submission.
    pub submission_id: i64,
    /// The submitter's name.
    pub participant: String,
    /// The method's name.
    pub method: String,
    /// A reference baseline, flagged by an organizer.
    pub baseline: bool,
    /// When it was submitted (RFC 3339).
    pub created_at: String,
    /// The manifest version it was scored against.
    pub manifest_version: Option<String>,
    /// The scores of EVALUATION.md section 4.
    #[schema(value_type = Object)]
    pub scores: serde_json::Value,
    /// Whether a paired test finds no significant difference from the leader on the sort
    /// metric (`null` for the leader itself and when the test is undefined).
    pub tied_with_leader: Option<bool>,
}

/// The board as the API returns it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Board {
    /// The metric rows are sorted by (higher is better for every metric).
    pub sort: String,
    /// Every metric key, in column order.
    pub metrics: Vec<String>,
    /// Whether every entry is listed, not only the best per participant and method.
    pub all: bool,
    /// The rows, best first.
    pub rows: Vec<Row>,
}

/// The metric keys of the test set in column order: AUC vs all, AUC vs each negative
/// category, Spearman, Dice.
pub fn metric_keys(state: &AppState) -> Vec<String> {
    let mut categories: Vec<&str> = state
        .testset
        .annotations
        .studies()
        .iter()
        .map(|s| s.category.as_str())
        .filter(|c| *c != scorer::scores::POSITIVE)
        .collect();
    categories.sort_unstable();
    categories.dedup();
    let mut keys = vec!["auc_vs_all".to_owned()];
    keys.extend(categories.iter().map(|c| format!("auc_vs_{c}")));
    keys.push("spearman".to_owned());
    keys.push("dice".to_owned());
    keys
}

/// Builds the board sorted by `sort` (default `auc_vs_all`).
pub async fn build(state: &AppState, sort: Option<&str>, all: bool) -> Result<Board, AppError> {
    let metrics = metric_keys(state);
    let sort = sort.unwrap_or("auc_vs_all").to_owned();
    if !metrics.contains(&sort) {
        return Err(AppError::BadRequest {
            message: format!(
                "unknown sort metric {:?}",
                sort.escape_default().to_string()
            ),
            details: vec![format!("sort by one of: {}", metrics.join(", "))],
        });
    }
    let entries: Vec<(Submission, serde_json::Value)> =
        submissions::list_scored_visible(state.db.pool())
            .await?
            .into_iter()
            .map(|s| {
                let scores = s
                    .scores_json
                    .as_deref()
                    .and_then(|j| serde_json::from_str(j).ok())
                    .unwrap_or(serde_json::Value::Null);
                (s, scores)
            })
            .collect();
    let mut entries = if all {
        entries
    } else {
        best_per_method(entries, &sort)
    };
    entries.sort_by(|(a, sa), (b, sb)| {
        let (va, vb) = (value(sa, &sort), value(sb, &sort));
        vb.partial_cmp(&va)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.id.cmp(&b.id))
    });

    let ties = ties_with_leader(state, &entries, &sort).await?;
    let rows = entries
        .into_iter()
        .enumerate()
        .map(|(i, (s, scores))| Row {
            rank: i + 1,
            submission_id: s.id,
            participant: s.user_name,
            method: s.method,
            baseline: s.baseline != 0,
            created_at: clock::rfc3339(s.created_at),
            manifest_version: s.manifest_version,
            scores,
            tied_with_leader: ties.get(i).copied().flatten(),
        })
        .collect();
    Ok(Board {
        sort,
        metrics,
        all,
        rows,
    })
}

/// A metric's value in a scores object; `None` (null, degenerate) sorts last.
fn value(scores: &serde_json::Value, key: &str) -> Option<f64> {
    scores.get(key).and_then(serde_json::Value::as_f64)
}

/// Keeps, for each participant and method, the entry best on `sort` (earliest on a tie).
fn best_per_method(
    entries: Vec<(Submission, serde_json::Value)>,
    sort: &str,
) -> Vec<(Submission, serde_json::Value)> {
    let mut best: HashMap<(i64, String), (Submission, serde_json::Value)> = HashMap::new();
    for (s, scores) in entries {
        let key = (s.user_id, s.method.clone());
        let better = match best.get(&key) {
            None => true,
            Some((kept, kept_scores)) => {
                let (new, old) = (value(&scores, sort), value(kept_scores, sort));
                new > old || (new == old && s.id < kept.id)
            }
        };
        if better {
            best.insert(key, (s, scores));
        }
    }
    best.into_values().collect()
}

/// One study's stored outcome (see `jobs::outcomes_json`).
#[derive(Clone, Debug, Deserialize)]
pub struct StoredOutcome {
    /// Hidden category.
    pub category: String,
    /// Ground-truth severity.
    pub true_severity: f64,
    /// Identification score.
    pub identification: f64,
    /// Severity score.
    pub severity: f64,
    /// Mean Dice over raters.
    pub dice: Option<f64>,
}

async fn ties_with_leader(
    state: &AppState,
    entries: &[(Submission, serde_json::Value)],
    sort: &str,
) -> Result<Vec<Option<bool>>, AppError> {
    let Some(leader) = entries.first().filter(|(_, s)| value(s, sort).is_some()) else {
        return Ok(vec![None; entries.len()]);
    };
    let mut outcomes = Vec::with_capacity(entries.len());
    for (s, _) in entries {
        let json = submissions::find_outcomes(state.db.pool(), s.id).await?;
        outcomes.push(json.and_then(|j| serde_json::from_str::<Vec<StoredOutcome>>(&j).ok()));
    }
    let leader_version = leader.0.manifest_version.clone();
    let versions: Vec<Option<String>> = entries
        .iter()
        .map(|(s, _)| s.manifest_version.clone())
        .collect();
    let sort = sort.to_owned();
    let ties = tokio::task::spawn_blocking(move || {
        let Some(leader_outcomes) = outcomes[0].clone() else {
            return vec![None; outcomes.len()];
        };
        outcomes
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                // Entries scored against another version of the test set are not paired.
                if i == 0 || versions[i] != leader_version {
                    return None;
                }
                tied(&sort, &leader_outcomes, entry.as_deref()?)
            })
            .collect()
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("the tie computation failed: {e}")))?;
    Ok(ties)
}

/// Whether `entry` is statistically tied with `leader` on `metric`; `None` when the test
/// is undefined (too few studies, different test sets).
pub fn tied(metric: &str, leader: &[StoredOutcome], entry: &[StoredOutcome]) -> Option<bool> {
    if leader.len() != entry.len()
        || leader
            .iter()
            .zip(entry)
            .any(|(a, b)| a.category != b.category)
    {
        return None;
    }
    let positive = |o: &&StoredOutcome| o.category == scorer::scores::POSITIVE;
    let bootstrap = metrics::bootstrap::Bootstrap::default();
    let p_value = match metric {
        "spearman" => {
            let covid = || leader.iter().zip(entry).filter(|(a, _)| positive(a));
            let truth: Vec<f64> = covid().map(|(a, _)| a.true_severity).collect();
            let a: Vec<f64> = covid().map(|(a, _)| a.severity).collect();
            let b: Vec<f64> = covid().map(|(_, b)| b.severity).collect();
            bootstrap.paired_spearman_diff(&truth, &a, &b)?.p_value
        }
        "dice" => {
            let (a, b): (Vec<f64>, Vec<f64>) = leader
                .iter()
                .zip(entry)
                .filter(|(a, _)| positive(a))
                .filter_map(|(a, b)| Some((a.dice?, b.dice?)))
                .unzip();
            bootstrap.paired_mean_diff(&a, &b)?.p_value
        }
        auc => {
            let category = auc.strip_prefix("auc_vs_")?;
            let negative = |o: &StoredOutcome| {
                o.category != scorer::scores::POSITIVE
                    && (category == "all" || o.category == category)
            };
            let side = |outcomes: &[StoredOutcome], pos: bool| -> Vec<f64> {
                outcomes
                    .iter()
                    .filter(|o| if pos { positive(o) } else { negative(o) })
                    .map(|o| o.identification)
                    .collect()
            };
            metrics::delong::paired_delong(
                &side(leader, true),
                &side(leader, false),
                &side(entry, true),
                &side(entry, false),
            )?
            .p_value
        }
    };
    Some(p_value >= ALPHA)
}

#[cfg(test)]
mod tests {
    use super::{StoredOutcome, tied};

    fn outcome(category: &str, identification: f64) -> StoredOutcome {
        StoredOutcome {
            category: category.to_owned(),
            true_severity: identification * 10.0,
            identification,
            severity: identification,
            dice: None,
        }
    }

    fn entries(scores: &[f64]) -> Vec<StoredOutcome> {
        scores
            .iter()
            .enumerate()
            .map(|(i, s)| outcome(if i % 2 == 0 { "covid" } else { "normal" }, *s))
            .collect()
    }

    #[test]
    fn an_entry_identical_to_the_leader_is_tied() {
        let leader = entries(&[0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4]);
        assert_eq!(tied("auc_vs_all", &leader, &leader), Some(true));
        assert_eq!(tied("auc_vs_normal", &leader, &leader), Some(true));
    }

    #[test]
    fn entries_on_another_test_set_are_not_compared() {
        let leader = entries(&[0.9, 0.1, 0.8, 0.2]);
        let other = entries(&[0.9, 0.1, 0.8]);
        assert_eq!(tied("auc_vs_all", &leader, &other), None);
    }

    #[test]
    fn an_unknown_metric_has_no_test() {
        let leader = entries(&[0.9, 0.1, 0.8, 0.2]);
        assert_eq!(tied("accuracy", &leader, &leader), None);
    }
}
