//! Building blocks shared by every architecture: convolutions (2D, and 3D through depth
//! taps), batch norm, residual blocks and the numerically stable binary cross-entropy.

use super::conv;
use candle_core::{Module, ModuleT, Result, Tensor};
use candle_nn::{BatchNorm, BatchNormConfig, VarBuilder};

/// Whether a network convolves slices (2D) or volumes (3D).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dims {
    /// Input `[slices, channels, height, width]`, every slice on its own.
    Two,
    /// Input `[depth, channels, height, width]`, one volume; kernels span 3 slices.
    Three,
}

/// A convolution with PyTorch's parameter names and layouts: `weight` is
/// `[out, in, k, k]` for [`Dims::Two`] and `[out, in, 3, k, k]` (`nn.Conv3d`) for
/// [`Dims::Three`], `bias` is `[out]` when present.
///
/// Candle 0.11 has no conv3d. A 3x`k`x`k` convolution over a `[depth, in, h, w]` volume is
/// written as three 2D convolutions over depth taps: the volume is zero-padded by one slice
/// at each end, and output slice `z` is the sum over taps `t` of `weight[:, :, t]` applied
/// to input slice `z + t - 1`. Depth is always stride 1 and padding 1.
#[derive(Clone, Debug)]
pub struct Conv {
    weight: Tensor,
    bias: Option<Tensor>,
    dims: Dims,
    padding: usize,
    stride: usize,
}

impl Conv {
    /// Loads or creates a `k`x`k` convolution (created weights: LeCun uniform, ±√(3 / fan_in);
    /// training re-draws them from its seed, see `train::initialise`).
    pub fn new(
        vb: VarBuilder,
        dims: Dims,
        (cin, cout, k): (usize, usize, usize),
        stride: usize,
        bias: bool,
    ) -> Result<Self> {
        let fan_in = match dims {
            Dims::Two => cin * k * k,
            Dims::Three => cin * 3 * k * k,
        };
        let bound = 1.0 / (fan_in as f64).sqrt();
        let init = candle_nn::Init::Uniform {
            lo: -bound * 3f64.sqrt(),
            up: bound * 3f64.sqrt(),
        };
        let weight = match dims {
            Dims::Two => vb.get_with_hints((cout, cin, k, k), "weight", init)?,
            Dims::Three => vb.get_with_hints((cout, cin, 3, k, k), "weight", init)?,
        };
        let bias = if bias {
            let b = candle_nn::Init::Uniform {
                lo: -bound,
                up: bound,
            };
            Some(vb.get_with_hints(cout, "bias", b)?)
        } else {
            None
        };
        Ok(Self {
            weight,
            bias,
            dims,
            padding: k / 2,
            stride,
        })
    }
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match self.dims {
            Dims::Two => conv::conv2d(x, &self.weight, self.padding, self.stride)?,
            Dims::Three if conv::fast_path(x.device()) => {
                conv::conv3d_depth3(x, &self.weight, self.padding, self.stride)?
            }
            Dims::Three => self.taps(x)?,
        };
        match &self.bias {
            None => Ok(y),
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
        }
    }
}

impl Conv {
    /// The kernel of depth tap `t`, `[out, in, k, k]`.
    fn tap_kernel(&self, t: usize) -> Result<Tensor> {
        self.weight.narrow(2, t, 1)?.squeeze(2)?.contiguous()
    }

    /// A 3D convolution as the sum of three 2D ones over depth taps (any device).
    fn taps(&self, x: &Tensor) -> Result<Tensor> {
        let depth = x.dim(0)?;
        let padded = x.pad_with_zeros(0, 1, 1)?;
        let mut sum: Option<Tensor> = None;
        for t in 0..3 {
            let tap = conv::conv2d(
                &padded.narrow(0, t, depth)?,
                &self.tap_kernel(t)?,
                self.padding,
                self.stride,
            )?;
            sum = Some(match sum {
                None => tap,
                Some(s) => (s + tap)?,
            });
        }
        Ok(sum.expect("three taps"))
    }
}

