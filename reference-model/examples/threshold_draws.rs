//! The board's own Hounsfield-threshold baseline (`Pipeline::run` with the `threshold`
//! model: `reference_model::threshold` on the working grid, small components removed) on
//! draws of the test split's composition: how the phantom's targets for it (issue 10
//! part 1: AUC vs normal 0.60-0.75, AUC vs all <= 0.65, Spearman over COVID-19 >= 0.8)
//! hold for the baseline the board shows, seed by seed, and on average.
//!
//! ```text
//! cargo run --release -p reference-model --example threshold_draws -- SEEDS [--predicted-lungs] [--weights DIR]
//! ```
//!
//! `SEEDS` is `7`, `1,2,3` or `1-20`. The studies are generated in memory (no files). By
//! default the baseline runs on each study's ground-truth lungs (its working-grid lung
//! map is the true mask resampled, as the lungs model's probabilities would be); with
//! `--predicted-lungs` the lungs model of `--weights` (default `reference-model/weights`)
//! draws them, exactly as `reference eval` does. The published test set is seed 2020: set
//! the phantom by other seeds (`docs/dataset.md`).

use anyhow::{Context, Result, bail};
use phantom::{Category, Profile, Split, generate, plan};
use rayon::prelude::*;
use reference_model::Device;
use reference_model::data::to_working;
use reference_model::pipeline::{LungStage, Pipeline};
use reference_model::prep;
use reference_model::zoo::{Model, config};
use std::path::PathBuf;
use volume::Volume;

fn main() -> Result<()> {
    let mut seeds = None;
    let mut predicted = false;
    let mut weights = PathBuf::from("reference-model/weights");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--predicted-lungs" => predicted = true,
            "--weights" => weights = args.next().context("--weights needs a folder")?.into(),
            s => seeds = Some(parse_seeds(s)?),
        }
    }
    let Some(seeds) = seeds else {
        bail!("give the seeds to draw: 7, 1,2,3 or 1-20");
    };
    let pipeline = Pipeline::load(&weights, &[Model::Threshold], Device::Cpu)?;
    let lungs = if predicted {
        "predicted"
    } else {
        "ground-truth"
    };
    println!("The board's threshold baseline on {lungs} lungs");
    println!();
    println!("| seed | AUC vs all | AUC vs normal | Spearman, covid |");
    println!("|---|---|---|---|");
    let mut scores = Vec::new();
    for &seed in &seeds {
        let s = scores_of(&pipeline, seed, predicted)?;
        println!("| {seed} | {:.3} | {:.3} | {:.3} |", s[0], s[1], s[2]);
        scores.push(s);
    }
    if scores.len() > 1 {
        let stat = |i: usize| {
            let column: Vec<f64> = scores.iter().map(|s| s[i]).collect();
            metrics::mean_and_sd(&column)
                .map_or_else(|| "n/a".into(), |(m, sd)| format!("{m:.3} (sd {sd:.3})"))
        };
        println!(
            "| mean of {} seeds | {} | {} | {} |",
            scores.len(),
            stat(0),
            stat(1),
            stat(2)
        );
    }
    let meeting = scores
        .iter()
        .filter(|s| s[0] <= 0.65 && (0.60..=0.75).contains(&s[1]) && s[2] >= 0.8)
        .count();
    println!();
    println!(
        "draws meeting all three targets (AUC vs all <= 0.65, AUC vs normal 0.60-0.75, \
         Spearman >= 0.8): {meeting} of {}",
        scores.len()
    );
    Ok(())
}

/// `7`, `1,2,3` or `1-20`.
fn parse_seeds(s: &str) -> Result<Vec<u64>> {
    let number = |t: &str| {
        t.trim()
            .parse::<u64>()
            .with_context(|| format!("{t:?} is not a seed: give whole numbers"))
    };
    match s.split_once('-') {
        Some((lo, hi)) => Ok((number(lo)?..=number(hi)?).collect()),
        None => s.split(',').map(number).collect(),
    }
}

/// AUC vs all, AUC vs normal and Spearman over COVID-19 of the baseline on the test
/// composition drawn with `seed`.
fn scores_of(pipeline: &Pipeline, seed: u64, predicted: bool) -> Result<[f64; 3]> {
    let spacing = config(Model::Lungs).spacing_mm;
    let rows: Vec<(Category, f64, f64)> = plan(Split::Test, Profile::Demo, seed, None)
        .par_iter()
        .map(|spec| {
            let study = generate(spec);
            let truth = study.affected_percent();
            let g = study.geometry.clone();
            let image = Volume::new(g.clone(), study.hu)?;
            let stage = if predicted {
                pipeline.lungs(&image)?
            } else {
                LungStage {
                    work: to_working(image.data(), &g, spacing, |v| prep::window(f32::from(v))),
                    probs: to_working(&study.lungs, &g, spacing, |l| f32::from(u8::from(l != 0))),
                    labels: study.lungs,
                    seconds: 0.0,
                }
            };
            let found = pipeline.run(0, &image, &stage, false)?.affected_percent;
            Ok((spec.category, truth, found))
        })
        .collect::<Result<_>>()?;
    let found = |keep: &dyn Fn(Category) -> bool| -> Vec<f64> {
        rows.iter().filter(|r| keep(r.0)).map(|r| r.2).collect()
    };
    let pos = found(&|c| c == Category::Covid);
    let auc = |neg: Vec<f64>| metrics::roc_auc(&pos, &neg).unwrap_or(f64::NAN);
    let (truth, guess): (Vec<f64>, Vec<f64>) = rows
        .iter()
        .filter(|r| r.0 == Category::Covid)
        .map(|r| (r.1, r.2))
        .unzip();
    Ok([
        auc(found(&|c| c != Category::Covid)),
        auc(found(&|c| c == Category::Normal)),
        metrics::spearman(&truth, &guess).unwrap_or(f64::NAN),
    ])
}
