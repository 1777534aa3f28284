//! The severity of EVALUATION.md: the percentage of affected lung, the larger of the two
//! lungs. One definition for the scorer, the synthetic set's ground truth, the reference
//! pipeline and its training.

/// `100 * max(|X ∩ R| / |R|, |X ∩ G| / |G|)` from counts: `in_lung` the lesion voxels inside
/// the right (R) and left (G) lung, `lungs` the voxels of each lung. A lung with no voxel
/// contributes 0, so a study without lungs has severity 0.
pub fn affected_percent(in_lung: [u64; 2], lungs: [u64; 2]) -> f64 {
    let fraction = |inside: u64, lung: u64| {
        if lung == 0 {
            0.0
        } else {
            inside as f64 / lung as f64
        }
    };
    100.0 * fraction(in_lung[0], lungs[0]).max(fraction(in_lung[1], lungs[1]))
}

/// Mosmed's visual CT grade of an affected percentage: `Some(0)` to `Some(3)` for CT1 to CT4
/// (up to 25%, 50%, 75%, more), `None` for 0 or less (no lesion). One definition for the
/// synthetic set's severity classes and the reference training's draws.
pub fn ct_grade(percent: f64) -> Option<usize> {
    match percent {
        p if p <= 0.0 => None,
        p if p <= 25.0 => Some(0),
        p if p <= 50.0 => Some(1),
        p if p <= 75.0 => Some(2),
        _ => Some(3),
    }
}

/// [`affected_percent`] of voxels given as `(lung label, lesion)`: label 1 is the right
/// lung, 2 the left one, anything else outside the lungs (and ignored).
pub fn affected_percent_of(voxels: impl IntoIterator<Item = (u8, bool)>) -> f64 {
    let (mut in_lung, mut lungs) = ([0u64; 2], [0u64; 2]);
    for (label, lesion) in voxels {
        if let Some(side) = usize::from(label).checked_sub(1).filter(|&s| s < 2) {
            lungs[side] += 1;
            in_lung[side] += u64::from(lesion);
        }
    }
    affected_percent(in_lung, lungs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_more_affected_lung_decides_and_an_empty_lung_counts_zero() {
        assert_eq!(affected_percent([1, 1], [2, 4]), 50.0);
        assert_eq!(affected_percent([0, 3], [0, 4]), 75.0);
        assert_eq!(affected_percent([0, 0], [0, 0]), 0.0);
    }

    #[test]
    fn ct_grades_close_at_25_50_and_75_percent() {
        assert_eq!(
            [0.0, 0.01, 25.0, 25.1, 50.0, 75.0, 75.1, 100.0].map(ct_grade),
            [
                None,
                Some(0),
                Some(0),
                Some(1),
                Some(1),
                Some(2),
                Some(3),
                Some(3)
            ]
        );
    }

    #[test]
    fn voxels_outside_the_lungs_are_ignored() {
        // Right lung: 1 of 2 affected; left: 1 of 3; label 0 and 3 are not lung.
        let voxels = [
            (1, true),
            (1, false),
            (2, true),
            (2, false),
            (2, false),
            (0, true),
            (3, true),
        ];
        assert!((affected_percent_of(voxels) - 50.0).abs() < 1e-12);
    }
}
