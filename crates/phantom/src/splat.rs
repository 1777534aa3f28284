//! Draws the lung vessel and airway trees into per-slice coverage buffers.
//!
//! Each tube is visited once per slice it reaches and only over its own bounding box, so
//! thousands of thin branches cost little. A voxel stands for a slab as thick as the slice
//! spacing: a branch counts if it passes anywhere within that slab, and its contrast is
//! diluted by the part of the slab it fills (partial volume), so 8 mm slices show thin
//! vessels as faint smudges just as thick-slice CT does.

use crate::geom::{Grid, Segment, V3};
use crate::trees::LungTube;

/// Coverage in [0, 1] per voxel of one slice: solid tubes (vessels, spicules), airway
/// outer walls and airway lumens.
pub(crate) struct Splats {
    pub solid: Vec<f32>,
    pub wall: Vec<f32>,
    pub lumen: Vec<f32>,
}

impl Splats {
    /// Blends the tubes over background density `v` at voxel `idx`.
    #[inline]
    pub(crate) fn over(&self, v: f32, blood: f32, idx: usize) -> f32 {
        let v = v + self.solid[idx] * (blood - v);
        let v = v + self.wall[idx] * (30.0 - v);
        v + self.lumen[idx] * (-1000.0 - v)
    }
}

impl Splats {
    /// Empty buffers for slices of `n` voxels.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            solid: vec![0.0; n],
            wall: vec![0.0; n],
            lumen: vec![0.0; n],
        }
    }
}

/// Draws every tube that reaches the slice at height `z` into `out`, which it clears first.
pub(crate) fn splat(tubes: &[LungTube], grid: &Grid, z: f32, out: &mut Splats) {
    for buf in [&mut out.solid, &mut out.wall, &mut out.lumen] {
        buf.fill(0.0);
    }
    let (px, dz) = (grid.s[0], grid.s[2]);
    let half = dz / 2.0;
    for t in tubes {
        let outer = t.r + t.wall;
        let reach = outer + half + px;
        let (z0, z1) = t.seg.z_span();
        if z < z0 - reach || z > z1 + reach {
            continue;
        }
        let Some((t0, t1)) = t.seg.clip_z(z - reach, z + reach) else {
            continue;
        };
        let [x0, x1, y0, y1] = t.seg.xy_bounds(t0, t1);
        let pad = outer + px;
        let ab = t.seg.ab;
        let len = ab.len();
        let cos = if len > 0.0 {
            (ab.x * ab.x + ab.y * ab.y).sqrt() / len
        } else {
            1.0
        };
        // Vertical extent of the tube at one (x, y) is 2r / cos; beyond the slab it is cut.
        let slab = |rad: f32| {
            if dz > 2.0 * rad {
                (2.0 * rad / (cos.max(1e-3) * dz)).min(1.0)
            } else {
                1.0
            }
        };
        let thin = |rad: f32| (2.0 * rad / px).min(1.0);
        let (f_outer, f_lumen) = (slab(outer) * thin(outer), slab(t.r) * thin(t.r));
        for j in grid.span(1, y0 - pad, y1 + pad) {
            let y = grid.at(1, j);
            for i in grid.span(0, x0 - pad, x1 + pad) {
                let p = V3::new(grid.at(0, i), y, z);
                let d = column_distance(&t.seg, p, half);
                let c = ((outer - d) / px + 0.5).clamp(0.0, 1.0) * f_outer;
                if c <= 0.0 {
                    continue;
                }
                let idx = j * grid.n[0] + i;
                if t.wall == 0.0 {
                    out.solid[idx] = out.solid[idx].max(c);
                } else {
                    out.wall[idx] = out.wall[idx].max(c);
                    let l = ((t.r - d) / px + 0.5).clamp(0.0, 1.0) * f_lumen;
                    out.lumen[idx] = out.lumen[idx].max(l);
                }
            }
        }
    }
}

/// Distance from the axis to the voxel's column `p.z ± half` (approximately: the better of
/// the closest points in 3D and in projection).
#[inline]
fn column_distance(seg: &Segment, p: V3, half: f32) -> f32 {
    let ab = seg.ab;
    let at = |t: f32| {
        let q = seg.at(t);
        let dz = ((q.z - p.z).abs() - half).max(0.0);
        ((q.x - p.x).powi(2) + (q.y - p.y).powi(2) + dz * dz).sqrt()
    };
    let t3 = seg.closest(p);
    let xy2 = ab.x * ab.x + ab.y * ab.y;
    if xy2 <= 0.0 {
        return at(t3);
    }
    let t2 = (((p.x - seg.a.x) * ab.x + (p.y - seg.a.y) * ab.y) / xy2).clamp(0.0, 1.0);
    at(t3).min(at(t2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(dz: f64) -> Grid {
        Grid::new(&volume::Geometry::axis_aligned([41, 41, 5], [1.0, 1.0, dz]))
    }

    /// Splats `tubes` on the slice through z = 0.
    fn draw(tubes: &[LungTube], g: &Grid) -> Splats {
        let mut out = Splats::new(g.n[0] * g.n[1]);
        splat(tubes, g, 0.0, &mut out);
        out
    }

    fn tube(a: V3, b: V3, r: f32) -> LungTube {
        LungTube {
            seg: Segment::new(a, b),
            r,
            wall: 0.0,
        }
    }

    #[test]
    fn a_vertical_vessel_covers_a_disc() {
        let g = grid(1.0);
        let s = draw(
            &[tube(V3::new(0.0, 0.0, -10.0), V3::new(0.0, 0.0, 10.0), 3.0)],
            &g,
        );
        let at = |x: usize, y: usize| s.solid[y * 41 + x];
        assert_eq!(at(20, 20), 1.0);
        assert_eq!(at(22, 20), 1.0);
        assert!(at(23, 20) > 0.0 && at(23, 20) < 1.0);
        assert_eq!(at(25, 20), 0.0);
    }

    #[test]
    fn thick_slices_dilute_thin_horizontal_vessels() {
        let v = [tube(V3::new(-15.0, 0.0, 0.0), V3::new(15.0, 0.0, 0.0), 1.0)];
        let thin = draw(&v, &grid(1.0)).solid[20 * 41 + 20];
        let thick = draw(&v, &grid(8.0)).solid[20 * 41 + 20];
        assert_eq!(thin, 1.0);
        assert!((thick - 0.25).abs() < 1e-6, "{thick}");
    }

    #[test]
    fn airways_draw_a_lumen_inside_a_wall() {
        let a = LungTube {
            seg: Segment::new(V3::new(0.0, 0.0, -9.0), V3::new(0.0, 0.0, 9.0)),
            r: 4.0,
            wall: 1.5,
        };
        let s = draw(&[a], &grid(1.0));
        assert_eq!((s.wall[20 * 41 + 20], s.lumen[20 * 41 + 20]), (1.0, 1.0));
        let ring = 20 * 41 + 25;
        assert!(s.wall[ring] > 0.9 && s.lumen[ring] < 0.1);
        assert!((s.over(-850.0, 40.0, ring) - 30.0).abs() < 100.0);
    }
}
