//! COVID-19 pneumonia: bilateral, multifocal ground glass, peripheral and subpleural,
//! predominantly posterior and basal, with consolidation and crazy paving in some foci.

use super::blob;
use crate::anatomy::Anatomy;
use crate::geom::V3;
use crate::lesions::{Blob, COVID_IRREGULAR, Kind};
use crate::plan::SeverityClass;
use crate::slice::Slice;
use crate::trees::lung_point;
use rand::RngExt;
use rand_chacha::ChaCha12Rng;
use std::f32::consts::PI;

/// Multifocal ground glass in one lung, favouring the subpleural, posterior and basal lung.
pub(super) fn lesions(
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

#[cfg(test)]
mod tests {
    use super::super::tests::planned;
    use crate::kinds::Category;
    use crate::slice::Slice;

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
}
