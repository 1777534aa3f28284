//! Reading a data folder in the layout of EVALUATION.md section 1 (`images/<id>.nii.gz`,
//! `annotations/labels.csv`, `annotations/lungs/<id>.nii.gz`,
//! `annotations/lesions/<id>/rater*.nii.gz`), and turning annotated studies into training
//! samples on a model's working grid.

use crate::prep::{self, Bbox, Stack};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use volume::{Geometry, Limits, Volume};

/// The images of a folder: `(study id, path)` sorted by id, for every `*.nii.gz` or `*.nii`.
pub fn list_images(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the images folder {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let id = name
            .strip_suffix(".nii.gz")
            .or_else(|| name.strip_suffix(".nii"));
        if let Some(id) = id {
            out.push((id.to_owned(), path.clone()));
        }
    }
    out.sort();
    if out.is_empty() {
        bail!("{} holds no .nii.gz or .nii images", dir.display());
    }
    Ok(out)
}

/// Reads a CT image in Hounsfield units.
pub fn read_image(path: &Path) -> Result<Volume<i16>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let (_, vol) = volume::read_volume_i16(BufReader::new(file), &Limits::default())
        .with_context(|| format!("cannot read the image {}", path.display()))?;
    Ok(vol)
}

/// The categories of `annotations/labels.csv` by study id, read by the scorer's strict
/// parser (a `split` column is allowed and ignored here).
pub fn read_labels(annotations: &Path) -> Result<BTreeMap<String, String>> {
    let labels = scorer::annotations::read_labels(&annotations.join("labels.csv"))?;
    Ok(labels
        .into_iter()
        .map(|(id, (category, _split))| (id.to_string(), category))
        .collect())
}

/// One annotated study on a model's working grid.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Study id.
    pub id: String,
    /// Category from `labels.csv`.
    pub category: String,
    /// Windowed image, [0, 1], in steps of 1/65535 (0.02 HU of the window).
    pub image: Packed<u16>,
    /// Fraction of each pixel inside the right lung (label 1), in steps of 1/255.
    pub right: Packed<u8>,
    /// Fraction of each pixel inside the left lung (label 2), in steps of 1/255.
    pub left: Packed<u8>,
    /// The raters' mean lesion fraction, in steps of 1/255 (zeros for studies without
    /// lesion masks).
    pub lesions: Packed<u8>,
    /// The ground-truth lungs' box, grown by [`LUNG_MARGIN`] pixels.
    pub lung_box: Bbox,
}

/// Margin around the lungs' box, in working pixels.
pub const LUNG_MARGIN: usize = 2;

impl Sample {
    /// Whether this study is a positive.
    pub fn covid(&self) -> bool {
        self.category == "covid"
    }

    /// Both lungs as one fraction map.
    pub fn lungs(&self) -> Stack {
        self.lung_slices(&(0..self.right.nz).collect::<Vec<_>>())
    }

    /// Slices `ks` of [`Sample::lungs`], in that order.
    pub fn lung_slices(&self, ks: &[usize]) -> Stack {
        let mut s = self.right.unpack_slices(ks);
        let left = self.left.unpack_slices(ks);
        s.data
            .iter_mut()
            .zip(&left.data)
            .for_each(|(a, &b)| *a += b);
        s
    }
}

/// A level of a [`Packed`] stack: `0..=MAX` stands for [0, 1].
pub trait Level: Copy + Send + Sync {
    /// The level of `v` in [0, 1] (clamped), rounded to the nearest step.
    fn from_unit(v: f32) -> Self;
    /// The value in [0, 1] this level stands for.
    fn to_unit(self) -> f32;
}

macro_rules! level {
    ($t:ty) => {
        impl Level for $t {
            fn from_unit(v: f32) -> Self {
                // `as` saturates; NaN becomes 0.
                (v.clamp(0.0, 1.0) * f32::from(<$t>::MAX)).round() as $t
            }
            fn to_unit(self) -> f32 {
                f32::from(self) / f32::from(<$t>::MAX)
            }
        }
    };
}
level!(u8);
level!(u16);

/// A [`Stack`] of values in [0, 1] stored as `u8` or `u16` levels: a training pool holds
/// its studies' images and masks this way, a quarter or half of the memory of `f32`.
/// Rounding to the nearest level keeps which side of 0.5 every value lies on.
#[derive(Clone, Debug)]
pub struct Packed<T> {
    /// Pixels along x.
    pub nx: usize,
    /// Pixels along y.
    pub ny: usize,
    /// Slices.
    pub nz: usize,
    /// Levels, slice after slice, row after row.
    pub data: Vec<T>,
}

