//! The evaluation protocol of `docs/EVALUATION.md`: loading the hidden annotations,
//! validating a submission (a predictions table or a zip of lesion masks) with every
//! problem listed, and computing the published metrics.
//!
//! Nothing here knows HTTP or SQL: the command line and the web service both call
//! [`score`] and [`validate`].

pub mod annotations;
pub mod archive;
pub mod counts;
pub mod manifest;
pub mod masks;
pub mod problems;
pub mod scores;
pub mod study_id;
pub mod table;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use annotations::{Annotations, AnnotationsError, Split};
pub use metrics::bootstrap::Bootstrap;
pub use problems::Problems;
pub use scores::{IdentificationSource, Metric, MetricKey, Scores, SeveritySource, StudyOutcome};
pub use study_id::{StudyId, StudyIndex};

use counts::StudyCounts;
use table::{MAX_TABLE_BYTES, Table, parse_table};

/// Why a submission got no score.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The submission breaks the rules of section 2; the messages are safe to show.
    #[error("the submission is invalid:\n{0}")]
    Invalid(Problems),
    /// The hidden annotations are unusable (an organizer's problem).
    #[error(transparent)]
    Annotations(#[from] AnnotationsError),
    /// The submission file could not be read at all.
    #[error("reading {path}")]
    Io {
        /// The submission file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// A scored submission: the metrics over the whole test set, and the per-study outcomes
/// that only organizers may see (they hold the hidden categories and ground truth), from
/// which the metrics over any part of the test set can be computed.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The metrics over every study, with the contract's default bootstrap.
    pub scores: Scores,
    /// One outcome per study, in the order of [`Annotations::index`].
    pub outcomes: Vec<StudyOutcome>,
    /// Where identification scores came from.
    pub identification_source: IdentificationSource,
    /// Where severity scores came from.
    pub severity_source: SeveritySource,
    /// Whether the submission held masks (Dice applies).
    pub with_masks: bool,
}

impl Evaluation {
    /// The metrics over the studies whose position (in [`Annotations::index`] order)
    /// `keep` accepts, with intervals from `bootstrap`: the service's live and final
    /// scores are this over the public and the private split.
    pub fn scores_where(&self, keep: impl Fn(usize) -> bool, bootstrap: &Bootstrap) -> Scores {
        let kept: Vec<&StudyOutcome> = self
            .outcomes
            .iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, o)| o)
            .collect();
        scores::compute(
            &kept,
            self.identification_source,
            self.severity_source,
            self.with_masks,
            bootstrap,
        )
    }
}

/// Reports progress of long scoring runs (one step per decoded study).
pub trait Progress: Sync {
    /// Called once with the number of steps to come.
    fn start(&self, _steps: usize) {}
    /// Called after each step, from any thread.
    fn step(&self) {}
}

impl Progress for () {}

/// Validates and scores a submission file against the annotations; a table is named
/// `predictions.csv` in the messages.
pub fn score(
    annotations: &Annotations,
    submission: &Path,
    progress: &dyn Progress,
) -> Result<Evaluation, ScoreError> {
    score_named(annotations, submission, DEFAULT_TABLE_NAME, progress)
}

/// [`score`] for a file its author called `name`: the messages name it, and a name ending
/// in `.zip` must be a zip archive (rather than a file read as a table whose bytes make no
/// sense as text).
pub fn score_named(
    annotations: &Annotations,
    submission: &Path,
    name: &str,
    progress: &dyn Progress,
) -> Result<Evaluation, ScoreError> {
    let checked = check(annotations, submission, name, Mode::Score, progress)?;
    let true_severity: Vec<f64> = match &checked.counts {
        Some(counts) => counts
            .iter()
            .map(|c| c.as_ref().map_or(0.0, StudyCounts::true_severity))
            .collect(),
        None => annotations.true_severity()?.to_vec(),
    };
    let mask_severity: Option<Vec<f64>> = checked.counts.as_ref().map(|counts| {
        counts
            .iter()
            .map(|c| {
                c.as_ref()
                    .and_then(StudyCounts::predicted_severity)
                    .unwrap_or(0.0)
            })
            .collect()
    });
    let table = checked.table.unwrap_or_default();

    let (identification_source, identification) = match (
        &table.covid_probability,
        &table.affected_percent,
        &mask_severity,
    ) {
        (Some(p), _, _) => (IdentificationSource::CovidProbability, p),
        (None, Some(a), _) => (IdentificationSource::AffectedPercent, a),
        (None, None, Some(m)) => (IdentificationSource::AffectedPercent, m),
        (None, None, None) => unreachable_empty()?,
    };
    let (severity_source, severity) = match (
        &table.affected_percent,
        &mask_severity,
        &table.covid_probability,
    ) {
        (Some(a), _, _) => (SeveritySource::AffectedPercent, a),
        (None, Some(m), _) => (SeveritySource::Masks, m),
        (None, None, Some(p)) => (SeveritySource::CovidProbability, p),
        (None, None, None) => unreachable_empty()?,
    };
    let outcomes: Vec<StudyOutcome> = annotations
        .studies()
        .iter()
        .enumerate()
        .map(|(i, study)| StudyOutcome {
            category: study.category.clone(),
            true_severity: true_severity[i],
            identification: identification[i],
            severity: severity[i],
            dice: checked
                .counts
                .as_ref()
                .and_then(|c| c[i].as_ref())
                .and_then(StudyCounts::dice),
        })
        .collect();
    let with_masks = checked.counts.is_some();
    let all: Vec<&StudyOutcome> = outcomes.iter().collect();
    let scores = scores::compute(
        &all,
        identification_source,
        severity_source,
        with_masks,
        &Bootstrap::default(),
    );
    Ok(Evaluation {
        scores,
        outcomes,
        identification_source,
        severity_source,
        with_masks,
    })
}

