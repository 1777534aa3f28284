//! What participants may see (EVALUATION.md section 5), in one place on the way out:
//! scores rounded to display precision, and the bound on what a final submission can
//! reveal of the private split that the organizers' page shows.
//!
//! Everything else a participant reads is built from these: the API's submission views,
//! the boards, their exports and plots. Organizers read the stored full-precision values.

use scorer::{MetricKey, Scores, Split};

use crate::state::TestSet;

/// Decimals of every number a participant can read (EVALUATION.md 5.2).
pub const DISPLAY_DECIMALS: i32 = 3;

/// `value` at display precision.
pub fn round(value: f64) -> f64 {
    let scale = 10f64.powi(DISPLAY_DECIMALS);
    let rounded = (value * scale).round() / scale;
    // -0.0 would print as "-0"; a participant should read 0.
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// Organizer-precision scores turned into what a participant may see.
pub fn for_participant(scores: &Scores) -> Scores {
    scores.map_values(round)
}

/// Studies per category in one split, from the hidden labels (organizers only).
fn counts(testset: &TestSet, split: Split) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (i, study) in testset.annotations.studies().iter().enumerate() {
        if !testset.in_split(i, split) {
            continue;
        }
        match counts.iter_mut().find(|(c, _)| *c == study.category) {
            Some((_, n)) => *n += 1,
            None => counts.push((study.category.clone(), 1)),
        }
    }
    counts.sort();
    counts
}

/// One published number of a final submission and how many values it can take.
#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    /// The metric.
    pub key: MetricKey,
    /// Distinct values it can show at display precision.
    pub levels: u64,
}

/// An upper bound, in bits, on what one final submission's private-split scores can tell
/// about the private split's labels: the sum over the published numbers of
/// `log2(distinct values each can show)`, where
/// - an AUC against category c takes at most `min(2 n_covid n_c + 1, 1001)` values (the
///   Mann-Whitney count in half steps, or the 1001 three-decimal values in [0, 1]);
///   AUC vs all adds nothing: it is a function of the per-category counts;
/// - Spearman's rho takes at most 2001 values in [-1, 1], Dice at most 1001;
/// - every interval bound takes at most as many values as its metric.
///
/// A channel counts only if it can carry information: a bound this loose is what no
/// design can beat, not what an attack achieves (see docs/integrity.md).
pub fn final_channels(testset: &TestSet) -> Vec<Channel> {
    let counts = counts(testset, Split::Private);
    let covid = counts
        .iter()
        .find(|(c, _)| c == scorer::scores::POSITIVE)
        .map_or(0, |(_, n)| *n as u64);
    let mut channels: Vec<Channel> = counts
        .iter()
        .filter(|(c, _)| c != scorer::scores::POSITIVE)
        .map(|(c, n)| Channel {
            key: MetricKey::AucVs(c.clone()),
            levels: (2 * covid * *n as u64 + 1).min(1001),
        })
        .collect();
    channels.push(Channel {
        key: MetricKey::Spearman,
        levels: 2001,
    });
    channels.push(Channel {
        key: MetricKey::Dice,
        levels: 1001,
    });
    channels
}

/// [`final_channels`] in bits: the point estimates alone, and with both interval bounds.
pub fn final_bits(testset: &TestSet) -> (f64, f64) {
    let points: f64 = final_channels(testset)
        .iter()
        .map(|c| (c.levels as f64).log2())
        .sum();
    (points, 3.0 * points)
}

/// The entropy, in bits, of the private split's labels given its category counts: what
/// an attacker who knows the counts still has to learn (`log2` of the multinomial).
pub fn private_label_bits(testset: &TestSet) -> f64 {
    let counts = counts(testset, Split::Private);
    let ln_factorial = |n: usize| (1..=n).map(|k| (k as f64).ln()).sum::<f64>();
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let ln = ln_factorial(total) - counts.iter().map(|(_, n)| ln_factorial(*n)).sum::<f64>();
    ln / std::f64::consts::LN_2
}

#[cfg(test)]
mod tests {
    use super::round;

    #[test]
    fn values_are_rounded_to_three_decimals_and_never_show_minus_zero() {
        assert_eq!(round(0.951_234), 0.951);
        assert_eq!(round(0.9995), 1.0);
        assert_eq!(round(-0.0004), 0.0);
        assert!(round(-0.0004).is_sign_positive());
        assert_eq!(round(-0.123_56), -0.124);
    }
}
