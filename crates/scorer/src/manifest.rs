//! The test set's manifest: study ids, image geometry and digests that pin a test set, so
//! that the scorer and the server refuse annotations that are not the ones announced.
//!
//! The manifest is public, so its digests of private files must confirm nothing to a
//! participant (EVALUATION.md section 5.3). Plain checksums would: an empty lesion folder has
//! one well-known digest, a lung map rebuilt from the public image (or, for the synthetic
//! set, from the public code and seed) could be checked against its checksum, and so could a
//! guessed `labels.csv`. Every digest of a private file is therefore an HMAC-SHA256 under the
//! organizers' secret [`ManifestKey`], with a purpose string and, for a study's files, the
//! study id inside the MAC, so that two studies with equally empty lesion folders get
//! unrelated digests. Only the images, which are public, keep plain sha256 checksums. See
//! `docs/manifest.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The `private_digests` value of the manifests this version builds and accepts.
pub const PRIVATE_DIGESTS: &str = "hmac-sha256";

/// The name of the synthetic reference test set's manifest
/// (`hidden-test-manifest/synthetic-demo.json`).
pub const DEMO_NAME: &str = "synthetic-demo";

/// The key of the synthetic demo's manifest, public on purpose.
///
/// The synthetic reference set is a pure function of public code and a public seed: anyone
/// can run `triageboard dataset synth` and read every label, so no key could keep anything
/// about it secret. A published key lets anyone check the committed manifest against a
/// regenerated set without being handed a file. Never pin a real test set with it.
pub const DEMO_KEY: ManifestKey = ManifestKey::from_bytes(*b"triageboard-public-demo-key-2020");

// Purpose strings: each kind of digest is a MAC of its own kind of message, so that no digest
// can stand in for one of another kind.
const KEY_CHECK: &str = "triageboard-manifest/key-check";
const LUNGS: &str = "triageboard-manifest/lungs";
const LESIONS: &str = "triageboard-manifest/lesions";
const LABELS: &str = "triageboard-manifest/labels";

/// The secret that a manifest's digests of private files are keyed with: 32 bytes, stored as
/// 64 hex digits in a file that the organizers keep private, with the annotations.
#[derive(Clone, PartialEq, Eq)]
pub struct ManifestKey([u8; 32]);

impl fmt::Debug for ManifestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A key must not reach a log through a `{:?}`.
        f.write_str("ManifestKey(..)")
    }
}

impl ManifestKey {
    /// A key from its bytes (a fresh key takes 32 random bytes).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses a key file's text: 64 hex digits, surrounding whitespace ignored. The error
    /// says what is wrong without quoting the text, which may be someone's secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("it is empty; a manifest key is 64 hex digits".to_owned());
        }
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(
                "a manifest key is 64 hex digits (0-9, a-f), and this holds other characters"
                    .to_owned(),
            );
        }
        if text.len() != 64 {
            return Err(format!(
                "a manifest key is 64 hex digits (32 bytes), and this holds {} digits",
                text.len()
            ));
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            // Only ASCII hex digits are left, so every slice is on a character boundary.
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| "a manifest key is 64 hex digits (0-9, a-f)".to_owned())?;
        }
        Ok(Self(bytes))
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = fs::read_to_string(path).map_err(|source| match source.kind() {
            io::ErrorKind::InvalidData => ManifestError::KeyFormat {
                path: path.to_owned(),
                reason: "it is not text; a manifest key is 64 hex digits".to_owned(),
            },
            _ => ManifestError::Io {
                path: path.to_owned(),
                source,
            },
        })?;
        Self::parse(&text).map_err(|reason| ManifestError::KeyFormat {
            path: path.to_owned(),
            reason,
        })
    }

    /// Writes the key to a new file readable by its owner only (mode 0600). An existing
    /// file is never replaced: the manifests built with the key it holds would no longer
    /// verify.
    pub fn write_new(&self, path: &Path) -> Result<(), ManifestError> {
        let io_error = |source| ManifestError::Io {
            path: path.to_owned(),
            source,
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => ManifestError::KeyExists {
                path: path.to_owned(),
            },
            _ => io_error(source),
        })?;
        writeln!(file, "{}", hex(&self.0)).map_err(io_error)?;
        file.sync_all().map_err(io_error)
    }

    /// A MAC over `purpose`, then the study id when the digest is of one study's file.
    fn mac(&self, purpose: &str, id: Option<&str>) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        // Study ids cannot hold a NUL (`StudyId::parse`), so the NUL ends the id unambiguously.
        if let Some(id) = id {
            mac.update(id.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    /// The manifest's `key_check`: a MAC of nothing but a purpose string, so it tells a
    /// wrong key from changed files and says nothing about any file.
    fn check_value(&self) -> String {
        hex(&self.mac(KEY_CHECK, None).finalize().into_bytes())
    }
}

/// One study's public description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyEntry {
    /// The study id.
    pub id: String,
    /// The image's shape `[nx, ny, nz]`.
    pub shape: [usize; 3],
    /// The image's voxel spacing in millimetres.
    pub spacing: [f64; 3],
    /// sha256 of `images/<id>.nii.gz` (public, so not keyed).
    pub image_sha256: String,
    /// Keyed digest of `lungs/<id>.nii.gz` (see the module docs).
    pub lungs_digest: String,
    /// Keyed digest of the study's lesion folder (see the module docs).
    pub lesions_digest: String,
}

