//! The metrics of EVALUATION.md section 3 and their JSON form (section 4).

use metrics::bootstrap::Bootstrap;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Where the identification score of each study came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentificationSource {
    /// The table's `covid_probability` column.
    CovidProbability,
    /// The table's `affected_percent` column, or the percentage computed from the masks.
    AffectedPercent,
}

/// Where the severity score of each study came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeveritySource {
    /// The table's `affected_percent` column.
    AffectedPercent,
    /// Computed from the submitted masks with the hidden lung masks.
    Masks,
    /// The table's `covid_probability` column (how the paper scores its ResNet50).
    CovidProbability,
}

impl IdentificationSource {
    /// The name used in the JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentificationSource::CovidProbability => "covid_probability",
            IdentificationSource::AffectedPercent => "affected_percent",
        }
    }
}

impl SeveritySource {
    /// The name used in the JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            SeveritySource::AffectedPercent => "affected_percent",
            SeveritySource::Masks => "masks",
            SeveritySource::CovidProbability => "covid_probability",
        }
    }
}

/// One metric with its 95% percentile-bootstrap interval; both are `None` when degenerate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metric {
    /// The point estimate.
    pub value: Option<f64>,
    /// `[low, high]`.
    pub ci: Option<[f64; 2]>,
}

/// The published result of a submission: aggregates only, never per-study values.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// Studies in the test set.
    pub n_studies: usize,
    /// Studies of category `covid`.
    pub n_covid: usize,
    /// Where identification scores came from.
    pub identification_source: IdentificationSource,
    /// Where severity scores came from.
    pub severity_source: SeveritySource,
    /// ROC AUC against every other study.
    pub auc_vs_all: Metric,
    /// ROC AUC against each negative category, sorted by category name.
    pub auc_vs_category: Vec<(String, Metric)>,
    /// Spearman's rho of severity over COVID studies.
    pub spearman: Metric,
    /// Mean per-study Dice over COVID studies; `None` for a table-only submission.
    pub dice: Metric,
}

/// What the scorer knows of one study after reading the submission and the annotations.
///
/// This is private to the organizers: it holds the hidden category and ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyOutcome {
    /// The hidden category.
    pub category: String,
    /// Ground-truth affected percentage (mean over raters).
    pub true_severity: f64,
    /// The submission's identification score.
    pub identification: f64,
    /// The submission's severity score.
    pub severity: f64,
    /// Mean Dice over the raters that are not skipped; `None` without masks or when all
    /// raters are skipped.
    pub dice: Option<f64>,
}

/// The positive class of EVALUATION.md.
pub const POSITIVE: &str = "covid";

/// Computes every metric of section 3 from per-study outcomes.
///
/// `with_masks` says whether Dice applies (a table-only submission has `dice: null`).
pub fn compute(
    outcomes: &[StudyOutcome],
    identification_source: IdentificationSource,
    severity_source: SeveritySource,
    with_masks: bool,
) -> Scores {
    let bootstrap = Bootstrap::default();
    let positives: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.category == POSITIVE)
        .map(|o| o.identification)
        .collect();
    let auc_against = |negatives: &[f64]| Metric {
        value: metrics::roc_auc(&positives, negatives),
        ci: bootstrap.auc_ci(&positives, negatives),
    };
    let all_negatives: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.category != POSITIVE)
        .map(|o| o.identification)
        .collect();

    let mut categories: Vec<&str> = outcomes
        .iter()
        .map(|o| o.category.as_str())
        .filter(|c| *c != POSITIVE)
        .collect();
    categories.sort_unstable();
    categories.dedup();
    let auc_vs_category = categories
        .into_iter()
        .map(|category| {
            let negatives: Vec<f64> = outcomes
                .iter()
                .filter(|o| o.category == category)
                .map(|o| o.identification)
                .collect();
            (category.to_owned(), auc_against(&negatives))
        })
        .collect();

    let covid: Vec<&StudyOutcome> = outcomes.iter().filter(|o| o.category == POSITIVE).collect();
    let truth: Vec<f64> = covid.iter().map(|o| o.true_severity).collect();
    let predicted: Vec<f64> = covid.iter().map(|o| o.severity).collect();
    let spearman = Metric {
        value: metrics::spearman(&truth, &predicted),
        ci: bootstrap.spearman_ci(&truth, &predicted),
    };
    let dice = if with_masks {
        let per_study: Vec<f64> = covid.iter().filter_map(|o| o.dice).collect();
        Metric {
            value: metrics::mean(&per_study),
            ci: bootstrap.mean_ci(&per_study),
        }
    } else {
        Metric::default()
    };

    Scores {
        n_studies: outcomes.len(),
        n_covid: covid.len(),
        identification_source,
        severity_source,
        auc_vs_all: auc_against(&all_negatives),
        auc_vs_category,
        spearman,
        dice,
    }
}

impl Serialize for Scores {
    /// Writes the keys of EVALUATION.md section 4 in a stable order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("n_studies", &self.n_studies)?;
        map.serialize_entry("n_covid", &self.n_covid)?;
        map.serialize_entry("identification_source", self.identification_source.as_str())?;
        map.serialize_entry("severity_source", self.severity_source.as_str())?;
        let mut metric = |key: &str, metric: &Metric| -> Result<(), S::Error> {
            map.serialize_entry(key, &metric.value)?;
            map.serialize_entry(&format!("{key}_ci"), &metric.ci)
        };
        metric("auc_vs_all", &self.auc_vs_all)?;
        for (category, value) in &self.auc_vs_category {
            metric(&format!("auc_vs_{category}"), value)?;
        }
        metric("spearman", &self.spearman)?;
        metric("dice", &self.dice)?;
        map.end()
    }
}
