//! ROC AUC as the Mann-Whitney statistic (EVALUATION.md, section 3).

use crate::ranks::average_ranks;

/// Returns the ROC AUC of scores split into `positives` and `negatives`: the fraction of
/// (positive, negative) pairs in which the positive scores higher, a tie counting 1/2.
///
/// This is the Mann-Whitney U of the positives divided by the number of pairs, and equals
/// scikit-learn's `roc_auc_score`. It is computed from average ranks of the pooled scores in
/// O(n log n): `U = R_pos - n_pos (n_pos + 1) / 2`, where `R_pos` is the positives' rank sum.
/// (statrs' two-sided Mann-Whitney test reports `max(U1, U2)`, which is not the AUC.)
///
/// Degenerate cases: no positives, no negatives, or any NaN gives `None`. Infinite scores
/// are ordinary extreme scores. Constant scores give 0.5.
pub fn roc_auc(positives: &[f64], negatives: &[f64]) -> Option<f64> {
    if positives.is_empty() || negatives.is_empty() {
        return None;
    }
    let pooled: Vec<f64> = positives.iter().chain(negatives).copied().collect();
    let ranks = average_ranks(&pooled)?;
    let n_pos = positives.len() as f64;
    let n_neg = negatives.len() as f64;
    // Ranks are multiples of 1/2, so this sum and U are exact below 2^52 pairs.
    let rank_sum: f64 = ranks[..positives.len()].iter().sum();
    let u = rank_sum - n_pos * (n_pos + 1.0) / 2.0;
    Some(u / (n_pos * n_neg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_separation_gives_one() {
        assert_eq!(roc_auc(&[0.9, 0.8, 0.7], &[0.1, 0.2]), Some(1.0));
    }

    #[test]
    fn reversed_separation_gives_zero() {
        assert_eq!(roc_auc(&[0.1, 0.2], &[0.9, 0.8, 0.7]), Some(0.0));
    }

    #[test]
    fn constant_scores_give_one_half() {
        assert_eq!(roc_auc(&[0.3; 4], &[0.3; 7]), Some(0.5));
    }

    #[test]
    fn a_small_example_with_ties_matches_the_pair_count() {
        // Pairs (p, n): 0.8 beats 0.5, 0.5 and ties 0.8 -> 2.5; 0.5 ties 0.5 twice and
        // loses to 0.8 -> 1; 0.9 beats all three -> 3. Total 6.5 of 9 pairs.
        let auc = roc_auc(&[0.8, 0.5, 0.9], &[0.5, 0.8, 0.5]).unwrap();
        assert!((auc - 6.5 / 9.0).abs() < 1e-15);
    }

    #[test]
    fn one_positive_against_many_negatives_is_its_normalised_rank() {
        assert_eq!(roc_auc(&[2.5], &[1.0, 2.0, 3.0, 4.0]), Some(0.5));
    }

    #[test]
    fn infinite_scores_are_ordinary_extremes() {
        let auc = roc_auc(&[f64::INFINITY, 1.0], &[f64::NEG_INFINITY, 2.0]);
        assert_eq!(auc, Some(0.75));
    }

    #[test]
    fn no_positives_or_no_negatives_gives_none() {
        assert_eq!(roc_auc(&[], &[0.1]), None);
        assert_eq!(roc_auc(&[0.1], &[]), None);
    }

    #[test]
    fn a_nan_score_gives_none() {
        assert_eq!(roc_auc(&[f64::NAN], &[0.1]), None);
        assert_eq!(roc_auc(&[0.2], &[0.1, f64::NAN]), None);
    }
}
