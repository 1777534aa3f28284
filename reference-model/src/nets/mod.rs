//! The architectures, with PyTorch `state_dict` parameter names and configurable widths,
//! so the small shipped variants and the paper-size ones share one implementation.

pub mod blocks;
pub mod conv;
pub mod multitask;
pub mod norm;
pub mod resnet;
pub mod unet;

pub use blocks::Dims;

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// An architecture and its size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Arch {
    /// Residual U-Net with a segmentation head (2D, or 3D through depth taps).
    Unet {
        /// 2D slice-wise or 3D.
        dims: Dims,
        /// Channels of the first level (doubling per level).
        width: usize,
        /// Number of levels.
        levels: usize,
    },
    /// Slice-wise ResNet with bottleneck blocks, max-pooled over slices.
    Resnet {
        /// Base width (torchvision: 64).
        width: usize,
        /// Bottleneck blocks per stage (ResNet50: 3, 4, 6, 3).
        blocks: Vec<usize>,
    },
    /// The paper's multitask network.
    Multitask {
        /// Backbone width of the first level.
        width: usize,
        /// Backbone levels.
        levels: usize,
        /// Pyramid pooling grid sizes.
        pyramid: Vec<usize>,
        /// Units between the two fully connected layers.
        hidden: usize,
        /// How each pyramid cell pools its pixels (`average` in records written before it
        /// existed).
        #[serde(default)]
        pool: PyramidPool,
    },
}

/// How a cell of the multitask model's pyramid pools its pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PyramidPool {
    /// The cell's mean: what the models shipped until 2026-12-06 used. A lesion of a few
    /// pixels is a few hundredths of a cell's mean.
    #[default]
    Average,
    /// The cell's maximum, as in the spatial pyramid pooling of He et al. (2014) that the
    /// paper cites: one lesion pixel sets its cell's value.
    Max,
}

impl Arch {
    /// Whether the network convolves slices or volumes (only U-Nets come in 3D).
    pub fn dims(&self) -> Dims {
        match self {
            Self::Unet { dims, .. } => *dims,
            _ => Dims::Two,
        }
    }

    /// Sets the width of the first level (U-Nets, the multitask backbone) or the base
    /// width (ResNet): the paper's sizes are 16 to 64 where the shipped models use 8.
    pub fn set_width(&mut self, new: usize) {
        match self {
            Self::Unet { width, .. }
            | Self::Resnet { width, .. }
            | Self::Multitask { width, .. } => {
                *width = new;
            }
        }
    }
}

/// A built network.
#[derive(Clone, Debug)]
pub enum Net {
    /// Segmentation only.
    Seg(unet::SegNet),
    /// Classification only.
    Resnet(resnet::ResNet),
    /// Both.
    Multitask(multitask::Multitask),
}

/// What a network returns for one batch of slices (or one volume).
#[derive(Clone, Debug)]
pub struct Outputs {
    /// Lesion (or lung) logits `[n, 1, h, w]`, for networks with a segmentation head.
    pub segmentation: Option<Tensor>,
    /// Per-slice features `[n, f]` for networks with a classifier: max-pool them over all of
    /// a study's slices and give them to [`Net::classify`].
    pub features: Option<Tensor>,
}

impl Net {
    /// Builds `arch`, loading its parameters from `vb` (or creating them, for training).
    pub fn new(arch: &Arch, vb: VarBuilder) -> Result<Self> {
        Ok(match arch {
            Arch::Unet {
                dims,
                width,
                levels,
            } => Self::Seg(unet::SegNet::new(vb, *dims, *width, *levels)?),
            Arch::Resnet { width, blocks } => {
                Self::Resnet(resnet::ResNet::new(vb, *width, blocks)?)
            }
            Arch::Multitask {
                width,
                levels,
                pyramid,
                hidden,
                pool,
            } => Self::Multitask(multitask::Multitask::new(
                vb, *width, *levels, pyramid, *hidden, *pool,
            )?),
        })
    }

    /// Folds every batch norm into the convolution before it, for inference: the same
    /// outputs up to rounding, fewer passes over the feature maps. Never call it before
    /// training.
    pub fn fold_batch_norms(&mut self) -> Result<()> {
        match self {
            Self::Seg(n) => n.fold(),
            Self::Resnet(n) => n.fold(),
            Self::Multitask(n) => n.fold(),
        }
    }

    /// How much the input's height and width must be divisible by.
    pub fn multiple(&self) -> usize {
        match self {
            Self::Seg(n) => n.backbone.multiple(),
            Self::Resnet(_) => 32,
            Self::Multitask(n) => n.multiple(),
        }
    }

