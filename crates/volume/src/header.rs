//! The 348-byte NIfTI-1 header, parsed and validated by hand (field offsets from
//! `nifti1.h`), in either byte order.

use crate::affine::{Qform, qform_to_affine, sane_spacing};
use crate::datatype::Datatype;
use crate::error::{Error, Result};
use crate::geometry::Geometry;

/// Size of a NIfTI-1 header; also the value of its first field, `sizeof_hdr`.
pub const HEADER_SIZE: usize = 348;

/// The smallest `vox_offset` of a single-file `.nii`: header plus the 4-byte extender.
pub const MIN_VOX_OFFSET: u64 = 352;

/// Byte order of the header and voxel data, told apart by how `sizeof_hdr` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Least significant byte first (what nearly every writer produces).
    Little,
    /// Most significant byte first.
    Big,
}

/// Where the affine of a [`Header`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffineSource {
    /// The sform rows (`sform_code` > 0), with that code.
    Sform(i16),
    /// The qform quaternion (`sform_code` <= 0, `qform_code` > 0), with that code.
    Qform(i16),
    /// Neither code set: a diagonal of `pixdim` ("method 1" of the standard).
    Pixdim,
}

/// A linear map from stored to real values: `value = slope * stored + inter`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scaling {
    /// `scl_slope`, finite and non-zero.
    pub slope: f64,
    /// `scl_inter`, finite.
    pub inter: f64,
}

impl Scaling {
    /// Whether this scaling changes nothing (slope 1, intercept 0), as most writers
    /// store it; decoders then take their faster unscaled path.
    pub fn is_identity(self) -> bool {
        self.slope == 1.0 && self.inter == 0.0
    }

    /// The real value of a stored one.
    #[inline]
    pub fn apply(self, stored: f64) -> f64 {
        self.slope * stored + self.inter
    }
}

/// The fields of a NIfTI-1 header that decide how to read the voxels and where they are.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Shape (dimensions 4 to 7 are always 1) and the affine chosen from sform, qform or
    /// pixdim, in that order of preference.
    pub geometry: Geometry,
    /// Where [`Header::geometry`]'s affine came from.
    pub affine_source: AffineSource,
    /// `dim[0]` as written (1 to 7).
    pub ndim: u8,
    /// The voxel type.
    pub datatype: Datatype,
    /// Byte order of header and data.
    pub byte_order: ByteOrder,
    /// `pixdim[1..=3]` as written (possibly zero or negative).
    pub pixdim: [f64; 3],
    /// `scl_slope` and `scl_inter`, or `None` when the slope is zero or NaN (no scaling).
    pub scaling: Option<Scaling>,
    /// Byte offset of the voxel data.
    pub vox_offset: u64,
    /// `xyzt_units` as written (2 = millimetres); the affine is not converted.
    pub xyzt_units: u8,
}

/// Field reader in the header's byte order; offsets are fixed so reads cannot fail.
struct Fields<'a> {
    raw: &'a [u8; HEADER_SIZE],
    order: ByteOrder,
}

impl Fields<'_> {
    fn bytes<const N: usize>(&self, offset: usize) -> [u8; N] {
        let mut out = [0; N];
        out.copy_from_slice(&self.raw[offset..offset + N]);
        if self.order == ByteOrder::Big {
            out.reverse();
        }
        out
    }
    fn i16(&self, offset: usize) -> i16 {
        i16::from_le_bytes(self.bytes(offset))
    }
    fn f32(&self, offset: usize) -> f32 {
        f32::from_le_bytes(self.bytes(offset))
    }
    /// A float field that must be finite, named as in `nifti1.h` for the error.
    fn finite(&self, offset: usize, field: &'static str) -> Result<f64> {
        let value = f64::from(self.f32(offset));
        if value.is_finite() {
            Ok(value)
        } else {
            Err(Error::NonFiniteField { field, value })
        }
    }
}

