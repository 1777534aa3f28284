//! The private annotations directory of EVALUATION.md section 1: `labels.csv`
//! (`study_id,category` with an optional third column `split`, section 5.1),
//! `lungs/<id>.nii.gz` and `lesions/<id>/<rater>.nii.gz`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use volume::Geometry;

use crate::counts::{StudyCounts, count_study};
use crate::masks;
use crate::scores::POSITIVE;
use crate::study_id::{StudyId, StudyIndex};

/// Why an annotations directory cannot be used. These messages are for organizers only:
/// they name hidden files.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationsError {
    /// A file or folder could not be read.
    #[error("reading {path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `labels.csv` is malformed.
    #[error("{path} line {line}: {message}")]
    Labels {
        /// The labels file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The files do not agree with `labels.csv`.
    #[error("{0}")]
    Layout(String),
    /// A NIfTI file of the annotations could not be decoded.
    #[error("{path}")]
    Volume {
        /// The file.
        path: PathBuf,
        /// What the reader found.
        source: volume::Error,
    },
}

/// The part of the test set a study belongs to (EVALUATION.md section 5.1): live scores
/// are computed over the public split, final scores over the private one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Scored on every submission (the live board).
    Public,
    /// Scored for final submissions only (the main board).
    Private,
}

impl Split {
    /// `public` or `private`, as in `labels.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Public => "public",
            Split::Private => "private",
        }
    }

    /// Parses [`Split::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Split::Public, Split::Private]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One study's hidden annotations: where they are and the grid they share with the image.
#[derive(Clone, Debug)]
pub struct StudyTruth {
    /// The study.
    pub id: StudyId,
    /// Its category (`covid` is positive).
    pub category: String,
    /// Its split, when `labels.csv` gives one (otherwise the service draws it).
    pub split: Option<Split>,
    /// `lungs/<id>.nii.gz`.
    pub lungs: PathBuf,
    /// `lesions/<id>/*`, sorted by rater name; empty for non-COVID studies.
    pub raters: Vec<PathBuf>,
    /// The study's grid, read from the lung map's header (the image has the same).
    pub geometry: Geometry,
    /// `pixdim[1..=3]` of the lung map's header.
    pub pixdim: [f64; 3],
    /// How many times any study of these annotations was decoded (shared by all studies).
    decodes: Arc<AtomicUsize>,
}

/// The loaded annotations directory. Holds only paths, categories and geometry; volumes
/// are decoded when a submission is scored, one study per thread at a time.
#[derive(Debug)]
pub struct Annotations {
    dir: PathBuf,
    index: StudyIndex,
    studies: Vec<StudyTruth>,
    true_severity: OnceLock<Vec<f64>>,
}

impl Annotations {
    /// Reads `labels.csv`, checks that the files match it and reads every lung map's header.
    pub fn load(dir: &Path) -> Result<Self, AnnotationsError> {
        let labels = read_labels(&dir.join("labels.csv"))?;
        let index = StudyIndex::new(labels.keys().cloned().collect());
        check_no_strays(dir, &labels)?;
        let studies = labels
            .into_par_iter()
            .map(|(id, (category, split))| load_study(dir, id, category, split))
            .collect::<Result<Vec<_>, _>>()?;
        let decodes = Arc::new(AtomicUsize::new(0));
        let studies = studies
            .into_iter()
            .map(|study| StudyTruth {
                decodes: decodes.clone(),
                ..study
            })
            .collect();
        Ok(Self {
            dir: dir.to_owned(),
            index,
            studies,
            true_severity: OnceLock::new(),
        })
    }

    /// The directory the annotations came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The study ids, sorted; positions index [`Annotations::studies`].
    pub fn index(&self) -> &StudyIndex {
        &self.index
    }

    /// Every study, in the order of [`Annotations::index`].
    pub fn studies(&self) -> &[StudyTruth] {
        &self.studies
    }

    /// How many times a study's hidden volumes were decoded since loading. The server's
    /// tests check with it that an invalid submission reads nothing hidden.
    pub fn volumes_decoded(&self) -> usize {
        self.studies
            .first()
            .map_or(0, |s| s.decodes.load(Ordering::Relaxed))
    }

    /// The ground-truth affected percentage of every study (0 without lesion files),
    /// decoded once and then cached: scoring a predictions table needs no other volume.
    pub fn true_severity(&self) -> Result<&[f64], AnnotationsError> {
        if let Some(cached) = self.true_severity.get() {
            return Ok(cached);
        }
        let computed = self
            .studies
            .par_iter()
            .map(|study| {
                if study.raters.is_empty() {
                    return Ok(0.0);
                }
                let truth = study.decode()?;
                Ok(count_study(&truth, None).true_severity())
            })
            .collect::<Result<Vec<f64>, AnnotationsError>>()?;
        Ok(self.true_severity.get_or_init(|| computed))
    }
}

/// A study's hidden masks, decoded.
pub struct DecodedTruth {
    /// Right lung (label 1) and left lung (label 2).
    pub lungs: [volume::Mask; 2],
    /// One mask per rater.
    pub raters: Vec<volume::Mask>,
}

