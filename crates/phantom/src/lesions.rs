//! Focal pathology as "blobs": ellipsoids whose surfaces are roughened by smooth noise.
//!
//! A blob's shape value at a point is `k = m / (1 + irregular * eta)`, with `m` the
//! ellipsoidal distance (1 on the nominal surface) and `eta` in [-1, 1] a smooth noise field
//! shared by all blobs; the blob occupies `k < 1`. Scaling a blob's radii by `s` divides
//! `k` by `s`, so the radius scale that makes a given fraction of a lung affected is a
//! quantile of `k` over that lung's voxels: [`fit_severity`] needs no search.
//!
//! COVID-19 raters contour the same smooth field at slightly different levels (one a little
//! outside the visible edge, one a little inside, each wobbling along the contour) and the
//! second rater, sometimes also the first, misses tiny lesions, as real raters do.

use crate::anatomy::Anatomy;
use crate::geom::{Grid, V3, cbrt, lerp, smoothstep};
use crate::noise::NoisePlane;
use crate::slice::{Class, Slice};

/// Noise keys (xored with the study key) of the shape and rater fields.
const ETA_KEY: u64 = 0xE7A0;
const RATER_KEYS: [u64; 2] = [0x4A7E_0001, 0x4A7E_0002];
const PAVING_KEY: u64 = 0x9A7E;

/// Lattice spacing of the shape noise, millimetres.
const ETA_SCALE: f32 = 14.0;

/// Irregularity of COVID-19 lesion outlines.
pub(crate) const COVID_IRREGULAR: f32 = 0.35;

/// Rater contour levels: rater 1 draws slightly outside, rater 2 slightly inside.
const RATER_BIAS: [f32; 2] = [0.045, -0.045];
const RATER_WOBBLE: f32 = 0.05;

/// Lesions with an equivalent radius below this (mm) may be missed by raters.
const TINY: f32 = 6.0;

/// What a blob is and how it is shaded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    /// Ground glass, with an optional consolidated core and optional crazy paving.
    Covid {
        core: Option<(f32, f32)>,
        paving: bool,
    },
    /// Dense lobar or segmental consolidation with a faint ground-glass halo.
    Consolidation,
    /// A solid nodule or mass with a sharp edge.
    Nodule,
}

/// One focal lesion in lung `side` (1 right, 2 left).
#[derive(Clone, Debug)]
pub(crate) struct Blob {
    pub kind: Kind,
    pub side: u8,
    pub c: V3,
    pub cos: f32,
    pub sin: f32,
    pub r: [f32; 3],
    pub irregular: f32,
    pub lobe: Option<u8>,
    pub hu: f32,
    /// Whether each rater would miss this lesion if it turns out tiny.
    pub miss_if_tiny: [bool; 2],
    /// Whether each rater misses it.
    pub missed: [bool; 2],
}

impl Blob {
    /// Ellipsoidal distance: 1 on the nominal surface.
    #[inline]
    pub(crate) fn m(&self, p: V3) -> f32 {
        self.m2(p).sqrt()
    }

    /// The square of [`Self::m`], cheap enough to reject far points first.
    #[inline]
    fn m2(&self, p: V3) -> f32 {
        let d = p - self.c;
        let u = self.cos * d.x + self.sin * d.y;
        let v = self.cos * d.y - self.sin * d.x;
        (u / self.r[0]).powi(2) + (v / self.r[1]).powi(2) + (d.z / self.r[2]).powi(2)
    }

    /// How far (in units of the radii) the blob and its halo can reach.
    fn reach(&self) -> f32 {
        let base = 1.0 / (1.0 - self.irregular);
        match self.kind {
            Kind::Covid { .. } => 1.1 * base,
            Kind::Consolidation => 1.4 * base,
            Kind::Nodule => 1.05 * base,
        }
    }

    fn bounds(&self) -> [f32; 3] {
        let f = self.reach();
        let xy = self.r[0].max(self.r[1]) * f;
        [xy, xy, self.r[2] * f]
    }
}

/// The blobs that reach one slice, with the noise planes needed to shade them.
pub(crate) struct LesionSlice<'a> {
    blobs: &'a [Blob],
    active: Vec<(usize, [f32; 4])>,
    eta: Option<NoisePlane>,
    raters: Option<[NoisePlane; 2]>,
    paving: Option<NoisePlane>,
}

/// The lesions under one voxel: the closest blob and each rater's shape value.
pub(crate) struct Hit {
    pub blob: usize,
    pub k: f32,
    pub raters: [f32; 2],
}

