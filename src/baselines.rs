//! The reference models' entries on the board: run every reference model on the configured
//! test images in the background and enter the results as flagged baselines of the user
//! `reference-models`, scored by the ordinary queue.
//!
//! The demo computes them on its first start; organizers rerun them from their page; the
//! same can be done from any machine with `triageboard reference baselines` over the API.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use reference_model::predict::{Output, PredictOptions, predict};
use reference_model::zoo::{self, Model};
use sha2::{Digest, Sha256};

use crate::accounts::hex;
use crate::db::submissions;
use crate::db::users::{self, Role, User};
use crate::state::AppState;
use crate::{clock, demo_baselines, intake};

/// The user the baselines are entered as.
pub const REFERENCE_USER: &str = "reference-models";

/// What the background run is doing, shown on the organizer page.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Whether a run is going on.
    pub running: bool,
    /// One line about the current or last run.
    pub message: String,
}

/// Shared progress of the background run.
pub type Tracker = Arc<Mutex<Progress>>;

fn set(tracker: &Tracker, running: bool, message: String) {
    if let Ok(mut p) = tracker.lock() {
        p.running = running;
        p.message = message;
    }
}

/// The models entered as baselines.
pub fn models() -> Vec<Model> {
    zoo::baselines()
}

/// Where a run's submissions come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The shipped demo cache when it matches the test set and weights
    /// ([`crate::demo_baselines`]), else inference (the demo's first start).
    CacheOrCompute,
    /// Inference on every study (organizers' reruns).
    Compute,
}

/// Starts a background run unless one is going on; false if one is.
pub fn spawn(state: &AppState, source: Source) -> bool {
    {
        let Ok(mut p) = state.baselines.lock() else {
            return false;
        };
        if p.running {
            return false;
        }
        p.running = true;
        p.message = "starting".to_owned();
    }
    let state = state.clone();
    tokio::spawn(async move {
        match run(&state, source).await {
            Ok(Entered {
                entered, replaced, ..
            }) => set(
                &state.baselines,
                false,
                match replaced {
                    0 => format!("entered {entered} baselines; they are scored in the queue"),
                    n => format!(
                        "entered {entered} baselines, which replace the {n} of the previous run; they are scored in the queue"
                    ),
                },
            ),
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "the reference baselines failed");
                set(&state.baselines, false, format!("failed: {err:#}"));
            }
        }
    });
    true
}

/// On a board without any baseline, starts computing them (the demo's first start), if
/// the weights are there.
pub async fn populate_if_empty(state: &AppState) -> anyhow::Result<()> {
    if submissions::count_baselines(state.db.pool()).await? > 0 {
        return Ok(());
    }
    let weights = &state.config.reference_weights;
    if !weights.join("lungs.safetensors").is_file() {
        tracing::warn!(weights = %weights.display(), "no reference weights: the board starts without baselines");
        return Ok(());
    }
    tracing::info!("entering the reference baselines in the background");
    spawn(state, Source::CacheOrCompute);
    Ok(())
}

/// What a run entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entered {
    /// Baselines entered.
    pub entered: usize,
    /// Baselines of earlier runs they replace.
    pub replaced: u64,
    /// Whether the submissions came from the demo cache.
    pub cached: bool,
}

