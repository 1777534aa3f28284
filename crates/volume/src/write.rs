//! Writing single-file NIfTI-1 (`.nii`, or `.nii.gz` through a gzip encoder) for uint8,
//! int16 and float32 voxels, with a header every common reader agrees on: sform and qform
//! both set from the affine (code 1, scanner), pixdim from the column lengths, millimetres,
//! magic `n+1`, data at byte 352.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::affine::affine_to_qform;
use crate::datatype::Datatype;
use crate::error::{Error, Part, Result};
use crate::geometry::Geometry;
use crate::header::{HEADER_SIZE, MIN_VOX_OFFSET};
use crate::mask::Mask;

/// Voxel values written per `write` call: large enough that the encoder below sees big
/// blocks, small enough that the conversion buffer stays in cache.
const CHUNK_VALUES: usize = 1 << 15;

/// Output buffer of the `.nii.gz` helpers: few, large writes to the file.
const FILE_BUFFER: usize = 1 << 20;

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for i16 {}
    impl Sealed for f32 {}
}

/// A voxel type this crate writes: uint8 (masks, label maps), int16 (CT in HU), float32.
pub trait WriteSample: sealed::Sealed + Copy {
    /// The datatype recorded in the header.
    const DATATYPE: Datatype;
    /// Appends the little-endian bytes of `values` to `out`.
    fn extend_le(values: &[Self], out: &mut Vec<u8>);
}

impl WriteSample for u8 {
    const DATATYPE: Datatype = Datatype::U8;
    fn extend_le(values: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(values);
    }
}

