//! `triageboard dataset`: write the synthetic test set, and build or check a manifest.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use phantom::{Profile, Split};
use scorer::Annotations;
use scorer::manifest::Manifest;

use super::progress::Bar;
use crate::dataset::{self, DEFAULT_SEED, Synth, write_atomically};
use crate::manifest_key;

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
    /// Turn a public COVID-19 CT collection (MosMedData COVID19_1110, COVID-19-CT-Seg) into
    /// the training layout that `reference train` reads.
    Import(ImportArgs),
}

/// Arguments of `dataset import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The collection's layout: `mosmed1110` (studies/CT-0..CT-4, masks/) or `medseg`
    /// (COVID-19-CT-Seg_20cases/, Lung_Mask/, Infection_Mask/).
    source: crate::dataset_import::Source,
    /// The collection's folder, as downloaded and unpacked.
    src: PathBuf,
    /// Output folder (new): `images/` and `annotations/` are written inside.
    #[arg(long)]
    out: PathBuf,
    /// Draw the lung maps a collection lacks (MosMed has none) with the lungs model in this
    /// weights folder; without it those studies have no lung map.
    #[arg(long)]
    lungs_from: Option<PathBuf>,
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
    /// reference composition, train 400, val 100).
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
    /// The organizers' key file (64 hex digits) that the digests of private files are keyed
    /// with; created with a fresh random key when missing. Keep it private, with the
    /// annotations. Not needed for the synthetic demo (`--name synthetic-demo`), whose key is
    /// public.
    #[arg(long)]
    key: Option<PathBuf>,
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
    /// The key file the manifest was built with, to check the annotations (not needed for
    /// the images, nor for the synthetic demo's manifest).
    #[arg(long, env = "TRIAGEBOARD_MANIFEST_KEY")]
    manifest_key: Option<PathBuf>,
}

/// Runs a `dataset` subcommand.
pub fn run(command: DatasetCommand) -> anyhow::Result<()> {
    match command {
        DatasetCommand::Synth(args) => synth(&args),
        DatasetCommand::Manifest(args) => manifest(&args),
        DatasetCommand::Verify(args) => verify(&args),
        DatasetCommand::Import(args) => import(&args),
    }
}

fn synth(args: &SynthArgs) -> anyhow::Result<()> {
    let bar = Bar::new("generating");
    let started = Instant::now();
    let options = Synth {
        profile: args.profile,
        seed: args.seed,
        split: args.split,
        count: args.count,
        force: args.force,
    };
    let written = dataset::synthesize(&args.out, &options, &|done, total| {
        bar.set_len(total);
        bar.set_position(done);
    })?;
    bar.finish();
    eprintln!(
        "wrote {written} {} studies ({} profile, seed {}) to {} in {:.1} s",
        args.split,
        args.profile,
        args.seed,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn import(args: &ImportArgs) -> anyhow::Result<()> {
    let bar = Bar::new("importing");
    let started = Instant::now();
    let report = crate::dataset_import::import(
        args.source,
        &args.src,
        &args.out,
        args.lungs_from.as_deref(),
        &mut |done, total| {
            bar.set_len(total);
            bar.set_position(done);
        },
    )?;
    bar.finish();
    let categories: Vec<String> = report
        .categories
        .iter()
        .map(|(category, n)| format!("{n} {category}"))
        .collect();
    let studies: usize = report.categories.values().sum();
    eprintln!(
        "imported {studies} studies ({}) into {} in {:.1} s: {} with lesion masks, {} with lung maps ({} drawn by the lungs model)",
        categories.join(", "),
        args.out.display(),
        started.elapsed().as_secs_f64(),
        report.lesion_masks,
        report.lung_maps,
        report.lungs_predicted
    );
    if report.lung_maps < studies {
        eprintln!(
            "{} studies have no lung map, which `reference train` needs: import again with --lungs-from reference-model/weights to draw them with the lungs model",
            studies - report.lung_maps
        );
    }
    Ok(())
}

fn manifest(args: &ManifestArgs) -> anyhow::Result<()> {
    // The key first: a missing --key is reported before the long read of every file.
    let key = manifest_key::for_building(&args.name, args.key.as_deref())?;
    let annotations = Annotations::load(&args.annotations)
        .with_context(|| format!("loading annotations from {}", args.annotations.display()))?;
    let manifest = Manifest::build(&args.name, &args.images, &annotations, &key)?;
    match &args.out {
        Some(path) => {
            write_atomically(path, manifest.to_json().as_bytes())?;
            eprintln!(
                "wrote the manifest of {} studies to {} (version {})",
                manifest.n_studies,
                path.display(),
                manifest.version()
            );
        }
        None => print!("{}", manifest.to_json()),
    }
    Ok(())
}

fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    let manifest = Manifest::load(&args.manifest)?;
    if args.images.is_none() && args.annotations.is_none() {
        bail!(
            "give --images, --annotations or both to check against {}",
            args.manifest.display()
        );
    }
    if let Some(images) = &args.images {
        manifest.verify_images(images)?;
        eprintln!(
            "{}: all {} images match",
            images.display(),
            manifest.n_studies
        );
    }
    if let Some(dir) = &args.annotations {
        let key =
            manifest_key::for_checking(&manifest, &args.manifest, args.manifest_key.as_deref())?;
        let annotations = Annotations::load(dir)
            .with_context(|| format!("loading annotations from {}", dir.display()))?;
        manifest.verify_annotations(&annotations, &key)?;
        eprintln!("{}: the annotations match", dir.display());
    }
    Ok(())
}
