//! `triageboard dataset synth`, `dataset manifest`/`verify` and `score` as a user runs them:
//! real processes, real files, the exit codes of EVALUATION.md section 4.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn triageboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triageboard"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A 12-study demo set in a temporary folder.
fn small_set() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = triageboard(&[
        "dataset",
        "synth",
        "--count",
        "12",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir
}

fn ids_and_categories(dir: &Path) -> Vec<(String, String)> {
    let labels = fs::read_to_string(dir.join("annotations/labels.csv")).unwrap();
    labels
        .lines()
        .skip(1)
        .map(|l| {
            let (id, category) = l.split_once(',').unwrap();
            (id.to_owned(), category.to_owned())
        })
        .collect()
}

#[test]
fn a_synthesized_set_has_the_layout_of_the_protocol() {
    let dir = small_set();
    let studies = ids_and_categories(dir.path());
    assert_eq!(studies.len(), 12);
    for (id, category) in &studies {
        assert!(dir.path().join(format!("images/{id}.nii.gz")).is_file());
        assert!(
            dir.path()
                .join(format!("annotations/lungs/{id}.nii.gz"))
                .is_file()
        );
        let lesions = dir.path().join(format!("annotations/lesions/{id}"));
        assert_eq!(lesions.is_dir(), category == "covid", "{id} {category}");
        if category == "covid" {
            assert!(
                lesions.join("rater1.nii.gz").is_file() && lesions.join("rater2.nii.gz").is_file()
            );
        }
    }
}

#[test]
fn score_prints_json_and_exits_zero_for_a_valid_table() {
    let dir = small_set();
    let mut csv = String::from("study_id,covid_probability\n");
    for (id, category) in ids_and_categories(dir.path()) {
        csv.push_str(&format!(
            "{id},{}\n",
            if category == "covid" { 0.8 } else { 0.2 }
        ));
    }
    let submission = dir.path().join("predictions.csv");
    fs::write(&submission, csv).unwrap();
    let annotations = dir.path().join("annotations");
    let out = triageboard(&[
        "score",
        "--annotations",
        annotations.to_str().unwrap(),
        "--submission",
        submission.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["n_studies"], 12);
    assert_eq!(json["auc_vs_all"], 1.0);
    assert_eq!(json["identification_source"], "covid_probability");
    assert_eq!(json["severity_source"], "covid_probability");
    assert!(json["dice"].is_null());
}

#[test]
fn an_invalid_submission_exits_two_with_one_problem_per_line_on_stderr() {
    let dir = small_set();
    let submission = dir.path().join("predictions.csv");
    fs::write(
        &submission,
        "study_id,covid_probability,extra\nnope,1.5,x\n",
    )
    .unwrap();
    let annotations = dir.path().join("annotations");
    let out = triageboard(&[
        "score",
        "--annotations",
        annotations.to_str().unwrap(),
        "--submission",
        submission.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("predictions.csv line 1: unknown column \"extra\""),
        "{stderr}"
    );
}

#[test]
fn other_failures_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    let submission = dir.path().join("p.csv");
    fs::write(&submission, "study_id,covid_probability\n").unwrap();
    let out = triageboard(&[
        "score",
        "--annotations",
        dir.path().to_str().unwrap(),
        "--submission",
        submission.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("labels.csv"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_manifest_pins_annotations_and_names_the_file_that_differs() {
    let dir = small_set();
    let path = |p: &str| dir.path().join(p).to_str().unwrap().to_owned();
    let out = triageboard(&[
        "dataset",
        "manifest",
        "--images",
        &path("images"),
        "--annotations",
        &path("annotations"),
        "--out",
        &path("manifest.json"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest = fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    // Aggregate counts only: no study's category and no lesion file name appears.
    assert!(
        !manifest.contains("rater") && !manifest.contains("lesions/"),
        "{manifest}"
    );
    let verify = triageboard(&[
        "dataset",
        "verify",
        "--manifest",
        &path("manifest.json"),
        "--images",
        &path("images"),
        "--annotations",
        &path("annotations"),
    ]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));

    let (covid, _) = ids_and_categories(dir.path())
        .into_iter()
        .find(|(_, c)| c == "covid")
        .unwrap();
    let rater = dir
        .path()
        .join(format!("annotations/lesions/{covid}/rater2.nii.gz"));
    fs::copy(
        dir.path()
            .join(format!("annotations/lesions/{covid}/rater1.nii.gz")),
        &rater,
    )
    .unwrap();
    fs::write(dir.path().join("p.csv"), "study_id,covid_probability\n").unwrap();
    let out = triageboard(&[
        "score",
        "--annotations",
        &path("annotations"),
        "--submission",
        &path("p.csv"),
        "--manifest",
        &path("manifest.json"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("lesions/{covid}/: differs from the manifest")),
        "{stderr}"
    );
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let a = small_set();
    let b = small_set();
    for (id, _) in ids_and_categories(a.path()) {
        for file in [
            format!("images/{id}.nii.gz"),
            format!("annotations/lungs/{id}.nii.gz"),
        ] {
            assert_eq!(
                fs::read(a.path().join(&file)).unwrap(),
                fs::read(b.path().join(&file)).unwrap(),
                "{file}"
            );
        }
    }
}
