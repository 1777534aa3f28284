//! A faster CPU convolution for the small networks of this pipeline: an explicit im2col
//! written as row copies, then one Candle matmul (gemm), with a backward pass.
//!
//! Why: Candle 0.11's CPU `conv2d` builds its im2col tiles one element at a time through a
//! channels-last copy, and its backward pass for the input is `conv_transpose2d`, a scalar
//! loop of dot products over the input channels. With 8 to 64 channels both cost far more
//! than the arithmetic (`perf`: 45% of inference in the im2col closure, 8.5% in gemm).
//!
//! Here a `k`x`k` convolution of `[b, c, h, w]` is `cols = im2col(x)`, `[b, c k k, oh ow]`,
//! where each of the `k k` rows of a channel is the channel's plane shifted by one tap (at
//! stride 1, each output row is one `copy_from_slice` of an input row), and then
//! `y = W [c_out, c k k] @ cols`, already in `[b, c_out, oh ow]` order. The backward pass
//! is Candle's own: matmul's (gemm), and for im2col its adjoint `col2im`, which adds the
//! shifted rows back. 1x1 convolutions at stride 1 skip im2col altogether.
//!
//! It is written against Candle's public `CustomOp1` so it could go upstream as a CPU path
//! of `conv2d`. On other devices [`conv2d`] calls Candle's `conv2d` (cuDNN there) for
//! inference, and [`conv2d_unfold`] when the weight is being trained: Candle's backward of
//! `conv2d` takes the weight gradient as a convolution whose kernel is the whole output
//! plane, and the input gradient from its scalar `conv_transpose2d` kernel, which made a
//! width-32 multitask step on an H200 take 7.8 s (`reference-model/bench/gpu-train.sh`).

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether [`conv2d`] hands every convolution to Candle's own `conv2d` (for benchmarks).
static CANDLE_CONV: AtomicBool = AtomicBool::new(false);

/// Routes every convolution of this process through Candle's `conv2d` (`true`) or this
/// module's path (`false`, the default), so that a benchmark can time both on one build.
pub fn use_candle_conv(on: bool) {
    CANDLE_CONV.store(on, Ordering::Relaxed);
}

/// Whether [`use_candle_conv`] routed every convolution through Candle's `conv2d`.
pub fn candle_conv() -> bool {
    CANDLE_CONV.load(Ordering::Relaxed)
}

/// Whether convolutions on `device` take this module's path.
pub fn fast_path(device: &candle_core::Device) -> bool {
    device.is_cpu() && !candle_conv()
}

/// `conv2d(x, weight)` with square kernels, `padding` on every side, `stride` in both
/// directions and no dilation: `[b, c, h, w]`, `[c_out, c, k, k]` -> `[b, c_out, oh, ow]`.
/// Same result as `x.conv2d(weight, padding, stride, 1, 1)` up to rounding.
pub fn conv2d(x: &Tensor, weight: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    if !fast_path(x.device()) {
        return if weight.track_op() && !candle_conv() {
            conv2d_unfold(x, weight, padding, stride)
        } else {
            x.conv2d(weight, padding, stride, 1, 1)
        };
    }
    let (b, c_out, geometry) = Geometry::of(x, weight, padding, stride)?;
    let Geometry { c, h, w, k, .. } = geometry;
    let (oh, ow) = geometry.out();
    let cols = if k == 1 && stride == 1 && padding == 0 {
        x.reshape((b, c, h * w))?
    } else {
        x.contiguous()?.apply_op1(Im2Col(geometry))?
    };
    // [1, c_out, c k k] broadcast over the batch: the matmul reads the weight with a zero
    // batch stride, and the broadcast's backward sums the batch's weight gradients.
    let kernel = weight
        .reshape((1, c_out, c * k * k))?
        .broadcast_as((b, c_out, c * k * k))?;
    kernel.matmul(&cols)?.reshape((b, c_out, oh, ow))
}

