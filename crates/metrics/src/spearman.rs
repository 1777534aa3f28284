//! Spearman's rank correlation (EVALUATION.md, section 3: the severity score).

use crate::ranks::average_ranks;

/// Returns Spearman's rho between `x` and `y`: the Pearson correlation of their average
/// ranks, as `scipy.stats.spearmanr` computes it (ties share their average rank).
///
/// Degenerate cases give `None`: lengths that differ, fewer than 3 pairs (two points are
/// always perfectly correlated, which says nothing), either side constant (its ranks have no
/// variance), or any NaN. Infinite values are ordinary extreme values. The result is
/// clamped to [-1, 1] against rounding.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 3 {
        return None;
    }
    let rx = average_ranks(x)?;
    let ry = average_ranks(y)?;
    // The mean of any set of average ranks of n values is (n + 1) / 2, exactly.
    let centre = (x.len() as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        let (dx, dy) = (a - centre, b - centre);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    // Centred ranks are multiples of 1/2, so these sums are exact and a constant side gives
    // exactly zero rather than a rounding residue.
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monotone_transform_has_rho_one() {
        let x = [0.5, 3.0, 1.0, 10.0, 7.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| v.exp()).collect();
        assert_eq!(spearman(&x, &y), Some(1.0));
    }

    #[test]
    fn a_decreasing_transform_has_rho_minus_one() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [40.0, 30.0, 20.0, 10.0];
        assert_eq!(spearman(&x, &y), Some(-1.0));
    }

    #[test]
    fn a_small_example_without_ties_matches_the_textbook_formula() {
        // rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)); ranks of y are [2, 1, 4, 3, 5],
        // so sum(d^2) = 1 + 1 + 1 + 1 + 0 = 4 and rho = 1 - 24 / 120 = 0.8.
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[20.0, 10.0, 40.0, 30.0, 50.0]).unwrap();
        assert!((rho - 0.8).abs() < 1e-15);
    }

    #[test]
    fn a_small_example_with_ties_is_pearson_on_average_ranks() {
        // Ranks of y = [1, 2, 2, 3] are [1, 2.5, 2.5, 4]; centred [-1.5, 0, 0, 1.5] against
        // x's [-1.5, -0.5, 0.5, 1.5]: rho = 4.5 / sqrt(5 * 4.5) = sqrt(0.9).
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 2.0, 3.0]).unwrap();
        assert!((rho - 0.9_f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn a_constant_side_gives_none() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[0.0, 0.0, 0.0]), None);
        assert_eq!(spearman(&[5.0, 5.0, 5.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn fewer_than_three_pairs_give_none() {
        assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[], &[]), None);
    }

    #[test]
    fn mismatched_lengths_or_nan_give_none() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]), None);
        assert_eq!(spearman(&[1.0, 2.0, f64::NAN], &[1.0, 2.0, 3.0]), None);
    }
}
