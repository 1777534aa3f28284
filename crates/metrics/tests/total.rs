//! Every public function is total: on hostile input it returns `None` or a number, never a
//! NaN and never a panic (the scorer publishes whatever comes back).

use metrics::Bootstrap;

/// Inputs that have broken metric code before: empty, NaN, infinities, signed zeros,
/// overflow-prone magnitudes, constants, single values.
fn hostile() -> Vec<Vec<f64>> {
    vec![
        vec![],
        vec![f64::NAN],
        vec![0.5],
        vec![1.0, f64::NAN, 0.0],
        vec![f64::INFINITY, f64::NEG_INFINITY, 0.0],
        vec![f64::INFINITY, f64::INFINITY, f64::INFINITY],
        vec![0.0, -0.0, 0.0, -0.0],
        vec![f64::MAX, -f64::MAX, f64::MAX],
        vec![f64::MIN_POSITIVE, 5e-324, 0.0, 1.0],
        vec![0.3; 5],
        vec![0.1, 0.9, 0.4, 0.4, 0.7],
    ]
}

fn number(value: Option<f64>) {
    if let Some(v) = value {
        assert!(!v.is_nan());
    }
}

fn interval(value: Option<[f64; 2]>) {
    if let Some([low, high]) = value {
        assert!(low <= high, "[{low}, {high}]");
    }
}

#[test]
fn no_function_panics_or_returns_nan_on_hostile_input() {
    // Few resamples keep the 121 pairs of inputs fast; the rules are the same.
    let boot = Bootstrap {
        resamples: 50,
        ..Bootstrap::default()
    };
    let inputs = hostile();
    for a in &inputs {
        number(metrics::mean(a));
        number(metrics::quantile(a, 0.025));
        interval(boot.mean_ci(a));
        for b in &inputs {
            number(metrics::roc_auc(a, b));
            number(metrics::spearman(a, b));
            number(metrics::auc_variance(a, b));
            interval(boot.auc_ci(a, b));
            interval(boot.spearman_ci(a, b));
            if let Some(diff) = boot.paired_mean_diff(a, b) {
                assert!(!diff.difference.is_nan() && !diff.p_value.is_nan());
            }
            if let Some(diff) = boot.paired_spearman_diff(a, a, b) {
                assert!(!diff.difference.is_nan() && (0.0..=1.0).contains(&diff.p_value));
            }
            if let Some(test) = metrics::paired_delong(a, b, b, a) {
                assert!(!test.z.is_nan() && (0.0..=1.0).contains(&test.p_value));
            }
        }
    }
}

#[test]
fn dice_is_total_over_extreme_counts() {
    for (i, p, t) in [
        (0, 0, 0),
        (u64::MAX, u64::MAX, 0),
        (1, 0, 1),
        (u64::MAX, u64::MAX, u64::MAX),
    ] {
        number(metrics::dice(i, p, t));
    }
}
