//! Writing the synthetic test set to disk in the layout of EVALUATION.md section 1.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use phantom::{Profile, Split};
use rayon::prelude::*;

/// The seed of the synthetic reference test set pinned by `hidden-test-manifest/`.
pub const DEFAULT_SEED: u64 = 2020;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Synth {
    /// Image size and spacing profile.
    pub profile: Profile,
    /// Seed; the same seed always gives the same files.
    pub seed: u64,
    /// Which split.
    pub split: Split,
    /// Number of studies, or the split's default.
    pub count: Option<usize>,
    /// Replace files already there.
    pub force: bool,
}

impl Default for Synth {
    /// The demo profile's reference test set.
    fn default() -> Self {
        Self {
            profile: Profile::Demo,
            seed: DEFAULT_SEED,
            split: Split::Test,
            count: None,
            force: false,
        }
    }
}

/// The committed manifest of the synthetic demo set (`hidden-test-manifest/`), which this
/// build generates.
pub const DEMO_MANIFEST: &str = include_str!("../hidden-test-manifest/synthetic-demo.json");

/// Writes `images/` and `annotations/` under `out`, studies in parallel, calling
/// `progress(done, total)` once with `done = 0` and after each study. Returns the number of
/// studies written.
///
/// `labels.csv` is written last, so a folder with a `labels.csv` is complete.
pub fn synthesize(
    out: &Path,
    options: &Synth,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<usize> {
    let images = out.join("images");
    let annotations = out.join("annotations");
    if !options.force && images.exists() && fs::read_dir(&images)?.next().is_some() {
        bail!(
            "{} already holds files; pass --force to replace them",
            images.display()
        );
    }
    for dir in [
        &images,
        &annotations.join("lungs"),
        &annotations.join("lesions"),
    ] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let specs = phantom::plan(options.split, options.profile, options.seed, options.count);
    progress(0, specs.len());
    let done = AtomicUsize::new(0);
    specs
        .par_iter()
        .try_for_each(|spec| -> anyhow::Result<()> {
            write_study(&images, &annotations, spec)?;
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, specs.len());
            Ok(())
        })?;

    let mut labels = String::from("study_id,category\n");
    let mut sorted: Vec<_> = specs.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for spec in sorted {
        labels.push_str(&format!("{},{}\n", spec.id, spec.category.as_str()));
    }
    write_atomically(&annotations.join("labels.csv"), labels.as_bytes())?;
    Ok(specs.len())
}

/// Gzip level of written volumes: level 1 is several times faster than the default and
/// costs little size on noisy CT.
const GZIP_LEVEL: u32 = 1;

fn write_study(images: &Path, annotations: &Path, spec: &phantom::StudySpec) -> anyhow::Result<()> {
    let study = phantom::generate(spec);
    let id = &spec.id;
    let geometry = &study.geometry;
    write_volume(&images.join(format!("{id}.nii.gz")), geometry, &study.hu)?;
    write_volume(
        &annotations.join("lungs").join(format!("{id}.nii.gz")),
        geometry,
        &study.lungs,
    )?;
    if !study.lesions.is_empty() {
        let dir = annotations.join("lesions").join(id);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (rater, mask) in study.lesions.iter().enumerate() {
            write_volume(
                &dir.join(format!("rater{}.nii.gz", rater + 1)),
                geometry,
                mask,
            )?;
        }
    }
    Ok(())
}

/// Writes a volume atomically (see [`replace_atomically`]).
fn write_volume<T: volume::WriteSample>(
    path: &Path,
    geometry: &volume::Geometry,
    voxels: &[T],
) -> anyhow::Result<()> {
    replace_atomically(path, |tmp| {
        Ok(volume::write_nifti_gz(tmp, geometry, voxels, GZIP_LEVEL)?)
    })
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    replace_atomically(path, |tmp| Ok(fs::write(tmp, bytes)?))
}

/// Lets `write` fill a temporary file beside `path`, then renames it into place, so an
/// interrupted run never leaves a truncated file under the final name.
fn replace_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    write(&tmp).with_context(|| format!("writing {}", path.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}
