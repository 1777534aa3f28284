//! Hash-based noise: per-voxel scanner noise and smooth lattice (value) noise.
//!
//! Hot loops never call a random number generator: every random value is a pure function of
//! a study key and integer coordinates, so slices can be rendered in any order on any number
//! of threads and still give byte-identical volumes.

#[cfg(test)]
use crate::geom::V3;
use crate::geom::lerp;

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K3: u64 = 0x1656_67B1_9E37_79F9;

/// The splitmix64 finaliser: a cheap bijective scrambler of 64-bit words.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A value in [-1, 1) attached to one lattice node.
#[inline]
fn lattice(key: u64, ix: i32, iy: i32, iz: i32) -> f32 {
    let h = mix64(
        key ^ u64::from(ix as u32).wrapping_mul(K1)
            ^ u64::from(iy as u32).wrapping_mul(K2)
            ^ u64::from(iz as u32).wrapping_mul(K3),
    );
    (h >> 40) as f32 * (2.0 / 16_777_216.0) - 1.0
}

/// `floor` without a libm call: the truncating cast, corrected for negative non-integers.
#[inline]
fn floor(v: f32) -> f32 {
    let t = v as i32 as f32;
    if t > v { t - 1.0 } else { t }
}

#[inline]
fn fade(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// Approximately standard normal noise for voxel `index`: the Irwin-Hall sum of four
/// 16-bit uniforms from one hash, which is far cheaper than Box-Muller and has the right
/// mean and variance (its tails stop at 3.5 sigma, which nobody can see in a CT).
#[inline]
pub(crate) fn gauss(key: u64, index: u64) -> f32 {
    let h = mix64(key ^ index.wrapping_mul(K1));
    let s = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
    (s as f32 / 65_536.0 - 2.0) * 1.732_050_8
}

/// Smooth value noise in [-1, 1] at `p` with lattice spacing `scale` millimetres.
///
/// Gives exactly the value [`NoisePlane::at`] gives on the plane `z = p.z`; kept as the
/// reference that the plane is tested against.
#[cfg(test)]
pub(crate) fn value3(key: u64, scale: f32, p: V3) -> f32 {
    let inv = 1.0 / scale;
    let (fz, fx, fy) = (p.z * inv, p.x * inv, p.y * inv);
    let (iz, ix, iy) = (floor(fz), floor(fx), floor(fy));
    let tz = fade(fz - iz);
    let (iz, ix, iy) = (iz as i32, ix as i32, iy as i32);
    let node = |i: i32, j: i32| lerp(lattice(key, i, j, iz), lattice(key, i, j, iz + 1), tz);
    let (tx, ty) = (fade(fx - ix as f32), fade(fy - iy as f32));
    let lo = lerp(node(ix, iy), node(ix + 1, iy), tx);
    let hi = lerp(node(ix, iy + 1), node(ix + 1, iy + 1), tx);
    lerp(lo, hi, ty)
}

/// Value noise restricted to one axial plane, with the z interpolation done once per
/// lattice node so that each voxel costs a bilinear lookup instead of eight hashes.
pub(crate) struct NoisePlane {
    inv: f32,
    ix0: i32,
    iy0: i32,
    w: usize,
    h: usize,
    vals: Vec<f32>,
}

impl NoisePlane {
    /// Noise on the plane at height `z`, valid for x in `[x0, x1]` and y in `[y0, y1]`
    /// (points outside are clamped to the border cells).
    pub(crate) fn new(key: u64, scale: f32, z: f32, x: [f32; 2], y: [f32; 2]) -> Self {
        let inv = 1.0 / scale;
        let fz = z * inv;
        let iz = floor(fz);
        let tz = fade(fz - iz);
        let iz = iz as i32;
        let ix0 = (x[0] * inv).floor() as i32;
        let iy0 = (y[0] * inv).floor() as i32;
        let w = ((x[1] * inv).floor() as i32 - ix0 + 2).max(2) as usize;
        let h = ((y[1] * inv).floor() as i32 - iy0 + 2).max(2) as usize;
        let mut vals = Vec::with_capacity(w * h);
        for j in 0..h as i32 {
            for i in 0..w as i32 {
                let (ix, iy) = (ix0 + i, iy0 + j);
                vals.push(lerp(
                    lattice(key, ix, iy, iz),
                    lattice(key, ix, iy, iz + 1),
                    tz,
                ));
            }
        }
        Self {
            inv,
            ix0,
            iy0,
            w,
            h,
            vals,
        }
    }

    /// The noise value at `(x, y)` on this plane.
    #[inline]
    pub(crate) fn at(&self, x: f32, y: f32) -> f32 {
        let (fx, fy) = (x * self.inv, y * self.inv);
        let (ix, iy) = (floor(fx), floor(fy));
        let (tx, ty) = (fade(fx - ix), fade(fy - iy));
        let i = (ix as i32 - self.ix0).clamp(0, self.w as i32 - 2) as usize;
        let j = (iy as i32 - self.iy0).clamp(0, self.h as i32 - 2) as usize;
        let r0 = j * self.w + i;
        let r1 = r0 + self.w;
        let lo = lerp(self.vals[r0], self.vals[r0 + 1], tx);
        let hi = lerp(self.vals[r1], self.vals[r1 + 1], tx);
        lerp(lo, hi, ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_noise_plane_agrees_with_point_noise() {
        let plane = NoisePlane::new(7, 5.0, 12.3, [-50.0, 50.0], [-40.0, 40.0]);
        for (x, y) in [(0.0, 0.0), (-49.0, 33.3), (17.2, -39.9), (3.3, 4.4)] {
            let a = plane.at(x, y);
            let b = value3(7, 5.0, V3::new(x, y, 12.3));
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            assert!((-1.0..=1.0).contains(&a));
        }
    }

    #[test]
    fn gaussian_noise_has_unit_variance() {
        let n = 200_000u64;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for i in 0..n {
            let g = f64::from(gauss(99, i));
            s += g;
            s2 += g * g;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }

    #[test]
    fn different_keys_give_different_noise() {
        let p = V3::new(1.5, 2.5, 3.5);
        assert_ne!(value3(1, 4.0, p), value3(2, 4.0, p));
    }
}