impl Header {
    /// Parses and validates a header; does not look at [`Limits`](crate::Limits).
    pub fn parse(raw: &[u8; HEADER_SIZE]) -> Result<Header> {
        let little = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let big = i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let order = match (little, big) {
            (348, _) => ByteOrder::Little,
            (_, 348) => ByteOrder::Big,
            _ => return Err(Error::NotNifti1 { found: little }),
        };
        let f = Fields { raw, order };
        match &raw[344..348] {
            b"n+1\0" => {}
            b"ni1\0" => return Err(Error::SeparateImageFile),
            other => {
                return Err(Error::BadMagic {
                    found: other.escape_ascii().to_string(),
                });
            }
        }
        let ndim = f.i16(40);
        if !(1..=7).contains(&ndim) {
            return Err(Error::BadRank(ndim));
        }
        let mut shape = [1usize; 3];
        for axis in 1..=ndim as usize {
            let size = f.i16(40 + 2 * axis);
            if size < 1 {
                return Err(Error::BadDimension { axis, size });
            }
            match shape.get_mut(axis - 1) {
                Some(n) => *n = size as usize,
                None if size != 1 => return Err(Error::NotThreeD { axis, size }),
                None => {}
            }
        }
        let datatype = Datatype::from_code(f.i16(70))?;
        let bitpix = f.i16(72);
        if i64::from(bitpix) != i64::from(datatype.bitpix()) {
            return Err(Error::BitpixMismatch {
                datatype,
                found: bitpix,
                expected: datatype.bitpix(),
            });
        }
        let offset = f.f32(108);
        if !(offset.is_finite() && offset.fract() == 0.0 && offset >= MIN_VOX_OFFSET as f32) {
            return Err(Error::BadVoxOffset(offset));
        }
        let (affine, affine_source, pixdim) = read_affine(&f)?;
        Ok(Header {
            geometry: Geometry { shape, affine },
            affine_source,
            ndim: ndim as u8,
            datatype,
            byte_order: order,
            pixdim,
            scaling: read_scaling(&f)?,
            // A finite f32 cannot exceed u64::MAX, and the cast saturates regardless.
            vox_offset: offset as u64,
            xyzt_units: raw[123],
        })
    }
}

/// `scl_slope` of NaN or 0 means "no scaling" (NIfTI-1), never "multiply by zero".
fn read_scaling(f: &Fields<'_>) -> Result<Option<Scaling>> {
    let slope = f64::from(f.f32(112));
    if slope.is_nan() || slope == 0.0 {
        return Ok(None);
    }
    let slope = f.finite(112, "scl_slope")?;
    let inter = f.finite(116, "scl_inter")?;
    Ok(Some(Scaling { slope, inter }))
}