/// Runs every model (or takes the demo cache, when `source` allows and it matches), enters
/// each result and hides the baselines of earlier runs, so that a rerun replaces them
/// rather than adding a second copy.
pub async fn run(state: &AppState, source: Source) -> anyhow::Result<Entered> {
    let user_id = users::ensure_user(
        state.db.pool(),
        REFERENCE_USER,
        Role::Organizer,
        clock::now_ms(),
    )
    .await?;
    let models = models();
    set(
        &state.baselines,
        true,
        format!("starting the {} reference models", models.len()),
    );
    let stamp = clock::now_ms();
    let mut outputs = Vec::with_capacity(models.len());
    for &model in &models {
        let ext = zoo::config(model).task.submission_extension();
        outputs.push(Output {
            model,
            out: state
                .config
                .submissions_dir()
                .join(format!("reference-{model}-{stamp}.{ext}")),
            projections: Some(projections_dir(state.config.data_dir(), model)),
        });
    }
    let cached = match source {
        Source::Compute => None,
        Source::CacheOrCompute => from_cache(state, &outputs).await?,
    };
    if cached.is_none() {
        compute(state, &outputs).await?;
    }
    let user = User {
        id: user_id,
        name: REFERENCE_USER.to_owned(),
        role: Role::Organizer,
    };
    let mut ids = Vec::with_capacity(models.len());
    for output in &outputs {
        let bytes = tokio::fs::read(&output.out).await?;
        let file_name = output
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stored = intake::Stored {
            stored_path: format!("submissions/{file_name}"),
            file_name,
            size_bytes: bytes.len() as u64,
            sha256: hex(&Sha256::digest(&bytes)),
        };
        let id = intake::enter(state, &user, stored, entry(output.model))
            .await
            .map_err(|e| anyhow::anyhow!("entering the {} baseline: {e}", output.model))?;
        ids.push(id);
    }
    let first = ids.iter().copied().min().unwrap_or(i64::MAX);
    let replaced = submissions::hide_baselines_before(state.db.pool(), user_id, first).await?;
    Ok(Entered {
        entered: ids.len(),
        replaced,
        cached: cached.is_some(),
    })
}

/// Copies the demo cache's submissions to the outputs' paths if the cache matches the
/// configured test set and weights; `None` (with the reason in the log) otherwise.
async fn from_cache(state: &AppState, outputs: &[Output]) -> anyhow::Result<Option<()>> {
    let weights = state.config.reference_weights.clone();
    let version = state.testset.manifest_version.clone();
    let models: Vec<Model> = outputs.iter().map(|o| o.model).collect();
    let found =
        tokio::task::spawn_blocking(move || demo_baselines::lookup(&weights, &version, &models))
            .await
            .context("the cache lookup failed")?;
    let files = match found {
        Ok(files) => files,
        Err(stale) => {
            tracing::info!(reason = %stale, "computing the reference baselines");
            return Ok(None);
        }
    };
    for ((_, cached), output) in files.iter().zip(outputs) {
        tokio::fs::copy(cached, &output.out)
            .await
            .with_context(|| format!("copying {}", cached.display()))?;
    }
    tracing::info!("entering the demo's cached reference baselines");
    Ok(Some(()))
}

/// Runs the pipeline over the test images into the outputs, with progress.
async fn compute(state: &AppState, outputs: &[Output]) -> anyhow::Result<()> {
    let options = PredictOptions {
        images: state.config.images_dir(),
        weights: state.config.reference_weights.clone(),
        outputs: outputs.to_vec(),
    };
    let tracker = state.baselines.clone();
    tokio::task::spawn_blocking(move || {
        predict(
            &options,
            reference_model::Device::Cpu,
            &mut |done, total| {
                set(
                    &tracker,
                    true,
                    format!("{done} of {total} test studies done"),
                );
            },
        )
    })
    .await
    .context("the reference task failed")?
    .context("running the reference models")?;
    Ok(())
}

/// A line for the public board while the baselines are being computed, if they are.
pub fn public_status(state: &AppState) -> Option<String> {
    let progress = state.baselines.lock().ok()?.clone();
    progress.running.then(|| {
        format!(
            "The reference models' baselines are being computed ({}); they appear here once scored.",
            progress.message
        )
    })
}

/// How a reference model's result is entered: a baseline (final from the start) that
/// names its model, so that the board links the card.
pub fn entry(model: Model) -> intake::Entry {
    let config = zoo::config(model);
    intake::Entry {
        method: format!("{} (reference)", config.title),
        description: format!(
            "Reference model `{model}` of the paper's pipeline, trained on the synthetic train split; model card: /models/{model}"
        ),
        paper_url: None,
        code_url: None,
        reference_model: Some(model.to_string()),
    }
}

/// Where a model's coronal projections go (organizers only).
pub fn projections_dir(data_dir: &Path, model: Model) -> PathBuf {
    data_dir
        .join("reference")
        .join(model.name())
        .join("projections")
}
