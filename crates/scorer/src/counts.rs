//! One fused pass over a study's bit-packed masks that counts every intersection the
//! metrics need: lung sizes, the prediction inside each lung, each rater's mask inside
//! each lung and its overlap with the prediction.

use crate::annotations::DecodedTruth;
use volume::Mask;

/// Voxel counts of one rater's lesion mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RaterCounts {
    /// |L_r|.
    pub total: u64,
    /// |L_r ∩ R| and |L_r ∩ G|.
    pub in_lung: [u64; 2],
    /// |P ∩ L_r| (0 without a prediction).
    pub with_prediction: u64,
}

/// Voxel counts of the submitted mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PredictionCounts {
    /// |P|.
    pub total: u64,
    /// |P ∩ R| and |P ∩ G|.
    pub in_lung: [u64; 2],
}

/// Everything the metrics need from one study's volumes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StudyCounts {
    /// |R| and |G|.
    pub lungs: [u64; 2],
    /// One entry per rater.
    pub raters: Vec<RaterCounts>,
    /// The submitted mask's counts, when there is one.
    pub prediction: Option<PredictionCounts>,
}

/// Counts a study in one pass over the 64-bit words of every mask.
///
/// All masks share the study's grid (the readers check it), so their word vectors have the
/// same length and the same bit layout.
pub fn count_study(truth: &DecodedTruth, predicted: Option<&Mask>) -> StudyCounts {
    let [right, left] = &truth.lungs;
    let (right, left) = (right.words(), left.words());
    let raters: Vec<&[u64]> = truth.raters.iter().map(Mask::words).collect();
    let predicted = predicted.map(Mask::words);
    let mut counts = StudyCounts {
        lungs: [0; 2],
        raters: vec![RaterCounts::default(); raters.len()],
        prediction: predicted.map(|_| PredictionCounts::default()),
    };
    for w in 0..right.len().min(left.len()) {
        let (r, g) = (right[w], left[w]);
        counts.lungs[0] += u64::from(r.count_ones());
        counts.lungs[1] += u64::from(g.count_ones());
        let p = predicted
            .and_then(|words| words.get(w).copied())
            .unwrap_or(0);
        if let Some(prediction) = counts.prediction.as_mut() {
            prediction.total += u64::from(p.count_ones());
            prediction.in_lung[0] += u64::from((p & r).count_ones());
            prediction.in_lung[1] += u64::from((p & g).count_ones());
        }
        for (rater, words) in counts.raters.iter_mut().zip(&raters) {
            let l = words.get(w).copied().unwrap_or(0);
            if l == 0 {
                continue;
            }
            rater.total += u64::from(l.count_ones());
            rater.in_lung[0] += u64::from((l & r).count_ones());
            rater.in_lung[1] += u64::from((l & g).count_ones());
            rater.with_prediction += u64::from((l & p).count_ones());
        }
    }
    counts
}

/// The severity formula, shared with the phantom and the reference pipeline.
pub use metrics::affected_percent;

impl StudyCounts {
    /// Ground-truth affected percentage: the mean of each rater's, 0 without raters.
    pub fn true_severity(&self) -> f64 {
        let per_rater: Vec<f64> = self
            .raters
            .iter()
            .map(|r| affected_percent(r.in_lung, self.lungs))
            .collect();
        metrics::mean(&per_rater).unwrap_or(0.0)
    }

    /// The submitted mask's affected percentage, when there is a mask.
    pub fn predicted_severity(&self) -> Option<f64> {
        self.prediction
            .map(|p| affected_percent(p.in_lung, self.lungs))
    }

    /// Mean Dice over raters, skipping raters with |P| + |L_r| = 0; `None` when every rater
    /// is skipped, there is no rater, or there is no prediction.
    pub fn dice(&self) -> Option<f64> {
        let prediction = self.prediction?;
        let per_rater: Vec<f64> = self
            .raters
            .iter()
            .filter_map(|r| metrics::dice(r.with_prediction, prediction.total, r.total))
            .collect();
        metrics::mean(&per_rater)
    }
}
