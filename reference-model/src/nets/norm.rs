//! Train-mode batch norm as one CPU operation with its own backward pass.
//!
//! Why: Candle 0.11's `BatchNorm::forward_train` is a dozen tensor operations (a transposed
//! copy, two means, broadcast subtract, square, divide, multiply and add, and a transpose
//! back that the next convolution copies again), each a pass over the feature map into a
//! fresh buffer, and as many again in the backward pass. Here the forward is two passes
//! (the statistics, then the affine map) and the backward two (the sums, then the input's
//! gradient), with the per-channel work spread over rayon's threads.
//!
//! For `y = gamma x_hat + beta`, `x_hat = (x - mean) / sqrt(var + eps)`, with the mean and
//! the biased variance over the `m` values of each channel (every axis but the second):
//! `d_beta = sum g`, `d_gamma = sum g x_hat`,
//! `d_x = gamma / sqrt(var + eps) / m (m g - d_beta - x_hat d_gamma)`.
//! The running statistics are updated as PyTorch and Candle do (unbiased variance, the
//! layer's momentum). Written against Candle's public `CustomOp3`, so it could go upstream
//! as the CPU path of `BatchNorm::forward_train`; other devices keep Candle's.

use super::conv::f32_slice;
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor, Var};
use candle_nn::{BatchNorm, ModuleT};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Whether [`forward_train`] hands every batch norm to Candle's (for benchmarks).
static CANDLE_NORM: AtomicBool = AtomicBool::new(false);

/// Routes every train-mode batch norm of this process through Candle's `forward_train`
/// (`true`) or this module's (`false`, the default), so a benchmark can time both.
pub fn use_candle_batch_norm(on: bool) {
    CANDLE_NORM.store(on, Ordering::Relaxed);
}

/// Whether train-mode batch norms on `device` take this module's path.
pub fn fused_path(device: &candle_core::Device) -> bool {
    device.is_cpu() && !CANDLE_NORM.load(Ordering::Relaxed)
}

/// The train-mode output of `bn` on `x` (`[n, c, ...]`), updating its running statistics:
/// this module's fused operation for contiguous f32 on the CPU with an affine layer,
/// Candle's otherwise.
pub fn forward_train(bn: &BatchNorm, x: &Tensor) -> Result<Tensor> {
    let Some((gamma, beta)) = bn.weight_and_bias() else {
        return bn.forward_t(x, true);
    };
    if !fused_path(x.device()) || x.dtype() != DType::F32 || x.rank() < 2 {
        return bn.forward_t(x, true);
    }
    let x = x.contiguous()?;
    let stats = Arc::new(Mutex::new(None));
    let y = x.apply_op3(
        gamma,
        beta,
        FusedBatchNorm {
            eps: bn.eps(),
            stats: Arc::clone(&stats),
        },
    )?;
    let Some(Stats { mean, var, m, .. }) = stats.lock().expect("not poisoned").clone() else {
        candle_core::bail!("batch norm: the forward pass left no statistics");
    };
    // The running estimate takes the unbiased variance, as PyTorch's.
    let unbiased = m as f32 / (m.max(2) - 1) as f32;
    let var: Vec<f32> = var.iter().map(|v| v * unbiased).collect();
    let momentum = bn.momentum();
    let update = |running: &Tensor, batch: Vec<f32>| -> Result<()> {
        let batch = Tensor::from_vec(batch, running.shape(), running.device())?;
        let next = ((running.detach() * (1.0 - momentum))? + (batch * momentum)?)?;
        Var::from_tensor(running)?.set(&next)
    };
    update(bn.running_mean(), mean)?;
    update(bn.running_var(), var)?;
    Ok(y)
}

/// A forward pass's per-channel statistics: mean, biased variance, `1 / sqrt(var + eps)`,
/// and the number of values per channel.
#[derive(Clone, Debug)]
struct Stats {
    mean: Vec<f32>,
    var: Vec<f32>,
    inv_std: Vec<f32>,
    m: usize,
}

