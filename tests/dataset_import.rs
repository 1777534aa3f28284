//! `triageboard dataset import` on small replicas of the public layouts it reads:
//! MosMedData COVID19_1110 and COVID-19-CT-Seg, written here with a few tiny volumes.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::process::{Command, Output};

use volume::{Geometry, Limits};

const SHAPE: [usize; 3] = [16, 16, 4];

fn geometry() -> Geometry {
    Geometry::axis_aligned(SHAPE, [1.0, 1.0, 2.0])
}

fn voxels() -> usize {
    SHAPE.iter().product()
}

/// A small CT-like image: air around, soft tissue inside.
fn write_image(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let data: Vec<i16> = (0..voxels())
        .map(|v| if v % 16 > 2 && v % 16 < 13 { -800 } else { 40 })
        .collect();
    if path.to_string_lossy().ends_with(".gz") {
        volume::write_nifti_gz(path, &geometry(), &data, 1).unwrap();
    } else {
        volume::write_nifti(File::create(path).unwrap(), &geometry(), &data).unwrap();
    }
}

/// A label map: `labels(x, y)` on every slice.
fn write_labels(path: &Path, labels: impl Fn(usize, usize) -> u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let data: Vec<u8> = (0..voxels())
        .map(|v| labels(v % SHAPE[0], (v / SHAPE[0]) % SHAPE[1]))
        .collect();
    volume::write_nifti_gz(path, &geometry(), &data, 1).unwrap();
}

fn triageboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triageboard"))
        .args(args)
        .output()
        .expect("running triageboard")
}

fn import(source: &str, src: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "dataset",
        "import",
        source,
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    triageboard(&args)
}

fn label_counts(path: &Path) -> (u64, u64) {
    let (_, masks) = volume::read_label_masks(
        BufReader::new(File::open(path).unwrap()),
        &Limits::default(),
        &[1, 2],
    )
    .unwrap();
    (masks[0].count(), masks[1].count())
}