/// The manifest file (`hidden-test-manifest/*.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// A short name for the test set.
    pub name: String,
    /// How the digests of private files are made: [`PRIVATE_DIGESTS`]. A manifest without
    /// this field was built by an older TriageBoard with unkeyed digests, and is refused.
    pub private_digests: String,
    /// A MAC of a fixed string under the key, so that a wrong key is reported as such rather
    /// than as a change of every file.
    pub key_check: String,
    /// Number of studies.
    pub n_studies: usize,
    /// Studies per category, in aggregate only.
    pub category_counts: BTreeMap<String, usize>,
    /// Keyed digest of `labels.csv`.
    pub labels_digest: String,
    /// Every study, sorted by id.
    pub studies: Vec<StudyEntry>,
}

/// Why a manifest or its key could not be built, read or checked, or does not match.
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
    /// The manifest has unkeyed digests, from before `private_digests` existed.
    #[error(
        "{path}: this manifest was built by an older TriageBoard (its digests of private files are not keyed); rebuild it with `dataset manifest`"
    )]
    OldFormat {
        /// The manifest file.
        path: PathBuf,
    },
    /// The manifest's digests are made in a way this version does not know.
    #[error(
        "{path}: private_digests is {found:?}, and this TriageBoard only knows {PRIVATE_DIGESTS:?}; check it with the TriageBoard that built it, or rebuild it with `dataset manifest`"
    )]
    UnknownDigests {
        /// The manifest file.
        path: PathBuf,
        /// Its `private_digests`.
        found: String,
    },
    /// A key file does not hold a key.
    #[error("{path}: not a manifest key: {reason}")]
    KeyFormat {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A new key was to be written where a file already is.
    #[error(
        "{path} already exists; a manifest key is never overwritten, since the manifests built with it would no longer verify"
    )]
    KeyExists {
        /// The key file.
        path: PathBuf,
    },
    /// The key is not the one the manifest was built with.
    #[error(
        "the key is not the one the manifest {name:?} was built with (its key_check differs), so nothing can be checked with it"
    )]
    WrongKey {
        /// The manifest's name.
        name: String,
    },
}

/// The keyed digests of one study's annotation files.
struct StudyDigests {
    lungs: String,
    lesions: String,
}

