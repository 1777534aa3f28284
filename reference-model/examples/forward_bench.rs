//! Times Candle's CPU forward pass (or training step) of one reference architecture, for
//! comparison with PyTorch's on the same weights and input (`reference-model/bench/forward.sh`
//! runs both).
//!
//! ```text
//! forward_bench <unet|resnet|multitask> --out OUT.safetensors
//!               (--weights W.safetensors | --save-weights W.safetensors)
//!               [--slices 32] [--size 96] [--warmup 2] [--reps 10] [--seed 2020]
//!               [--mode forward|train] [--conv fast|candle] [--norm fused|candle]
//!               [--device cpu|cuda] [--width N]
//! ```
//!
//! `--conv candle` routes every convolution through Candle's own `conv2d` instead of the
//! pipeline's im2col path (`reference_model::nets::conv`), so both can be timed on one build;
//! `--norm candle` does the same for train-mode batch norm (`reference_model::nets::norm`).
//! `--device cuda` runs on the GPU (a build with the `cuda` feature), where the default
//! convolution of a training step is `conv::conv2d_unfold` and `--conv candle` is Candle's
//! `conv2d` (cuDNN with `cudnn`); every timing then waits for the GPU to finish.
//! `--mode train` times whole training steps instead of forwards: batch statistics, the
//! loss (mean binary cross-entropy of the segmentation logits against `input > 0.5`, plus
//! that of the study logit against 1, weighted 0.1 when the network also segments), the
//! backward pass and an AdamW step (lr 1e-3, no weight decay). The first step's loss is
//! reported, for comparison with PyTorch's on the same weights.
//!
//! The network has the widths of `reference_model::zoo::config(name)`, or `--width`. Its parameters are
//! either loaded from `--weights` (every parameter must be in the file), or drawn from
//! `--seed` and written to `--save-weights` so that PyTorch can load the very same ones.
//! The input is `[slices, 1, size, size]` with element `i` (row-major) equal to
//! `((i * 7919) mod 1000) / 1000`.
//!
//! Prints one JSON object (median, minimum and every timed forward in milliseconds) and
//! writes to `--out` the input (`input`), the segmentation probabilities (`segmentation`,
//! the sigmoid of the logits), the slice features (`features`) and the study probability
//! (`probability`, the sigmoid of `classify` of the features max-pooled over slices), each
//! where the architecture has it.

use anyhow::{Context, Result, bail};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reference_model::nets::Net;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// Built with `--features mimalloc` (as `reference-model/bench/forward.sh` does unless
/// `ALLOC=system`), the benchmark runs on mimalloc, the triageboard binary's allocator,
/// instead of the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator this build runs on, for the report.
fn alloc_name() -> &'static str {
    if cfg!(feature = "mimalloc") {
        "mimalloc"
    } else {
        "system"
    }
}

/// Where the parameters come from.
enum Weights {
    Load(PathBuf),
    SaveRandom(PathBuf),
}

/// The command line.
struct Args {
    name: String,
    out: PathBuf,
    weights: Weights,
    slices: usize,
    size: usize,
    warmup: usize,
    reps: usize,
    seed: u64,
    train: bool,
    device: String,
    width: Option<usize>,
}

const USAGE: &str = "usage: forward_bench <unet|resnet|multitask> --out OUT.safetensors \
                     (--weights W.safetensors | --save-weights W.safetensors) \
                     [--slices 32] [--size 96] [--warmup 2] [--reps 10] [--seed 2020] \
                     [--mode forward|train] [--conv fast|candle] [--norm fused|candle] \
                     [--device cpu|cuda] [--width N]";

