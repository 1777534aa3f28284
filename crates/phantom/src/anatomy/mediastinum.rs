//! The mediastinum's tubes: trachea and main bronchi, oesophagus, aorta with its arch
//! branches, superior vena cava and brachiocephalic veins, pulmonary trunk and arteries,
//! and pulmonary veins, each a capsule wrapped in mediastinal fat.
//!
//! Positions are relative to the spine and heart already sampled, so the carina sits in
//! front of the oesophagus, the arch above it and the hilar vessels at the lungs' roots.

use super::{Anatomy, Roots, Tube, TubeKind};
use crate::geom::{Segment, V3};
use rand::RngExt;
use rand_chacha::ChaCha12Rng;

/// Adds the mediastinal tubes (airways, aorta and its branches, veins, pulmonary arteries,
/// oesophagus) around a carina at height `z_car`, and records the roots of the lung trees.
pub(crate) fn add(an: &mut Anatomy, z_car: f32, z_hi: f32, rng: &mut ChaCha12Rng) {
    let mut r = |lo: f32, hi: f32| rng.random_range(lo..hi);
    let (xm, sp, hz) = (an.x_mid, &an.spine, &an.heart);
    let top = z_hi + 30.0;
    let (r_es, x_es) = (r(7.0, 9.0), xm + r(3.0, 9.0));
    let y_es = sp.y_body + sp.r + r_es + 1.5;
    let (r_tr, x_tr) = (r(8.0, 10.5), xm - r(0.0, 4.0));
    let y_tr = y_es + 0.4 * r_es + r_tr + 2.0;
    let v = V3::new;
    let carina = v(x_tr, y_tr, z_car);
    let rb = v(
        x_tr - r(20.0, 26.0),
        y_tr - r(0.0, 6.0),
        z_car - r(16.0, 24.0),
    );
    let lb = v(
        x_tr + r(36.0, 46.0),
        y_tr - r(4.0, 10.0),
        z_car - r(26.0, 34.0),
    );
    let z_arch = z_car + r(15.0, 30.0);
    let r_aa = r(13.0, 17.0);
    let a0 = v(
        xm + r(-2.0, 6.0),
        hz.c.y + 0.2 * hz.r[1],
        hz.c.z + 0.4 * hz.r[2],
    );
    let a1 = v(xm - r(6.0, 14.0), y_tr + r(25.0, 35.0), z_arch - 6.0);
    let a2 = v(xm + r(0.0, 6.0), y_tr + r(6.0, 12.0), z_arch + 6.0);
    let a3 = v(xm + r(18.0, 24.0), y_es + r(-2.0, 4.0), z_arch - 4.0);
    let a4 = v(xm + r(20.0, 25.0), sp.y_body + r(15.0, 20.0), z_car - 40.0);
    let a5 = v(
        xm + r(8.0, 14.0),
        sp.y_body + sp.r + r(2.0, 6.0),
        -z_hi - 30.0,
    );
    let r_da = r(11.0, 14.0);
    let s0 = v(xm - r(22.0, 30.0), y_tr + r(18.0, 26.0), z_arch + 30.0);
    let s1 = v(xm - r(18.0, 26.0), hz.c.y, hz.c.z + 0.45 * hz.r[2]);
    let p0 = v(
        hz.c.x - r(0.0, 10.0),
        hz.c.y + 0.5 * hz.r[1],
        hz.c.z + 0.45 * hz.r[2],
    );
    let p1 = v(
        xm + r(10.0, 18.0),
        y_tr + r(10.0, 18.0),
        z_car - r(0.0, 8.0),
    );
    let rh = v(
        x_tr - r(40.0, 50.0),
        y_tr + r(-4.0, 4.0),
        z_car - r(10.0, 18.0),
    );
    let lh = v(
        x_tr + r(46.0, 56.0),
        y_tr - r(4.0, 10.0),
        z_car + r(-4.0, 4.0),
    );
    let la = v(
        hz.c.x - 0.25 * hz.r[0],
        hz.c.y - 0.6 * hz.r[1],
        hz.c.z + 0.25 * hz.r[2],
    );
    let veins = [
        [
            v(
                x_tr - r(36.0, 44.0),
                y_tr + r(5.0, 15.0),
                z_car - r(25.0, 35.0),
            ),
            v(
                x_tr - r(38.0, 46.0),
                y_tr - r(0.0, 10.0),
                z_car - r(50.0, 60.0),
            ),
        ],
        [
            v(
                x_tr + r(40.0, 48.0),
                y_tr + r(0.0, 10.0),
                z_car - r(30.0, 40.0),
            ),
            v(
                x_tr + r(40.0, 48.0),
                y_tr - r(5.0, 12.0),
                z_car - r(55.0, 65.0),
            ),
        ],
    ];
    let lumen = if r(0.0, 1.0) < 0.5 { r(1.5, 3.0) } else { 0.0 };
    let blood = TubeKind::Blood;
    let mut list = vec![
        (
            v(x_tr, y_tr + 8.0, top),
            carina,
            r_tr,
            5.0,
            TubeKind::Airway { wall: 2.0 },
        ),
        (carina, rb, r(6.0, 7.5), 2.0, TubeKind::Airway { wall: 1.5 }),
        (carina, lb, r(5.5, 7.0), 2.0, TubeKind::Airway { wall: 1.5 }),
        (
            v(x_es, y_es, top),
            v(x_es + 4.0, y_es + 6.0, an.domes[1].z - 5.0),
            r_es,
            6.0,
            TubeKind::Esophagus { lumen },
        ),
        (a0, a1, r_aa, 6.0, blood),
        (a1, a2, 0.9 * r_aa, 6.0, blood),
        (a2, a3, 0.85 * r_aa, 6.0, blood),
        (a3, a4, r_da, 6.0, blood),
        (a4, a5, r_da, 6.0, blood),
        (
            v(xm - 8.0, y_tr + 14.0, z_arch + 8.0),
            v(xm - 20.0, y_tr + 6.0, top),
            6.5,
            3.0,
            blood,
        ),
        (
            v(xm + 2.0, y_tr + 12.0, z_arch + 10.0),
            v(xm + 14.0, y_tr + 10.0, top),
            4.5,
            3.0,
            blood,
        ),
        (
            v(xm + 12.0, y_tr + 2.0, z_arch + 8.0),
            v(xm + 30.0, y_tr - 2.0, top),
            5.0,
            3.0,
            blood,
        ),
        (s0, s1, r(9.0, 11.0), 3.0, blood),
        (
            v(xm + 35.0, y_tr + 28.0, z_arch + 38.0),
            s0,
            6.0,
            3.0,
            blood,
        ),
        (v(xm - 45.0, y_tr + 15.0, top), s0, 7.0, 3.0, blood),
        (p0, p1, r(12.0, 15.0), 3.0, blood),
        (p1, rh, r(9.0, 11.0), 3.0, blood),
        (p1, lh, r(9.0, 11.0), 3.0, blood),
    ];
    for side in &veins {
        for &end in side {
            list.push((la, end, r(5.5, 7.0), 2.0, blood));
        }
    }
    an.tubes = list
        .into_iter()
        .map(|(a, b, r, margin, kind)| Tube {
            seg: Segment::new(a, b),
            r,
            margin,
            kind,
        })
        .collect();
    an.roots = Roots {
        artery: [rh, lh],
        bronchus: [rb, lb],
        veins,
    };
}

