//! The per-chunk inner loops: stored values to mask bits, label masks, float32 or int16.
//!
//! Each loop is generic over the stored type and picks its rule (scaled or not, integer or
//! float) once per chunk, so the per-voxel work is a load, a compare and a shift.

use crate::error::{Error, Result};
use crate::header::{Header, Scaling};
use crate::mask::{Mask, word_count};
use crate::sample::Sample;
use crate::stream::Stream;

/// Decodes a binary mask (rules in [`crate::read_mask`]).
pub(crate) fn mask<T: Sample>(stream: &mut Stream<'_>, header: &Header) -> Result<Mask> {
    let shape = header.geometry.shape;
    let mut mask = Mask::zeros(shape);
    let words = mask.words_mut();
    stream.for_each_chunk::<T>(header, |start, values| {
        let words = chunk_words(words, start, values.len());
        match scaling(header) {
            None if !T::IS_FLOAT => pack(values, words, |v| v != T::ZERO),
            None => {
                check_finite(values, start, shape, |v| v.to_f64())?;
                pack(values, words, |v| v.to_f64() >= 0.5);
            }
            Some(s) => {
                check_finite(values, start, shape, |v| s.apply(v.to_f64()))?;
                if T::IS_FLOAT {
                    pack(values, words, |v| s.apply(v.to_f64()) >= 0.5);
                } else {
                    pack(values, words, |v| s.apply(v.to_f64()) != 0.0);
                }
            }
        }
        Ok(())
    })?;
    Ok(mask)
}

/// Decodes one mask per label (rules in [`crate::read_label_masks`]).
pub(crate) fn labels<T: Sample>(
    stream: &mut Stream<'_>,
    header: &Header,
    labels: &[i64],
) -> Result<Vec<Mask>> {
    let shape = header.geometry.shape;
    let mut masks = vec![Mask::zeros(shape); labels.len()];
    stream.for_each_chunk::<T>(header, |start, values| {
        match scaling(header) {
            None if !T::IS_FLOAT => {
                // Compare stored integers exactly: no rounding through f64 for 64-bit types.
                for (mask, &label) in masks.iter_mut().zip(labels) {
                    if let Some(label) = T::from_label(label) {
                        let words = chunk_words(mask.words_mut(), start, values.len());
                        pack(values, words, |v| v == label);
                    }
                }
            }
            scaling => {
                let real = |v: T| scaling.map_or(v.to_f64(), |s| s.apply(v.to_f64()));
                check_finite(values, start, shape, real)?;
                for (mask, &label) in masks.iter_mut().zip(labels) {
                    let words = chunk_words(mask.words_mut(), start, values.len());
                    pack(values, words, |v| real(v) == label as f64);
                }
            }
        }
        Ok(())
    })?;
    Ok(masks)
}

/// Decodes real values as float32 (rules in [`crate::read_volume_f32`]).
pub(crate) fn to_f32<T: Sample>(stream: &mut Stream<'_>, header: &Header) -> Result<Vec<f32>> {
    let shape = header.geometry.shape;
    let mut data = Vec::with_capacity(header.geometry.voxel_count());
    stream.for_each_chunk::<T>(header, |start, values| {
        let from = data.len();
        match scaling(header) {
            None => data.extend(values.iter().map(|v| v.to_f64() as f32)),
            Some(s) => data.extend(values.iter().map(|v| s.apply(v.to_f64()) as f32)),
        }
        match data[from..].iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(at) => Err(Error::NonFiniteVoxel {
                index: unravel(start + at, shape),
                value: f64::from(data[from + at]),
            }),
        }
    })?;
    Ok(data)
}

/// Decodes real values as int16 (rules in [`crate::read_volume_i16`]).
pub(crate) fn to_i16<T: Sample>(stream: &mut Stream<'_>, header: &Header) -> Result<Vec<i16>> {
    let shape = header.geometry.shape;
    let scaling = scaling(header);
    let mut data = Vec::with_capacity(header.geometry.voxel_count());
    stream.for_each_chunk::<T>(header, |start, values| {
        for (at, &v) in values.iter().enumerate() {
            let converted = match scaling {
                // Exact for integer types; floats and scaled values go through rounding.
                None => v.to_i16().or_else(|| round_to_i16(v.to_f64())),
                Some(s) => round_to_i16(s.apply(v.to_f64())),
            };
            match converted {
                Some(value) => data.push(value),
                None => {
                    let real = scaling.map_or(v.to_f64(), |s| s.apply(v.to_f64()));
                    let index = unravel(start + at, shape);
                    return Err(if real.is_finite() {
                        Error::VoxelOutOfRange {
                            index,
                            value: real,
                            target: "int16",
                        }
                    } else {
                        Error::NonFiniteVoxel { index, value: real }
                    });
                }
            }
        }
        Ok(())
    })?;
    Ok(data)
}

