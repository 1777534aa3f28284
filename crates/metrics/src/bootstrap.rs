//! Percentile-bootstrap confidence intervals for the published metrics (EVALUATION.md,
//! section 3): AUC resampling positives and negatives separately, Spearman and Dice
//! resampling COVID studies. Paired comparisons of two entries live in `bootstrap/paired.rs`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{mean, quantile, roc_auc, spearman};

mod paired;

pub use paired::PairedDiff;

/// Settings of a percentile bootstrap, shared by all interval methods.
///
/// Every method seeds a fresh [`ChaCha8Rng`] from `seed`, so a given input always gets the
/// same interval (for a given version of `rand`, whose index sampling defines the stream).
///
/// How degenerate cases are handled, for every method:
/// - If the point estimate is undefined (its function returns `None`), so is the interval.
/// - A resample on which the statistic is undefined (for example a constant resample for
///   Spearman) is skipped. If fewer than half of the `resamples` are valid, the interval
///   is `None`: an interval made of the few lucky resamples would be too narrow.
/// - `resamples == 0` or a `level` outside [0, 1] (or NaN) gives `None`.
///
/// The interval is `[q((1 - level) / 2), q((1 + level) / 2)]` of the valid resampled
/// statistics, with `q` numpy's default linear interpolation ([`quantile`]). A percentile
/// interval need not contain the point estimate, although it does for reasonable data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bootstrap {
    /// Number of resamples drawn.
    pub resamples: usize,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
    /// Coverage of the interval, e.g. 0.95.
    pub level: f64,
}

impl Default for Bootstrap {
    /// The contract's settings: 2000 resamples, [`Bootstrap::DEFAULT_SEED`], 95% level.
    fn default() -> Self {
        Self {
            resamples: 2000,
            seed: Self::DEFAULT_SEED,
            level: 0.95,
        }
    }
}

impl Bootstrap {
    /// The leaderboard's fixed seed: the bytes of the ASCII text `"TRIAGEBD"`.
    pub const DEFAULT_SEED: u64 = u64::from_be_bytes(*b"TRIAGEBD");

    /// Interval of [`roc_auc`], resampling positives and negatives separately (stratified),
    /// each with replacement to its own size, so every resample keeps both classes.
    ///
    /// `None` when the AUC itself is `None` (no positives, no negatives, NaN).
    pub fn auc_ci(&self, positives: &[f64], negatives: &[f64]) -> Option<[f64; 2]> {
        roc_auc(positives, negatives)?;
        let mut rng = self.rng();
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        self.interval(|| {
            resample(&mut rng, positives, &mut pos);
            resample(&mut rng, negatives, &mut neg);
            roc_auc(&pos, &neg)
        })
    }

    /// Interval of [`spearman`], resampling (x, y) pairs with replacement.
    ///
    /// `None` when rho itself is `None`; resamples that come out constant on either side
    /// are skipped (see the type's documentation for when too few remain).
    pub fn spearman_ci(&self, x: &[f64], y: &[f64]) -> Option<[f64; 2]> {
        spearman(x, y)?;
        let mut rng = self.rng();
        let (mut indices, mut xs, mut ys) = (Vec::new(), Vec::new(), Vec::new());
        self.interval(|| {
            draw_indices(&mut rng, x.len(), &mut indices);
            gather(x, &indices, &mut xs);
            gather(y, &indices, &mut ys);
            spearman(&xs, &ys)
        })
    }

    /// Interval of [`mean`], resampling the values with replacement; for Dice the values
    /// are the per-study Dice scores of the COVID studies.
    ///
    /// `None` when the mean itself is `None` (empty or non-finite input).
    pub fn mean_ci(&self, values: &[f64]) -> Option<[f64; 2]> {
        mean(values)?;
        let mut rng = self.rng();
        let mut sample = Vec::new();
        self.interval(|| {
            resample(&mut rng, values, &mut sample);
            mean(&sample)
        })
    }

    fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed)
    }

    /// Runs `statistic` once per resample and turns the valid results into an interval.
    fn interval(&self, statistic: impl FnMut() -> Option<f64>) -> Option<[f64; 2]> {
        let estimates = self.collect(statistic)?;
        self.percentile_interval(&estimates)
    }

    /// Collects the valid resampled statistics, or `None` under the half-valid rule.
    fn collect(&self, mut statistic: impl FnMut() -> Option<f64>) -> Option<Vec<f64>> {
        if self.resamples == 0 {
            return None;
        }
        let estimates: Vec<f64> = (0..self.resamples).filter_map(|_| statistic()).collect();
        (2 * estimates.len() >= self.resamples).then_some(estimates)
    }

    fn percentile_interval(&self, estimates: &[f64]) -> Option<[f64; 2]> {
        if !(0.0..=1.0).contains(&self.level) {
            return None;
        }
        let tail = (1.0 - self.level) / 2.0;
        Some([quantile(estimates, tail)?, quantile(estimates, 1.0 - tail)?])
    }
}

