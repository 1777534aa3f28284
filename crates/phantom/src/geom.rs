//! Small 3D vector and shape helpers shared by the anatomy, the trees and the renderer.
//!
//! Everything is `f32` in millimetres: the phantom never needs more than a tenth of a
//! micrometre of precision, and `f32` halves the memory traffic of the per-voxel loops.

use std::ops::{Add, Mul, Sub};

/// A point or direction in millimetres (x to the patient's left, y anterior, z superior).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct V3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

impl V3 {
    pub(crate) const fn new(x: f32, y: f32, z: f32) -> Self {
        Self { x, y, z }
    }

    pub(crate) fn dot(self, o: Self) -> f32 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    pub(crate) fn len(self) -> f32 {
        self.dot(self).sqrt()
    }

    pub(crate) fn cross(self, o: Self) -> Self {
        Self::new(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }

    /// The unit vector along `self`, or `self` unchanged when it has no length.
    pub(crate) fn unit(self) -> Self {
        let l = self.len();
        if l > 0.0 { self * (1.0 / l) } else { self }
    }

    /// The coordinate along axis 0 (x), 1 (y) or 2 (z).
    pub(crate) fn get(self, axis: usize) -> f32 {
        match axis {
            0 => self.x,
            1 => self.y,
            _ => self.z,
        }
    }
}

impl Add for V3 {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl Sub for V3 {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

impl Mul<f32> for V3 {
    type Output = Self;
    fn mul(self, s: f32) -> Self {
        Self::new(self.x * s, self.y * s, self.z * s)
    }
}

/// A straight piece of tube axis from `a` to `a + ab`, ready for distance queries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub a: V3,
    pub ab: V3,
    inv_len2: f32,
}

impl Segment {
    pub(crate) fn new(a: V3, b: V3) -> Self {
        let ab = b - a;
        let l2 = ab.dot(ab);
        // A degenerate segment is a point; the zero inverse makes `closest` return 0.
        let inv_len2 = if l2 > 0.0 { 1.0 / l2 } else { 0.0 };
        Self { a, ab, inv_len2 }
    }

    pub(crate) fn at(&self, t: f32) -> V3 {
        self.a + self.ab * t
    }

    /// The parameter in [0, 1] of the point of the segment closest to `p`.
    #[inline]
    pub(crate) fn closest(&self, p: V3) -> f32 {
        ((p - self.a).dot(self.ab) * self.inv_len2).clamp(0.0, 1.0)
    }

    /// Euclidean distance from `p` to the segment.
    #[inline]
    pub(crate) fn dist(&self, p: V3) -> f32 {
        (p - self.at(self.closest(p))).len()
    }

    /// Lowest and highest z of the segment.
    pub(crate) fn z_span(&self) -> (f32, f32) {
        let (z0, z1) = (self.a.z, self.a.z + self.ab.z);
        (z0.min(z1), z0.max(z1))
    }

    /// The parameter interval of the part of the segment with z in `[z0, z1]`, if any.
    pub(crate) fn clip_z(&self, z0: f32, z1: f32) -> Option<(f32, f32)> {
        if self.ab.z.abs() < 1e-6 {
            return (self.a.z >= z0 && self.a.z <= z1).then_some((0.0, 1.0));
        }
        let ta = (z0 - self.a.z) / self.ab.z;
        let tb = (z1 - self.a.z) / self.ab.z;
        let (lo, hi) = (ta.min(tb).max(0.0), ta.max(tb).min(1.0));
        (lo <= hi).then_some((lo, hi))
    }

