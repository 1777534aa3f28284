//! The one error type of this crate: every way a NIfTI file, a geometry or a mask can be
//! wrong, each with a message that says what was found and what was expected.
//!
//! Messages never contain voxel data of the reference, only facts about the file being
//! read, so the scorer can show them to the participant who uploaded that file.

use std::io;

use crate::datatype::Datatype;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which part of a NIfTI stream was being read when something went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The 348-byte header.
    Header,
    /// The bytes between the header and `vox_offset` (extensions).
    Extensions,
    /// The voxel data.
    VoxelData,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Extensions => "header extensions",
            Part::VoxelData => "voxel data",
        })
    }
}

/// Formats a shape as `512x512x300`, the way error messages and the spec write it.
pub fn shape_to_string(shape: [usize; 3]) -> String {
    format!("{}x{}x{}", shape[0], shape[1], shape[2])
}

/// Everything that can go wrong while reading, writing or comparing volumes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream ended before the part the header declares was complete.
    #[error("the file ends after {got} of the {expected} bytes of its {part}")]
    Truncated {
        /// What was being read.
        part: Part,
        /// Bytes actually read.
        got: u64,
        /// Bytes the header (or the format) requires.
        expected: u64,
    },
    /// The gzip stream is corrupt (bad header, bad deflate data).
    #[error("the gzip stream is corrupt in the {part}: {source}")]
    Gzip {
        /// What was being read.
        part: Part,
        /// The decoder's description of the problem.
        source: io::Error,
    },
    /// Reading or writing failed for a reason unrelated to the file's content.
    #[error("input/output failed in the {part}: {source}")]
    Io {
        /// What was being read or written.
        part: Part,
        /// The underlying error.
        source: io::Error,
    },
    /// `sizeof_hdr` is 348 in neither byte order.
    #[error(
        "sizeof_hdr is {found}: expected 348, the size of a NIfTI-1 header \
         (NIfTI-2, with 540, is not supported)"
    )]
    NotNifti1 {
        /// `sizeof_hdr` read as little-endian.
        found: i32,
    },
    /// The magic string is not `n+1`.
    #[error("magic is {found:?}: expected \"n+1\", the magic of a single-file .nii")]
    BadMagic {
        /// The four magic bytes, escaped.
        found: String,
    },
    /// The magic `ni1` announces voxel data in a separate `.img` file.
    #[error(
        "magic \"ni1\" means the voxels are in a separate .img file: \
         write a single-file .nii (magic \"n+1\")"
    )]
    SeparateImageFile,
    /// `dim[0]` is outside 1..=7.
    #[error("dim[0] is {0}: expected a number of dimensions from 1 to 7")]
    BadRank(i16),
    /// A spatial dimension is zero or negative.
    #[error("dim[{axis}] is {size}: every dimension must be at least 1")]
    BadDimension {
        /// Index into `dim` (1 to 3).
        axis: usize,
        /// The declared size.
        size: i16,
    },
    /// A 4th to 7th dimension is larger than 1.
    #[error(
        "dim[{axis}] is {size}: only 3-D volumes are accepted, \
         so dimensions 4 to 7 must have size 1"
    )]
    NotThreeD {
        /// Index into `dim` (4 to 7).
        axis: usize,
        /// The declared size.
        size: i16,
    },
    /// The header declares more voxels than the caller allows.
    #[error("the volume has {voxels} voxels ({}), more than the limit of {max}", shape_to_string(*.shape))]
    TooManyVoxels {
        /// The declared shape.
        shape: [usize; 3],
        /// Its voxel count.
        voxels: u64,
        /// The limit.
        max: u64,
    },
    /// The shape differs from the one the caller expects (the image's).
    #[error("shape {} does not match the image ({})", shape_to_string(*.got), shape_to_string(*.want))]
    ShapeMismatch {
        /// The shape found.
        got: [usize; 3],
        /// The shape required.
        want: [usize; 3],
    },
    /// An affine entry differs from the image's by more than the tolerance.
    #[error(
        "affine entry [{row}][{col}] is {got} but the image has {want} \
         (allowed difference {tolerance} mm)"
    )]
    AffineMismatch {
        /// Row of the 3x4 affine.
        row: usize,
        /// Column of the 3x4 affine.
        col: usize,
        /// Value found.
        got: f64,
        /// The image's value.
        want: f64,
        /// Largest difference allowed.
        tolerance: f64,
    },
    /// A voxel spacing differs from the image's by more than the relative tolerance.
    #[error(
        "voxel spacing along axis {axis} is {got} mm but the image has {want} mm \
         (allowed relative difference {tolerance})"
    )]
    SpacingMismatch {
        /// Axis 0, 1 or 2.
        axis: usize,
        /// Spacing found.
        got: f64,
        /// The image's spacing.
        want: f64,
        /// Largest relative difference allowed.
        tolerance: f64,
    },
    /// A NIfTI-1 datatype this crate deliberately does not decode.
    #[error("datatype {code} ({name}) is not supported: write the mask as uint8, int16 or float32")]
    UnsupportedDatatype {
        /// The datatype code.
        code: i16,
        /// Its NIfTI-1 name.
        name: &'static str,
    },
    /// A datatype code NIfTI-1 does not define.
    #[error(
        "datatype {0} is not a NIfTI-1 datatype code: write the mask as uint8, int16 or float32"
    )]
    UnknownDatatype(i16),
    /// `bitpix` disagrees with the datatype.
    #[error("bitpix is {found} but datatype {datatype} has {expected} bits per voxel")]
    BitpixMismatch {
        /// The datatype.
        datatype: Datatype,
        /// `bitpix` found.
        found: i16,
        /// `bitpix` required by the datatype.
        expected: u32,
    },
    /// `vox_offset` is below 352, negative, fractional or not finite.
    #[error(
        "vox_offset is {0}: expected a whole number of bytes, at least 352 in a single-file .nii"
    )]
    BadVoxOffset(f32),
    /// `vox_offset` leaves more room for extensions than the caller allows.
    #[error("vox_offset is {found}: header extensions past byte {max} are not accepted")]
    VoxOffsetTooLarge {
        /// `vox_offset` found.
        found: u64,
        /// The largest `vox_offset` allowed.
        max: u64,
    },
    /// A header field needed for scaling or the affine is NaN or infinite.
    #[error("header field {field} is {value}: expected a finite number")]
    NonFiniteField {
        /// The field's name in the NIfTI-1 standard.
        field: &'static str,
        /// The value found.
        value: f64,
    },
    /// A voxel is NaN or infinite after scaling.
    #[error(
        "voxel ({}, {}, {}) is {value} after scaling: every voxel must be a finite number",
        .index[0], .index[1], .index[2]
    )]
    NonFiniteVoxel {
        /// Its `(i, j, k)` index.
        index: [usize; 3],
        /// Its value.
        value: f64,
    },
    /// A voxel does not fit in the requested integer type.
    #[error(
        "voxel ({}, {}, {}) is {value} after scaling: it does not fit in {target}",
        .index[0], .index[1], .index[2]
    )]
    VoxelOutOfRange {
        /// Its `(i, j, k)` index.
        index: [usize; 3],
        /// Its value.
        value: f64,
        /// The requested type.
        target: &'static str,
    },
    /// An index lies outside the grid.
    #[error(
        "voxel ({}, {}, {}) is outside the grid {}",
        .index[0], .index[1], .index[2], shape_to_string(*.shape)
    )]
    OutOfGrid {
        /// The index asked for.
        index: [usize; 3],
        /// The grid's shape.
        shape: [usize; 3],
    },
    /// Voxel data to write does not have one value per voxel.
    #[error("{got} voxel values were given for a grid {} of {want} voxels", shape_to_string(*.shape))]
    DataLength {
        /// Number of values given.
        got: usize,
        /// Number of voxels in the grid.
        want: usize,
        /// The grid's shape.
        shape: [usize; 3],
    },
    /// A grid too large for the 16-bit `dim` fields of NIfTI-1.
    #[error("axis {axis} has {size} voxels: a NIfTI-1 header holds at most 32767")]
    TooLargeForNifti1 {
        /// Axis 0, 1 or 2.
        axis: usize,
        /// Its size.
        size: usize,
    },
    /// An affine that cannot be written: a zero-length or non-finite column.
    #[error("affine column {axis} is {column:?}: expected a finite, non-zero voxel axis")]
    DegenerateAffine {
        /// Column 0, 1 or 2.
        axis: usize,
        /// The column found.
        column: [f64; 3],
    },
    /// A gzip level outside 0..=9.
    #[error("gzip level {0} is outside 0 to 9")]
    BadGzipLevel(u32),
}
