//! The two boards of EVALUATION.md section 5.1: the main board ranks final entries by
//! their private-split scores and marks the entries statistically tied with the leader
//! (paired DeLong for AUCs, paired bootstrap for Spearman and Dice); the live board ranks
//! every scored entry by its public-split scores, without tie marks. Either keeps each
//! participant's best entry (each reference baseline apart), or all.
//!
//! Ranks and ties are computed from full-precision values; what leaves this module is at
//! display precision ([`crate::disclosure`]). The paired tests read the per-study outcomes,
//! which are hidden; only their verdict, one boolean per entry, is published.

use std::collections::HashMap;

use scorer::{MetricKey, Scores, Split, StudyOutcome};
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock;
use crate::db::submissions::{self, Submission};
use crate::error::AppError;
use crate::state::AppState;

/// Significance level of "statistically tied with the leader".
pub const ALPHA: f64 = 0.05;

/// Which board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BoardKind {
    /// Final entries, private-split scores, tie marks: the board to cite.
    Final,
    /// Every scored entry, public-split scores.
    Live,
}

impl BoardKind {
    /// `final` or `live`.
    pub fn as_str(self) -> &'static str {
        match self {
            BoardKind::Final => "final",
            BoardKind::Live => "live",
        }
    }

    /// Parses [`BoardKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [BoardKind::Final, BoardKind::Live]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// One row of the board.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Row {
    /// 1 for the leader; none for an entry without a value for the sorted metric (a
    /// table without masks on a Dice sort, say), listed last, unranked.
    pub rank: Option<usize>,
    /// The submission.
    pub submission_id: i64,
    /// The submitter's name.
    pub participant: String,
    /// The method's name.
    pub method: String,
    /// A reference baseline, flagged by an organizer.
    pub baseline: bool,
    /// The reference model behind a baseline (its card is `/models/<name>`).
    pub reference_model: Option<String>,
    /// When it was submitted (RFC 3339, to the second).
    pub created_at: String,
    /// The manifest version it was scored against.
    pub manifest_version: Option<String>,
    /// The scores of EVALUATION.md section 4 over this board's split, at display precision.
    #[schema(value_type = Object)]
    pub scores: Scores,
    /// Final board only: whether a paired test finds no significant difference from the
    /// leader on the sort metric (`null` for the leader, on the live board, and when the
    /// test is undefined).
    pub tied_with_leader: Option<bool>,
}

/// The board as the API returns it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Board {
    /// `final` (private split, final entries) or `live` (public split, every entry).
    pub board: BoardKind,
    /// The metric rows are sorted by (higher is better for every metric).
    pub sort: String,
    /// Every metric key, in column order.
    pub metrics: Vec<String>,
    /// Whether every entry is listed, not only each participant's best (and every
    /// baseline).
    pub all: bool,
    /// The rows, best first.
    pub rows: Vec<Row>,
}

/// The metric keys of the test set in column order: AUC vs all, AUC vs each negative
/// category, Spearman, Dice.
pub fn metric_keys(state: &AppState) -> Vec<MetricKey> {
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
    let mut keys = vec![MetricKey::AucVsAll];
    keys.extend(categories.iter().map(|c| MetricKey::AucVs((*c).to_owned())));
    keys.push(MetricKey::Spearman);
    keys.push(MetricKey::Dice);
    keys
}

