//! The reference pipeline of the seed paper on Candle: lung segmentation, the
//! Hounsfield-threshold baseline, 2D and 3D U-Nets, U-Net+, a slice-wise ResNet and the
//! multitask network; training, inference and submission writing.
//!
//! CPU by default; the `cuda` feature (and `cudnn`) adds Candle's CUDA backend.

pub mod nets;

pub use candle_core::Device;
pub mod card;
pub mod data;
pub mod device;
pub mod infer;
pub mod lungsplit;
pub mod pipeline;
pub mod predict;
pub mod prep;
pub mod projection;
pub mod submission;
pub mod threshold;
pub mod train;
pub mod zoo;
