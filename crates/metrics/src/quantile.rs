//! Sample quantiles with numpy's default ("linear") interpolation, for percentile
//! bootstrap intervals.

/// Returns the `q`-quantile of `values` (`q` in [0, 1]) with numpy's default method:
/// `np.quantile(values, q)`, i.e. `np.percentile(values, 100 * q)`.
///
/// The sorted values are indexed at the virtual position `h = (n - 1) q` and the two
/// neighbours are interpolated linearly, `a[⌊h⌋] + (h - ⌊h⌋) (a[⌊h⌋ + 1] - a[⌊h⌋])`. Like
/// numpy's `_lerp`, the interpolation is taken from the upper neighbour when the weight is
/// at least 1/2, so results match numpy to the last bit in ordinary cases.
///
/// Degenerate cases give `None`: an empty slice, any NaN, a `q` outside [0, 1] or NaN, and
/// an interpolation between opposite infinities.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let position = (sorted.len() - 1) as f64 * q;
    let below = (position.floor() as usize).min(sorted.len() - 1);
    let above = (below + 1).min(sorted.len() - 1);
    let weight = position - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    let value = if weight == 0.0 {
        // Skipping the arithmetic keeps an infinite order statistic from becoming NaN.
        a
    } else if weight < 0.5 {
        a + (b - a) * weight
    } else {
        b - (b - a) * (1.0 - weight)
    };
    (!value.is_nan()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_midpoint() {
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
    }

    #[test]
    fn the_extreme_quantiles_are_the_minimum_and_maximum() {
        let values = [0.3, -2.0, 7.5, 1.0];
        assert_eq!(quantile(&values, 0.0), Some(-2.0));
        assert_eq!(quantile(&values, 1.0), Some(7.5));
    }

    #[test]
    fn interpolation_matches_numpy_percentile() {
        // np.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [2.5, 97.5]) == [1.225, 9.775]
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((quantile(&values, 0.025).unwrap() - 1.225).abs() < 1e-15);
        assert!((quantile(&values, 0.975).unwrap() - 9.775).abs() < 1e-15);
    }

    #[test]
    fn a_single_value_is_every_quantile() {
        assert_eq!(quantile(&[0.8], 0.025), Some(0.8));
        assert_eq!(quantile(&[0.8], 0.975), Some(0.8));
    }

    #[test]
    fn an_infinite_order_statistic_is_returned_without_nan() {
        assert_eq!(quantile(&[1.0, f64::INFINITY], 1.0), Some(f64::INFINITY));
        assert_eq!(quantile(&[f64::NEG_INFINITY, f64::INFINITY], 0.5), None);
    }

    #[test]
    fn empty_input_nan_or_a_bad_level_gives_none() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[1.0, f64::NAN], 0.5), None);
        assert_eq!(quantile(&[1.0], 1.5), None);
        assert_eq!(quantile(&[1.0], f64::NAN), None);
    }
}
