//! The training loss of one example.

use super::sample::Example;
use crate::infer::slices_tensor;
use crate::nets::{Net, blocks::bce_with_logits};
use anyhow::Result;
use candle_core::{DType, Device, Tensor};

/// Weight of the classification term beside segmentation (the paper's multitask loss).
pub const MULTITASK_CLS_WEIGHT: f64 = 0.1;

/// Binary cross-entropy of the segmentation (over the slices of the studies whose masks are
/// learnt) plus that of each study's class (networks with a classification head; features
/// max-pooled over the study's slices).
pub(super) fn loss(net: &Net, ex: &Example, device: &Device) -> Result<Tensor> {
    let x = slices_tensor(&ex.input, 0, ex.input.nz, device)?;
    let out = net.forward_t(&x, true)?;
    let mut total = Tensor::zeros((), DType::F32, device)?;
    if let Some(seg) = out.segmentation {
        let t = slices_tensor(&ex.target, 0, ex.target.nz, device)?;
        if ex.studies.iter().all(|p| p.segment) {
            total = (total + bce_with_logits(&seg, &t)?)?;
        } else {
            let (mut outs, mut targets, mut at) = (Vec::new(), Vec::new(), 0);
            for p in &ex.studies {
                if p.segment {
                    outs.push(seg.narrow(0, at, p.slices)?);
                    targets.push(t.narrow(0, at, p.slices)?);
                }
                at += p.slices;
            }
            if !outs.is_empty() {
                let (o, t) = (Tensor::cat(&outs, 0)?, Tensor::cat(&targets, 0)?);
                total = (total + bce_with_logits(&o, &t)?)?;
            }
        }
    }
    if let Some(features) = out.features {
        let mut pooled = Vec::with_capacity(ex.studies.len());
        let mut at = 0;
        for p in &ex.studies {
            pooled.push(features.narrow(0, at, p.slices)?.max_keepdim(0)?);
            at += p.slices;
        }
        let logit = net
            .classify(&Tensor::cat(&pooled, 0)?)?
            .expect("a classifier");
        let labels: Vec<f32> = ex.studies.iter().map(|p| p.label).collect();
        let y = Tensor::new(labels.as_slice(), device)?;
        let weight = if net.segments() {
            MULTITASK_CLS_WEIGHT
        } else {
            1.0
        };
        total = (total + (bce_with_logits(&logit, &y)? * weight)?)?;
    }
    Ok(total)
}