    /// The x and y bounds `[x0, x1, y0, y1]` of the part between parameters `t0` and `t1`.
    pub(crate) fn xy_bounds(&self, t0: f32, t1: f32) -> [f32; 4] {
        let (p, q) = (self.at(t0), self.at(t1));
        [p.x.min(q.x), p.x.max(q.x), p.y.min(q.y), p.y.max(q.y)]
    }
}

/// Voxel centres of a study's grid in millimetres relative to the volume centre, where the
/// anatomy is built.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grid {
    pub n: [usize; 3],
    pub s: [f32; 3],
    origin: [f32; 3],
}

impl Grid {
    /// The anatomy is built in voxel order: the grid's `x` grows with `i` whatever the sign
    /// of the affine's first column, so a study drawn on an `L A S` grid (see
    /// `plan::lps_columns`) has the same voxels as on an `R A S` one.
    ///
    /// # Panics
    /// If the affine is not axis aligned, or its second or third axis does not point to
    /// anterior and superior: the only kinds of grid [`crate::plan()`] produces.
    pub(crate) fn new(g: &volume::Geometry) -> Self {
        for (row, r) in g.affine.iter().enumerate() {
            for (col, &v) in r.iter().take(3).enumerate() {
                let ok = match (row == col, row) {
                    (true, 0) => v != 0.0,
                    (true, _) => v > 0.0,
                    (false, _) => v == 0.0,
                };
                assert!(
                    ok,
                    "phantom grids must be axis aligned, with j anterior and k superior: {g:?}"
                );
            }
        }
        let n = g.shape;
        let s = g.spacing().map(|v| v as f32);
        let origin = [0, 1, 2].map(|a| -s[a] * (n[a] as f32 - 1.0) / 2.0);
        Self { n, s, origin }
    }

    /// Centre coordinate of voxel `index` along `axis`.
    #[inline]
    pub(crate) fn at(&self, axis: usize, index: usize) -> f32 {
        self.origin[axis] + index as f32 * self.s[axis]
    }

