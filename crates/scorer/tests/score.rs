//! The scorer end to end on a toy test set: EVALUATION.md's edge cases, each pinned.

mod common;

use common::{SHAPE, ToySet, gzip, mask_bytes, write_zip};
use scorer::{Annotations, IdentificationSource, ScoreError, SeveritySource};
use volume::Mask;

fn load(set: &ToySet) -> Annotations {
    Annotations::load(&set.annotations()).unwrap()
}

fn problems(err: ScoreError) -> Vec<String> {
    match err {
        ScoreError::Invalid(problems) => problems.lines(),
        other => panic!("expected an invalid submission, got {other}"),
    }
}

fn table(
    set: &ToySet,
    name: &str,
    rows: impl Fn(&common::ToyStudy) -> String,
    header: &str,
) -> std::path::PathBuf {
    let mut text = format!("{header}\n");
    for study in &set.studies {
        text.push_str(&format!("{},{}\n", study.id, rows(study)));
    }
    let path = set.path(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_perfect_table_scores_one_everywhere_and_has_no_dice() {
    let set = ToySet::new();
    let annotations = load(&set);
    let path = table(
        &set,
        "perfect.csv",
        |s| {
            format!(
                "{},{}",
                u8::from(s.category == "covid"),
                set.true_severity(s)
            )
        },
        "study_id,covid_probability,affected_percent",
    );
    let scores = scorer::score(&annotations, &path, &()).unwrap().scores;
    assert_eq!(scores.n_studies, 11);
    assert_eq!(scores.n_covid, 5);
    assert_eq!(
        scores.identification_source,
        IdentificationSource::CovidProbability
    );
    assert_eq!(scores.severity_source, SeveritySource::AffectedPercent);
    assert_eq!(scores.auc_vs_all.value, Some(1.0));
    assert_eq!(scores.auc_vs_all.ci, Some([1.0, 1.0]));
    let categories: Vec<&str> = scores
        .auc_vs_category
        .iter()
        .map(|(c, _)| c.as_str())
        .collect();
    assert_eq!(categories, ["nodules", "normal", "pneumonia"]);
    assert!(
        scores
            .auc_vs_category
            .iter()
            .all(|(_, m)| m.value == Some(1.0))
    );
    assert!((scores.spearman.value.unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(scores.dice.value, None);
    assert_eq!(scores.dice.ci, None);
}

#[test]
fn the_json_output_has_exactly_the_keys_of_section_four() {
    let set = ToySet::new();
    let path = table(
        &set,
        "p.csv",
        |s| format!("{}", u8::from(s.category != "normal")),
        "study_id,covid_probability",
    );
    let scores = scorer::score(&load(&set), &path, &()).unwrap().scores;
    let json = serde_json::to_value(&scores).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "n_studies",
        "n_covid",
        "identification_source",
        "severity_source",
    ];
    for metric in [
        "auc_vs_all",
        "auc_vs_nodules",
        "auc_vs_normal",
        "auc_vs_pneumonia",
        "spearman",
        "dice",
    ] {
        expected.push(metric);
    }
    let mut with_ci: Vec<String> = Vec::new();
    for key in &expected[4..] {
        with_ci.push((*key).to_owned());
        with_ci.push(format!("{key}_ci"));
    }
    let mut want: Vec<&str> = expected[..4].to_vec();
    want.extend(with_ci.iter().map(String::as_str));
    let mut got = keys.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    // Probabilities 1 for every non-normal study: COVID ties with pneumonia and nodules.
    assert_eq!(json["auc_vs_normal"], 1.0);
    assert_eq!(json["auc_vs_pneumonia"], 0.5);
    assert_eq!(json["severity_source"], "covid_probability");
    assert_eq!(json["dice"], serde_json::Value::Null);
}

#[test]
fn a_constant_prediction_gives_auc_one_half_and_no_spearman() {
    let set = ToySet::new();
    let path = table(
        &set,
        "c.csv",
        |_| "0.3".to_owned(),
        "study_id,covid_probability",
    );
    let scores = scorer::score(&load(&set), &path, &()).unwrap().scores;
    assert_eq!(scores.auc_vs_all.value, Some(0.5));
    assert_eq!(scores.spearman.value, None);
    assert_eq!(scores.spearman.ci, None);
}

#[test]
fn a_category_with_one_study_still_gets_an_auc_and_an_interval() {
    let set = ToySet::new();
    let path = table(
        &set,
        "o.csv",
        |s| if s.id == "n5" { "0.9" } else { "0.5" }.to_owned(),
        "study_id,covid_probability",
    );
    let scores = scorer::score(&load(&set), &path, &()).unwrap().scores;
    let nodules = &scores.auc_vs_category[0];
    assert_eq!(nodules.0, "nodules");
    assert_eq!(nodules.1.value, Some(0.0));
    assert_eq!(nodules.1.ci, Some([0.0, 0.0]));
}

/// Each rater's Dice against `predicted`, averaged, by brute force.
fn expected_dice(raters: &[Mask], predicted: &Mask) -> Option<f64> {
    let per_rater: Vec<f64> = raters
        .iter()
        .filter_map(|r| {
            let both = r.intersection_count(predicted).unwrap() as f64;
            let sum = (r.count() + predicted.count()) as f64;
            (sum > 0.0).then(|| 2.0 * both / sum)
        })
        .collect();
    (!per_rater.is_empty()).then(|| per_rater.iter().sum::<f64>() / per_rater.len() as f64)
}

#[test]
fn masks_with_one_and_three_raters_score_dice_and_severity_from_the_lungs() {
    let set = ToySet::new();
    let empty = Mask::zeros(SHAPE);
    let predicted: Vec<&Mask> = set
        .studies
        .iter()
        .map(|s| s.raters.first().unwrap_or(&empty))
        .collect();
    let entries: Vec<(String, Vec<u8>)> = set
        .studies
        .iter()
        .zip(&predicted)
        .map(|(s, m)| (format!("{}.nii.gz", s.id), mask_bytes(&set.geometry, m)))
        .collect();
    let path = set.path("masks.zip");
    write_zip(&path, &entries);
    let evaluation = scorer::score(&load(&set), &path, &()).unwrap();
    let scores = &evaluation.scores;
    assert_eq!(
        scores.identification_source,
        IdentificationSource::AffectedPercent
    );
    assert_eq!(scores.severity_source, SeveritySource::Masks);
    let per_study: Vec<f64> = set
        .studies
        .iter()
        .zip(&predicted)
        .filter(|(s, _)| s.category == "covid")
        .filter_map(|(s, m)| expected_dice(&s.raters, m))
        .collect();
    let want = per_study.iter().sum::<f64>() / per_study.len() as f64;
    assert!(
        (scores.dice.value.unwrap() - want).abs() < 1e-12,
        "{:?} vs {want}",
        scores.dice
    );
    for (study, outcome) in set.studies.iter().zip(&evaluation.outcomes) {
        assert!((outcome.true_severity - set.true_severity(study)).abs() < 1e-9);
        let predicted = predicted[set.studies.iter().position(|s| s.id == study.id).unwrap()];
        assert!((outcome.severity - common::severity(predicted)).abs() < 1e-9);
    }
    // Non-COVID studies get an empty mask, COVID ones a non-empty one: perfect separation.
    assert_eq!(scores.auc_vs_all.value, Some(1.0));
}

#[test]
fn float_masks_in_a_top_folder_with_a_table_use_the_table_for_identification() {
    let set = ToySet::new();
    let mut entries = Vec::new();
    let mut csv = String::from("\u{feff}covid_probability,study_id\r\n");
    for (n, study) in set.studies.iter().enumerate() {
        // Probabilities: 0.5 counts as foreground, 0.49 does not.
        let data: Vec<f32> = (0..SHAPE[2])
            .flat_map(|k| (0..SHAPE[1]).flat_map(move |j| (0..SHAPE[0]).map(move |i| (i, j, k))))
            .map(|(i, j, k)| match study.raters.first() {
                Some(mask) if mask.get(i, j, k) => 0.5,
                _ => 0.49,
            })
            .collect();
        let mut raw = Vec::new();
        volume::write_nifti(&mut raw, &set.geometry, &data).unwrap();
        entries.push((format!("team/{}.nii.gz", study.id), gzip(&raw)));
        csv.push_str(&format!(
            "{},{}\r\n",
            if study.category == "covid" {
                0.9
            } else {
                0.1 + n as f64 / 100.0
            },
            study.id
        ));
    }
    entries.push(("team/predictions.csv".to_owned(), csv.into_bytes()));
    let path = set.path("float.zip");
    write_zip(&path, &entries);
    let scores = scorer::score(&load(&set), &path, &()).unwrap().scores;
    assert_eq!(
        scores.identification_source,
        IdentificationSource::CovidProbability
    );
    assert_eq!(scores.severity_source, SeveritySource::Masks);
    assert_eq!(scores.auc_vs_all.value, Some(1.0));
    let raters_first: Vec<f64> = set
        .studies
        .iter()
        .filter(|s| s.category == "covid")
        .filter_map(|s| expected_dice(&s.raters, &s.raters[0]))
        .collect();
    let want = raters_first.iter().sum::<f64>() / raters_first.len() as f64;
    assert!((scores.dice.value.unwrap() - want).abs() < 1e-12);
}

#[test]
fn every_problem_of_a_bad_archive_is_listed_without_revealing_labels() {
    let set = ToySet::new();
    let empty = Mask::zeros(SHAPE);
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for study in set.studies.iter().skip(3) {
        entries.push((
            format!("{}.nii.gz", study.id),
            mask_bytes(&set.geometry, &empty),
        ));
    }
    // Wrong shape, a shifted grid, NaN in a float mask, not a NIfTI at all.
    let small = volume::Geometry::axis_aligned([12, 10, 5], [0.8, 0.8, 2.5]);
    entries[0].1 = mask_bytes(&small, &Mask::zeros([12, 10, 5]));
    let mut shifted = set.geometry.clone();
    shifted.affine[0][3] += 0.5;
    entries[1].1 = mask_bytes(&shifted, &empty);
    let mut nan = vec![0f32; SHAPE.iter().product()];
    nan[7] = f32::NAN;
    let mut raw = Vec::new();
    volume::write_nifti(&mut raw, &set.geometry, &nan).unwrap();
    entries[2].1 = gzip(&raw);
    entries[3].1 = b"hello".to_vec();
    entries.push(("notes.txt".to_owned(), b"x".to_vec()));
    entries.push(("ghost.nii.gz".to_owned(), mask_bytes(&set.geometry, &empty)));
    entries.push((
        "sub/n5.nii.gz".to_owned(),
        mask_bytes(&set.geometry, &empty),
    ));
    entries.push(("../evil.nii".to_owned(), vec![]));
    entries.push(("__MACOSX/._n5.nii.gz".to_owned(), vec![1, 2, 3]));
    let path = set.path("bad.zip");
    write_zip(&path, &entries);
    let lines = problems(scorer::score(&load(&set), &path, &()).unwrap_err());
    let text = lines.join("\n");
    for needle in [
        "c3.nii.gz: shape 12x10x5 does not match the image (12x10x6)",
        "c4.nii.gz: affine entry [0][3]",
        "n0.nii.gz: voxel (7, 0, 0) is NaN after scaling",
        "n1.nii.gz: the file ends after 5 of the 348 bytes of its header",
        "notes.txt: unexpected file",
        "ghost.nii.gz: \"ghost\" is not a study of the test set",
        "sub/n5.nii.gz: every file must be in the same place",
        "../evil.nii: not allowed",
        "every test study needs a mask; 3 missing: c0, c1, c2",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(
        !text.contains("covid") && !text.contains("normal") && !text.contains("pneumonia"),
        "{text}"
    );
    assert!(!text.contains("MACOSX"), "{text}");
}

#[test]
fn a_mask_given_twice_and_a_file_that_is_no_submission_are_refused() {
    let set = ToySet::new();
    let empty = Mask::zeros(SHAPE);
    let mut entries: Vec<(String, Vec<u8>)> = set
        .studies
        .iter()
        .map(|s| {
            (
                format!("{}.nii.gz", s.id),
                mask_bytes(&set.geometry, &empty),
            )
        })
        .collect();
    entries.push(("c0.nii".to_owned(), vec![0; 10]));
    let path = set.path("dup.zip");
    write_zip(&path, &entries);
    let lines = problems(scorer::score(&load(&set), &path, &()).unwrap_err());
    assert_eq!(lines, ["c0.nii: study c0 already has a mask (c0.nii.gz)"]);

    let gz = set.path("one.nii.gz");
    std::fs::write(&gz, mask_bytes(&set.geometry, &empty)).unwrap();
    let lines = problems(scorer::score(&load(&set), &gz, &()).unwrap_err());
    assert!(
        lines[0].contains("the submission is a gzip file"),
        "{lines:?}"
    );
}

#[test]
fn validation_accepts_a_good_archive_without_reading_hidden_volumes() {
    let set = ToySet::new();
    let annotations = load(&set);
    let empty = Mask::zeros(SHAPE);
    let entries: Vec<(String, Vec<u8>)> = set
        .studies
        .iter()
        .map(|s| {
            (format!("{}.nii", s.id), {
                let mut raw = Vec::new();
                volume::write_mask(&mut raw, &set.geometry, &empty).unwrap();
                raw
            })
        })
        .collect();
    let path = set.path("plain.zip");
    write_zip(&path, &entries);
    // Hidden lesion files are removed: validation must not need them.
    std::fs::remove_dir_all(set.annotations().join("lesions")).unwrap();
    scorer::validate(&annotations, &path, &()).unwrap();
}
