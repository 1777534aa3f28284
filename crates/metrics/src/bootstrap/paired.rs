//! Paired bootstrap comparisons of two entries scored on the same studies, used to mark
//! entries that are statistically tied with the leader.

use super::{Bootstrap, draw_indices, gather};
use crate::{mean, spearman};

/// The difference `a - b` between two entries' metric on the same studies, with its
/// percentile-bootstrap interval and a two-sided bootstrap p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedDiff {
    /// Point estimate of metric(a) - metric(b) on all studies.
    pub difference: f64,
    /// Percentile interval of the resampled differences, as in [`Bootstrap`].
    pub ci: [f64; 2],
    /// Two-sided p-value of "no difference": `min(1, 2 min(P*(d <= 0), P*(d >= 0)))`, where
    /// `P*` is the fraction of valid resamples. Identical entries get 1; a difference whose
    /// sign never flips across resamples gets 0 (read it as below `1 / resamples`).
    pub p_value: f64,
}

impl Bootstrap {
    /// Compares the Spearman rho of two severity predictions, `rho(truth, pred_a) -
    /// rho(truth, pred_b)`, resampling the same study indices for both entries so that the
    /// studies' shared difficulty cancels out.
    ///
    /// `None` when the three lengths differ, when either rho is `None` (n < 3, a constant
    /// side, NaN), or under the rules of [`Bootstrap`]; a resample on which either rho is
    /// undefined is skipped.
    pub fn paired_spearman_diff(
        &self,
        truth: &[f64],
        pred_a: &[f64],
        pred_b: &[f64],
    ) -> Option<PairedDiff> {
        if pred_a.len() != truth.len() || pred_b.len() != truth.len() {
            return None;
        }
        let difference = spearman(truth, pred_a)? - spearman(truth, pred_b)?;
        let mut rng = self.rng();
        let mut indices = Vec::new();
        let (mut t, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
        self.paired(difference, || {
            draw_indices(&mut rng, truth.len(), &mut indices);
            gather(truth, &indices, &mut t);
            gather(pred_a, &indices, &mut a);
            gather(pred_b, &indices, &mut b);
            Some(spearman(&t, &a)? - spearman(&t, &b)?)
        })
    }

    /// Compares the means of two entries' per-study values (for Dice, each entry's
    /// per-study Dice on the same COVID studies, in the same order), `mean(a) - mean(b)`,
    /// resampling the same study indices for both.
    ///
    /// `None` when the lengths differ or either mean is `None` (empty, non-finite), or under
    /// the rules of [`Bootstrap`].
    pub fn paired_mean_diff(&self, a: &[f64], b: &[f64]) -> Option<PairedDiff> {
        if a.len() != b.len() {
            return None;
        }
        let difference = mean(a)? - mean(b)?;
        let mut rng = self.rng();
        let (mut indices, mut ra, mut rb) = (Vec::new(), Vec::new(), Vec::new());
        self.paired(difference, || {
            draw_indices(&mut rng, a.len(), &mut indices);
            gather(a, &indices, &mut ra);
            gather(b, &indices, &mut rb);
            Some(mean(&ra)? - mean(&rb)?)
        })
    }

    /// Collects resampled differences and summarises them around the point `difference`.
    fn paired(
        &self,
        difference: f64,
        statistic: impl FnMut() -> Option<f64>,
    ) -> Option<PairedDiff> {
        if !difference.is_finite() {
            return None;
        }
        let estimates = self.collect(statistic)?;
        let ci = self.percentile_interval(&estimates)?;
        let valid = estimates.len() as f64;
        let at_most_zero = estimates.iter().filter(|&&d| d <= 0.0).count() as f64 / valid;
        let at_least_zero = estimates.iter().filter(|&&d| d >= 0.0).count() as f64 / valid;
        let p_value = (2.0 * at_most_zero.min(at_least_zero)).min(1.0);
        Some(PairedDiff {
            difference,
            ci,
            p_value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::tests::scores;

    #[test]
    fn identical_entries_differ_by_zero_with_p_one() {
        let truth = scores(33, 0.0);
        let pred: Vec<f64> = truth
            .iter()
            .zip(scores(33, 0.4))
            .map(|(t, e)| t + e)
            .collect();
        let diff = Bootstrap::default()
            .paired_spearman_diff(&truth, &pred, &pred)
            .unwrap();
        assert_eq!(
            diff,
            PairedDiff {
                difference: 0.0,
                ci: [0.0, 0.0],
                p_value: 1.0
            }
        );
    }

    #[test]
    fn a_clearly_better_entry_has_a_small_p_value_and_a_positive_interval() {
        let truth = scores(60, 0.0);
        let good: Vec<f64> = truth
            .iter()
            .zip(scores(60, 0.3))
            .map(|(t, e)| t + 0.1 * e)
            .collect();
        let bad: Vec<f64> = truth
            .iter()
            .zip(scores(60, 0.7))
            .map(|(t, e)| t + 3.0 * e)
            .collect();
        let diff = Bootstrap::default()
            .paired_spearman_diff(&truth, &good, &bad)
            .unwrap();
        assert!(diff.difference > 0.0);
        assert!(diff.ci[0] > 0.0, "{:?}", diff.ci);
        assert!(diff.p_value < 0.01);
    }

    #[test]
    fn swapping_the_entries_negates_the_difference_and_keeps_the_p_value() {
        let a = scores(40, 0.2);
        let b: Vec<f64> = scores(40, 0.9).iter().map(|v| v * 0.9).collect();
        let boot = Bootstrap::default();
        let ab = boot.paired_mean_diff(&a, &b).unwrap();
        let ba = boot.paired_mean_diff(&b, &a).unwrap();
        assert!((ab.difference + ba.difference).abs() < 1e-15);
        assert!((ab.ci[0] + ba.ci[1]).abs() < 1e-12 && (ab.ci[1] + ba.ci[0]).abs() < 1e-12);
        assert_eq!(ab.p_value, ba.p_value);
    }

    #[test]
    fn the_paired_comparison_is_deterministic_for_a_seed() {
        let (a, b) = (scores(33, 0.1), scores(33, 0.5));
        let boot = Bootstrap::default();
        assert_eq!(boot.paired_mean_diff(&a, &b), boot.paired_mean_diff(&a, &b));
    }

    #[test]
    fn mismatched_or_degenerate_entries_give_none() {
        let boot = Bootstrap::default();
        assert_eq!(boot.paired_mean_diff(&[0.1, 0.2], &[0.1]), None);
        assert_eq!(boot.paired_mean_diff(&[], &[]), None);
        let truth = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(boot.paired_spearman_diff(&truth, &[0.0; 4], &truth), None);
        assert_eq!(boot.paired_spearman_diff(&truth, &truth, &truth[..3]), None);
    }
}
