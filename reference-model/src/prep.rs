//! Preprocessing (paper sec. 4.1): every axial slice resampled to a square pixel of the
//! model's spacing, intensities clipped to a lung window and scaled to [0, 1], and crops to
//! the lungs' bounding box.
//!
//! Slices are never resampled along z: slice spacing varies from 1 to 8 mm and the 2D
//! models see one slice at a time anyway.

use rayon::prelude::*;

/// The lung window in Hounsfield units (level -600, width 1500), mapped to [0, 1].
pub const LUNG_WINDOW: (f32, f32) = (-1350.0, 150.0);

/// A stack of slices on a square in-plane grid, `data[(k * ny + j) * nx + i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack {
    /// Pixels along x (the image's first axis).
    pub nx: usize,
    /// Pixels along y.
    pub ny: usize,
    /// Slices.
    pub nz: usize,
    /// Values, slice after slice, row after row.
    pub data: Vec<f32>,
}

impl Stack {
    /// A stack of zeros.
    pub fn zeros(nx: usize, ny: usize, nz: usize) -> Self {
        Self {
            nx,
            ny,
            nz,
            data: vec![0.0; nx * ny * nz],
        }
    }

    /// Slice `k`.
    pub fn slice(&self, k: usize) -> &[f32] {
        let n = self.nx * self.ny;
        &self.data[k * n..(k + 1) * n]
    }

    /// The region `bbox` of slices `z0..z1`, each padded with `fill` up to `(w, h)`.
    pub fn crop(&self, bbox: &Bbox, (w, h): (usize, usize), fill: f32) -> Stack {
        let mut out = Stack {
            nx: w,
            ny: h,
            nz: bbox.z1 - bbox.z0,
            data: vec![fill; w * h * (bbox.z1 - bbox.z0)],
        };
        for (dk, k) in (bbox.z0..bbox.z1).enumerate() {
            for (dj, j) in (bbox.y0..bbox.y1).enumerate() {
                let src = &self.slice(k)[j * self.nx + bbox.x0..j * self.nx + bbox.x1];
                let at = (dk * h + dj) * w;
                out.data[at..at + src.len()].copy_from_slice(src);
            }
        }
        out
    }

    /// Writes `crop` (as made by [`Stack::crop`] with `bbox`) back into its place.
    pub fn paste(&mut self, bbox: &Bbox, crop: &Stack) {
        for (dk, k) in (bbox.z0..bbox.z1).enumerate() {
            for (dj, j) in (bbox.y0..bbox.y1).enumerate() {
                let at = (dk * crop.ny + dj) * crop.nx;
                let row = &crop.data[at..at + (bbox.x1 - bbox.x0)];
                let start = k * self.ny * self.nx + j * self.nx + bbox.x0;
                self.data[start..start + row.len()].copy_from_slice(row);
            }
        }
    }
}

/// A box of slices `z0..z1`, rows `y0..y1` and columns `x0..x1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bbox {
    /// First column.
    pub x0: usize,
    /// One past the last column.
    pub x1: usize,
    /// First row.
    pub y0: usize,
    /// One past the last row.
    pub y1: usize,
    /// First slice.
    pub z0: usize,
    /// One past the last slice.
    pub z1: usize,
}

impl Bbox {
    /// The bounding box of values >= 0.5 grown by `margin` pixels in-plane (not along z),
    /// or `None` when there is none.
    pub fn of(stack: &Stack, margin: usize) -> Option<Bbox> {
        let mut b: Option<Bbox> = None;
        for k in 0..stack.nz {
            for j in 0..stack.ny {
                let row = &stack.slice(k)[j * stack.nx..(j + 1) * stack.nx];
                let Some(first) = row.iter().position(|&v| v >= 0.5) else {
                    continue;
                };
                let last = row.iter().rposition(|&v| v >= 0.5).unwrap_or(first);
                let bb = b.get_or_insert(Bbox {
                    x0: first,
                    x1: last + 1,
                    y0: j,
                    y1: j + 1,
                    z0: k,
                    z1: k + 1,
                });
                bb.x0 = bb.x0.min(first);
                bb.x1 = bb.x1.max(last + 1);
                bb.y0 = bb.y0.min(j);
                bb.y1 = bb.y1.max(j + 1);
                bb.z0 = bb.z0.min(k);
                bb.z1 = bb.z1.max(k + 1);
            }
        }
        b.map(|b| Bbox {
            x0: b.x0.saturating_sub(margin),
            x1: (b.x1 + margin).min(stack.nx),
            y0: b.y0.saturating_sub(margin),
            y1: (b.y1 + margin).min(stack.ny),
            ..b
        })
    }

    /// Width and height rounded up to multiples of `m`.
    pub fn padded(&self, m: usize) -> (usize, usize) {
        (
            (self.x1 - self.x0).div_ceil(m) * m,
            (self.y1 - self.y0).div_ceil(m) * m,
        )
    }
}

/// Maps a CT value to the [0, 1] lung window.
pub fn window(hu: f32) -> f32 {
    ((hu - LUNG_WINDOW.0) / (LUNG_WINDOW.1 - LUNG_WINDOW.0)).clamp(0.0, 1.0)
}

/// Per output index along one axis: the source indices and weights of a triangle filter
/// whose support widens with the downsampling factor (linear interpolation when
/// upsampling, an anti-aliased average when downsampling).
#[derive(Clone, Debug)]
struct AxisFilter {
    taps: Vec<(usize, Vec<f32>)>,
}