impl<T: Level> Packed<T> {
    /// `stack`'s values (clamped to [0, 1]) as levels.
    pub fn pack(stack: &Stack) -> Self {
        Self {
            nx: stack.nx,
            ny: stack.ny,
            nz: stack.nz,
            data: stack.data.iter().map(|&v| T::from_unit(v)).collect(),
        }
    }

    /// The values again, as `f32`.
    pub fn unpack(&self) -> Stack {
        Stack {
            nx: self.nx,
            ny: self.ny,
            nz: self.nz,
            data: self.data.iter().map(|&v| v.to_unit()).collect(),
        }
    }

    /// Slices `ks` (in that order, repeats allowed) as `f32`: those slices of
    /// [`Packed::unpack`], without unpacking the others.
    pub fn unpack_slices(&self, ks: &[usize]) -> Stack {
        let n = self.nx * self.ny;
        Stack {
            nx: self.nx,
            ny: self.ny,
            nz: ks.len(),
            data: ks
                .iter()
                .flat_map(|&k| self.data[k * n..(k + 1) * n].iter().map(|&v| v.to_unit()))
                .collect(),
        }
    }

    /// The sum of slice `k`'s values.
    pub fn slice_sum(&self, k: usize) -> f32 {
        let n = self.nx * self.ny;
        self.data[k * n..(k + 1) * n]
            .iter()
            .map(|&v| v.to_unit())
            .sum()
    }
}

/// The in-plane working grid of `geometry` at `spacing` mm.
pub fn working_size(geometry: &Geometry, spacing: f64) -> (usize, usize) {
    let s = geometry.spacing();
    prep::resampled_size(
        [geometry.shape[0], geometry.shape[1]],
        [s[0], s[1]],
        spacing,
    )
}

/// Resamples a native volume (memory order) to the working grid.
pub fn to_working<T: Copy + Send + Sync>(
    data: &[T],
    geometry: &Geometry,
    spacing: f64,
    f: impl Fn(T) -> f32 + Sync,
) -> Stack {
    let s = geometry.spacing();
    let (mx, my) = working_size(geometry, spacing);
    let (ty, tx) = (
        s[1] * geometry.shape[1] as f64 / my as f64,
        s[0] * geometry.shape[0] as f64 / mx as f64,
    );
    prep::resample(
        &prep::stack_of(data, geometry.shape, f),
        (s[0], s[1]),
        (mx, my),
        (tx, ty),
    )
}

