//! What training did, as written to `<name>.json` and into the model card.

use super::validate::ValMetrics;
use serde::{Deserialize, Serialize};

/// Studies a model was trained or selected on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataRecord {
    /// The folder.
    pub folder: String,
    /// Studies used.
    pub studies: usize,
    /// Of which COVID-19.
    pub covid: usize,
}

/// One validation during training.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Optimiser steps done.
    pub step: usize,
    /// Mean training loss since the previous validation.
    pub loss: f64,
    /// Validation metrics.
    pub val: ValMetrics,
}

/// What training did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Steps done.
    pub steps: usize,
    /// The step whose weights were kept.
    pub best_step: usize,
    /// Validation metrics of the kept weights.
    pub best: ValMetrics,
    /// Every validation.
    pub history: Vec<Checkpoint>,
    /// Training wall time, seconds (summed over resumed runs).
    pub wall_seconds: f64,
    /// Of which validating, seconds (absent from records written before it was measured).
    #[serde(default)]
    pub val_seconds: Option<f64>,
    /// Where it ran.
    pub hardware: String,
    /// Training data.
    pub train: DataRecord,
    /// Validation data.
    pub val: DataRecord,
    /// Trainable parameters.
    pub parameters: usize,
    /// The time limit, seconds, when the run stopped at it before the recipe's last step
    /// (`reference train --minutes`); absent when it ran every step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_seconds: Option<f64>,
}
