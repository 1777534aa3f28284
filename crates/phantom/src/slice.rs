//! Tissue classification on one axial slice: everything of the anatomy that depends only on
//! z is computed once in [`Slice::new`], so classifying a voxel costs a handful of ellipse
//! tests and the distances to the few mediastinal tubes that cross the slice.

use crate::anatomy::{Anatomy, TubeKind};
use crate::geom::{V3, smoothstep};

/// What a voxel is, as far as the renderer needs to know.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Class {
    /// Outside the reconstruction circle: the scanner's padding value, no noise.
    Padding,
    /// Solid tissue, air outside the body or the table, with its density.
    Tissue(f32),
    /// Fat inside the chest, where hilar vessels and airways may still run.
    Fat(f32),
    /// Lung parenchyma: 1 right, 2 left.
    Lung(u8),
}

/// Where a mediastinal tube crosses the slice.
struct Crossing {
    idx: usize,
    bounds: [f32; 4],
}

/// Most mediastinal tubes one row can cross (the anatomy has fewer than 32 tubes).
const MAX_ROW_CROSSINGS: usize = 32;

/// What depends only on y within a slice, computed once per row of voxels.
pub(crate) struct Row {
    y: f32,
    fov_x2: f32,
    body_x2: f32,
    cav_y2: f32,
    crossings: [u8; MAX_ROW_CROSSINGS],
    n_crossings: usize,
}

/// The anatomy at one height `z`.
pub(crate) struct Slice<'a> {
    pub an: &'a Anatomy,
    pub z: f32,
    pub cav_a: f32,
    pub cav_b: f32,
    pub body: [f32; 3],
    caps: [Option<[f32; 4]>; 2],
    heart: Option<[f32; 4]>,
    crossings: Vec<Crossing>,
    pub vertebra: bool,
    pub sternum_half: f32,
    effusion: f32,
}

impl<'a> Slice<'a> {
    pub(crate) fn new(an: &'a Anatomy, z: f32) -> Self {
        let t = an.height(z);
        // The rib cage narrows towards the apex; the body outline barely changes.
        let narrow = 0.7 + 0.3 * smoothstep(1.0, 0.2, t);
        let tc = t.clamp(0.0, 1.0);
        let bs = 0.97 + 0.12 * tc * (1.0 - tc);
        let b = &an.body;
        let caps = std::array::from_fn(|s| {
            let c = &an.caps[s];
            // A paraboloid: the apex is rounded but narrower than an ellipsoid would be.
            let k = 1.0 - (z - c.z0) / c.rz;
            match (z > c.z0, k > 0.0) {
                (false, _) => Some([c.x, c.y, f32::INFINITY, f32::INFINITY]),
                (true, true) => Some([c.x, c.y, c.rx * k.sqrt(), c.ry * k.sqrt()]),
                (true, false) => None,
            }
        });
        let hz = &an.heart;
        let section = |pad: f32| {
            let k = 1.0 - ((z - hz.c.z) / (hz.r[2] + pad)).powi(2);
            (k > 0.0).then(|| ((hz.r[0] + pad) * k.sqrt(), (hz.r[1] + pad) * k.sqrt()))
        };
        let heart = section(hz.fat).map(|(fx, fy)| {
            let (rx, ry) = section(0.0).unwrap_or((1e-3, 1e-3));
            [rx, ry, fx, fy]
        });
        let mut crossings = Vec::new();
        for (idx, tube) in an.tubes.iter().enumerate() {
            let reach = tube.r + tube.margin;
            if let Some((t0, t1)) = tube.seg.clip_z(z - reach, z + reach) {
                let [x0, x1, y0, y1] = tube.seg.xy_bounds(t0, t1);
                crossings.push(Crossing {
                    idx,
                    bounds: [x0 - reach, x1 + reach, y0 - reach, y1 + reach],
                });
            }
        }
        let sp = &an.spine;
        let sternum_half = if z > an.sternum[0] || z < an.sternum[1] {
            0.0
        } else if z > an.sternum[0] - 50.0 {
            25.0
        } else if z < an.sternum[1] + 30.0 {
            8.0
        } else {
            14.0
        };
        let effusion = an
            .effusion
            .as_ref()
            .map_or(0.0, |e| e.depth * (1.0 - smoothstep(0.0, 0.55, t)));
        Self {
            an,
            z,
            cav_a: an.cavity.a * narrow,
            cav_b: an.cavity.b * (0.88 + 0.12 * narrow),
            body: [b.a * bs, b.b_ant * bs, b.b_post * bs],
            caps,
            heart,
            crossings,
            vertebra: (z - sp.phase).rem_euclid(sp.period) >= sp.disc,
            sternum_half,
            effusion,
        }
    }

