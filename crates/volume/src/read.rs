//! The public readers: a header, a mask, label masks, or a whole image as float32 or
//! int16, each from any [`Read`] (bytes, a file, a zip entry), under the caller's
//! [`Limits`]. The stream handling they share lives in `stream.rs`.

use std::io::Read;

use crate::datatype::Datatype;
use crate::decode;
use crate::error::Result;
use crate::header::Header;
use crate::limits::Limits;
use crate::mask::Mask;
use crate::stream::with_stream;
use crate::volume::Volume;

/// Runs `$body` with `$t` bound to the Rust type of `$datatype`.
macro_rules! with_sample_type {
    ($datatype:expr, $t:ident => $body:expr) => {
        match $datatype {
            Datatype::U8 => {
                type $t = u8;
                $body
            }
            Datatype::I8 => {
                type $t = i8;
                $body
            }
            Datatype::I16 => {
                type $t = i16;
                $body
            }
            Datatype::U16 => {
                type $t = u16;
                $body
            }
            Datatype::I32 => {
                type $t = i32;
                $body
            }
            Datatype::U32 => {
                type $t = u32;
                $body
            }
            Datatype::I64 => {
                type $t = i64;
                $body
            }
            Datatype::U64 => {
                type $t = u64;
                $body
            }
            Datatype::F32 => {
                type $t = f32;
                $body
            }
            Datatype::F64 => {
                type $t = f64;
                $body
            }
        }
    };
}

/// Reads and validates only the header (and checks `limits`); the voxel data is not read.
pub fn read_header<R: Read>(reader: R, limits: &Limits) -> Result<Header> {
    with_stream(reader, limits, |_, _| Ok(())).map(|(header, ())| header)
}

/// Reads a binary mask: foreground is `value != 0` for integer datatypes and
/// `value >= 0.5` for float datatypes, after scaling. NaN or infinite values are an error.
///
/// With scaling on an integer datatype the rule stays "scaled value != 0": a writer that
/// stores 0/1 with `scl_inter = -1` means -1/0, and the real value is what counts.
pub fn read_mask<R: Read>(reader: R, limits: &Limits) -> Result<(Header, Mask)> {
    with_stream(
        reader,
        limits,
        |stream, header| with_sample_type!(header.datatype, T => decode::mask::<T>(stream, header)),
    )
}

/// Reads a label map into one mask per requested label, in one pass: mask `n` holds the
/// voxels whose value (after scaling) equals `labels[n]`. Values are not checked against
/// the list: voxels with other labels are simply in none of the masks.
pub fn read_label_masks<R: Read>(
    reader: R,
    limits: &Limits,
    labels: &[i64],
) -> Result<(Header, Vec<Mask>)> {
    with_stream(
        reader,
        limits,
        |stream, header| with_sample_type!(header.datatype, T => decode::labels::<T>(stream, header, labels)),
    )
}

/// Reads an image as float32 values after scaling, in memory order. Values that are not
/// finite as float32 are an error, since no downstream computation can use them.
pub fn read_volume_f32<R: Read>(reader: R, limits: &Limits) -> Result<(Header, Volume<f32>)> {
    let (header, data) = with_stream(
        reader,
        limits,
        |stream, header| with_sample_type!(header.datatype, T => decode::to_f32::<T>(stream, header)),
    )?;
    let volume = Volume::new(header.geometry.clone(), data)?;
    Ok((header, volume))
}

