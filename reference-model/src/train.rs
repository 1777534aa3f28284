//! Training on a data folder's `train` split, model selection on its `val` split.
//!
//! Deterministic: parameters are initialised from the recipe's seed (Candle's CPU generator
//! cannot be seeded), and the studies and slices of step `t` come from a generator keyed by
//! `(seed, t)`, so a resumed run draws what an uninterrupted one would have. Checkpoints
//! (`<name>.ckpt.safetensors` and `<name>.ckpt.json`) are written at every validation; Adam's
//! moment estimates are not part of them and restart from zero on resume.

use crate::data::{self, Sample};
use crate::infer::{run_net, slices_tensor};
use crate::nets::{Arch, Dims, Net, blocks::bce_with_logits};
use crate::prep::{Bbox, Stack};
use crate::zoo::{ModelConfig, Optimizer, Task, TrainOn};
use anyhow::{Context, Result, bail};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer as _, ParamsAdamW, SGD, VarBuilder, VarMap};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Validation metrics (each `None` where it does not apply or is undefined).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ValMetrics {
    /// Mean Dice of lesion masks over COVID-19 studies (working grid, ground-truth lungs).
    pub dice: Option<f64>,
    /// ROC AUC against all other studies (probability, else predicted affected percentage).
    pub auc_vs_all: Option<f64>,
    /// Spearman's rho of predicted and true severity over COVID-19 studies.
    pub spearman: Option<f64>,
    /// Mean Dice of both lungs (the lungs model).
    pub lung_dice: Option<f64>,
}

impl ValMetrics {
    /// The number model selection maximises.
    pub fn selection(&self, task: Task) -> f64 {
        let v = match task {
            Task::Lungs => self.lung_dice,
            Task::Lesions => self.dice,
            Task::Classifier => self.auc_vs_all,
            Task::Multitask => self.dice.zip(self.auc_vs_all).map(|(d, a)| (d + a) / 2.0),
            Task::Threshold => None,
        };
        v.unwrap_or(f64::NEG_INFINITY)
    }
}

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

/// What training did: written to `<name>.json` and into the model card.
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
    /// Where it ran.
    pub hardware: String,
    /// Training data.
    pub train: DataRecord,
    /// Validation data.
    pub val: DataRecord,
    /// Trainable parameters.
    pub parameters: usize,
}

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

