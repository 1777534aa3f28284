//! The patient: one study's anatomy, sampled once from its seed, in millimetres relative to
//! the volume centre (x to the patient's left, y anterior, z superior, as in RAS+).
//!
//! Shapes are analytic (ellipses, domes, capsules) so that any point can be classified in a
//! few dozen flops; [`crate::slice`] turns them into tissue, one axial slice at a time.
//! Sizes follow adult anatomy and scale with the field of view, as a radiographer picks the
//! field of view to fit the patient.

mod mediastinum;
mod parts;

pub(crate) use parts::*;

use crate::geom::{V3, sin_cos};
use rand::RngExt;
use rand_chacha::ChaCha12Rng;

/// One patient. Index 0 of per-side arrays is the right lung (label 1), 1 the left.
pub(crate) struct Anatomy {
    pub key: u64,
    pub fov_r: f32,
    pub z_apex: f32,
    pub z_base: f32,
    pub x_mid: f32,
    pub body: Body,
    pub cavity: Cavity,
    pub domes: [Dome; 2],
    pub caps: [Cap; 2],
    pub heart: Heart,
    pub spine: Spine,
    pub ribs: Ribs,
    pub sternum: [f32; 2],
    pub abdomen: Abdomen,
    pub table: [f32; 4],
    pub fissures: [Fissure; 2],
    pub effusion: Option<Effusion>,
    pub band: f32,
    pub hu: Hu,
    pub tubes: Vec<Tube>,
    pub roots: Roots,
}