#[cfg(test)]
mod tests {
    use crate::anatomy::TubeKind;
    use crate::anatomy::tests::patient;

    #[test]
    fn the_right_main_bronchus_is_shorter_and_steeper_than_the_left() {
        for seed in 0..10 {
            let an = patient(seed);
            let (right, left) = (&an.tubes[1].seg, &an.tubes[2].seg);
            assert!(matches!(an.tubes[1].kind, TubeKind::Airway { .. }));
            assert!(right.ab.len() < left.ab.len());
            let steep = |s: &crate::geom::Segment| s.ab.z.abs() / s.ab.x.abs();
            assert!(steep(right) > steep(left));
            assert!(
                right.ab.x < 0.0 && left.ab.x > 0.0,
                "bronchi head to their own lungs"
            );
        }
    }

    #[test]
    fn each_lung_is_fed_from_its_own_side() {
        for seed in 0..10 {
            let an = patient(seed);
            let r = &an.roots;
            for (side, sign) in [(0, -1.0), (1, 1.0)] {
                for p in [
                    r.artery[side],
                    r.bronchus[side],
                    r.veins[side][0],
                    r.veins[side][1],
                ] {
                    assert!(sign * (p.x - an.x_mid) > 10.0, "{p:?}");
                }
            }
        }
    }
}
