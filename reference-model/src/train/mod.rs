//! Training on a data folder's `train` split, model selection on its `val` split.
//!
//! Deterministic: parameters are initialised from the recipe's seed (Candle's CPU generator
//! cannot be seeded), and the studies and slices of step `t` come from a generator keyed by
//! `(seed, t)` (the `sample` module), so a resumed run draws what an uninterrupted one would have.
//! Checkpoints (`<name>.ckpt.safetensors` and `<name>.ckpt.json`) are written at every
//! validation; Adam's moment estimates and the weights' moving average (a recipe's `ema`)
//! are not part of them and restart on resume (the average from the resumed weights).

mod average;
mod loss;
mod record;
mod sample;
mod validate;

pub use loss::MULTITASK_CLS_WEIGHT;
pub use record::{Checkpoint, DataRecord, Record};
pub use validate::{ValMetrics, validate, working_severity};

use crate::data::{self, Sample};
use crate::nets::Net;
use crate::zoo::{ModelConfig, Optimizer, Recipe, TrainOn};
use anyhow::{Context, Result, bail};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer as _, ParamsAdamW, SGD, VarBuilder, VarMap};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where training reads and writes.
#[derive(Clone, Debug)]
pub struct TrainPaths {
    /// Folder of the train split (images and annotations).
    pub train: PathBuf,
    /// Folder of the validation split.
    pub val: PathBuf,
    /// Folder the weights, config and card go to.
    pub weights: PathBuf,
}

/// How a run goes, besides its recipe.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Continue from the checkpoint in the weights folder.
    pub resume: bool,
    /// Stop once training has run this long (this run's time, not a resumed run's earlier
    /// part), after one more validation: the record then has fewer steps than the recipe
    /// and says why.
    pub time_limit: Option<Duration>,
}

/// Fills every convolution and linear layer from `seed`: weights LeCun uniform
/// (±√(3 / fan_in), √3 times PyTorch's default bound), biases ±1/√fan_in as PyTorch;
/// batch-norm parameters keep their constants.
fn initialise(map: &VarMap, seed: u64) -> Result<()> {
    let data: std::collections::BTreeMap<String, candle_core::Var> =
        named_vars(map)?.into_iter().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (name, var) in &data {
        let (base, leaf) = name.rsplit_once('.').unwrap_or(("", name));
        let weight = if leaf == "bias" {
            data.get(&format!("{base}.weight"))
        } else {
            Some(var)
        };
        let Some(weight) = weight.filter(|w| w.rank() >= 2) else {
            continue;
        };
        let fan_in: usize = weight.dims()[1..].iter().product();
        let bound = if leaf == "bias" { 1.0 } else { 3f64.sqrt() } / (fan_in as f64).sqrt();
        let values: Vec<f32> = (0..var.elem_count())
            .map(|_| rng.random_range(-bound..bound) as f32)
            .collect();
        var.set(&Tensor::from_vec(values, var.shape(), var.device())?)?;
    }
    Ok(())
}

/// Every variable of `map` (batch norm's running statistics included) with its name, in
/// name order.
fn named_vars(map: &VarMap) -> Result<Vec<(String, candle_core::Var)>> {
    let data = map
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("parameter map poisoned"))?;
    let mut vars: Vec<_> = data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(vars)
}

/// The machine, for model cards.
pub fn hardware(device: &Device) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    match device.location() {
        candle_core::DeviceLocation::Cpu => format!("CPU: {cpu}, {threads} threads"),
        candle_core::DeviceLocation::Cuda { gpu_id } => {
            format!("GPU cuda:{gpu_id} ({}), host {cpu}", gpu_name(device))
        }
        other => format!("{other:?}, host {cpu}"),
    }
}

/// The GPU's name as its driver gives it.
#[cfg(feature = "cuda")]
fn gpu_name(device: &Device) -> String {
    match device {
        Device::Cuda(d) => d
            .cuda_stream()
            .context()
            .name()
            .unwrap_or_else(|e| format!("name unknown: {e}")),
        _ => "not a CUDA device".to_owned(),
    }
}