/// Fills `indices` with `n` indices drawn uniformly from `0..n` with replacement.
fn draw_indices(rng: &mut ChaCha8Rng, n: usize, indices: &mut Vec<usize>) {
    indices.clear();
    indices.extend((0..n).map(|_| rng.random_range(0..n)));
}

/// Fills `out` with `source[i]` for each index.
fn gather(source: &[f64], indices: &[usize], out: &mut Vec<f64>) {
    out.clear();
    out.extend(indices.iter().map(|&i| source[i]));
}

/// Fills `out` with a resample of `source` with replacement, of the same size.
fn resample(rng: &mut ChaCha8Rng, source: &[f64], out: &mut Vec<f64>) {
    out.clear();
    out.extend((0..source.len()).map(|_| source[rng.random_range(0..source.len())]));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic, unevenly spread scores in [0, 1) without a random generator.
    pub(super) fn scores(n: usize, offset: f64) -> Vec<f64> {
        (0..n)
            .map(|i| (i as f64 * 0.618_033_988_75 + offset) % 1.0)
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let (pos, neg) = (scores(33, 0.3), scores(68, 0.0));
        let boot = Bootstrap::default();
        assert_eq!(boot.auc_ci(&pos, &neg), boot.auc_ci(&pos, &neg));
        let other = Bootstrap { seed: 7, ..boot };
        assert_ne!(boot.auc_ci(&pos, &neg), other.auc_ci(&pos, &neg));
    }

    #[test]
    fn the_auc_interval_contains_the_point_estimate() {
        let pos: Vec<f64> = scores(33, 0.1).iter().map(|s| s + 0.3).collect();
        let neg = scores(68, 0.0);
        let auc = roc_auc(&pos, &neg).unwrap();
        let [low, high] = Bootstrap::default().auc_ci(&pos, &neg).unwrap();
        assert!(low < auc && auc < high, "{low} < {auc} < {high}");
        assert!((0.0..=1.0).contains(&low) && (0.0..=1.0).contains(&high));
    }

    #[test]
    fn the_spearman_interval_narrows_with_more_studies() {
        let noisy = |n: usize| -> (Vec<f64>, Vec<f64>) {
            let x = scores(n, 0.0);
            let y = x
                .iter()
                .zip(scores(n, 0.5))
                .map(|(a, e)| a + 0.5 * e)
                .collect();
            (x, y)
        };
        let boot = Bootstrap::default();
        let (x, y) = noisy(30);
        let [small_low, small_high] = boot.spearman_ci(&x, &y).unwrap();
        let (x, y) = noisy(300);
        let [large_low, large_high] = boot.spearman_ci(&x, &y).unwrap();
        let rho = spearman(&x, &y).unwrap();
        assert!(large_low < rho && rho < large_high);
        assert!(large_high - large_low < 0.6 * (small_high - small_low));
    }

    #[test]
    fn the_mean_interval_of_constant_values_is_a_point() {
        // Summing ten 0.4s rounds, so compare with the point estimate rather than 0.4.
        let values = [0.4; 10];
        let point = mean(&values).unwrap();
        assert_eq!(Bootstrap::default().mean_ci(&values), Some([point, point]));
    }

    #[test]
    fn a_single_study_gives_a_point_interval_for_the_mean() {
        assert_eq!(Bootstrap::default().mean_ci(&[0.7]), Some([0.7, 0.7]));
    }

    #[test]
    fn an_undefined_point_estimate_gives_no_interval() {
        let boot = Bootstrap::default();
        assert_eq!(boot.auc_ci(&[], &[0.1, 0.2]), None);
        assert_eq!(boot.spearman_ci(&[1.0, 2.0, 3.0], &[1.0; 3]), None);
        assert_eq!(boot.mean_ci(&[]), None);
        assert_eq!(boot.mean_ci(&[f64::NAN]), None);
    }

    #[test]
    fn too_few_valid_resamples_give_no_interval() {
        // Real data rarely trips this rule (even a single distinguishable study lands in
        // about 63% of resamples), so drive it with a statistic of known validity.
        let boot = Bootstrap::default();
        let mut calls = 0;
        let one_in_three = boot.collect(|| {
            calls += 1;
            (calls % 3 == 0).then_some(0.5)
        });
        assert_eq!(one_in_three, None);
        let mut calls = 0;
        let one_in_two = boot.collect(|| {
            calls += 1;
            (calls % 2 == 0).then_some(0.5)
        });
        assert_eq!(one_in_two.map(|e| e.len()), Some(1000));
    }

    #[test]
    fn zero_resamples_or_a_bad_level_give_no_interval() {
        let values = [0.1, 0.5, 0.9];
        assert_eq!(
            Bootstrap {
                resamples: 0,
                ..Bootstrap::default()
            }
            .mean_ci(&values),
            None
        );
        assert_eq!(
            Bootstrap {
                level: 1.5,
                ..Bootstrap::default()
            }
            .mean_ci(&values),
            None
        );
        assert_eq!(
            Bootstrap {
                level: f64::NAN,
                ..Bootstrap::default()
            }
            .mean_ci(&values),
            None
        );
    }
}