/// Reads an image as int16 values after scaling (rounded to the nearest integer), in memory
/// order: the natural type of CT in Hounsfield units. A value outside the int16 range, or
/// not finite, is an error rather than a silent clamp.
pub fn read_volume_i16<R: Read>(reader: R, limits: &Limits) -> Result<(Header, Volume<i16>)> {
    let (header, data) = with_stream(
        reader,
        limits,
        |stream, header| with_sample_type!(header.datatype, T => decode::to_i16::<T>(stream, header)),
    )?;
    let volume = Volume::new(header.geometry.clone(), data)?;
    Ok((header, volume))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;
    use crate::error::{Error, Part};
    use crate::geometry::Geometry;
    use crate::write::write_nifti;

    fn grid() -> Geometry {
        Geometry::axis_aligned([16, 8, 3], [1.0, 1.0, 2.0])
    }

    fn file<T: crate::write::WriteSample>(data: &[T]) -> Vec<u8> {
        let mut out = Vec::new();
        write_nifti(&mut out, &grid(), data).unwrap();
        out
    }

    fn gzipped(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A reader that hands out one byte per call and counts what it gave.
    struct Trickle<'a> {
        bytes: &'a [u8],
        given: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.bytes.get(self.given), buf.first_mut()) {
                (Some(&b), Some(slot)) => {
                    *slot = b;
                    self.given += 1;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn a_plain_stream_is_read_exactly_up_to_the_end_of_its_data() {
        let data: Vec<u8> = (0..grid().voxel_count())
            .map(|n| (n % 3 == 0) as u8)
            .collect();
        let mut bytes = file(&data);
        let declared = bytes.len();
        bytes.extend(std::iter::repeat_n(0xAA, 100_000));
        let mut reader = Trickle {
            bytes: &bytes,
            given: 0,
        };
        let (_, mask) = read_mask(&mut reader, &Limits::default()).unwrap();
        assert_eq!(
            mask.count(),
            data.iter().filter(|&&v| v == 1).count() as u64
        );
        assert_eq!(reader.given, declared);
    }

    #[test]
    fn gzip_is_found_by_its_magic_bytes_and_read_through_a_trickle() {
        let data: Vec<i16> = (0..grid().voxel_count()).map(|n| n as i16 - 100).collect();
        let bytes = gzipped(&file(&data));
        let (_, volume) = read_volume_i16(
            Trickle {
                bytes: &bytes,
                given: 0,
            },
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(volume.data(), &data[..]);
    }

    #[test]
    fn truncated_data_is_a_clear_error_plain_or_gzipped() {
        let data = vec![1u8; grid().voxel_count()];
        let bytes = file(&data);
        let cut = &bytes[..bytes.len() - 10];
        let err = read_mask(cut, &Limits::default()).unwrap_err();
        assert!(matches!(
            err,
            Error::Truncated {
                part: Part::VoxelData,
                got: 374,
                expected: 384
            }
        ));
        assert_eq!(
            err.to_string(),
            "the file ends after 374 of the 384 bytes of its voxel data"
        );
        let zipped = gzipped(cut);
        assert!(matches!(
            read_mask(&zipped[..], &Limits::default()),
            Err(Error::Truncated { .. })
        ));
        let half_gzip = &gzipped(&bytes)[..40];
        assert!(read_mask(half_gzip, &Limits::default()).is_err());
        let err = read_mask(&bytes[..100], &Limits::default()).unwrap_err();
        assert!(matches!(
            err,
            Error::Truncated {
                part: Part::Header,
                got: 100,
                ..
            }
        ));
    }

    #[test]
    fn a_nan_voxel_in_float_data_names_the_voxel() {
        let mut data = vec![0.75f32; grid().voxel_count()];
        data[16 * 8 + 5] = f32::NAN;
        let err = read_mask(&file(&data)[..], &Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonFiniteVoxel {
                    index: [5, 0, 1],
                    ..
                }
            ),
            "{err}"
        );
        assert!(read_volume_f32(&file(&data)[..], &Limits::default()).is_err());
    }

    #[test]
    fn the_float_threshold_is_half_after_scaling() {
        let values = [0.49f32, 0.5, 0.51, -3.0, 7.0, 0.0];
        let data: Vec<f32> = (0..grid().voxel_count())
            .map(|n| values[n % values.len()])
            .collect();
        let (_, mask) = read_mask(&file(&data)[..], &Limits::default()).unwrap();
        let want = data.iter().filter(|&&v| v >= 0.5).count() as u64;
        assert_eq!(mask.count(), want);
        // scl_slope 0.5 halves every value: now only 7.0 (3.5) and nothing else passes.
        let mut scaled = file(&data);
        scaled[112..116].copy_from_slice(&0.5f32.to_le_bytes());
        let (_, mask) = read_mask(&scaled[..], &Limits::default()).unwrap();
        assert_eq!(
            mask.count(),
            data.iter().filter(|&&v| v == 7.0).count() as u64
        );
    }

    #[test]
    fn label_maps_give_one_mask_per_label_in_one_pass() {
        let data: Vec<u8> = (0..grid().voxel_count()).map(|n| (n % 4) as u8).collect();
        let (_, masks) =
            read_label_masks(&file(&data)[..], &Limits::default(), &[1, 2, 300]).unwrap();
        let count = |label| data.iter().filter(|&&v| v == label).count() as u64;
        assert_eq!(
            masks.iter().map(Mask::count).collect::<Vec<_>>(),
            vec![count(1), count(2), 0]
        );
    }

    #[test]
    fn limits_are_checked_before_the_data_is_read() {
        let bytes = file(&vec![0u8; grid().voxel_count()]);
        let small = Limits {
            max_voxels: 100,
            ..Limits::default()
        };
        assert!(matches!(
            read_mask(&bytes[..352], &small),
            Err(Error::TooManyVoxels { .. })
        ));
        let other = Limits::default().with_expected_shape([16, 8, 4]);
        assert!(matches!(
            read_mask(&bytes[..352], &other),
            Err(Error::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn int16_volumes_refuse_values_that_do_not_fit() {
        let mut bytes = file(&vec![1000i16; grid().voxel_count()]);
        bytes[112..116].copy_from_slice(&100.0f32.to_le_bytes());
        let err = read_volume_i16(&bytes[..], &Limits::default()).unwrap_err();
        assert!(matches!(
            err,
            Error::VoxelOutOfRange {
                index: [0, 0, 0],
                ..
            }
        ));
    }

    #[test]
    fn empty_and_garbage_streams_are_errors() {
        assert!(matches!(
            read_mask(&[][..], &Limits::default()),
            Err(Error::Truncated { got: 0, .. })
        ));
        let garbage = vec![0x1f; 400];
        assert!(matches!(
            read_mask(&garbage[..], &Limits::default()),
            Err(Error::NotNifti1 { .. })
        ));
        let fake_gzip = [0x1f, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(read_mask(&fake_gzip[..], &Limits::default()).is_err());
    }
}
