//! Tissue classification on one axial slice: everything of the anatomy that depends only on
//! z is computed once in [`Slice::new`], so classifying a voxel costs a handful of ellipse
//! tests and the distances to the few mediastinal tubes that cross the slice.

use crate::anatomy::{Anatomy, TubeKind};
use crate::geom::{V3, smoothstep};
use std::f32::consts::PI;

/// Radial thickness of the rib layer outside the cavity, in millimetres.
const RIB_ZONE: f32 = 11.0;

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
    body: [f32; 3],
    caps: [Option<[f32; 4]>; 2],
    heart: Option<[f32; 4]>,
    crossings: Vec<Crossing>,
    vertebra: bool,
    sternum_half: f32,
    effusion: f32,
}

impl<'a> Slice<'a> {
    pub(crate) fn new(an: &'a Anatomy, z: f32) -> Self {
        let t = an.height(z);
        // The rib cage narrows towards the apex; the body outline barely changes.
        let narrow = 0.78 + 0.22 * smoothstep(1.0, 0.55, t);
        let bs = 0.97 + 0.03 * (PI * t.clamp(0.0, 1.0)).sin();
        let b = &an.body;
        let caps = std::array::from_fn(|s| {
            let c = &an.caps[s];
            let k = 1.0 - ((z - c.z0) / c.rz).powi(2);
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
    fn outside(&self, x: f32, y: f32) -> f32 {
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
    fn spine(&self, x: f32, y: f32) -> Option<f32> {
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
    fn wall(&self, x: f32, y: f32, rc: f32) -> f32 {
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
        let tn = dxm.atan2(-cy) / PI;
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
        let paravertebral = dxm.abs() < 1.15 * sp.r + 6.0 && y < sp.y_body + 0.3 * sp.r;
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
