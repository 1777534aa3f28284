//! `triageboard score`: EVALUATION.md section 4.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use scorer::manifest::Manifest;
use scorer::{Annotations, ScoreError};

use super::progress::Bar;
use crate::manifest_key;

/// Arguments of `score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The hidden annotations directory (labels.csv, lungs/, lesions/).
    #[arg(long, env = "TRIAGEBOARD_ANNOTATIONS")]
    annotations: PathBuf,
    /// The submission: a predictions.csv or a zip of masks.
    #[arg(long)]
    submission: PathBuf,
    /// Refuse annotations that do not match this manifest.
    #[arg(long, env = "TRIAGEBOARD_MANIFEST")]
    manifest: Option<PathBuf>,
    /// The key file the manifest was built with (not needed for the synthetic demo's).
    #[arg(long, env = "TRIAGEBOARD_MANIFEST_KEY")]
    manifest_key: Option<PathBuf>,
}

/// Exit code for an invalid submission (section 4).
const INVALID: u8 = 2;

/// Runs `score`: 0 scored, 2 invalid submission, 1 anything else.
pub fn run(args: &ScoreArgs) -> ExitCode {
    match score(args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            if let Some(ScoreError::Invalid(problems)) = err.downcast_ref::<ScoreError>() {
                for line in problems.lines() {
                    eprintln!("{line}");
                }
                return ExitCode::from(INVALID);
            }
            // The whole chain of causes: these are for the organizer running the scorer.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn score(args: &ScoreArgs) -> anyhow::Result<String> {
    let annotations = Annotations::load(&args.annotations)
        .with_context(|| format!("loading annotations from {}", args.annotations.display()))?;
    if let Some(path) = &args.manifest {
        let manifest = Manifest::load(path)?;
        let key = manifest_key::for_checking(&manifest, path, args.manifest_key.as_deref())?;
        manifest
            .verify_annotations(&annotations, &key)
            .with_context(|| {
                format!(
                    "checking {} against {}",
                    args.annotations.display(),
                    path.display()
                )
            })?;
    }
    let bar = Bar::new("scoring");
    let evaluation = scorer::score(&annotations, &args.submission, &bar);
    bar.finish();
    let evaluation = evaluation?;
    Ok(serde_json::to_string_pretty(&evaluation.scores)?)
}
