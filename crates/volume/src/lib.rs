//! Hardened NIfTI-1 reading and writing for CT images and masks, and the volume geometry
//! that every mask of a study shares with its image.
//!
//! Submissions are untrusted: every reader here takes any [`std::io::Read`], recognises
//! gzip by its magic bytes, validates the header by hand, checks the caller's [`Limits`]
//! before allocating, decodes the voxel data in small chunks and reads nothing past the
//! bytes the header declares. Masks are decoded straight into bit-packed [`Mask`]s.
//!
//! ```
//! use volume::{Geometry, Limits, Mask, read_mask, write_mask};
//!
//! let grid = Geometry::axis_aligned([8, 7, 5], [0.7, 0.7, 2.5]);
//! let mask = Mask::from_fn(grid.shape, |i, j, _| i < 3 && j < 2);
//! let mut file = Vec::new();
//! write_mask(&mut file, &grid, &mask)?;
//! let (header, read) = read_mask(&file[..], &Limits::default().with_expected_shape(grid.shape))?;
//! header.geometry.check_same_grid(&grid, Default::default())?;
//! assert_eq!(read.count(), 3 * 2 * 5);
//! # Ok::<(), volume::Error>(())
//! ```

mod affine;
mod datatype;
mod decode;
mod error;
mod geometry;
mod header;
mod limits;
mod mask;
mod read;
mod sample;
mod stream;
mod volume;
mod write;

pub use crate::affine::{Qform, affine_to_qform, qform_to_affine};
pub use crate::datatype::Datatype;
pub use crate::error::{Error, Part, Result, shape_to_string};
pub use crate::geometry::{Geometry, GridTolerance};
pub use crate::header::{AffineSource, ByteOrder, HEADER_SIZE, Header, Scaling};
pub use crate::limits::Limits;
pub use crate::mask::Mask;
pub use crate::read::{read_header, read_label_masks, read_mask, read_volume_f32, read_volume_i16};
pub use crate::volume::Volume;
pub use crate::write::{WriteSample, write_mask, write_mask_gz, write_nifti, write_nifti_gz};