    /// Runs the network on `[n, 1, h, w]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Outputs> {
        Ok(match self {
            Self::Seg(n) => Outputs {
                segmentation: Some(n.forward_t(x, train)?),
                features: None,
            },
            Self::Resnet(n) => Outputs {
                segmentation: None,
                features: Some(n.slice_features(x, train)?),
            },
            Self::Multitask(n) => {
                let out = n.forward_t(x, train)?;
                Outputs {
                    segmentation: Some(out.segmentation),
                    features: Some(out.features),
                }
            }
        })
    }

    /// The COVID-19 logit `[1]` from slice features max-pooled over a study, `[1, f]`;
    /// `None` for networks without a classifier.
    pub fn classify(&self, pooled: &Tensor) -> Result<Option<Tensor>> {
        match self {
            Self::Seg(_) => Ok(None),
            Self::Resnet(n) => n.classify(pooled).map(Some),
            Self::Multitask(n) => n.classify(pooled).map(Some),
        }
    }

    /// Whether the network has a segmentation head.
    pub fn segments(&self) -> bool {
        !matches!(self, Self::Resnet(_))
    }

    /// Whether the network has a classifier.
    pub fn classifies(&self) -> bool {
        !matches!(self, Self::Seg(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn build(arch: &Arch) -> Result<(VarMap, Net)> {
        let map = VarMap::new();
        let net = Net::new(
            arch,
            VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
        )?;
        Ok((map, net))
    }

    #[test]
    fn a_wider_network_has_the_width_it_was_given() -> Result<()> {
        let mut arch = Arch::Unet {
            dims: Dims::Two,
            width: 8,
            levels: 2,
        };
        arch.set_width(16);
        assert!(matches!(arch, Arch::Unet { width: 16, .. }));
        let (narrow, _) = build(&Arch::Unet {
            dims: Dims::Two,
            width: 8,
            levels: 2,
        })?;
        let (wide, _) = build(&arch)?;
        let count = |map: &VarMap| -> usize { map.all_vars().iter().map(|v| v.elem_count()).sum() };
        assert!(count(&wide) > 3 * count(&narrow), "about 4x the weights");
        let mut resnet = Arch::Resnet {
            width: 8,
            blocks: vec![1],
        };
        resnet.set_width(64);
        assert!(matches!(resnet, Arch::Resnet { width: 64, .. }));
        Ok(())
    }

    #[test]
    fn parameter_names_follow_pytorch_state_dicts() -> Result<()> {
        let (map, _) = build(&Arch::Resnet {
            width: 4,
            blocks: vec![3, 4, 6, 3],
        })?;
        let names: std::collections::BTreeSet<String> =
            map.data().lock().expect("lock").keys().cloned().collect();
        for name in [
            "conv1.weight",
            "bn1.running_var",
            "layer1.0.downsample.0.weight",
            "layer4.2.bn3.bias",
            "fc.weight",
            "fc.bias",
        ] {
            assert!(names.contains(name), "missing {name}");
        }
        let convs = names
            .iter()
            .filter(|n| {
                n.ends_with(".weight") && (n.contains("conv") || n.ends_with("downsample.0.weight"))
            })
            .count();
        assert_eq!(convs, 53, "ResNet50 has 53 convolutions");
        Ok(())
    }

    #[test]
    fn folding_batch_norms_keeps_the_outputs() -> Result<()> {
        let x = Tensor::randn(0f32, 1.0, (4, 1, 32, 32), &Device::Cpu)?;
        for arch in [
            Arch::Unet {
                dims: Dims::Three,
                width: 4,
                levels: 3,
            },
            Arch::Resnet {
                width: 4,
                blocks: vec![1, 2, 1, 1],
            },
            Arch::Multitask {
                width: 4,
                levels: 3,
                pyramid: vec![1, 2],
                hidden: 8,
                pool: PyramidPool::Average,
            },
        ] {
            let (_, mut net) = build(&arch)?;
            // A few training passes move the running statistics away from 0 and 1.
            for _ in 0..3 {
                net.forward_t(&x, true)?;
            }
            let before = net.forward_t(&x, false)?;
            net.fold_batch_norms()?;
            let after = net.forward_t(&x, false)?;
            let pairs = [
                (before.segmentation, after.segmentation),
                (before.features, after.features),
            ];
            for (a, b) in pairs.into_iter().filter_map(|(a, b)| a.zip(b)) {
                let diff = (a - &b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
                let size = b.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
                assert!(
                    diff <= 1e-4 * size.max(1.0),
                    "{arch:?}: {diff} (largest {size})"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn every_architecture_maps_slices_to_the_documented_shapes() -> Result<()> {
        let x = Tensor::randn(0f32, 1.0, (3, 1, 32, 48), &Device::Cpu)?;
        for arch in [
            Arch::Unet {
                dims: Dims::Two,
                width: 4,
                levels: 3,
            },
            Arch::Unet {
                dims: Dims::Three,
                width: 4,
                levels: 3,
            },
            Arch::Resnet {
                width: 4,
                blocks: vec![1, 1, 1, 1],
            },
            Arch::Multitask {
                width: 4,
                levels: 3,
                pyramid: vec![1, 2, 4],
                hidden: 8,
                pool: PyramidPool::Max,
            },
        ] {
            let (_, net) = build(&arch)?;
            let out = net.forward_t(&x, true)?;
            if let Some(seg) = out.segmentation {
                assert_eq!(seg.dims(), &[3, 1, 32, 48], "{arch:?}");
            }
            if let Some(features) = out.features {
                assert_eq!(features.dim(0)?, 3, "{arch:?}");
                let logit = net
                    .classify(&features.max_keepdim(0)?)?
                    .expect("a classifier");
                assert_eq!(logit.dims(), &[1], "{arch:?}");
            }
        }
        Ok(())
    }
}