fn parse_args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let name = it.next().context(USAGE)?;
    let (mut out, mut load, mut save) = (None, None, None);
    let (mut slices, mut size, mut warmup, mut reps, mut seed) = (32, 96, 2, 10, 2020);
    let mut train = false;
    let (mut device, mut width) = ("cpu".to_owned(), None);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value; {USAGE}"))?;
        let number = || {
            value
                .parse::<usize>()
                .with_context(|| format!("{flag} {value:?} is not a count"))
        };
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(&value)),
            "--weights" => load = Some(PathBuf::from(&value)),
            "--save-weights" => save = Some(PathBuf::from(&value)),
            "--slices" => slices = number()?,
            "--size" => size = number()?,
            "--warmup" => warmup = number()?,
            "--reps" => reps = number()?,
            "--seed" => seed = number()? as u64,
            "--device" => device = value.clone(),
            "--width" => width = Some(number()?),
            "--mode" => {
                train = match value.as_str() {
                    "forward" => false,
                    "train" => true,
                    other => bail!("--mode {other:?}: expected forward or train"),
                }
            }
            "--conv" => match value.as_str() {
                "fast" => reference_model::nets::conv::use_candle_conv(false),
                "candle" => reference_model::nets::conv::use_candle_conv(true),
                other => bail!("--conv {other:?}: expected fast or candle"),
            },
            "--norm" => match value.as_str() {
                "fused" => reference_model::nets::norm::use_candle_batch_norm(false),
                "candle" => reference_model::nets::norm::use_candle_batch_norm(true),
                other => bail!("--norm {other:?}: expected fused or candle"),
            },
            other => bail!("unknown flag {other:?}; {USAGE}"),
        }
    }
    let weights = match (load, save) {
        (Some(path), None) => Weights::Load(path),
        (None, Some(path)) => Weights::SaveRandom(path),
        _ => bail!("give exactly one of --weights and --save-weights; {USAGE}"),
    };
    if reps == 0 {
        bail!("--reps must be at least 1");
    }
    Ok(Args {
        name,
        out: out.context(USAGE)?,
        weights,
        slices,
        size,
        warmup,
        reps,
        seed,
        train,
        device,
        width,
    })
}

/// Draws every parameter from `seed`: convolutions and linear layers with PyTorch's default
/// uniform bounds, and batch norm away from its identity constants (scale, shift and
/// running statistics all random), so that a mistake in the inference-mode batch norm of
/// either implementation cannot hide behind `weight = 1, bias = 0, mean = 0, var = 1`.
fn randomise(map: &VarMap, seed: u64) -> Result<()> {
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
        let weight = data
            .get(&format!("{base}.weight"))
            .filter(|w| w.rank() >= 2);
        let (lo, hi) = match (leaf, weight) {
            ("weight", Some(w)) | ("bias", Some(w)) => {
                let fan_in: usize = w.dims()[1..].iter().product();
                let bound = if leaf == "bias" { 1.0 } else { 3f64.sqrt() } / (fan_in as f64).sqrt();
                (-bound, bound)
            }
            ("weight", None) | ("running_var", _) => (0.5, 1.5),
            ("bias", None) | ("running_mean", _) => (-0.1, 0.1),
            _ => bail!("parameter {name} is neither a layer's nor a batch norm's"),
        };
        let values: Vec<f32> = (0..var.elem_count())
            .map(|_| rng.random_range(lo..hi) as f32)
            .collect();
        var.set(&Tensor::from_vec(values, var.shape(), var.device())?)?;
    }
    Ok(())
}

/// The benchmark input `[n, 1, size, size]`.
fn input(n: usize, size: usize, device: &Device) -> Result<Tensor> {
    let values: Vec<f32> = (0..n * size * size)
        .map(|i| ((i as u64 * 7919) % 1000) as f32 / 1000.0)
        .collect();
    Ok(Tensor::from_vec(values, (n, 1, size, size), device)?)
}

/// The training loss of the bench: see the module docs.
fn train_loss(net: &Net, x: &Tensor) -> Result<Tensor> {
    use reference_model::nets::blocks::bce_with_logits;
    let out = net.forward_t(x, true)?;
    let mut total = Tensor::zeros((), DType::F32, x.device())?;
    if let Some(seg) = &out.segmentation {
        let target = x.gt(0.5)?.to_dtype(DType::F32)?;
        total = (total + bce_with_logits(seg, &target)?)?;
    }
    if let Some(features) = &out.features {
        let logit = net
            .classify(&features.max_keepdim(0)?)?
            .context("a network with features classifies")?;
        let weight = if out.segmentation.is_some() { 0.1 } else { 1.0 };
        let y = Tensor::ones_like(&logit)?;
        total = (total + (bce_with_logits(&logit, &y)? * weight)?)?;
    }
    Ok(total)
}