/// `conv2d` as im2col written in Candle's own differentiable operations, on any device:
/// each of the `k k` taps is a shifted (and, at stride `s`, subsampled) view of the
/// zero-padded input, the taps are stacked into `[b, c k k, oh ow]` columns, and one batched
/// matmul with the weight gives the output. Its backward is that of pad, narrow, stack and
/// matmul (cuBLAS on a GPU), where Candle's `conv2d` backward is a convolution with the
/// output plane as kernel. Same arguments and result as [`conv2d`].
pub fn conv2d_unfold(x: &Tensor, weight: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    let (b, c_out, geometry) = Geometry::of(x, weight, padding, stride)?;
    let Geometry { c, k, .. } = geometry;
    let (oh, ow) = geometry.out();
    // `stride` extra zeros after each axis: tap `t` reads `stride * o` rows from row `t`,
    // and `t + stride * o <= k - 1 + (h + 2 padding - k) + stride` always fits.
    let padded = x
        .pad_with_zeros(2, padding, padding + stride)?
        .pad_with_zeros(3, padding, padding + stride)?;
    let mut taps = Vec::with_capacity(k * k);
    for ty in 0..k {
        for tx in 0..k {
            let view = padded
                .narrow(2, ty, stride * oh)?
                .narrow(3, tx, stride * ow)?;
            let tap = if stride == 1 {
                view
            } else {
                // Every `stride`-th row and column: split each axis into (o, stride) and keep 0.
                view.contiguous()?
                    .reshape((b, c, oh, stride, ow, stride))?
                    .narrow(3, 0, 1)?
                    .narrow(5, 0, 1)?
            };
            taps.push(tap.reshape((b, c, 1, oh * ow))?);
        }
    }
    // [b, c, k k, oh ow] -> [b, c k k, oh ow]: the weight's `[c_out, c, k, k]` order.
    let cols = Tensor::cat(&taps, 2)?.reshape((b, c * k * k, oh * ow))?;
    let kernel = weight
        .reshape((1, c_out, c * k * k))?
        .broadcast_as((b, c_out, c * k * k))?;
    kernel.matmul(&cols)?.reshape((b, c_out, oh, ow))
}

/// A 3D convolution with depth 3 (padding 1 in depth, stride 1 in depth) of slices
/// `[d, c, h, w]` with `weight` `[c_out, c, 3, k, k]`, on the CPU: one im2col of the
/// zero-padded volume is shared by the three depth taps, and tap `t` multiplies its
/// `[c_out, c k k]` kernel with the columns of slices `t..t + d`.
pub fn conv3d_depth3(x: &Tensor, weight: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    let (depth, c, h, w) = x.dims4()?;
    let (c_out, c_w, taps, k, k_w) = weight.dims5()?;
    if c_w != c || k != k_w || taps != 3 {
        candle_core::bail!(
            "conv3d_depth3: weight {:?} does not fit input {:?}",
            weight.dims(),
            x.dims()
        );
    }
    if !x.device().is_cpu() {
        candle_core::bail!("conv3d_depth3 runs on the CPU only");
    }
    let geometry = Geometry {
        c,
        h,
        w,
        k,
        stride,
        padding,
    };
    let (oh, ow) = geometry.out();
    let cols = x
        .pad_with_zeros(0, 1, 1)?
        .contiguous()?
        .apply_op1(Im2Col(geometry))?;
    let mut sum: Option<Tensor> = None;
    for t in 0..3 {
        let kernel = weight
            .narrow(2, t, 1)?
            .reshape((1, c_out, c * k * k))?
            .broadcast_as((depth, c_out, c * k * k))?;
        let tap = kernel.matmul(&cols.narrow(0, t, depth)?)?;
        sum = Some(match sum {
            None => tap,
            Some(s) => (s + tap)?,
        });
    }
    sum.expect("three taps").reshape((depth, c_out, oh, ow))
}

/// The shape of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    padding: usize,
}

impl Geometry {
    /// The geometry of `conv2d(x, weight)` with the batch size and output channels, or an
    /// error when the weight does not fit the input or the padded plane is smaller than the
    /// kernel.
    fn of(
        x: &Tensor,
        weight: &Tensor,
        padding: usize,
        stride: usize,
    ) -> Result<(usize, usize, Self)> {
        let (b, c, h, w) = x.dims4()?;
        let (c_out, c_w, k, k_w) = weight.dims4()?;
        if c_w != c || k != k_w || h + 2 * padding < k || w + 2 * padding < k {
            candle_core::bail!(
                "conv2d: weight {:?} does not fit input {:?}",
                weight.dims(),
                x.dims()
            );
        }
        let geometry = Self {
            c,
            h,
            w,
            k,
            stride,
            padding,
        };
        Ok((b, c_out, geometry))
    }

