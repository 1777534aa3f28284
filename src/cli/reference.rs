//! `triageboard reference ...`: train, run and evaluate the reference models.

use super::progress::Bar;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use reference_model::pipeline::Times;
use reference_model::predict::{Output, PredictOptions, PredictReport};
use reference_model::{device, zoo};
use std::path::{Path, PathBuf};

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
    server: String,
    /// An organizer's API token.
    #[arg(long, env = "TRIAGEBOARD_TOKEN", hide_env_values = true)]
    token: String,
    /// Folder of the test images (the ones the server publishes).
    #[arg(long)]
    images: PathBuf,
    /// Folder of shipped weights.
    #[arg(long, default_value = "reference-model/weights")]
    weights: PathBuf,
    /// Where the submissions are written before upload.
    #[arg(long, default_value = "target/reference-baselines")]
    out: PathBuf,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// `reference predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Folder of `<study_id>.nii.gz` images.
    #[arg(long)]
    images: PathBuf,
    /// Model: threshold, unet, unet-plus, unet3d, resnet, multitask.
    #[arg(long)]
    model: String,
    /// Submission to write: a zip of masks and predictions.csv (a csv for resnet).
    #[arg(long)]
    out: PathBuf,
    /// Folder of shipped weights.
    #[arg(long, default_value = "reference-model/weights")]
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
    #[arg(long, default_value = "reference-model/weights")]
    weights: PathBuf,
    /// Where the submissions go.
    #[arg(long, default_value = "target/reference-eval")]
    out: PathBuf,
    /// Models to run (default: all six lesion and classification models).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// `reference train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Model to train (lungs, unet, unet-plus, unet3d, resnet, multitask).
    #[arg(long)]
    model: String,
    /// Train split folder (`dataset synth --split train`).
    #[arg(long, default_value = "data/train")]
    train: PathBuf,
    /// Validation split folder (`dataset synth --split val`).
    #[arg(long, default_value = "data/val")]
    val: PathBuf,
    /// Where weights, config and model card go.
    #[arg(long, default_value = "reference-model/weights")]
    weights: PathBuf,
    /// Override the recipe's number of steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Continue from the checkpoint in the weights folder.
    #[arg(long)]
    resume: bool,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Runs a `reference` subcommand.
pub fn run(command: ReferenceCommand) -> Result<()> {
    match command {
        ReferenceCommand::Train(args) => train(&args),
        ReferenceCommand::Predict(args) => predict(&args),
        ReferenceCommand::Eval(args) => eval(&args),
        ReferenceCommand::Baselines(args) => baselines(&args),
    }
}

