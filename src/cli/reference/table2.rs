//! `reference eval`'s Markdown: the paper's Table 2 layout for our models, and the paper's
//! pattern checks.

use reference_model::zoo::{self, Model};
use std::path::Path;

/// The paper's Table 2 layout for our models, with the paper's figures beside ours and the
/// pattern checks of the paper's section 5. Each row is named by the title of the config in
/// `weights` (a wider ResNet says its width), or the shipped one's.
pub(super) fn render(rows: &[(Model, scorer::Scores, f64)], weights: &Path) -> String {
    use std::fmt::Write as _;
    let cat = |s: &scorer::Scores, c: &str| {
        s.auc_vs_category
            .iter()
            .find(|(k, _)| k == c)
            .and_then(|(_, m)| m.value)
    };
    let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"));
    let ci = |m: &scorer::Metric| match (m.value, m.ci) {
        (Some(v), Some([lo, hi])) => format!("{v:.3} [{lo:.2}, {hi:.2}]"),
        (v, _) => f(v),
    };
    let mut out = String::from(
        "| model | AUC vs normal | AUC vs all [95% CI] | AUC vs pneumonia | AUC vs nodules | Spearman [95% CI] | Dice [95% CI] | s/study |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (name, s, t) in rows {
        let title = zoo::Shipped::load(weights, *name)
            .map_or_else(|_| zoo::config(*name).title, |s| s.config.title);
        let _ = writeln!(
            out,
            "| {title} | {} | {} | {} | {} | {} | {} | {t:.2} |",
            f(cat(s, "normal")),
            ci(&s.auc_vs_all),
            f(cat(s, "pneumonia")),
            f(cat(s, "nodules")),
            ci(&s.spearman),
            ci(&s.dice)
        );
    }
    let get = |n: Model| rows.iter().find(|(m, _, _)| *m == n).map(|(_, s, _)| s);
    let mut checks = Vec::new();
    if let (Some(th), Some(mt)) = (get(Model::Threshold), get(Model::Multitask)) {
        checks.push((
            "thresholding is weaker than the multitask model at identification (AUC vs all)",
            th.auc_vs_all.value < mt.auc_vs_all.value,
        ));
    }
    for (unet, what) in [
        (
            Model::Unet,
            "the 2D U-Net is weaker than the multitask model against pneumonia",
        ),
        (
            Model::UnetPlus,
            "the 2D U-Net+ is weaker than the multitask model against pneumonia",
        ),
        (
            Model::Unet3d,
            "the 3D U-Net is weaker than the multitask model against pneumonia",
        ),
    ] {
        if let (Some(u), Some(mt)) = (get(unet), get(Model::Multitask)) {
            checks.push((what, cat(u, "pneumonia") < cat(mt, "pneumonia")));
        }
    }
    if let (Some(r), Some(mt)) = (get(Model::Resnet), get(Model::Multitask)) {
        checks.push((
            "ResNet ranks severity worse than the multitask model (Spearman)",
            r.spearman.value < mt.spearman.value,
        ));
    }
    if let Some(mt) = get(Model::Multitask) {
        let strong = mt.auc_vs_all.value.is_some_and(|v| v >= 0.9)
            && mt.spearman.value.is_some_and(|v| v >= 0.8);
        checks.push((
            "the multitask model is strong at both (AUC vs all >= 0.9 and Spearman >= 0.8)",
            strong,
        ));
    }
    out.push_str("\nThe paper's pattern (section 5):\n\n");
    for (what, ok) in checks {
        let _ = writeln!(out, "- [{}] {what}", if ok { "x" } else { " " });
    }
    out
}
