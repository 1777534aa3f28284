//! Measures the synthetic test set: generation time, lung density, achieved severity,
//! inter-rater agreement, and how the paper's Hounsfield-threshold baseline fares on it.
//!
//! `cargo run --release -p phantom --example measure [seed] [realistic-count]`
//!
//! With several seeds (`1,2,3` or `1-20`) it prints only the baseline's scores, one line a
//! seed, and their mean and standard deviation: how far the published seed's figures are
//! from what the generator gives on average (the published test set is seed 2020; set the
//! phantom's ranges by looking at other seeds).
//!
//! The baseline is the project's own (`reference-model/src/threshold.rs`, paper sec. 2,
//! 4.3) on the ground-truth lungs: voxels in [-700, 300] HU inside the lungs, an in-plane
//! Gaussian blur of sigma 8 mm (4 pixels of the paper's 2 mm grid) slice by slice,
//! threshold 0.5 (the small-component removal step is left out). Its severity is then
//! scored by ROC AUC exactly as the leaderboard would.

use phantom::{Category, Profile, SeverityClass, Split, Study, generate, plan};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let seeds = args.next().map_or(vec![42], |s| parse_seeds(&s));
    let realistic: usize = args.next().map_or(2, |s| s.parse().expect("count"));
    if let [seed] = seeds[..] {
        measure(seed, realistic);
    } else {
        compare_seeds(&seeds);
    }
}

/// `7`, `1,2,3` or `1-20`.
fn parse_seeds(s: &str) -> Vec<u64> {
    let number = |t: &str| t.trim().parse::<u64>().expect("a seed is a whole number");
    match s.split_once('-') {
        Some((lo, hi)) => (number(lo)..=number(hi)).collect(),
        None => s.split(',').map(number).collect(),
    }
}

/// Every study of the demo test set of `seed`, measured.
fn measure_rows(seed: u64) -> (Vec<Row>, f64) {
    let specs = plan(Split::Test, Profile::Demo, seed, None);
    let mut rows = Vec::new();
    let start = Instant::now();
    for spec in &specs {
        let t = Instant::now();
        let study = generate(spec);
        let seconds = t.elapsed().as_secs_f64();
        rows.push(Row {
            category: spec.category,
            class: spec.severity_class(),
            seconds,
            lung_hu: mean_lung_hu(&study),
            severity: study.affected_percent(),
            dice: (study.lesions.len() == 2).then(|| dice(&study.lesions[0], &study.lesions[1])),
            baseline: threshold_severity(&study),
        });
    }
    (rows, start.elapsed().as_secs_f64())
}

/// The board's ROC AUC (`metrics::roc_auc`); NaN where it is undefined.
fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    metrics::roc_auc(pos, neg).unwrap_or(f64::NAN)
}

/// The baseline's severities of the studies whose category `keep` accepts.
fn baseline_of(rows: &[Row], keep: impl Fn(Category) -> bool) -> Vec<f64> {
    rows.iter()
        .filter(|r| keep(r.category))
        .map(|r| r.baseline)
        .collect()
}

/// The baseline's scores on `rows`: AUC vs all, AUC vs normal, Spearman over COVID-19.
fn baseline_scores(rows: &[Row]) -> [f64; 3] {
    let pos = baseline_of(rows, |c| c == Category::Covid);
    let (truth, found): (Vec<f64>, Vec<f64>) = rows
        .iter()
        .filter(|r| r.category == Category::Covid)
        .map(|r| (r.severity, r.baseline))
        .unzip();
    [
        auc(&pos, &baseline_of(rows, |c| c != Category::Covid)),
        auc(&pos, &baseline_of(rows, |c| c == Category::Normal)),
        metrics::spearman(&truth, &found).unwrap_or(f64::NAN),
    ]
}

