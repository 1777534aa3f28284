//! The residual U-Net of the paper (2D, or 3D through depth taps), used for the lungs, the
//! lesion models and as the multitask network's backbone.

use super::blocks::{Conv, Dims, ResBlock};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

/// A U-Net whose levels are residual blocks: `enc.{l}` at width `width * 2^l`, 2x2
/// in-plane max-pooling between levels, nearest upsampling and concatenation on the way
/// up into `dec.{l}`. Depth is never pooled in 3D: slice spacing varies too much (1-8 mm)
/// for a fixed depth stride to mean anything.
#[derive(Clone, Debug)]
pub struct UNet {
    enc: Vec<ResBlock>,
    dec: Vec<ResBlock>,
}

impl UNet {
    /// A U-Net of `levels` levels taking `cin` channels.
    pub fn new(
        vb: VarBuilder,
        dims: Dims,
        cin: usize,
        width: usize,
        levels: usize,
    ) -> Result<Self> {
        let ch = |l: usize| width << l;
        let mut enc = Vec::with_capacity(levels);
        for l in 0..levels {
            let input = if l == 0 { cin } else { ch(l - 1) };
            enc.push(ResBlock::new(
                vb.pp(format!("enc.{l}")),
                dims,
                input,
                ch(l),
            )?);
        }
        let mut dec = Vec::with_capacity(levels.saturating_sub(1));
        for l in 0..levels.saturating_sub(1) {
            dec.push(ResBlock::new(
                vb.pp(format!("dec.{l}")),
                dims,
                ch(l + 1) + ch(l),
                ch(l),
            )?);
        }
        Ok(Self { enc, dec })
    }

    /// How much height and width must be divisible by.
    pub fn multiple(&self) -> usize {
        1 << (self.enc.len() - 1)
    }

    /// Folds every batch norm into its convolution (inference only).
    pub fn fold(&mut self) -> Result<()> {
        self.enc
            .iter_mut()
            .chain(self.dec.iter_mut())
            .try_for_each(ResBlock::fold)
    }

    /// Feature map `[n, width, h, w]` of an input `[n, cin, h, w]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut skips = Vec::with_capacity(self.enc.len());
        let mut y = x.clone();
        for (l, block) in self.enc.iter().enumerate() {
            if l > 0 {
                y = y.max_pool2d(2)?;
            }
            y = block.forward_t(&y, train)?;
            skips.push(y.clone());
        }
        for l in (0..self.dec.len()).rev() {
            let skip = &skips[l];
            let (_, _, h, w) = skip.dims4()?;
            let up = y.upsample_nearest2d(h, w)?;
            y = self.dec[l].forward_t(&Tensor::cat(&[&up, skip], 1)?, train)?;
        }
        Ok(y)
    }
}

/// The segmentation head: one residual block and a 1x1 convolution to one logit per voxel
/// (`{prefix}.block`, `{prefix}.conv`). The 1x1 convolution is 2D (`[1, width, 1, 1]`) in the
/// 3D U-Net too: on `[depth, c, h, w]` it is the same map as a 1x1x1 `nn.Conv3d`.
#[derive(Clone, Debug)]
pub struct SegHead {
    block: ResBlock,
    conv: Conv,
}

impl SegHead {
    /// A head over `width` feature channels.
    pub fn new(vb: VarBuilder, dims: Dims, width: usize) -> Result<Self> {
        Ok(Self {
            block: ResBlock::new(vb.pp("block"), dims, width, width)?,
            conv: Conv::new(vb.pp("conv"), Dims::Two, (width, 1, 1), 1, true)?,
        })
    }

    /// Folds the block's batch norms (inference only).
    pub fn fold(&mut self) -> Result<()> {
        self.block.fold()
    }

    /// Logits `[n, 1, h, w]`.
    pub fn forward_t(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        self.conv.forward(&self.block.forward_t(features, train)?)
    }
}

/// A segmentation U-Net: backbone plus head.
#[derive(Clone, Debug)]
pub struct SegNet {
    /// The backbone (`backbone.*`).
    pub backbone: UNet,
    /// The head (`head.*`).
    pub head: SegHead,
}

impl SegNet {
    /// A network for one-channel input.
    pub fn new(vb: VarBuilder, dims: Dims, width: usize, levels: usize) -> Result<Self> {
        Ok(Self {
            backbone: UNet::new(vb.pp("backbone"), dims, 1, width, levels)?,
            head: SegHead::new(vb.pp("head"), dims, width)?,
        })
    }

    /// Folds every batch norm (inference only).
    pub fn fold(&mut self) -> Result<()> {
        self.backbone.fold()?;
        self.head.fold()
    }

    /// Logits `[n, 1, h, w]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.head
            .forward_t(&self.backbone.forward_t(x, train)?, train)
    }
}
