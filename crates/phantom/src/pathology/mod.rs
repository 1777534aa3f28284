//! What each category adds to the healthy patient: where lesions go, how dense they are,
//! and the changes they bring to the anatomy (elevated hemidiaphragm, pleural fluid).
//!
//! Densities follow chest CT: ground glass -750..-300 HU, consolidation and atelectasis
//! -100..+60 HU, solid nodules +20..+60 HU. Pneumonia and nodule studies are deliberately
//! dense enough that a Hounsfield-threshold segmenter calls much of their lung "affected",
//! which is why such methods separate COVID-19 from other pathology poorly (paper, sec. 5.2).

mod covid;
mod nodules;
mod pneumonia;

use crate::anatomy::Anatomy;
use crate::geom::{V3, sin_cos};
use crate::kinds::Category;
use crate::lesions::{Blob, Kind};
use crate::plan::SeverityClass;
use crate::trees::LungTube;
use rand::RngExt;
use rand_chacha::ChaCha12Rng;

/// Gravity-dependent density along the posterior lung base: atelectasis or hypoventilation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Band {
    /// Thickness at the base, millimetres.
    pub depth: f32,
    pub hu: f32,
    /// Relative lung height (0 base, 1 apex) where the band has faded out.
    pub top: f32,
}

/// A study's pathology, before COVID-19 lesions are scaled to their target severity.
pub(crate) struct Pathology {
    pub blobs: Vec<Blob>,
    pub bands: [Option<Band>; 2],
    pub spicules: Vec<LungTube>,
    /// Affected fraction of each lung relative to the target (1 for the more affected lung).
    pub shares: [f32; 2],
}

/// Draws the pathology of `category` and applies its anatomical changes to `an`.
pub(crate) fn plan(
    category: Category,
    class: Option<SeverityClass>,
    an: &mut Anatomy,
    rng: &mut ChaCha12Rng,
) -> Pathology {
    let mut p = Pathology {
        blobs: Vec::new(),
        bands: [None; 2],
        spicules: Vec::new(),
        shares: [1.0; 2],
    };
    match category {
        Category::Normal => p.bands = faint_bands(rng, 0.4),
        Category::Covid => {
            p.bands = faint_bands(rng, 0.2);
            let more = rng.random_range(0..2usize);
            p.shares[1 - more] = rng.random_range(0.3..0.95);
            let class = class.unwrap_or(SeverityClass::Ct1);
            for side in 0..2 {
                covid::lesions(an, side, class, rng, &mut p.blobs);
            }
        }
        Category::Pneumonia => pneumonia::plan(an, rng, &mut p),
        Category::Nodules => nodules::plan(an, rng, &mut p),
    }
    p
}

/// Faint dependent density in both lungs with probability `p`, as in many normal scans.
fn faint_bands(rng: &mut ChaCha12Rng, p: f64) -> [Option<Band>; 2] {
    if !rng.random_bool(p) {
        return [None; 2];
    }
    let band = Band {
        depth: rng.random_range(4.0..10.0),
        hu: rng.random_range(-730.0..-650.0),
        top: 0.6,
    };
    [Some(band); 2]
}

#[expect(
    clippy::too_many_arguments,
    reason = "a plain constructor of a plain record"
)]
pub(crate) fn blob(
    kind: Kind,
    side: usize,
    c: V3,
    r: [f32; 3],
    angle: f32,
    irregular: f32,
    hu: f32,
    miss_if_tiny: [bool; 2],
) -> Blob {
    Blob {
        kind,
        side: side as u8 + 1,
        c,
        cos: sin_cos(angle).1,
        sin: sin_cos(angle).0,
        r,
        irregular,
        lobe: None,
        hu,
        miss_if_tiny,
        missed: [false; 2],
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::anatomy::tests::patient;
    use rand::SeedableRng;

    /// A demo patient and the pathology `category` gives it (COVID-19 at CT2).
    pub(crate) fn planned(category: Category, seed: u64) -> (Anatomy, Pathology) {
        let mut an = patient(seed);
        let mut rng = ChaCha12Rng::seed_from_u64(seed + 100);
        let p = plan(category, Some(SeverityClass::Ct2), &mut an, &mut rng);
        (an, p)
    }

    #[test]
    fn normal_lungs_get_no_focal_lesions() {
        for seed in 0..5 {
            let (_, p) = planned(Category::Normal, seed);
            assert!(p.blobs.is_empty() && p.spicules.is_empty());
        }
    }
}