#[cfg(not(feature = "cuda"))]
fn gpu_name(_: &Device) -> String {
    "built without CUDA".to_owned()
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Loads a split with a progress bar.
pub fn load_split(dir: &Path, spacing: f64, what: &str) -> Result<Vec<Sample>> {
    let labels = data::read_labels(&dir.join("annotations"))?;
    let b = bar(
        labels.len() as u64,
        &format!("loading {what} {{bar:30}} {{pos}}/{{len}} studies"),
    );
    let samples = data::load_samples(dir, &labels, spacing, &|| b.inc(1))?;
    b.finish_and_clear();
    Ok(samples)
}

/// The optimiser of a recipe.
enum Opt {
    Adam(AdamW),
    Sgd(SGD),
}

impl Opt {
    fn new(recipe: &Recipe, vars: Vec<candle_core::Var>, lr: f64) -> Result<Self> {
        Ok(match recipe.optimizer {
            Optimizer::Adam => Self::Adam(AdamW::new(
                vars,
                ParamsAdamW {
                    lr,
                    weight_decay: 0.0,
                    ..Default::default()
                },
            )?),
            Optimizer::Sgd => Self::Sgd(SGD::new(vars, lr)?),
        })
    }

    fn step(&mut self, loss: &Tensor, lr: f64) -> Result<()> {
        match self {
            Self::Adam(o) => {
                o.set_learning_rate(lr);
                o.backward_step(loss)?
            }
            Self::Sgd(o) => {
                o.set_learning_rate(lr);
                o.backward_step(loss)?
            }
        }
        Ok(())
    }
}

/// The learning rate of `recipe` at `step`.
fn lr_at(recipe: &Recipe, step: usize) -> f64 {
    match recipe.lr_drop {
        Some((at, lr)) if step >= at => lr,
        _ => recipe.lr,
    }
}

fn data_record(folder: &Path, studies: &[&Sample]) -> DataRecord {
    DataRecord {
        folder: folder.display().to_string(),
        studies: studies.len(),
        covid: studies.iter().filter(|s| s.covid()).count(),
    }
}

/// A model being trained: its weights, where they go, and the record so far.
struct Run<'a> {
    config: &'a ModelConfig,
    paths: &'a TrainPaths,
    map: VarMap,
    net: Net,
    record: Record,
    /// Selection score of the kept weights.
    best: f64,
    /// The weights' moving average, which validation scores and the kept weights are.
    average: Option<average::Average>,
}

impl Run<'_> {
    fn file(&self, suffix: &str) -> PathBuf {
        self.paths
            .weights
            .join(format!("{}{suffix}", self.config.name))
    }

    /// Validates the weights (their moving average if the recipe keeps one), keeps them if
    /// they are the best so far and returns the log line.
    fn validate(&mut self, val: &[Sample], device: &Device, loss: f64) -> Result<String> {
        if let Some(a) = &mut self.average {
            a.swap()?;
        }
        let line = self.validate_current(val, device, loss);
        if let Some(a) = &mut self.average {
            a.swap()?;
        }
        line
    }

    fn validate_current(&mut self, val: &[Sample], device: &Device, loss: f64) -> Result<String> {
        let started = Instant::now();
        let metrics = validate(self.config, &self.net, val, device)?;
        *self.record.val_seconds.get_or_insert(0.0) += started.elapsed().as_secs_f64();
        let score = metrics.selection(self.config.task);
        let line = format!(
            "step {:>5}: loss {loss:.4}, val {}",
            self.record.steps,
            serde_json::to_string(&metrics)?
        );
        self.record.history.push(Checkpoint {
            step: self.record.steps,
            loss,
            val: metrics.clone(),
        });
        if score > self.best {
            self.best = score;
            self.record.best = metrics;
            self.record.best_step = self.record.steps;
            self.map.save(self.file(".safetensors"))?;
        }
        Ok(line)
    }

    fn checkpoint(&self) -> Result<()> {
        self.map.save(self.file(".ckpt.safetensors"))?;
        std::fs::write(
            self.file(".ckpt.json"),
            serde_json::to_string_pretty(&self.record)?,
        )?;
        Ok(())
    }

    /// Writes the config, record and card beside the kept weights and drops the checkpoint.
    fn finish(mut self) -> Result<Record> {
        if self.record.best_step == 0 {
            self.map.save(self.file(".safetensors"))?;
            self.record.best_step = self.record.steps;
        }
        let shipped = crate::zoo::Shipped {
            config: self.config.clone(),
            record: Some(self.record.clone()),
        };
        std::fs::write(
            self.file(".json"),
            serde_json::to_string_pretty(&shipped)? + "\n",
        )?;
        std::fs::write(self.file(".md"), crate::card::render(&shipped))?;
        let _ = std::fs::remove_file(self.file(".ckpt.safetensors"));
        let _ = std::fs::remove_file(self.file(".ckpt.json"));
        Ok(self.record)
    }
}

