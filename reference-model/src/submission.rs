//! Writing a submission in the format of EVALUATION.md section 2: a zip of
//! `<study_id>.nii.gz` lesion masks with a `predictions.csv`, or a table alone for a model
//! that does not segment.

use crate::pipeline::StudyResult;
use crate::zoo::Task;
use anyhow::{Context, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;

/// Builds a submission study by study (one mask in memory at a time) into a temporary file
/// beside `out`, renamed into place by [`Writer::finish`].
pub struct Writer {
    out: PathBuf,
    tmp: PathBuf,
    zip: Option<zip::ZipWriter<BufWriter<File>>>,
    table: String,
    task: Task,
}

impl Writer {
    /// A writer for `task`'s outputs: masks in a zip unless the model only classifies, in
    /// which case `out` gets the table alone.
    pub fn create(out: &Path, task: Task) -> Result<Self> {
        let tmp = out.with_extension("partial");
        let zip = if task == Task::Classifier {
            None
        } else {
            let file =
                File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
            Some(zip::ZipWriter::new(BufWriter::new(file)))
        };
        let header = match task {
            Task::Classifier => "study_id,covid_probability\n",
            Task::Multitask => "study_id,covid_probability,affected_percent\n",
            _ => "study_id,affected_percent\n",
        };
        Ok(Self {
            out: out.to_owned(),
            tmp,
            zip,
            table: header.to_owned(),
            task,
        })
    }

    /// Adds one study.
    pub fn add(&mut self, id: &str, r: &StudyResult) -> Result<()> {
        let p = r.covid_probability.unwrap_or(0.0).clamp(0.0, 1.0);
        let a = r.affected_percent.clamp(0.0, 100.0);
        let _ = match self.task {
            Task::Classifier => writeln!(self.table, "{id},{p:.6}"),
            Task::Multitask => writeln!(self.table, "{id},{p:.6},{a:.4}"),
            _ => writeln!(self.table, "{id},{a:.4}"),
        };
        if let Some(zip) = self.zip.as_mut() {
            // Masks are mostly zeros: the default level makes them 2.5 times smaller than
            // level 1 (5.4 against 13.4 KB on a demo study) for about 10 ms each.
            let mut gz = GzEncoder::new(Vec::new(), Compression::default());
            volume::write_nifti(&mut gz, &r.geometry, &r.lesions)?;
            let bytes = gz.finish()?;
            let stored =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
            zip.start_file(format!("{id}.nii.gz"), stored)?;
            zip.write_all(&bytes)?;
        }
        Ok(())
    }

    /// Writes the table and moves the file into place.
    pub fn finish(self) -> Result<()> {
        match self.zip {
            Some(mut zip) => {
                zip.start_file("predictions.csv", SimpleFileOptions::default())?;
                zip.write_all(self.table.as_bytes())?;
                zip.finish()?.flush()?;
            }
            None => std::fs::write(&self.tmp, self.table.as_bytes())?,
        }
        std::fs::rename(&self.tmp, &self.out).with_context(|| {
            format!(
                "cannot move {} to {}",
                self.tmp.display(),
                self.out.display()
            )
        })
    }
}