/// Checks a submission's format against the test set without reading any hidden volume:
/// the same messages as a failed scoring, at a fraction of the cost.
pub fn validate(
    annotations: &Annotations,
    submission: &Path,
    progress: &dyn Progress,
) -> Result<(), ScoreError> {
    validate_named(annotations, submission, DEFAULT_TABLE_NAME, progress)
}

/// [`validate`] for a file its author called `name` (see [`score_named`]).
pub fn validate_named(
    annotations: &Annotations,
    submission: &Path,
    name: &str,
    progress: &dyn Progress,
) -> Result<(), ScoreError> {
    check(annotations, submission, name, Mode::Validate, progress).map(|_| ())
}

/// How messages name a table whose file name is not known.
const DEFAULT_TABLE_NAME: &str = "predictions.csv";

/// Validation found nothing to score; cannot happen after a successful check, which
/// requires a table column or masks, but is an error rather than a panic. The message
/// names no path: participants may see it.
fn unreachable_empty<T>() -> Result<T, ScoreError> {
    let mut problems = Problems::default();
    problems
        .push("the submission holds no prediction: add a predictions.csv or one mask per study");
    Err(ScoreError::Invalid(problems))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Validate,
    Score,
}

struct Checked {
    table: Option<Table>,
    /// Per study, for a zip of masks (`None` per study only in validation mode).
    counts: Option<Vec<Option<StudyCounts>>>,
}

fn check(
    annotations: &Annotations,
    submission: &Path,
    name: &str,
    mode: Mode,
    progress: &dyn Progress,
) -> Result<Checked, ScoreError> {
    let io_error = |source| ScoreError::Io {
        path: submission.to_owned(),
        source,
    };
    let mut magic = [0u8; 4];
    let read = File::open(submission)
        .and_then(|mut f| read_up_to(&mut f, &mut magic))
        .map_err(io_error)?;
    let mut problems = Problems::default();
    let studies = annotations.index();
    let checked = match &magic[..read] {
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => {
            check_zip(annotations, submission, mode, progress, &mut problems)?
        }
        [0x1f, 0x8b, ..] => {
            problems.push("the submission is a gzip file; submit a predictions.csv, or a zip archive holding one <study_id>.nii.gz mask per study");
            Checked {
                table: None,
                counts: None,
            }
        }
        _ if name.to_ascii_lowercase().ends_with(".zip") => {
            problems.push(format!("{name} is not a zip archive (it does not start as one: damaged, cut off, or renamed); make it again with zip or 7-Zip, or submit a predictions.csv"));
            Checked {
                table: None,
                counts: None,
            }
        }
        _ => {
            let bytes = read_capped(File::open(submission).map_err(io_error)?, MAX_TABLE_BYTES)
                .map_err(io_error)?;
            match bytes {
                Some(bytes) => Checked {
                    table: parse_table(name, &bytes, studies, &mut problems),
                    counts: None,
                },
                None => {
                    problems.push(format!("{name}: larger than {MAX_TABLE_BYTES} bytes; a table has one short row per study"));
                    Checked {
                        table: None,
                        counts: None,
                    }
                }
            }
        }
    };
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(ScoreError::Invalid(problems))
    }
}

