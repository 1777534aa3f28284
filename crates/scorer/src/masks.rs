//! The scorer's use of the `volume` crate: reading hidden masks, and checking a submitted
//! mask against its study's grid.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use volume::{Geometry, Mask};

use crate::annotations::AnnotationsError;

/// Affine entries of a submitted mask may differ from the image's by this many millimetres.
pub const AFFINE_TOLERANCE_MM: f64 = 1e-3;
/// `pixdim[1..=3]` may differ by this relative amount.
pub const PIXDIM_TOLERANCE: f64 = 1e-4;

/// The name without `.nii.gz` or `.nii`, if it has one of them.
pub fn strip_nifti_extension(name: &str) -> Option<&str> {
    name.strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))
        .filter(|s| !s.is_empty())
}

fn open(path: &Path) -> Result<BufReader<File>, AnnotationsError> {
    File::open(path)
        .map(|f| BufReader::with_capacity(1 << 16, f))
        .map_err(|source| AnnotationsError::Io {
            path: path.to_owned(),
            source,
        })
}

fn volume_error(path: &Path) -> impl FnOnce(volume::Error) -> AnnotationsError + '_ {
    move |source| AnnotationsError::Volume {
        path: path.to_owned(),
        source,
    }
}

/// The limits for any volume of a study on `geometry`: its exact shape, the default
/// allowance for header extensions.
pub fn limits(geometry: &Geometry) -> volume::Limits {
    volume::Limits::default().with_expected_shape(geometry.shape)
}

/// Reads only the header of a hidden file: its grid and `pixdim[1..=3]`.
pub fn read_geometry(path: &Path) -> Result<(Geometry, [f64; 3]), AnnotationsError> {
    let header =
        volume::read_header(open(path)?, &volume::Limits::default()).map_err(volume_error(path))?;
    Ok((header.geometry, header.pixdim.map(f64::abs)))
}

/// Decodes a hidden lung map into its right (1) and left (2) lungs.
pub fn read_lungs(path: &Path, geometry: &Geometry) -> Result<[Mask; 2], AnnotationsError> {
    let (_, masks) = volume::read_label_masks(open(path)?, &limits(geometry), &[1, 2])
        .map_err(volume_error(path))?;
    let [right, left]: [Mask; 2] = masks.try_into().map_err(|_| {
        AnnotationsError::Layout(format!("{}: expected two lung masks", path.display()))
    })?;
    Ok([right, left])
}

/// Decodes one rater's hidden lesion mask.
pub fn read_truth_mask(path: &Path, geometry: &Geometry) -> Result<Mask, AnnotationsError> {
    let (_, mask) =
        volume::read_mask(open(path)?, &limits(geometry)).map_err(volume_error(path))?;
    Ok(mask)
}

/// Decodes a submitted mask and checks it against the study's grid, or says in one line
/// what is wrong (the caller prefixes the entry's name).
///
/// The reader refuses a header whose shape differs before allocating anything, reads
/// exactly the bytes the header declares and never the rest of the stream. The affine the
/// mask's header prefers (sform, else qform) must match the image's within
/// [`AFFINE_TOLERANCE_MM`]; `pixdim[1..=3]` must match within [`PIXDIM_TOLERANCE`].
pub fn read_submitted_mask(
    reader: impl Read,
    geometry: &Geometry,
    pixdim: [f64; 3],
) -> Result<Mask, String> {
    let (header, mask) =
        volume::read_mask(reader, &limits(geometry)).map_err(|err| err.to_string())?;
    let tolerance = volume::GridTolerance {
        affine_mm: AFFINE_TOLERANCE_MM,
        spacing_relative: PIXDIM_TOLERANCE,
    };
    header
        .geometry
        .check_same_grid(geometry, tolerance)
        .map_err(|err| format!("{err}; write the mask with the image's header"))?;
    let written = header.pixdim.map(f64::abs);
    for axis in 0..3 {
        let (got, want) = (written[axis], pixdim[axis]);
        if (got - want).abs() > PIXDIM_TOLERANCE * want {
            return Err(format!(
                "pixdim {} does not match the image's ({}); write the mask with the image's header",
                format_triplet(written),
                format_triplet(pixdim)
            ));
        }
    }
    Ok(mask)
}

fn format_triplet(values: [f64; 3]) -> String {
    format!("{}x{}x{}", values[0], values[1], values[2])
}