/// Times `reps` training steps after `warmup` ones; returns the times and the first loss.
fn time_training(net: &Net, map: &VarMap, x: &Tensor, args: &Args) -> Result<(Vec<f64>, f32)> {
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};
    let trainable: Vec<_> = map
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("parameter map poisoned"))?
        .iter()
        .filter(|(name, _)| !name.ends_with("running_mean") && !name.ends_with("running_var"))
        .map(|(_, v)| v.clone())
        .collect();
    let params = ParamsAdamW {
        lr: 1e-3,
        weight_decay: 0.0,
        ..Default::default()
    };
    let mut opt = AdamW::new(trainable, params)?;
    let mut first = None;
    let mut ms = Vec::with_capacity(args.reps);
    for step in 0..args.warmup + args.reps {
        let start = Instant::now();
        let loss = train_loss(net, x)?;
        opt.backward_step(&loss)?;
        x.device().synchronize()?;
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        first.get_or_insert(loss.to_scalar::<f32>()?);
        if step >= args.warmup {
            ms.push(elapsed);
        }
    }
    Ok((ms, first.expect("at least one step")))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let device = reference_model::device::parse(&args.device)?;
    let model: reference_model::zoo::Model = args.name.parse()?;
    let config = reference_model::zoo::config(model);
    let mut arch = config
        .arch
        .with_context(|| format!("{} has no network", args.name))?;
    if let Some(width) = args.width {
        arch.set_width(width);
    }
    let mut map = VarMap::new();
    let net = Net::new(&arch, VarBuilder::from_varmap(&map, DType::F32, &device))?;
    let source = match &args.weights {
        Weights::Load(path) => {
            map.load(path)
                .with_context(|| format!("loading {}", path.display()))?;
            path.display().to_string()
        }
        Weights::SaveRandom(path) => {
            randomise(&map, args.seed)?;
            map.save(path)
                .with_context(|| format!("writing {}", path.display()))?;
            format!("random (seed {})", args.seed)
        }
    };
    if !args.size.is_multiple_of(net.multiple()) {
        bail!(
            "--size {} is not a multiple of {}",
            args.size,
            net.multiple()
        );
    }
    let x = input(args.slices, args.size, &device)?;
    if args.train {
        // PyTorch trains on the same input, read from the same file.
        candle_core::safetensors::save(
            &HashMap::from([("input".to_owned(), x.clone())]),
            &args.out,
        )
        .with_context(|| format!("writing {}", args.out.display()))?;
        let (ms, first_loss) = time_training(&net, &map, &x, &args)?;
        let (median, min) = median_min(&ms);
        let report = serde_json::json!({
            "arch": args.name,
            "arch_config": arch,
            "impl": "candle",
            "device": args.device,
            "mode": "train",
            "conv": conv_name(),
            "norm": norm_name(),
            "alloc": alloc_name(),
            "threads": candle_core::utils::get_num_threads(),
            "input": [args.slices, 1, args.size, args.size],
            "weights": source,
            "warmup": args.warmup,
            "reps": args.reps,
            "first_loss": first_loss,
            "median_ms": median,
            "min_ms": min,
            "all_ms": ms,
        });
        println!("{report}");
        return Ok(());
    }

    for _ in 0..args.warmup {
        net.forward_t(&x, false)?;
    }
    let mut ms = Vec::with_capacity(args.reps);
    for _ in 0..args.reps {
        let start = Instant::now();
        // Candle's CPU backend is eager: the outputs are computed when forward_t returns.
        let out = net.forward_t(&x, false)?;
        device.synchronize()?;
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        drop(out);
    }
    let (median, min) = median_min(&ms);

    let out = net.forward_t(&x, false)?;
    let mut tensors = HashMap::from([("input".to_owned(), x.clone())]);
    if let Some(seg) = &out.segmentation {
        tensors.insert("segmentation".to_owned(), candle_nn::ops::sigmoid(seg)?);
    }
    if let Some(features) = &out.features {
        let logit = net
            .classify(&features.max_keepdim(0)?)?
            .context("a network with features classifies")?;
        tensors.insert("probability".to_owned(), candle_nn::ops::sigmoid(&logit)?);
        tensors.insert("features".to_owned(), features.clone());
    }
    candle_core::safetensors::save(&tensors, &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;

    let report = serde_json::json!({
        "arch": args.name,
        "arch_config": arch,
        "impl": "candle",
        "device": args.device,
        "threads": candle_core::utils::get_num_threads(),
        "avx": candle_core::utils::with_avx(),
        "input": [args.slices, 1, args.size, args.size],
        "weights": source,
        "warmup": args.warmup,
        "reps": args.reps,
        "mode": "forward",
        "conv": conv_name(),
        "norm": norm_name(),
        "alloc": alloc_name(),
        "median_ms": median,
        "min_ms": min,
        "all_ms": ms,
    });
    println!("{report}");
    Ok(())
}

/// Which convolution path this process uses.
fn conv_name() -> &'static str {
    if !reference_model::nets::conv::candle_conv() {
        "fast"
    } else {
        "candle"
    }
}

/// Which train-mode batch norm this process uses.
fn norm_name() -> &'static str {
    if reference_model::nets::norm::fused_path(&Device::Cpu) {
        "fused"
    } else {
        "candle"
    }
}

/// The median and the minimum of `ms` (not empty).
fn median_min(ms: &[f64]) -> (f64, f64) {
    let mut sorted = ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    };
    (median, sorted[0])
}
