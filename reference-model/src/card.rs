//! Model cards, written from the training record so that they can only say what happened.

use crate::nets::{Arch, Dims};
use crate::zoo::{Shipped, TrainOn};
use std::fmt::Write;

fn metric(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))
}

/// The Markdown card of a shipped model.
pub fn render(s: &Shipped) -> String {
    let c = &s.config;
    let mut out = format!("# Model card: {} (`{}`)\n\n", c.title, c.name);
    let _ = writeln!(
        out,
        "Task: {:?}. Working grid: axial slices at {} x {} mm, lung window [-1350, 150] HU scaled to [0, 1].\n",
        c.task, c.spacing_mm, c.spacing_mm
    );
    if let Some(arch) = &c.arch {
        let what = match arch {
            Arch::Unet {
                dims,
                width,
                levels,
            } => {
                let d = match dims {
                    Dims::Two => "2D",
                    Dims::Three => "3D",
                };
                format!("residual U-Net ({d}, {levels} levels, width {width} doubling per level)")
            }
            Arch::Resnet { width, blocks } => format!(
                "ResNet with bottleneck blocks {blocks:?} (ResNet-50 layout) at base width {width} (torchvision: 64)"
            ),
            Arch::Multitask {
                width,
                levels,
                pyramid,
                hidden,
                pool,
            } => format!(
                "multitask: residual U-Net backbone ({levels} levels, width {width}), segmentation head, pyramid pooling {pyramid:?} (each cell's {}) and two fully connected layers ({hidden} hidden units)",
                match pool {
                    crate::nets::PyramidPool::Average => "mean",
                    crate::nets::PyramidPool::Max => "maximum",
                }
            ),
        };
        let _ = writeln!(
            out,
            "## Architecture\n\n{}. Weights: `{}.safetensors`, PyTorch `state_dict` names.\n",
            what, c.name
        );
    }
    if let (Some(r), Some(rec)) = (&c.recipe, &s.record) {
        let _ = writeln!(
            out,
            "Trainable parameters: {} ({:.2} MB as float32).\n",
            rec.parameters,
            rec.parameters as f64 * 4.0 / 1e6
        );
        let on = match r.train_on {
            TrainOn::Covid => "COVID-19 studies only",
            TrainOn::All => "every study",
        };
        let _ = writeln!(
            out,
            "## Data\n\nSynthetic chest CT (`triageboard dataset synth`, demo profile, seed 2020). Trained on {on} of `{}` ({} studies, {} COVID-19); selected on `{}` ({} studies, {} COVID-19). The `test` split was never read.\n",
            rec.train.folder,
            rec.train.studies,
            rec.train.covid,
            rec.val.folder,
            rec.val.studies,
            rec.val.covid
        );
        let drop = r
            .lr_drop
            .map_or_else(String::new, |(at, lr)| format!(", {lr} from step {at}"));
        let limit = rec.time_limit_seconds.map_or_else(String::new, |limit| {
            format!(
                " (of the recipe's {}: stopped at its time limit of {limit:.0} s)",
                r.steps
            )
        });
        let studies = if r.studies > 1 {
            format!(" from each of {} studies", r.studies)
        } else {
            String::new()
        };
        let augment = if r.augment {
            ", each study varied at random (a left-right mirror, a shift within the padded plane, an intensity gain and offset)"
        } else {
            ""
        };
        let graded = if r.grade_matched {
            ", COVID-19 studies drawn in the validation split's CT1-CT4 proportions"
        } else {
            ""
        };
        let ema = r.ema.map_or_else(String::new, |d| {
            format!(
                "; validated and kept: an exponential moving average of the weights (decay {d})"
            )
        });
        let val_slices = r.val_slices.map_or_else(
            || "every slice of each study".to_owned(),
            |k| format!("at most {k} slices of each study"),
        );
        let val_share = rec.val_seconds.map_or_else(String::new, |v| {
            format!(
                ", of which validation {v:.0} s ({:.1}%)",
                100.0 * v / rec.wall_seconds.max(f64::MIN_POSITIVE)
            )
        });
        let _ = writeln!(
            out,
            "## Training\n\n{:?}, learning rate {}{drop}; {} steps{limit} of {} slices{studies}{augment}{graded}{ema}; seed {}. Validation every {} steps on {val_slices}; the weights of step {} were kept.\n\nWall time {:.0} s on {}{val_share}.\n",
            r.optimizer,
            r.lr,
            rec.steps,
            r.slices,
            r.seed,
            r.val_every,
            rec.best_step,
            rec.wall_seconds,
            rec.hardware,
        );
        let _ = writeln!(
            out,
            "## Validation (kept weights, ground-truth lungs, working grid)\n\n| Dice | ROC AUC vs all | Spearman | lung Dice |\n|---|---|---|---|\n| {} | {} | {} | {} |\n",
            metric(rec.best.dice),
            metric(rec.best.auc_vs_all),
            metric(rec.best.spearman),
            metric(rec.best.lung_dice)
        );
        let _ = writeln!(
            out,
            "| step | loss | Dice | AUC vs all | Spearman | lung Dice |\n|---|---|---|---|---|---|"
        );
        for h in &rec.history {
            let _ = writeln!(
                out,
                "| {} | {:.4} | {} | {} | {} | {} |",
                h.step,
                h.loss,
                metric(h.val.dice),
                metric(h.val.auc_vs_all),
                metric(h.val.spearman),
                metric(h.val.lung_dice)
            );
        }
        out.push('\n');
    }
    out.push_str("Test-set figures: docs/reference-models.md (`triageboard reference eval`).\n");
    out
}
