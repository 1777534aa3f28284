//! Lung nodules and masses in an older screening population.

use super::pneumonia::consolidation;
use super::{Band, Pathology, blob};
use crate::anatomy::Anatomy;
use crate::geom::{Segment, V3, exp2};
use crate::lesions::Kind;
use crate::slice::{Class, Slice};
use crate::trees::{LungTube, lung_point};
use rand::RngExt;
use rand_chacha::ChaCha12Rng;
use std::f32::consts::PI;

/// 1-10 solid nodules and masses of 5-40 mm in an older patient's lungs.
///
/// These are older, often smoking patients (Mosmed-Lung-Cancer-500 is over 50): most have
/// dependent atelectasis or subpleural interstitial change at the bases, and a central mass
/// may collapse or consolidate the lung segment it obstructs.
pub(super) fn plan(an: &Anatomy, rng: &mut ChaCha12Rng, p: &mut Pathology) {
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
        // Log-uniform diameters: small nodules are far more common than masses.
        let d = 5.0 * exp2(3.0 * rng.random_range(0.0..1.0f32));
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
                let seg = Segment::new(
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
    let label = Class::Lung(side as u8 + 1);
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

#[cfg(test)]
mod tests {
    use super::super::tests::planned;
    use crate::kinds::Category;
    use crate::lesions::{Blob, Kind};

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
}
