//! The whole per-study pipeline: lungs, then lesions and/or classification, then the
//! study's outputs on the image grid.

use crate::data::{to_working, working_size};
use crate::infer::run_net;
use crate::nets::{Arch, Dims, Net};
use crate::prep::{self, Bbox, Stack};
use crate::zoo::{self, Model, ModelConfig, Shipped, Task};
use crate::{lungsplit, projection, threshold};
use anyhow::{Context, Result, bail};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use std::path::Path;
use std::time::Instant;
use volume::{Geometry, Volume};

/// A model ready to run.
#[derive(Debug)]
pub struct Loaded {
    /// Its config.
    pub config: ModelConfig,
    /// The network (none for the threshold).
    pub net: Option<Net>,
}

impl Loaded {
    /// Loads reference model `name` from `weights` (`<name>.json`, `<name>.safetensors`).
    pub fn load(weights: &Path, name: Model, device: &Device) -> Result<Self> {
        let config = if name == Model::Threshold {
            zoo::config(name)
        } else {
            Shipped::load(weights, name)?.config
        };
        let net = match &config.arch {
            None => None,
            Some(arch) => {
                let path = weights.join(format!("{name}.safetensors"));
                let tensors = candle_core::safetensors::load(&path, device)
                    .with_context(|| format!("cannot read the weights {}", path.display()))?;
                let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
                Some(Net::new(arch, vb).with_context(|| {
                    format!("{} does not match the {name} architecture", path.display())
                })?)
            }
        };
        Ok(Self { config, net })
    }

    fn dims(&self) -> Dims {
        self.config.arch.as_ref().map_or(Dims::Two, Arch::dims)
    }
}

/// Seconds spent in each stage of one study.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Times {
    /// Reading the image (filled in by the caller).
    pub load: f64,
    /// Lung segmentation and the left/right split.
    pub lungs: f64,
    /// Lesion segmentation and/or classification, back on the image grid.
    pub lesions: f64,
    /// Writing the outputs (filled in by the caller).
    pub write: f64,
}

/// What the pipeline says about one study.
#[derive(Clone, Debug)]
pub struct StudyResult {
    /// The image grid.
    pub geometry: Geometry,
    /// Lung labels on the image grid: 0 background, 1 right, 2 left.
    pub lungs: Vec<u8>,
    /// Lesion mask on the image grid (0/1).
    pub lesions: Vec<u8>,
    /// COVID-19 probability (classifiers).
    pub covid_probability: Option<f64>,
    /// Percentage of the more affected lung covered by lesions.
    pub affected_percent: f64,
    /// The coronal projection PNG, when asked for.
    pub projection: Option<Vec<u8>>,
    /// Stage times.
    pub times: Times,
}

/// The lungs model and one or more reference models sharing its output.
#[derive(Debug)]
pub struct Pipeline {
    lungs: Loaded,
    models: Vec<Loaded>,
    device: Device,
}

/// The lung stage of one study, shared by every model.
#[derive(Clone, Debug)]
pub struct LungStage {
    /// The windowed image on the working grid.
    pub work: Stack,
    /// Lung probability on the working grid.
    pub probs: Stack,
    /// Lung labels on the image grid (1 right, 2 left).
    pub labels: Vec<u8>,
    /// Seconds it took.
    pub seconds: f64,
}

/// Resamples working-grid `src` to the image grid of `g` and thresholds at 0.5, slice by
/// slice in parallel (memory: one byte per image voxel).
fn to_image_mask(src: &Stack, g: &Geometry) -> Vec<u8> {
    use rayon::prelude::*;
    let s = g.spacing();
    let [nx, ny, nz] = g.shape;
    let (tx, ty) = (
        s[0] * nx as f64 / src.nx as f64,
        s[1] * ny as f64 / src.ny as f64,
    );
    let mut out = vec![0u8; nx * ny * nz];
    out.par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(k, dst)| {
            let one = Stack {
                nx: src.nx,
                ny: src.ny,
                nz: 1,
                data: src.slice(k).to_vec(),
            };
            let up = prep::resample(&one, (tx, ty), (nx, ny), (s[0], s[1]));
            dst.iter_mut()
                .zip(&up.data)
                .for_each(|(d, &v)| *d = u8::from(v >= 0.5));
        });
    out
}

impl Pipeline {
    /// Loads the lungs model and `models` from `weights`.
    pub fn load(weights: &Path, models: &[Model], device: Device) -> Result<Self> {
        let lungs = Loaded::load(weights, Model::Lungs, &device)?;
        let mut loaded = Vec::with_capacity(models.len());
        for &model in models {
            if model == Model::Lungs {
                bail!(
                    "lungs is the pipeline's first stage, not a lesion model: pick among {}",
                    zoo::names()[1..].join(", ")
                );
            }
            let m = Loaded::load(weights, model, &device)?;
            if lungs.config.spacing_mm != m.config.spacing_mm && m.net.is_some() {
                bail!("the lungs and {model} models use different working grids");
            }
            loaded.push(m);
        }
        Ok(Self {
            lungs,
            models: loaded,
            device,
        })
    }

