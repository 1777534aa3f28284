//! The slice-wise ResNet classifier of the paper (sec. 4.4), with torchvision's parameter
//! names, one input channel and a configurable width.

use super::blocks::{Conv, Dims, Norm, batch_norm, fold};
use candle_core::{D, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// torchvision's `Bottleneck` (v1.5: the stride sits on the 3x3 convolution).
#[derive(Clone, Debug)]
struct Bottleneck {
    conv1: Conv,
    bn1: Norm,
    conv2: Conv,
    bn2: Norm,
    conv3: Conv,
    bn3: Norm,
    downsample: Option<(Conv, Norm)>,
}

impl Bottleneck {
    fn new(vb: VarBuilder, cin: usize, planes: usize, stride: usize) -> Result<Self> {
        let out = planes * 4;
        let downsample = if stride != 1 || cin != out {
            Some((
                Conv::new(
                    vb.pp("downsample.0"),
                    Dims::Two,
                    (cin, out, 1),
                    stride,
                    false,
                )?,
                batch_norm(vb.pp("downsample.1"), out)?,
            ))
        } else {
            None
        };
        Ok(Self {
            conv1: Conv::new(vb.pp("conv1"), Dims::Two, (cin, planes, 1), 1, false)?,
            bn1: batch_norm(vb.pp("bn1"), planes)?,
            conv2: Conv::new(
                vb.pp("conv2"),
                Dims::Two,
                (planes, planes, 3),
                stride,
                false,
            )?,
            bn2: batch_norm(vb.pp("bn2"), planes)?,
            conv3: Conv::new(vb.pp("conv3"), Dims::Two, (planes, out, 1), 1, false)?,
            bn3: batch_norm(vb.pp("bn3"), out)?,
            downsample,
        })
    }

    fn fold(&mut self) -> Result<()> {
        fold(&mut self.conv1, &mut self.bn1)?;
        fold(&mut self.conv2, &mut self.bn2)?;
        fold(&mut self.conv3, &mut self.bn3)?;
        if let Some((conv, bn)) = self.downsample.as_mut() {
            fold(conv, bn)?;
        }
        Ok(())
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = self.bn1.forward_t(&self.conv1.forward(x)?, train)?.relu()?;
        let y = self
            .bn2
            .forward_t(&self.conv2.forward(&y)?, train)?
            .relu()?;
        let y = self.bn3.forward_t(&self.conv3.forward(&y)?, train)?;
        let skip = match &self.downsample {
            None => x.clone(),
            Some((conv, bn)) => bn.forward_t(&conv.forward(x)?, train)?,
        };
        (y + skip)?.relu()
    }
}

/// ResNet with bottleneck blocks (`[3, 4, 6, 3]` is ResNet50) of base width `width`
/// (torchvision's is 64). Each slice gets a feature vector (global average pooling); the
/// study's is their maximum over slices; `fc` maps it to one logit.
///
/// One deviation from torchvision: the stem's max-pooling is 2x2 with stride 2 instead of
/// 3x3 with stride 2, because Candle 0.11's max-pool backward needs kernel == stride.
#[derive(Clone, Debug)]
pub struct ResNet {
    conv1: Conv,
    bn1: Norm,
    layers: Vec<Vec<Bottleneck>>,
    fc: Linear,
}

impl ResNet {
    /// A ResNet for one-channel slices.
    pub fn new(vb: VarBuilder, width: usize, blocks: &[usize]) -> Result<Self> {
        let mut cin = width;
        let mut layers = Vec::with_capacity(blocks.len());
        for (i, &n) in blocks.iter().enumerate() {
            let planes = width << i;
            let mut layer = Vec::with_capacity(n);
            for b in 0..n {
                let stride = if i > 0 && b == 0 { 2 } else { 1 };
                layer.push(Bottleneck::new(
                    vb.pp(format!("layer{}.{b}", i + 1)),
                    cin,
                    planes,
                    stride,
                )?);
                cin = planes * 4;
            }
            layers.push(layer);
        }
        Ok(Self {
            conv1: Conv::new(vb.pp("conv1"), Dims::Two, (1, width, 7), 2, false)?,
            bn1: batch_norm(vb.pp("bn1"), width)?,
            layers,
            fc: candle_nn::linear(cin, 1, vb.pp("fc"))?,
        })
    }

    /// Folds every batch norm into its convolution (inference only).
    pub fn fold(&mut self) -> Result<()> {
        fold(&mut self.conv1, &mut self.bn1)?;
        self.layers
            .iter_mut()
            .flatten()
            .try_for_each(Bottleneck::fold)
    }

    /// One feature vector per slice, `[n, c]`, from slices `[n, 1, h, w]`.
    pub fn slice_features(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut y = self
            .bn1
            .forward_t(&self.conv1.forward(x)?, train)?
            .relu()?
            .max_pool2d(2)?;
        for layer in &self.layers {
            for block in layer {
                y = block.forward_t(&y, train)?;
            }
        }
        y.mean(D::Minus1)?.mean(D::Minus1)
    }

    /// The study's logit `[1]` from its slices' features max-pooled over slices, `[1, c]`.
    pub fn classify(&self, pooled: &Tensor) -> Result<Tensor> {
        self.fc.forward(pooled)?.flatten_all()
    }
}