impl<'a> LesionSlice<'a> {
    pub(crate) fn new(blobs: &'a [Blob], key: u64, z: f32, x: [f32; 2], y: [f32; 2]) -> Self {
        let active: Vec<_> = blobs
            .iter()
            .enumerate()
            .filter(|(_, b)| (z - b.c.z).abs() < b.bounds()[2])
            .map(|(i, b)| {
                let [bx, by, _] = b.bounds();
                (i, [b.c.x - bx, b.c.x + bx, b.c.y - by, b.c.y + by])
            })
            .collect();
        let covid = active
            .iter()
            .any(|&(i, _)| matches!(blobs[i].kind, Kind::Covid { .. }));
        let plane = |k: u64, scale: f32| NoisePlane::new(key ^ k, scale, z, x, y);
        Self {
            blobs,
            eta: (!active.is_empty()).then(|| plane(ETA_KEY, ETA_SCALE)),
            raters: covid.then(|| RATER_KEYS.map(|k| plane(k, 9.0))),
            paving: covid.then(|| plane(PAVING_KEY, 6.0)),
            active,
        }
    }

    /// Fills `row` with the positions in the active list of the blobs reaching row `y`.
    pub(crate) fn row(&self, y: f32, row: &mut Vec<usize>) {
        row.clear();
        row.extend((0..self.active.len()).filter(|&a| {
            let [_, _, y0, y1] = self.active[a].1;
            y >= y0 && y <= y1
        }));
    }

    /// The blobs of lung `side` at `p`, if any reaches it; `row` comes from [`Self::row`].
    pub(crate) fn hit(&self, an: &Anatomy, row: &[usize], side: u8, p: V3) -> Option<Hit> {
        let eta = self.eta.as_ref()?;
        let mut best: Option<Hit> = None;
        let mut e = None;
        for &a in row {
            let (i, [x0, x1, _, _]) = self.active[a];
            let b = &self.blobs[i];
            if b.side != side || p.x < x0 || p.x > x1 {
                continue;
            }
            if b.lobe
                .is_some_and(|l| an.lobe(usize::from(side - 1), p.x, p.y, p.z) != l)
            {
                continue;
            }
            let m2 = b.m2(p);
            if m2 > b.reach().powi(2) {
                continue;
            }
            let m = m2.sqrt();
            let k = m / (1.0 + b.irregular * *e.get_or_insert_with(|| eta.at(p.x, p.y)));
            let h = best.get_or_insert(Hit {
                blob: i,
                k: f32::INFINITY,
                raters: [f32::INFINITY; 2],
            });
            if k < h.k {
                (h.blob, h.k) = (i, k);
            }
            for (r, kr) in h.raters.iter_mut().enumerate() {
                if !b.missed[r] {
                    *kr = kr.min(k);
                }
            }
        }
        best.filter(|h| h.k.is_finite())
    }

    /// The density of background `v` with lesion `hit` on it; `fine` is texture in [-1, 1]
    /// and `pixel` the in-plane spacing (for the anti-aliased edge of nodules).
    pub(crate) fn shade(&self, hit: &Hit, v: f32, fine: f32, x: f32, y: f32, pixel: f32) -> f32 {
        let b = &self.blobs[hit.blob];
        let k = hit.k;
        match b.kind {
            Kind::Covid { core, paving } => {
                let mut target = b.hu + 30.0 * fine;
                if let (true, Some(plane)) = (paving, &self.paving) {
                    // Ridged noise draws a polygonal network: thickened interlobular septa.
                    let ridge = 1.0 - plane.at(x, y).abs();
                    target += 220.0 * smoothstep(0.82, 0.95, ridge);
                }
                if let Some((kc, hc)) = core {
                    target = lerp(
                        target,
                        hc + 20.0 * fine,
                        smoothstep(kc + 0.08, kc - 0.08, k),
                    );
                }
                lerp(v, target, smoothstep(1.08, 0.92, k))
            }
            Kind::Consolidation => {
                let halo = lerp(v, -550.0, 0.6 * smoothstep(1.35, 1.05, k));
                lerp(halo, b.hu + 15.0 * fine, smoothstep(1.1, 0.9, k))
            }
            Kind::Nodule => {
                let edge = pixel / b.r[0].min(b.r[1]);
                lerp(v, b.hu + 8.0 * fine, smoothstep(1.0 + edge, 1.0 - edge, k))
            }
        }
    }

    /// Each rater's verdict on a COVID-19 voxel.
    pub(crate) fn raters(&self, hit: &Hit, x: f32, y: f32) -> [bool; 2] {
        let Some(planes) = &self.raters else {
            return [false; 2];
        };
        std::array::from_fn(|r| {
            hit.raters[r] < 1.0 + RATER_BIAS[r] + RATER_WOBBLE * planes[r].at(x, y)
        })
    }
}

