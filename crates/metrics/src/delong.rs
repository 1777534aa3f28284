//! DeLong's variance of the ROC AUC and his test for two correlated AUCs.
//!
//! E. R. DeLong, D. M. DeLong, D. L. Clarke-Pearson, "Comparing the areas under two or more
//! correlated receiver operating characteristic curves: a nonparametric approach",
//! Biometrics 44 (1988) 837-845. The structural components are computed from average ranks
//! in O(n log n) as in X. Sun, W. Xu, "Fast implementation of DeLong's algorithm",
//! IEEE Signal Processing Letters 21 (2014) 1389-1393.

use statrs::distribution::{ContinuousCDF, Normal};

use crate::ranks::average_ranks;

/// DeLong's test of `AUC(a) = AUC(b)` for two scores of the same studies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedDeLong {
    /// AUC of score `a`.
    pub auc_a: f64,
    /// AUC of score `b`.
    pub auc_b: f64,
    /// `(auc_a - auc_b) / sd`, with `sd` DeLong's standard error of the difference.
    pub z: f64,
    /// Two-sided p-value `2 (1 - Φ(|z|))` from the standard normal.
    pub p_value: f64,
}

/// DeLong's structural components of one AUC, kept in count units so they are exact.
struct Components {
    /// Per positive: negatives scoring lower, ties counting 1/2 (n times DeLong's V10).
    per_positive: Vec<f64>,
    /// Per negative: positives scoring higher, ties counting 1/2 (m times DeLong's V01).
    per_negative: Vec<f64>,
}

impl Components {
    /// `None` with fewer than two positives or negatives (no sample variance) or any NaN.
    fn new(positives: &[f64], negatives: &[f64]) -> Option<Self> {
        if positives.len() < 2 || negatives.len() < 2 {
            return None;
        }
        let pooled: Vec<f64> = positives.iter().chain(negatives).copied().collect();
        let pooled_ranks = average_ranks(&pooled)?;
        let (pos_ranks, neg_ranks) = (average_ranks(positives)?, average_ranks(negatives)?);
        let (pooled_pos, pooled_neg) = pooled_ranks.split_at(positives.len());
        // A positive's rank among all scores minus its rank among the positives counts the
        // negatives below it (ties 1/2); symmetrically for a negative (Sun & Xu, eq. 8).
        let per_positive = pooled_pos
            .iter()
            .zip(&pos_ranks)
            .map(|(z, x)| z - x)
            .collect();
        let m = positives.len() as f64;
        let per_negative = pooled_neg
            .iter()
            .zip(&neg_ranks)
            .map(|(z, y)| m - (z - y))
            .collect();
        Some(Self {
            per_positive,
            per_negative,
        })
    }

    fn auc(&self) -> f64 {
        let (m, n) = (
            self.per_positive.len() as f64,
            self.per_negative.len() as f64,
        );
        self.per_positive.iter().sum::<f64>() / (m * n)
    }

    /// DeLong's `S10 / m + S01 / n` for components `per_positive`, `per_negative` (count
    /// units, hence the extra division by n² and m²).
    fn variance(per_positive: &[f64], per_negative: &[f64]) -> f64 {
        let (m, n) = (per_positive.len() as f64, per_negative.len() as f64);
        sample_variance(per_positive) / (n * n * m) + sample_variance(per_negative) / (m * m * n)
    }
}

/// Sample variance (denominator `len - 1`, as `np.cov`); needs at least two values.
fn sample_variance(values: &[f64]) -> f64 {
    let count = values.len() as f64;
    let centre = values.iter().sum::<f64>() / count;
    values
        .iter()
        .map(|v| (v - centre) * (v - centre))
        .sum::<f64>()
        / (count - 1.0)
}

/// Returns DeLong's estimate of the variance of [`roc_auc`](crate::roc_auc)`(positives,
/// negatives)`.
///
/// Degenerate cases: fewer than two positives or fewer than two negatives (the sample
/// variances of the structural components need two values each) or any NaN gives `None`.
/// Perfect separation gives `Some(0.0)`: every component is at its extreme.
pub fn auc_variance(positives: &[f64], negatives: &[f64]) -> Option<f64> {
    let c = Components::new(positives, negatives)?;
    Some(Components::variance(&c.per_positive, &c.per_negative))
}

