//! Splitting a two-lung mask into right and left lungs: k-means (k = 2) on the voxels'
//! coordinates, the larger cluster being the right lung (as in the paper's pipeline).

use volume::Geometry;

/// Labels `mask`'s voxels (memory order) 1 (right lung, the larger cluster) or 2 (left),
/// background 0. The clusters start at the leftmost and rightmost voxels along x and are
/// refined on a subsample of at most about 200,000 voxels, then every voxel goes to the
/// nearer centre.
pub fn split(mask: &[u8], geometry: &Geometry) -> Vec<u8> {
    let [nx, ny, _] = geometry.shape;
    let s = geometry.spacing();
    let point = |idx: usize| {
        let (i, j, k) = (idx % nx, (idx / nx) % ny, idx / (nx * ny));
        [i as f64 * s[0], j as f64 * s[1], k as f64 * s[2]]
    };
    let voxels: Vec<usize> = mask
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0)
        .map(|(i, _)| i)
        .collect();
    let mut labels = vec![0u8; mask.len()];
    if voxels.is_empty() {
        return labels;
    }
    let stride = (voxels.len() / 200_000).max(1);
    let sample: Vec<[f64; 3]> = voxels.iter().step_by(stride).map(|&v| point(v)).collect();
    let by_x = |a: &&[f64; 3], b: &&[f64; 3]| a[0].total_cmp(&b[0]);
    let mut centres = [
        *sample.iter().min_by(by_x).expect("not empty"),
        *sample.iter().max_by(by_x).expect("not empty"),
    ];
    let d2 = |p: &[f64; 3], c: &[f64; 3]| (0..3).map(|a| (p[a] - c[a]).powi(2)).sum::<f64>();
    let nearest = |p: &[f64; 3], c: &[[f64; 3]; 2]| usize::from(d2(p, &c[1]) < d2(p, &c[0]));
    for _ in 0..50 {
        let mut sum = [[0.0; 3]; 2];
        let mut n = [0usize; 2];
        for p in &sample {
            let c = nearest(p, &centres);
            n[c] += 1;
            (0..3).for_each(|a| sum[c][a] += p[a]);
        }
        let mut next = centres;
        for c in 0..2 {
            if n[c] > 0 {
                next[c] = sum[c].map(|v| v / n[c] as f64);
            }
        }
        if next == centres {
            break;
        }
        centres = next;
    }
    let mut counts = [0usize; 2];
    for &v in &voxels {
        let c = nearest(&point(v), &centres);
        counts[c] += 1;
        labels[v] = c as u8 + 1;
    }
    if counts[1] > counts[0] {
        for l in labels.iter_mut().filter(|l| **l != 0) {
            *l = 3 - *l;
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_blobs_split_with_the_larger_one_labelled_right() {
        let g = Geometry::axis_aligned([20, 6, 4], [1.0, 1.0, 2.0]);
        // A large blob at x 1..8 and a small one at x 13..17.
        let mask: Vec<u8> = (0..20 * 6 * 4)
            .map(|idx| u8::from(matches!(idx % 20, 1..=8 | 13..=16)))
            .collect();
        let labels = split(&mask, &g);
        for (idx, &l) in labels.iter().enumerate() {
            let want = match idx % 20 {
                1..=8 => 1,
                13..=16 => 2,
                _ => 0,
            };
            assert_eq!(l, want, "voxel {idx}");
        }
    }
}
