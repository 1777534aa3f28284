//! Zip submissions (EVALUATION.md section 2(b)): the entry checks made from the central
//! directory, before any byte is inflated, and a reader that enforces caps on what an
//! entry really inflates to, whatever its headers claim.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::masks::strip_nifti_extension;
use crate::problems::{Problems, list_some};
use crate::study_id::StudyIndex;

/// An archive's entry list is refused beyond this many entries per study (plus a margin
/// for folders and the table), before any entry is looked at.
const ENTRIES_PER_STUDY: usize = 2;
const SPARE_ENTRIES: usize = 64;

/// Where each study's mask and the table are inside a checked archive.
#[derive(Debug)]
pub struct Layout {
    /// For each study position: the entry index and its name.
    pub masks: Vec<Option<(usize, String)>>,
    /// The `predictions.csv` entry, if any.
    pub table: Option<(usize, String)>,
}

/// Reads the central directory and checks every entry's name and kind: no absolute paths,
/// no `..`, no symlinks, no encrypted entries, a single optional top folder, one mask per
/// study and nothing else (macOS's `__MACOSX/` and `.DS_Store` are ignored).
pub fn check_entries(path: &Path, studies: &StudyIndex, problems: &mut Problems) -> Option<Layout> {
    let label = "the submission";
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) => {
            problems.push(format!("{label} cannot be opened: {err}"));
            return None;
        }
    };
    let mut archive = match zip::ZipArchive::new(file) {
        Ok(archive) => archive,
        Err(err) => {
            problems.push(format!("{label} is not a readable zip archive ({err})"));
            return None;
        }
    };
    let max_entries = studies.len() * ENTRIES_PER_STUDY + SPARE_ENTRIES;
    if archive.len() > max_entries {
        problems.push(format!(
            "{label} has {} entries; a submission needs one mask per study ({}) and at most a predictions.csv",
            archive.len(),
            studies.len()
        ));
        return None;
    }

    let mut layout = Layout {
        masks: vec![None; studies.len()],
        table: None,
    };
    let mut top_folder: Option<Option<String>> = None;
    for index in 0..archive.len() {
        let entry = match archive.by_index_raw(index) {
            Ok(entry) => entry,
            Err(err) => {
                problems.push(format!("entry #{index} of {label} cannot be read ({err})"));
                continue;
            }
        };
        let name = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(err) => {
                problems.push(format!(
                    "entry #{index} of {label} has an unreadable name ({err})"
                ));
                continue;
            }
        };
        if is_platform_junk(&name) || entry.is_dir() {
            continue;
        }
        if entry.is_symlink() {
            problems.push(format!(
                "{name}: symbolic links are not allowed; add the file itself"
            ));
            continue;
        }
        if entry.encrypted() {
            problems.push(format!(
                "{name}: encrypted entries are not allowed; zip without a password"
            ));
            continue;
        }
        let Some((folder, base)) = split_entry_name(&name) else {
            problems.push(format!(
                "{name}: not allowed; entries must be at the archive's root or in one top folder, with no '..' or absolute path"
            ));
            continue;
        };
        match &top_folder {
            None => top_folder = Some(folder.clone()),
            Some(first) if *first != folder => {
                problems.push(format!(
                    "{name}: every file must be in the same place (all at the root, or all in one top folder); found both {} and {}",
                    describe_folder(first),
                    describe_folder(&folder)
                ));
                continue;
            }
            Some(_) => {}
        }
        if base == "predictions.csv" {
            if let Some((_, first)) = &layout.table {
                problems.push(format!(
                    "{name}: a second predictions.csv (the first is {first})"
                ));
            } else {
                layout.table = Some((index, name));
            }
            continue;
        }
        let Some(id) = strip_nifti_extension(base) else {
            problems.push(format!("{name}: unexpected file; expected <study_id>.nii.gz, <study_id>.nii or predictions.csv"));
            continue;
        };
        let Some(position) = studies.position(id) else {
            problems.push(format!("{name}: {id:?} is not a study of the test set"));
            continue;
        };
        match &layout.masks[position] {
            Some((_, first)) => {
                problems.push(format!("{name}: study {id} already has a mask ({first})"))
            }
            None => layout.masks[position] = Some((index, name)),
        }
    }

    let given = layout.masks.iter().filter(|m| m.is_some()).count();
    if given == 0 && layout.table.is_none() {
        problems.push(format!("{label} holds no mask and no predictions.csv"));
    } else if given > 0 && given < studies.len() {
        let missing: Vec<&str> = studies
            .ids()
            .iter()
            .zip(&layout.masks)
            .filter(|(_, mask)| mask.is_none())
            .map(|(id, _)| id.as_str())
            .collect();
        problems.push(format!(
            "{label}: every test study needs a mask; {} missing: {}",
            missing.len(),
            list_some(missing.into_iter(), 10)
        ));
    }
    Some(layout)
}

