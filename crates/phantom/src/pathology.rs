//! What each category adds to the healthy patient: where lesions go, how dense they are,
//! and the changes they bring to the anatomy (elevated hemidiaphragm, pleural fluid).
//!
//! Densities follow chest CT: ground glass -750..-300 HU, consolidation and atelectasis
//! -100..+60 HU, solid nodules +20..+60 HU. Pneumonia and nodule studies are deliberately
//! dense enough that a Hounsfield-threshold segmenter calls much of their lung "affected",
//! which is why such methods separate COVID-19 from other pathology poorly (paper, sec. 5.2).

use crate::anatomy::{Anatomy, Effusion};
use crate::geom::V3;
use crate::kinds::Category;
use crate::lesions::{Blob, COVID_IRREGULAR, Kind};
use crate::plan::SeverityClass;
use crate::slice::Slice;
use crate::trees::{LungTube, lung_point};
use rand::RngExt;
use rand_chacha::ChaCha12Rng;
use std::f32::consts::PI;

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
                covid(an, side, class, rng, &mut p.blobs);
            }
        }
        Category::Pneumonia => pneumonia(an, rng, &mut p),
        Category::Nodules => nodules(an, rng, &mut p),
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

/// Multifocal ground glass in one lung, favouring the subpleural, posterior and basal lung.
fn covid(
    an: &Anatomy,
    side: usize,
    class: SeverityClass,
    rng: &mut ChaCha12Rng,
    out: &mut Vec<Blob>,
) {
    let (count, consolidation, paving) = match class {
        SeverityClass::Ct1 => (rng.random_range(2..=6), 0.2, 0.3),
        SeverityClass::Ct2 => (rng.random_range(4..=9), 0.4, 0.5),
        _ => (rng.random_range(6..=12), 0.6, 0.5),
    };
    for _ in 0..count {
        let c = peripheral_point(an, side, rng);
        let base = rng.random_range(0.6..1.6f32);
        let r = [(); 3].map(|_| base * rng.random_range(0.7..1.3f32));
        let core = rng
            .random_bool(consolidation)
            .then(|| (rng.random_range(0.3..0.6), rng.random_range(-200.0..0.0)));
        let kind = Kind::Covid {
            core,
            paving: rng.random_bool(paving),
        };
        let hu = rng.random_range(-680.0..-430.0);
        let miss_if_tiny = [rng.random_bool(0.3), true];
        out.push(blob(
            kind,
            side,
            c,
            r,
            rng.random_range(0.0..PI),
            COVID_IRREGULAR,
            hu,
            miss_if_tiny,
        ));
    }
}

/// A lung point near the chest wall, more often posterior and basal.
fn peripheral_point(an: &Anatomy, side: usize, rng: &mut ChaCha12Rng) -> V3 {
    loop {
        let p = lung_point(an, side, rng);
        let s = Slice::new(an, p.z);
        let cy = p.y - an.cavity.y;
        let rc = ((p.x / s.cav_a).powi(2) + (cy / s.cav_b).powi(2)).max(1e-6);
        let depth = (p.x * p.x + cy * cy).sqrt() * (1.0 / rc.sqrt() - 1.0);
        let mut accept: f64 = if depth < 25.0 { 0.9 } else { 0.12 };
        accept *= if cy < 0.0 { 1.0 } else { 0.6 };
        accept *= if an.height(p.z) < 0.6 { 1.0 } else { 0.7 };
        if rng.random_bool(accept) {
            return p;
        }
    }
}

