//! The reference pipeline of the seed paper on Candle: lung segmentation, the
//! Hounsfield-threshold baseline, 2D and 3D U-Nets, U-Net+, a slice-wise ResNet and the
//! multitask network; training, inference and submission writing.
//!
//! CPU by default; the `cuda` feature (and `cudnn`) adds Candle's CUDA backend.

pub mod nets;
pub mod prep;
