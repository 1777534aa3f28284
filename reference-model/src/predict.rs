//! `reference predict`: a folder of images through the pipeline into submission files,
//! one per model, reading each image and running the lungs model once for all of them.

use crate::data::{list_images, read_image};
use crate::pipeline::{Pipeline, Times};
use crate::submission::Writer;
use crate::zoo::Model;
use anyhow::{Context, Result, bail};
use candle_core::Device;
use std::path::PathBuf;
use std::time::Instant;

/// One model to run and where its submission goes.
#[derive(Clone, Debug)]
pub struct Output {
    /// Reference model.
    pub model: Model,
    /// Submission file to write (`.zip`, or `.csv` for the classifier).
    pub out: PathBuf,
    /// Folder for the coronal projection PNGs (`<id>.png`), if wanted.
    pub projections: Option<PathBuf>,
}

/// What to run on what.
#[derive(Clone, Debug)]
pub struct PredictOptions {
    /// Folder of `<id>.nii.gz` images.
    pub images: PathBuf,
    /// Folder of shipped weights.
    pub weights: PathBuf,
    /// The models.
    pub outputs: Vec<Output>,
}

/// Per-study stage times of a run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PredictReport {
    /// Studies written.
    pub studies: usize,
    /// Per model (in the order given), stage times per study in image order. The load and
    /// lung times are shared by all models.
    pub times: Vec<Vec<Times>>,
}

/// Runs every output's model over every image, calling `tick(done, total)` after each
/// study.
pub fn predict(
    opts: &PredictOptions,
    device: Device,
    tick: &mut dyn FnMut(usize, usize),
) -> Result<PredictReport> {
    if opts.outputs.is_empty() {
        bail!("no model to run");
    }
    let images = list_images(&opts.images)?;
    let names: Vec<Model> = opts.outputs.iter().map(|o| o.model).collect();
    let pipeline = Pipeline::load(&opts.weights, &names, device)?;
    let mut writers = Vec::with_capacity(opts.outputs.len());
    for (o, config) in opts.outputs.iter().zip(pipeline.configs()) {
        if let Some(dir) = &o.projections {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        writers.push(Writer::create(&o.out, config.task)?);
    }
    let mut times = vec![Vec::with_capacity(images.len()); opts.outputs.len()];
    for (n, (id, path)) in images.iter().enumerate() {
        let t = Instant::now();
        let image = read_image(path)?;
        let load = t.elapsed().as_secs_f64();
        let lungs = pipeline
            .lungs(&image)
            .with_context(|| format!("{id}: the lung stage failed"))?;
        for (m, o) in opts.outputs.iter().enumerate() {
            let mut result = pipeline
                .run(m, &image, &lungs, o.projections.is_some())
                .with_context(|| format!("{id}: {} failed", o.model))?;
            let t = Instant::now();
            writers[m].add(id, &result)?;
            if let (Some(dir), Some(png)) = (&o.projections, &result.projection) {
                std::fs::write(dir.join(format!("{id}.png")), png)?;
            }
            result.times.load = load;
            result.times.write = t.elapsed().as_secs_f64();
            times[m].push(result.times);
        }
        tick(n + 1, images.len());
    }
    for w in writers {
        w.finish()?;
    }
    Ok(PredictReport {
        studies: images.len(),
        times,
    })
}