/// Lobar or segmental consolidation, mostly in one lung, with atelectasis and volume loss.
fn pneumonia(an: &mut Anatomy, rng: &mut ChaCha12Rng, p: &mut Pathology) {
    let side = usize::from(rng.random_bool(0.4));
    an.domes[side].z += rng.random_range(6.0..15.0);
    if rng.random_bool(0.4) {
        an.effusion = Some(Effusion {
            side,
            depth: rng.random_range(10.0..30.0),
        });
    }
    p.bands[side] = Some(Band {
        depth: rng.random_range(10.0..30.0),
        hu: rng.random_range(0.0..40.0),
        top: 0.6,
    });
    if rng.random_bool(0.3) {
        p.bands[1 - side] = Some(Band {
            depth: rng.random_range(5.0..15.0),
            hu: rng.random_range(-600.0..-400.0),
            top: 0.6,
        });
    }
    let lobe = match (side, rng.random_range(0.0..1.0f32)) {
        (0, u) if u < 0.35 => 0,
        (0, u) if u < 0.55 => 1,
        (0, _) => 2,
        (_, u) if u < 0.4 => 3,
        _ => 4,
    };
    for _ in 0..rng.random_range(1..=2) {
        consolidation(an, side, lobe, (50.0, 90.0), rng, &mut p.blobs);
    }
    if rng.random_bool(0.25) {
        let other = usize::from(rng.random_bool(0.5));
        let lobe = if other == 0 {
            rng.random_range(0..3)
        } else {
            rng.random_range(3..5)
        };
        consolidation(an, other, lobe, (15.0, 35.0), rng, &mut p.blobs);
    }
}

fn consolidation(
    an: &Anatomy,
    side: usize,
    lobe: u8,
    radius: (f32, f32),
    rng: &mut ChaCha12Rng,
    out: &mut Vec<Blob>,
) {
    let mut c = lung_point(an, side, rng);
    for _ in 0..200 {
        if an.lobe(side, c.x, c.y, c.z) == lobe {
            break;
        }
        c = lung_point(an, side, rng);
    }
    let lobe = an.lobe(side, c.x, c.y, c.z);
    let r = [(); 3].map(|_| rng.random_range(radius.0..radius.1));
    let hu = rng.random_range(-60.0..40.0);
    let mut b = blob(
        Kind::Consolidation,
        side,
        c,
        r,
        rng.random_range(0.0..PI),
        0.3,
        hu,
        [false; 2],
    );
    b.lobe = Some(lobe);
    out.push(b);
}

/// 1-10 solid nodules and masses of 5-40 mm in an older patient's lungs.
///
/// These are older, often smoking patients (Mosmed-Lung-Cancer-500 is over 50): most have
/// dependent atelectasis or subpleural interstitial change at the bases, and a central mass
/// may collapse or consolidate the lung segment it obstructs.
fn nodules(an: &Anatomy, rng: &mut ChaCha12Rng, p: &mut Pathology) {
    if rng.random_bool(0.8) {
        let band = Band {
            depth: rng.random_range(20.0..45.0),
            hu: rng.random_range(-500.0..-200.0),
            top: 0.8,
        };
        p.bands = [Some(band); 2];
    }
    let mut largest = (0.0, 0, V3::default());
    let count = 1 + (9.0 * rng.random_range(0.0..1.0f32).powi(2)) as usize;
    for _ in 0..count {
        let d = 5.0 * 8f32.powf(rng.random_range(0.0..1.0));
        let r = d / 2.0;
        let side = usize::from(rng.random_bool(0.45));
        let c = inner_point(an, side, r, rng);
        if d > largest.0 {
            largest = (d, side, c);
        }
        let hu = if d < 10.0 && rng.random_bool(0.1) {
            rng.random_range(350.0..600.0)
        } else {
            rng.random_range(20.0..60.0)
        };
        let radii = [
            r * rng.random_range(0.9..1.1),
            r * rng.random_range(0.9..1.1),
            r * rng.random_range(0.85..1.1),
        ];
        p.blobs.push(blob(
            Kind::Nodule,
            side,
            c,
            radii,
            rng.random_range(0.0..PI),
            0.12,
            hu,
            [false; 2],
        ));
        if d > 12.0 && rng.random_bool(0.4) {
            for _ in 0..rng.random_range(6..=14) {
                let dir = V3::new(
                    rng.random_range(-1.0..1.0),
                    rng.random_range(-1.0..1.0),
                    rng.random_range(-1.0..1.0),
                )
                .unit();
                let seg = crate::geom::Segment::new(
                    c + dir * (0.8 * r),
                    c + dir * (r + rng.random_range(4.0..12.0)),
                );
                p.spicules.push(LungTube {
                    seg,
                    r: rng.random_range(0.5..1.0),
                    wall: 0.0,
                });
            }
        }
    }
    let (d, side, c) = largest;
    if d > 15.0 && rng.random_bool(0.5) {
        // Post-obstructive collapse and consolidation of the mass's segment.
        let lobe = an.lobe(side, c.x, c.y, c.z);
        consolidation(an, side, lobe, (25.0, 45.0), rng, &mut p.blobs);
    }
}

