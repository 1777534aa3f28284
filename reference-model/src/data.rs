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
    /// Windowed image, [0, 1].
    pub image: Stack,
    /// Fraction of each pixel inside the right lung (label 1).
    pub right: Stack,
    /// Fraction of each pixel inside the left lung (label 2).
    pub left: Stack,
    /// The raters' mean lesion fraction (zeros for studies without lesion masks).
    pub lesions: Stack,
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
        let mut s = self.right.clone();
        s.data
            .iter_mut()
            .zip(&self.left.data)
            .for_each(|(a, b)| *a += b);
        s
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
        image: image_w,
        right,
        left,
        lesions,
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
