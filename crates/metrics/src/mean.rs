//! The arithmetic mean, used to average per-study Dice and by the bootstrap.

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
    fn non_finite_input_or_overflow_gives_none() {
        assert_eq!(mean(&[1.0, f64::NAN]), None);
        assert_eq!(mean(&[f64::INFINITY, 1.0]), None);
        assert_eq!(mean(&[f64::MAX, f64::MAX]), None);
    }
}