impl AxisFilter {
    /// From `n_src` samples `s_src` mm apart to `n_dst` samples `s_dst` mm apart, both
    /// grids starting at the same edge.
    fn new(n_src: usize, s_src: f64, n_dst: usize, s_dst: f64) -> Self {
        let scale = s_dst / s_src;
        let support = scale.max(1.0);
        let taps = (0..n_dst)
            .map(|m| {
                let centre = (m as f64 + 0.5) * scale - 0.5;
                let lo = (centre - support).ceil().max(0.0) as usize;
                let hi = ((centre + support).floor() as usize).min(n_src - 1);
                let mut w: Vec<f32> = (lo..=hi)
                    .map(|i| (1.0 - (i as f64 - centre).abs() / support).max(0.0) as f32)
                    .collect();
                let sum: f32 = w.iter().sum();
                if sum > 0.0 {
                    w.iter_mut().for_each(|v| *v /= sum);
                    (lo, w)
                } else {
                    // Outside the source: repeat the nearest edge sample.
                    (
                        centre.round().clamp(0.0, (n_src - 1) as f64) as usize,
                        vec![1.0],
                    )
                }
            })
            .collect();
        Self { taps }
    }
}

/// Resamples every slice of `src` (`nx * ny` per slice, pixel `sx` x `sy` mm) to
/// `mx` x `my` pixels of `tx` x `ty` mm, in parallel over slices.
pub fn resample(
    src: &Stack,
    (sx, sy): (f64, f64),
    (mx, my): (usize, usize),
    (tx, ty): (f64, f64),
) -> Stack {
    let fx = AxisFilter::new(src.nx, sx, mx, tx);
    let fy = AxisFilter::new(src.ny, sy, my, ty);
    let mut out = Stack::zeros(mx, my, src.nz);
    out.data
        .par_chunks_mut(mx * my)
        .enumerate()
        .for_each(|(k, dst)| {
            let slice = src.slice(k);
            // Along x first: ny rows of mx.
            let mut rows = vec![0f32; src.ny * mx];
            for j in 0..src.ny {
                let row = &slice[j * src.nx..(j + 1) * src.nx];
                for (m, (lo, w)) in fx.taps.iter().enumerate() {
                    rows[j * mx + m] = w.iter().zip(&row[*lo..]).map(|(a, b)| a * b).sum();
                }
            }
            for (m, (lo, w)) in fy.taps.iter().enumerate() {
                let d = &mut dst[m * mx..(m + 1) * mx];
                for (t, &wt) in w.iter().enumerate() {
                    let r = &rows[(lo + t) * mx..(lo + t + 1) * mx];
                    d.iter_mut().zip(r).for_each(|(a, b)| *a += wt * b);
                }
            }
        });
    out
}

/// The in-plane size of a grid of `n` x `n'` pixels of `s` x `s'` mm resampled to `t` mm.
pub fn resampled_size(shape: [usize; 2], spacing: [f64; 2], t: f64) -> (usize, usize) {
    let f = |n: usize, s: f64| ((n as f64 * s / t).round() as usize).max(1);
    (f(shape[0], spacing[0]), f(shape[1], spacing[1]))
}

/// Slices of a volume in memory order (`i + nx * (j + ny * k)`) as a [`Stack`] of `f32`.
pub fn stack_of<T: Copy + Send + Sync>(
    data: &[T],
    shape: [usize; 3],
    f: impl Fn(T) -> f32 + Sync,
) -> Stack {
    Stack {
        nx: shape[0],
        ny: shape[1],
        nz: shape[2],
        data: data.par_iter().map(|&v| f(v)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_constants_and_linear_ramps() {
        let (nx, ny) = (40, 30);
        let ramp = Stack {
            nx,
            ny,
            nz: 2,
            data: (0..2 * nx * ny)
                .map(|v| ((v % (nx * ny)) % nx) as f32 * 0.75)
                .collect(),
        };
        // 0.75 mm pixels to 3 mm and back up to 0.75 mm.
        let down = resample(&ramp, (0.75, 0.75), (10, 8), (3.0, 2.8125));
        // Pixel m of 3 mm covers source pixels 4m..4m+4, whose centre is at 4m + 1.5.
        for m in 1..9 {
            let want = (4.0 * m as f32 + 1.5) * 0.75;
            assert!(
                (down.data[3 * 10 + m] - want).abs() < 1e-3,
                "{m}: {} vs {want}",
                down.data[3 * 10 + m]
            );
        }
        let flat = Stack {
            nx,
            ny,
            nz: 1,
            data: vec![2.5; nx * ny],
        };
        let up = resample(&flat, (0.75, 0.75), (120, 90), (0.25, 0.25));
        assert!(up.data.iter().all(|&v| (v - 2.5).abs() < 1e-5));
    }

    #[test]
    fn crop_and_paste_round_trip_through_the_bounding_box() {
        let mut s = Stack::zeros(10, 8, 3);
        for (k, j, i) in [(1, 2, 3), (1, 5, 6), (2, 3, 4)] {
            s.data[(k * 8 + j) * 10 + i] = 1.0;
        }
        let b = Bbox::of(&s, 1).expect("a box");
        assert_eq!(
            b,
            Bbox {
                x0: 2,
                x1: 8,
                y0: 1,
                y1: 7,
                z0: 1,
                z1: 3
            }
        );
        assert_eq!(b.padded(4), (8, 8));
        let crop = s.crop(&b, b.padded(4), -1.0);
        assert_eq!((crop.nx, crop.ny, crop.nz), (8, 8, 2));
        let mut back = Stack::zeros(10, 8, 3);
        back.paste(&b, &crop);
        assert_eq!(back, s);
    }
}