/// Splits `top/name` or `name` into its folder and file name; `None` for anything deeper or
/// unsafe (absolute, `..`, backslashes, empty parts).
fn split_entry_name(name: &str) -> Option<(Option<String>, &str)> {
    if name.starts_with('/') || name.contains('\\') || name.contains('\0') || name.contains(':') {
        return None;
    }
    let parts: Vec<&str> = name.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return None;
    }
    match parts.as_slice() {
        [base] => Some((None, base)),
        [folder, base] => Some((Some((*folder).to_owned()), base)),
        _ => None,
    }
}

fn describe_folder(folder: &Option<String>) -> String {
    match folder {
        None => "the root".to_owned(),
        Some(folder) => format!("folder {folder}/"),
    }
}

/// Files that archivers add on their own; they are ignored rather than rejected.
fn is_platform_junk(name: &str) -> bool {
    name.starts_with("__MACOSX/") || name == ".DS_Store" || name.ends_with("/.DS_Store")
}

/// A reader that fails once more than `cap` bytes have come out of `inner`: the cap holds
/// on the bytes actually inflated, not on sizes written in the archive's headers.
pub struct CappedReader<R> {
    inner: R,
    remaining: u64,
    cap: u64,
}

impl<R: Read> CappedReader<R> {
    /// Wraps `inner`, allowing at most `cap` bytes.
    pub fn new(inner: R, cap: u64) -> Self {
        Self {
            inner,
            remaining: cap,
            cap,
        }
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // Look one byte further: a stream of exactly `cap` bytes is fine.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(format!(
                    "it inflates to more than {} bytes",
                    self.cap
                ))),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let got = self.inner.read(&mut buf[..want])?;
        self.remaining -= got as u64;
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::{CappedReader, split_entry_name};
    use std::io::Read;

    #[test]
    fn entry_names_at_the_root_or_in_one_folder_are_accepted() {
        assert_eq!(split_entry_name("a.nii.gz"), Some((None, "a.nii.gz")));
        assert_eq!(
            split_entry_name("masks/a.nii.gz"),
            Some((Some("masks".to_owned()), "a.nii.gz"))
        );
    }

    #[test]
    fn unsafe_or_deep_entry_names_are_refused() {
        for name in [
            "/etc/passwd",
            "../a.nii",
            "a/../b.nii",
            "a/b/c.nii",
            "a\\b.nii",
            "C:/a.nii",
            "./a.nii",
            "a//b",
        ] {
            assert_eq!(split_entry_name(name), None, "{name}");
        }
    }

    #[test]
    fn a_capped_reader_passes_exactly_the_cap_and_fails_beyond_it() {
        let mut ok = Vec::new();
        assert!(
            CappedReader::new(&[1u8; 10][..], 10)
                .read_to_end(&mut ok)
                .is_ok()
        );
        assert_eq!(ok.len(), 10);
        let mut too_much = Vec::new();
        assert!(
            CappedReader::new(&[1u8; 11][..], 10)
                .read_to_end(&mut too_much)
                .is_err()
        );
    }
}