/// `real` rounded to the nearest int16, or `None` when it is out of range or not finite.
#[inline]
fn round_to_i16(real: f64) -> Option<i16> {
    // Integral values (the usual case, even with scaling) skip the slower `round`.
    let truncated = real as i64;
    let rounded = if truncated as f64 == real {
        real
    } else {
        real.round()
    };
    (f64::from(i16::MIN)..=f64::from(i16::MAX))
        .contains(&rounded)
        .then_some(rounded as i16)
}

/// The header's scaling, or `None` when it is the identity (the common slope 1, inter 0).
fn scaling(header: &Header) -> Option<Scaling> {
    header.scaling.filter(|s| !s.is_identity())
}

/// The mask words covering voxels `start..start + len`; `start` is a multiple of 64.
fn chunk_words(words: &mut [u64], start: usize, len: usize) -> &mut [u64] {
    let first = start / 64;
    &mut words[first..first + word_count(len)]
}

/// Writes one word per 64 values: bit `b` is `foreground(values[64 * w + b])`.
#[inline]
fn pack<T: Copy>(values: &[T], words: &mut [u64], foreground: impl Fn(T) -> bool) {
    let (groups, rest) = values.as_chunks::<64>();
    for (word, group) in words.iter_mut().zip(groups) {
        *word = pack_group(group, &foreground);
    }
    if let (Some(word), false) = (words.get_mut(groups.len()), rest.is_empty()) {
        *word = rest
            .iter()
            .enumerate()
            .fold(0, |bits, (b, &v)| bits | u64::from(foreground(v)) << b);
    }
}

/// The 64 foreground bits of a group in two vectorisable steps: one flag byte per value
/// (a plain compare loop), then eight flags at a time gathered into a byte by a multiply.
///
/// Each flag byte is 0 or 1, so flag `k` of a little-endian `u64` is bit `8k`; multiplying
/// by `0x0102_0408_1020_4080` moves it to bit `56 + k`, and no two partial products share
/// a bit, so there are no carries. A bit-at-a-time loop runs several times slower.
#[inline]
fn pack_group<T: Copy>(group: &[T; 64], foreground: &impl Fn(T) -> bool) -> u64 {
    let mut flags = [0u8; 64];
    for (flag, &v) in flags.iter_mut().zip(group) {
        *flag = u8::from(foreground(v));
    }
    let (eights, _) = flags.as_chunks::<8>();
    eights.iter().enumerate().fold(0, |bits, (n, eight)| {
        let gathered = u64::from_le_bytes(*eight).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        bits | gathered << (8 * n)
    })
}

/// Errors on the first value whose real value is NaN or infinite.
fn check_finite<T: Copy>(
    values: &[T],
    start: usize,
    shape: [usize; 3],
    real: impl Fn(T) -> f64,
) -> Result<()> {
    if values.iter().all(|&v| real(v).is_finite()) {
        return Ok(());
    }
    let at = values
        .iter()
        .position(|&v| !real(v).is_finite())
        .unwrap_or_default();
    Err(Error::NonFiniteVoxel {
        index: unravel(start + at, shape),
        value: values.get(at).map_or(f64::NAN, |&v| real(v)),
    })
}

/// The `(i, j, k)` index of memory-order voxel `n`.
fn unravel(n: usize, shape: [usize; 3]) -> [usize; 3] {
    let [nx, ny, _] = shape;
    [n % nx, (n / nx) % ny, n / (nx * ny)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_agrees_with_a_bit_at_a_time_loop_for_every_length() {
        let values: Vec<u16> = (0..300u32).map(|n| ((n * 7919) % 13) as u16).collect();
        for len in 0..values.len() {
            let slice = &values[..len];
            let mut words = vec![0; word_count(len)];
            pack(slice, &mut words, |v| v > 5);
            let mut want = vec![0u64; word_count(len)];
            for (n, &v) in slice.iter().enumerate() {
                want[n / 64] |= u64::from(v > 5) << (n % 64);
            }
            assert_eq!(words, want, "length {len}");
        }
    }

    #[test]
    fn rounding_to_int16_is_to_nearest_and_refuses_what_does_not_fit() {
        assert_eq!(round_to_i16(-1024.0), Some(-1024));
        assert_eq!(round_to_i16(2.5), Some(3));
        assert_eq!(round_to_i16(-2.4), Some(-2));
        assert_eq!(round_to_i16(32767.4), Some(32767));
        assert_eq!(round_to_i16(32767.6), None);
        assert_eq!(round_to_i16(f64::NAN), None);
        assert_eq!(round_to_i16(1e300), None);
    }

    #[test]
    fn voxel_indices_unravel_in_memory_order() {
        assert_eq!(unravel(1 + 4 * (2 + 3 * 5), [4, 3, 9]), [1, 2, 5]);
    }
}