/// `(x, gamma, beta) -> gamma x_hat + beta`; keeps the statistics for [`forward_train`] and
/// for its own backward pass.
struct FusedBatchNorm {
    eps: f64,
    stats: Arc<Mutex<Option<Stats>>>,
}

/// `(n, c, plane)` of a `[n, c, ...]` shape.
fn split(shape: &Shape) -> (usize, usize, usize) {
    let dims = shape.dims();
    (dims[0], dims[1], dims[2..].iter().product())
}

/// The values of channel `ch` of `x` (`[n, c, plane]`), image by image.
fn channel(
    x: &[f32],
    (n, c, plane): (usize, usize, usize),
    ch: usize,
) -> impl Iterator<Item = &[f32]> {
    (0..n).map(move |i| &x[(i * c + ch) * plane..(i * c + ch + 1) * plane])
}

/// Writes `f(channel, value)` into every element of `out` (`[n, c, plane]`).
fn map_channels(
    out: &mut [f32],
    (_, c, plane): (usize, usize, usize),
    f: impl Fn(usize, usize) -> f32 + Sync,
) {
    out.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(row, dst)| {
            let ch = row % c;
            let at = row * plane;
            dst.iter_mut()
                .enumerate()
                .for_each(|(k, v)| *v = f(ch, at + k));
        });
}