#[test]
fn mosmed_1110_folders_become_categories_and_its_masks_lesions() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("COVID19_1110");
    write_image(&src.join("studies/CT-0/study_0001.nii.gz"));
    write_image(&src.join("studies/CT-1/study_0255.nii.gz"));
    write_image(&src.join("studies/CT-3/study_0900.nii.gz"));
    write_labels(&src.join("masks/study_0255_mask.nii.gz"), |x, _| {
        u8::from(x == 5)
    });
    let out = dir.path().join("train");
    let output = import("mosmed1110", &src, &out, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let labels = std::fs::read_to_string(out.join("annotations/labels.csv")).unwrap();
    assert_eq!(
        labels,
        "study_id,category\nstudy_0001,normal\nstudy_0255,covid\nstudy_0900,covid\n"
    );
    for id in ["study_0001", "study_0255", "study_0900"] {
        let image = out.join(format!("images/{id}.nii.gz"));
        let header = volume::read_header(
            BufReader::new(File::open(&image).unwrap()),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(header.geometry.shape, SHAPE);
    }
    let lesions = out.join("annotations/lesions/study_0255/rater1.nii.gz");
    let (_, mask) = volume::read_mask(
        BufReader::new(File::open(&lesions).unwrap()),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        mask.count(),
        (SHAPE[1] * SHAPE[2]) as u64,
        "one column of x"
    );
    assert!(!out.join("annotations/lesions/study_0001").exists());
    // No lung masks in the collection: the command says how to get them.
    assert!(stderr.contains("--lungs-from"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(out.join("annotations/lungs"))
            .unwrap()
            .count(),
        0
    );

    // Into a folder that already holds a data set: refused, nothing changed.
    let again = import("mosmed1110", &src, &out, &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a data set"));
}

#[test]
fn mosmed_lung_maps_can_be_drawn_by_the_shipped_lungs_model() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("COVID19_1110");
    write_image(&src.join("studies/CT-0/study_0001.nii.gz"));
    let out = dir.path().join("train");
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference-model/weights");
    let output = import(
        "mosmed1110",
        &src,
        &out,
        &["--lungs-from", weights.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lungs = out.join("annotations/lungs/study_0001.nii.gz");
    let header = volume::read_header(
        BufReader::new(File::open(&lungs).unwrap()),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        header.geometry.shape, SHAPE,
        "a lung map on the image's grid"
    );
}

#[test]
fn covid_19_ct_seg_lungs_are_relabelled_the_pipelines_way_and_load_as_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("COVID-19-CT-Seg");
    for id in ["coronacases_001", "radiopaedia_4_85506_1"] {
        // One image stored uncompressed, as some mirrors ship them.
        let ext = if id.starts_with("corona") {
            "nii"
        } else {
            "nii.gz"
        };
        write_image(&src.join(format!("COVID-19-CT-Seg_20cases/{id}.{ext}")));
        // The collection's own numbering: 1 on the smaller lung (x 1..4), 2 on the larger
        // (x 9..15), both on rows 4..11, apart along x as two lungs are.
        write_labels(&src.join(format!("Lung_Mask/{id}.nii.gz")), |x, y| {
            match (x, (4..12).contains(&y)) {
                (1..=4, true) => 1,
                (9..=15, true) => 2,
                _ => 0,
            }
        });
        write_labels(&src.join(format!("Infection_Mask/{id}.nii.gz")), |x, y| {
            u8::from(x == 10 && y == 6)
        });
    }
    let out = dir.path().join("medseg");
    let output = import("medseg", &src, &out, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let labels = std::fs::read_to_string(out.join("annotations/labels.csv")).unwrap();
    assert_eq!(
        labels,
        "study_id,category\ncoronacases_001,covid\nradiopaedia_4_85506_1,covid\n"
    );
    for id in ["coronacases_001", "radiopaedia_4_85506_1"] {
        let (right, left) = label_counts(&out.join(format!("annotations/lungs/{id}.nii.gz")));
        let per_column = (8 * SHAPE[2]) as u64;
        assert_eq!(
            (right, left),
            (7 * per_column, 4 * per_column),
            "{id}: the larger is 1"
        );
        assert!(out.join(format!("images/{id}.nii.gz")).is_file());
    }
    // The layout is the scorer's: it loads as a set of annotations.
    let annotations = scorer::Annotations::load(&out.join("annotations")).unwrap();
    assert_eq!(annotations.studies().len(), 2);
}

#[test]
fn a_folder_of_another_layout_and_a_stray_mask_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("not-mosmed");
    write_image(&src.join("scans/a.nii.gz"));
    let output = import("mosmed1110", &src, &dir.path().join("o1"), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("CT-0"));

    let src = dir.path().join("COVID19_1110");
    write_image(&src.join("studies/CT-1/study_0002.nii.gz"));
    write_labels(&src.join("masks/study_0999_mask.nii.gz"), |_, _| 1);
    let output = import("mosmed1110", &src, &dir.path().join("o2"), &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("study_0999_mask.nii.gz is the mask of no study"),
        "{stderr}"
    );
}

#[test]
fn training_reads_labels_with_the_scorers_strict_parser() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.csv");
    std::fs::write(
        &labels,
        "study_id,category,split\nstudy_1,covid,public\nstudy_2,normal,private\n",
    )
    .unwrap();
    let read = reference_model::data::read_labels(dir.path()).unwrap();
    let pairs: Vec<(&str, &str)> = read.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(pairs, vec![("study_1", "covid"), ("study_2", "normal")]);
    for broken in [
        "id,label\nstudy_1,covid\n",
        "study_id,category\nstudy_1,covid\nstudy_1,normal\n",
        "study_id,category\nstudy 1,covid\n",
    ] {
        std::fs::write(&labels, broken).unwrap();
        assert!(
            reference_model::data::read_labels(dir.path()).is_err(),
            "{broken:?}"
        );
    }
}