/// `nn.BatchNorm2d` (or `3d`): statistics over every axis but the channel one.
pub fn batch_norm(vb: VarBuilder, channels: usize) -> Result<Norm> {
    let config = BatchNormConfig {
        momentum: 0.1,
        ..Default::default()
    };
    candle_nn::batch_norm(channels, config, vb).map(Norm::Batch)
}

/// A batch norm, or nothing once it has been folded into the convolution before it.
#[derive(Clone, Debug)]
pub enum Norm {
    /// Still a separate layer.
    Batch(BatchNorm),
    /// Folded away (inference only).
    Folded,
}

impl Norm {
    /// The layer's output.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Self::Batch(bn) if train => super::norm::forward_train(bn, x),
            Self::Batch(bn) => bn.forward_t(x, false),
            Self::Folded => Ok(x.clone()),
        }
    }
}

/// Folds an inference-mode batch norm into the convolution before it:
/// `w' = w s`, `b' = (b - mean) s + beta` with `s = gamma / sqrt(var + eps)` per output
/// channel. The output is the same up to rounding, with four fewer passes over the feature
/// map. Never used in training, where batch statistics change.
pub fn fold(conv: &mut Conv, norm: &mut Norm) -> Result<()> {
    let Norm::Batch(bn) = norm else { return Ok(()) };
    let scale = (bn.running_var() + bn.eps())?.sqrt()?.recip()?;
    let (gamma, beta) = match bn.weight_and_bias() {
        Some((g, b)) => (g.clone(), b.clone()),
        None => (scale.ones_like()?, scale.zeros_like()?),
    };
    let scale = (scale * gamma)?;
    let mut shape = vec![1usize; conv.weight.rank()];
    shape[0] = scale.dim(0)?;
    conv.weight = conv.weight.broadcast_mul(&scale.reshape(shape)?)?;
    let bias = match &conv.bias {
        Some(b) => b.clone(),
        None => scale.zeros_like()?,
    };
    conv.bias = Some(((bias - bn.running_mean())? * scale)?.add(&beta)?);
    *norm = Norm::Folded;
    Ok(())
}

/// The residual block of the paper's U-Nets: two 3x3 convolutions with batch norm, and a
/// 1x1 convolution on the shortcut when the width changes (`shortcut.0`, `shortcut.1`).
#[derive(Clone, Debug)]
pub struct ResBlock {
    conv1: Conv,
    bn1: Norm,
    conv2: Conv,
    bn2: Norm,
    shortcut: Option<(Conv, Norm)>,
}

impl ResBlock {
    /// A block from `cin` to `cout` channels.
    pub fn new(vb: VarBuilder, dims: Dims, cin: usize, cout: usize) -> Result<Self> {
        let shortcut = if cin == cout {
            None
        } else {
            Some((
                Conv::new(vb.pp("shortcut.0"), dims, (cin, cout, 1), 1, false)?,
                batch_norm(vb.pp("shortcut.1"), cout)?,
            ))
        };
        Ok(Self {
            conv1: Conv::new(vb.pp("conv1"), dims, (cin, cout, 3), 1, false)?,
            bn1: batch_norm(vb.pp("bn1"), cout)?,
            conv2: Conv::new(vb.pp("conv2"), dims, (cout, cout, 3), 1, false)?,
            bn2: batch_norm(vb.pp("bn2"), cout)?,
            shortcut,
        })
    }

    /// Folds the batch norms into the convolutions (inference only).
    pub fn fold(&mut self) -> Result<()> {
        fold(&mut self.conv1, &mut self.bn1)?;
        fold(&mut self.conv2, &mut self.bn2)?;
        if let Some((conv, bn)) = self.shortcut.as_mut() {
            fold(conv, bn)?;
        }
        Ok(())
    }

    /// The block's output; `train` selects batch statistics (and updates the running ones).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = self.bn1.forward_t(&self.conv1.forward(x)?, train)?.relu()?;
        let y = self.bn2.forward_t(&self.conv2.forward(&y)?, train)?;
        let skip = match &self.shortcut {
            None => x.clone(),
            Some((conv, bn)) => bn.forward_t(&conv.forward(x)?, train)?,
        };
        (y + skip)?.relu()
    }
}

