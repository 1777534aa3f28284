//! The Hounsfield-threshold baseline (paper sec. 4.3, no learning): voxels in
//! [-700, 300] HU inside the lungs, Gaussian blur with sigma 4 pixels of the paper's 2 mm
//! grid (8 mm), threshold 0.5, and removal of 3-D connected components smaller than 0.1% of
//! the lungs' volume.
//!
//! The blur and the components run on the working grid (the thresholded indicator is first
//! averaged onto it), which at 8 mm of blur changes little and keeps a 512x512x300 study
//! fast; the blurred field is then brought back to the image grid and thresholded there.

use crate::prep::Stack;

/// Lower and upper bounds of the threshold, HU.
pub const HU_RANGE: (i16, i16) = (-700, 300);
/// Gaussian sigma in millimetres (4 pixels at 2 mm).
pub const SIGMA_MM: f64 = 8.0;
/// Smallest component kept, as a fraction of the lungs' volume.
pub const MIN_COMPONENT: f64 = 0.001;

/// Blurs every slice of `s` with a Gaussian of `sigma` pixels (separable, edges clamped).
pub fn blur(s: &Stack, sigma: f64) -> Stack {
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp() as f32)
        .collect();
    let norm: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|v| v / norm).collect();
    let (nx, ny) = (s.nx as isize, s.ny as isize);
    let mut out = s.clone();
    let mut tmp = vec![0f32; s.nx * s.ny];
    for k in 0..s.nz {
        let src = s.slice(k);
        for j in 0..ny {
            for i in 0..nx {
                tmp[(j * nx + i) as usize] = kernel
                    .iter()
                    .enumerate()
                    .map(|(t, w)| {
                        w * src[(j * nx + (i + t as isize - radius).clamp(0, nx - 1)) as usize]
                    })
                    .sum();
            }
        }
        let dst = &mut out.data[k * s.nx * s.ny..(k + 1) * s.nx * s.ny];
        for j in 0..ny {
            for i in 0..nx {
                dst[(j * nx + i) as usize] = kernel
                    .iter()
                    .enumerate()
                    .map(|(t, w)| {
                        w * tmp[((j + t as isize - radius).clamp(0, ny - 1) * nx + i) as usize]
                    })
                    .sum();
            }
        }
    }
    out
}

/// Zeroes the 6-connected components of `values >= 0.5` that have fewer than `min` voxels.
pub fn drop_small_components(s: &mut Stack, min: usize) {
    let (nx, ny, nz) = (s.nx, s.ny, s.nz);
    let mut seen = vec![false; s.data.len()];
    let mut queue = Vec::new();
    let mut component = Vec::new();
    for start in 0..s.data.len() {
        if seen[start] || s.data[start] < 0.5 {
            continue;
        }
        seen[start] = true;
        queue.push(start);
        component.clear();
        while let Some(v) = queue.pop() {
            component.push(v);
            let (i, j, k) = (v % nx, (v / nx) % ny, v / (nx * ny));
            let mut visit = |w: usize| {
                if !seen[w] && s.data[w] >= 0.5 {
                    seen[w] = true;
                    queue.push(w);
                }
            };
            if i > 0 {
                visit(v - 1)
            }
            if i + 1 < nx {
                visit(v + 1)
            }
            if j > 0 {
                visit(v - nx)
            }
            if j + 1 < ny {
                visit(v + nx)
            }
            if k > 0 {
                visit(v - nx * ny)
            }
            if k + 1 < nz {
                visit(v + nx * ny)
            }
        }
        if component.len() < min {
            for &v in &component {
                s.data[v] = 0.0;
            }
        }
    }
}

/// The baseline's lesion field on the working grid from `indicator` (the fraction of each
/// working pixel that is lung and in [`HU_RANGE`]) and the lungs' working-grid voxel count.
pub fn lesions(indicator: &Stack, spacing_mm: f64, lung_voxels: usize) -> Stack {
    let mut field = blur(indicator, SIGMA_MM / spacing_mm);
    field.data.iter_mut().for_each(|v| {
        if *v < 0.5 {
            *v = 0.0
        }
    });
    drop_small_components(
        &mut field,
        (MIN_COMPONENT * lung_voxels as f64).ceil() as usize,
    );
    field
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_keeps_mass_away_from_edges_and_small_components_go() {
        let mut s = Stack::zeros(21, 21, 1);
        s.data[10 * 21 + 10] = 1.0;
        let b = blur(&s, 2.0);
        let total: f32 = b.data.iter().sum();
        assert!((total - 1.0).abs() < 1e-3, "{total}");
        assert!(b.data[10 * 21 + 10] > b.data[10 * 21 + 12]);

        let mut two = Stack::zeros(10, 3, 2);
        for i in [0, 1, 2, 10, 11, 12] {
            two.data[i] = 1.0; // 6 voxels: x 0..3 of rows 0 and 1 of slice 0
        }
        two.data[2 * 30 - 1] = 1.0; // one isolated voxel in the last corner
        drop_small_components(&mut two, 2);
        assert_eq!(two.data.iter().filter(|v| **v > 0.0).count(), 6);
    }
}