impl Manifest {
    /// Builds the manifest of a test set from its public images and private annotations,
    /// keying the digests of private files with `key`.
    pub fn build(
        name: &str,
        images: &Path,
        annotations: &crate::Annotations,
        key: &ManifestKey,
    ) -> Result<Self, ManifestError> {
        let studies: Vec<StudyEntry> = annotations
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
                let digests = digest_study(key, study)?;
                Ok(StudyEntry {
                    id: study.id.to_string(),
                    shape: geometry.shape,
                    spacing: geometry.spacing(),
                    image_sha256: sha256_file(&image)?,
                    lungs_digest: digests.lungs,
                    lesions_digest: digests.lesions,
                })
            })
            .collect::<Result<_, ManifestError>>()?;
        let mut category_counts = BTreeMap::new();
        for study in annotations.studies() {
            *category_counts.entry(study.category.clone()).or_insert(0) += 1;
        }
        Ok(Self {
            name: name.to_owned(),
            private_digests: PRIVATE_DIGESTS.to_owned(),
            key_check: key.check_value(),
            n_studies: studies.len(),
            category_counts,
            labels_digest: labels_digest(key, &annotations.dir().join("labels.csv"))?,
            studies,
        })
    }

    /// Reads a manifest file, refusing one built by an older TriageBoard with a message
    /// that says so (rather than reporting every file as changed).
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = fs::read(path).map_err(|source| ManifestError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Parses a manifest's text, as [`Manifest::load`] does; `path` names it in errors.
    pub fn from_json(text: &[u8], path: &Path) -> Result<Self, ManifestError> {
        /// The one field that tells the format, read before the rest.
        #[derive(Deserialize)]
        struct Format {
            private_digests: Option<String>,
        }
        let parse_error = |source| ManifestError::Parse {
            path: path.to_owned(),
            source,
        };
        let format: Format = serde_json::from_slice(text).map_err(parse_error)?;
        match format.private_digests.as_deref() {
            None => {
                return Err(ManifestError::OldFormat {
                    path: path.to_owned(),
                });
            }
            Some(PRIVATE_DIGESTS) => {}
            Some(other) => {
                return Err(ManifestError::UnknownDigests {
                    path: path.to_owned(),
                    found: other.to_owned(),
                });
            }
        }
        serde_json::from_slice(text).map_err(parse_error)
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

    /// The key to check this manifest with when none is given: the public [`DEMO_KEY`] for
    /// the synthetic demo's manifest ([`DEMO_NAME`]), none for any other.
    pub fn default_key(&self) -> Option<ManifestKey> {
        (self.name == DEMO_NAME).then_some(DEMO_KEY)
    }

    /// Checks that `key` is the one this manifest was built with.
    pub fn check_key(&self, key: &ManifestKey) -> Result<(), ManifestError> {
        if key.check_value() == self.key_check {
            Ok(())
        } else {
            Err(ManifestError::WrongKey {
                name: self.name.clone(),
            })
        }
    }

    /// Checks that `annotations` are the ones this manifest pins, naming every file that
    /// differs; `key` must be the one the manifest was built with. The messages name hidden
    /// files: they are for organizers only.
    pub fn verify_annotations(
        &self,
        annotations: &crate::Annotations,
        key: &ManifestKey,
    ) -> Result<(), ManifestError> {
        self.check_key(key)?;
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
        let differences: Vec<Vec<String>> = annotations
            .studies()
            .par_iter()
            .map(|study| {
                let mut differences = Vec::new();
                let Some(entry) = expected.get(study.id.as_str()) else {
                    return Ok(differences);
                };
                let digests = digest_study(key, study)?;
                let lungs = file_name(&study.lungs);
                if entry.lungs_digest != digests.lungs {
                    differences.push(format!("lungs/{lungs}: differs from the manifest"));
                }
                if entry.shape != study.geometry.shape {
                    differences.push(format!("lungs/{lungs}: shape differs from the manifest"));
                }
                if entry.lesions_digest != digests.lesions {
                    differences.push(format!(
                        "lesions/{}/: differs from the manifest (a rater's mask was changed, added or removed)",
                        study.id
                    ));
                }
                Ok(differences)
            })
            .collect::<Result<_, ManifestError>>()?;
        problems.extend(differences.into_iter().flatten());
        if labels_digest(key, &annotations.dir().join("labels.csv"))? != self.labels_digest {
            problems.push("labels.csv: differs from the manifest".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ManifestError::Mismatch(problems))
        }
    }

    /// Checks the public images against the manifest, naming every file that differs. The
    /// images' checksums are not keyed, so this needs no key.
    pub fn verify_images(&self, images: &Path) -> Result<(), ManifestError> {
        let problems: Vec<String> = self
            .studies
            .par_iter()
            .map(|study| {
                let path = image_path(images, &study.id);
                match sha256_file(&path) {
                    Ok(digest) if digest == study.image_sha256 => Ok(None),
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

/// The keyed digests of a study's lung map (its bytes) and lesion folder (one
/// `<rater file> <sha256>\n` line per mask, sorted), each under the study id.
fn digest_study(
    key: &ManifestKey,
    study: &crate::annotations::StudyTruth,
) -> Result<StudyDigests, ManifestError> {
    let id = study.id.as_str();
    let mut lungs = key.mac(LUNGS, Some(id));
    read_chunks(&study.lungs, |chunk| lungs.update(chunk))?;
    let mut lines = study
        .raters
        .iter()
        .map(|rater| Ok(format!("{} {}\n", file_name(rater), sha256_file(rater)?)))
        .collect::<Result<Vec<String>, ManifestError>>()?;
    lines.sort();
    let mut lesions = key.mac(LESIONS, Some(id));
    for line in &lines {
        lesions.update(line.as_bytes());
    }
    Ok(StudyDigests {
        lungs: hex(&lungs.finalize().into_bytes()),
        lesions: hex(&lesions.finalize().into_bytes()),
    })
}

/// The keyed digest of `labels.csv`'s bytes, whatever its columns.
fn labels_digest(key: &ManifestKey, path: &Path) -> Result<String, ManifestError> {
    let mut mac = key.mac(LABELS, None);
    read_chunks(path, |chunk| mac.update(chunk))?;
    Ok(hex(&mac.finalize().into_bytes()))
}

/// The file's plain sha256, read in chunks: for public images, inside the keyed lesion
/// digest, and for the service's record of its test-set version.
pub fn sha256_file(path: &Path) -> Result<String, ManifestError> {
    let mut hasher = Sha256::new();
    read_chunks(path, |chunk| hasher.update(chunk))?;
    Ok(hex(&hasher.finalize()))
}

/// Feeds the file to `consume` in 64 KiB chunks, so that large volumes are never held whole.
fn read_chunks(path: &Path, mut consume: impl FnMut(&[u8])) -> Result<(), ManifestError> {
    let io_error = |source| ManifestError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_error)?;
        if n == 0 {
            return Ok(());
        }
        consume(&buf[..n]);
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_key_file_is_64_hex_digits_with_surrounding_whitespace_ignored() {
        let key = ManifestKey::parse(&format!("  {}\r\n", HEX.to_uppercase())).unwrap();
        let bytes: Vec<u8> = (0..32).collect();
        assert_eq!(key, ManifestKey::from_bytes(bytes.try_into().unwrap()));
    }

    #[test]
    fn a_malformed_key_is_refused_without_quoting_it() {
        for (text, want) in [
            ("", "empty"),
            ("\n", "empty"),
            (&HEX[..62], "holds 62"),
            (&format!("{HEX}00"), "holds 66"),
            (&format!("{}zz", &HEX[..62]), "other characters"),
            (
                &format!("{} {}", &HEX[..32], &HEX[32..]),
                "other characters",
            ),
        ] {
            let reason = ManifestKey::parse(text).unwrap_err();
            assert!(reason.contains(want), "{text:?}: {reason}");
            assert!(reason.contains("64 hex digits"), "{reason}");
            assert!(!reason.contains(&HEX[..8]), "{reason}");
        }
    }

    #[test]
    fn a_written_key_reads_back_and_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.key");
        let key = ManifestKey::from_bytes([0xab; 32]);
        key.write_new(&path).unwrap();
        assert_eq!(ManifestKey::load(&path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
    }

    #[test]
    fn an_existing_key_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.key");
        fs::write(&path, HEX).unwrap();
        let error = ManifestKey::from_bytes([1; 32])
            .write_new(&path)
            .unwrap_err();
        assert!(
            matches!(error, ManifestError::KeyExists { .. }),
            "{error:?}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), HEX);
    }

    #[test]
    fn a_key_file_that_is_not_text_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.key");
        fs::write(&path, [0xff; 32]).unwrap();
        let error = ManifestKey::load(&path).unwrap_err();
        assert!(error.to_string().contains("not text"), "{error}");
    }

    #[test]
    fn a_key_never_shows_in_debug_output() {
        let key = ManifestKey::parse(HEX).unwrap();
        assert_eq!(format!("{key:?}"), "ManifestKey(..)");
    }
}
