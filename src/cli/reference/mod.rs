//! `triageboard reference ...`: train, run and evaluate the reference models. This module
//! holds the commands' arguments and runs the models; `table2` renders `reference eval`'s
//! table, `baselines` enters the results on a server.

mod baselines;
mod table2;

use super::progress::Bar;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use reference_model::device;
use reference_model::pipeline::Times;
use reference_model::predict::{Output, PredictOptions, PredictReport};
use reference_model::zoo::{self, Model};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The reference pipeline's commands.
#[derive(Debug, Subcommand)]
pub enum ReferenceCommand {
    /// Train a reference model on a train split, selecting on a validation split.
    Train(TrainArgs),
    /// Run a reference model over a folder of images and write a submission.
    Predict(PredictArgs),
    /// Run reference models on a test split and score them: the paper's Table 2 for our
    /// models, as Markdown on stdout.
    Eval(EvalArgs),
    /// Run every reference model on a folder of test images and enter the results on a
    /// server as flagged baselines, through its REST API with an organizer token.
    Baselines(BaselinesArgs),
}

/// `reference baselines`.
#[derive(Debug, Args)]
pub struct BaselinesArgs {
    /// The server's base URL, e.g. `https://board.example.org`.
    #[arg(long, env = "TRIAGEBOARD_SERVER")]
    pub(super) server: String,
    /// An organizer's API token.
    #[arg(long, env = "TRIAGEBOARD_TOKEN", hide_env_values = true)]
    pub(super) token: String,
    /// Folder of the test images (the ones the server publishes).
    #[arg(long)]
    pub(super) images: PathBuf,
    /// Folder of shipped weights.
    #[arg(
        long,
        env = "TRIAGEBOARD_REFERENCE_WEIGHTS",
        default_value = "reference-model/weights"
    )]
    pub(super) weights: PathBuf,
    /// Where the submissions are written before upload.
    #[arg(long, default_value = "target/reference-baselines")]
    pub(super) out: PathBuf,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub(super) device: String,
}

/// `reference predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Folder of `<study_id>.nii.gz` images.
    #[arg(long)]
    images: PathBuf,
    /// Model (any but the lungs, the pipeline's first stage).
    #[arg(long, value_enum)]
    model: Model,
    /// Submission to write: a zip of masks and predictions.csv (a csv for resnet).
    #[arg(long)]
    out: PathBuf,
    /// Folder of shipped weights.
    #[arg(
        long,
        env = "TRIAGEBOARD_REFERENCE_WEIGHTS",
        default_value = "reference-model/weights"
    )]
    weights: PathBuf,
    /// Also write each study's coronal projection PNG into this folder.
    #[arg(long)]
    projections: Option<PathBuf>,
    /// Write the per-study stage times (seconds) to this JSON file.
    #[arg(long)]
    times: Option<PathBuf>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// `reference eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Test folder with `images/` and `annotations/` (`dataset synth --split test`).
    #[arg(long, default_value = "data/test")]
    data: PathBuf,
    /// Folder of shipped weights.
    #[arg(
        long,
        env = "TRIAGEBOARD_REFERENCE_WEIGHTS",
        default_value = "reference-model/weights"
    )]
    weights: PathBuf,
    /// Where the submissions go.
    #[arg(long, default_value = "target/reference-eval")]
    out: PathBuf,
    /// Models to run (default: all six lesion and classification models).
    #[arg(long, value_enum, value_delimiter = ',')]
    models: Vec<Model>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Also keep the submissions as the demo's cache (`<weights>/demo-baselines/`), which a
    /// fresh demo enters instead of running the models; `--data` must be the synthetic demo
    /// test set and every baseline model must run.
    #[arg(long)]
    write_demo_cache: bool,
}