/// Trains `config`, keeping the best validated weights in `paths.weights`; resumes from the
/// checkpoint there when `options.resume` is set.
pub fn train(
    config: &ModelConfig,
    paths: &TrainPaths,
    device: &Device,
    options: &TrainOptions,
) -> Result<Record> {
    let (Some(arch), Some(recipe)) = (&config.arch, &config.recipe) else {
        bail!("{} has nothing to train", config.name);
    };
    if recipe.studies > 1
        && !matches!(
            config.task,
            crate::zoo::Task::Classifier | crate::zoo::Task::Multitask
        )
    {
        bail!(
            "{}: several studies a step is for the models with a classification head only",
            config.name
        );
    }
    std::fs::create_dir_all(&paths.weights)
        .with_context(|| format!("cannot create {}", paths.weights.display()))?;
    let train = load_split(&paths.train, config.spacing_mm, "train")?;
    let val = load_split(&paths.val, config.spacing_mm, "val")?;
    let pool: Vec<&Sample> = train
        .iter()
        .filter(|s| recipe.train_on == TrainOn::All || s.covid())
        .collect();
    if pool.is_empty() {
        bail!(
            "{} holds no studies to train {} on",
            paths.train.display(),
            config.name
        );
    }
    let covid_weights = if recipe.grade_matched {
        let target: Vec<&Sample> = val.iter().collect();
        let weights = sample::grade_matched(&pool, &target).with_context(|| {
            format!(
                "{}: the recipe draws COVID-19 studies by the validation split's CT1-CT4 mix, \
                 and {} and {} have no COVID-19 grade in common",
                config.name,
                paths.train.display(),
                paths.val.display()
            )
        })?;
        Some(weights)
    } else {
        None
    };
    let map = VarMap::new();
    let net = Net::new(arch, VarBuilder::from_varmap(&map, DType::F32, device))?;
    initialise(&map, recipe.seed)?;
    let record = Record {
        steps: 0,
        best_step: 0,
        best: ValMetrics::default(),
        history: Vec::new(),
        wall_seconds: 0.0,
        val_seconds: Some(0.0),
        hardware: hardware(device),
        train: data_record(&paths.train, &pool),
        val: data_record(&paths.val, &val.iter().collect::<Vec<_>>()),
        parameters: trainable(&map)?.iter().map(|v| v.elem_count()).sum(),
        time_limit_seconds: None,
    };
    let mut run = Run {
        config,
        paths,
        map,
        net,
        record,
        best: f64::NEG_INFINITY,
        average: None,
    };
    let ckpt = run.file(".ckpt.safetensors");
    if options.resume && ckpt.exists() {
        run.map
            .load(&ckpt)
            .with_context(|| format!("cannot load the checkpoint {}", ckpt.display()))?;
        let json = run.file(".ckpt.json");
        let text = std::fs::read_to_string(&json)?;
        run.record = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a checkpoint record", json.display()))?;
        if run.record.steps > 0 {
            run.best = run.record.best.selection(config.task);
        }
        // A run that stopped at a limit is finished; this one sets its own.
        run.record.time_limit_seconds = None;
    }
    if let Some(decay) = recipe.ema {
        run.average = Some(average::Average::new(&run.map, decay)?);
    }
    let mut opt = Opt::new(
        recipe,
        trainable(&run.map)?,
        lr_at(recipe, run.record.steps),
    )?;
    let b = bar(
        recipe.steps as u64,
        &format!(
            "training {} {{bar:30}} {{pos}}/{{len}} steps {{per_sec}} ETA {{eta}} {{msg}}",
            config.name
        ),
    );
    b.set_position(run.record.steps as u64);
    let started = Instant::now();
    let wall_before = run.record.wall_seconds;
    let (mut loss_sum, mut loss_n) = (0.0, 0usize);
    while run.record.steps < recipe.steps {
        let step = run.record.steps;
        let ex = sample::draw(
            config,
            &pool,
            covid_weights.as_ref(),
            run.net.multiple(),
            step,
        );
        let l = loss::loss(&run.net, &ex, device)?;
        opt.step(&l, lr_at(recipe, step))?;
        if let Some(a) = &mut run.average {
            a.update()?;
        }
        let lv = f64::from(l.to_scalar::<f32>()?);
        if !lv.is_finite() {
            bail!("{}: the loss became {lv} at step {step}", config.name);
        }
        loss_sum += lv;
        loss_n += 1;
        run.record.steps += 1;
        b.set_position(run.record.steps as u64);
        b.set_message(format!("loss {:.4}", loss_sum / loss_n as f64));
        let out_of_time = options
            .time_limit
            .filter(|limit| started.elapsed() >= *limit && run.record.steps < recipe.steps);
        if let Some(limit) = out_of_time {
            run.record.time_limit_seconds = Some(limit.as_secs_f64());
        }
        if run.record.steps.is_multiple_of(recipe.val_every)
            || run.record.steps == recipe.steps
            || out_of_time.is_some()
        {
            b.set_message("validating");
            let line = run.validate(&val, device, loss_sum / loss_n.max(1) as f64)?;
            run.record.wall_seconds = wall_before + started.elapsed().as_secs_f64();
            run.checkpoint()?;
            // A hidden bar (no terminal) drops println: the log still gets the line.
            if b.is_hidden() {
                eprintln!("{line}");
            } else {
                b.println(line);
            }
            loss_sum = 0.0;
            loss_n = 0;
        }
        if out_of_time.is_some() {
            break;
        }
    }
    b.finish_and_clear();
    run.record.wall_seconds = wall_before + started.elapsed().as_secs_f64();
    run.finish()
}

/// The parameters the optimiser updates: all but batch norm's running statistics, which
/// live in the same map.
fn trainable(map: &VarMap) -> Result<Vec<candle_core::Var>> {
    Ok(named_vars(map)?
        .into_iter()
        .filter(|(name, _)| !name.ends_with("running_mean") && !name.ends_with("running_var"))
        .map(|(_, v)| v)
        .collect())
}
