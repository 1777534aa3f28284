//! Hardened NIfTI-1 reading and writing for CT images and masks, and the volume geometry
//! that every mask of a study shares with its image.
//!
//! Being written; [`Geometry`] is fixed first because the phantom and the scorer share it.

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
}