/// `reference train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Model to train (any but the threshold, which learns nothing).
    #[arg(long, value_enum)]
    model: Model,
    /// Train split folder (`dataset synth --split train`). The shipped ResNet was trained on
    /// a 2400-study draw of it (`dataset synth --out data/train-2400 --split train --count
    /// 2400`), every other model on the default 400.
    #[arg(long, default_value = "data/train")]
    train: PathBuf,
    /// Validation split folder (`dataset synth --split val`).
    #[arg(long, default_value = "data/val")]
    val: PathBuf,
    /// Where weights, config and model card go.
    #[arg(
        long,
        env = "TRIAGEBOARD_REFERENCE_WEIGHTS",
        default_value = "reference-model/weights"
    )]
    weights: PathBuf,
    /// Override the recipe's number of steps (validation then comes every quarter of them,
    /// and a drop of the learning rate at the same share of the run as in the recipe).
    #[arg(long, value_parser = steps)]
    steps: Option<usize>,
    /// Override the recipe's learning rate (a drop keeps its ratio to it).
    #[arg(long, value_parser = learning_rate)]
    lr: Option<f64>,
    /// Override the network's width (first level or base width; the paper's sizes are 16
    /// to 64, the shipped models 8).
    #[arg(long)]
    width: Option<usize>,
    /// Override the slices drawn per step.
    #[arg(long)]
    slices: Option<usize>,
    /// Vary every training study at random: a left-right mirror, a shift within the padded
    /// plane, an intensity gain and offset (no shipped recipe does: the width-8 ResNet learnt
    /// nothing in 3500 steps with it).
    #[arg(long)]
    augment: bool,
    /// Validate and keep an exponential moving average of the weights with this decay
    /// (0.99 to 0.9999; 0.999 averages over about the last thousand steps) instead of the
    /// weights of the validated step.
    #[arg(long, value_parser = decay)]
    ema: Option<f64>,
    /// Continue from the checkpoint in the weights folder.
    #[arg(long)]
    resume: bool,
    /// Stop after this many minutes of training, validating once more, and finish the run
    /// (weights, card) with the steps done so far; the card says it stopped at the limit.
    #[arg(long, value_parser = minutes)]
    minutes: Option<Duration>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Parses `--minutes`: a positive number of minutes, fractions allowed.
fn minutes(text: &str) -> std::result::Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(m) if m.is_finite() && m > 0.0 && m < 1e6 => Ok(Duration::from_secs_f64(m * 60.0)),
        _ => Err(format!(
            "{text:?} is not a number of minutes: give a positive number such as 30 or 2.5"
        )),
    }
}

/// Parses `--ema`: a decay strictly between 0 and 1.
fn decay(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(d) if d > 0.0 && d < 1.0 => Ok(d),
        _ => Err(format!(
            "{text:?} is not a decay: give a number between 0 and 1 such as 0.999"
        )),
    }
}

/// Parses `--steps`: a positive whole number.
fn steps(text: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{text:?} is not a number of steps: give a whole number of at least 1 such as 60"
        )),
    }
}

/// Parses `--lr`: a positive, finite learning rate.
fn learning_rate(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(lr) if lr > 0.0 && lr.is_finite() => Ok(lr),
        _ => Err(format!(
            "{text:?} is not a learning rate: give a positive number such as 0.001 or 3e-4"
        )),
    }
}

/// Runs a `reference` subcommand.
pub fn run(command: ReferenceCommand) -> Result<()> {
    match command {
        ReferenceCommand::Train(args) => train(&args),
        ReferenceCommand::Predict(args) => predict(&args),
        ReferenceCommand::Eval(args) => eval(&args),
        ReferenceCommand::Baselines(args) => baselines::run(&args),
    }
}

