//! `triageboard dataset import`: public COVID-19 CT collections in their published layouts,
//! turned into the training layout of EVALUATION.md section 1 (`images/<id>.nii.gz`,
//! `annotations/labels.csv`, `annotations/lungs/<id>.nii.gz`,
//! `annotations/lesions/<id>/rater1.nii.gz`), so that `reference train` runs on them.
//!
//! - **MosMedData COVID19_1110** (`mosmed1110`): `studies/CT-0 … CT-4/study_NNNN.nii.gz`
//!   and `masks/study_NNNN_mask.nii.gz` for 50 studies. CT-0 is normal, CT-1 to CT-4 are
//!   COVID-19 of growing extent. It has no lung masks: `--lungs-from WEIGHTS` draws them
//!   with the shipped lungs model, as the reference pipeline does at test time.
//! - **COVID-19-CT-Seg** (Ma et al., Zenodo 3757476; `medseg`): `COVID-19-CT-Seg_20cases/`
//!   images with `Lung_Mask/` and `Infection_Mask/` of the same names, all COVID-19. The
//!   two lungs are relabelled the pipeline's way (the larger of two clusters is the right
//!   lung, label 1: `reference_model::lungsplit`), whatever the collection numbered them.
//!
//! Every file is read before anything is written under its name, a mask must have its
//! image's shape, and `labels.csv` is written last: an interrupted import leaves no label
//! file that lists a study without its files.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use volume::{Geometry, Limits};

/// A public collection's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// MosMedData COVID19_1110: `studies/CT-0..CT-4/`, `masks/`.
    Mosmed1110,
    /// COVID-19-CT-Seg: `COVID-19-CT-Seg_20cases/`, `Lung_Mask/`, `Infection_Mask/`.
    Medseg,
}

/// One study found in a collection.
#[derive(Clone, Debug)]
struct Found {
    id: String,
    category: &'static str,
    image: PathBuf,
    lungs: Option<PathBuf>,
    lesions: Option<PathBuf>,
}

/// What an import wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Studies per category.
    pub categories: BTreeMap<String, usize>,
    /// Studies with a lesion mask.
    pub lesion_masks: usize,
    /// Studies with a lung map (from the collection or from the lungs model).
    pub lung_maps: usize,
    /// Of those, drawn by the lungs model.
    pub lungs_predicted: usize,
}

/// The study id of an image file: its name without `.nii.gz` or `.nii`, and without
/// `suffix` (`_mask`) when given.
fn study_id(path: &Path, suffix: &str) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))?;
    Some(stem.strip_suffix(suffix).unwrap_or(stem).to_owned())
}

/// The NIfTI files of a folder by study id, sorted.
fn nifti_files(dir: &Path, suffix: &str) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if let Some(id) = study_id(&path, suffix)
            && let Some(previous) = out.insert(id.clone(), path.clone())
        {
            bail!(
                "{} and {} are the same study {id}",
                previous.display(),
                path.display()
            );
        }
    }
    Ok(out)
}

/// The studies of a MosMedData COVID19_1110 folder (`studies/` may be left out: the CT-N
/// folders directly in `src` are accepted too).
fn scan_mosmed(src: &Path) -> Result<Vec<Found>> {
    let root = if src.join("studies").is_dir() {
        src.join("studies")
    } else {
        src.to_owned()
    };
    let mut found = Vec::new();
    for class in 0..=4 {
        let dir = root.join(format!("CT-{class}"));
        if !dir.is_dir() {
            continue;
        }
        let category = if class == 0 { "normal" } else { "covid" };
        for (id, image) in nifti_files(&dir, "")? {
            found.push(Found {
                id,
                category,
                image,
                lungs: None,
                lesions: None,
            });
        }
    }
    if found.is_empty() {
        bail!(
            "{} has no studies/CT-0 … CT-4 folders of .nii.gz studies: is it MosMedData's COVID19_1110 folder?",
            src.display()
        );
    }
    let masks_dir = src.join("masks");
    if masks_dir.is_dir() {
        for (id, mask) in nifti_files(&masks_dir, "_mask")? {
            let Some(study) = found.iter_mut().find(|f| f.id == id) else {
                bail!(
                    "{} is the mask of no study in the CT-N folders",
                    mask.display()
                );
            };
            study.lesions = Some(mask);
        }
    }
    Ok(found)
}

/// The studies of a COVID-19-CT-Seg folder.
fn scan_medseg(src: &Path) -> Result<Vec<Found>> {
    let images = ["COVID-19-CT-Seg_20cases", "images"]
        .iter()
        .map(|name| src.join(name))
        .find(|dir| dir.is_dir())
        .with_context(|| {
            format!(
                "{} has no COVID-19-CT-Seg_20cases folder of images: is it the COVID-19-CT-Seg collection?",
                src.display()
            )
        })?;
    let masks = |name: &str| -> Result<BTreeMap<String, PathBuf>> {
        let dir = src.join(name);
        if dir.is_dir() {
            nifti_files(&dir, "")
        } else {
            Ok(BTreeMap::new())
        }
    };
    let (mut lungs, mut lesions) = (masks("Lung_Mask")?, masks("Infection_Mask")?);
    let found: Vec<Found> = nifti_files(&images, "")?
        .into_iter()
        .map(|(id, image)| Found {
            lungs: lungs.remove(&id),
            lesions: lesions.remove(&id),
            id,
            category: "covid",
            image,
        })
        .collect();
    if found.is_empty() {
        bail!("{} holds no .nii.gz images", images.display());
    }
    if let Some(path) = lungs.values().chain(lesions.values()).next() {
        bail!(
            "{} is the mask of no image in {}",
            path.display(),
            images.display()
        );
    }
    Ok(found)
}

