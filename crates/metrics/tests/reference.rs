//! Checks the metrics against reference values from scikit-learn, scipy, numpy and a
//! textbook DeLong implementation, written by `tests/reference/make_vectors.py`.

use serde_json::Value;

const VECTORS: &str = include_str!("reference/vectors.json");

/// Tolerance for AUC, rho, ranks and quantiles: rounding only.
const EXACT: f64 = 1e-12;
/// Tolerance for DeLong: the reference sums a different expression of the same variance.
const DELONG: f64 = 1e-9;

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vectors.json is valid JSON")
}

fn cases<'a>(vectors: &'a Value, key: &str) -> &'a [Value] {
    vectors[key]
        .as_array()
        .unwrap_or_else(|| panic!("vectors.json has no {key} list"))
}

fn floats(case: &Value, key: &str) -> Vec<f64> {
    let list = case[key]
        .as_array()
        .unwrap_or_else(|| panic!("{case}: no list {key}"));
    list.iter()
        .map(|v| v.as_f64().expect("numbers only"))
        .collect()
}

/// A number, `null` (a degenerate metric), or `"inf"` / `"-inf"` (JSON has no infinity).
fn expected(case: &Value, key: &str) -> Option<f64> {
    match &case[key] {
        Value::Null => None,
        Value::String(s) if s == "inf" => Some(f64::INFINITY),
        Value::String(s) if s == "-inf" => Some(f64::NEG_INFINITY),
        value => Some(
            value
                .as_f64()
                .unwrap_or_else(|| panic!("{key} of {case} is a number")),
        ),
    }
}

fn assert_close(name: &str, what: &str, got: Option<f64>, want: Option<f64>, tolerance: f64) {
    match (got, want) {
        (Some(g), Some(w)) if g == w || (g - w).abs() <= tolerance => {}
        (None, None) => {}
        _ => panic!("{name}: {what} is {got:?}, scikit-learn/scipy/numpy say {want:?}"),
    }
}

fn name(case: &Value) -> &str {
    case["name"].as_str().unwrap_or("unnamed")
}

#[test]
fn auc_matches_scikit_learn_roc_auc_score() {
    let vectors = vectors();
    let cases = cases(&vectors, "auc");
    assert!(cases.len() >= 20);
    for case in cases {
        let (pos, neg) = (floats(case, "positives"), floats(case, "negatives"));
        let got = metrics::roc_auc(&pos, &neg);
        assert_close(name(case), "AUC", got, expected(case, "auc"), EXACT);
    }
}

#[test]
fn delong_variance_matches_the_textbook_definition() {
    let vectors = vectors();
    for case in cases(&vectors, "auc") {
        let (pos, neg) = (floats(case, "positives"), floats(case, "negatives"));
        let got = metrics::auc_variance(&pos, &neg);
        assert_close(
            name(case),
            "DeLong variance",
            got,
            expected(case, "delong_variance"),
            DELONG,
        );
    }
}

#[test]
fn paired_delong_matches_the_textbook_test() {
    let vectors = vectors();
    for case in cases(&vectors, "paired_delong") {
        let sides = ["a_pos", "a_neg", "b_pos", "b_neg"].map(|key| floats(case, key));
        let got = metrics::paired_delong(&sides[0], &sides[1], &sides[2], &sides[3])
            .unwrap_or_else(|| panic!("{}: the test is defined", name(case)));
        let name = name(case);
        assert_close(
            name,
            "auc_a",
            Some(got.auc_a),
            expected(case, "auc_a"),
            EXACT,
        );
        assert_close(
            name,
            "auc_b",
            Some(got.auc_b),
            expected(case, "auc_b"),
            EXACT,
        );
        assert_close(name, "z", Some(got.z), expected(case, "z"), DELONG);
        assert_close(
            name,
            "p",
            Some(got.p_value),
            expected(case, "p_value"),
            DELONG,
        );
    }
}

#[test]
fn spearman_matches_scipy_spearmanr() {
    let vectors = vectors();
    for case in cases(&vectors, "spearman") {
        let got = metrics::spearman(&floats(case, "x"), &floats(case, "y"));
        assert_close(name(case), "rho", got, expected(case, "rho"), EXACT);
    }
}

#[test]
fn average_ranks_match_scipy_rankdata() {
    let vectors = vectors();
    for case in cases(&vectors, "ranks") {
        let got = metrics::average_ranks(&floats(case, "values"));
        assert_eq!(got, Some(floats(case, "ranks")));
    }
}

#[test]
fn quantiles_match_numpy_percentile() {
    let vectors = vectors();
    for case in cases(&vectors, "quantile") {
        let values = floats(case, "values");
        for (q, want) in floats(case, "q").into_iter().zip(floats(case, "expected")) {
            let got = metrics::quantile(&values, q);
            assert_close(
                &format!("n = {}", values.len()),
                "quantile",
                got,
                Some(want),
                EXACT,
            );
        }
    }
}