    /// The configs of the models, in the order given to [`Pipeline::load`].
    pub fn configs(&self) -> Vec<&ModelConfig> {
        self.models.iter().map(|m| &m.config).collect()
    }

    /// Runs the lungs model and splits its mask into right and left.
    pub fn lungs(&self, image: &Volume<i16>) -> Result<LungStage> {
        let t = Instant::now();
        let g = image.geometry();
        let spacing = self.lungs.config.spacing_mm;
        let work = to_working(image.data(), g, spacing, |v| prep::window(f32::from(v)));
        let (mx, my) = working_size(g, spacing);
        let full = Bbox {
            x0: 0,
            x1: mx,
            y0: 0,
            y1: my,
            z0: 0,
            z1: work.nz,
        };
        let net = self
            .lungs
            .net
            .as_ref()
            .context("the lungs model has no network")?;
        let padded = full.padded(net.multiple());
        let run = run_net(net, Dims::Two, &work.crop(&full, padded, 0.0), &self.device)?;
        let probs = run
            .probs
            .context("the lungs model gave no map")?
            .crop(&full, (mx, my), 0.0);
        let labels = lungsplit::split(&to_image_mask(&probs, g), g);
        Ok(LungStage {
            work,
            probs,
            labels,
            seconds: t.elapsed().as_secs_f64(),
        })
    }

    /// Runs model number `index` on an image whose lung stage is done, rendering the
    /// coronal projection only when `with_projection` is set.
    pub fn run(
        &self,
        index: usize,
        image: &Volume<i16>,
        lungs: &LungStage,
        with_projection: bool,
    ) -> Result<StudyResult> {
        let model = &self.models[index];
        let g = image.geometry().clone();
        let spacing = self.lungs.config.spacing_mm;
        let (mx, my, nz) = (lungs.work.nx, lungs.work.ny, lungs.work.nz);
        let t = Instant::now();
        let mut covid_probability = None;
        let lesion_work = match Bbox::of(&lungs.probs, crate::data::LUNG_MARGIN) {
            None => Stack::zeros(mx, my, nz),
            Some(bbox) => match &model.net {
                None => {
                    let lung_voxels = lungs.probs.data.iter().filter(|v| **v >= 0.5).count();
                    let (lo, hi) = threshold::HU_RANGE;
                    let indicator: Vec<f32> = image
                        .data()
                        .iter()
                        .zip(&lungs.labels)
                        .map(|(&hu, &l)| f32::from(u8::from(l != 0 && (lo..=hi).contains(&hu))))
                        .collect();
                    threshold::lesions(
                        &to_working(&indicator, &g, spacing, |v| v),
                        spacing,
                        lung_voxels,
                    )
                }
                Some(net) => {
                    let padded = bbox.padded(net.multiple());
                    let run = run_net(
                        net,
                        model.dims(),
                        &lungs.work.crop(&bbox, padded, 0.0),
                        &self.device,
                    )?;
                    covid_probability = run.covid;
                    let mut field = Stack::zeros(mx, my, nz);
                    if let Some(probs) = run.probs {
                        field.paste(&bbox, &probs);
                    }
                    field
                }
            },
        };
        let mut lesions = if model.config.task == Task::Classifier {
            vec![0u8; g.voxel_count()]
        } else {
            to_image_mask(&lesion_work, &g)
        };
        lesions
            .iter_mut()
            .zip(&lungs.labels)
            .for_each(|(m, &l)| *m &= u8::from(l != 0));
        let affected_percent = affected_percent(&lesions, &lungs.labels);
        let projection = with_projection
            .then(|| {
                projection::render(
                    &lungs.work,
                    &lesion_work,
                    &lungs.probs,
                    g.spacing()[2] / spacing,
                )
            })
            .transpose()?;
        let times = Times {
            lungs: lungs.seconds,
            lesions: t.elapsed().as_secs_f64(),
            ..Times::default()
        };
        Ok(StudyResult {
            geometry: g,
            lungs: lungs.labels.clone(),
            lesions,
            covid_probability,
            affected_percent,
            projection,
            times,
        })
    }
}

/// `100 * max over lungs of |lesions in lung| / |lung|` (EVALUATION.md), a lung without
/// voxels counting 0: [`metrics::affected_percent_of`] on the image grid.
pub fn affected_percent(lesions: &[u8], lungs: &[u8]) -> f64 {
    metrics::affected_percent_of(lungs.iter().zip(lesions).map(|(&l, &m)| (l, m != 0)))
}
