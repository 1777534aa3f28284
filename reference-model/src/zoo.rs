//! The seven reference models: what each is, how big, and how it is trained.
//!
//! A trained model is three files in the weights folder: `<name>.json` (this config plus the
//! training record), `<name>.safetensors` (the weights) and `<name>.md` (its model card,
//! written from the record by `reference train`).

use crate::nets::{Arch, Dims};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a model does in the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Segments both lungs (the pipeline's first stage for every other model).
    Lungs,
    /// The Hounsfield-threshold baseline (no learning).
    Threshold,
    /// Segments lesions; identification uses the affected percentage.
    Lesions,
    /// Classifies the study; severity uses the probability.
    Classifier,
    /// Segments lesions and classifies the study.
    Multitask,
}

impl Task {
    /// The file a submission of this task is: a table alone for a classifier (it has no
    /// masks), a zip of masks with the table otherwise.
    pub fn submission_extension(self) -> &'static str {
        if self == Self::Classifier {
            "csv"
        } else {
            "zip"
        }
    }
}

/// Which training studies a model learns from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainOn {
    /// COVID-19 studies only (those with lesion masks).
    Covid,
    /// Every study.
    All,
}

/// The optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Adam with default betas, no weight decay.
    Adam,
    /// Plain stochastic gradient descent.
    Sgd,
}

/// How a model is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// Training studies.
    pub train_on: TrainOn,
    /// Optimiser steps.
    pub steps: usize,
    /// Slices per step (2D models), slices per chunk (3D), or the most slices taken from a
    /// study (study-level models).
    pub slices: usize,
    /// Learning rate.
    pub lr: f64,
    /// `(step, lr)`: the learning rate from that step on, if it drops.
    pub lr_drop: Option<(usize, f64)>,
    /// Optimiser.
    pub optimizer: Optimizer,
    /// Seed of initialisation and sampling.
    pub seed: u64,
    /// Validate (and keep the best weights) every this many steps.
    pub val_every: usize,
}

/// A reference model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Short name (`unet`, `unet-plus`...), the file stem of its weights.
    pub name: String,
    /// Name as in the paper's Table 2.
    pub title: String,
    /// What it does.
    pub task: Task,
    /// Architecture (none for the threshold).
    pub arch: Option<Arch>,
    /// In-plane pixel of the working grid, mm.
    pub spacing_mm: f64,
    /// How it is trained (none for the threshold).
    pub recipe: Option<Recipe>,
}

/// The shipped models' in-plane working pixel. The paper uses 2 mm; 4 mm quarters the cost
/// of every 2D model so that each trains in minutes on two CPU cores.
pub const SPACING_MM: f64 = 4.0;

/// Names of the seven reference models, the lungs first.
pub const NAMES: [&str; 7] = [
    "lungs",
    "threshold",
    "unet",
    "unet-plus",
    "unet3d",
    "resnet",
    "multitask",
];

/// The models that make submissions (every one but the lungs, a stage of the others).
pub fn baselines() -> Vec<String> {
    NAMES[1..].iter().map(|s| (*s).to_owned()).collect()
}

/// The config of reference model `name`.
pub fn config(name: &str) -> Result<ModelConfig> {
    let recipe = |train_on, steps, slices, lr, optimizer| Recipe {
        train_on,
        steps,
        slices,
        lr,
        lr_drop: None,
        optimizer,
        seed: 2020,
        val_every: (steps / 3).max(1),
    };
    let unet2d = Arch::Unet {
        dims: Dims::Two,
        width: 8,
        levels: 4,
    };
    let (title, task, arch, recipe) = match name {
        "lungs" => (
            "Lungs U-Net",
            Task::Lungs,
            Some(unet2d),
            Some(Recipe {
                lr_drop: Some((50, 1e-4)),
                ..recipe(TrainOn::All, 80, 8, 1e-3, Optimizer::Adam)
            }),
        ),
        "threshold" => ("Thresholding", Task::Threshold, None, None),
        "unet" => (
            "2D U-Net",
            Task::Lesions,
            Some(unet2d),
            Some(recipe(TrainOn::Covid, 120, 8, 1e-3, Optimizer::Adam)),
        ),
        "unet-plus" => (
            "2D U-Net+",
            Task::Lesions,
            Some(unet2d),
            Some(recipe(TrainOn::All, 120, 8, 1e-3, Optimizer::Adam)),
        ),
        "unet3d" => (
            "3D U-Net",
            Task::Lesions,
            Some(Arch::Unet {
                dims: Dims::Three,
                width: 8,
                levels: 4,
            }),
            Some(recipe(TrainOn::Covid, 80, 12, 0.01, Optimizer::Sgd)),
        ),
        "resnet" => (
            "ResNet-50 (width 8)",
            Task::Classifier,
            Some(Arch::Resnet {
                width: 8,
                blocks: vec![3, 4, 6, 3],
            }),
            Some(recipe(TrainOn::All, 200, 24, 1e-4, Optimizer::Adam)),
        ),
        "multitask" => (
            "Multitask",
            Task::Multitask,
            Some(Arch::Multitask {
                width: 8,
                levels: 4,
                pyramid: vec![1, 2, 4],
                hidden: 32,
            }),
            Some(Recipe {
                val_every: 53,
                ..recipe(TrainOn::All, 106, 16, 1e-3, Optimizer::Adam)
            }),
        ),
        other => bail!(
            "unknown reference model {other:?}: expected one of {}",
            NAMES.join(", ")
        ),
    };
    Ok(ModelConfig {
        name: name.to_owned(),
        title: title.to_owned(),
        task,
        arch,
        spacing_mm: SPACING_MM,
        recipe,
    })
}

/// A model's config and training record as shipped beside its weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Shipped {
    /// The config it was trained with.
    pub config: ModelConfig,
    /// What happened in training (none for the threshold).
    pub record: Option<crate::train::Record>,
}

impl Shipped {
    /// Reads `<weights>/<name>.json`.
    pub fn load(weights: &Path, name: &str) -> Result<Self> {
        let path = weights.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {}: is the model trained (triageboard reference train --model {name})?", path.display())
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a model record", path.display()))
    }
}