/// Mean binary cross-entropy between logits and (possibly soft) targets, in the stable form
/// `max(x, 0) - x t + ln(1 + e^-|x|)`.
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let softplus = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    ((logits.relu()? - (logits * targets)?)? + softplus)?.mean_all()
}

/// Adaptive average pooling of `[n, c, h, w]` to `[n, c * bins * bins]`, with PyTorch's bin
/// edges (`floor(i h / bins)` to `ceil((i + 1) h / bins)`; Candle has no adaptive pooling).
///
/// Written as one matmul of the `[n c, h w]` map with a `[h w, bins bins]` matrix of
/// `1 / area` where a pixel lies in a cell: its backward is one matmul too, where a cell at a
/// time (narrow, then mean) gave a full-size zero-padded gradient per cell.
pub fn adaptive_avg_pool(x: &Tensor, bins: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let edges = |len: usize, i: usize| bin_edges(len, bins, i);
    let cells = bins * bins;
    let mut weights = vec![0f32; h * w * cells];
    for bi in 0..bins {
        let (h0, h1) = edges(h, bi);
        for bj in 0..bins {
            let (w0, w1) = edges(w, bj);
            let cell = bi * bins + bj;
            let share = 1.0 / ((h1 - h0) * (w1 - w0)) as f32;
            for y in h0..h1 {
                for x in w0..w1 {
                    weights[(y * w + x) * cells + cell] = share;
                }
            }
        }
    }
    let pool = Tensor::from_vec(weights, (h * w, cells), x.device())?;
    // [n c, cells] -> [n, c * cells], the order of PyTorch's flatten of [n, c, bins, bins].
    x.contiguous()?
        .reshape((n * c, h * w))?
        .matmul(&pool)?
        .reshape((n, c * cells))
}

/// Adaptive max pooling of `[n, c, h, w]` to `[n, c * bins * bins]`, with PyTorch's bin
/// edges and order (as [`adaptive_avg_pool`]; Candle has no adaptive pooling).
///
/// Where `bins` divides the plane (the shipped pyramid's 1, 2 and 4 always divide a plane
/// padded to the backbone's multiple) the cells are regrouped into the last dimension and
/// reduced with one `max`; elsewhere a cell at a time (narrow, then max). Not Candle's
/// `max_pool2d`: its backward (0.11) divides each cell's gradient by the cell's area, which
/// for the one-cell level of a 96x96 plane is 1/9216 of the gradient.
pub fn adaptive_max_pool(x: &Tensor, bins: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    if h.is_multiple_of(bins) && w.is_multiple_of(bins) {
        let (kh, kw) = (h / bins, w / bins);
        return x
            .contiguous()?
            .reshape((n, c, bins, kh, bins, kw))?
            .permute((0, 1, 2, 4, 3, 5))?
            .contiguous()?
            .reshape((n, c, bins * bins, kh * kw))?
            .max(3)?
            .reshape((n, c * bins * bins));
    }
    let mut cells = Vec::with_capacity(bins * bins);
    for bi in 0..bins {
        let (h0, h1) = bin_edges(h, bins, bi);
        for bj in 0..bins {
            let (w0, w1) = bin_edges(w, bins, bj);
            cells.push(
                x.narrow(2, h0, h1 - h0)?
                    .narrow(3, w0, w1 - w0)?
                    .flatten_from(2)?
                    .max(2)?,
            );
        }
    }
    Tensor::stack(&cells, 2)?.reshape((n, c * bins * bins))
}

