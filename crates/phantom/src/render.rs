//! Renders a planned study into voxels: image, lung labels and the raters' lesion masks.
//!
//! All random draws happen first, serially, from the study's own generator (anatomy,
//! pathology, trees, severity fit). Slices are then rendered in parallel as pure functions
//! of that scene and of hashed noise, so the output is byte-identical on any thread count.

use crate::anatomy::Anatomy;
use crate::confounders::Confounders;
use crate::geom::{Grid, V3, lerp, smoothstep};
use crate::kinds::Category;
use crate::lesions::{LesionSlice, fit_severity};
use crate::noise::{NoisePlane, gauss};
use crate::pathology::{self, Pathology};
use crate::plan::StudySpec;
use crate::slice::{Class, Slice};
use crate::splat::{Splats, splat};
use crate::trees::{self, LungTube};
use rayon::prelude::*;
use volume::Geometry;

/// Noise keys (xored with the study key) of the scanner noise and lung texture.
const SCANNER_KEY: u64 = 0x5CA0;
const TEXTURE_KEYS: [u64; 2] = [0x7E71, 0x7E72];

/// One generated study, all arrays in memory order (voxel `(i, j, k)` at
/// `i + nx * (j + ny * k)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Study {
    /// Grid of the image and of every mask.
    pub geometry: Geometry,
    /// CT densities in Hounsfield units.
    pub hu: Vec<i16>,
    /// Lung label map: 0 background, 1 right lung, 2 left lung.
    pub lungs: Vec<u8>,
    /// One 0/1 lesion mask per rater for COVID-19 studies; empty for other categories.
    pub lesions: Vec<Vec<u8>>,
    /// What the study shows.
    pub category: Category,
}

impl Study {
    /// Severity by one rater's mask: `100 * max(|L ∩ R| / |R|, |L ∩ G| / |G|)` over the
    /// right (R) and left (G) lungs, as in EVALUATION.md; a lung without voxels counts 0.
    pub fn rater_severity(&self, rater: usize) -> f64 {
        let mask = &self.lesions[rater];
        metrics::affected_percent_of(self.lungs.iter().zip(mask).map(|(&l, &m)| (l, m != 0)))
    }

    /// Ground-truth affected percentage: the mean of the raters' severities, 0 without masks.
    pub fn affected_percent(&self) -> f64 {
        let n = self.lesions.len();
        if n == 0 {
            0.0
        } else {
            (0..n).map(|r| self.rater_severity(r)).sum::<f64>() / n as f64
        }
    }
}

/// Generates the study `spec` describes. The same spec always gives the same study.
///
/// # Panics
/// If `spec.geometry` is not axis aligned with a positive diagonal, as [`crate::plan()`]
/// always makes it.
pub fn generate(spec: &StudySpec) -> Study {
    let grid = Grid::new(&spec.geometry);
    let mut rng = spec.seed.rng();
    let mut an = Anatomy::sample(grid.n, grid.s, &mut rng);
    let covid = spec.category == Category::Covid;
    let mut path = pathology::plan(spec.category, spec.severity_class(), &mut an, &mut rng);
    let px = grid.s[0];
    // Finer grids get deeper trees; branches far below a voxel would be invisible anyway.
    let leaves = if px < 1.2 {
        1024
    } else if px < 2.0 {
        512
    } else {
        256
    };
    let mut tubes = trees::grow(&an, leaves, (0.6 * px).max(0.8), &mut rng);
    tubes.append(&mut path.spicules);
    if covid {
        let target = (spec.target_severity.unwrap_or(10.0) / 100.0) as f32;
        fit_severity(&mut path.blobs, &an, &grid, path.shares.map(|s| s * target));
    }
    let confounders = Confounders::sample(&an);
    let scene = Scene {
        an: &an,
        confounders: &confounders,
        grid,
        tubes: &tubes,
        path: &path,
    };
    let n = grid.n[0] * grid.n[1];
    let total = n * grid.n[2];
    let mut hu = vec![0i16; total];
    let mut lungs = vec![0u8; total];
    let mut lesions = Vec::new();
    if covid {
        let mut bits = vec![0u8; total];
        let chunks = hu
            .par_chunks_mut(n)
            .zip(lungs.par_chunks_mut(n))
            .zip(bits.par_chunks_mut(n));
        chunks.enumerate().for_each_init(
            || Scratch::new(n),
            |s, (k, ((h, l), b))| scene.slice(s, k, h, l, Some(b)),
        );
        lesions = (0..2)
            .map(|r| bits.par_iter().map(|&b| (b >> r) & 1).collect())
            .collect();
    } else {
        let chunks = hu.par_chunks_mut(n).zip(lungs.par_chunks_mut(n));
        chunks.enumerate().for_each_init(
            || Scratch::new(n),
            |s, (k, (h, l))| scene.slice(s, k, h, l, None),
        );
    }
    Study {
        geometry: spec.geometry.clone(),
        hu,
        lungs,
        lesions,
        category: spec.category,
    }
}

