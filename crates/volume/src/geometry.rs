//! The voxel grid shared by a study's image and all its masks, and the comparison that
//! decides whether a submitted mask lies on the image's grid (EVALUATION.md, 2(b)).

use crate::error::{Error, Result};

/// The voxel grid of a volume: its shape and the affine that maps voxel indices to
/// scanner millimetres (RAS+, as in the NIfTI-1 standard).
///
/// Voxel data is always held in memory order: the first index varies fastest, exactly as
/// in a NIfTI file, so voxel `(i, j, k)` lives at `i + nx * (j + ny * k)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    /// Number of voxels along each axis `[nx, ny, nz]`.
    pub shape: [usize; 3],
    /// Rows of the 4x4 affine without its last `[0, 0, 0, 1]` row.
    pub affine: [[f64; 4]; 3],
}

/// How far a mask's grid may be from the image's and still count as the same grid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridTolerance {
    /// Largest absolute difference of any affine entry, in millimetres.
    pub affine_mm: f64,
    /// Largest relative difference of a voxel spacing.
    pub spacing_relative: f64,
}

impl Default for GridTolerance {
    /// The tolerances of EVALUATION.md 2(b): 1e-3 mm on the affine, 1e-4 relative on
    /// the spacing. They absorb the float32 rounding of the header fields (about 1e-5 mm
    /// for offsets of a few hundred millimetres) but not a shifted or rescaled grid.
    fn default() -> Self {
        Self {
            affine_mm: 1e-3,
            spacing_relative: 1e-4,
        }
    }
}

impl Geometry {
    /// A grid with the given voxel spacing in millimetres and no rotation, centred
    /// on the scanner origin.
    pub fn axis_aligned(shape: [usize; 3], spacing: [f64; 3]) -> Self {
        let mut affine = [[0.0; 4]; 3];
        for axis in 0..3 {
            affine[axis][axis] = spacing[axis];
            affine[axis][3] = -spacing[axis] * (shape[axis] as f64 - 1.0) / 2.0;
        }
        Self { shape, affine }
    }

    /// Total number of voxels.
    pub fn voxel_count(&self) -> usize {
        self.shape.iter().product()
    }

    /// Voxel spacing in millimetres: the lengths of the affine's columns.
    pub fn spacing(&self) -> [f64; 3] {
        std::array::from_fn(|col| {
            (0..3)
                .map(|row| self.affine[row][col] * self.affine[row][col])
                .sum::<f64>()
                .sqrt()
        })
    }

    /// The memory-order index of voxel `(i, j, k)`, or `None` outside the grid.
    pub fn index(&self, i: usize, j: usize, k: usize) -> Option<usize> {
        let [nx, ny, nz] = self.shape;
        (i < nx && j < ny && k < nz).then(|| i + nx * (j + ny * k))
    }

    /// Checks that `self` (a mask's grid) is the grid of `image`: same shape, every affine
    /// entry within `tolerance.affine_mm`, every spacing within `tolerance.spacing_relative`.
    ///
    /// The first difference found is reported, shape first, since a wrong shape makes the
    /// other comparisons meaningless.
    pub fn check_same_grid(&self, image: &Geometry, tolerance: GridTolerance) -> Result<()> {
        if self.shape != image.shape {
            return Err(Error::ShapeMismatch {
                got: self.shape,
                want: image.shape,
            });
        }
        for (row, (mine, theirs)) in self.affine.iter().zip(&image.affine).enumerate() {
            for (col, (&got, &want)) in mine.iter().zip(theirs).enumerate() {
                if !within(got, want, tolerance.affine_mm) {
                    return Err(Error::AffineMismatch {
                        row,
                        col,
                        got,
                        want,
                        tolerance: tolerance.affine_mm,
                    });
                }
            }
        }
        for (axis, (got, want)) in self.spacing().into_iter().zip(image.spacing()).enumerate() {
            if !within(got, want, tolerance.spacing_relative * want.abs()) {
                return Err(Error::SpacingMismatch {
                    axis,
                    got,
                    want,
                    tolerance: tolerance.spacing_relative,
                });
            }
        }
        Ok(())
    }
}

/// Whether `got` is within `tolerance` of `want`; false when either is NaN, so a NaN
/// entry is always a mismatch.
fn within(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= tolerance
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Geometry {
        Geometry::axis_aligned([512, 512, 41], [0.7, 0.7, 2.5])
    }

    #[test]
    fn a_grid_matches_itself_and_float32_rounding_of_it() {
        let mut rounded = image();
        for row in &mut rounded.affine {
            for value in row {
                *value = f64::from(*value as f32);
            }
        }
        assert!(
            image()
                .check_same_grid(&image(), GridTolerance::default())
                .is_ok()
        );
        assert!(
            rounded
                .check_same_grid(&image(), GridTolerance::default())
                .is_ok()
        );
    }

    #[test]
    fn a_mask_with_wrong_shape_is_rejected_with_both_shapes_in_the_message() {
        let mut mask = image();
        mask.shape[2] = 40;
        let err = mask
            .check_same_grid(&image(), GridTolerance::default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape 512x512x40 does not match the image (512x512x41)"
        );
    }

    #[test]
    fn a_shifted_origin_is_an_affine_mismatch() {
        let mut mask = image();
        mask.affine[1][3] += 0.01;
        let err = mask.check_same_grid(&image(), GridTolerance::default());
        assert!(matches!(
            err,
            Err(Error::AffineMismatch { row: 1, col: 3, .. })
        ));
    }

    #[test]
    fn a_nan_affine_never_matches() {
        let mut mask = image();
        mask.affine[0][0] = f64::NAN;
        assert!(
            mask.check_same_grid(&image(), GridTolerance::default())
                .is_err()
        );
    }

    #[test]
    fn a_spacing_difference_is_caught_by_the_relative_tolerance() {
        let tolerance = GridTolerance {
            affine_mm: 1.0,
            spacing_relative: 1e-4,
        };
        let mut mask = image();
        mask.affine[2][2] = 2.51;
        let err = mask.check_same_grid(&image(), tolerance);
        assert!(matches!(err, Err(Error::SpacingMismatch { axis: 2, .. })));
    }

    #[test]
    fn index_is_memory_order_and_none_outside() {
        let grid = Geometry::axis_aligned([4, 3, 2], [1.0; 3]);
        assert_eq!(grid.index(1, 2, 1), Some(1 + 4 * (2 + 3)));
        assert_eq!(grid.index(4, 0, 0), None);
    }
}
