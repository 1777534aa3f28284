//! The demo's shipped baseline submissions: the files the reference models write on the
//! synthetic demo test set, kept beside the weights (`<weights>/demo-baselines/`) so that a
//! fresh demo shows its baselines in seconds instead of the minutes inference takes on two
//! cores.
//!
//! The cache is used only on the demo's first start, and only while it still matches: the
//! same test-set version (the demo manifest's) and the same bytes of every weights and
//! config file it was computed with. Organizers' reruns always compute everything. A test
//! (`tests/reference.rs`) recomputes a few studies with the shipped models and compares
//! them with the cached files byte for byte; `triageboard reference eval --write-demo-cache`
//! writes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use reference_model::predict::Output;
use reference_model::zoo::{self, Model};
use scorer::manifest::sha256_file;
use serde::{Deserialize, Serialize};

/// The cache's folder inside the weights folder.
pub const DIR: &str = "demo-baselines";

/// The cache's index, `index.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// The test-set version the submissions were computed on.
    pub testset_version: String,
    /// SHA-256 of every weights and config file the pipeline read, by file name.
    pub weights: BTreeMap<String, String>,
    /// Per model, its submission file (in this folder) and the file's SHA-256.
    pub files: BTreeMap<Model, CachedFile>,
}

/// One cached submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedFile {
    /// File name inside the cache folder.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// Why the cache cannot be used (said in the log; the baselines are then computed).
#[derive(Debug, thiserror::Error)]
pub enum Stale {
    /// No cache in this weights folder.
    #[error("no cache of the demo baselines in {0}")]
    Missing(PathBuf),
    /// The cache was computed on another test set.
    #[error("the cached demo baselines were computed on test set {cached}, not {current}")]
    TestSet {
        /// The cache's version.
        cached: String,
        /// The configured one.
        current: String,
    },
    /// Weights or configs changed since.
    #[error("the cached demo baselines were computed with other weights ({0} differs)")]
    Weights(String),
    /// A model is missing, or its file does not match the index.
    #[error("the cached demo baselines lack a valid file for {0}")]
    File(Model),
    /// The index or a file could not be read.
    #[error("the cache of the demo baselines is unreadable: {0}")]
    Unreadable(String),
}

/// The files of `weights` the pipeline reads for `models` (and the lungs), with their
/// SHA-256: `<name>.json` and `<name>.safetensors` of every model with a network.
pub fn weights_digests(weights: &Path, models: &[Model]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut all = vec![Model::Lungs];
    all.extend(models.iter().copied().filter(|&m| m != Model::Lungs));
    for model in all {
        if zoo::config(model).arch.is_none() {
            continue;
        }
        for ext in ["json", "safetensors"] {
            let name = format!("{model}.{ext}");
            let digest = sha256_file(&weights.join(&name))
                .with_context(|| format!("digesting {}", weights.join(&name).display()))?;
            out.insert(name, digest);
        }
    }
    Ok(out)
}

/// Copies the submissions of `outputs`, computed with `weights` on test set
/// `testset_version`, into `<weights>/demo-baselines/` with their index, replacing an
/// earlier cache. Returns the folder.
pub fn write(weights: &Path, testset_version: &str, outputs: &[Output]) -> Result<PathBuf> {
    let dir = weights.join(DIR);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let models: Vec<Model> = outputs.iter().map(|o| o.model).collect();
    let mut files = BTreeMap::new();
    for output in outputs {
        let ext = zoo::config(output.model).task.submission_extension();
        let file = format!("{}.{ext}", output.model);
        std::fs::copy(&output.out, dir.join(&file))
            .with_context(|| format!("copying {}", output.out.display()))?;
        let sha256 = sha256_file(&dir.join(&file))?;
        files.insert(output.model, CachedFile { file, sha256 });
    }
    let index = Index {
        testset_version: testset_version.to_owned(),
        weights: weights_digests(weights, &models)?,
        files,
    };
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_string_pretty(&index)? + "\n",
    )?;
    Ok(dir)
}

/// Reads the cache's index.
pub fn index(weights: &Path) -> Result<Index, Stale> {
    let path = weights.join(DIR).join("index.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Stale::Missing(weights.to_owned()));
        }
        Err(e) => return Err(Stale::Unreadable(format!("{}: {e}", path.display()))),
    };
    serde_json::from_str(&text).map_err(|e| Stale::Unreadable(format!("{}: {e}", path.display())))
}

/// The cached submission of each of `models` when the cache matches `testset_version` and
/// the weights in `weights` byte for byte, in the order of `models`.
pub fn lookup(
    weights: &Path,
    testset_version: &str,
    models: &[Model],
) -> Result<Vec<(Model, PathBuf)>, Stale> {
    let index = index(weights)?;
    if index.testset_version != testset_version {
        return Err(Stale::TestSet {
            cached: index.testset_version,
            current: testset_version.to_owned(),
        });
    }
    let current =
        weights_digests(weights, models).map_err(|e| Stale::Unreadable(format!("{e:#}")))?;
    if let Some(name) = current
        .iter()
        .find(|(name, digest)| index.weights.get(*name) != Some(*digest))
        .map(|(name, _)| name.clone())
    {
        return Err(Stale::Weights(name));
    }
    let dir = weights.join(DIR);
    models
        .iter()
        .map(|&model| {
            let cached = index.files.get(&model).ok_or(Stale::File(model))?;
            let path = dir.join(&cached.file);
            match sha256_file(&path) {
                Ok(digest) if digest == cached.sha256 => Ok((model, path)),
                _ => Err(Stale::File(model)),
            }
        })
        .collect()
}

/// Checks that `data` is the synthetic demo test set of this build (images and
/// annotations against the demo manifest) and returns its version.
pub fn demo_version(data: &Path) -> Result<String> {
    let manifest = scorer::manifest::Manifest::from_json(
        crate::dataset::DEMO_MANIFEST.as_bytes(),
        Path::new("hidden-test-manifest/synthetic-demo.json"),
    )?;
    let Some(key) = manifest.default_key() else {
        bail!("the built-in demo manifest has no public key");
    };
    let annotations = scorer::Annotations::load(&data.join("annotations"))
        .with_context(|| format!("loading {}", data.join("annotations").display()))?;
    manifest
        .verify_annotations(&annotations, &key)
        .and_then(|()| manifest.verify_images(&data.join("images")))
        .with_context(|| {
            format!(
                "{} is not the synthetic demo test set (triageboard dataset synth --split test)",
                data.display()
            )
        })?;
    Ok(manifest.version())
}
