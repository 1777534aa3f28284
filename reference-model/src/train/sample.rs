//! What a training step sees: the study and slices of step `t`, drawn from a generator keyed
//! by `(seed, t)`, so a resumed run draws what an uninterrupted one would have.

use crate::data::Sample;
use crate::nets::{Arch, Dims};
use crate::prep::{Bbox, Stack};
use crate::zoo::{ModelConfig, Task};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
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

/// A random variation of one training study (for a recipe with `augment`, `reference train
/// --augment`), so that a model learns the disease rather than the studies it sees: the same
/// lungs mirrored left to right (the phantom's COVID-19 is bilateral and its pneumonia mostly
/// unilateral on either side; lung targets are the union of both lungs), placed anywhere in
/// the padded plane rather than at its corner, and seen through a scanner with another
/// calibration. The width-8 ResNet learnt nothing with it in 3500 steps on 400 studies (loss
/// 0.65-0.67, validation AUC 0.44-0.62), so no shipped recipe uses it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Jitter {
    /// Whether columns are reversed within the study's box.
    pub mirror: bool,
    /// Where the box's first column and row go in the padded plane.
    pub at: (usize, usize),
    /// Intensities become `gain * v + offset`, clamped to the window's [0, 1].
    pub gain: f32,
    /// See `gain`.
    pub offset: f32,
}

impl Jitter {
    /// Gains are drawn from `1 +- GAIN`.
    pub const GAIN: f32 = 0.1;
    /// Offsets are drawn from `+- OFFSET` (0.03 of the window is 45 HU).
    pub const OFFSET: f32 = 0.03;

    /// Draws a variation of a study whose box is `(bw, bh)` in a plane of `(w, h)`.
    pub fn draw(rng: &mut ChaCha8Rng, (bw, bh): (usize, usize), (w, h): (usize, usize)) -> Self {
        Self {
            mirror: rng.random_bool(0.5),
            at: (rng.random_range(0..=w - bw), rng.random_range(0..=h - bh)),
            gain: 1.0 + rng.random_range(-Self::GAIN..=Self::GAIN),
            offset: rng.random_range(-Self::OFFSET..=Self::OFFSET),
        }
    }

    /// Applies it to `slices`, as made by [`gather`]: each slice holds the box's `(bw, bh)`
    /// pixels at its corner and padding after. The padding stays 0; intensities change only
    /// with `intensity` (an image, not a mask).
    pub fn apply(&self, slices: &Stack, (bw, bh): (usize, usize), intensity: bool) -> Stack {
        let (w, h) = (slices.nx, slices.ny);
        let mut out = Stack::zeros(w, h, slices.nz);
        for k in 0..slices.nz {
            for j in 0..bh {
                let src = &slices.slice(k)[j * w..j * w + bw];
                let at = (k * h + j + self.at.1) * w + self.at.0;
                let dst = &mut out.data[at..at + bw];
                dst.copy_from_slice(src);
                if self.mirror {
                    dst.reverse();
                }
                if intensity {
                    dst.iter_mut()
                        .for_each(|v| *v = (self.gain * *v + self.offset).clamp(0.0, 1.0));
                }
            }
        }
        out
    }
}

/// One study's share of an [`Example`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Part {
    /// Its number of slices (consecutive in the example, in the order of the parts).
    pub slices: usize,
    /// Its class label: 1 for COVID-19, else 0.
    pub label: f32,
    /// Whether its segmentation target is learnt. The multitask model learns lesion masks
    /// from COVID-19 studies only, as the paper's learnt from the annotated ones.
    pub segment: bool,
}

/// One training example: input slices, segmentation target, and its studies' parts.
pub(super) struct Example {
    pub input: Stack,
    pub target: Stack,
    pub studies: Vec<Part>,
}