/// Bin `i` of `bins` over `len` pixels, `[start, end)`, as PyTorch's adaptive pooling cuts it.
fn bin_edges(len: usize, bins: usize, i: usize) -> (usize, usize) {
    (i * len / bins, ((i + 1) * len).div_ceil(bins))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn a_3d_convolution_by_depth_taps_matches_a_direct_sum() -> Result<()> {
        let dev = Device::Cpu;
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &dev);
        let conv = Conv::new(vb, Dims::Three, (2, 3, 3), 1, true)?;
        let x = Tensor::randn(0f32, 1.0, (4, 2, 5, 6), &dev)?;
        let y = conv.forward(&x)?;
        assert_eq!(y.dims(), &[4, 3, 5, 6]);
        // Brute force at one output voxel: o = 1, z = 0, (y, x) = (2, 3).
        let w: Vec<f32> = conv.weight.flatten_all()?.to_vec1()?;
        let b: Vec<f32> = conv.bias.as_ref().expect("bias").to_vec1()?;
        let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let at = |z: i64, c: usize, i: i64, j: i64| -> f32 {
            if !(0..4).contains(&z) || !(0..5).contains(&i) || !(0..6).contains(&j) {
                return 0.0;
            }
            xs[((z as usize * 2 + c) * 5 + i as usize) * 6 + j as usize]
        };
        let (o, z, i, j) = (1usize, 0i64, 2i64, 3i64);
        let mut want = b[o];
        for c in 0..2 {
            for t in 0..3 {
                for di in 0..3 {
                    for dj in 0..3 {
                        let wv = w[(((o * 2 + c) * 3 + t) * 3 + di) * 3 + dj];
                        want += wv * at(z + t as i64 - 1, c, i + di as i64 - 1, j + dj as i64 - 1);
                    }
                }
            }
        }
        let got = y
            .get(z as usize)?
            .get(o)?
            .get(i as usize)?
            .get(j as usize)?
            .to_scalar::<f32>()?;
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        Ok(())
    }

    #[test]
    fn the_shared_im2col_3d_path_matches_three_candle_convolutions() -> Result<()> {
        let dev = Device::Cpu;
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &dev);
        for (name, k) in [("a", 3), ("b", 1)] {
            let conv = Conv::new(vb.pp(name), Dims::Three, (3, 4, k), 1, false)?;
            let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (5, 3, 6, 7), &dev)?)?;
            let ours = conv::conv3d_depth3(x.as_tensor(), &conv.weight, conv.padding, conv.stride)?;
            let theirs = conv.taps(x.as_tensor())?;
            let diff = (&ours - &theirs)?
                .abs()?
                .flatten_all()?
                .max(0)?
                .to_scalar::<f32>()?;
            assert!(diff < 1e-4, "k {k}: forward differs by {diff}");
            let probe = Tensor::randn(0f32, 1.0, ours.dims(), &dev)?;
            let (g1, g2) = (
                (ours * &probe)?.sum_all()?.backward()?,
                (theirs * &probe)?.sum_all()?.backward()?,
            );
            let (a, b) = (g1.get(&x).expect("grad"), g2.get(&x).expect("grad"));
            let diff = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
            assert!(diff < 1e-3, "k {k}: input gradient differs by {diff}");
        }
        Ok(())
    }

    #[test]
    fn stable_bce_matches_the_textbook_formula_and_survives_large_logits() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::new(&[-2.0f32, 0.5, 3.0], &dev)?;
        let t = Tensor::new(&[0.0f32, 1.0, 0.25], &dev)?;
        let got = bce_with_logits(&x, &t)?.to_scalar::<f32>()?;
        let s = |v: f32| 1.0 / (1.0 + (-v).exp());
        let want = [(-2.0f32, 0.0f32), (0.5, 1.0), (3.0, 0.25)]
            .iter()
            .map(|&(v, y)| -(y * s(v).ln() + (1.0 - y) * (1.0 - s(v)).ln()))
            .sum::<f32>()
            / 3.0;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        let big = bce_with_logits(
            &Tensor::new(&[200.0f32, -200.0], &dev)?,
            &Tensor::new(&[1.0f32, 0.0], &dev)?,
        )?;
        assert!(big.to_scalar::<f32>()?.abs() < 1e-6);
        Ok(())
    }

    /// Adaptive average pooling a cell at a time (narrow, then mean), the oracle of
    /// [`adaptive_avg_pool`].
    fn pool_by_cells(x: &Tensor, bins: usize) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let edges = |len: usize, i: usize| bin_edges(len, bins, i);
        let mut cells = Vec::new();
        for bi in 0..bins {
            let (h0, h1) = edges(h, bi);
            for bj in 0..bins {
                let (w0, w1) = edges(w, bj);
                let cell = x.narrow(2, h0, h1 - h0)?.narrow(3, w0, w1 - w0)?;
                cells.push(cell.mean(D::Minus1)?.mean(D::Minus1)?);
            }
        }
        Tensor::stack(&cells, 2)?.flatten_from(1)
    }

    #[test]
    fn adaptive_pooling_matches_cell_by_cell_means_and_their_gradient() -> Result<()> {
        let dev = Device::Cpu;
        for (bins, (h, w)) in [(1, (6, 5)), (2, (7, 9)), (4, (10, 13)), (4, (4, 4))] {
            let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 2, h, w), &dev)?)?;
            let ours = adaptive_avg_pool(x.as_tensor(), bins)?;
            let oracle = pool_by_cells(x.as_tensor(), bins)?;
            assert_eq!(ours.dims(), oracle.dims());
            let diff = |a: &Tensor, b: &Tensor| -> Result<f32> {
                (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
            };
            assert!(diff(&ours, &oracle)? < 1e-5, "bins {bins}, {h}x{w}");
            let probe = Tensor::randn(0f32, 1.0, ours.dims(), &dev)?;
            let g_ours = (ours * &probe)?.sum_all()?.backward()?;
            let g_oracle = (oracle * &probe)?.sum_all()?.backward()?;
            let (a, b) = (g_ours.get(&x).unwrap(), g_oracle.get(&x).unwrap());
            assert!(diff(a, b)? < 1e-5, "gradient, bins {bins}, {h}x{w}");
        }
        Ok(())
    }

    #[test]
    fn adaptive_max_pooling_matches_a_brute_force_maximum_and_routes_its_gradient() -> Result<()> {
        let dev = Device::Cpu;
        // Planes the bins divide (one max-pool) and planes they do not (cell by cell).
        for (bins, (h, w)) in [
            (1, (6, 5)),
            (2, (8, 6)),
            (4, (16, 12)),
            (2, (7, 9)),
            (4, (10, 13)),
        ] {
            let (n, c) = (3, 2);
            let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, c, h, w), &dev)?)?;
            let ours = adaptive_max_pool(x.as_tensor(), bins)?;
            assert_eq!(ours.dims(), &[n, c * bins * bins]);
            let values: Vec<f32> = x.as_tensor().flatten_all()?.to_vec1()?;
            let got: Vec<f32> = ours.flatten_all()?.to_vec1()?;
            let mut grad_want = vec![0f32; values.len()];
            for (i, ch, bi, bj) in (0..n).flat_map(|i| {
                (0..c).flat_map(move |ch| {
                    (0..bins).flat_map(move |bi| (0..bins).map(move |bj| (i, ch, bi, bj)))
                })
            }) {
                let (h0, h1) = bin_edges(h, bins, bi);
                let (w0, w1) = bin_edges(w, bins, bj);
                let at = |y: usize, x: usize| ((i * c + ch) * h + y) * w + x;
                let best = (h0..h1)
                    .flat_map(|y| (w0..w1).map(move |x| at(y, x)))
                    .max_by(|&a, &b| values[a].total_cmp(&values[b]))
                    .unwrap();
                let k = i * c * bins * bins + (ch * bins + bi) * bins + bj;
                assert_eq!(got[k], values[best], "bins {bins}, {h}x{w}, cell {k}");
                grad_want[best] += 1.0;
            }
            // The gradient of the sum reaches each cell's maximum once, nothing else.
            let grads = ours.sum_all()?.backward()?;
            let grad: Vec<f32> = grads.get(&x).unwrap().flatten_all()?.to_vec1()?;
            assert_eq!(grad, grad_want, "gradient, bins {bins}, {h}x{w}");
        }
        Ok(())
    }

    #[test]
    fn adaptive_pooling_uses_pytorch_bin_edges() -> Result<()> {
        let dev = Device::Cpu;
        // One channel, 1x5 rows of 0..5: two bins are [0, 3) and [2, 5) in PyTorch.
        let x = Tensor::arange(0f32, 5.0, &dev)?.reshape((1, 1, 1, 5))?;
        let pooled: Vec<f32> = adaptive_avg_pool(&x.repeat((1, 1, 2, 1))?, 2)?
            .flatten_all()?
            .to_vec1()?;
        assert_eq!(pooled, vec![1.0, 3.0, 1.0, 3.0]);
        Ok(())
    }
}