fn predict(args: &PredictArgs) -> Result<()> {
    let outputs = vec![Output {
        model: args.model,
        out: args.out.clone(),
        projections: args.projections.clone(),
    }];
    let report = run_models(&args.images, &args.weights, outputs, &args.device)?;
    summarise(args.model, &report.times[0]);
    if let Some(path) = &args.times {
        std::fs::write(path, serde_json::to_string_pretty(&report.times[0])?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!("wrote {} ({} studies)", args.out.display(), report.studies);
    Ok(())
}

/// Runs models with a progress bar.
pub(super) fn run_models(
    images: &Path,
    weights: &Path,
    outputs: Vec<Output>,
    device: &str,
) -> Result<PredictReport> {
    let device = device::parse(device)?;
    let opts = PredictOptions {
        images: images.to_owned(),
        weights: weights.to_owned(),
        outputs,
    };
    let bar = Bar::new("predicting");
    let report = reference_model::predict::predict(&opts, device, &mut |done, total| {
        bar.set_len(total);
        bar.set_position(done);
    });
    bar.finish();
    report
}

fn summarise(model: Model, times: &[Times]) {
    let n = times.len().max(1) as f64;
    let mean = |f: fn(&Times) -> f64| times.iter().map(f).sum::<f64>() / n;
    eprintln!(
        "{model}: mean per study: load {:.2} s, lungs {:.2} s, {model} {:.2} s, write {:.2} s",
        mean(|t| t.load),
        mean(|t| t.lungs),
        mean(|t| t.lesions),
        mean(|t| t.write)
    );
}

fn eval(args: &EvalArgs) -> Result<()> {
    let models = if args.models.is_empty() {
        zoo::baselines()
    } else {
        args.models.clone()
    };
    // Checked before minutes of inference.
    let demo_version = if args.write_demo_cache {
        if models != zoo::baselines() {
            anyhow::bail!("--write-demo-cache runs every baseline model: drop --models");
        }
        Some(crate::demo_baselines::demo_version(&args.data)?)
    } else {
        None
    };
    let annotations = scorer::Annotations::load(&args.data.join("annotations"))?;
    let outputs = outputs_for(&models, &args.out)?;
    let report = run_models(
        &args.data.join("images"),
        &args.weights,
        outputs.clone(),
        &args.device,
    )?;
    let mut rows = Vec::new();
    for (m, output) in outputs.iter().enumerate() {
        let (model, out) = (output.model, &output.out);
        summarise(model, &report.times[m]);
        let bar = Bar::new("scoring");
        let evaluation = scorer::score(&annotations, out, &bar);
        bar.finish();
        let scores = evaluation
            .with_context(|| format!("scoring {}", out.display()))?
            .scores;
        let times = &report.times[m];
        let per_study = times
            .iter()
            .map(|t| t.load + t.lungs + t.lesions + t.write)
            .sum::<f64>()
            / times.len().max(1) as f64;
        rows.push((model, scores, per_study));
    }
    print!("{}", table2::render(&rows, &args.weights));
    if let Some(version) = demo_version {
        let dir = crate::demo_baselines::write(&args.weights, &version, &outputs)?;
        eprintln!("wrote the demo's cached baselines to {}", dir.display());
    }
    Ok(())
}

fn train(args: &TrainArgs) -> Result<()> {
    let mut config = zoo::config(args.model);
    if let (Some(steps), Some(recipe)) = (args.steps, config.recipe.as_mut()) {
        recipe.set_steps(steps);
    }
    if let (Some(lr), Some(recipe)) = (args.lr, config.recipe.as_mut()) {
        recipe.set_lr(lr);
    }
    if let (Some(slices), Some(recipe)) = (args.slices, config.recipe.as_mut()) {
        recipe.slices = slices;
    }
    if let (true, Some(recipe)) = (args.augment, config.recipe.as_mut()) {
        recipe.augment = true;
    }
    if let (Some(decay), Some(recipe)) = (args.ema, config.recipe.as_mut()) {
        recipe.ema = Some(decay);
    }
    if let Some(width) = args.width {
        config.set_width(width);
    }
    let device = device::parse(&args.device)?;
    let paths = reference_model::train::TrainPaths {
        train: args.train.clone(),
        val: args.val.clone(),
        weights: args.weights.clone(),
    };
    let options = reference_model::train::TrainOptions {
        resume: args.resume,
        time_limit: args.minutes,
    };
    let record = reference_model::train::train(&config, &paths, &device, &options)?;
    println!(
        "trained {} for {} steps in {:.0} s; kept step {}: {}",
        config.name,
        record.steps,
        record.wall_seconds,
        record.best_step,
        serde_json::to_string(&record.best)?
    );
    Ok(())
}

pub(super) fn outputs_for(models: &[Model], dir: &Path) -> Result<Vec<Output>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(models
        .iter()
        .map(|&model| {
            let ext = zoo::config(model).task.submission_extension();
            Output {
                model,
                out: dir.join(format!("{model}.{ext}")),
                projections: None,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decay_lies_strictly_between_zero_and_one() {
        assert_eq!(decay("0.999"), Ok(0.999));
        for bad in ["0", "1", "1.5", "-0.5", "NaN", "fast"] {
            let err = decay(bad).unwrap_err();
            assert!(err.contains("between 0 and 1"), "{bad}: {err}");
        }
    }

    #[test]
    fn steps_are_a_positive_whole_number() {
        assert_eq!(steps("60"), Ok(60));
        for bad in ["0", "-5", "2.5", "many"] {
            let err = steps(bad).unwrap_err();
            assert!(err.contains("at least 1"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_learning_rate_is_positive_and_finite() {
        assert_eq!(learning_rate("3e-4"), Ok(3e-4));
        for bad in ["0", "-0.001", "inf", "NaN", "fast"] {
            let err = learning_rate(bad).unwrap_err();
            assert!(err.contains("positive number"), "{bad}: {err}");
        }
    }

    #[test]
    fn minutes_are_positive_and_finite() {
        assert_eq!(minutes("2.5"), Ok(Duration::from_secs(150)));
        for bad in ["0", "-1", "inf", "soon"] {
            assert!(minutes(bad).is_err(), "{bad}");
        }
    }
}
