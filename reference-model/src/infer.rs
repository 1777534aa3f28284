//! Running a network over a study's working-grid slices in bounded batches.

use crate::nets::{Dims, Net};
use crate::prep::Stack;
use anyhow::Result;
use candle_core::{D, Device, Tensor};

/// Slices per forward pass of a 2D network on the CPU (more only costs memory there).
pub const BATCH: usize = 16;
/// Slices per forward pass on a GPU, which needs large batches to be busy.
pub const GPU_BATCH: usize = 128;
/// Slices per chunk of a 3D network, and the context added on each side of a chunk.
pub const CHUNK_3D: (usize, usize) = (32, 8);

/// What a network says about one stack of slices.
#[derive(Clone, Debug)]
pub struct NetRun {
    /// Per-pixel probability (segmentation networks), the input's shape.
    pub probs: Option<Stack>,
    /// COVID-19 probability of the whole stack (classifiers).
    pub covid: Option<f64>,
}

/// A stack's slices `z0..z1` as a tensor `[n, 1, h, w]`.
pub fn slices_tensor(stack: &Stack, z0: usize, z1: usize, device: &Device) -> Result<Tensor> {
    let n = stack.nx * stack.ny;
    let data = &stack.data[z0 * n..z1 * n];
    Ok(Tensor::from_slice(
        data,
        (z1 - z0, 1, stack.ny, stack.nx),
        device,
    )?)
}

/// Runs `net` (`dims` as configured) on `input` (already padded to the net's multiple),
/// [`BATCH`] slices ([`GPU_BATCH`] on a GPU), or 3D chunks with context, at a time.
pub fn run_net(net: &Net, dims: Dims, input: &Stack, device: &Device) -> Result<NetRun> {
    let plane = input.nx * input.ny;
    let mut probs = net
        .segments()
        .then(|| Stack::zeros(input.nx, input.ny, input.nz));
    let mut pooled: Option<Tensor> = None;
    let (step, ctx) = match dims {
        Dims::Two if device.is_cpu() => (BATCH, 0),
        Dims::Two => (GPU_BATCH, 0),
        Dims::Three => CHUNK_3D,
    };
    let mut z = 0;
    while z < input.nz {
        let end = (z + step).min(input.nz);
        let (lo, hi) = (z.saturating_sub(ctx), (end + ctx).min(input.nz));
        let x = slices_tensor(input, lo, hi, device)?;
        let out = net.forward_t(&x, false)?;
        if let (Some(seg), Some(p)) = (out.segmentation, probs.as_mut()) {
            let seg = candle_nn::ops::sigmoid(&seg.narrow(0, z - lo, end - z)?)?;
            let v: Vec<f32> = seg.flatten_all()?.to_device(&Device::Cpu)?.to_vec1()?;
            p.data[z * plane..end * plane].copy_from_slice(&v);
        }
        if let Some(f) = out.features {
            let m = f.max_keepdim(0)?;
            pooled = Some(match pooled {
                None => m,
                Some(p) => Tensor::cat(&[p, m], 0)?.max_keepdim(0)?,
            });
        }
        z = end;
    }
    let covid = match pooled {
        Some(p) => match net.classify(&p)? {
            Some(logit) => {
                let v = candle_nn::ops::sigmoid(&logit)?
                    .flatten_all()?
                    .to_device(&Device::Cpu)?;
                Some(f64::from(v.max(D::Minus1)?.to_scalar::<f32>()?))
            }
            None => None,
        },
        None => None,
    };
    Ok(NetRun { probs, covid })
}