    /// The index range along `axis` of voxels whose centres lie in `[lo, hi]`.
    pub(crate) fn span(&self, axis: usize, lo: f32, hi: f32) -> std::ops::Range<usize> {
        let f = |v: f32| (v - self.origin[axis]) / self.s[axis];
        let first = f(lo).ceil().max(0.0);
        let end = (f(hi).floor() + 1.0).min(self.n[axis] as f32);
        if end <= first {
            0..0
        } else {
            first as usize..end as usize
        }
    }
}

/// Hermite step from 0 at `e0` to 1 at `e1` (either order).
#[inline]
pub(crate) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[inline]
pub(crate) fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

// Portable transcendental functions. `std`'s `sin`, `atan2`, `cbrt` and `powf` call the
// platform's libm, whose last bits differ between systems and versions. Built only from
// `+ - * /` and `sqrt`, which IEEE 754 rounds exactly (and Rust never fuses), these give the
// same bits everywhere, so a study is byte-identical on every machine, not only on every
// thread count. They are used outside the hottest loops or are cheap polynomials.

/// Sine and cosine: quadrant reduction, then Taylor series on [-pi/4, pi/4] in `f64`.
pub(crate) fn sin_cos(x: f32) -> (f32, f32) {
    let x = f64::from(x);
    let q = (x / std::f64::consts::FRAC_PI_2).round();
    let r = x - q * std::f64::consts::FRAC_PI_2;
    let r2 = r * r;
    let (mut s, mut c, mut ts, mut tc) = (0.0, 0.0, r, 1.0);
    for k in 0..10 {
        s += ts;
        c += tc;
        let n = f64::from(2 * k + 2);
        ts *= -r2 / (n * (n + 1.0));
        tc *= -r2 / ((n - 1.0) * n);
    }
    let (s, c) = match (q as i64).rem_euclid(4) {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    };
    (s as f32, c as f32)
}

/// `atan2(y, x)` in radians, within 1e-5 of the exact angle (a minimax polynomial).
#[inline]
pub(crate) fn atan2(y: f32, x: f32) -> f32 {
    let (ax, ay) = (x.abs(), y.abs());
    let (a, swap) = if ay > ax {
        (ax / ay, true)
    } else {
        (ay / ax.max(f32::MIN_POSITIVE), false)
    };
    let s = a * a;
    let mut r = a
        * (0.999_977_26
            + s * (-0.332_623_47
                + s * (0.193_543_46
                    + s * (-0.116_432_87 + s * (0.052_653_32 + s * -0.011_721_2)))));
    if swap {
        r = std::f32::consts::FRAC_PI_2 - r;
    }
    if x < 0.0 {
        r = std::f32::consts::PI - r;
    }
    if y < 0.0 { -r } else { r }
}

/// Cube root of a non-negative number: exact scaling by powers of 8, then Newton steps.
pub(crate) fn cbrt(x: f32) -> f32 {
    if x <= 0.0 {
        return 0.0;
    }
    let (mut v, mut scale) = (f64::from(x), 1.0);
    while v > 8.0 {
        v /= 8.0;
        scale *= 2.0;
    }
    while v < 0.125 {
        v *= 8.0;
        scale /= 2.0;
    }
    let mut y = 1.0;
    for _ in 0..12 {
        y = (2.0 * y + v / (y * y)) / 3.0;
    }
    (y * scale) as f32
}

/// `2^x` for `x >= 0`: exact doubling for the integer part, Taylor series for the rest.
pub(crate) fn exp2(x: f32) -> f32 {
    let x = f64::from(x.max(0.0));
    let n = x.floor();
    let f = (x - n) * std::f64::consts::LN_2;
    let (mut sum, mut term) = (0.0, 1.0);
    for k in 1..=20 {
        sum += term;
        term *= f / f64::from(k);
    }
    let mut p = 1.0;
    for _ in 0..n as u32 {
        p *= 2.0;
    }
    (sum * p) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_functions_match_the_platform_ones() {
        for i in -400..=400 {
            let x = i as f32 * 0.05;
            let (s, c) = sin_cos(x);
            assert!(
                (s - x.sin()).abs() < 1e-6 && (c - x.cos()).abs() < 1e-6,
                "{x}"
            );
            for j in [-3.0f32, -0.2, 0.0, 0.7, 5.0] {
                assert!((atan2(x, j) - x.atan2(j)).abs() < 2e-5, "{x} {j}");
            }
            let p = (i + 400) as f32 * 1.7;
            assert!(
                (cbrt(p) - p.cbrt()).abs() <= 1e-6 * p.cbrt().max(1.0),
                "{p}"
            );
            let e = (i + 400) as f32 / 200.0;
            assert!((exp2(e) - e.exp2()).abs() < 1e-6 * e.exp2(), "{e}");
        }
        assert_eq!(cbrt(0.0), 0.0);
        assert!((cbrt(1e-6) - 0.01).abs() < 1e-9);
    }

    #[test]
    fn distance_to_a_segment_uses_its_end_caps() {
        let s = Segment::new(V3::new(0.0, 0.0, 0.0), V3::new(10.0, 0.0, 0.0));
        assert!((s.dist(V3::new(5.0, 3.0, 0.0)) - 3.0).abs() < 1e-6);
        assert!((s.dist(V3::new(13.0, 4.0, 0.0)) - 5.0).abs() < 1e-6);
    }

    #[test]
    fn clipping_to_a_slab_keeps_only_the_part_inside() {
        let s = Segment::new(V3::new(0.0, 0.0, 0.0), V3::new(0.0, 10.0, 10.0));
        let (t0, t1) = s.clip_z(2.0, 4.0).unwrap();
        assert!((t0 - 0.2).abs() < 1e-6 && (t1 - 0.4).abs() < 1e-6);
        assert!(s.clip_z(11.0, 12.0).is_none());
        assert_eq!(s.xy_bounds(t0, t1), [0.0, 0.0, 2.0, 4.0]);
    }

    #[test]
    fn a_grid_is_centred_and_spans_clip_to_it() {
        let g = Grid::new(&volume::Geometry::axis_aligned([5, 4, 3], [2.0, 1.0, 3.0]));
        assert_eq!((g.at(0, 0), g.at(0, 4), g.at(2, 1)), (-4.0, 4.0, 0.0));
        assert_eq!(g.span(0, -3.0, 2.5), 1..4);
        assert_eq!(g.span(0, -100.0, 100.0), 0..5);
        assert!(g.span(0, 50.0, 60.0).is_empty() && g.span(0, -60.0, -50.0).is_empty());
    }

    #[test]
    fn a_left_pointing_first_axis_keeps_the_voxel_grid() {
        let ras = volume::Geometry::axis_aligned([5, 4, 3], [2.0, 1.0, 3.0]);
        let (a, b) = (Grid::new(&ras), Grid::new(&crate::plan::lps_columns(ras)));
        assert_eq!((a.n, a.s, a.at(0, 1)), (b.n, b.s, b.at(0, 1)));
    }

    #[test]
    #[should_panic(expected = "axis aligned")]
    fn a_grid_with_its_head_down_is_refused() {
        let mut geometry = volume::Geometry::axis_aligned([5, 4, 3], [2.0, 1.0, 3.0]);
        geometry.affine[2][2] = -3.0;
        Grid::new(&geometry);
    }

    #[test]
    fn smoothstep_runs_either_way() {
        assert_eq!(smoothstep(0.0, 1.0, 2.0), 1.0);
        assert_eq!(smoothstep(1.0, 0.0, 2.0), 0.0);
        assert_eq!(smoothstep(1.0, 0.0, 0.5), 0.5);
    }
}
