//! The metrics of EVALUATION.md section 3 and their JSON form (section 4): one typed
//! [`Scores`] that the scorer, the service's worker, its boards and its exports share, and
//! [`MetricKey`], the names of its metrics.

use std::collections::BTreeMap;
use std::fmt;

use metrics::bootstrap::Bootstrap;
use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

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

impl IdentificationSource {
    /// Parses [`IdentificationSource::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Self::CovidProbability, Self::AffectedPercent]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

impl SeveritySource {
    /// Parses [`SeveritySource::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Self::AffectedPercent, Self::Masks, Self::CovidProbability]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

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

/// The name of one published metric: the keys of EVALUATION.md section 4 without their
/// `_ci` twins. Ordered as the board's columns: AUC vs all, vs each category, Spearman, Dice.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKey {
    /// `auc_vs_all`.
    AucVsAll,
    /// `auc_vs_<category>`.
    AucVs(String),
    /// `spearman`.
    Spearman,
    /// `dice`.
    Dice,
}

impl MetricKey {
    /// Parses a key such as `auc_vs_normal`; `None` for anything else (`_ci` keys included).
    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "auc_vs_all" => Some(Self::AucVsAll),
            "spearman" => Some(Self::Spearman),
            "dice" => Some(Self::Dice),
            other => {
                let category = other.strip_prefix("auc_vs_")?;
                let word = !category.is_empty()
                    && !category.ends_with("_ci")
                    && category
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                word.then(|| Self::AucVs(category.to_owned()))
            }
        }
    }

    /// A short human label: `AUC vs normal`, `Spearman ρ`, `Dice`.
    pub fn label(&self) -> String {
        match self {
            Self::AucVsAll => "AUC vs all".to_owned(),
            Self::AucVs(category) => format!("AUC vs {category}"),
            Self::Spearman => "Spearman ρ".to_owned(),
            Self::Dice => "Dice".to_owned(),
        }
    }

    /// The range a metric's values lie in (for plots): Spearman's rho may be negative.
    pub fn range(&self) -> (f64, f64) {
        match self {
            Self::Spearman => (-1.0, 1.0),
            _ => (0.0, 1.0),
        }
    }
}

impl fmt::Display for MetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AucVsAll => f.write_str("auc_vs_all"),
            Self::AucVs(category) => write!(f, "auc_vs_{category}"),
            Self::Spearman => f.write_str("spearman"),
            Self::Dice => f.write_str("dice"),
        }
    }
}

impl Scores {
    /// Every metric key of these scores, in column order.
    pub fn keys(&self) -> Vec<MetricKey> {
        let mut keys = vec![MetricKey::AucVsAll];
        keys.extend(
            self.auc_vs_category
                .iter()
                .map(|(c, _)| MetricKey::AucVs(c.clone())),
        );
        keys.extend([MetricKey::Spearman, MetricKey::Dice]);
        keys
    }

    /// One metric; `None` for a category these scores do not have.
    pub fn metric(&self, key: &MetricKey) -> Option<&Metric> {
        match key {
            MetricKey::AucVsAll => Some(&self.auc_vs_all),
            MetricKey::AucVs(category) => self
                .auc_vs_category
                .iter()
                .find(|(c, _)| c == category)
                .map(|(_, m)| m),
            MetricKey::Spearman => Some(&self.spearman),
            MetricKey::Dice => Some(&self.dice),
        }
    }

    /// The same scores with `f` applied to every point estimate and interval bound (the
    /// service rounds what participants see with it).
    pub fn map_values(&self, f: impl Fn(f64) -> f64) -> Scores {
        let metric = |m: &Metric| Metric {
            value: m.value.map(&f),
            ci: m.ci.map(|[lo, hi]| [f(lo), f(hi)]),
        };
        Scores {
            auc_vs_all: metric(&self.auc_vs_all),
            auc_vs_category: self
                .auc_vs_category
                .iter()
                .map(|(c, m)| (c.clone(), metric(m)))
                .collect(),
            spearman: metric(&self.spearman),
            dice: metric(&self.dice),
            ..self.clone()
        }
    }
}