/// Per-thread buffers reused from slice to slice, so that rendering does not spend its
/// time allocating and zeroing fresh pages.
struct Scratch {
    splats: Splats,
    white: Vec<f32>,
    noise: Vec<f32>,
    blobs: Vec<usize>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Self {
            splats: Splats::new(n),
            white: vec![0.0; n],
            noise: vec![0.0; n],
            blobs: Vec::new(),
        }
    }
}

/// Everything drawn for one study, shared read-only by the slice renderers.
struct Scene<'a> {
    an: &'a Anatomy,
    confounders: &'a Confounders,
    grid: Grid,
    tubes: &'a [LungTube],
    path: &'a Pathology,
}

impl Scene<'_> {
    fn slice(
        &self,
        scratch: &mut Scratch,
        k: usize,
        hu: &mut [i16],
        lungs: &mut [u8],
        mut bits: Option<&mut [u8]>,
    ) {
        let (an, g) = (self.an, &self.grid);
        let z = g.at(2, k);
        let sl = Slice::new(an, z);
        let (xr, yr) = (
            [-sl.cav_a - 5.0, sl.cav_a + 5.0],
            [an.cavity.y - sl.cav_b - 5.0, an.cavity.y + sl.cav_b + 5.0],
        );
        splat(self.tubes, g, z, &mut scratch.splats);
        let splats = &scratch.splats;
        let lesions = LesionSlice::new(&self.path.blobs, an.key, z, xr, yr);
        let coarse = NoisePlane::new(an.key ^ TEXTURE_KEYS[0], 7.0, z, xr, yr);
        let fine = NoisePlane::new(an.key ^ TEXTURE_KEYS[1], (1.2 * g.s[0]).max(2.5), z, xr, yr);
        scanner_noise(
            an.key ^ SCANNER_KEY,
            k,
            g.n[0],
            &mut scratch.white,
            &mut scratch.noise,
        );
        let noise = &scratch.noise;
        let t = an.height(z);
        let eff = sl.effusion_depth();
        let fissure = 0.35 * (1.5 / g.s[2]).min(1.0);
        for j in 0..g.n[1] {
            let y = g.at(1, j);
            let row = sl.row(y);
            lesions.row(y, &mut scratch.blobs);
            for i in 0..g.n[0] {
                let x = g.at(0, i);
                let idx = j * g.n[0] + i;
                let v = match sl.classify_in(&row, x) {
                    Class::Padding => {
                        hu[idx] = -1024;
                        continue;
                    }
                    Class::Tissue(v) => v,
                    Class::Fat(v) => splats.over(v, an.hu.blood, idx),
                    Class::Lung(side) => {
                        lungs[idx] = side;
                        let (c, f) = (coarse.at(x, y), fine.at(x, y));
                        let d_post = sl.posterior_depth(x, y);
                        // Dependent lung is denser: more blood and less air at the back.
                        let (inspiration, gradient) = self.confounders.parenchyma();
                        let mut v = an.hu.lung
                            + inspiration
                            + (an.hu.gradient + gradient) * (1.0 - smoothstep(0.0, 90.0, d_post))
                            + 2.0 * an.hu.texture * (0.6 * c + 0.4 * f);
                        // Fissures: thin pleural lines, lost in the partial volume of thick slices.
                        let d = an.fissure_distance(usize::from(side - 1), x, y, z);
                        if d < g.s[0] {
                            v = lerp(v, -300.0, fissure * (1.0 - d / g.s[0]));
                        }
                        if let Some(b) = self.path.bands[usize::from(side - 1)] {
                            let depth =
                                b.depth * smoothstep(b.top, 0.5 * b.top, t) * (1.0 + 0.35 * c);
                            v = lerp(v, b.hu, smoothstep(depth + 3.0, depth - 3.0, d_post - eff));
                        }
                        v = self.confounders.shade(
                            v,
                            usize::from(side - 1),
                            V3::new(x, y, z),
                            (t, d_post, z - an.diaphragm_z(x, y)),
                            c,
                            g.s[2],
                        );
                        if let Some(hit) = lesions.hit(an, &scratch.blobs, side, V3::new(x, y, z)) {
                            v = lesions.shade(&hit, v, f, x, y, g.s[0]);
                            if let Some(bits) = bits.as_deref_mut() {
                                let [r1, r2] = lesions.raters(&hit, x, y);
                                bits[idx] = u8::from(r1) | (u8::from(r2) << 1);
                            }
                        }
                        splats.over(v, an.hu.blood, idx)
                    }
                };
                // Clamp, then round half away from zero with a truncating cast (no libm call).
                let v = (v + an.hu.noise * noise[idx]).clamp(-1024.0, 3071.0);
                hu[idx] = (v + 0.5f32.copysign(v)) as i16;
            }
        }
    }
}

