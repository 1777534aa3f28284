//! Model selection on the validation split: the metrics of the paper on the working grid,
//! with ground-truth lungs, over at most [`Recipe::val_slices`](crate::zoo::Recipe) slices
//! of each study so that validation stays a small part of training.

use super::sample::{gather, model_box, spread, study_slices};
use crate::data::Sample;
use crate::infer::run_net;
use crate::nets::{Arch, Dims, Net};
use crate::prep::Stack;
use crate::zoo::{ModelConfig, Task};
use anyhow::Result;
use candle_core::Device;
use serde::{Deserialize, Serialize};

/// Validation metrics (each `None` where it does not apply or is undefined).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ValMetrics {
    /// Mean Dice of lesion masks over COVID-19 studies (working grid, ground-truth lungs).
    pub dice: Option<f64>,
    /// ROC AUC against all other studies (probability, else predicted affected percentage).
    pub auc_vs_all: Option<f64>,
    /// Spearman's rho of predicted and true severity over COVID-19 studies.
    pub spearman: Option<f64>,
    /// Mean Dice of both lungs (the lungs model).
    pub lung_dice: Option<f64>,
}

impl ValMetrics {
    /// The number model selection maximises.
    pub fn selection(&self, task: Task) -> f64 {
        let v = match task {
            Task::Lungs => self.lung_dice,
            Task::Lesions => self.dice,
            Task::Classifier => self.auc_vs_all,
            Task::Multitask => self.dice.zip(self.auc_vs_all).map(|(d, a)| (d + a) / 2.0),
            Task::Threshold => None,
        };
        v.unwrap_or(f64::NEG_INFINITY)
    }
}

/// Predicted affected percentage (larger lung) on the working grid: lesion and lung maps
/// thresholded at 0.5, then [`metrics::affected_percent_of`].
pub fn working_severity(lesions: &Stack, right: &Stack, left: &Stack) -> f64 {
    let labels = right.data.iter().zip(&left.data).map(|(&r, &l)| {
        if r >= 0.5 {
            1
        } else if l >= 0.5 {
            2
        } else {
            0
        }
    });
    metrics::affected_percent_of(labels.zip(lesions.data.iter().map(|&p| p >= 0.5)))
}

/// The slices of `s` a model of `config` is validated on: every slice of its box when the
/// recipe sets no limit, else `val_slices` of them, contiguous and centred for a 3D
/// network, spread evenly otherwise.
fn val_slices(config: &ModelConfig, s: &Sample) -> Vec<usize> {
    let b = model_box(config.task, s);
    let limit = config.recipe.as_ref().and_then(|r| r.val_slices);
    let three = matches!(
        config.arch,
        Some(Arch::Unet {
            dims: Dims::Three,
            ..
        })
    );
    match limit {
        Some(k) if three && k < b.z1 - b.z0 => {
            let start = b.z0 + (b.z1 - b.z0 - k) / 2;
            (start..start + k).collect()
        }
        Some(k) => spread(b.z0, b.z1, k),
        None => (b.z0..b.z1).collect(),
    }
}

fn dice(p: &Stack, t: &Stack) -> Option<f64> {
    let (mut i, mut a, mut b) = (0u64, 0u64, 0u64);
    for (&x, &y) in p.data.iter().zip(&t.data) {
        let (x, y) = (x >= 0.5, y >= 0.5);
        i += u64::from(x && y);
        a += u64::from(x);
        b += u64::from(y);
    }
    metrics::dice(i, a, b)
}

/// Validates `net` on `samples` with ground-truth lungs. Dice and predicted severity come
/// from the validated slices, true severity from the whole study.
pub fn validate(
    config: &ModelConfig,
    net: &Net,
    samples: &[Sample],
    device: &Device,
) -> Result<ValMetrics> {
    let dims = config.arch.as_ref().map_or(Dims::Two, Arch::dims);
    let mut m = ValMetrics::default();
    let (mut dices, mut lung_dices) = (Vec::new(), Vec::new());
    let (mut pos, mut neg, mut sev_true, mut sev_pred) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in samples {
        let bbox = model_box(config.task, s);
        let padded = bbox.padded(net.multiple());
        let ks = val_slices(config, s);
        let view = |t: &Stack| gather(t, &bbox, &ks, padded);
        // The drawn slices of the image and of the task's target, as a training step takes them.
        let (input, target) = study_slices(config.task, s, &bbox, &ks, padded);
        let run = run_net(net, dims, &input, device)?;
        if config.task == Task::Lungs {
            if let Some(probs) = &run.probs {
                lung_dices.extend(dice(probs, &target));
            }
            continue;
        }
        let (lesions, right, left) = (s.lesions.unpack(), s.right.unpack(), s.left.unpack());
        let truth = s.covid().then(|| working_severity(&lesions, &right, &left));
        let mut score = run.covid;
        if let Some(probs) = &run.probs {
            let predicted = working_severity(probs, &view(&right), &view(&left));
            if s.covid() {
                dices.extend(dice(probs, &target));
            }
            score = score.or(Some(predicted));
            sev_pred.extend(truth.map(|_| predicted));
        } else {
            // A classifier alone ranks severity by its probability.
            sev_pred.extend(truth.map(|_| run.covid.unwrap_or(0.0)));
        }
        sev_true.extend(truth);
        if let Some(v) = score {
            if s.covid() { pos.push(v) } else { neg.push(v) }
        }
    }
    if config.task == Task::Lungs {
        m.lung_dice = metrics::mean(&lung_dices);
        return Ok(m);
    }
    m.dice = metrics::mean(&dices);
    m.auc_vs_all = metrics::roc_auc(&pos, &neg);
    m.spearman = metrics::spearman(&sev_true, &sev_pred);
    Ok(m)
}