impl StudyTruth {
    /// Decodes the lung map and every rater's mask.
    pub fn decode(&self) -> Result<DecodedTruth, AnnotationsError> {
        self.decodes.fetch_add(1, Ordering::Relaxed);
        let lungs = masks::read_lungs(&self.lungs, &self.geometry)?;
        let raters = self
            .raters
            .iter()
            .map(|path| masks::read_truth_mask(path, &self.geometry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DecodedTruth { lungs, raters })
    }

    /// Decodes the annotations and counts them against `predicted` in one pass.
    pub fn count(&self, predicted: Option<&volume::Mask>) -> Result<StudyCounts, AnnotationsError> {
        Ok(count_study(&self.decode()?, predicted))
    }
}

/// A study's category and optional split, as `labels.csv` gives them.
pub type Label = (String, Option<Split>);

/// Reads a `labels.csv` strictly (the header `study_id,category[,split]`, valid ids,
/// lowercase categories, no study twice), as the scorer does; the training code reads
/// its labels with it too.
pub fn read_labels(path: &Path) -> Result<BTreeMap<StudyId, Label>, AnnotationsError> {
    let text = fs::read_to_string(path).map_err(|source| AnnotationsError::Io {
        path: path.to_owned(),
        source,
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let bad = |line: usize, message: String| AnnotationsError::Labels {
        path: path.to_owned(),
        line: line as u64 + 1,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let with_split = match lines.next() {
        Some((_, header)) if header.trim() == "study_id,category" => false,
        Some((_, header)) if header.trim() == "study_id,category,split" => true,
        Some((n, header)) => {
            return Err(bad(
                n,
                format!(
                    "expected the header study_id,category or study_id,category,split, found {header:?}"
                ),
            ));
        }
        None => return Err(bad(0, "the file is empty".to_owned())),
    };
    let columns = if with_split { 3 } else { 2 };
    let mut labels = BTreeMap::new();
    for (n, line) in lines {
        let cells: Vec<&str> = line.trim().split(',').collect();
        if cells.len() != columns {
            let expected = if with_split {
                "study_id,category,split"
            } else {
                "study_id,category"
            };
            return Err(bad(n, format!("expected {expected}, found {line:?}")));
        }
        let (id, category) = (cells[0], cells[1]);
        let split = match cells.get(2).map(|s| s.trim()) {
            None => None,
            Some(text) => Some(Split::parse(text).ok_or_else(|| {
                bad(
                    n,
                    format!("split {text:?} must be \"public\" or \"private\""),
                )
            })?),
        };
        let id = StudyId::parse(id.trim()).map_err(|why| bad(n, format!("{id:?}: {why}")))?;
        let category = category.trim();
        let word = category
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            && category
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !word || category == "all" {
            return Err(bad(
                n,
                format!("category {category:?} must be a lowercase word other than \"all\""),
            ));
        }
        if labels
            .insert(id.clone(), (category.to_owned(), split))
            .is_some()
        {
            return Err(bad(n, format!("study {id} appears twice")));
        }
    }
    if labels.is_empty() {
        return Err(bad(0, "no study is listed".to_owned()));
    }
    Ok(labels)
}

/// Lung maps or lesion folders of studies that `labels.csv` does not list point to stale
/// or mismatched annotations: refuse them rather than silently score without them.
fn check_no_strays(dir: &Path, labels: &BTreeMap<StudyId, Label>) -> Result<(), AnnotationsError> {
    for (folder, strip) in [("lungs", true), ("lesions", false)] {
        let path = dir.join(folder);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && folder == "lesions" => {
                continue;
            }
            Err(source) => return Err(AnnotationsError::Io { path, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| AnnotationsError::Io {
                path: path.clone(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = if strip {
                masks::strip_nifti_extension(&name).unwrap_or(&name)
            } else {
                &name
            };
            let listed = StudyId::parse(id)
                .ok()
                .is_some_and(|id| labels.contains_key(&id));
            if !listed {
                return Err(AnnotationsError::Layout(format!(
                    "{folder}/{name} belongs to no study of labels.csv"
                )));
            }
        }
    }
    Ok(())
}

fn load_study(
    dir: &Path,
    id: StudyId,
    category: String,
    split: Option<Split>,
) -> Result<StudyTruth, AnnotationsError> {
    let lungs = ["nii.gz", "nii"]
        .iter()
        .map(|ext| dir.join("lungs").join(format!("{id}.{ext}")))
        .find(|p| p.is_file())
        .ok_or_else(|| AnnotationsError::Layout(format!("lungs/{id}.nii.gz is missing")))?;
    let lesion_dir = dir.join("lesions").join(id.as_str());
    let mut raters = Vec::new();
    if lesion_dir.is_dir() {
        let entries = fs::read_dir(&lesion_dir).map_err(|source| AnnotationsError::Io {
            path: lesion_dir.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| AnnotationsError::Io {
                    path: lesion_dir.clone(),
                    source,
                })?
                .path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if masks::strip_nifti_extension(&name).is_none() {
                return Err(AnnotationsError::Layout(format!(
                    "lesions/{id}/{name} is not a .nii or .nii.gz file"
                )));
            }
            raters.push(path);
        }
        raters.sort();
    }
    if !raters.is_empty() && category != POSITIVE {
        return Err(AnnotationsError::Layout(format!(
            "lesions/{id}/ has masks but the study's category is {category:?}; only {POSITIVE} studies have lesion masks"
        )));
    }
    let (geometry, pixdim) = masks::read_geometry(&lungs)?;
    Ok(StudyTruth {
        id,
        category,
        split,
        lungs,
        raters,
        geometry,
        pixdim,
        decodes: Arc::default(),
    })
}