impl CustomOp3 for FusedBatchNorm {
    fn name(&self) -> &'static str {
        "fused-batch-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "batch norm")?;
        let (gamma, beta) = (
            f32_slice(s2, l2, "batch norm")?,
            f32_slice(s3, l3, "batch norm")?,
        );
        let dims = split(l1.shape());
        let (n, c, plane) = dims;
        if gamma.len() != c || beta.len() != c {
            candle_core::bail!("batch norm: {c} channels but {} weights", gamma.len());
        }
        let m = n * plane;
        // Two passes in f64 per channel: the mean, then the squared deviations from it.
        let (mean, var): (Vec<f64>, Vec<f64>) = (0..c)
            .into_par_iter()
            .map(|ch| {
                let sum: f64 = channel(x, dims, ch)
                    .map(|r| r.iter().map(|&v| f64::from(v)).sum::<f64>())
                    .sum();
                let mean = sum / m as f64;
                let sq: f64 = channel(x, dims, ch)
                    .map(|r| {
                        r.iter()
                            .map(|&v| (f64::from(v) - mean).powi(2))
                            .sum::<f64>()
                    })
                    .sum();
                (mean, sq / m as f64)
            })
            .unzip();
        let inv_std: Vec<f32> = var
            .iter()
            .map(|v| (1.0 / (v + self.eps).sqrt()) as f32)
            .collect();
        let mean: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
        let var: Vec<f32> = var.iter().map(|&v| v as f32).collect();
        let mut y = vec![0f32; x.len()];
        map_channels(&mut y, dims, |ch, i| {
            (x[i] - mean[ch]) * inv_std[ch] * gamma[ch] + beta[ch]
        });
        *self.stats.lock().expect("not poisoned") = Some(Stats {
            mean,
            var,
            inv_std,
            m,
        });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Some(Stats {
            mean, inv_std, m, ..
        }) = self.stats.lock().expect("not poisoned").clone()
        else {
            candle_core::bail!("batch norm: backward before forward");
        };
        let dims = split(x.shape());
        let c = dims.1;
        let (x, grad) = (x.contiguous()?, grad.contiguous()?);
        let (x_storage, x_layout) = x.storage_and_layout();
        let (g_storage, g_layout) = grad.storage_and_layout();
        let (Storage::Cpu(x_cpu), Storage::Cpu(g_cpu)) = (&*x_storage, &*g_storage) else {
            candle_core::bail!("batch norm: the fused backward runs on the CPU only");
        };
        let xs = f32_slice(x_cpu, x_layout, "batch norm")?;
        let g = f32_slice(g_cpu, g_layout, "batch norm")?;
        let gam: Vec<f32> = gamma.to_vec1()?;
        let x_hat = |ch: usize, v: f32| (v - mean[ch]) * inv_std[ch];
        let (d_beta, d_gamma): (Vec<f32>, Vec<f32>) = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut db, mut dg) = (0f64, 0f64);
                for (xr, gr) in channel(xs, dims, ch).zip(channel(g, dims, ch)) {
                    for (&v, &gv) in xr.iter().zip(gr) {
                        db += f64::from(gv);
                        dg += f64::from(gv) * f64::from(x_hat(ch, v));
                    }
                }
                (db as f32, dg as f32)
            })
            .unzip();
        let mf = m as f32;
        let mut dx = vec![0f32; xs.len()];
        map_channels(&mut dx, dims, |ch, i| {
            gam[ch] * inv_std[ch] / mf * (mf * g[i] - d_beta[ch] - x_hat(ch, xs[i]) * d_gamma[ch])
        });
        let device = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), device)?),
            Some(Tensor::from_vec(d_gamma, c, device)?),
            Some(Tensor::from_vec(d_beta, c, device)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::{BatchNormConfig, VarBuilder, VarMap};

    fn layer(map: &VarMap, c: usize) -> Result<BatchNorm> {
        let vb = VarBuilder::from_varmap(map, DType::F32, &Device::Cpu);
        let config = BatchNormConfig {
            momentum: 0.1,
            ..Default::default()
        };
        candle_nn::batch_norm(c, config, vb)
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>())
            .expect("same shapes")
    }

    /// The fused layer and Candle's agree on outputs, running statistics and the gradients
    /// of a loss that weighs every output differently, for 2D and 3D feature maps.
    #[test]
    fn the_fused_batch_norm_matches_candles_outputs_statistics_and_gradients() -> Result<()> {
        let dev = Device::Cpu;
        for shape in [vec![3, 4, 5, 7], vec![2, 3, 4, 3, 5]] {
            let c = shape[1];
            let x = (Tensor::randn(0f32, 2.0, shape.as_slice(), &dev)? + 0.7)?;
            let w = Tensor::randn(0f32, 1.0, shape.as_slice(), &dev)?;
            let mut results = Vec::new();
            for fused in [false, true] {
                let map = VarMap::new();
                let bn = layer(&map, c)?;
                // Weights other than 1 and 0, the same for both layers.
                let (gamma, beta) = bn.weight_and_bias().expect("affine");
                let ramp = Tensor::arange(0u32, c as u32, &dev)?.to_dtype(DType::F32)?;
                Var::from_tensor(gamma)?.set(&ramp.affine(0.3, 0.5)?)?;
                Var::from_tensor(beta)?.set(&ramp.affine(0.1, -0.2)?)?;
                let xv = Var::from_tensor(&x)?;
                let y = if fused {
                    forward_train(&bn, xv.as_tensor())?
                } else {
                    bn.forward_t(xv.as_tensor(), true)?
                };
                let grads = (&y * &w)?.sum_all()?.backward()?;
                let get = |t: &Tensor| grads.get(t).expect("a gradient").clone();
                results.push((
                    y.clone(),
                    bn.running_mean().clone(),
                    bn.running_var().clone(),
                    get(xv.as_tensor()),
                    get(gamma),
                    get(beta),
                ));
            }
            let (a, b) = (&results[0], &results[1]);
            assert!(max_diff(&a.0, &b.0) < 1e-5, "outputs {shape:?}");
            assert!(max_diff(&a.1, &b.1) < 1e-5, "running mean {shape:?}");
            assert!(max_diff(&a.2, &b.2) < 1e-4, "running var {shape:?}");
            assert!(max_diff(&a.3, &b.3) < 1e-4, "d x {shape:?}");
            assert!(max_diff(&a.4, &b.4) < 1e-3, "d gamma {shape:?}");
            assert!(max_diff(&a.5, &b.5) < 1e-4, "d beta {shape:?}");
            // The running statistics moved from their initial 0 and 1.
            assert!(b.1.abs()?.sum_all()?.to_scalar::<f32>()? > 0.01);
        }
        Ok(())
    }
}