    /// Output height and width.
    fn out(&self) -> (usize, usize) {
        let o = |n: usize| (n + 2 * self.padding - self.k) / self.stride + 1;
        (o(self.h), o(self.w))
    }

    /// For output row `o` and tap `t`, the input row, if inside.
    fn source(&self, o: usize, t: usize, n: usize) -> Option<usize> {
        (o * self.stride + t)
            .checked_sub(self.padding)
            .filter(|&i| i < n)
    }

    /// The output columns `[lo, hi)` whose input column for tap `t` is inside, at stride 1.
    fn inside(&self, t: usize, ow: usize) -> (usize, usize) {
        let lo = self.padding.saturating_sub(t).min(ow);
        let hi = (self.w + self.padding).saturating_sub(t).clamp(lo, ow);
        (lo, hi)
    }

    /// Calls `f(col, src, len)` for every stretch of one channel's im2col columns
    /// (`k k` rows of `oh ow`) copied from its input plane: `cols[col..col + len]` comes from
    /// `plane[src..src + len]`. Entries that fall in the padding are never named.
    fn for_each_copy(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (oh, ow) = self.out();
        for ty in 0..self.k {
            for tx in 0..self.k {
                let row = (ty * self.k + tx) * oh * ow;
                for oy in 0..oh {
                    let at = row + oy * ow;
                    self.row_stretches((oy, ty, tx), ow, |d, s, n| f(at + d, s, n));
                }
            }
        }
    }

    /// Calls `f(dst, src, len)` for each stretch of output row `oy` of tap `(ty, tx)`
    /// copied from one input row (`dst` in the output row, `src` in the input plane).
    /// At stride 1 a stretch is a whole row; at larger strides every pixel is its own.
    fn row_stretches(
        &self,
        (oy, ty, tx): (usize, usize, usize),
        ow: usize,
        mut f: impl FnMut(usize, usize, usize),
    ) {
        let Some(iy) = self.source(oy, ty, self.h) else {
            return;
        };
        if self.stride == 1 {
            let (lo, hi) = self.inside(tx, ow);
            if hi > lo {
                // Input column of output column `lo` is `lo + tx - padding` (>= 0 by `inside`).
                f(lo, iy * self.w + lo + tx - self.padding, hi - lo);
            }
        } else {
            for ox in 0..ow {
                if let Some(ix) = self.source(ox, tx, self.w) {
                    f(ox, iy * self.w + ix, 1);
                }
            }
        }
    }
}

/// `[b, c, h, w]` (contiguous f32) -> `[b, c k k, oh ow]`.
struct Im2Col(Geometry);

/// `[b, c k k, oh ow]` -> `[b, c, h, w]`, the adjoint of [`Im2Col`]: every column entry is
/// added back to the input pixel it was copied from.
struct Col2Im(Geometry);