/// DeLong's test comparing the AUCs of two scores `a` and `b` of the same studies:
/// `a_pos[i]` and `b_pos[i]` must score the same positive study, likewise for negatives.
///
/// The variance of `AUC(a) - AUC(b)` is the DeLong variance of the differences of the two
/// scores' structural components, which accounts for their correlation. The p-value is
/// two-sided from the standard normal.
///
/// Degenerate cases: `a` and `b` sides of different lengths, fewer than two positives or
/// negatives, or any NaN gives `None`. When the variance of the difference is zero (for
/// example identical predictions, or predictions with the same order) equal AUCs give
/// `z = 0` and `p = 1`, and different AUCs give `z = ±∞` and `p = 0`: the difference then
/// holds for every study, with no sampling spread at all. `z` is never NaN.
pub fn paired_delong(
    a_pos: &[f64],
    a_neg: &[f64],
    b_pos: &[f64],
    b_neg: &[f64],
) -> Option<PairedDeLong> {
    if a_pos.len() != b_pos.len() || a_neg.len() != b_neg.len() {
        return None;
    }
    let a = Components::new(a_pos, a_neg)?;
    let b = Components::new(b_pos, b_neg)?;
    let (auc_a, auc_b) = (a.auc(), b.auc());
    // Differences of exact half-integer counts are exact, so scores ordering the studies
    // alike give exactly zero variance instead of a rounding residue and a huge z.
    let diff = |x: &[f64], y: &[f64]| -> Vec<f64> { x.iter().zip(y).map(|(p, q)| p - q).collect() };
    let variance = Components::variance(
        &diff(&a.per_positive, &b.per_positive),
        &diff(&a.per_negative, &b.per_negative),
    );
    let z = if variance > 0.0 {
        (auc_a - auc_b) / variance.sqrt()
    } else if auc_a == auc_b {
        0.0
    } else {
        f64::INFINITY.copysign(auc_a - auc_b)
    };
    // The survival function keeps precision in the far tail, where 1 - cdf would round to 0.
    let p_value = (2.0 * Normal::standard().sf(z.abs())).min(1.0);
    Some(PairedDeLong {
        auc_a,
        auc_b,
        z,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DeLong's variance computed straight from the definition, O(m n).
    fn textbook_variance(positives: &[f64], negatives: &[f64]) -> f64 {
        let psi = |x: f64, y: f64| {
            if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            }
        };
        let (m, n) = (positives.len() as f64, negatives.len() as f64);
        let v10: Vec<f64> = positives
            .iter()
            .map(|&x| negatives.iter().map(|&y| psi(x, y)).sum::<f64>() / n)
            .collect();
        let v01: Vec<f64> = negatives
            .iter()
            .map(|&y| positives.iter().map(|&x| psi(x, y)).sum::<f64>() / m)
            .collect();
        sample_variance(&v10) / m + sample_variance(&v01) / n
    }

    #[test]
    fn the_fast_variance_matches_the_textbook_definition_with_ties() {
        let pos = [0.9, 0.5, 0.5, 0.8, 0.3, 0.7];
        let neg = [0.5, 0.1, 0.3, 0.6, 0.2];
        let fast = auc_variance(&pos, &neg).unwrap();
        assert!((fast - textbook_variance(&pos, &neg)).abs() < 1e-15);
        assert!(fast > 0.0);
    }

    #[test]
    fn perfect_separation_has_zero_variance() {
        assert_eq!(auc_variance(&[0.9, 0.8, 0.7], &[0.1, 0.2]), Some(0.0));
    }

    #[test]
    fn fewer_than_two_positives_or_negatives_give_none() {
        assert_eq!(auc_variance(&[0.9], &[0.1, 0.2]), None);
        assert_eq!(auc_variance(&[0.9, 0.8], &[0.1]), None);
        assert_eq!(
            paired_delong(&[0.9], &[0.1, 0.2], &[0.9], &[0.1, 0.2]),
            None
        );
    }

    #[test]
    fn nan_or_mismatched_sides_give_none() {
        assert_eq!(auc_variance(&[0.9, f64::NAN], &[0.1, 0.2]), None);
        assert_eq!(
            paired_delong(&[0.9, 0.8], &[0.1, 0.2], &[0.9, 0.8, 0.7], &[0.1, 0.2]),
            None
        );
    }

    #[test]
    fn identical_predictions_give_z_zero_and_p_one() {
        let (pos, neg) = ([0.9, 0.4, 0.6], [0.5, 0.1, 0.6, 0.2]);
        let test = paired_delong(&pos, &neg, &pos, &neg).unwrap();
        assert_eq!((test.z, test.p_value), (0.0, 1.0));
        assert_eq!(test.auc_a, test.auc_b);
    }

    #[test]
    fn a_monotone_transform_is_indistinguishable() {
        let (pos, neg) = ([0.9, 0.4, 0.6], [0.5, 0.1, 0.6, 0.2]);
        let (pos_b, neg_b) = (pos.map(|v: f64| v * v), neg.map(|v: f64| v * v));
        let test = paired_delong(&pos, &neg, &pos_b, &neg_b).unwrap();
        assert_eq!((test.z, test.p_value), (0.0, 1.0));
    }

    #[test]
    fn a_certain_difference_gives_infinite_z_and_p_zero() {
        // a separates perfectly, b inverts perfectly: no component varies within either.
        let test = paired_delong(&[0.9, 0.8], &[0.1, 0.2], &[0.1, 0.2], &[0.9, 0.8]).unwrap();
        assert_eq!((test.auc_a, test.auc_b), (1.0, 0.0));
        assert_eq!((test.z, test.p_value), (f64::INFINITY, 0.0));
    }

    #[test]
    fn swapping_the_scores_negates_z_and_keeps_p() {
        let (a_pos, a_neg) = ([0.9, 0.4, 0.6, 0.7], [0.5, 0.1, 0.65, 0.2, 0.3]);
        let (b_pos, b_neg) = ([0.3, 0.8, 0.6, 0.2], [0.5, 0.4, 0.1, 0.9, 0.3]);
        let ab = paired_delong(&a_pos, &a_neg, &b_pos, &b_neg).unwrap();
        let ba = paired_delong(&b_pos, &b_neg, &a_pos, &a_neg).unwrap();
        assert_eq!(ab.z, -ba.z);
        assert_eq!(ab.p_value, ba.p_value);
        assert!(ab.z.is_finite() && (0.0..=1.0).contains(&ab.p_value));
    }
}