fn compare_seeds(seeds: &[u64]) {
    println!("| seed | AUC vs all | AUC vs normal | Spearman, covid |");
    println!("|---|---|---|---|");
    let scores: Vec<[f64; 3]> = seeds
        .iter()
        .map(|&seed| {
            let s = baseline_scores(&measure_rows(seed).0);
            println!("| {seed} | {:.3} | {:.3} | {:.3} |", s[0], s[1], s[2]);
            s
        })
        .collect();
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

fn measure(seed: u64, realistic: usize) {
    let (rows, total) = measure_rows(seed);
    let generating: f64 = rows.iter().map(|r| r.seconds).sum();
    println!(
        "demo test set (seed {seed}): {} studies generated in {generating:.1} s ({total:.1} s with the baseline)",
        rows.len()
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let times: Vec<f64> = rows.iter().map(|r| r.seconds).collect();
    println!(
        "| generation, demo study | {:.3} s mean, {:.3} s max |",
        mean(&times),
        times.iter().cloned().fold(0.0, f64::max)
    );
    for c in Category::ALL {
        let hu: Vec<f64> = rows
            .iter()
            .filter(|r| r.category == c)
            .map(|r| r.lung_hu)
            .collect();
        println!(
            "| mean lung HU, {c} | {:.0} (n = {}) |",
            mean(&hu),
            hu.len()
        );
    }
    for class in SeverityClass::ALL {
        let s: Vec<f64> = rows
            .iter()
            .filter(|r| r.class == Some(class))
            .map(|r| r.severity)
            .collect();
        let lo = s.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = s.iter().cloned().fold(0.0, f64::max);
        let inside = s
            .iter()
            .filter(|&&v| SeverityClass::of_percent(v) == Some(class))
            .count();
        println!(
            "| achieved severity, {class:?} | {lo:.1}-{hi:.1} % ({inside}/{} in class) |",
            s.len()
        );
    }
    let d: Vec<f64> = rows.iter().filter_map(|r| r.dice).collect();
    let dmin = d.iter().cloned().fold(1.0, f64::min);
    let dmax = d.iter().cloned().fold(0.0, f64::max);
    println!(
        "| inter-rater Dice | {:.3} mean ({dmin:.3}-{dmax:.3}) |",
        mean(&d)
    );
    for c in Category::ALL {
        let b = baseline_of(&rows, |k| k == c);
        println!(
            "| threshold baseline severity, {c} | {:.1} % mean |",
            mean(&b)
        );
    }
    let [vs_all, _, rho] = baseline_scores(&rows);
    println!("| threshold baseline AUC vs all | {vs_all:.3} (paper 0.57) |");
    let pos = baseline_of(&rows, |c| c == Category::Covid);
    for c in [Category::Normal, Category::Pneumonia, Category::Nodules] {
        let neg = baseline_of(&rows, |k| k == c);
        println!("| threshold baseline AUC vs {c} | {:.3} |", auc(&pos, &neg));
    }
    println!("| threshold baseline Spearman, covid | {rho:.3} (paper 0.87) |");

    let mut big = plan(Split::Test, Profile::Realistic, seed, None);
    big.sort_by_key(|s| std::cmp::Reverse(s.geometry.shape[2]));
    for spec in big.iter().take(realistic) {
        let t = Instant::now();
        let study = generate(spec);
        let s = t.elapsed().as_secs_f64();
        let mvox = study.hu.len() as f64 / 1e6;
        println!(
            "| generation, realistic {:?} {} | {s:.2} s ({:.0} ns/voxel) |",
            spec.geometry.shape,
            spec.category,
            s * 1e3 / mvox
        );
    }
}

struct Row {
    category: Category,
    class: Option<SeverityClass>,
    seconds: f64,
    lung_hu: f64,
    severity: f64,
    dice: Option<f64>,
    baseline: f64,
}

fn mean_lung_hu(s: &Study) -> f64 {
    let (sum, n) =
        s.hu.iter()
            .zip(&s.lungs)
            .filter(|(_, l)| **l > 0)
            .fold((0.0, 0usize), |(a, n), (h, _)| (a + f64::from(*h), n + 1));
    sum / n.max(1) as f64
}

fn dice(a: &[u8], b: &[u8]) -> f64 {
    let (mut both, mut first, mut second) = (0u64, 0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        both += u64::from(x & y);
        first += u64::from(x);
        second += u64::from(y);
    }
    // Two empty masks agree.
    metrics::dice(both, first, second).unwrap_or(1.0)
}

/// The paper's threshold segmenter, scored with the EVALUATION.md severity formula.
fn threshold_severity(s: &Study) -> f64 {
    let [nx, ny, nz] = s.geometry.shape;
    let sp = s.geometry.spacing();
    let mut v: Vec<f32> =
        s.hu.iter()
            .zip(&s.lungs)
            .map(|(&h, &l)| f32::from(l > 0 && (-700..=300).contains(&h)))
            .collect();
    // Sigma 8 mm in-plane, none along z, as the reference baseline blurs slice by slice.
    blur(&mut v, [nx, ny, nz], 0, (8.0 / sp[0]) as f32);
    blur(&mut v, [nx, ny, nz], 1, (8.0 / sp[1]) as f32);
    metrics::affected_percent_of(s.lungs.iter().zip(&v).map(|(&l, &b)| (l, b > 0.5)))
}

fn blur(v: &mut [f32], shape: [usize; 3], axis: usize, sigma: f32) {
    if sigma < 0.3 {
        return;
    }
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let norm: f32 = k.iter().sum();
    let stride = [1, shape[0], shape[0] * shape[1]][axis];
    let len = shape[axis] as isize;
    let src = v.to_vec();
    for (idx, out) in v.iter_mut().enumerate() {
        let pos = ((idx / stride) % shape[axis]) as isize;
        let mut acc = 0.0;
        for (t, w) in (-r..=r).zip(&k) {
            let p = (pos + t).clamp(0, len - 1);
            acc += w * src[(idx as isize + (p - pos) * stride as isize) as usize];
        }
        *out = acc / norm;
    }
}