/// The f32 data of a contiguous CPU tensor; `op` names the operation in errors.
pub(super) fn f32_slice<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: only f32 is supported");
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: the input must be contiguous"),
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let x = f32_slice(storage, layout, "im2col")?;
        let b = layout.dims()[0];
        let (oh, ow) = g.out();
        let (plane, out_plane, taps) = (g.h * g.w, oh * ow, g.k * g.k);
        let mut cols = vec![0f32; b * g.c * taps * out_plane];
        // One (image, channel) per task: its `k k` rows are contiguous in `cols`.
        cols.par_chunks_mut(taps * out_plane)
            .zip(x.par_chunks(plane))
            .for_each(|(dst, src)| {
                g.for_each_copy(|d, s, n| dst[d..d + n].copy_from_slice(&src[s..s + n]));
            });
        let shape = Shape::from((b, g.c * taps, out_plane));
        Ok((CpuStorage::F32(cols), shape))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1(Col2Im(self.0))?))
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let cols = f32_slice(storage, layout, "col2im")?;
        let b = layout.dims()[0];
        let (oh, ow) = g.out();
        let (plane, out_plane, taps) = (g.h * g.w, oh * ow, g.k * g.k);
        let mut x = vec![0f32; b * g.c * plane];
        x.par_chunks_mut(plane)
            .zip(cols.par_chunks(taps * out_plane))
            .for_each(|(dst, src)| {
                g.for_each_copy(|d, s, n| {
                    dst[s..s + n]
                        .iter_mut()
                        .zip(&src[d..d + n])
                        .for_each(|(a, v)| *a += v);
                });
            });
        Ok((CpuStorage::F32(x), Shape::from((b, g.c, g.h, g.w))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1(Im2Col(self.0))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// A `(kernel, padding, stride, (height, width))` geometry.
    type Case = (usize, usize, usize, (usize, usize));

    /// Asserts that convolution `ours` gives `theirs`'s outputs (to 1e-4) and, through the
    /// same loss, its gradients for the input and the weight (to 1e-3), at every geometry.
    fn assert_same_convolution(
        ours: impl Fn(&Tensor, &Tensor, usize, usize) -> Result<Tensor>,
        theirs: impl Fn(&Tensor, &Tensor, usize, usize) -> Result<Tensor>,
        cases: &[Case],
    ) -> Result<()> {
        let dev = Device::Cpu;
        for &(k, padding, stride, (h, w)) in cases {
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, h, w), &dev)?)?;
            let weight = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 3, k, k), &dev)?)?;
            let a = ours(x.as_tensor(), weight.as_tensor(), padding, stride)?;
            let b = theirs(x.as_tensor(), weight.as_tensor(), padding, stride)?;
            let what = format!("k {k} stride {stride} plane {h}x{w}");
            assert_eq!(a.dims(), b.dims(), "{what}");
            assert!(max_diff(&a, &b) < 1e-4, "{what}");
            let probe = Tensor::randn(0f32, 1.0, a.dims(), &dev)?;
            let g_a = (a * &probe)?.sum_all()?.backward()?;
            let g_b = (b * &probe)?.sum_all()?.backward()?;
            for v in [&x, &weight] {
                let (ga, gb) = (g_a.get(v).unwrap(), g_b.get(v).unwrap());
                assert!(max_diff(ga, gb) < 1e-3, "{what}: {v:?}");
            }
        }
        Ok(())
    }

    /// Odd and uneven sizes, so that padding and stride reach every edge case of the row
    /// copies. At stride 2 the planes are square: Candle's own conv2d backward takes the
    /// output padding of both axes from the height, and fails on other shapes (the adjoint
    /// test below covers uneven planes at stride 2).
    const CASES: [Case; 6] = [
        (3, 1, 1, (7, 9)),
        (3, 1, 2, (7, 7)),
        (1, 0, 1, (5, 6)),
        (1, 0, 2, (5, 5)),
        (7, 3, 2, (11, 11)),
        (3, 0, 1, (6, 5)),
    ];

    #[test]
    fn the_fast_convolution_matches_candles_forward_and_gradients() -> Result<()> {
        assert_same_convolution(
            conv2d,
            |x, w, padding, stride| x.conv2d(w, padding, stride, 1, 1),
            &CASES,
        )
    }

    #[test]
    fn the_unfolded_convolution_matches_the_fast_path_and_its_gradients() -> Result<()> {
        // Against the CPU path, which the test above holds to Candle's conv2d: its
        // geometries, and odd and uneven planes at stride 2, which this path pads for.
        let mut cases = CASES.to_vec();
        cases.extend([(3, 1, 2, (8, 7)), (7, 3, 2, (9, 12))]);
        assert_same_convolution(conv2d_unfold, conv2d, &cases)
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() -> Result<()> {
        // <im2col(x), y> = <x, col2im(y)> for every x and y, the definition of the adjoint.
        let dev = Device::Cpu;
        let g = Geometry {
            c: 2,
            h: 5,
            w: 4,
            k: 3,
            stride: 2,
            padding: 1,
        };
        let x = Tensor::randn(0f32, 1.0, (3, 2, 5, 4), &dev)?;
        let cols = x.apply_op1(Im2Col(g))?;
        let y = Tensor::randn(0f32, 1.0, cols.dims(), &dev)?;
        let back = y.apply_op1(Col2Im(g))?;
        let lhs = (cols * &y)?.sum_all()?.to_scalar::<f32>()?;
        let rhs = (x * back)?.sum_all()?.to_scalar::<f32>()?;
        assert!(
            (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
        Ok(())
    }
}
