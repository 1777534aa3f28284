//! The per-chunk inner loops: stored values to mask bits, label masks, float32 or int16.
//!
//! Each loop is generic over the stored type and picks its rule (scaled or not, integer or
//! float) once per chunk, so the per-voxel work is a load, a compare and a shift.

use crate::error::{Error, Result};
use crate::header::Header;
use crate::mask::{Mask, word_count};
use crate::read::Stream;
use crate::sample::Sample;

/// Decodes a binary mask (rules in [`crate::read_mask`]).
pub(crate) fn mask<T: Sample>(stream: &mut Stream<'_>, header: &Header) -> Result<Mask> {
    let shape = header.geometry.shape;
    let mut mask = Mask::zeros(shape);
    let words = mask.words_mut();
    stream.for_each_chunk::<T>(header, |start, values| {
        let words = chunk_words(words, start, values.len());
        match header.scaling {
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
        match header.scaling {
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
        match header.scaling {
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
    let mut data = Vec::with_capacity(header.geometry.voxel_count());
    stream.for_each_chunk::<T>(header, |start, values| {
        for (at, &v) in values.iter().enumerate() {
            let real = header.scaling.map_or(v.to_f64(), |s| s.apply(v.to_f64()));
            let index = || unravel(start + at, shape);
            if !real.is_finite() {
                return Err(Error::NonFiniteVoxel {
                    index: index(),
                    value: real,
                });
            }
            let rounded = real.round();
            if !(f64::from(i16::MIN)..=f64::from(i16::MAX)).contains(&rounded) {
                return Err(Error::VoxelOutOfRange {
                    index: index(),
                    value: real,
                    target: "int16",
                });
            }
            data.push(rounded as i16);
        }
        Ok(())
    })?;
    Ok(data)
}

/// The mask words covering voxels `start..start + len`; `start` is a multiple of 64.
fn chunk_words(words: &mut [u64], start: usize, len: usize) -> &mut [u64] {
    let first = start / 64;
    &mut words[first..first + word_count(len)]
}

/// Writes one word per 64 values: bit `b` is `foreground(values[64 * w + b])`.
#[inline]
fn pack<T: Copy>(values: &[T], words: &mut [u64], foreground: impl Fn(T) -> bool) {
    for (word, group) in words.iter_mut().zip(values.chunks(64)) {
        let mut bits = 0u64;
        for (b, &v) in group.iter().enumerate() {
            bits |= u64::from(foreground(v)) << b;
        }
        *word = bits;
    }
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