    /// The tissue at `(x, y)` on this slice.
    pub(crate) fn classify(&self, x: f32, y: f32) -> Class {
        self.classify_in(&self.row(y), x)
    }

    /// Precomputes the row at `y` for [`Slice::classify_in`].
    pub(crate) fn row(&self, y: f32) -> Row {
        let an = self.an;
        let dy = y - an.body.y0;
        let body_x2 = if dy > 0.0 {
            1.0 - (dy / self.body[1]).powi(2)
        } else {
            // Where the squarer back outline `body_norm` (below) reaches 1 on this row.
            let y2 = (dy / self.body[2]).powi(2);
            2.0 * (1.0 - y2) / (2.0 - y2)
        };
        let mut row = Row {
            y,
            fov_x2: an.fov_r * an.fov_r - y * y,
            body_x2: if body_x2 > 0.0 {
                body_x2 * self.body[0] * self.body[0]
            } else {
                -1.0
            },
            cav_y2: ((y - an.cavity.y) / self.cav_b).powi(2),
            crossings: [0; MAX_ROW_CROSSINGS],
            n_crossings: 0,
        };
        for (i, c) in self.crossings.iter().enumerate() {
            if y >= c.bounds[2] && y <= c.bounds[3] && row.n_crossings < MAX_ROW_CROSSINGS {
                row.crossings[row.n_crossings] = i as u8;
                row.n_crossings += 1;
            }
        }
        row
    }

    /// The tissue at `x` on a precomputed row.
    #[inline]
    pub(crate) fn classify_in(&self, row: &Row, x: f32) -> Class {
        let x2 = x * x;
        if x2 > row.fov_x2 {
            return Class::Padding;
        }
        let y = row.y;
        if x2 >= row.body_x2 {
            return Class::Tissue(self.outside(x, y));
        }
        if let Some(hu) = self.spine(x, y) {
            return Class::Tissue(hu);
        }
        let rc = x2 / (self.cav_a * self.cav_a) + row.cav_y2;
        if rc >= 1.0 {
            return Class::Tissue(self.wall(x, y, rc));
        }
        self.cavity(row, x)
    }