/// Parses a sort key of this test set (default `auc_vs_all`), or says which keys exist.
pub fn parse_sort(state: &AppState, sort: Option<&str>) -> Result<MetricKey, AppError> {
    let keys = metric_keys(state);
    let text = sort.unwrap_or("auc_vs_all");
    MetricKey::parse(text)
        .filter(|k| keys.contains(k))
        .ok_or_else(|| AppError::BadRequest {
            message: format!(
                "unknown sort metric {:?}",
                text.escape_default().to_string()
            ),
            details: vec![format!(
                "sort by one of: {}",
                keys.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
        })
}

/// The scores of a submission on a board, at full precision.
fn board_scores(submission: &Submission, kind: BoardKind) -> Option<Scores> {
    let json = match kind {
        BoardKind::Final => submission.private_scores_json.as_deref(),
        BoardKind::Live => submission.public_scores_json.as_deref(),
    }?;
    serde_json::from_str(json).ok()
}

/// Builds a board sorted by `sort` (default `auc_vs_all`).
pub async fn build(
    state: &AppState,
    kind: BoardKind,
    sort: Option<&str>,
    all: bool,
) -> Result<Board, AppError> {
    let sort = parse_sort(state, sort)?;
    let listed = match kind {
        BoardKind::Final => submissions::list_final_visible(state.db.pool()).await?,
        BoardKind::Live => submissions::list_scored_visible(state.db.pool()).await?,
    };
    // One test-set version on a board: the database's (entries of an earlier version are
    // back once they are scored again).
    let version = crate::testset_version::current(state.db.pool())
        .await?
        .unwrap_or_else(|| state.testset.manifest_version.clone());
    let entries: Vec<(Submission, Scores)> = listed
        .into_iter()
        .filter(|s| s.manifest_version.as_deref() == Some(version.as_str()))
        .filter_map(|s| {
            let scores = board_scores(&s, kind)?;
            Some((s, scores))
        })
        .collect();
    let mut entries = if all {
        entries
    } else {
        best_per_participant(entries, &sort)
    };
    entries.sort_by(|(a, sa), (b, sb)| {
        let (va, vb) = (value(sa, &sort), value(sb, &sort));
        vb.partial_cmp(&va)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.id.cmp(&b.id))
    });

    let ties = match kind {
        BoardKind::Final => ties_with_leader(state, &entries, &sort).await?,
        BoardKind::Live => vec![None; entries.len()],
    };
    let rows = entries
        .into_iter()
        .enumerate()
        .map(|(i, (s, scores))| Row {
            rank: value(&scores, &sort).is_some().then_some(i + 1),
            submission_id: s.id,
            participant: s.user_name,
            method: s.method,
            baseline: s.baseline != 0,
            reference_model: s.reference_model,
            created_at: clock::rfc3339(s.created_at),
            manifest_version: s.manifest_version,
            scores: crate::disclosure::for_participant(&scores),
            tied_with_leader: ties.get(i).copied().flatten(),
        })
        .collect();
    Ok(Board {
        board: kind,
        sort: sort.to_string(),
        metrics: metric_keys(state).iter().map(ToString::to_string).collect(),
        all,
        rows,
    })
}

/// A metric's full-precision value; `None` (degenerate) sorts last.
fn value(scores: &Scores, key: &MetricKey) -> Option<f64> {
    scores.metric(key).and_then(|m| m.value)
}

/// Keeps each participant's entry best on `sort` (earliest on a tie), as EvalAI and Kaggle
/// do; reference baselines, all an organizer's, keep one row per method.
fn best_per_participant(
    entries: Vec<(Submission, Scores)>,
    sort: &MetricKey,
) -> Vec<(Submission, Scores)> {
    let mut best: HashMap<(i64, Option<String>), (Submission, Scores)> = HashMap::new();
    for (s, scores) in entries {
        let key = (s.user_id, (s.baseline != 0).then(|| s.method.clone()));
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

/// The per-study outcomes of a submission over the private split (organizers only).
async fn private_outcomes(
    state: &AppState,
    id: i64,
) -> Result<Option<Vec<StudyOutcome>>, AppError> {
    let json = submissions::find_outcomes(state.db.pool(), id).await?;
    let Some(all) = json.and_then(|j| serde_json::from_str::<Vec<StudyOutcome>>(&j).ok()) else {
        return Ok(None);
    };
    if all.len() != state.testset.splits.len() {
        return Ok(None);
    }
    Ok(Some(
        all.into_iter()
            .enumerate()
            .filter(|(i, _)| state.testset.in_split(*i, Split::Private))
            .map(|(_, o)| o)
            .collect(),
    ))
}

async fn ties_with_leader(
    state: &AppState,
    entries: &[(Submission, Scores)],
    sort: &MetricKey,
) -> Result<Vec<Option<bool>>, AppError> {
    let Some(leader) = entries.first().filter(|(_, s)| value(s, sort).is_some()) else {
        return Ok(vec![None; entries.len()]);
    };
    let mut outcomes = Vec::with_capacity(entries.len());
    for (s, _) in entries {
        outcomes.push(private_outcomes(state, s.id).await?);
    }
    let leader_version = leader.0.manifest_version.clone();
    let versions: Vec<Option<String>> = entries
        .iter()
        .map(|(s, _)| s.manifest_version.clone())
        .collect();
    let sort = sort.clone();
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
pub fn tied(metric: &MetricKey, leader: &[StudyOutcome], entry: &[StudyOutcome]) -> Option<bool> {
    if leader.len() != entry.len()
        || leader
            .iter()
            .zip(entry)
            .any(|(a, b)| a.category != b.category)
    {
        return None;
    }
    let positive = |o: &&StudyOutcome| o.category == scorer::scores::POSITIVE;
    let bootstrap = metrics::bootstrap::Bootstrap::default();
    let p_value = match metric {
        MetricKey::Spearman => {
            let covid = || leader.iter().zip(entry).filter(|(a, _)| positive(a));
            let truth: Vec<f64> = covid().map(|(a, _)| a.true_severity).collect();
            let a: Vec<f64> = covid().map(|(a, _)| a.severity).collect();
            let b: Vec<f64> = covid().map(|(_, b)| b.severity).collect();
            bootstrap.paired_spearman_diff(&truth, &a, &b)?.p_value
        }
        MetricKey::Dice => {
            let (a, b): (Vec<f64>, Vec<f64>) = leader
                .iter()
                .zip(entry)
                .filter(|(a, _)| positive(a))
                .filter_map(|(a, b)| Some((a.dice?, b.dice?)))
                .unzip();
            bootstrap.paired_mean_diff(&a, &b)?.p_value
        }
        MetricKey::AucVsAll | MetricKey::AucVs(_) => {
            let category = match metric {
                MetricKey::AucVs(category) => Some(category.as_str()),
                _ => None,
            };
            let negative = |o: &StudyOutcome| {
                o.category != scorer::scores::POSITIVE && category.is_none_or(|c| o.category == c)
            };
            let side = |outcomes: &[StudyOutcome], pos: bool| -> Vec<f64> {
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
    use super::tied;
    use scorer::{MetricKey, StudyOutcome};

    fn outcome(category: &str, identification: f64) -> StudyOutcome {
        StudyOutcome {
            category: category.to_owned(),
            true_severity: identification * 10.0,
            identification,
            severity: identification,
            dice: None,
        }
    }

    fn entries(scores: &[f64]) -> Vec<StudyOutcome> {
        scores
            .iter()
            .enumerate()
            .map(|(i, s)| outcome(if i % 2 == 0 { "covid" } else { "normal" }, *s))
            .collect()
    }

    #[test]
    fn an_entry_identical_to_the_leader_is_tied() {
        let leader = entries(&[0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4]);
        assert_eq!(tied(&MetricKey::AucVsAll, &leader, &leader), Some(true));
        let normal = MetricKey::AucVs("normal".into());
        assert_eq!(tied(&normal, &leader, &leader), Some(true));
    }

    #[test]
    fn entries_on_another_test_set_are_not_compared() {
        let leader = entries(&[0.9, 0.1, 0.8, 0.2]);
        let other = entries(&[0.9, 0.1, 0.8]);
        assert_eq!(tied(&MetricKey::AucVsAll, &leader, &other), None);
    }

    #[test]
    fn a_category_without_studies_has_no_test() {
        let leader = entries(&[0.9, 0.1, 0.8, 0.2]);
        let missing = MetricKey::AucVs("nodules".into());
        assert_eq!(tied(&missing, &leader, &leader), None);
    }
}
