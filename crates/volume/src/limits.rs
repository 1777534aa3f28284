//! What a caller accepts from a file ([`Limits`]), checked right after the header and
//! before anything is allocated, so a header declaring 32767^3 voxels costs nothing.

use crate::error::{Error, Result};
use crate::header::Header;

/// What a caller accepts, checked right after the header and before any allocation.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest voxel count accepted (memory: a mask needs `max_voxels / 8` bytes, a
    /// float32 volume `4 * max_voxels`).
    pub max_voxels: u64,
    /// Largest `vox_offset` accepted: bounds the extension bytes skipped before the data.
    pub max_vox_offset: u64,
    /// The shape the volume must have (the image's, when reading a mask).
    pub expected_shape: Option<[usize; 3]>,
}

impl Default for Limits {
    /// 2^28 voxels (512x512x1024), 16 MiB of extensions, any shape.
    fn default() -> Self {
        Self {
            max_voxels: 1 << 28,
            max_vox_offset: 16 << 20,
            expected_shape: None,
        }
    }
}

impl Limits {
    /// These limits, also requiring `shape`.
    pub fn with_expected_shape(self, shape: [usize; 3]) -> Self {
        Self {
            expected_shape: Some(shape),
            ..self
        }
    }

    /// Checks a parsed header against these limits.
    pub fn check(&self, header: &Header) -> Result<()> {
        let shape = header.geometry.shape;
        let voxels = shape.iter().map(|&n| n as u64).product::<u64>();
        if voxels > self.max_voxels {
            return Err(Error::TooManyVoxels {
                shape,
                voxels,
                max: self.max_voxels,
            });
        }
        if let Some(want) = self.expected_shape
            && want != shape
        {
            return Err(Error::ShapeMismatch { got: shape, want });
        }
        if header.vox_offset > self.max_vox_offset {
            return Err(Error::VoxOffsetTooLarge {
                found: header.vox_offset,
                max: self.max_vox_offset,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datatype::Datatype;
    use crate::geometry::Geometry;
    use crate::header::HEADER_SIZE;
    use crate::write::encode_header;

    fn header_with_dims(dims: [u8; 8]) -> Header {
        let grid = Geometry::axis_aligned([8, 7, 5], [0.7, 0.8, 2.5]);
        let bytes = encode_header(&grid, Datatype::U8).unwrap();
        let mut raw = [0u8; HEADER_SIZE];
        raw.copy_from_slice(&bytes[..HEADER_SIZE]);
        raw[40..48].copy_from_slice(&dims);
        Header::parse(&raw).unwrap()
    }

    #[test]
    fn a_volume_of_a_hundred_thousand_cubed_voxels_is_refused_by_the_limits() {
        // 100000 does not fit in dim's int16, so the largest header shape is 32767^3;
        // 100000^3 is reached the only way NIfTI-1 allows, with 32767 x 32767 x 32767.
        let header = header_with_dims([3, 0, 0xff, 0x7f, 0xff, 0x7f, 0xff, 0x7f]);
        let err = Limits::default().check(&header).unwrap_err();
        assert!(matches!(
            err,
            Error::TooManyVoxels {
                voxels: 35_181_150_961_663,
                ..
            }
        ));
    }

    #[test]
    fn an_expected_shape_is_enforced() {
        let header = header_with_dims([3, 0, 8, 0, 7, 0, 5, 0]);
        let limits = Limits::default().with_expected_shape([8, 7, 6]);
        assert!(matches!(
            limits.check(&header),
            Err(Error::ShapeMismatch { .. })
        ));
    }
}
