//! The body outside the rib cage on one slice: skin, subcutaneous fat, muscle, ribs with
//! their cartilage, sternum and spine, and the table and air around the patient.

use crate::geom::atan2;
use crate::slice::Slice;
use std::f32::consts::PI;

/// Radial thickness of the rib layer outside the cavity, in millimetres.
const RIB_ZONE: f32 = 11.0;

impl Slice<'_> {
    /// Normalised body radius: below 1 inside. Blends an ellipse with a squarer
    /// superellipse at the back, which lies flat on the table.
    fn body_norm(&self, x: f32, y: f32) -> f32 {
        let dy = y - self.an.body.y0;
        let bx = x / self.body[0];
        if dy > 0.0 {
            bx * bx + (dy / self.body[1]).powi(2)
        } else {
            let (x2, y2) = (bx * bx, (dy / self.body[2]).powi(2));
            0.5 * (x2 + y2) + 0.5 * (x2 * x2 + y2 * y2).sqrt()
        }
    }

    /// Air outside the body, or the carbon-fibre table with its foam core.
    pub(crate) fn outside(&self, x: f32, y: f32) -> f32 {
        let [top, thick, curve, half] = self.an.table;
        let depth = top + curve * x * x - y;
        if x.abs() < half && (0.0..thick).contains(&depth) {
            if depth < 3.0 || depth > thick - 3.0 {
                150.0
            } else {
                -850.0
            }
        } else {
            -1000.0
        }
    }

    /// Vertebral body or disc, canal, and on vertebral levels the posterior elements.
    pub(crate) fn spine(&self, x: f32, y: f32) -> Option<f32> {
        let (sp, hu) = (&self.an.spine, &self.an.hu);
        let dx = (x - self.an.x_mid).abs();
        if dx > 1.15 * sp.r + 28.0 || y > sp.y_body + sp.r || y < sp.y_canal - sp.r_canal - 19.0 {
            return None;
        }
        let e = (dx / (1.15 * sp.r)).powi(2) + ((y - sp.y_body) / sp.r).powi(2);
        if e < 1.0 {
            let shell = e > (1.0 - 2.0 / sp.r).powi(2);
            return Some(match (self.vertebra, shell) {
                (false, _) => hu.disc,
                (true, true) => hu.cortical,
                (true, false) => hu.marrow,
            });
        }
        let dc = (dx * dx + (y - sp.y_canal).powi(2)).sqrt();
        if dc < sp.r_canal {
            return Some(15.0);
        }
        let arch = dc < sp.r_canal + 5.0;
        let spinous = dx < 3.5 && y < sp.y_canal && y > sp.y_canal - sp.r_canal - 18.0;
        // Transverse processes point backwards and outwards from the arch.
        let transverse =
            (y - sp.y_canal + 0.4 * (dx - sp.r_canal)).abs() < 4.5 && dx < sp.r_canal + 22.0;
        (self.vertebra && (arch || spinous || transverse))
            .then_some(0.6 * hu.cortical + 0.4 * hu.marrow)
    }

    /// Chest wall between skin and rib cage: skin, fat, muscle, ribs, cartilage, sternum.
    pub(crate) fn wall(&self, x: f32, y: f32, rc: f32) -> f32 {
        let an = self.an;
        let rb = self.body_norm(x, y).min(1.0);
        let hu = &an.hu;
        let dy = y - an.body.y0;
        let r_body = (x * x + dy * dy).sqrt();
        let skin_depth = r_body * (1.0 / rb.sqrt() - 1.0);
        let cy = y - an.cavity.y;
        let r_cav = (x * x + cy * cy).sqrt();
        let out = r_cav * (1.0 - 1.0 / rc.sqrt());
        if skin_depth < 2.0 {
            return hu.skin;
        }
        let lateral = if r_body > 0.0 { x / r_body } else { 0.0 };
        let fat = (an.body.fat * (0.7 + 0.6 * lateral * lateral)).min(skin_depth + out - 16.0);
        if skin_depth < 2.0 + fat {
            return hu.fat;
        }
        if out < RIB_ZONE {
            let dxm = x - an.x_mid;
            if self.sternum_half > 0.0 && cy > 0.0 && dxm.abs() < self.sternum_half {
                let shell =
                    !(2.5..=RIB_ZONE - 1.5).contains(&out) || dxm.abs() > self.sternum_half - 1.5;
                return if shell { hu.cortical } else { hu.marrow };
            }
            if let Some(v) = self.rib(dxm.abs(), cy, out) {
                return v;
            }
        }
        hu.muscle
    }

    /// A rib crossing at angle `theta` (0 at the spine, pi at the sternum), if any.
    fn rib(&self, dxm: f32, cy: f32, out: f32) -> Option<f32> {
        let (ribs, hu) = (&self.an.ribs, &self.an.hu);
        let tn = atan2(dxm, -cy) / PI;
        if tn < 0.06 {
            return None;
        }
        let u = (ribs.z0 - ribs.drop * tn - self.z) / ribs.pitch;
        let n = u.round();
        if !(0.0..=11.0).contains(&n) {
            return None;
        }
        // Upper ribs reach the sternum through cartilage, lower ones end laterally.
        let end = if n <= 6.0 {
            0.97
        } else if n <= 9.0 {
            0.85
        } else {
            0.55
        };
        if tn > end {
            return None;
        }
        let dz = (u - n) * ribs.pitch;
        let e = (dz / (0.5 * ribs.height)).powi(2) + ((out - 4.5) / 3.2).powi(2);
        if e >= 1.0 {
            return None;
        }
        Some(if tn > 0.72 {
            hu.cartilage
        } else if e > 0.4 {
            hu.cortical
        } else {
            hu.marrow
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::anatomy::tests::patient;
    use crate::slice::{Class, Slice};

    #[test]
    fn vertebrae_are_bone_around_a_fluid_canal_and_discs_are_not() {
        let an = patient(6);
        let sp = &an.spine;
        let at = |z: f32, y: f32| Slice::new(&an, z).classify(an.x_mid, y);
        let mid = (an.z_apex + an.z_base) / 2.0;
        let vertebra =
            sp.phase + sp.period * ((mid - sp.phase) / sp.period).floor() + sp.disc + 3.0;
        let disc = vertebra - 5.0;
        assert_eq!(at(vertebra, sp.y_body), Class::Tissue(an.hu.marrow));
        assert_eq!(
            at(vertebra, sp.y_body + sp.r - 0.5),
            Class::Tissue(an.hu.cortical)
        );
        assert_eq!(at(disc, sp.y_body), Class::Tissue(an.hu.disc));
        assert_eq!(at(vertebra, sp.y_canal), Class::Tissue(15.0));
    }

    #[test]
    fn ribs_cross_a_slice_as_arcs_with_intercostal_gaps() {
        let an = patient(7);
        let s = Slice::new(&an, an.z_base + 0.5 * (an.z_apex - an.z_base));
        let mut bone = 0;
        let n = 360;
        for a in 0..n {
            let t = a as f32 / n as f32 * std::f32::consts::TAU;
            let (dx, dy) = (t.sin(), -t.cos());
            let edge = 1.0 / ((dx / s.cav_a).powi(2) + (dy / s.cav_b).powi(2)).sqrt();
            let (x, y) = (dx * (edge + 4.5), an.cavity.y + dy * (edge + 4.5));
            if matches!(s.classify(x, y), Class::Tissue(v) if v > 150.0) {
                bone += 1;
            }
        }
        assert!(
            (n / 8..n * 3 / 4).contains(&bone),
            "{bone} of {n} directions hit bone"
        );
    }
}
