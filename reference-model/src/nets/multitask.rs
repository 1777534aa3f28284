//! The paper's multitask network (sec. 2, fig. 3): a residual U-Net backbone shared by a
//! segmentation head and a classification head with pyramid pooling.

use super::PyramidPool;
use super::blocks::{Dims, adaptive_avg_pool, adaptive_max_pool};
use super::unet::{SegHead, UNet};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// Backbone (`backbone.*`), segmentation head (`seg_head.*`) and classification head
/// (`cls_head.fc1`, `cls_head.fc2`).
///
/// The classification head pools the backbone's feature map of every slice into a pyramid
/// of `bins x bins` cells (each cell's maximum or mean, [`PyramidPool`]), takes
/// the maximum of each pyramid feature over slices (so a lesion on any slice counts; the
/// caller pools, so that a long study can go through in chunks), and maps the vector through two fully connected layers to one logit.
#[derive(Clone, Debug)]
pub struct Multitask {
    backbone: UNet,
    seg_head: SegHead,
    pyramid: Vec<usize>,
    pool: PyramidPool,
    fc1: Linear,
    fc2: Linear,
}

/// What the multitask network says about one study.
#[derive(Clone, Debug)]
pub struct MultitaskOutput {
    /// Lesion logits `[n, 1, h, w]`.
    pub segmentation: Tensor,
    /// Pyramid features of every slice `[n, features]`, to be max-pooled over the study's
    /// slices and given to [`Multitask::classify`].
    pub features: Tensor,
}

impl Multitask {
    /// A network of backbone width `width`, `levels` levels, pooling pyramid `pyramid` and
    /// `hidden` units between the two fully connected layers, its cells pooled by `pool`.
    pub fn new(
        vb: VarBuilder,
        width: usize,
        levels: usize,
        pyramid: &[usize],
        hidden: usize,
        pool: PyramidPool,
    ) -> Result<Self> {
        let features = width * pyramid.iter().map(|b| b * b).sum::<usize>();
        Ok(Self {
            backbone: UNet::new(vb.pp("backbone"), Dims::Two, 1, width, levels)?,
            seg_head: SegHead::new(vb.pp("seg_head"), Dims::Two, width)?,
            pyramid: pyramid.to_vec(),
            pool,
            fc1: candle_nn::linear(features, hidden, vb.pp("cls_head.fc1"))?,
            fc2: candle_nn::linear(hidden, 1, vb.pp("cls_head.fc2"))?,
        })
    }

    /// Folds every batch norm (inference only).
    pub fn fold(&mut self) -> Result<()> {
        self.backbone.fold()?;
        self.seg_head.fold()
    }

    /// How much height and width must be divisible by.
    pub fn multiple(&self) -> usize {
        self.backbone.multiple()
    }

    /// Both heads on one study's slices `[n, 1, h, w]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<MultitaskOutput> {
        let features = self.backbone.forward_t(x, train)?;
        let segmentation = self.seg_head.forward_t(&features, train)?;
        let pooled: Vec<Tensor> = self
            .pyramid
            .iter()
            .map(|&b| match self.pool {
                PyramidPool::Average => adaptive_avg_pool(&features, b),
                PyramidPool::Max => adaptive_max_pool(&features, b),
            })
            .collect::<Result<_>>()?;
        Ok(MultitaskOutput {
            segmentation,
            features: Tensor::cat(&pooled, 1)?,
        })
    }

    /// The study's COVID-19 logit `[1]` from its slices' features max-pooled over slices.
    pub fn classify(&self, pooled: &Tensor) -> Result<Tensor> {
        self.fc2
            .forward(&self.fc1.forward(pooled)?.relu()?)?
            .flatten_all()
    }
}