/// Loads study `id` of `dir` (images and annotations) onto the working grid of `spacing`.
pub fn load_sample(dir: &Path, id: &str, category: &str, spacing: f64) -> Result<Sample> {
    let image = read_image(&dir.join("images").join(format!("{id}.nii.gz")))?;
    let geometry = image.geometry().clone();
    let limits = Limits::default().with_expected_shape(geometry.shape);
    let lungs_path = dir.join("annotations/lungs").join(format!("{id}.nii.gz"));
    let file =
        File::open(&lungs_path).with_context(|| format!("cannot open {}", lungs_path.display()))?;
    let (_, lungs) = volume::read_volume_f32(BufReader::new(file), &limits)
        .with_context(|| format!("cannot read {}", lungs_path.display()))?;
    let mut lesions = vec![0f32; geometry.voxel_count()];
    let lesion_dir = dir.join("annotations/lesions").join(id);
    if lesion_dir.is_dir() {
        let mut raters: Vec<PathBuf> = std::fs::read_dir(&lesion_dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        raters.sort();
        for path in &raters {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let (_, mask) = volume::read_mask(BufReader::new(file), &limits)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let bytes = mask.to_u8();
            let w = 1.0 / raters.len() as f32;
            lesions
                .iter_mut()
                .zip(bytes)
                .for_each(|(l, m)| *l += w * f32::from(m));
        }
    }
    let image_w = to_working(image.data(), &geometry, spacing, |v| {
        prep::window(f32::from(v))
    });
    let right = to_working(lungs.data(), &geometry, spacing, |v| {
        f32::from(u8::from(v == 1.0))
    });
    let left = to_working(lungs.data(), &geometry, spacing, |v| {
        f32::from(u8::from(v == 2.0))
    });
    let lesions = to_working(&lesions, &geometry, spacing, |v| v);
    let mut both = right.clone();
    both.data
        .iter_mut()
        .zip(&left.data)
        .for_each(|(a, b)| *a += b);
    let lung_box =
        Bbox::of(&both, LUNG_MARGIN).with_context(|| format!("{id}: the lung mask is empty"))?;
    Ok(Sample {
        id: id.to_owned(),
        category: category.to_owned(),
        image: Packed::pack(&image_w),
        right: Packed::pack(&right),
        left: Packed::pack(&left),
        lesions: Packed::pack(&lesions),
        lung_box,
    })
}

/// Loads the studies `labels` lists (id to category, from [`read_labels`]) of a data folder
/// in parallel, calling `tick` after each.
pub fn load_samples(
    dir: &Path,
    labels: &BTreeMap<String, String>,
    spacing: f64,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<Sample>> {
    use rayon::prelude::*;
    labels
        .par_iter()
        .map(|(id, category)| {
            let s = load_sample(dir, id, category, spacing);
            tick();
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_levels_round_to_the_nearest_step_and_keep_the_side_of_one_half() {
        let values = [
            0.0,
            1.0,
            0.25,
            0.4979,
            0.4999,
            0.5,
            0.5001,
            0.73,
            -0.2,
            1.7,
            f32::NAN,
        ];
        let stack = Stack {
            nx: values.len(),
            ny: 1,
            nz: 1,
            data: values.to_vec(),
        };
        let bytes = Packed::<u8>::pack(&stack).unpack();
        let words = Packed::<u16>::pack(&stack).unpack();
        for (i, &v) in values.iter().enumerate() {
            let want = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
            assert!(
                (bytes.data[i] - want).abs() <= 0.5 / 255.0 + 1e-6,
                "{v}: {}",
                bytes.data[i]
            );
            assert!(
                (words.data[i] - want).abs() <= 0.5 / 65535.0 + 1e-6,
                "{v}: {}",
                words.data[i]
            );
            assert_eq!(bytes.data[i] >= 0.5, want >= 0.5, "{v}: {}", bytes.data[i]);
        }
        assert_eq!(bytes.data[..2], [0.0, 1.0]);
    }

    #[test]
    fn a_packed_slice_sums_its_own_plane() {
        let stack = Stack {
            nx: 2,
            ny: 2,
            nz: 2,
            data: vec![1.0, 0.0, 0.5, 0.0, 0.0, 1.0, 1.0, 1.0],
        };
        let p = Packed::<u8>::pack(&stack);
        assert!((p.slice_sum(0) - 1.5).abs() < 0.01, "{}", p.slice_sum(0));
        assert_eq!(p.slice_sum(1), 3.0);
    }

    #[test]
    fn unpacking_some_slices_gives_those_slices_of_the_whole_unpacking() {
        let (nx, ny, nz) = (3, 2, 4);
        let plane = nx * ny;
        let stack = Stack {
            nx,
            ny,
            nz,
            data: (0..nx * ny * nz).map(|i| i as f32 / 23.0).collect(),
        };
        let p = Packed::<u16>::pack(&stack);
        let whole = p.unpack();
        let ks = [3, 0, 3];
        let some = p.unpack_slices(&ks);
        assert_eq!((some.nx, some.ny, some.nz), (nx, ny, ks.len()));
        for (i, &k) in ks.iter().enumerate() {
            assert_eq!(
                some.data[i * plane..(i + 1) * plane],
                whole.data[k * plane..(k + 1) * plane]
            );
        }
        let sample = Sample {
            id: "s".into(),
            category: "normal".into(),
            image: p.clone(),
            right: Packed::pack(&stack),
            left: Packed::pack(&Stack {
                data: stack.data.iter().map(|v| 1.0 - v).collect(),
                ..stack.clone()
            }),
            lesions: Packed::pack(&stack),
            lung_box: Bbox {
                x0: 0,
                x1: nx,
                y0: 0,
                y1: ny,
                z0: 0,
                z1: nz,
            },
        };
        let lungs = sample.lungs();
        let sum: Vec<f32> = (sample.right.unpack().data.iter())
            .zip(&sample.left.unpack().data)
            .map(|(r, l)| r + l)
            .collect();
        assert_eq!(lungs.data, sum);
        let two = sample.lung_slices(&[2, 1]);
        assert_eq!(two.data[..plane], lungs.data[2 * plane..3 * plane]);
        assert_eq!(two.data[plane..], lungs.data[plane..2 * plane]);
    }
}
