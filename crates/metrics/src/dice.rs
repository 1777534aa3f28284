//! The Dice overlap of a predicted and a ground-truth lesion mask, from voxel counts
//! (EVALUATION.md, section 3).

/// Returns the Dice coefficient `2 |P ∩ L| / (|P| + |L|)` from the voxel counts of the
/// intersection, the predicted mask `P` and the ground-truth mask `L`.
///
/// Degenerate cases give `None`: `|P| + |L| = 0` (both masks empty; the contract skips
/// that rater rather than inventing a score), and counts that cannot come from two masks
/// (an intersection larger than either mask). Counts are summed in 128 bits, so no input
/// overflows.
pub fn dice(intersection: u64, predicted: u64, truth: u64) -> Option<f64> {
    if intersection > predicted.min(truth) {
        return None;
    }
    let total = u128::from(predicted) + u128::from(truth);
    if total == 0 {
        return None;
    }
    Some((2 * u128::from(intersection)) as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_masks_give_one() {
        assert_eq!(dice(120, 120, 120), Some(1.0));
    }

    #[test]
    fn disjoint_masks_give_zero() {
        assert_eq!(dice(0, 50, 70), Some(0.0));
    }

    #[test]
    fn an_empty_prediction_against_a_lesion_gives_zero() {
        assert_eq!(dice(0, 0, 70), Some(0.0));
    }

    #[test]
    fn a_partial_overlap_matches_the_formula() {
        // 2 * 30 / (40 + 60) = 0.6.
        assert_eq!(dice(30, 40, 60), Some(0.6));
    }

    #[test]
    fn two_empty_masks_give_none() {
        assert_eq!(dice(0, 0, 0), None);
    }

    #[test]
    fn an_intersection_larger_than_a_mask_gives_none() {
        assert_eq!(dice(5, 4, 10), None);
    }

    #[test]
    fn the_largest_counts_do_not_overflow() {
        assert_eq!(dice(u64::MAX, u64::MAX, u64::MAX), Some(1.0));
    }
}
