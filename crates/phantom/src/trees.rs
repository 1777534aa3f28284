//! Pulmonary vessel and airway trees, and the lung sampling they grow into.
//!
//! Each tree starts at its hilar root and fills its lung by recursive median splits of a
//! cloud of target points: a branch runs part of the way towards the centroid of the
//! targets it serves, and its radius follows Murray's law (r^3 proportional to the number
//! of targets), so calibre falls smoothly from the hilum to the periphery. Bronchi run
//! beside the arteries (bronchovascular bundles) for the generations wide enough to see.

use crate::anatomy::Anatomy;
use crate::geom::{Segment, V3, cbrt};
use crate::slice::{Class, Slice};
use rand::RngExt;
use rand_chacha::ChaCha12Rng;

/// A tube inside the lungs: a vessel (`wall == 0`) or an airway with a wall.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LungTube {
    pub seg: Segment,
    pub r: f32,
    pub wall: f32,
}

/// Radius of the lobar arteries and veins where the trees start, in millimetres.
const ROOT_RADIUS: f32 = 7.0;

/// A uniformly random point of lung `side` (0 right, 1 left), by rejection.
pub(crate) fn lung_point(an: &Anatomy, side: usize, rng: &mut ChaCha12Rng) -> V3 {
    let (a, b, y) = (an.cavity.a, an.cavity.b, an.cavity.y);
    let xr = if side == 0 {
        (-a, an.x_mid)
    } else {
        (an.x_mid, a)
    };
    let fallback = V3::new((xr.0 + xr.1) / 2.0, y, (an.z_base + an.z_apex) / 2.0);
    // A grid far smaller than a chest leaves no room for lungs; any point will do then.
    if !(xr.0 < xr.1 && b > 0.0 && an.z_base < an.z_apex) {
        return fallback;
    }
    for _ in 0..10_000 {
        let p = V3::new(
            rng.random_range(xr.0..xr.1),
            rng.random_range(y - b..y + b),
            rng.random_range(an.z_base..an.z_apex),
        );
        if Slice::new(an, p.z).classify(p.x, p.y) == Class::Lung(side as u8 + 1) {
            return p;
        }
    }
    // Only reached on grids too small for lungs: a chest-sized lung fills much of its box.
    fallback
}

/// Grows arteries with their bronchi and veins for both lungs, with `leaves` end branches
/// per tree; airways stop once narrower than `min_airway` millimetres.
pub(crate) fn grow(
    an: &Anatomy,
    leaves: usize,
    min_airway: f32,
    rng: &mut ChaCha12Rng,
) -> Vec<LungTube> {
    let mut g = Grower {
        out: Vec::new(),
        rng,
        min_airway,
    };
    for side in 0..2 {
        let mut pts: Vec<V3> = (0..leaves).map(|_| lung_point(an, side, g.rng)).collect();
        let root = an.roots.artery[side];
        let bronchus = an.roots.bronchus[side];
        g.branch(
            root,
            ROOT_RADIUS,
            &mut pts,
            Some((bronchus, 0.8 * ROOT_RADIUS)),
        );
        let mut pts: Vec<V3> = (0..leaves).map(|_| lung_point(an, side, g.rng)).collect();
        pts.sort_unstable_by(|a, b| b.z.total_cmp(&a.z));
        let (upper, lower) = pts.split_at_mut(leaves / 2);
        let [sup, inf] = an.roots.veins[side];
        g.branch(sup, ROOT_RADIUS / cbrt(2.0), upper, None);
        g.branch(inf, ROOT_RADIUS / cbrt(2.0), lower, None);
    }
    g.out
}

struct Grower<'r> {
    out: Vec<LungTube>,
    rng: &'r mut ChaCha12Rng,
    min_airway: f32,
}

