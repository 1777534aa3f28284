//! The arithmetic mean, used to average per-study Dice and by the bootstrap, and the mean
//! with its sample standard deviation, for a figure measured over repeated draws.

/// Returns the arithmetic mean of `values`.
///
/// Degenerate cases give `None`: an empty slice, and a mean that is not finite (any NaN,
/// infinite values, or a sum that overflows), since a leaderboard number must be a number.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let value = values.iter().sum::<f64>() / values.len() as f64;
    value.is_finite().then_some(value)
}

/// Returns the mean of `values` and their sample standard deviation (`n - 1` in the
/// denominator): how much a figure varies from one draw to the next.
///
/// `None` for fewer than two values, or where either is not finite.
pub fn mean_and_sd(values: &[f64]) -> Option<(f64, f64)> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let sum_sq = values.iter().map(|v| (v - m).powi(2)).sum::<f64>();
    let sd = (sum_sq / (values.len() - 1) as f64).sqrt();
    sd.is_finite().then_some((m, sd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_a_few_values_is_their_sum_over_their_count() {
        assert_eq!(mean(&[0.5, 1.0, 0.0, 0.5]), Some(0.5));
    }

    #[test]
    fn a_single_study_is_its_own_mean() {
        assert_eq!(mean(&[0.37]), Some(0.37));
    }

    #[test]
    fn an_empty_slice_has_no_mean() {
        assert_eq!(mean(&[]), None);
    }

    #[test]
    fn the_sample_standard_deviation_divides_by_one_less_than_the_count() {
        let (m, sd) = mean_and_sd(&[1.0, 2.0, 3.0, 4.0]).expect("four values");
        assert_eq!(m, 2.5);
        // Squares about the mean: 2.25 + 0.25 + 0.25 + 2.25 = 5, over 3.
        assert!((sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12, "{sd}");
        assert_eq!(mean_and_sd(&[0.7, 0.7]), Some((0.7, 0.0)));
    }

    #[test]
    fn one_value_or_non_finite_input_has_no_spread() {
        assert_eq!(mean_and_sd(&[0.7]), None);
        assert_eq!(mean_and_sd(&[]), None);
        assert_eq!(mean_and_sd(&[0.7, f64::NAN]), None);
        assert_eq!(mean_and_sd(&[f64::MAX, -f64::MAX]), None);
    }

    #[test]
    fn non_finite_input_or_overflow_gives_none() {
        assert_eq!(mean(&[1.0, f64::NAN]), None);
        assert_eq!(mean(&[f64::INFINITY, 1.0]), None);
        assert_eq!(mean(&[f64::MAX, f64::MAX]), None);
    }
}
