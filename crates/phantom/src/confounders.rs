//! What real chest CTs show in every category, healthy lungs included, and what makes a
//! Hounsfield threshold find "affected" lung where there is no disease (the paper's
//! thresholding reaches only 0.649 AUC against normal studies, sec. 5.2).
//!
//! Each property imitates one finding of routine chest CT (see `docs/dataset.md`):
//! - **inspiration level**: a shallower breath leaves more blood and less air per voxel, so
//!   the whole parenchyma is denser (mean lung density -900 to -750 HU across patients);
//! - **gravity gradient**: dependent (posterior) lung is denser than non-dependent lung,
//!   more so in expiration;
//! - **subsegmental dependent atelectasis**: bands of collapsed lung, -550 to -150 HU, along
//!   the posterior bases, common in supine patients without disease;
//! - **breathing motion** at the bases, where the diaphragm moves most: blurred, denser lung
//!   just above the domes;
//! - **partial volume at the diaphragm domes**: a slice that cuts the top of a dome averages
//!   lung with the liver or spleen beneath it, more so for thick slices;
//! - **calcified granulomas**: 3-8 mm calcified nodules of old infection;
//! - **centrilobular emphysema**: patches of destroyed lung near -990 HU in the upper lobes
//!   of some (smoking) patients.
//!
//! The draws come from their own generator keyed by the study, so adding them changed no
//! other draw of the study: anatomy, pathology and lesion masks are those of the clean
//! phantom. No confounder changes a lung label or a lesion mask.

use crate::anatomy::Anatomy;
use crate::geom::{V3, lerp, smoothstep};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// Key (xored with the study key) of the confounders' generator.
const CONFOUNDER_KEY: u64 = 0x00C0_F00D;

/// Soft-tissue density the partial volume at the domes mixes in (liver, spleen, muscle).
const DOME_TISSUE_HU: f32 = 45.0;

/// A band of dependent atelectasis in one lung.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Atelectasis {
    /// Thickness at the base, millimetres: 2-10, the thin subsegmental bands of most
    /// healthy supine patients (thicker bands, 18-40 mm, made every patient's false
    /// positives large and variable; `docs/dataset.md`).
    depth: f32,
    hu: f32,
    /// Relative lung height (0 base, 1 apex) where the band has faded out.
    top: f32,
}

/// One calcified granuloma.
#[derive(Clone, Copy, Debug)]
struct Granuloma {
    c: V3,
    r: f32,
    hu: f32,
}

/// The confounders of one study.
#[derive(Clone, Debug)]
pub(crate) struct Confounders {
    /// HU added to the whole parenchyma by a shallower inspiration.
    inspiration: f32,
    /// HU added to the anterior-posterior gravity gradient.
    gradient: f32,
    atelectasis: [Option<Atelectasis>; 2],
    /// HU added by breathing motion at the very bases (0 when the patient held still).
    motion: f32,
    granulomas: Vec<Granuloma>,
    /// Strength of upper-lobe emphysema (0 without).
    emphysema: f32,
}

impl Confounders {
    /// Draws the confounders of the patient `an`.
    pub(crate) fn sample(an: &Anatomy) -> Self {
        let mut rng = ChaCha12Rng::seed_from_u64(an.key ^ CONFOUNDER_KEY);
        // Most scans are taken in good inspiration; a long tail breathes less deeply.
        let inspiration = 70.0 * rng.random_range(0.0..1.0f32).powi(2);
        let gradient = rng.random_range(10.0..60.0) + 0.5 * inspiration;
        let atelectasis = if rng.random_bool(0.9) {
            let band = |rng: &mut ChaCha12Rng| {
                rng.random_bool(0.9).then(|| Atelectasis {
                    depth: rng.random_range(2.0..10.0),
                    hu: rng.random_range(-400.0..-150.0),
                    top: rng.random_range(0.5..0.75),
                })
            };
            [band(&mut rng), band(&mut rng)]
        } else {
            [None; 2]
        };
        let motion = if rng.random_bool(0.5) {
            rng.random_range(40.0..160.0)
        } else {
            0.0
        };
        let count = [0, 0, 1, 1, 2, 3][rng.random_range(0..6usize)];
        let h = an.z_apex - an.z_base;
        let granulomas = (0..count)
            .map(|_| {
                let side = if rng.random_bool(0.5) { -1.0 } else { 1.0 };
                Granuloma {
                    c: V3::new(
                        an.x_mid + side * rng.random_range(0.25..0.8) * an.cavity.a,
                        an.cavity.y + rng.random_range(-0.6..0.6) * an.cavity.b,
                        an.z_base + h * rng.random_range(0.3..0.9),
                    ),
                    r: rng.random_range(1.5..4.0),
                    hu: rng.random_range(250.0..900.0),
                }
            })
            .collect();
        let emphysema = if rng.random_bool(0.15) {
            rng.random_range(0.3..0.8)
        } else {
            0.0
        };
        Self {
            inspiration,
            gradient,
            atelectasis,
            motion,
            granulomas,
            emphysema,
        }
    }