/// The affine by the standard's order of preference, and the raw `pixdim[1..=3]`.
fn read_affine(f: &Fields<'_>) -> Result<([[f64; 4]; 3], AffineSource, [f64; 3])> {
    let pixdim = [
        f.finite(80, "pixdim[1]")?,
        f.finite(84, "pixdim[2]")?,
        f.finite(88, "pixdim[3]")?,
    ];
    let (qform_code, sform_code) = (f.i16(252), f.i16(254));
    if sform_code > 0 {
        const NAMES: [[&str; 4]; 3] = [
            ["srow_x[0]", "srow_x[1]", "srow_x[2]", "srow_x[3]"],
            ["srow_y[0]", "srow_y[1]", "srow_y[2]", "srow_y[3]"],
            ["srow_z[0]", "srow_z[1]", "srow_z[2]", "srow_z[3]"],
        ];
        let mut affine = [[0.0; 4]; 3];
        for (row, names) in NAMES.iter().enumerate() {
            for (col, name) in names.iter().enumerate() {
                affine[row][col] = f.finite(280 + 16 * row + 4 * col, name)?;
            }
        }
        return Ok((affine, AffineSource::Sform(sform_code), pixdim));
    }
    if qform_code > 0 {
        let qform = Qform {
            quatern: [
                f.finite(256, "quatern_b")?,
                f.finite(260, "quatern_c")?,
                f.finite(264, "quatern_d")?,
            ],
            offset: [
                f.finite(268, "qoffset_x")?,
                f.finite(272, "qoffset_y")?,
                f.finite(276, "qoffset_z")?,
            ],
            pixdim,
            // qfac is -1 exactly when pixdim[0] is negative; NaN or 0 count as 1.
            qfac: if f.f32(76) < 0.0 { -1.0 } else { 1.0 },
        };
        return Ok((
            qform_to_affine(&qform),
            AffineSource::Qform(qform_code),
            pixdim,
        ));
    }
    let mut affine = [[0.0; 4]; 3];
    for axis in 0..3 {
        affine[axis][axis] = sane_spacing(pixdim[axis]);
    }
    Ok((affine, AffineSource::Pixdim, pixdim))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::write::encode_header;

    fn valid() -> [u8; HEADER_SIZE] {
        let grid = Geometry::axis_aligned([8, 7, 5], [0.7, 0.8, 2.5]);
        let bytes = encode_header(&grid, Datatype::I16).unwrap();
        let mut raw = [0u8; HEADER_SIZE];
        raw.copy_from_slice(&bytes[..HEADER_SIZE]);
        raw
    }

    fn with(offset: usize, bytes: &[u8]) -> [u8; HEADER_SIZE] {
        let mut raw = valid();
        raw[offset..offset + bytes.len()].copy_from_slice(bytes);
        raw
    }

    #[test]
    fn a_written_header_parses_back() {
        let header = Header::parse(&valid()).unwrap();
        assert_eq!(header.geometry.shape, [8, 7, 5]);
        assert_eq!(header.datatype, Datatype::I16);
        assert_eq!(header.affine_source, AffineSource::Sform(1));
        assert_eq!(
            header.scaling,
            Some(Scaling {
                slope: 1.0,
                inter: 0.0
            })
        );
        assert_eq!(header.vox_offset, 352);
    }

    #[test]
    fn a_big_endian_header_is_recognised_by_sizeof_hdr() {
        let mut raw = valid();
        // Swap every field of the header that the parser reads as a number.
        for (offset, size) in [
            (0, 4),
            (70, 2),
            (72, 2),
            (108, 4),
            (112, 4),
            (116, 4),
            (252, 2),
            (254, 2),
        ]
        .into_iter()
        .chain((40..56).step_by(2).map(|o| (o, 2)))
        .chain((76..108).step_by(4).map(|o| (o, 4)))
        .chain((256..328).step_by(4).map(|o| (o, 4)))
        {
            raw[offset..offset + size].reverse();
        }
        let big = Header::parse(&raw).unwrap();
        assert_eq!(big.byte_order, ByteOrder::Big);
        assert_eq!(big.geometry, Header::parse(&valid()).unwrap().geometry);
    }

    #[test]
    fn wrong_magic_and_separate_image_files_are_rejected() {
        assert!(matches!(
            Header::parse(&with(344, b"n+2\0")),
            Err(Error::BadMagic { .. })
        ));
        assert!(matches!(
            Header::parse(&with(344, b"ni1\0")),
            Err(Error::SeparateImageFile)
        ));
        assert!(matches!(
            Header::parse(&with(0, &540i32.to_le_bytes())),
            Err(Error::NotNifti1 { found: 540 })
        ));
    }

    #[test]
    fn dimensions_are_validated() {
        assert!(matches!(
            Header::parse(&with(40, &0i16.to_le_bytes())),
            Err(Error::BadRank(0))
        ));
        assert!(matches!(
            Header::parse(&with(40, &8i16.to_le_bytes())),
            Err(Error::BadRank(8))
        ));
        assert!(matches!(
            Header::parse(&with(44, &(-7i16).to_le_bytes())),
            Err(Error::BadDimension { axis: 2, size: -7 })
        ));
        let four_d = with(40, &[4, 0, 8, 0, 7, 0, 5, 0, 3, 0]);
        assert!(matches!(
            Header::parse(&four_d),
            Err(Error::NotThreeD { axis: 4, size: 3 })
        ));
        let singleton = with(40, &[7, 0, 8, 0, 7, 0, 5, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
        assert_eq!(Header::parse(&singleton).unwrap().geometry.shape, [8, 7, 5]);
        let two_d = with(40, &[2, 0, 8, 0, 7, 0, 5, 0]);
        assert_eq!(Header::parse(&two_d).unwrap().geometry.shape, [8, 7, 1]);
    }

    #[test]
    fn complex_datatypes_and_inconsistent_bitpix_are_rejected() {
        let complex = with(70, &[32, 0, 64, 0]);
        assert!(matches!(
            Header::parse(&complex),
            Err(Error::UnsupportedDatatype { code: 32, .. })
        ));
        let bitpix = with(72, &8i16.to_le_bytes());
        assert!(matches!(
            Header::parse(&bitpix),
            Err(Error::BitpixMismatch {
                found: 8,
                expected: 16,
                ..
            })
        ));
    }

    #[test]
    fn vox_offset_must_be_a_whole_number_past_the_header() {
        for bad in [0.0f32, 348.0, 352.5, f32::NAN, -1e30] {
            let raw = with(108, &bad.to_le_bytes());
            assert!(
                matches!(Header::parse(&raw), Err(Error::BadVoxOffset(_))),
                "{bad}"
            );
        }
        let far = Header::parse(&with(108, &1e12f32.to_le_bytes())).unwrap();
        let err = Limits::default().check(&far);
        assert!(matches!(err, Err(Error::VoxOffsetTooLarge { .. })));
    }

    #[test]
    fn nan_or_zero_slope_means_no_scaling_and_infinite_slope_is_an_error() {
        for none in [f32::NAN, 0.0] {
            assert_eq!(
                Header::parse(&with(112, &none.to_le_bytes()))
                    .unwrap()
                    .scaling,
                None
            );
        }
        let inf = with(112, &f32::INFINITY.to_le_bytes());
        assert!(matches!(
            Header::parse(&inf),
            Err(Error::NonFiniteField {
                field: "scl_slope",
                ..
            })
        ));
        let nan_inter = with(116, &f32::NAN.to_le_bytes());
        assert!(matches!(
            Header::parse(&nan_inter),
            Err(Error::NonFiniteField {
                field: "scl_inter",
                ..
            })
        ));
    }

    #[test]
    fn the_affine_falls_back_from_sform_to_qform_to_pixdim() {
        let qform = Header::parse(&with(254, &0i16.to_le_bytes())).unwrap();
        assert_eq!(qform.affine_source, AffineSource::Qform(1));
        let sform = Header::parse(&valid()).unwrap();
        for (q, s) in qform
            .geometry
            .affine
            .iter()
            .flatten()
            .zip(sform.geometry.affine.iter().flatten())
        {
            assert!((q - s).abs() < 1e-5);
        }
        let neither = Header::parse(&with(252, &[0, 0, 0, 0])).unwrap();
        assert_eq!(neither.affine_source, AffineSource::Pixdim);
        assert_eq!(neither.geometry.affine[2], [0.0, 0.0, 2.5, 0.0]);
    }

    #[test]
    fn non_finite_affine_fields_are_errors_not_panics() {
        let srow = with(280, &f32::NAN.to_le_bytes());
        assert!(matches!(
            Header::parse(&srow),
            Err(Error::NonFiniteField {
                field: "srow_x[0]",
                ..
            })
        ));
        let mut quatern = with(254, &0i16.to_le_bytes());
        quatern[260..264].copy_from_slice(&f32::INFINITY.to_le_bytes());
        assert!(matches!(
            Header::parse(&quatern),
            Err(Error::NonFiniteField {
                field: "quatern_c",
                ..
            })
        ));
    }

    #[test]
    fn negative_pixdim_and_odd_qfac_give_a_sane_qform() {
        let mut raw = with(254, &0i16.to_le_bytes());
        raw[76..80].copy_from_slice(&0.3f32.to_le_bytes()); // qfac neither 1 nor -1: counts as 1
        raw[80..84].copy_from_slice(&(-0.7f32).to_le_bytes());
        raw[84..88].copy_from_slice(&0.0f32.to_le_bytes());
        let header = Header::parse(&raw).unwrap();
        let spacing = header.geometry.spacing();
        assert!((spacing[0] - 0.7).abs() < 1e-6 && spacing[1] == 1.0);
        assert!(header.geometry.affine[2][2] > 0.0);
    }
}