    /// Inside the rib cage: mediastinal tubes, heart, abdomen under the diaphragm, pleural
    /// fluid, mediastinal fat, and finally lung.
    fn cavity(&self, row: &Row, x: f32) -> Class {
        let (an, y) = (self.an, row.y);
        let hu = &an.hu;
        let p = V3::new(x, y, self.z);
        let mut envelope = false;
        for &ci in &row.crossings[..row.n_crossings] {
            let c = &self.crossings[usize::from(ci)];
            if x < c.bounds[0] || x > c.bounds[1] {
                continue;
            }
            let tube = &an.tubes[c.idx];
            let d = tube.seg.dist(p);
            if d < tube.r {
                return Class::Tissue(match tube.kind {
                    TubeKind::Blood => hu.blood,
                    TubeKind::Airway { wall } => {
                        if d > tube.r - wall {
                            70.0
                        } else {
                            -1000.0
                        }
                    }
                    TubeKind::Esophagus { lumen } => {
                        if d < lumen {
                            -1000.0
                        } else {
                            hu.muscle
                        }
                    }
                });
            }
            envelope |= d < tube.r + tube.margin;
        }
        if let Some([rx, ry, fx, fy]) = self.heart {
            let h = &an.heart;
            let (dx, dy) = (x - h.c.x, y - h.c.y);
            let (u, v) = (h.cos * dx + h.sin * dy, h.cos * dy - h.sin * dx);
            if (u / rx).powi(2) + (v / ry).powi(2) < 1.0 {
                return Class::Tissue(hu.blood);
            }
            envelope |= (u / fx).powi(2) + (v / fy).powi(2) < 1.0;
        }
        if self.z <= an.diaphragm_z(x, y) {
            return Class::Tissue(self.abdomen(x, y));
        }
        let dxm = x - an.x_mid;
        let side = usize::from(dxm >= 0.0);
        if self.effusion > 0.0
            && an.effusion.as_ref().is_some_and(|e| e.side == side)
            && self.posterior_depth(x, y) < self.effusion
        {
            return Class::Tissue(12.0);
        }
        let sp = &an.spine;
        // Paravertebral soft tissue: round over the front of the vertebral body, straight
        // down its sides to the back of the chest.
        let (u, v) = (
            dxm / (1.15 * sp.r + 7.0),
            (y - sp.y_body).max(0.0) / (sp.r + 7.0),
        );
        let paravertebral = u * u + v * v < 1.0;
        // The lungs nearly touch behind the sternum (anterior junction line); further back
        // the mediastinum between them is wider.
        let band = if y > an.cavity.y + 0.3 * self.cav_b {
            an.band
        } else {
            an.band + 10.0
        };
        if envelope || paravertebral || dxm.abs() < band {
            return Class::Fat(hu.fat);
        }
        match self.caps[side] {
            Some([cx, cy, rx, ry]) if ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2) < 1.0 => {
                Class::Lung(side as u8 + 1)
            }
            _ => Class::Fat(hu.fat),
        }
    }

    /// Liver, stomach (with its gas bubble anterior), spleen, or mixed bowel and fat.
    fn abdomen(&self, x: f32, y: f32) -> f32 {
        let an = self.an;
        let ab = &an.abdomen;
        let s = V3::new(x, y, self.z) - ab.stomach;
        if s.dot(s) < ab.stomach_r * ab.stomach_r {
            return if y > ab.air_y { -1000.0 } else { 15.0 };
        }
        let q = V3::new(x, y, self.z) - ab.spleen;
        let [a, b, c] = ab.spleen_r;
        if (q.x / a).powi(2) + (q.y / b).powi(2) + (q.z / c).powi(2) < 1.0 {
            return 45.0;
        }
        if x - an.x_mid < 25.0 + 0.5 * (y - an.cavity.y) {
            an.hu.liver
        } else {
            25.0
        }
    }

    /// Distance above the posterior inner chest wall, the gravity-dependent direction.
    #[inline]
    pub(crate) fn posterior_depth(&self, x: f32, y: f32) -> f32 {
        let k = (1.0 - (x / self.cav_a).powi(2)).max(0.0);
        y - (self.an.cavity.y - self.cav_b * k.sqrt())
    }

    /// Depth of pleural fluid on this slice (0 without effusion).
    pub(crate) fn effusion_depth(&self) -> f32 {
        self.effusion
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::tests::patient;

    #[test]
    fn a_mid_chest_slice_has_both_lungs_the_heart_and_air_around_the_body() {
        for seed in 0..10 {
            let an = patient(seed);
            let s = Slice::new(&an, an.heart.c.z + 5.0);
            let back = an.cavity.y - 0.2 * an.cavity.b;
            assert_eq!(
                s.classify(an.x_mid - 0.6 * s.cav_a, back),
                Class::Lung(1),
                "{seed}"
            );
            assert_eq!(
                s.classify(an.x_mid + 0.8 * s.cav_a, back),
                Class::Lung(2),
                "{seed}"
            );
            assert_eq!(
                s.classify(an.heart.c.x, an.heart.c.y),
                Class::Tissue(an.hu.blood)
            );
            assert_eq!(
                s.classify(0.0, an.body.y0 + an.body.b_ant + 5.0),
                Class::Tissue(-1000.0)
            );
            assert_eq!(s.classify(an.fov_r, an.fov_r), Class::Padding);
        }
    }

    #[test]
    fn no_lung_lies_above_the_apex_or_below_the_diaphragm() {
        let an = patient(4);
        let above = Slice::new(&an, an.z_apex + 2.0);
        let below = Slice::new(&an, an.z_base - 2.0);
        for i in -40..=40 {
            for j in -30..=30 {
                let (x, y) = (i as f32 * 4.0, an.cavity.y + j as f32 * 4.0);
                assert!(!matches!(above.classify(x, y), Class::Lung(_)));
                assert!(!matches!(below.classify(x, y), Class::Lung(_)));
            }
        }
    }

    #[test]
    fn a_row_classifies_as_single_points_do() {
        let an = patient(5);
        let s = Slice::new(&an, an.z_base + 0.6 * (an.z_apex - an.z_base));
        for j in -50..50 {
            let y = j as f32 * 3.0;
            let row = s.row(y);
            for i in -60..60 {
                let x = i as f32 * 3.0;
                assert_eq!(s.classify_in(&row, x), s.classify(x, y));
            }
        }
    }
}