impl Anatomy {
    /// Draws a patient for a grid of `shape` voxels of `spacing` millimetres.
    pub(crate) fn sample(shape: [usize; 3], spacing: [f32; 3], rng: &mut ChaCha12Rng) -> Self {
        let mut r = |lo: f32, hi: f32| rng.random_range(lo..hi);
        let fov = (shape[0] as f32 * spacing[0]).min(shape[1] as f32 * spacing[1]) / 2.0;
        let z_hi = (shape[2] - 1) as f32 * spacing[2] / 2.0;
        let z_apex = z_hi - r(8.0, 25.0);
        let z_base = -z_hi + r(8.0, 25.0);
        let h = z_apex - z_base;
        let a = fov * r(0.78, 0.88);
        let b_ant = a * r(0.70, 0.82);
        let body = Body {
            y0: fov * r(-0.05, 0.03),
            a,
            b_ant,
            b_post: b_ant * r(0.95, 1.05),
            fat: r(6.0, 24.0) * a / 150.0,
        };
        let (top, bottom) = (
            body.y0 + body.b_ant - r(14.0, 24.0),
            body.y0 - body.b_post + r(36.0, 46.0),
        );
        let cavity = Cavity {
            y: (top + bottom) / 2.0,
            a: a - r(22.0, 34.0),
            b: (top - bottom) / 2.0,
        };
        let (ca, cb, cy) = (cavity.a, cavity.b, cavity.y);
        let x_mid = r(-3.0, 3.0);
        let z_right = z_base + h * r(0.26, 0.34);
        let z_left = z_right - r(8.0, 15.0);
        let dome = |x: f32, z: f32| Dome {
            x,
            y: cy + 0.2 * cb,
            z,
            wx: 0.62 * ca,
            wy: 1.2 * cb,
            drop: (z - z_base) / 0.85,
        };
        let domes = [
            dome(x_mid - 0.5 * ca, z_right),
            dome(x_mid + 0.5 * ca, z_left),
        ];
        let apex_left = z_apex - r(0.0, 8.0);
        let mut cap = |x: f32, z: f32| {
            let rz = r(70.0, 100.0);
            // At its base the cap contains the lung's whole cross-section, so the lung
            // narrows smoothly towards a slightly posterior apex without a step.
            Cap {
                x,
                y: cy - 0.1 * cb,
                z0: z - rz,
                rx: 0.62 * ca,
                ry: 1.15 * cb,
                rz,
            }
        };
        let caps = [
            cap(x_mid - 0.45 * ca, z_apex),
            cap(x_mid + 0.45 * ca, apex_left),
        ];
        // Cardiac size follows chest size (cardiothoracic ratio about 0.45-0.5).
        let hr = [ca * r(0.45, 0.52), ca * r(0.34, 0.40), r(50.0, 60.0)];
        let angle = r(0.45, 0.8);
        // The heart lies against the anterior chest wall, behind a thin rim of lung.
        let hy = cy + cb - r(4.0, 12.0) - 0.8 * hr[1];
        let heart = Heart {
            c: V3::new(x_mid + ca * r(0.23, 0.32), hy, z_left + hr[2] * r(0.3, 0.5)),
            r: hr,
            cos: sin_cos(angle).1,
            sin: sin_cos(angle).0,
            fat: r(3.0, 8.0),
        };
        let sr = r(15.0, 19.0);
        // The vertebral body bulges into the chest; the lungs wrap around it.
        let y_body = cy - cb + 1.9 * sr;
        let r_canal = r(7.0, 8.5);
        let period = r(26.0, 31.0);
        let spine = Spine {
            y_body,
            r: sr,
            y_canal: y_body - sr - r_canal - 1.5,
            r_canal,
            period,
            disc: r(5.0, 8.0),
            phase: r(0.0, period),
        };
        let rib_top = z_apex + r(0.0, 8.0);
        let ribs = Ribs {
            z0: rib_top,
            pitch: (rib_top - z_base - r(5.0, 20.0)) / 11.0,
            drop: r(80.0, 120.0),
            height: r(10.0, 14.0),
        };
        let sternum = [z_apex - r(20.0, 35.0), heart.c.z - 0.6 * hr[2]];
        let stomach_r = r(25.0, 38.0);
        let stomach = V3::new(
            x_mid + 0.45 * ca,
            cy + 0.1 * cb,
            z_left - stomach_r - r(0.0, 8.0),
        );
        let abdomen = Abdomen {
            stomach,
            stomach_r,
            air_y: stomach.y + stomach_r * r(0.2, 0.6),
            spleen: V3::new(x_mid + 0.65 * ca, cy - 0.45 * cb, z_left - r(35.0, 55.0)),
            spleen_r: [r(25.0, 32.0), r(40.0, 50.0), r(45.0, 60.0)],
        };
        let table = [
            body.y0 - body.b_post - r(2.0, 12.0),
            r(9.0, 14.0),
            r(10.0, 25.0) / (a * a),
            a * 1.15,
        ];
        let z_carina = z_base + h * r(0.58, 0.66);
        let mut fissure = |right: bool| Fissure {
            y0: cy + cb * r(-0.1, 0.1),
            z0: z_carina - r(10.0, 25.0),
            slope: r(0.9, 1.3),
            horizontal: right.then(|| z_carina - r(25.0, 40.0)),
        };
        let fissures = [fissure(true), fissure(false)];
        let hu = Hu {
            fat: r(-110.0, -90.0),
            muscle: r(38.0, 55.0),
            skin: r(20.0, 40.0),
            blood: r(35.0, 48.0),
            cortical: r(750.0, 1000.0),
            marrow: r(200.0, 350.0),
            liver: r(50.0, 66.0),
            cartilage: r(90.0, 160.0),
            disc: r(70.0, 100.0),
            lung: r(-925.0, -905.0),
            gradient: r(30.0, 60.0),
            texture: r(12.0, 22.0),
            noise: r(10.0, 20.0),
        };
        let band = r(2.0, 5.0);
        let key = rng.random::<u64>();
        let mut an = Self {
            key,
            fov_r: fov,
            z_apex,
            z_base,
            x_mid,
            body,
            cavity,
            domes,
            caps,
            heart,
            spine,
            ribs,
            sternum,
            abdomen,
            table,
            fissures,
            effusion: None,
            band,
            hu,
            tubes: Vec::new(),
            roots: Roots {
                artery: [V3::default(); 2],
                bronchus: [V3::default(); 2],
                veins: [[V3::default(); 2]; 2],
            },
        };
        mediastinum::add(&mut an, z_carina, z_hi, rng);
        an
    }