/// Copies a `.nii.gz` as it is after checking that it is a NIfTI-1 image, or writes a
/// `.nii` again as `.nii.gz` (its Hounsfield units as int16, as the pipeline reads them);
/// returns its geometry.
fn copy_image(from: &Path, to: &Path) -> Result<Geometry> {
    let reader = || -> Result<BufReader<File>> {
        let file = File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
        Ok(BufReader::new(file))
    };
    let tmp = to.with_extension("part");
    let geometry = if from.to_string_lossy().ends_with(".gz") {
        let header = volume::read_header(reader()?, &Limits::default())
            .with_context(|| format!("{} is not a NIfTI-1 image", from.display()))?;
        fs::copy(from, &tmp).with_context(|| format!("copying {}", from.display()))?;
        header.geometry
    } else {
        let (header, image) = volume::read_volume_i16(reader()?, &Limits::default())
            .with_context(|| format!("{} is not a NIfTI-1 image", from.display()))?;
        volume::write_nifti_gz(&tmp, &header.geometry, image.data(), 1)
            .with_context(|| format!("writing {}", to.display()))?;
        header.geometry
    };
    fs::rename(&tmp, to).with_context(|| format!("writing {}", to.display()))?;
    Ok(geometry)
}

/// Reads a mask and checks it has the image's shape.
fn read_mask_like(path: &Path, image: &Geometry) -> Result<volume::Mask> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let limits = Limits::default().with_expected_shape(image.shape);
    let (_, mask) = volume::read_mask(BufReader::new(file), &limits)
        .with_context(|| format!("cannot read the mask {}", path.display()))?;
    Ok(mask)
}

/// Writes lung labels (1 right, 2 left, memory order) on the image's grid.
fn write_lungs(path: &Path, geometry: &Geometry, labels: &[u8]) -> Result<()> {
    let tmp = path.with_extension("part");
    volume::write_nifti_gz(&tmp, geometry, labels, 1)
        .with_context(|| format!("writing {}", path.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Imports the collection at `src` into `out` (which must hold no `labels.csv` yet),
/// drawing missing lung maps with the lungs model in `lungs_from` when given;
/// `progress(done, total)` after each study.
pub fn import(
    source: Source,
    src: &Path,
    out: &Path,
    lungs_from: Option<&Path>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report> {
    let labels_path = out.join("annotations/labels.csv");
    if labels_path.exists() {
        bail!(
            "{} already holds a data set ({} exists): import into a new folder",
            out.display(),
            labels_path.display()
        );
    }
    let found = match source {
        Source::Mosmed1110 => scan_mosmed(src)?,
        Source::Medseg => scan_medseg(src)?,
    };
    for study in &found {
        scorer::StudyId::parse(&study.id)
            .map_err(|why| anyhow::anyhow!("{}: {why}; rename the file", study.image.display()))?;
    }
    let lungs_model = lungs_from
        .map(|weights| {
            reference_model::pipeline::Pipeline::load(weights, &[], reference_model::Device::Cpu)
        })
        .transpose()?;
    for dir in ["images", "annotations/lungs", "annotations/lesions"] {
        fs::create_dir_all(out.join(dir))
            .with_context(|| format!("cannot create {}", out.join(dir).display()))?;
    }
    let mut report = Report::default();
    let mut labels = String::from("study_id,category\n");
    for (done, study) in found.iter().enumerate() {
        let id = &study.id;
        let image_out = out.join("images").join(format!("{id}.nii.gz"));
        let geometry = copy_image(&study.image, &image_out)?;
        if let Some(path) = &study.lesions {
            let mask = read_mask_like(path, &geometry)?;
            let dir = out.join("annotations/lesions").join(id);
            fs::create_dir_all(&dir)?;
            let tmp = dir.join("rater1.part");
            volume::write_mask_gz(&tmp, &geometry, &mask, 1)
                .with_context(|| format!("writing the lesions of {id}"))?;
            fs::rename(&tmp, dir.join("rater1.nii.gz"))?;
            report.lesion_masks += 1;
        }
        let lungs_out = out.join("annotations/lungs").join(format!("{id}.nii.gz"));
        if let Some(path) = &study.lungs {
            let both = read_mask_like(path, &geometry)?;
            let labels = reference_model::lungsplit::split(&both.to_u8(), &geometry);
            write_lungs(&lungs_out, &geometry, &labels)?;
            report.lung_maps += 1;
        } else if let Some(pipeline) = &lungs_model {
            let image = reference_model::data::read_image(&image_out)?;
            let stage = pipeline
                .lungs(&image)
                .with_context(|| format!("drawing the lungs of {id}"))?;
            write_lungs(&lungs_out, &geometry, &stage.labels)?;
            report.lung_maps += 1;
            report.lungs_predicted += 1;
        }
        labels.push_str(&format!("{id},{}\n", study.category));
        *report
            .categories
            .entry(study.category.to_owned())
            .or_default() += 1;
        progress(done + 1, found.len());
    }
    crate::dataset::write_atomically(&labels_path, labels.as_bytes())?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::study_id;
    use std::path::Path;

    #[test]
    fn study_ids_drop_the_extension_and_the_mask_suffix() {
        assert_eq!(
            study_id(Path::new("a/study_0255_mask.nii.gz"), "_mask").as_deref(),
            Some("study_0255")
        );
        assert_eq!(
            study_id(Path::new("coronacases_001.nii"), "").as_deref(),
            Some("coronacases_001")
        );
        assert_eq!(study_id(Path::new("notes.txt"), ""), None);
    }
}