impl Example {
    /// Each study's part with the index of its first slice in the example.
    pub fn parts(&self) -> impl Iterator<Item = (usize, &Part)> {
        self.studies.iter().scan(0, |at, p| {
            let start = *at;
            *at += p.slices;
            Some((start, p))
        })
    }
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

/// A COVID-19 study's CT grade (0 to 3 for CT1 to CT4, [`metrics::severity::ct_grade`])
/// from its raters' mean mask on the working grid; CT1 where its lesions vanish there.
fn grade_of(s: &Sample) -> usize {
    metrics::severity::ct_grade(super::validate::working_severity(
        &s.lesions.unpack(),
        &s.right.unpack(),
        &s.left.unpack(),
    ))
    .unwrap_or(0)
}

/// Draw weights for the COVID-19 studies of `pool` (in pool order) under which their CT1-CT4
/// grades follow those of the COVID-19 studies of `target` (the validation split): each
/// study's weight is its grade's share in `target` over the grade's count in `pool`. `None`
/// where either side has no COVID-19 study with a grade in common.
///
/// The phantom's training split spreads severity (40% CT1) so that lesion models see every
/// grade; the board's studies are mostly CT1 (the validation split shares their mix), and a
/// study-level model's errors are on CT1's minimal involvement.
pub(super) fn grade_matched(pool: &[&Sample], target: &[&Sample]) -> Option<WeightedIndex<f64>> {
    let grades = |studies: &[&Sample]| -> Vec<usize> {
        studies
            .iter()
            .filter(|s| s.covid())
            .map(|s| grade_of(s))
            .collect()
    };
    let count = |grades: &[usize]| {
        let mut n = [0usize; 4];
        grades.iter().for_each(|&g| n[g] += 1);
        n
    };
    let ours = grades(pool);
    let (have, want) = (count(&ours), count(&grades(target)));
    let total: usize = want.iter().sum();
    let weights: Vec<f64> = ours
        .iter()
        .map(|&g| want[g] as f64 / total.max(1) as f64 / have[g] as f64)
        .collect();
    WeightedIndex::new(weights).ok()
}

/// Draws step `step`'s example: `recipe.studies` studies (one for every model but the
/// classifier), their slices stacked with one padded size. `covid_weights`, from
/// [`grade_matched`], weighs the COVID-19 studies of the draws that take one (uniform
/// without).
pub(super) fn draw(
    config: &ModelConfig,
    pool: &[&Sample],
    covid_weights: Option<&WeightedIndex<f64>>,
    multiple: usize,
    step: usize,
) -> Example {
    let recipe = config.recipe.as_ref().expect("a trainable model");
    let mut rng =
        ChaCha8Rng::seed_from_u64(recipe.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // A lesion model that also sees other studies (U-Net+), and the classifier, draw half of
    // their studies from COVID-19 studies: drawn uniformly, two thirds of U-Net+'s steps
    // showed no lesion and it settled on predicting none (validation Dice 0 after 80 steps),
    // and the ResNet, one study per step, did no better than chance in 200 steps.
    let covid: Vec<&Sample> = pool.iter().copied().filter(|s| s.covid()).collect();
    let balanced = matches!(
        config.task,
        Task::Lesions | Task::Classifier | Task::Multitask
    ) && !covid.is_empty()
        && covid.len() < pool.len();
    let drawn: Vec<(&Sample, Vec<usize>)> = (0..recipe.studies.max(1))
        .map(|_| {
            let s = if balanced && rng.random_bool(0.5) {
                match covid_weights {
                    Some(w) => covid[w.sample(&mut rng)],
                    None => covid[rng.random_range(0..covid.len())],
                }
            } else {
                pool[rng.random_range(0..pool.len())]
            };
            (s, slices(config, s, &mut rng))
        })
        .collect();
    let padded = drawn
        .iter()
        .map(|(s, _)| model_box(config.task, s).padded(multiple))
        .fold((0, 0), |(w, h), (a, b)| (w.max(a), h.max(b)));
    let mut ex = Example {
        input: Stack::zeros(padded.0, padded.1, 0),
        target: Stack::zeros(padded.0, padded.1, 0),
        studies: Vec::with_capacity(drawn.len()),
    };
    for (s, ks) in drawn {
        let b = model_box(config.task, s);
        let (mut input, mut target) = study_slices(config.task, s, &b, &ks, padded);
        if recipe.augment {
            let content = (b.x1 - b.x0, b.y1 - b.y0);
            let jitter = Jitter::draw(&mut rng, content, padded);
            input = jitter.apply(&input, content, true);
            target = jitter.apply(&target, content, false);
        }
        ex.input.data.extend(input.data);
        ex.target.data.extend(target.data);
        ex.input.nz += ks.len();
        ex.target.nz += ks.len();
        ex.studies.push(Part {
            slices: ks.len(),
            label: f32::from(u8::from(s.covid())),
            segment: config.task != Task::Multitask || s.covid(),
        });
    }
    ex
}

/// Slices `ks` of `s`'s image and of its target for `task` (both lungs for the lungs model,
/// the lesions for the others), as [`gather`] crops them to `b` and pads them to `padded`.
/// Only those slices are unpacked from the pool's levels; `gather` then crops slice `i` of
/// them, which is slice `ks[i]` of the study.
pub(super) fn study_slices(
    task: Task,
    s: &Sample,
    b: &Bbox,
    ks: &[usize],
    padded: (usize, usize),
) -> (Stack, Stack) {
    let image = s.image.unpack_slices(ks);
    let target = if task == Task::Lungs {
        s.lung_slices(ks)
    } else {
        s.lesions.unpack_slices(ks)
    };
    let at: Vec<usize> = (0..ks.len()).collect();
    (
        gather(&image, b, &at, padded),
        gather(&target, b, &at, padded),
    )
}

/// The slices of `s` one step of `config` trains on.
fn slices(config: &ModelConfig, s: &Sample, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let n = config.recipe.as_ref().expect("a trainable model").slices;
    let b = model_box(config.task, s);
    match (config.task, &config.arch) {
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
            let mut ks: Vec<usize> = (b.z0 + offset..b.z1).step_by(stride).collect();
            // A study-level model learns a COVID-19 label from what the drawn slices show. A
            // minimal study's few small foci lie on a few slices (a median of 7), and evenly
            // spread slices missed every lesion of 35% of the training split's minimal
            // studies with 8 slices, 17% with 16: the label then taught the model that
            // lesion-free lungs are COVID-19. So one drawn slice moves onto a lesion where
            // none was drawn (studies without lesion masks keep their spread).
            if s.covid() {
                let lesioned = lesion_slices(s, b.z0..b.z1);
                if !lesioned.is_empty() && !ks.iter().any(|k| lesioned.contains(k)) {
                    let pick = lesioned[rng.random_range(0..lesioned.len())];
                    let nearest = (0..ks.len())
                        .min_by_key(|&i| ks[i].abs_diff(pick))
                        .expect("a study has slices");
                    // The slices stay in order: `pick` lies between the neighbours of the
                    // slice nearest to it.
                    ks[nearest] = pick;
                }
            }
            ks
        }
    }
}

/// The slices of `z` on which `s`'s raters' mean lesion mask covers at least half a
/// working pixel.
pub(super) fn lesion_slices(s: &Sample, z: std::ops::Range<usize>) -> Vec<usize> {
    z.filter(|&k| s.lesions.slice_sum(k) >= 0.5).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Packed;
    use crate::zoo::{Model, config};

    fn sample(id: usize, covid: bool, (w, h, d): (usize, usize, usize)) -> Sample {
        let stack = || Stack::zeros(40, 30, 20);
        // Every pixel of the image is the study's id in tenths: positive, within the window.
        let mut image = stack();
        image.data.iter_mut().for_each(|v| *v = id as f32 / 10.0);
        Sample {
            id: format!("s{id}"),
            category: if covid { "covid" } else { "normal" }.to_owned(),
            image: Packed::pack(&image),
            right: Packed::pack(&stack()),
            left: Packed::pack(&stack()),
            lesions: Packed::pack(&stack()),
            lung_box: Bbox {
                x0: 1,
                x1: 1 + w,
                y0: 2,
                y1: 2 + h,
                z0: 3,
                z1: 3 + d,
            },
        }
    }

    #[test]
    fn a_classifier_step_stacks_several_studies_with_one_padded_size() {
        let samples: Vec<Sample> = (0..6)
            .map(|i| sample(i + 1, i % 2 == 0, (10 + 3 * i, 8 + i, 9 + i)))
            .collect();
        let pool: Vec<&Sample> = samples.iter().collect();
        // The ResNet's draw, with its studies varied.
        let mut resnet = config(Model::Resnet);
        resnet.recipe.as_mut().unwrap().augment = true;
        let recipe = resnet.recipe.as_ref().unwrap();
        assert!(recipe.studies > 1);
        let mut covid_drawn = 0;
        let mut moved = false;
        for step in 0..20 {
            let ex = draw(&resnet, &pool, None, 32, step);
            assert_eq!(ex.studies.len(), recipe.studies);
            let slices: usize = ex.studies.iter().map(|p| p.slices).sum();
            assert_eq!(ex.input.nz, slices);
            assert_eq!(ex.input.data.len(), slices * ex.input.nx * ex.input.ny);
            // Every box fits the padded size, a multiple of the network's 32.
            assert!(ex.input.nx.is_multiple_of(32) && ex.input.ny.is_multiple_of(32));
            // Each study's slices carry its own pixels, and its label. The studies are varied
            // (moved and recalibrated), so a study is known by its box's area: the number of
            // pixels that are not padding.
            let plane = ex.input.nx * ex.input.ny;
            let mut at = 0;
            for (
                start,
                &Part {
                    slices: n, label, ..
                },
            ) in ex.parts()
            {
                assert_eq!(start, at);
                assert!((1..=recipe.slices).contains(&n));
                let study = &ex.input.data[at * plane..(at + n) * plane];
                let area = study.iter().filter(|&&v| v > 0.0).count() / n;
                let s = samples
                    .iter()
                    .find(|s| {
                        (s.lung_box.x1 - s.lung_box.x0) * (s.lung_box.y1 - s.lung_box.y0) == area
                    })
                    .expect("a study's box");
                assert_eq!(label, f32::from(u8::from(s.covid())));
                moved |= study[0] == 0.0;
                covid_drawn += usize::from(s.covid());
                at += n;
            }
        }
        // Half the draws are COVID-19 studies, the other half uniform over a pool that is
        // half COVID-19: three quarters in all (60 of 80 expected, sd 3.9).
        assert!((48..=72).contains(&covid_drawn), "{covid_drawn} of 80");
        assert!(moved, "no study was moved from the plane's corner");
        // The multitask model draws several too, and learns masks from COVID-19 studies only.
        let multitask = config(Model::Multitask);
        let mut mixed = false;
        for step in 0..20 {
            let ex = draw(&multitask, &pool, None, 32, step);
            assert_eq!(ex.studies.len(), multitask.recipe.as_ref().unwrap().studies);
            assert!(ex.studies.iter().all(|p| p.segment == (p.label == 1.0)));
            mixed |= ex.studies.iter().any(|p| p.segment) && ex.studies.iter().any(|p| !p.segment);
        }
        assert!(mixed, "no step mixed COVID-19 and other studies");
        // Every other model still draws one study a step, and learns every study's mask.
        let ex = draw(&config(Model::UnetPlus), &pool, None, 16, 0);
        assert_eq!(ex.studies.len(), 1);
        assert!(ex.studies[0].segment);
    }

    #[test]
    fn drawn_slices_are_those_of_the_whole_unpacked_study() {
        // Every pixel of image, lungs and lesions distinct, so that any other slice, row or
        // column, or a slice from the wrong stack, shows.
        let mut s = sample(1, true, (12, 9, 8));
        let shape = s.image.unpack();
        let ramp = |offset: usize| Stack {
            data: (0..shape.data.len())
                .map(|i| ((i * 7 + offset) % 251) as f32 / 251.0)
                .collect(),
            ..shape.clone()
        };
        s.image = Packed::pack(&ramp(0));
        s.right = Packed::pack(&ramp(3));
        s.left = Packed::pack(&ramp(5));
        s.lesions = Packed::pack(&ramp(11));
        // What a step gathered before it unpacked only the drawn slices: the whole stacks.
        let lungs: Vec<f32> = s
            .right
            .unpack()
            .data
            .iter()
            .zip(&s.left.unpack().data)
            .map(|(r, l)| r + l)
            .collect();
        assert_eq!(s.lungs().data, lungs);
        let b = s.lung_box;
        let padded = b.padded(16);
        for ks in [vec![3, 4, 5, 6], vec![10, 3, 10], vec![0, 19], vec![]] {
            for task in [
                Task::Lungs,
                Task::Lesions,
                Task::Classifier,
                Task::Multitask,
            ] {
                let whole_target = if task == Task::Lungs {
                    s.lungs()
                } else {
                    s.lesions.unpack()
                };
                let (input, target) = study_slices(task, &s, &b, &ks, padded);
                assert_eq!(input, gather(&s.image.unpack(), &b, &ks, padded), "{ks:?}");
                assert_eq!(target, gather(&whole_target, &b, &ks, padded), "{ks:?}");
            }
        }
    }

    #[test]
    fn a_jitter_mirrors_moves_and_recalibrates_a_study_inside_its_padded_plane() {
        // Two slices of a 3x2 box at the corner of a 5x4 plane, every pixel distinct.
        let ((bw, bh), (w, h)) = ((3, 2), (5, 4));
        let value = |k: usize, j: usize, i: usize| 0.1 * (1 + i + bw * j) as f32 + 0.3 * k as f32;
        let pixels =
            || (0..2).flat_map(|k| (0..bh).flat_map(move |j| (0..bw).map(move |i| (k, j, i))));
        let mut slices = Stack::zeros(w, h, 2);
        for (k, j, i) in pixels() {
            slices.data[(k * h + j) * w + i] = value(k, j, i);
        }
        let jitter = Jitter {
            mirror: true,
            at: (2, 1),
            gain: 1.1,
            offset: 0.03,
        };
        let image = jitter.apply(&slices, (bw, bh), true);
        let mask = jitter.apply(&slices, (bw, bh), false);
        for (k, j, i) in pixels() {
            let to = (k * h + j + 1) * w + 2 + (bw - 1 - i);
            let v = value(k, j, i);
            // 0.9 * 1.1 + 0.03 is past the window's top, and stays at 1.
            assert!(
                (image.data[to] - (1.1 * v + 0.03).min(1.0)).abs() < 1e-6,
                "{k} {j} {i}"
            );
            assert_eq!(mask.data[to], v);
        }
        assert_eq!(image.data.iter().filter(|&&v| v == 1.0).count(), 1);
        // Everything else is padding.
        for out in [&image, &mask] {
            assert_eq!(out.data.iter().filter(|&&v| v != 0.0).count(), 2 * bw * bh);
        }
        // Drawn variations stay inside the plane and their ranges, and take both mirrors.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let drawn: Vec<Jitter> = (0..200)
            .map(|_| Jitter::draw(&mut rng, (bw, bh), (w, h)))
            .collect();
        assert!(drawn.iter().all(|j| j.at.0 <= w - bw
            && j.at.1 <= h - bh
            && (j.gain - 1.0).abs() <= Jitter::GAIN
            && j.offset.abs() <= Jitter::OFFSET));
        assert!(drawn.iter().any(|j| j.mirror) && drawn.iter().any(|j| !j.mirror));
        assert!(drawn.iter().any(|j| j.at == (0, 0)) && drawn.iter().any(|j| j.at == (2, 2)));
    }

    #[test]
    fn a_covid_study_level_draw_shows_a_lesion_where_the_study_has_one() {
        let multitask = config(Model::Multitask);
        let n = multitask.recipe.as_ref().unwrap().slices;
        // 17 slices (3..20) for 8 drawn: a stride of 3, so most draws miss any one slice.
        let mut s = sample(1, true, (10, 10, 17));
        // One lesion of two pixels on slice 10; slice 15 holds less than half a pixel.
        let plane = s.lesions.nx * s.lesions.ny;
        s.lesions.data[10 * plane + 5] = u8::MAX;
        s.lesions.data[10 * plane + 6] = u8::MAX;
        s.lesions.data[15 * plane + 5] = 102;
        assert_eq!(lesion_slices(&s, 3..20), vec![10]);
        let plain = sample(1, false, (10, 10, 17));
        let mut missed_plain = 0;
        for seed in 0..30 {
            let ks = slices(&multitask, &s, &mut ChaCha8Rng::seed_from_u64(seed));
            assert!(ks.contains(&10), "{ks:?}");
            assert!(
                ks.len() <= n && ks.windows(2).all(|w| w[0] < w[1]),
                "{ks:?}"
            );
            // A study without the label (or without masks) keeps its evenly spread slices.
            let ks = slices(&multitask, &plain, &mut ChaCha8Rng::seed_from_u64(seed));
            assert!(ks.windows(2).all(|w| w[1] - w[0] == 3), "{ks:?}");
            missed_plain += usize::from(!ks.contains(&10));
        }
        // Without the move, two in three draws would have missed the lesion.
        assert!(missed_plain >= 10, "{missed_plain} of 30");
    }

    #[test]
    fn grade_matched_draws_follow_the_targets_ct_grades() {
        // A COVID-19 study whose right lung is the whole volume, `percent` of it affected.
        let graded = |id: usize, percent: usize| {
            let mut s = sample(id, true, (10, 10, 10));
            s.right.data.fill(u8::MAX);
            let n = s.lesions.data.len() * percent / 100;
            s.lesions.data[..n].fill(u8::MAX);
            s
        };
        // A COVID-19 study whose lesions vanish on the working grid counts as CT1.
        assert_eq!(grade_of(&graded(0, 0)), 0);
        assert_eq!(grade_of(&graded(0, 30)), 1);
        // Training: six CT1, three CT2, one CT4, and two normal studies that get no weight.
        let train: Vec<Sample> = [10, 10, 10, 10, 10, 10, 40, 40, 40, 90]
            .iter()
            .enumerate()
            .map(|(i, &p)| graded(i, p))
            .chain((0..2).map(|i| sample(20 + i, false, (10, 10, 10))))
            .collect();
        // Target: eight CT1 and two CT2, no CT4.
        let val: Vec<Sample> = (0..10)
            .map(|i| graded(i, if i < 8 { 5 } else { 30 }))
            .collect();
        let pool: Vec<&Sample> = train.iter().collect();
        let target: Vec<&Sample> = val.iter().collect();
        let w = grade_matched(&pool, &target).expect("grades in common");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut per_grade = [0usize; 4];
        for _ in 0..4000 {
            let i = w.sample(&mut rng);
            per_grade[grade_of(pool[i])] += 1;
        }
        // 3200 CT1 and 800 CT2 expected (sd 25), no CT4 though the pool has one (uniform
        // draws would give 2400 CT1 and 400 CT4).
        assert!((3100..=3300).contains(&per_grade[0]), "{per_grade:?}");
        assert_eq!(per_grade[3], 0, "{per_grade:?}");
        // Without COVID-19 studies in the target there is nothing to follow.
        let normals: Vec<Sample> = (0..3).map(|i| sample(i, false, (10, 10, 10))).collect();
        assert!(grade_matched(&pool, &normals.iter().collect::<Vec<_>>()).is_none());
        // The multitask recipe draws this way; the others draw uniformly.
        assert!(config(Model::Multitask).recipe.unwrap().grade_matched);
        assert!(!config(Model::Resnet).recipe.unwrap().grade_matched);
    }

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
