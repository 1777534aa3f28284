//! Bacterial pneumonia: lobar or segmental consolidation bounded by fissures, with air
//! bronchograms, dependent atelectasis, volume loss and sometimes a pleural effusion.

use super::{Band, Pathology, blob};
use crate::anatomy::{Anatomy, Effusion};
use crate::lesions::{Blob, Kind};
use crate::trees::lung_point;
use rand::RngExt;
use rand_chacha::ChaCha12Rng;
use std::f32::consts::PI;

/// Lobar or segmental consolidation, mostly in one lung, with atelectasis and volume loss.
pub(super) fn plan(an: &mut Anatomy, rng: &mut ChaCha12Rng, p: &mut Pathology) {
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

pub(super) fn consolidation(
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

#[cfg(test)]
mod tests {
    use super::super::tests::planned;
    use crate::anatomy::tests::patient;
    use crate::kinds::Category;
    use crate::lesions::Kind;

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
}