/// What the scorer knows of one study after reading the submission and the annotations.
///
/// This is private to the organizers: it holds the hidden category and ground truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// Computes every metric of section 3 from per-study outcomes, with intervals from
/// `bootstrap`.
///
/// `with_masks` says whether Dice applies (a table-only submission has `dice: null`).
pub fn compute(
    outcomes: &[&StudyOutcome],
    identification_source: IdentificationSource,
    severity_source: SeveritySource,
    with_masks: bool,
    bootstrap: &Bootstrap,
) -> Scores {
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

    let covid: Vec<&StudyOutcome> = outcomes
        .iter()
        .copied()
        .filter(|o| o.category == POSITIVE)
        .collect();
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

impl<'de> Deserialize<'de> for Scores {
    /// Reads what [`Serialize`] writes (the service stores scores in this form).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        let mut take = |key: &str| map.remove(key).unwrap_or(serde_json::Value::Null);
        let count = |v: serde_json::Value, key: &str| {
            v.as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| de::Error::custom(format!("{key} must be a count")))
        };
        let n_studies = count(take("n_studies"), "n_studies")?;
        let n_covid = count(take("n_covid"), "n_covid")?;
        let identification_source = take("identification_source")
            .as_str()
            .and_then(IdentificationSource::parse)
            .ok_or_else(|| de::Error::custom("unknown identification_source"))?;
        let severity_source = take("severity_source")
            .as_str()
            .and_then(SeveritySource::parse)
            .ok_or_else(|| de::Error::custom("unknown severity_source"))?;
        let mut metric = |key: &str| -> Result<Metric, D::Error> {
            let value = serde_json::from_value(take(key)).map_err(de::Error::custom)?;
            let ci =
                serde_json::from_value(take(&format!("{key}_ci"))).map_err(de::Error::custom)?;
            Ok(Metric { value, ci })
        };
        let auc_vs_all = metric("auc_vs_all")?;
        let spearman = metric("spearman")?;
        let dice = metric("dice")?;
        let categories: Vec<String> = map
            .keys()
            .filter_map(|k| match MetricKey::parse(k) {
                Some(MetricKey::AucVs(category)) => Some(category),
                _ => None,
            })
            .collect();
        let mut auc_vs_category = Vec::with_capacity(categories.len());
        for category in categories {
            let key = format!("auc_vs_{category}");
            let value = serde_json::from_value(map.remove(&key).unwrap_or_default())
                .map_err(de::Error::custom)?;
            let ci = serde_json::from_value(map.remove(&format!("{key}_ci")).unwrap_or_default())
                .map_err(de::Error::custom)?;
            auc_vs_category.push((category, Metric { value, ci }));
        }
        Ok(Scores {
            n_studies,
            n_covid,
            identification_source,
            severity_source,
            auc_vs_all,
            auc_vs_category,
            spearman,
            dice,
        })
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

#[cfg(test)]
mod tests {
    use super::{IdentificationSource, Metric, MetricKey, Scores, SeveritySource};

    fn scores() -> Scores {
        Scores {
            n_studies: 10,
            n_covid: 4,
            identification_source: IdentificationSource::CovidProbability,
            severity_source: SeveritySource::Masks,
            auc_vs_all: Metric {
                value: Some(0.912_345),
                ci: Some([0.8, 0.99]),
            },
            auc_vs_category: vec![
                ("normal".to_owned(), Metric::default()),
                (
                    "pneumonia".to_owned(),
                    Metric {
                        value: Some(0.5),
                        ci: None,
                    },
                ),
            ],
            spearman: Metric {
                value: Some(-0.25),
                ci: Some([-0.9, 0.4]),
            },
            dice: Metric::default(),
        }
    }

    #[test]
    fn scores_read_back_from_their_json_form() {
        let original = scores();
        let json = serde_json::to_value(&original).unwrap();
        assert_eq!(json["auc_vs_all"], 0.912_345);
        assert_eq!(json["auc_vs_normal"], serde_json::Value::Null);
        assert_eq!(json["spearman_ci"][0], -0.9);
        let back: Scores = serde_json::from_value(json).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn json_that_is_not_scores_is_refused() {
        let missing = serde_json::json!({"n_studies": 3});
        assert!(serde_json::from_value::<Scores>(missing).is_err());
    }

    #[test]
    fn metric_keys_parse_their_own_names_only() {
        for key in scores().keys() {
            assert_eq!(MetricKey::parse(&key.to_string()), Some(key.clone()));
            assert!(scores().metric(&key).is_some());
        }
        assert_eq!(MetricKey::parse("auc_vs_all_ci"), None);
        assert_eq!(MetricKey::parse("auc_vs_"), None);
        assert_eq!(MetricKey::parse("accuracy"), None);
        assert_eq!(MetricKey::parse("auc_vs_Normal"), None);
        assert!(
            scores()
                .metric(&MetricKey::AucVs("nodules".into()))
                .is_none()
        );
    }

    #[test]
    fn mapping_values_touches_every_estimate_and_bound_and_nothing_else() {
        let rounded = scores().map_values(|v| (v * 100.0).round() / 100.0);
        assert_eq!(rounded.auc_vs_all.value, Some(0.91));
        assert_eq!(rounded.auc_vs_all.ci, Some([0.8, 0.99]));
        assert_eq!(rounded.auc_vs_category[0].1, Metric::default());
        assert_eq!(rounded.n_studies, 10);
    }
}