impl Grower<'_> {
    /// Branches from node `p` of radius `r` towards `targets`; `airway` is the companion
    /// bronchus node and radius, if the bronchus continues this far.
    fn branch(&mut self, p: V3, r: f32, targets: &mut [V3], airway: Option<(V3, f32)>) {
        let n = targets.len();
        if n == 0 {
            return;
        }
        if n == 1 {
            self.vessel(p, targets[0], r);
            return;
        }
        let axis = widest_axis(targets);
        targets.sort_unstable_by(|a, b| a.get(axis).total_cmp(&b.get(axis)));
        let (lo, hi) = targets.split_at_mut(n / 2);
        for half in [lo, hi] {
            let share = half.len() as f32 / n as f32;
            let rc = r * cbrt(share);
            let c = centroid(half);
            let f = self.rng.random_range(0.35..0.6f32);
            let mut q = p + (c - p) * f;
            let step = (q - p).len();
            let jitter = V3::new(self.jitter(), self.jitter(), self.jitter());
            q = q + jitter * (0.12 * step);
            self.vessel(p, q, rc);
            let child_airway = airway.and_then(|(bp, br)| {
                let brc = br * cbrt(share);
                (brc >= self.min_airway).then(|| {
                    let wall = (0.2 * brc).max(0.3);
                    let bq = q + offset(q - p) * (rc + brc + wall + 0.3);
                    self.out.push(LungTube {
                        seg: Segment::new(bp, bq),
                        r: brc,
                        wall,
                    });
                    (bq, brc)
                })
            });
            self.branch(q, rc, half, child_airway);
        }
    }

    fn vessel(&mut self, p: V3, q: V3, r: f32) {
        self.out.push(LungTube {
            seg: Segment::new(p, q),
            r,
            wall: 0.0,
        });
    }

    fn jitter(&mut self) -> f32 {
        self.rng.random_range(-1.0..1.0f32)
    }
}

/// A unit vector perpendicular to `d`, the side on which a bronchus runs beside its artery.
fn offset(d: V3) -> V3 {
    let side = d.cross(V3::new(0.0, 0.0, 1.0));
    if side.len() > 0.2 * d.len() {
        side.unit()
    } else {
        d.cross(V3::new(1.0, 0.0, 0.0)).unit()
    }
}

fn widest_axis(pts: &[V3]) -> usize {
    let mut lo = [f32::INFINITY; 3];
    let mut hi = [f32::NEG_INFINITY; 3];
    for p in pts {
        for (axis, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
            *l = l.min(p.get(axis));
            *h = h.max(p.get(axis));
        }
    }
    (0..3)
        .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])))
        .unwrap_or(0)
}

fn centroid(pts: &[V3]) -> V3 {
    let sum = pts.iter().fold(V3::default(), |acc, &p| acc + p);
    sum * (1.0 / pts.len() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn patient() -> (Anatomy, ChaCha12Rng) {
        let mut rng = ChaCha12Rng::seed_from_u64(11);
        (
            Anatomy::sample([128, 128, 60], [2.8, 2.8, 5.0], &mut rng),
            rng,
        )
    }

    #[test]
    fn sampled_lung_points_lie_in_the_requested_lung() {
        let (an, mut rng) = patient();
        for side in 0..2 {
            for _ in 0..50 {
                let p = lung_point(&an, side, &mut rng);
                assert_eq!(
                    Slice::new(&an, p.z).classify(p.x, p.y),
                    Class::Lung(side as u8 + 1)
                );
                assert_eq!(p.x < an.x_mid, side == 0);
            }
        }
    }

    #[test]
    fn trees_thin_towards_the_periphery() {
        let (an, mut rng) = patient();
        let tubes = grow(&an, 64, 1.5, &mut rng);
        let vessels: Vec<_> = tubes.iter().filter(|t| t.wall == 0.0).collect();
        // A tree over n targets has 3n - 2 branches; each lung has one artery and two veins.
        assert_eq!(vessels.len(), 2 * ((3 * 64 - 2) + 2 * (3 * 32 - 2)));
        let thinnest = vessels.iter().map(|t| t.r).fold(f32::INFINITY, f32::min);
        let widest = vessels.iter().map(|t| t.r).fold(0.0, f32::max);
        assert!(thinnest < 2.0 && widest > 5.0, "{thinnest} {widest}");
        assert!(tubes.iter().any(|t| t.wall > 0.0 && t.r >= 1.5));
    }
}
