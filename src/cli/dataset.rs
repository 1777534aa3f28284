//! `triageboard dataset`: write the synthetic test set, and build or check a manifest.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use phantom::{Profile, Split};
use rayon::prelude::*;
use scorer::Annotations;
use scorer::manifest::Manifest;

use super::progress::Bar;

/// The seed of the synthetic reference test set pinned by `hidden-test-manifest/`.
pub const DEFAULT_SEED: u64 = 2020;

/// `dataset` subcommands.
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Write a deterministic synthetic chest-CT set: images/ and annotations/ as in
    /// EVALUATION.md section 1.
    Synth(SynthArgs),
    /// Build the manifest of a test set (ids, geometry, checksums) to pin its annotations.
    Manifest(ManifestArgs),
    /// Check images and annotations against a manifest, naming every file that differs.
    Verify(VerifyArgs),
}

/// Arguments of `dataset synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder; `images/` and `annotations/` are written inside.
    #[arg(long)]
    out: PathBuf,
    /// `demo` (small volumes, fast) or `realistic` (512x512, up to ~300 slices).
    #[arg(long, default_value = "demo")]
    profile: Profile,
    /// Seed; the same seed always gives the same files.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// `test` (the 101-study reference composition), `train` or `val`.
    #[arg(long, default_value = "test")]
    split: Split,
    /// Number of studies, in the split's category proportions (default: test 101 in the
    /// reference composition, train 120, val 30).
    #[arg(long)]
    count: Option<usize>,
    /// Replace files already in the output folder.
    #[arg(long)]
    force: bool,
}

/// Arguments of `dataset manifest`.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The public images folder.
    #[arg(long)]
    images: PathBuf,
    /// The private annotations folder.
    #[arg(long)]
    annotations: PathBuf,
    /// A short name for the test set.
    #[arg(long, default_value = "test-set")]
    name: String,
    /// Where to write the manifest (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Arguments of `dataset verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The manifest file.
    #[arg(long)]
    manifest: PathBuf,
    /// The public images folder.
    #[arg(long)]
    images: Option<PathBuf>,
    /// The private annotations folder.
    #[arg(long)]
    annotations: Option<PathBuf>,
}

/// Runs a `dataset` subcommand.
pub fn run(command: DatasetCommand) -> anyhow::Result<()> {
    match command {
        DatasetCommand::Synth(args) => synth(&args),
        DatasetCommand::Manifest(args) => manifest(&args),
        DatasetCommand::Verify(args) => verify(&args),
    }
}

fn synth(args: &SynthArgs) -> anyhow::Result<()> {
    let images = args.out.join("images");
    let annotations = args.out.join("annotations");
    if !args.force && images.exists() && fs::read_dir(&images)?.next().is_some() {
        bail!("{} already holds files; pass --force to replace them", images.display());
    }
    for dir in [&images, &annotations.join("lungs"), &annotations.join("lesions")] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }

    let specs = phantom::plan(args.split, args.profile, args.seed, args.count);
    let started = Instant::now();
    let bar = Bar::new("generating");
    bar.set_len(specs.len());
    specs.par_iter().try_for_each(|spec| -> anyhow::Result<()> {
        write_study(&images, &annotations, spec)?;
        bar.inc();
        Ok(())
    })?;
    bar.finish();

    let mut labels = String::from("study_id,category\n");
    let mut sorted: Vec<_> = specs.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for spec in sorted {
        labels.push_str(&format!("{},{}\n", spec.id, spec.category.as_str()));
    }
    write_atomically(&annotations.join("labels.csv"), labels.as_bytes())?;
    eprintln!(
        "wrote {} {} studies ({} profile, seed {}) to {} in {:.1} s",
        specs.len(),
        args.split,
        args.profile,
        args.seed,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Gzip level of written volumes: level 1 is several times faster than the default and
/// costs little size on noisy CT.
const GZIP_LEVEL: u32 = 1;

fn write_study(images: &Path, annotations: &Path, spec: &phantom::StudySpec) -> anyhow::Result<()> {
    let study = phantom::generate(spec);
    let id = &spec.id;
    let geometry = &study.geometry;
    write_volume(&images.join(format!("{id}.nii.gz")), geometry, &study.hu)?;
    write_volume(&annotations.join("lungs").join(format!("{id}.nii.gz")), geometry, &study.lungs)?;
    if !study.lesions.is_empty() {
        let dir = annotations.join("lesions").join(id);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (rater, mask) in study.lesions.iter().enumerate() {
            write_volume(&dir.join(format!("rater{}.nii.gz", rater + 1)), geometry, mask)?;
        }
    }
    Ok(())
}

/// Writes to a temporary file beside `path` and renames it, so an interrupted run never
/// leaves a truncated volume under the final name.
fn write_volume<T: volume::WriteSample>(path: &Path, geometry: &volume::Geometry, voxels: &[T]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    volume::write_nifti_gz(&tmp, geometry, voxels, GZIP_LEVEL).with_context(|| format!("writing {}", path.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

fn manifest(args: &ManifestArgs) -> anyhow::Result<()> {
    let annotations = Annotations::load(&args.annotations)
        .with_context(|| format!("loading annotations from {}", args.annotations.display()))?;
    let manifest = Manifest::build(&args.name, &args.images, &annotations)?;
    match &args.out {
        Some(path) => {
            write_atomically(path, manifest.to_json().as_bytes())?;
            eprintln!("wrote the manifest of {} studies to {} (version {})", manifest.n_studies, path.display(), manifest.version());
        }
        None => print!("{}", manifest.to_json()),
    }
    Ok(())
}

fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    let manifest = Manifest::load(&args.manifest)?;
    if args.images.is_none() && args.annotations.is_none() {
        bail!("give --images, --annotations or both to check against {}", args.manifest.display());
    }
    if let Some(images) = &args.images {
        manifest.verify_images(images)?;
        eprintln!("{}: all {} images match", images.display(), manifest.n_studies);
    }
    if let Some(dir) = &args.annotations {
        let annotations = Annotations::load(dir).with_context(|| format!("loading annotations from {}", dir.display()))?;
        manifest.verify_annotations(&annotations)?;
        eprintln!("{}: the annotations match", dir.display());
    }
    Ok(())
}