/// Fills every convolution and linear layer from `seed`: weights LeCun uniform
/// (±√(3 / fan_in), √3 times PyTorch's default bound), biases ±1/√fan_in as PyTorch;
/// batch-norm parameters keep their constants.
fn initialise(map: &VarMap, seed: u64) -> Result<()> {
    let data = map
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("parameter map poisoned"))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for name in names {
        let var = &data[name];
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

/// Copies slices `ks` of `stack`, each cropped to `bbox` and padded to `(w, h)` with 0.
fn gather(stack: &Stack, bbox: &Bbox, ks: &[usize], (w, h): (usize, usize)) -> Stack {
    let mut out = Stack {
        nx: w,
        ny: h,
        nz: 0,
        data: Vec::with_capacity(ks.len() * w * h),
    };
    for &k in ks {
        let one = stack.crop(
            &Bbox {
                z0: k,
                z1: k + 1,
                ..*bbox
            },
            (w, h),
            0.0,
        );
        out.data.extend_from_slice(&one.data);
        out.nz += 1;
    }
    out
}

/// One training example: input slices, segmentation target and weight, class label.
struct Example {
    input: Stack,
    target: Stack,
    segment: bool,
    label: f32,
}

fn full_box(s: &Sample) -> Bbox {
    Bbox {
        x0: 0,
        x1: s.image.nx,
        y0: 0,
        y1: s.image.ny,
        z0: 0,
        z1: s.image.nz,
    }
}

/// Draws step `step`'s example.
fn draw(config: &ModelConfig, pool: &[&Sample], multiple: usize, step: usize) -> Example {
    let recipe = config.recipe.as_ref().expect("a trainable model");
    let mut rng =
        ChaCha8Rng::seed_from_u64(recipe.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // A lesion model that also sees other studies (U-Net+), and the classifier, draw half of
    // their steps from COVID-19 studies: drawn uniformly, two thirds of U-Net+'s steps showed
    // no lesion and it settled on predicting none (validation Dice 0 after 80 steps), and
    // the ResNet, one study per step, did no better than chance in 200 steps.
    let covid: Vec<&Sample> = pool.iter().copied().filter(|s| s.covid()).collect();
    let balanced = matches!(config.task, Task::Lesions | Task::Classifier)
        && !covid.is_empty()
        && covid.len() < pool.len();
    let s = if balanced && rng.random_bool(0.5) {
        covid[rng.random_range(0..covid.len())]
    } else {
        pool[rng.random_range(0..pool.len())]
    };
    let n = recipe.slices;
    let (bbox, ks): (Bbox, Vec<usize>) = match (config.task, &config.arch) {
        (Task::Lungs, _) => {
            let b = full_box(s);
            (b, (0..n).map(|_| rng.random_range(0..s.image.nz)).collect())
        }
        (
            Task::Lesions,
            Some(Arch::Unet {
                dims: Dims::Three, ..
            }),
        ) => {
            let b = s.lung_box;
            let len = (b.z1 - b.z0).min(n);
            let start = b.z0 + rng.random_range(0..=(b.z1 - b.z0 - len));
            (b, (start..start + len).collect())
        }
        (Task::Lesions, _) => {
            let b = s.lung_box;
            (b, (0..n).map(|_| rng.random_range(b.z0..b.z1)).collect())
        }
        _ => {
            let b = s.lung_box;
            let stride = (b.z1 - b.z0).div_ceil(n);
            let offset = rng.random_range(0..stride);
            (b, (b.z0 + offset..b.z1).step_by(stride).collect())
        }
    };
    let padded = bbox.padded(multiple);
    let target = if config.task == Task::Lungs {
        s.lungs()
    } else {
        s.lesions.clone()
    };
    Example {
        input: gather(&s.image, &bbox, &ks, padded),
        target: gather(&target, &bbox, &ks, padded),
        segment: config.task != Task::Multitask || s.covid(),
        label: f32::from(u8::from(s.covid())),
    }
}

/// The loss of one example.
fn loss(net: &Net, ex: &Example, device: &Device) -> Result<Tensor> {
    let x = slices_tensor(&ex.input, 0, ex.input.nz, device)?;
    let out = net.forward_t(&x, true)?;
    let mut total = Tensor::zeros((), DType::F32, device)?;
    if let Some(seg) = out.segmentation.filter(|_| ex.segment) {
        let t = slices_tensor(&ex.target, 0, ex.target.nz, device)?;
        total = (total + bce_with_logits(&seg, &t)?)?;
    }
    if let Some(features) = out.features {
        let logit = net
            .classify(&features.max_keepdim(0)?)?
            .expect("a classifier");
        let y = Tensor::new(&[ex.label], device)?;
        let weight = if net.segments() { 0.1 } else { 1.0 };
        total = (total + (bce_with_logits(&logit, &y)? * weight)?)?;
    }
    Ok(total)
}

/// Predicted affected percentage (larger lung) on the working grid: lesion and lung maps
/// thresholded at 0.5, then [`metrics::affected_percent_of`].
pub fn working_severity(lesions: &Stack, right: &Stack, left: &Stack) -> f64 {
    let labels = right.data.iter().zip(&left.data).map(|(&r, &l)| {
        if r >= 0.5 {
            1
        } else if l >= 0.5 {
            2
        } else {
            0
        }
    });
    metrics::affected_percent_of(labels.zip(lesions.data.iter().map(|&p| p >= 0.5)))
}

/// Validates `net` on `samples` with ground-truth lungs.
pub fn validate(
    config: &ModelConfig,
    net: &Net,
    samples: &[Sample],
    device: &Device,
) -> Result<ValMetrics> {
    let dims = config.arch.as_ref().map_or(Dims::Two, Arch::dims);
    let mut m = ValMetrics::default();
    let (mut dices, mut lung_dices) = (Vec::new(), Vec::new());
    let (mut pos, mut neg, mut sev_true, mut sev_pred) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in samples {
        let bbox = if config.task == Task::Lungs {
            full_box(s)
        } else {
            s.lung_box
        };
        let padded = bbox.padded(net.multiple());
        let run = run_net(net, dims, &s.image.crop(&bbox, padded, 0.0), device)?;
        let dice = |p: &Stack, t: &Stack| {
            let (mut i, mut a, mut b) = (0u64, 0u64, 0u64);
            for (&x, &y) in p.data.iter().zip(&t.data) {
                let (x, y) = (x >= 0.5, y >= 0.5);
                i += u64::from(x && y);
                a += u64::from(x);
                b += u64::from(y);
            }
            metrics::dice(i, a, b)
        };
        let mut score = run.covid;
        if let Some(probs) = &run.probs {
            if config.task == Task::Lungs {
                lung_dices.extend(dice(probs, &s.lungs().crop(&bbox, padded, 0.0)));
                continue;
            }
            let crop = |t: &Stack| t.crop(&bbox, padded, 0.0);
            let predicted = working_severity(probs, &crop(&s.right), &crop(&s.left));
            if s.covid() {
                dices.extend(dice(probs, &crop(&s.lesions)));
                sev_true.push(working_severity(
                    &crop(&s.lesions),
                    &crop(&s.right),
                    &crop(&s.left),
                ));
                sev_pred.push(predicted);
            }
            score = score.or(Some(predicted));
        } else if s.covid() {
            sev_true.push(working_severity(&s.lesions, &s.right, &s.left));
            sev_pred.push(run.covid.unwrap_or(0.0));
        }
        if let Some(v) = score {
            if s.covid() { pos.push(v) } else { neg.push(v) }
        }
    }
    if config.task == Task::Lungs {
        m.lung_dice = metrics::mean(&lung_dices);
        return Ok(m);
    }
    m.dice = metrics::mean(&dices);
    m.auc_vs_all = metrics::roc_auc(&pos, &neg);
    m.spearman = metrics::spearman(&sev_true, &sev_pred);
    Ok(m)
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
    match device {
        Device::Cpu => format!("CPU: {cpu}, {threads} threads"),
        _ => format!("GPU ({device:?}), host {cpu}"),
    }
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

/// Trains `config`, keeping the best validated weights in `paths.weights`; resumes from the
/// checkpoint there when `resume` is set.
pub fn train(
    config: &ModelConfig,
    paths: &TrainPaths,
    device: &Device,
    resume: bool,
) -> Result<Record> {
    let (Some(arch), Some(recipe)) = (&config.arch, &config.recipe) else {
        bail!("{} has nothing to train", config.name);
    };
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
    let val_pool = val;
    let mut map = VarMap::new();
    let net = Net::new(arch, VarBuilder::from_varmap(&map, DType::F32, device))?;
    initialise(&map, recipe.seed)?;
    let ckpt = paths
        .weights
        .join(format!("{}.ckpt.safetensors", config.name));
    let ckpt_json = paths.weights.join(format!("{}.ckpt.json", config.name));
    let mut record = Record {
        steps: 0,
        best_step: 0,
        best: ValMetrics::default(),
        history: Vec::new(),
        wall_seconds: 0.0,
        hardware: hardware(device),
        train: DataRecord {
            folder: paths.train.display().to_string(),
            studies: pool.len(),
            covid: pool.iter().filter(|s| s.covid()).count(),
        },
        val: DataRecord {
            folder: paths.val.display().to_string(),
            studies: val_pool.len(),
            covid: val_pool.iter().filter(|s| s.covid()).count(),
        },
        parameters: trainable(&map).iter().map(|v| v.elem_count()).sum(),
    };
    if resume && ckpt.exists() {
        map.load(&ckpt)
            .with_context(|| format!("cannot load the checkpoint {}", ckpt.display()))?;
        let text = std::fs::read_to_string(&ckpt_json)?;
        record = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a checkpoint record", ckpt_json.display()))?;
    }
    let trainable = trainable(&map);
    enum Opt {
        Adam(AdamW),
        Sgd(SGD),
    }
    let lr_at = |step: usize| match recipe.lr_drop {
        Some((at, lr)) if step >= at => lr,
        _ => recipe.lr,
    };
    let mut opt = match recipe.optimizer {
        Optimizer::Adam => Opt::Adam(AdamW::new(
            trainable,
            ParamsAdamW {
                lr: lr_at(record.steps),
                weight_decay: 0.0,
                ..Default::default()
            },
        )?),
        Optimizer::Sgd => Opt::Sgd(SGD::new(trainable, lr_at(record.steps))?),
    };
    let b = bar(
        recipe.steps as u64,
        &format!(
            "training {} {{bar:30}} {{pos}}/{{len}} steps {{per_sec}} ETA {{eta}} {{msg}}",
            config.name
        ),
    );
    b.set_position(record.steps as u64);
    let started = Instant::now();
    let wall_before = record.wall_seconds;
    let (mut loss_sum, mut loss_n) = (0.0, 0usize);
    let mut best = if record.steps > 0 {
        record.best.selection(config.task)
    } else {
        f64::NEG_INFINITY
    };
    while record.steps < recipe.steps {
        let step = record.steps;
        let ex = draw(config, &pool, net.multiple(), step);
        let l = loss(&net, &ex, device)?;
        let lr = lr_at(step);
        match &mut opt {
            Opt::Adam(o) => {
                o.set_learning_rate(lr);
                o.backward_step(&l)?
            }
            Opt::Sgd(o) => {
                o.set_learning_rate(lr);
                o.backward_step(&l)?
            }
        }
        let lv = f64::from(l.to_scalar::<f32>()?);
        if !lv.is_finite() {
            bail!("{}: the loss became {lv} at step {step}", config.name);
        }
        loss_sum += lv;
        loss_n += 1;
        record.steps += 1;
        b.set_position(record.steps as u64);
        b.set_message(format!("loss {:.4}", loss_sum / loss_n as f64));
        if record.steps.is_multiple_of(recipe.val_every) || record.steps == recipe.steps {
            b.set_message("validating");
            let val = validate(config, &net, &val_pool, device)?;
            let score = val.selection(config.task);
            record.history.push(Checkpoint {
                step: record.steps,
                loss: loss_sum / loss_n.max(1) as f64,
                val: val.clone(),
            });
            if score > best {
                best = score;
                record.best = val;
                record.best_step = record.steps;
                map.save(paths.weights.join(format!("{}.safetensors", config.name)))?;
            }
            record.wall_seconds = wall_before + started.elapsed().as_secs_f64();
            map.save(&ckpt)?;
            std::fs::write(&ckpt_json, serde_json::to_string_pretty(&record)?)?;
            let line = format!(
                "step {:>5}: loss {:.4}, val {}",
                record.steps,
                loss_sum / loss_n.max(1) as f64,
                serde_json::to_string(&record.history.last().expect("just pushed").val)?
            );
            // A hidden bar (no terminal) drops println: the log still gets the line.
            if b.is_hidden() {
                eprintln!("{line}");
            } else {
                b.println(line);
            }
            loss_sum = 0.0;
            loss_n = 0;
        }
    }
    b.finish_and_clear();
    record.wall_seconds = wall_before + started.elapsed().as_secs_f64();
    if record.best_step == 0 {
        map.save(paths.weights.join(format!("{}.safetensors", config.name)))?;
        record.best_step = record.steps;
    }
    let shipped = crate::zoo::Shipped {
        config: config.clone(),
        record: Some(record.clone()),
    };
    std::fs::write(
        paths.weights.join(format!("{}.json", config.name)),
        serde_json::to_string_pretty(&shipped)? + "\n",
    )?;
    std::fs::write(
        paths.weights.join(format!("{}.md", config.name)),
        crate::card::render(&shipped),
    )?;
    let _ = std::fs::remove_file(&ckpt);
    let _ = std::fs::remove_file(&ckpt_json);
    Ok(record)
}

/// The parameters the optimiser updates: all but batch norm's running statistics, which
/// live in the same map.
fn trainable(map: &VarMap) -> Vec<candle_core::Var> {
    let data = map.data().lock().expect("parameter map");
    data.iter()
        .filter(|(name, _)| !name.ends_with("running_mean") && !name.ends_with("running_var"))
        .map(|(_, v)| v.clone())
        .collect()
}
