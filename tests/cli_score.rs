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
        "--key",
        &path("manifest.key"),
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
        "--manifest-key",
        &path("manifest.key"),
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
        "--manifest-key",
        &path("manifest.key"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("lesions/{covid}/: differs from the manifest")),
        "{stderr}"
    );
}

/// `dataset manifest` of `dir`'s set into `manifest.json`, keyed with `key` (a file name in
/// `dir`).
fn build_manifest(dir: &Path, key: &str) -> Output {
    let path = |p: &str| dir.join(p).to_str().unwrap().to_owned();
    triageboard(&[
        "dataset",
        "manifest",
        "--images",
        &path("images"),
        "--annotations",
        &path("annotations"),
        "--out",
        &path("manifest.json"),
        "--key",
        &path(key),
    ])
}

/// `dataset verify` of `dir`'s annotations against `manifest`, with `extra` arguments.
fn verify_annotations(dir: &Path, manifest: &str, extra: &[&str]) -> Output {
    let manifest = dir.join(manifest);
    let annotations = dir.join("annotations");
    let mut args = vec![
        "dataset",
        "verify",
        "--manifest",
        manifest.to_str().unwrap(),
        "--annotations",
        annotations.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    triageboard(&args)
}

#[test]
fn dataset_manifest_creates_an_owner_only_key_file_when_it_is_missing_and_reuses_it() {
    let dir = small_set();
    let out = build_manifest(dir.path(), "organizers.key");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("created a new manifest key") && stderr.contains("keep it private"),
        "{stderr}"
    );
    let key_file = dir.path().join("organizers.key");
    let key = fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 64, "{key}");
    assert!(key.trim().bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let first = fs::read(dir.path().join("manifest.json")).unwrap();

    // A second run reads the key it finds and pins the same files to the same bytes.
    let again = build_manifest(dir.path(), "organizers.key");
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        !text(&again.stderr).contains("created"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(fs::read_to_string(&key_file).unwrap(), key);
    assert_eq!(fs::read(dir.path().join("manifest.json")).unwrap(), first);
}

#[test]
fn dataset_manifest_without_a_key_names_the_flag_except_for_the_synthetic_demo() {
    let dir = small_set();
    let path = |p: &str| dir.path().join(p).to_str().unwrap().to_owned();
    let build = |name: &str| {
        triageboard(&[
            "dataset",
            "manifest",
            "--images",
            &path("images"),
            "--annotations",
            &path("annotations"),
            "--name",
            name,
            "--out",
            &path("manifest.json"),
        ])
    };
    let out = build("mosmed-test");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("give --key FILE"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("manifest.json").exists());

    let out = build("synthetic-demo");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("public demo key"),
        "{}",
        text(&out.stderr)
    );
    // Checking it needs no key either.
    let verify = verify_annotations(dir.path(), "manifest.json", &[]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
}

#[test]
fn checking_annotations_without_the_right_key_fails_naming_the_flag() {
    let dir = small_set();
    assert!(
        build_manifest(dir.path(), "organizers.key")
            .status
            .success()
    );
    let key = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();

    let missing = verify_annotations(dir.path(), "manifest.json", &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("--manifest-key FILE"),
        "{}",
        text(&missing.stderr)
    );

    fs::write(dir.path().join("bad.key"), "not a key\n").unwrap();
    let malformed = verify_annotations(
        dir.path(),
        "manifest.json",
        &["--manifest-key", &key("bad.key")],
    );
    assert_eq!(malformed.status.code(), Some(1));
    let stderr = text(&malformed.stderr);
    assert!(
        stderr.contains("--manifest-key") && stderr.contains("not a manifest key"),
        "{stderr}"
    );

    fs::write(dir.path().join("other.key"), "ab".repeat(32)).unwrap();
    let wrong = verify_annotations(
        dir.path(),
        "manifest.json",
        &["--manifest-key", &key("other.key")],
    );
    assert_eq!(wrong.status.code(), Some(1));
    let stderr = text(&wrong.stderr);
    assert!(
        stderr.contains("--manifest-key") && stderr.contains("does not fit"),
        "{stderr}"
    );
    // A wrong key is not reported as a change of every file.
    assert!(!stderr.contains("differs from the manifest"), "{stderr}");

    // The images are public and checked without any key.
    let images = triageboard(&[
        "dataset",
        "verify",
        "--manifest",
        &key("manifest.json"),
        "--images",
        &key("images"),
    ]);
    assert!(images.status.success(), "{}", text(&images.stderr));
}

#[test]
fn a_manifest_of_an_older_triageboard_is_refused_with_a_message_saying_so() {
    let dir = small_set();
    assert!(
        build_manifest(dir.path(), "organizers.key")
            .status
            .success()
    );
    let manifest = fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let object = json.as_object_mut().unwrap();
    object.remove("private_digests");
    object.remove("key_check");
    fs::write(dir.path().join("old.json"), json.to_string()).unwrap();
    let key = dir.path().join("organizers.key");
    let out = verify_annotations(
        dir.path(),
        "old.json",
        &["--manifest-key", key.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("built by an older TriageBoard")
            && stderr.contains("rebuild it with `dataset manifest`"),
        "{stderr}"
    );
    assert!(!stderr.contains("differs from the manifest"), "{stderr}");
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