fn predict(args: &PredictArgs) -> Result<()> {
    let outputs = vec![Output {
        model: args.model.clone(),
        out: args.out.clone(),
        projections: args.projections.clone(),
    }];
    let report = run_models(&args.images, &args.weights, outputs, &args.device)?;
    summarise(&args.model, &report.times[0]);
    if let Some(path) = &args.times {
        std::fs::write(path, serde_json::to_string_pretty(&report.times[0])?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!("wrote {} ({} studies)", args.out.display(), report.studies);
    Ok(())
}

/// Runs models with a progress bar.
fn run_models(
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

fn summarise(model: &str, times: &[Times]) {
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
    let models: Vec<String> = if args.models.is_empty() {
        zoo::baselines()
    } else {
        args.models.clone()
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
        let (model, out) = (&output.model, &output.out);
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
        rows.push((model.clone(), scores, per_study));
    }
    print!("{}", table2(&rows));
    Ok(())
}

/// The paper's Table 2 layout for our models, with the paper's figures beside ours and the
/// pattern checks of the paper's section 5.
fn table2(rows: &[(String, scorer::Scores, f64)]) -> String {
    use std::fmt::Write as _;
    let cat = |s: &scorer::Scores, c: &str| {
        s.auc_vs_category
            .iter()
            .find(|(k, _)| k == c)
            .and_then(|(_, m)| m.value)
    };
    let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"));
    let ci = |m: &scorer::Metric| match (m.value, m.ci) {
        (Some(v), Some([lo, hi])) => format!("{v:.3} [{lo:.2}, {hi:.2}]"),
        (v, _) => f(v),
    };
    let mut out = String::from(
        "| model | AUC vs normal | AUC vs all [95% CI] | AUC vs pneumonia | AUC vs nodules | Spearman [95% CI] | Dice [95% CI] | s/study |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (name, s, t) in rows {
        let title = zoo::config(name)
            .map(|c| c.title)
            .unwrap_or_else(|_| name.clone());
        let _ = writeln!(
            out,
            "| {title} | {} | {} | {} | {} | {} | {} | {t:.2} |",
            f(cat(s, "normal")),
            ci(&s.auc_vs_all),
            f(cat(s, "pneumonia")),
            f(cat(s, "nodules")),
            ci(&s.spearman),
            ci(&s.dice)
        );
    }
    let get = |n: &str| rows.iter().find(|(m, _, _)| m == n).map(|(_, s, _)| s);
    let mut checks = Vec::new();
    if let (Some(th), Some(mt)) = (get("threshold"), get("multitask")) {
        checks.push((
            "thresholding is weaker than the multitask model at identification (AUC vs all)",
            th.auc_vs_all.value < mt.auc_vs_all.value,
        ));
    }
    for unet in ["unet", "unet3d"] {
        if let (Some(u), Some(mt)) = (get(unet), get("multitask")) {
            checks.push((
                if unet == "unet" {
                    "the 2D U-Net is weaker than the multitask model against pneumonia"
                } else {
                    "the 3D U-Net is weaker than the multitask model against pneumonia"
                },
                cat(u, "pneumonia") < cat(mt, "pneumonia"),
            ));
        }
    }
    if let (Some(r), Some(mt)) = (get("resnet"), get("multitask")) {
        checks.push((
            "ResNet ranks severity worse than the multitask model (Spearman)",
            r.spearman.value < mt.spearman.value,
        ));
    }
    if let Some(mt) = get("multitask") {
        let strong = mt.auc_vs_all.value.is_some_and(|v| v >= 0.9)
            && mt.spearman.value.is_some_and(|v| v >= 0.8);
        checks.push((
            "the multitask model is strong at both (AUC vs all >= 0.9 and Spearman >= 0.8)",
            strong,
        ));
    }
    out.push_str("\nThe paper's pattern (section 5):\n\n");
    for (what, ok) in checks {
        let _ = writeln!(out, "- [{}] {what}", if ok { "x" } else { " " });
    }
    out
}

fn train(args: &TrainArgs) -> Result<()> {
    let mut config = zoo::config(&args.model)?;
    if let (Some(steps), Some(recipe)) = (args.steps, config.recipe.as_mut()) {
        recipe.steps = steps;
        recipe.val_every = recipe.val_every.min(steps).max(1);
    }
    let device = device::parse(&args.device)?;
    let paths = reference_model::train::TrainPaths {
        train: args.train.clone(),
        val: args.val.clone(),
        weights: args.weights.clone(),
    };
    let record = reference_model::train::train(&config, &paths, &device, args.resume)?;
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

fn outputs_for(models: &[String], dir: &Path) -> Result<Vec<Output>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    models
        .iter()
        .map(|model| {
            let ext = zoo::config(model)?.task.submission_extension();
            Ok(Output {
                model: model.clone(),
                out: dir.join(format!("{model}.{ext}")),
                projections: None,
            })
        })
        .collect()
}

fn baselines(args: &BaselinesArgs) -> Result<()> {
    let models: Vec<String> = zoo::baselines();
    let outputs = outputs_for(&models, &args.out)?;
    let runtime = super::serve::runtime()?;
    let server = args.server.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .user_agent(concat!("triageboard-reference/", env!("CARGO_PKG_VERSION")))
        .build()?;
    // Before minutes of inference: is the server there, and is the token an organizer's?
    runtime.block_on(async {
        let me = client
            .get(format!("{server}/api/v1/me"))
            .bearer_auth(&args.token)
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?;
        let status = me.status();
        let body: serde_json::Value = me.json().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!("{server} refused the token ({status}): {}", body["error"].as_str().unwrap_or("no reason given"));
        }
        if body["role"] != "organizer" {
            anyhow::bail!("the token belongs to {}, who is not an organizer: baselines need an organizer's token", body["name"]);
        }
        Ok(())
    })?;
    run_models(&args.images, &args.weights, outputs.clone(), &args.device)?;
    runtime.block_on(async {
        for output in &outputs {
            // The same entry as the server's own run: a final baseline naming its model.
            let entry = crate::baselines::entry(&output.model)?;
            let bytes = tokio::fs::read(&output.out).await?;
            let name = output
                .out
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let form = reqwest::multipart::Form::new()
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes).file_name(name),
                )
                .text("method", entry.method)
                .text("description", entry.description)
                .text("reference_model", output.model.clone());
            let response = client
                .post(format!("{server}/api/v1/submissions"))
                .bearer_auth(&args.token)
                .multipart(form)
                .send()
                .await
                .with_context(|| format!("uploading {} to {server}", output.out.display()))?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if status != reqwest::StatusCode::ACCEPTED {
                anyhow::bail!(
                    "{server} refused the {} baseline ({status}): {}",
                    output.model,
                    body["error"].as_str().unwrap_or("no reason given")
                );
            }
            let id = body["id"]
                .as_i64()
                .context("the server's answer has no submission id")?;
            eprintln!(
                "{}: submission {id}, entered as a final baseline",
                output.model
            );
        }
        Ok(())
    })
}
