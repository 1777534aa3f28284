//! A toy test set written to a temporary folder with the real on-disk layout, and
//! submissions built against it, shared by the scorer's integration tests.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use volume::{Geometry, Mask};

/// Shape of every toy study.
pub const SHAPE: [usize; 3] = [12, 10, 6];

/// One toy study: its category and raters' masks.
pub struct ToyStudy {
    pub id: String,
    pub category: &'static str,
    pub raters: Vec<Mask>,
}

/// The toy set on disk.
pub struct ToySet {
    pub dir: tempfile::TempDir,
    pub studies: Vec<ToyStudy>,
    pub geometry: Geometry,
}

/// Right lung: x < 6 except the border; left lung: x >= 6 except the border.
pub fn lung_label(i: usize, j: usize, _k: usize) -> u8 {
    if j == 0 || j + 1 == SHAPE[1] || i == 0 || i + 1 == SHAPE[0] {
        0
    } else if i < SHAPE[0] / 2 {
        1
    } else {
        2
    }
}

/// A lesion of `size` voxels per slice row, growing with the study's severity, placed in
/// the right lung; `shift` moves its edge by one voxel, as a second rater might.
fn lesion(size: usize, shift: usize) -> Mask {
    Mask::from_fn(SHAPE, |i, j, k| {
        (1..=4).contains(&k) && (1..=size + shift).contains(&i) && (2..=6).contains(&j)
    })
}

impl ToySet {
    /// 5 COVID studies (1, 2, 2, 2 and 3 raters), 3 normal, 2 pneumonia, 1 nodules.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut studies = Vec::new();
        let rater_counts = [1, 2, 2, 2, 3];
        for (n, raters) in rater_counts.iter().enumerate() {
            let size = n + 1;
            studies.push(ToyStudy {
                id: format!("c{n}"),
                category: "covid",
                raters: (0..*raters).map(|r| lesion(size, r % 2)).collect(),
            });
        }
        for (n, category) in [
            "normal",
            "normal",
            "normal",
            "pneumonia",
            "pneumonia",
            "nodules",
        ]
        .iter()
        .enumerate()
        {
            studies.push(ToyStudy {
                id: format!("n{n}"),
                category,
                raters: vec![],
            });
        }
        let geometry = Geometry::axis_aligned(SHAPE, [0.8, 0.8, 2.5]);
        let set = Self {
            dir,
            studies,
            geometry,
        };
        set.write();
        set
    }

    pub fn annotations(&self) -> PathBuf {
        self.dir.path().join("annotations")
    }

    pub fn images(&self) -> PathBuf {
        self.dir.path().join("images")
    }

    fn write(&self) {
        let ann = self.annotations();
        fs::create_dir_all(ann.join("lungs")).unwrap();
        fs::create_dir_all(self.images()).unwrap();
        let mut labels = String::from("study_id,category\n");
        let lungs: Vec<u8> = (0..SHAPE[2])
            .flat_map(|k| {
                (0..SHAPE[1]).flat_map(move |j| (0..SHAPE[0]).map(move |i| lung_label(i, j, k)))
            })
            .collect();
        let image: Vec<i16> = lungs
            .iter()
            .map(|&l| if l > 0 { -850 } else { 40 })
            .collect();
        for study in &self.studies {
            labels.push_str(&format!("{},{}\n", study.id, study.category));
            volume::write_nifti_gz(
                ann.join("lungs").join(format!("{}.nii.gz", study.id)),
                &self.geometry,
                &lungs,
                6,
            )
            .unwrap();
            volume::write_nifti_gz(
                self.images().join(format!("{}.nii.gz", study.id)),
                &self.geometry,
                &image,
                6,
            )
            .unwrap();
            if !study.raters.is_empty() {
                let folder = ann.join("lesions").join(&study.id);
                fs::create_dir_all(&folder).unwrap();
                for (r, mask) in study.raters.iter().enumerate() {
                    volume::write_mask_gz(
                        folder.join(format!("rater{}.nii.gz", r + 1)),
                        &self.geometry,
                        mask,
                        6,
                    )
                    .unwrap();
                }
            }
        }
        fs::write(ann.join("labels.csv"), labels).unwrap();
    }

    /// Ground-truth severity of a study, computed here independently of the scorer.
    pub fn true_severity(&self, study: &ToyStudy) -> f64 {
        if study.raters.is_empty() {
            return 0.0;
        }
        let per_rater: Vec<f64> = study.raters.iter().map(severity).collect();
        per_rater.iter().sum::<f64>() / per_rater.len() as f64
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// 100 * max over lungs of the fraction of the lung inside `mask`, by brute force.
pub fn severity(mask: &Mask) -> f64 {
    let mut inside = [0f64; 2];
    let mut lung = [0f64; 2];
    for k in 0..SHAPE[2] {
        for j in 0..SHAPE[1] {
            for i in 0..SHAPE[0] {
                let label = lung_label(i, j, k);
                if label > 0 {
                    lung[label as usize - 1] += 1.0;
                    if mask.get(i, j, k) {
                        inside[label as usize - 1] += 1.0;
                    }
                }
            }
        }
    }
    100.0 * (inside[0] / lung[0]).max(inside[1] / lung[1])
}

/// Writes a zip of `(name, bytes)` entries with deflate.
pub fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let file = fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// A mask as `.nii.gz` bytes on `geometry`.
pub fn mask_bytes(geometry: &Geometry, mask: &Mask) -> Vec<u8> {
    let mut raw = Vec::new();
    volume::write_mask(&mut raw, geometry, mask).unwrap();
    gzip(&raw)
}

pub fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(raw).unwrap();
    encoder.finish().unwrap()
}
