//! The test set's manifest: study ids, image geometry and checksums that pin a test set,
//! so that the scorer and the server refuse annotations that are not the ones announced.
//!
//! The manifest is public, so it must not reveal which studies are COVID-19. A checksum
//! of each lesion folder would: an empty folder has a well-known digest. Lesion folders
//! and `labels.csv` are therefore digested under a key derived from the private lung maps
//! (`sha256("triageboard-manifest-key\0" || lung map bytes)`), which only someone who holds
//! the annotations can compute; the lung maps' own checksums are published as they are,
//! since they say nothing about categories. See `docs/manifest.md`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const KEY_PREFIX: &[u8] = b"triageboard-manifest-key\0";

/// One study's public description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyEntry {
    /// The study id.
    pub id: String,
    /// The image's shape `[nx, ny, nz]`.
    pub shape: [usize; 3],
    /// The image's voxel spacing in millimetres.
    pub spacing: [f64; 3],
    /// sha256 of `images/<id>.nii.gz`.
    pub image_sha256: String,
    /// sha256 of `lungs/<id>.nii.gz`.
    pub lungs_sha256: String,
    /// Keyed digest of the study's lesion folder (see the module docs).
    pub lesions_digest: String,
}

/// The manifest file (`hidden-test-manifest/*.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// A short name for the test set.
    pub name: String,
    /// Number of studies.
    pub n_studies: usize,
    /// Studies per category, in aggregate only.
    pub category_counts: BTreeMap<String, usize>,
    /// Keyed digest of `labels.csv`.
    pub labels_digest: String,
    /// Every study, sorted by id.
    pub studies: Vec<StudyEntry>,
}

/// Why a manifest could not be built or does not match.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file could not be read.
    #[error("reading {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The annotations themselves are unusable.
    #[error(transparent)]
    Annotations(#[from] crate::AnnotationsError),
    /// An image header could not be read.
    #[error("{path}")]
    Volume {
        /// The image.
        path: PathBuf,
        /// What the reader found.
        source: volume::Error,
    },
    /// The files differ from the manifest; one line per difference.
    #[error("the files do not match the manifest:\n{}", .0.join("\n"))]
    Mismatch(Vec<String>),
    /// The manifest file is not valid JSON of this shape.
    #[error("{path}: not a manifest")]
    Parse {
        /// The manifest file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// A study's manifest key and the differences found in its files.
type StudyCheck = ([u8; 32], Vec<String>);

/// Checksums of one study's annotation files.
struct AnnotationDigests {
    lungs_sha256: String,
    lesions_digest: String,
    key: [u8; 32],
}

impl Manifest {
    /// Builds the manifest of a test set from its public images and private annotations.
    pub fn build(
        name: &str,
        images: &Path,
        annotations: &crate::Annotations,
    ) -> Result<Self, ManifestError> {
        let studies: Vec<(StudyEntry, [u8; 32])> = annotations
            .studies()
            .par_iter()
            .map(|study| {
                let image = image_path(images, study.id.as_str());
                let header = File::open(&image)
                    .map_err(|source| ManifestError::Io {
                        path: image.clone(),
                        source,
                    })
                    .and_then(|f| {
                        volume::read_header(io::BufReader::new(f), &volume::Limits::default())
                            .map_err(|source| ManifestError::Volume {
                                path: image.clone(),
                                source,
                            })
                    })?;
                let geometry = header.geometry;
                let digests = digest_study(&study.lungs, &study.raters)?;
                let entry = StudyEntry {
                    id: study.id.to_string(),
                    shape: geometry.shape,
                    spacing: geometry.spacing(),
                    image_sha256: sha256_file(&image, None)?.0,
                    lungs_sha256: digests.lungs_sha256,
                    lesions_digest: digests.lesions_digest,
                };
                Ok((entry, digests.key))
            })
            .collect::<Result<_, ManifestError>>()?;
        let mut category_counts = BTreeMap::new();
        for study in annotations.studies() {
            *category_counts.entry(study.category.clone()).or_insert(0) += 1;
        }
        let keys: Vec<[u8; 32]> = studies.iter().map(|(_, key)| *key).collect();
        Ok(Self {
            name: name.to_owned(),
            n_studies: studies.len(),
            category_counts,
            labels_digest: labels_digest(&annotations.dir().join("labels.csv"), &keys)?,
            studies: studies.into_iter().map(|(entry, _)| entry).collect(),
        })
    }

    /// Reads a manifest file.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = fs::read(path).map_err(|source| ManifestError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|source| ManifestError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The manifest as pretty JSON with a final newline (the committed form).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// A version string: the sha256 of the committed form, recorded with every score.
    pub fn version(&self) -> String {
        hex(&Sha256::digest(self.to_json().as_bytes()))
    }

    /// Checks that `annotations` are the ones this manifest pins, naming every file that
    /// differs. The messages name hidden files: they are for organizers only.
    pub fn verify_annotations(
        &self,
        annotations: &crate::Annotations,
    ) -> Result<(), ManifestError> {
        let mut problems = Vec::new();
        let expected: BTreeMap<&str, &StudyEntry> =
            self.studies.iter().map(|s| (s.id.as_str(), s)).collect();
        let found: Vec<&str> = annotations
            .studies()
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        for id in &found {
            if !expected.contains_key(id) {
                problems.push(format!(
                    "labels.csv lists study {id}, which the manifest does not have"
                ));
            }
        }
        for id in expected.keys() {
            if !found.contains(id) {
                problems.push(format!("labels.csv lacks study {id} of the manifest"));
            }
        }
        let digests: Vec<Result<StudyCheck, ManifestError>> = annotations
            .studies()
            .par_iter()
            .map(|study| {
                let digests = digest_study(&study.lungs, &study.raters)?;
                let mut differences = Vec::new();
                if let Some(entry) = expected.get(study.id.as_str()) {
                    if entry.lungs_sha256 != digests.lungs_sha256 {
                        differences.push(format!("lungs/{}: differs from the manifest", file_name(&study.lungs)));
                    } else if entry.lesions_digest != digests.lesions_digest {
                        differences.push(format!(
                            "lesions/{}/: differs from the manifest (a rater's mask was changed, added or removed)",
                            study.id
                        ));
                    }
                    if entry.shape != study.geometry.shape {
                        differences.push(format!("lungs/{}: shape differs from the manifest", file_name(&study.lungs)));
                    }
                }
                Ok((digests.key, differences))
            })
            .collect();
        let mut keys = Vec::new();
        for result in digests {
            let (key, differences) = result?;
            keys.push(key);
            problems.extend(differences);
        }
        if problems.is_empty()
            && labels_digest(&annotations.dir().join("labels.csv"), &keys)? != self.labels_digest
        {
            problems.push("labels.csv: differs from the manifest".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ManifestError::Mismatch(problems))
        }
    }

    /// Checks the public images against the manifest, naming every file that differs.
    pub fn verify_images(&self, images: &Path) -> Result<(), ManifestError> {
        let problems: Vec<String> = self
            .studies
            .par_iter()
            .map(|study| {
                let path = image_path(images, &study.id);
                match sha256_file(&path, None) {
                    Ok((digest, _)) if digest == study.image_sha256 => Ok(None),
                    Ok(_) => Ok(Some(format!(
                        "{}: differs from the manifest",
                        path.display()
                    ))),
                    Err(ManifestError::Io { source, .. })
                        if source.kind() == io::ErrorKind::NotFound =>
                    {
                        Ok(Some(format!("{}: missing", path.display())))
                    }
                    Err(err) => Err(err),
                }
            })
            .collect::<Result<Vec<_>, ManifestError>>()?
            .into_iter()
            .flatten()
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ManifestError::Mismatch(problems))
        }
    }
}