    /// Height of the diaphragm under `(x, y)`: the higher of the two domes.
    #[inline]
    pub(crate) fn diaphragm_z(&self, x: f32, y: f32) -> f32 {
        self.domes[0].z_at(x, y).max(self.domes[1].z_at(x, y))
    }

    /// Lobe of a lung point: 0 right upper, 1 right middle, 2 right lower, 3 left upper,
    /// 4 left lower. The oblique fissures run from posterior-superior to anterior-inferior
    /// and, on an axial slice, from the hilum anterolaterally.
    pub(crate) fn lobe(&self, side: usize, x: f32, y: f32, z: f32) -> u8 {
        let f = &self.fissures[side];
        let lateral = (x - self.x_mid).abs() - 60.0;
        let lower = z < f.z0 - f.slope * (y - f.y0 - 0.3 * lateral);
        match (side, lower, f.horizontal) {
            (0, true, _) => 2,
            (0, false, Some(zh)) if z < zh => 1,
            (0, false, _) => 0,
            (_, true, _) => 4,
            _ => 3,
        }
    }

    /// Distance in millimetres from a lung point to the nearest fissure of its lung.
    pub(crate) fn fissure_distance(&self, side: usize, x: f32, y: f32, z: f32) -> f32 {
        let f = &self.fissures[side];
        let lateral = (x - self.x_mid).abs() - 60.0;
        // Signed height above the oblique fissure, divided by the norm of its gradient.
        let above = z - f.z0 + f.slope * (y - f.y0 - 0.3 * lateral);
        let oblique = above.abs() / (1.0 + 1.09 * f.slope * f.slope).sqrt();
        match f.horizontal {
            Some(zh) if above > 0.0 => oblique.min((z - zh).abs()),
            _ => oblique,
        }
    }

    /// Relative height: 0 at the lowest lung recess, 1 at the apex.
    #[inline]
    pub(crate) fn height(&self, z: f32) -> f32 {
        (z - self.z_base) / (self.z_apex - self.z_base)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A demo-sized patient drawn from `seed`, shared by the tests of other modules.
    pub(crate) fn patient(seed: u64) -> Anatomy {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        Anatomy::sample([128, 128, 60], [2.8, 2.8, 5.0], &mut rng)
    }

    #[test]
    fn the_right_dome_is_higher_and_the_diaphragm_falls_towards_the_recesses() {
        for seed in 0..20 {
            let an = patient(seed);
            assert!(an.domes[0].z > an.domes[1].z);
            let d = &an.domes[0];
            let top = an.diaphragm_z(d.x, d.y);
            let back = an.diaphragm_z(d.x, an.cavity.y - an.cavity.b);
            assert!(top > back + 30.0 && back >= an.z_base - 1.0, "{top} {back}");
        }
    }

    #[test]
    fn the_heart_sits_left_and_anterior() {
        for seed in 0..20 {
            let an = patient(seed);
            assert!(an.heart.c.x > an.x_mid + 20.0 && an.heart.c.y > an.cavity.y);
        }
    }

    #[test]
    fn fissures_divide_the_lungs_into_five_lobes() {
        let an = patient(3);
        let f = &an.fissures[0];
        let (front, back) = (
            an.cavity.y + 0.8 * an.cavity.b,
            an.cavity.y - 0.8 * an.cavity.b,
        );
        let x = an.x_mid - 60.0;
        assert_eq!(an.lobe(0, x, front, an.z_apex - 10.0), 0);
        assert_eq!(an.lobe(0, x, front, f.horizontal.unwrap() - 15.0), 1);
        assert_eq!(an.lobe(0, x, back, an.z_base + 10.0), 2);
        assert_eq!(an.lobe(1, -x, front, an.z_apex - 10.0), 3);
        assert_eq!(an.lobe(1, -x, back, an.z_base + 10.0), 4);
    }
}
