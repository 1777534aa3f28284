//! Average ("mid") ranks, the building block of the Mann-Whitney AUC, Spearman's rho and
//! the DeLong structural components.

use std::cmp::Ordering;

/// Returns the 1-based ranks of `values`, giving tied values the average of the ranks they
/// span (scipy's `rankdata(method="average")`).
///
/// Values are compared numerically: `-0.0` ties with `0.0`, and infinities rank below or
/// above every finite value (two equal infinities tie).
///
/// Degenerate cases: an empty slice gives `Some(vec![])`; any NaN gives `None`, because NaN
/// has no place in an order (statrs' `ranks()` panics on it, which is why it is not used).
pub fn average_ranks(values: &[f64]) -> Option<Vec<f64>> {
    if values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    // `total_cmp` is a total order without NaN; it separates -0.0 from 0.0, but they end
    // up adjacent, so the `==` grouping below still ties them.
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));

    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len()
            && values[order[end]].partial_cmp(&values[order[start]]) == Some(Ordering::Equal)
        {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end; their mean is a multiple of 1/2,
        // exact in f64, which keeps rank sums exact for the AUC.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = rank;
        }
        start = end;
    }
    Some(ranks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_values_get_their_positions_in_sorted_order() {
        assert_eq!(average_ranks(&[3.0, 1.0, 2.0]), Some(vec![3.0, 1.0, 2.0]));
    }

    #[test]
    fn tied_values_share_the_average_of_their_ranks() {
        assert_eq!(
            average_ranks(&[2.0, 1.0, 2.0, 2.0, 5.0]),
            Some(vec![3.0, 1.0, 3.0, 3.0, 5.0])
        );
    }

    #[test]
    fn negative_zero_ties_with_positive_zero() {
        assert_eq!(average_ranks(&[0.0, -0.0, -1.0]), Some(vec![2.5, 2.5, 1.0]));
    }

    #[test]
    fn infinities_rank_at_the_ends_and_tie_with_each_other() {
        let ranks = average_ranks(&[f64::INFINITY, 0.0, f64::NEG_INFINITY, f64::INFINITY]);
        assert_eq!(ranks, Some(vec![3.5, 2.0, 1.0, 3.5]));
    }

    #[test]
    fn an_empty_slice_has_no_ranks() {
        assert_eq!(average_ranks(&[]), Some(vec![]));
    }

    #[test]
    fn a_nan_makes_ranking_impossible() {
        assert_eq!(average_ranks(&[1.0, f64::NAN]), None);
    }
}