fn check_zip(
    annotations: &Annotations,
    submission: &Path,
    mode: Mode,
    progress: &dyn Progress,
    problems: &mut Problems,
) -> Result<Checked, ScoreError> {
    let Some(layout) = archive::check_entries(submission, annotations.index(), problems) else {
        return Ok(Checked {
            table: None,
            counts: None,
        });
    };
    let open = || -> io::Result<zip::ZipArchive<io::BufReader<File>>> {
        let file = io::BufReader::with_capacity(1 << 16, File::open(submission)?);
        zip::ZipArchive::new(file).map_err(io::Error::other)
    };
    let io_error = |source| ScoreError::Io {
        path: submission.to_owned(),
        source,
    };

    let mut table = None;
    if let Some((index, name)) = &layout.table {
        let mut zip = open().map_err(io_error)?;
        let read = zip
            .by_index(*index)
            .map_err(io::Error::other)
            .and_then(|entry| read_capped(entry, MAX_TABLE_BYTES));
        match read {
            Ok(Some(bytes)) => table = parse_table(name, &bytes, annotations.index(), problems),
            Ok(None) => problems.push(format!(
                "{name}: larger than {MAX_TABLE_BYTES} bytes; a table has one short row per study"
            )),
            Err(err) => problems.push(format!("{name}: cannot be inflated ({err})")),
        }
    }

    let given: Vec<(usize, &(usize, String))> = layout
        .masks
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.as_ref().map(|m| (i, m)))
        .collect();
    if given.is_empty() {
        // An archive without masks is a predictions table in a zip.
        return Ok(Checked {
            table,
            counts: None,
        });
    }
    // Two passes, so that nothing hidden is read before the whole submission is known to be
    // valid: what a participant observes of an invalid submission (its messages and the
    // time they took) then depends only on the submission and the studies' public geometry
    // (EVALUATION.md section 5.3). The first pass decodes every submitted mask against its
    // study's grid; the second, only for a valid submission that is being scored, decodes
    // the hidden annotations and counts. Masks decoded in the first pass are kept for the
    // second while they fit in `KEEP_MASKS_BYTES`; beyond it they are decoded again.
    let mask_bytes: u64 = given
        .iter()
        .map(|(position, _)| annotations.studies()[*position].geometry.voxel_count() as u64 / 8)
        .sum();
    let keep = mode == Mode::Score && mask_bytes <= KEEP_MASKS_BYTES;
    let scoring = mode == Mode::Score;
    progress.start(if scoring {
        2 * given.len()
    } else {
        given.len()
    });
    let decoded: Vec<Result<Option<volume::Mask>, String>> = given
        .par_iter()
        .map_init(open, |zip, &(position, (index, name))| {
            let mask = decode_entry(annotations, zip, position, *index, name);
            progress.step();
            mask.map(|m| keep.then_some(m))
        })
        .collect();
    let mut kept = Vec::with_capacity(decoded.len());
    for result in decoded {
        match result {
            Ok(mask) => kept.push(mask),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() || !scoring {
        return Ok(Checked {
            table,
            counts: Some(vec![None; given.len()]),
        });
    }

    let counted: Vec<Result<Result<StudyCounts, String>, ScoreError>> = given
        .par_iter()
        .zip(kept.into_par_iter())
        .map_init(open, |zip, (&(position, (index, name)), mask)| {
            let mask = match mask {
                Some(mask) => mask,
                None => match decode_entry(annotations, zip, position, *index, name) {
                    Ok(mask) => mask,
                    // Decoded once already: a second failure is the file changing under us.
                    Err(problem) => return Ok(Err(problem)),
                },
            };
            let counts = annotations.studies()[position].count(Some(&mask));
            progress.step();
            Ok(Ok(counts?))
        })
        .collect();
    let mut counts = Vec::with_capacity(counted.len());
    for result in counted {
        match result? {
            Ok(study) => counts.push(Some(study)),
            Err(problem) => problems.push(problem),
        }
    }
    Ok(Checked {
        table,
        counts: Some(counts),
    })
}

/// Decoded submitted masks are kept between the checking and the counting pass up to this
/// many bytes (bit-packed: 101 studies of 512 x 512 x 300 voxels take about 1 GB).
const KEEP_MASKS_BYTES: u64 = 512 << 20;

/// Decodes one submitted mask and checks it against the study's public grid. Reads nothing
/// hidden; the error is a problem to show.
fn decode_entry(
    annotations: &Annotations,
    zip: &mut io::Result<zip::ZipArchive<io::BufReader<File>>>,
    position: usize,
    index: usize,
    name: &str,
) -> Result<volume::Mask, String> {
    let study = &annotations.studies()[position];
    let zip = match zip {
        Ok(zip) => zip,
        Err(err) => return Err(format!("{name}: cannot be read ({err})")),
    };
    let entry = match zip.by_index(index) {
        Ok(entry) => entry,
        Err(err) => return Err(format!("{name}: cannot be inflated ({err})")),
    };
    let cap = max_entry_bytes(study.geometry.voxel_count());
    let reader = io::BufReader::with_capacity(1 << 16, archive::CappedReader::new(entry, cap));
    masks::read_submitted_mask(reader, &study.geometry, study.pixdim)
        .map_err(|problem| format!("{name}: {problem}"))
}

/// The most bytes a zip entry may inflate to for a study of `voxels` voxels: a float64
/// mask, a generous allowance for header extensions, and gzip's worst-case growth.
pub fn max_entry_bytes(voxels: usize) -> u64 {
    let raw = 8 * voxels as u64 + volume::Limits::default().max_vox_offset;
    raw + raw / 100 + 64 * 1024
}

/// Reads everything from `reader` if it holds at most `cap` bytes; `None` if it holds more.
fn read_capped(reader: impl Read, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(cap + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= cap).then_some(bytes))
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
