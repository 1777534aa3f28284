//! What a training step sees: the study and slices of step `t`, drawn from a generator keyed
//! by `(seed, t)`, so a resumed run draws what an uninterrupted one would have.

use crate::data::Sample;
use crate::nets::{Arch, Dims};
use crate::prep::{Bbox, Stack};
use crate::zoo::{ModelConfig, Task};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Copies slices `ks` of `stack`, each cropped to `bbox` and padded to `(w, h)` with 0.
pub(super) fn gather(stack: &Stack, bbox: &Bbox, ks: &[usize], (w, h): (usize, usize)) -> Stack {
    let mut out = Stack {
        nx: w,
        ny: h,
        nz: 0,
        data: Vec::with_capacity(ks.len() * w * h),
    };
    for &k in ks {
        let one = stack.crop(
            &Bbox {
                z0: k,
                z1: k + 1,
                ..*bbox
            },
            (w, h),
            0.0,
        );
        out.data.extend_from_slice(&one.data);
        out.nz += 1;
    }
    out
}

/// One training example: input slices, segmentation target and weight, class label.
pub(super) struct Example {
    pub input: Stack,
    pub target: Stack,
    pub segment: bool,
    pub label: f32,
}

/// The box a model of `task` works in: the whole image for the lungs model, the
/// ground-truth lungs' box for the others.
pub(super) fn model_box(task: Task, s: &Sample) -> Bbox {
    if task == Task::Lungs {
        Bbox {
            x0: 0,
            x1: s.image.nx,
            y0: 0,
            y1: s.image.ny,
            z0: 0,
            z1: s.image.nz,
        }
    } else {
        s.lung_box
    }
}

/// `k` slices spread evenly over `z0..z1`, each the centre of its share (all of them when
/// there are no more than `k`).
pub(super) fn spread(z0: usize, z1: usize, k: usize) -> Vec<usize> {
    let len = z1 - z0;
    if k >= len {
        return (z0..z1).collect();
    }
    (0..k).map(|i| z0 + (2 * i + 1) * len / (2 * k)).collect()
}

/// Draws step `step`'s example.
pub(super) fn draw(
    config: &ModelConfig,
    pool: &[&Sample],
    multiple: usize,
    step: usize,
) -> Example {
    let recipe = config.recipe.as_ref().expect("a trainable model");
    let mut rng =
        ChaCha8Rng::seed_from_u64(recipe.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // A lesion model that also sees other studies (U-Net+), and the classifier, draw half of
    // their steps from COVID-19 studies: drawn uniformly, two thirds of U-Net+'s steps showed
    // no lesion and it settled on predicting none (validation Dice 0 after 80 steps), and
    // the ResNet, one study per step, did no better than chance in 200 steps.
    let covid: Vec<&Sample> = pool.iter().copied().filter(|s| s.covid()).collect();
    let balanced = matches!(config.task, Task::Lesions | Task::Classifier)
        && !covid.is_empty()
        && covid.len() < pool.len();
    let s = if balanced && rng.random_bool(0.5) {
        covid[rng.random_range(0..covid.len())]
    } else {
        pool[rng.random_range(0..pool.len())]
    };
    let n = recipe.slices;
    let b = model_box(config.task, s);
    let ks: Vec<usize> = match (config.task, &config.arch) {
        (Task::Lungs, _) => (0..n).map(|_| rng.random_range(b.z0..b.z1)).collect(),
        (
            Task::Lesions,
            Some(Arch::Unet {
                dims: Dims::Three, ..
            }),
        ) => {
            let len = (b.z1 - b.z0).min(n);
            let start = b.z0 + rng.random_range(0..=(b.z1 - b.z0 - len));
            (start..start + len).collect()
        }
        (Task::Lesions, _) => (0..n).map(|_| rng.random_range(b.z0..b.z1)).collect(),
        _ => {
            let stride = (b.z1 - b.z0).div_ceil(n);
            let offset = rng.random_range(0..stride);
            (b.z0 + offset..b.z1).step_by(stride).collect()
        }
    };
    let padded = b.padded(multiple);
    let target = if config.task == Task::Lungs {
        s.lungs()
    } else {
        s.lesions.clone()
    };
    Example {
        input: gather(&s.image, &b, &ks, padded),
        target: gather(&target, &b, &ks, padded),
        segment: config.task != Task::Multitask || s.covid(),
        label: f32::from(u8::from(s.covid())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_centres_of_equal_shares() {
        assert_eq!(spread(10, 20, 2), vec![12, 17]);
        assert_eq!(spread(0, 8, 4), vec![1, 3, 5, 7]);
        assert_eq!(spread(3, 6, 8), vec![3, 4, 5]);
        let ks = spread(0, 61, 6);
        assert_eq!(ks.len(), 6);
        assert!(ks.windows(2).all(|w| w[0] < w[1]) && ks[5] < 61);
    }
}