impl WriteSample for i16 {
    const DATATYPE: Datatype = Datatype::I16;
    fn extend_le(values: &[Self], out: &mut Vec<u8>) {
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

impl WriteSample for f32 {
    const DATATYPE: Datatype = Datatype::F32;
    fn extend_le(values: &[Self], out: &mut Vec<u8>) {
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Writes `data` (one value per voxel, memory order) on `geometry` as a NIfTI-1 stream.
pub fn write_nifti<W: Write, T: WriteSample>(
    mut writer: W,
    geometry: &Geometry,
    data: &[T],
) -> Result<()> {
    if data.len() != geometry.voxel_count() {
        return Err(Error::DataLength {
            got: data.len(),
            want: geometry.voxel_count(),
            shape: geometry.shape,
        });
    }
    let header = encode_header(geometry, T::DATATYPE)?;
    writer.write_all(&header).map_err(io(Part::Header))?;
    let mut bytes = Vec::with_capacity(CHUNK_VALUES * T::DATATYPE.size());
    for chunk in data.chunks(CHUNK_VALUES) {
        bytes.clear();
        T::extend_le(chunk, &mut bytes);
        writer.write_all(&bytes).map_err(io(Part::VoxelData))?;
    }
    writer.flush().map_err(io(Part::VoxelData))
}

/// Writes a mask as uint8 0/1 on `geometry`, without expanding it in memory first.
pub fn write_mask<W: Write>(mut writer: W, geometry: &Geometry, mask: &Mask) -> Result<()> {
    if mask.shape() != geometry.shape {
        return Err(Error::ShapeMismatch {
            got: mask.shape(),
            want: geometry.shape,
        });
    }
    let header = encode_header(geometry, Datatype::U8)?;
    writer.write_all(&header).map_err(io(Part::Header))?;
    let mut bytes = Vec::with_capacity(CHUNK_VALUES);
    let voxels = mask.voxel_count();
    for start in (0..voxels).step_by(CHUNK_VALUES) {
        bytes.clear();
        mask.expand_u8(start, voxels.min(start + CHUNK_VALUES), &mut bytes);
        writer.write_all(&bytes).map_err(io(Part::VoxelData))?;
    }
    writer.flush().map_err(io(Part::VoxelData))
}

/// Writes `data` to a `.nii.gz` file at `path` with gzip `level` (0 to 9; 1 is several
/// times faster than 6 and only slightly larger on CT).
pub fn write_nifti_gz<T: WriteSample>(
    path: impl AsRef<Path>,
    geometry: &Geometry,
    data: &[T],
    level: u32,
) -> Result<()> {
    with_gz_file(path.as_ref(), level, |w| write_nifti(w, geometry, data))
}

/// Writes a mask as uint8 to a `.nii.gz` file at `path` with gzip `level` (0 to 9).
pub fn write_mask_gz(
    path: impl AsRef<Path>,
    geometry: &Geometry,
    mask: &Mask,
    level: u32,
) -> Result<()> {
    with_gz_file(path.as_ref(), level, |w| write_mask(w, geometry, mask))
}

fn with_gz_file(
    path: &Path,
    level: u32,
    write: impl FnOnce(&mut GzEncoder<BufWriter<File>>) -> Result<()>,
) -> Result<()> {
    if level > 9 {
        return Err(Error::BadGzipLevel(level));
    }
    let file = File::create(path).map_err(io(Part::Header))?;
    let mut encoder = GzEncoder::new(
        BufWriter::with_capacity(FILE_BUFFER, file),
        Compression::new(level),
    );
    write(&mut encoder)?;
    let mut buffered = encoder.finish().map_err(io(Part::VoxelData))?;
    buffered.flush().map_err(io(Part::VoxelData))
}

fn io(part: Part) -> impl Fn(std::io::Error) -> Error {
    move |source| Error::Io { part, source }
}

/// The 348-byte header plus the 4-byte extender of "no extensions".
pub(crate) fn encode_header(geometry: &Geometry, datatype: Datatype) -> Result<[u8; 352]> {
    let mut h = [0u8; MIN_VOX_OFFSET as usize];
    let mut put =
        |offset: usize, bytes: &[u8]| h[offset..offset + bytes.len()].copy_from_slice(bytes);
    put(0, &(HEADER_SIZE as i32).to_le_bytes());
    put(38, b"r");
    let mut dim = [3i16, 1, 1, 1, 1, 1, 1, 1];
    for (axis, &size) in geometry.shape.iter().enumerate() {
        dim[axis + 1] = match i16::try_from(size) {
            Ok(0) => {
                return Err(Error::BadDimension {
                    axis: axis + 1,
                    size: 0,
                });
            }
            Ok(size) => size,
            Err(_) => return Err(Error::TooLargeForNifti1 { axis, size }),
        };
    }
    for (n, d) in dim.iter().enumerate() {
        put(40 + 2 * n, &d.to_le_bytes());
    }
    put(70, &datatype.code().to_le_bytes());
    put(72, &(datatype.bitpix() as i16).to_le_bytes());
    let qform = affine_to_qform(&geometry.affine)?;
    let pixdim = [
        qform.qfac,
        qform.pixdim[0],
        qform.pixdim[1],
        qform.pixdim[2],
    ];
    for (n, p) in pixdim.iter().enumerate() {
        put(76 + 4 * n, &(*p as f32).to_le_bytes());
    }
    put(108, &(MIN_VOX_OFFSET as f32).to_le_bytes());
    put(112, &1.0f32.to_le_bytes());
    put(123, &[2]); // xyzt_units: NIFTI_UNITS_MM, no time axis.
    put(148, b"TriageBoard volume");
    put(252, &1i16.to_le_bytes()); // qform_code: NIFTI_XFORM_SCANNER_ANAT
    put(254, &1i16.to_le_bytes()); // sform_code: NIFTI_XFORM_SCANNER_ANAT
    let quatern = qform.quatern.iter().chain(&qform.offset);
    for (n, v) in quatern.enumerate() {
        put(256 + 4 * n, &(*v as f32).to_le_bytes());
    }
    for (n, v) in geometry.affine.iter().flatten().enumerate() {
        put(280 + 4 * n, &(*v as f32).to_le_bytes());
    }
    put(344, b"n+1\0");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::read::{read_header, read_mask, read_volume_f32, read_volume_i16};

    fn oblique() -> Geometry {
        let (s, c) = 0.2f64.sin_cos();
        Geometry {
            shape: [9, 6, 4],
            affine: [
                [-0.7 * c, 0.8 * s, 0.0, 120.25],
                [0.7 * s, 0.8 * c, 0.0, -80.5],
                [0.0, 0.0, 2.5, -300.0],
            ],
        }
    }

    fn close(a: &Geometry, b: &Geometry) -> bool {
        a.check_same_grid(b, Default::default()).is_ok()
    }

    #[test]
    fn uint8_int16_and_float32_survive_a_round_trip() {
        let grid = oblique();
        let n = grid.voxel_count();
        let u8s: Vec<u8> = (0..n).map(|v| (v % 251) as u8).collect();
        let i16s: Vec<i16> = (0..n).map(|v| v as i16 * 37 - 1024).collect();
        let f32s: Vec<f32> = (0..n).map(|v| v as f32 * 0.125 - 3.0).collect();

        let mut file = Vec::new();
        write_nifti(&mut file, &grid, &u8s).unwrap();
        let (header, volume) = read_volume_i16(&file[..], &Limits::default()).unwrap();
        assert_eq!(header.datatype, Datatype::U8);
        assert!(
            volume
                .data()
                .iter()
                .zip(&u8s)
                .all(|(a, &b)| *a == i16::from(b))
        );

        file.clear();
        write_nifti(&mut file, &grid, &i16s).unwrap();
        let (header, volume) = read_volume_i16(&file[..], &Limits::default()).unwrap();
        assert_eq!(volume.data(), &i16s[..]);
        assert!(close(&header.geometry, &grid));

        file.clear();
        write_nifti(&mut file, &grid, &f32s).unwrap();
        let (_, volume) = read_volume_f32(&file[..], &Limits::default()).unwrap();
        assert_eq!(volume.data(), &f32s[..]);
        assert!(close(volume.geometry(), &grid));
    }

    #[test]
    fn the_written_qform_describes_the_same_grid_as_the_sform() {
        let mut file = Vec::new();
        write_nifti(&mut file, &oblique(), &vec![0u8; oblique().voxel_count()]).unwrap();
        file[254] = 0; // sform_code 0: readers fall back to the qform
        let header = read_header(&file[..], &Limits::default()).unwrap();
        assert!(matches!(
            header.affine_source,
            crate::AffineSource::Qform(1)
        ));
        assert!(close(&header.geometry, &oblique()));
    }

    #[test]
    fn a_mask_round_trips_through_a_gzip_file() {
        let grid = oblique();
        let mask = Mask::from_fn(grid.shape, |i, j, k| (i * j + k) % 3 == 0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mask.nii.gz");
        write_mask_gz(&path, &grid, &mask, 1).unwrap();
        let file = File::open(&path).unwrap();
        let (header, read) = read_mask(file, &Limits::default()).unwrap();
        assert_eq!(read, mask);
        assert!(close(&header.geometry, &grid));
        assert!(matches!(
            write_mask_gz(&path, &grid, &mask, 10),
            Err(Error::BadGzipLevel(10))
        ));
    }

    #[test]
    fn data_of_the_wrong_length_or_shape_is_not_written() {
        let grid = oblique();
        let err = write_nifti(Vec::new(), &grid, &[0i16; 3]);
        assert!(matches!(err, Err(Error::DataLength { got: 3, .. })));
        let err = write_mask(Vec::new(), &grid, &Mask::zeros([1, 1, 1]));
        assert!(matches!(err, Err(Error::ShapeMismatch { .. })));
        let huge = Geometry::axis_aligned([40000, 1, 1], [1.0; 3]);
        let err = encode_header(&huge, Datatype::U8);
        assert!(matches!(err, Err(Error::TooLargeForNifti1 { axis: 0, .. })));
    }
}