/// Unit-variance scanner noise for slice `k` into `out` (`white` is scratch), low-pass
/// filtered in-plane with a [1 2 1] kernel because reconstructed CT noise is correlated
/// over neighbouring pixels.
fn scanner_noise(key: u64, k: usize, nx: usize, white: &mut [f32], out: &mut [f32]) {
    let n = white.len();
    let base = (k * n) as u64;
    for (i, w) in white.iter_mut().enumerate() {
        *w = gauss(key, base + i as u64);
    }
    // Horizontal pass into `out`, vertical pass back into `white`, then copy.
    for (src, dst) in white.chunks_exact(nx).zip(out.chunks_exact_mut(nx)) {
        for i in 0..nx {
            let prev = src[i.saturating_sub(1)];
            let next = src[(i + 1).min(nx - 1)];
            dst[i] = 0.25 * prev + 0.5 * src[i] + 0.25 * next;
        }
    }
    let ny = n / nx;
    for j in 0..ny {
        let (p, q) = (j.saturating_sub(1) * nx, (j + 1).min(ny - 1) * nx);
        for i in 0..nx {
            // The separable [1 2 1]/4 kernel keeps 0.375 of the standard deviation in 2D.
            white[j * nx + i] =
                (0.25 * out[p + i] + 0.5 * out[j * nx + i] + 0.25 * out[q + i]) / 0.375;
        }
    }
    out.copy_from_slice(white);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rater_severity_follows_the_evaluation_formula() {
        let study = Study {
            geometry: Geometry::axis_aligned([6, 1, 1], [1.0; 3]),
            hu: vec![0; 6],
            lungs: vec![0, 1, 1, 2, 2, 2],
            lesions: vec![vec![1, 1, 0, 1, 0, 0], vec![0, 1, 1, 1, 1, 0]],
            category: Category::Covid,
        };
        // Rater 1: right 1/2, left 1/3; rater 2: right 2/2, left 2/3. Voxel 0 is no lung.
        assert!((study.rater_severity(0) - 50.0).abs() < 1e-9);
        assert!((study.rater_severity(1) - 100.0).abs() < 1e-9);
        assert!((study.affected_percent() - 75.0).abs() < 1e-9);
    }

    #[test]
    fn scanner_noise_keeps_unit_variance() {
        let (mut white, mut v) = (vec![0.0; 40_000], vec![0.0; 40_000]);
        scanner_noise(3, 0, 200, &mut white, &mut v);
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