/// A lung point with lung on all four in-plane sides at distance `r`, when one can be found.
fn inner_point(an: &Anatomy, side: usize, r: f32, rng: &mut ChaCha12Rng) -> V3 {
    let label = crate::slice::Class::Lung(side as u8 + 1);
    let mut c = lung_point(an, side, rng);
    for _ in 0..60 {
        let s = Slice::new(an, c.z);
        if [(r, 0.0), (-r, 0.0), (0.0, r), (0.0, -r)]
            .iter()
            .all(|(dx, dy)| s.classify(c.x + dx, c.y + dy) == label)
        {
            break;
        }
        c = lung_point(an, side, rng);
    }
    c
}

#[expect(
    clippy::too_many_arguments,
    reason = "a plain constructor of a plain record"
)]
fn blob(
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
        cos: angle.cos(),
        sin: angle.sin(),
        r,
        irregular,
        lobe: None,
        hu,
        miss_if_tiny,
        missed: [false; 2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::tests::patient;
    use rand::SeedableRng;

    fn planned(category: Category, seed: u64) -> (Anatomy, Pathology) {
        let mut an = patient(seed);
        let mut rng = ChaCha12Rng::seed_from_u64(seed + 100);
        let p = plan(category, Some(SeverityClass::Ct2), &mut an, &mut rng);
        (an, p)
    }

    #[test]
    fn covid_lesions_are_bilateral_and_mostly_subpleural() {
        let (an, p) = planned(Category::Covid, 1);
        assert!(p.blobs.iter().any(|b| b.side == 1) && p.blobs.iter().any(|b| b.side == 2));
        let near_wall = p
            .blobs
            .iter()
            .filter(|b| {
                let s = Slice::new(&an, b.c.z);
                let cy = b.c.y - an.cavity.y;
                let rc = (b.c.x / s.cav_a).powi(2) + (cy / s.cav_b).powi(2);
                (b.c.x * b.c.x + cy * cy).sqrt() * (1.0 / rc.sqrt() - 1.0) < 25.0
            })
            .count();
        assert!(
            near_wall * 3 >= p.blobs.len() * 2,
            "{near_wall} of {}",
            p.blobs.len()
        );
        assert!(p.shares.contains(&1.0) && p.shares.iter().all(|&s| s > 0.0));
    }

    #[test]
    fn pneumonia_consolidates_lobes_and_raises_a_hemidiaphragm() {
        for seed in 0..6 {
            let before = patient(seed);
            let (an, p) = planned(Category::Pneumonia, seed);
            let raised = (0..2)
                .filter(|&s| an.domes[s].z > before.domes[s].z)
                .count();
            assert_eq!(raised, 1);
            assert!(!p.blobs.is_empty());
            assert!(
                p.blobs
                    .iter()
                    .all(|b| b.kind == Kind::Consolidation && b.lobe.is_some())
            );
            assert!(p.blobs.iter().all(|b| (-100.0..=60.0).contains(&b.hu)));
            assert!(
                p.bands.iter().flatten().any(|b| b.hu > -100.0),
                "dense atelectasis"
            );
        }
    }

    #[test]
    fn nodules_number_one_to_ten_and_measure_five_to_forty_millimetres() {
        for seed in 0..10 {
            let (_, p) = planned(Category::Nodules, seed);
            let nodules: Vec<&Blob> = p.blobs.iter().filter(|b| b.kind == Kind::Nodule).collect();
            assert!((1..=10).contains(&nodules.len()));
            for b in nodules {
                let d = 2.0 * b.r[0].max(b.r[1]);
                assert!((4.5..=44.0).contains(&d), "{d}");
            }
        }
    }

    #[test]
    fn normal_lungs_get_no_focal_lesions() {
        for seed in 0..5 {
            let (_, p) = planned(Category::Normal, seed);
            assert!(p.blobs.is_empty() && p.spicules.is_empty());
        }
    }
}