    /// HU added to the parenchyma everywhere, and per unit of the dependent weight
    /// `1 - smoothstep(0, 90, posterior depth)`.
    pub(crate) fn parenchyma(&self) -> (f32, f32) {
        (self.inspiration, self.gradient)
    }

    /// The density of lung point `p` of lung `side` (0 right, 1 left) after the confounders,
    /// from `v`, its density without them. `t` is the relative height, `d_post` the depth
    /// from the posterior wall, `dome` the height above the diaphragm (mm), `c` coarse
    /// texture noise in [-1, 1] and `dz` the slice spacing.
    pub(crate) fn shade(
        &self,
        v: f32,
        side: usize,
        p: V3,
        (t, d_post, dome): (f32, f32, f32),
        c: f32,
        dz: f32,
    ) -> f32 {
        let mut v = v;
        if self.emphysema > 0.0 {
            let patch = smoothstep(0.25, 0.55, c) * smoothstep(0.45, 0.7, t);
            v = lerp(v, -990.0, self.emphysema * patch);
        }
        if let Some(a) = self.atelectasis[side] {
            let depth = a.depth * smoothstep(a.top, 0.5 * a.top, t) * (1.0 + 0.4 * c);
            v = lerp(v, a.hu, smoothstep(depth + 3.0, depth - 3.0, d_post));
        }
        if self.motion > 0.0 {
            v += self.motion * smoothstep(0.18, 0.0, t) * (0.6 + 0.4 * c);
        }
        // A slice of thickness dz averages everything within dz / 2 of its centre.
        if dome < 0.5 * dz + 1.0 {
            let share = 0.5 * (1.0 - dome / (0.5 * dz + 1.0)).clamp(0.0, 1.0);
            v = lerp(v, DOME_TISSUE_HU, share);
        }
        for g in &self.granulomas {
            let d = ((p.x - g.c.x).powi(2) + (p.y - g.c.y).powi(2) + (p.z - g.c.z).powi(2)).sqrt();
            if d < g.r + 1.0 {
                v = lerp(v, g.hu, smoothstep(g.r + 1.0, g.r - 1.0, d));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::tests::patient;

    #[test]
    fn confounders_are_deterministic_and_vary_between_patients() {
        let draws: Vec<f32> = (0..40)
            .map(|seed| Confounders::sample(&patient(seed)).inspiration)
            .collect();
        assert_eq!(draws[3], Confounders::sample(&patient(3)).inspiration);
        let (lo, hi) = draws
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(lo < 10.0 && hi > 35.0, "inspiration shifts {lo}..{hi}");
        let with_bands = (0..40)
            .filter(|&s| {
                Confounders::sample(&patient(s))
                    .atelectasis
                    .iter()
                    .any(Option::is_some)
            })
            .count();
        assert!(
            (28..=40).contains(&with_bands),
            "{with_bands} of 40 with atelectasis"
        );
    }

    #[test]
    fn partial_volume_darkens_only_the_voxels_next_to_a_dome() {
        let mut c = Confounders::sample(&patient(1));
        (c.atelectasis, c.motion, c.emphysema) = ([None; 2], 0.0, 0.0);
        c.granulomas.clear();
        let p = V3::new(0.0, 0.0, 0.0);
        let at = |dome: f32| c.shade(-850.0, 0, p, (0.5, 100.0, dome), 0.0, 5.0);
        assert!(at(0.0) > -450.0, "{}", at(0.0));
        assert_eq!(at(20.0), -850.0);
    }
}