/// `images/<id>.nii.gz`, or `.nii` when only that exists.
pub fn image_path(images: &Path, id: &str) -> PathBuf {
    let gz = images.join(format!("{id}.nii.gz"));
    let plain = images.join(format!("{id}.nii"));
    if !gz.exists() && plain.exists() {
        plain
    } else {
        gz
    }
}

fn digest_study(lungs: &Path, raters: &[PathBuf]) -> Result<AnnotationDigests, ManifestError> {
    let (lungs_sha256, key) = sha256_file(lungs, Some(KEY_PREFIX))?;
    let key = key.unwrap_or_default();
    let mut lesions = Sha256::new();
    lesions.update(key);
    for rater in raters {
        let (digest, _) = sha256_file(rater, None)?;
        lesions.update(format!("{} {digest}\n", file_name(rater)).as_bytes());
    }
    Ok(AnnotationDigests {
        lungs_sha256,
        lesions_digest: hex(&lesions.finalize()),
        key,
    })
}

fn labels_digest(path: &Path, keys: &[[u8; 32]]) -> Result<String, ManifestError> {
    let bytes = fs::read(path).map_err(|source| ManifestError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut hasher = Sha256::new();
    for key in keys {
        hasher.update(key);
    }
    hasher.update(&bytes);
    Ok(hex(&hasher.finalize()))
}

/// The file's sha256, and with `keyed_prefix` also `sha256(prefix || bytes)`, in one read.
fn sha256_file(
    path: &Path,
    keyed_prefix: Option<&[u8]>,
) -> Result<(String, Option<[u8; 32]>), ManifestError> {
    let io_error = |source| ManifestError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut plain = Sha256::new();
    let mut keyed = keyed_prefix.map(|prefix| {
        let mut hasher = Sha256::new();
        hasher.update(prefix);
        hasher
    });
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_error)?;
        if n == 0 {
            break;
        }
        plain.update(&buf[..n]);
        if let Some(keyed) = keyed.as_mut() {
            keyed.update(&buf[..n]);
        }
    }
    Ok((hex(&plain.finalize()), keyed.map(|k| k.finalize().into())))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