/// Scales each lung's COVID-19 blobs so that `fractions[side]` of that lung lies inside
/// them, measured on a ~4 mm subgrid of the study's own voxels; then marks the lesions each
/// rater misses.
pub(crate) fn fit_severity(blobs: &mut [Blob], an: &Anatomy, grid: &Grid, fractions: [f32; 2]) {
    let stride = [0, 1, 2].map(|a| ((4.5 / grid.s[a]).round() as usize).max(1));
    let mut ks: [Vec<f32>; 2] = [Vec::new(), Vec::new()];
    for kz in (0..grid.n[2]).step_by(stride[2]) {
        let z = grid.at(2, kz);
        let slice = Slice::new(an, z);
        let (ca, cb, cy) = (slice.cav_a, slice.cav_b, an.cavity.y);
        let eta = NoisePlane::new(
            an.key ^ ETA_KEY,
            ETA_SCALE,
            z,
            [-ca, ca],
            [cy - cb, cy + cb],
        );
        for j in grid.span(1, cy - cb, cy + cb).step_by(stride[1]) {
            let y = grid.at(1, j);
            for i in grid.span(0, -ca, ca).step_by(stride[0]) {
                let x = grid.at(0, i);
                let Class::Lung(side) = slice.classify(x, y) else {
                    continue;
                };
                let p = V3::new(x, y, z);
                let m = blobs
                    .iter()
                    .filter(|b| b.side == side)
                    .map(|b| b.m(p))
                    .fold(f32::INFINITY, f32::min);
                ks[usize::from(side - 1)].push(m / (1.0 + COVID_IRREGULAR * eta.at(x, y)));
            }
        }
    }
    for (side, mut k) in ks.into_iter().enumerate() {
        if k.is_empty() {
            continue;
        }
        k.sort_unstable_by(f32::total_cmp);
        let at = ((fractions[side] * k.len() as f32) as usize).min(k.len() - 1);
        let scale = k[at];
        for b in blobs.iter_mut().filter(|b| usize::from(b.side) == side + 1) {
            b.r = b.r.map(|r| r * scale);
            let tiny = cbrt(b.r[0] * b.r[1] * b.r[2]) < TINY;
            b.missed = b.miss_if_tiny.map(|m| m && tiny);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::tests::patient;

    fn covid_blob(r: f32) -> Blob {
        Blob {
            kind: Kind::Covid {
                core: None,
                paving: false,
            },
            side: 1,
            c: V3::new(-60.0, 0.0, 10.0),
            cos: 1.0,
            sin: 0.0,
            r: [r; 3],
            irregular: COVID_IRREGULAR,
            lobe: None,
            hu: -550.0,
            miss_if_tiny: [false; 2],
            missed: [false; 2],
        }
    }

    #[test]
    fn doubling_the_radii_halves_the_shape_value() {
        let (small, big) = (covid_blob(10.0), covid_blob(20.0));
        let p = V3::new(-52.0, 3.0, 14.0);
        assert!((small.m(p) - 2.0 * big.m(p)).abs() < 1e-5);
    }

    #[test]
    fn raters_agree_inside_and_outside_but_not_along_the_edge() {
        let an = patient(1);
        let blobs = [covid_blob(30.0)];
        let ls = LesionSlice::new(&blobs, an.key, 10.0, [-200.0, 200.0], [-200.0, 200.0]);
        let mut row = Vec::new();
        let (mut agree_in, mut agree_out, mut differ) = (0, 0, 0);
        for j in -60..=60 {
            let y = j as f32;
            ls.row(y, &mut row);
            for i in -60..=60 {
                let x = -60.0 + i as f32;
                let Some(hit) = ls.hit(&an, &row, 1, V3::new(x, y, 10.0)) else {
                    continue;
                };
                match ls.raters(&hit, x, y) {
                    [true, true] => agree_in += 1,
                    [false, false] => agree_out += 1,
                    _ => differ += 1,
                }
                let shaded = ls.shade(&hit, -850.0, 0.0, x, y, 1.0);
                if hit.k < 0.9 {
                    assert!(shaded > -700.0, "ground glass inside");
                } else if hit.k > 1.1 {
                    assert_eq!(shaded, -850.0, "untouched outside");
                }
            }
        }
        assert!(agree_in > 1000 && agree_out > 100, "{agree_in} {agree_out}");
        assert!(
            differ > 0 && differ * 5 < agree_in,
            "{differ} of {agree_in}"
        );
    }

    #[test]
    fn fitting_makes_tiny_lesions_easy_to_miss() {
        let an = patient(2);
        let grid = Grid::new(&volume::Geometry::axis_aligned(
            [128, 128, 60],
            [2.8, 2.8, 5.0],
        ));
        let mut blobs = vec![covid_blob(1.0)];
        blobs[0].miss_if_tiny = [false, true];
        blobs[0].c = crate::trees::lung_point(&an, 0, &mut rand::SeedableRng::seed_from_u64(3));
        fit_severity(&mut blobs, &an, &grid, [0.0001, 0.0001]);
        assert!(
            blobs[0].r[0] < TINY && blobs[0].missed == [false, true],
            "{:?}",
            blobs[0].r
        );
        fit_severity(&mut blobs, &an, &grid, [0.3, 0.3]);
        assert!(blobs[0].r[0] > TINY && blobs[0].missed == [false, false]);
    }
}
