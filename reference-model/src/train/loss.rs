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
            let (mut outs, mut targets) = (Vec::new(), Vec::new());
            for (at, p) in ex.parts().filter(|(_, p)| p.segment) {
                outs.push(seg.narrow(0, at, p.slices)?);
                targets.push(t.narrow(0, at, p.slices)?);
            }
            if !outs.is_empty() {
                let (o, t) = (Tensor::cat(&outs, 0)?, Tensor::cat(&targets, 0)?);
                total = (total + bce_with_logits(&o, &t)?)?;
            }
        }
    }
    if let Some(features) = out.features {
        let pooled = ex
            .parts()
            .map(|(at, p)| features.narrow(0, at, p.slices)?.max_keepdim(0))
            .collect::<candle_core::Result<Vec<_>>>()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::Arch;
    use crate::prep::Stack;
    use crate::train::sample::Part;
    use candle_nn::{VarBuilder, VarMap};

    /// A multitask step of a COVID-19 study (mask learnt) and a normal one (mask not
    /// learnt): the normal study's target does not enter the loss, the COVID-19 study's does.
    #[test]
    fn the_multitask_loss_learns_masks_of_the_marked_studies_only() -> Result<()> {
        let device = Device::Cpu;
        let arch = Arch::Multitask {
            width: 4,
            levels: 2,
            pyramid: vec![1, 2],
            hidden: 4,
            pool: crate::nets::PyramidPool::Max,
        };
        let map = VarMap::new();
        let net = Net::new(&arch, VarBuilder::from_varmap(&map, DType::F32, &device))?;
        let (w, h, per) = (16, 16, 2);
        let mut input = Stack::zeros(w, h, 2 * per);
        input
            .data
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = ((i * 37) % 11) as f32 / 11.0);
        let example = |covid_target: f32, normal_target: f32| {
            let mut target = Stack::zeros(w, h, 2 * per);
            let plane = w * h;
            target.data[..per * plane].fill(covid_target);
            target.data[per * plane..].fill(normal_target);
            Example {
                input: input.clone(),
                target,
                studies: vec![
                    Part {
                        slices: per,
                        label: 1.0,
                        segment: true,
                    },
                    Part {
                        slices: per,
                        label: 0.0,
                        segment: false,
                    },
                ],
            }
        };
        // Train-mode batch norm uses the batch's statistics: the same input, the same output.
        let value =
            |ex: &Example| -> Result<f32> { Ok(loss(&net, ex, &device)?.to_scalar::<f32>()?) };
        let base = value(&example(0.0, 0.0))?;
        assert!(base.is_finite() && base > 0.0);
        assert!((value(&example(0.0, 1.0))? - base).abs() < 1e-6);
        assert!((value(&example(1.0, 0.0))? - base).abs() > 1e-3);
        Ok(())
    }
}
