//! The reference pipeline end to end: training writes weights, a record and a card and
//! resumes; the shipped models write valid submissions; the service enters them as
//! flagged baselines with public model cards and organizer-only projections.

mod helpers;

use std::path::Path;
use std::time::{Duration, Instant};

use helpers::{Backend, spawn_app_with};
use reference_model::Device;
use reference_model::predict::{Output, PredictOptions, predict};
use reference_model::train::{TrainPaths, train};
use reference_model::zoo::{self, Model};
use serde_json::Value;
use triageboard::dataset::{Synth, synthesize};

const WEIGHTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/reference-model/weights");

fn split(dir: &Path, split: phantom::Split, count: usize) {
    let options = Synth {
        split,
        count: Some(count),
        force: true,
        ..Synth::default()
    };
    synthesize(dir, &options, &|_, _| {}).expect("a synthetic split");
}

/// A 6-study test set (2 COVID-19), generated once per test binary: every model on every
/// study takes seconds per study on the CPU.
fn small_testset() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        split(dir.path(), phantom::Split::Test, 6);
        dir
    })
    .path()
}

#[test]
fn training_writes_weights_a_record_and_a_card_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    split(&dir.path().join("train"), phantom::Split::Train, 6);
    split(&dir.path().join("val"), phantom::Split::Val, 4);
    let paths = TrainPaths {
        train: dir.path().join("train"),
        val: dir.path().join("val"),
        weights: dir.path().join("weights"),
    };
    let mut config = zoo::config(Model::Unet);
    let recipe = config.recipe.as_mut().unwrap();
    (recipe.steps, recipe.slices, recipe.val_every) = (2, 2, 1);
    let record = train(&config, &paths, &Device::Cpu, false).unwrap();
    assert_eq!(record.steps, 2);
    assert_eq!(record.history.len(), 2);
    assert_eq!(
        record.train.studies, record.train.covid,
        "the 2D U-Net learns from COVID-19 studies only"
    );
    assert!(record.train.covid > 0);
    assert!(
        record
            .history
            .iter()
            .all(|h| h.loss.is_finite() && h.loss > 0.0)
    );
    assert!(record.best.dice.is_some(), "{:?}", record.best);
    for file in ["unet.safetensors", "unet.json", "unet.md"] {
        assert!(paths.weights.join(file).is_file(), "{file}");
    }
    let card = std::fs::read_to_string(paths.weights.join("unet.md")).unwrap();
    assert!(card.contains("# Model card: 2D U-Net"), "{card}");
    assert!(card.contains("never read"), "{card}");
    assert!(
        !paths.weights.join("unet.ckpt.safetensors").exists(),
        "a finished run leaves no checkpoint"
    );

    // An interrupted run (a checkpoint at step 2 of 3) resumes where it stopped.
    let recipe = config.recipe.as_mut().unwrap();
    (recipe.steps, recipe.val_every) = (3, 2);
    std::fs::copy(
        paths.weights.join("unet.safetensors"),
        paths.weights.join("unet.ckpt.safetensors"),
    )
    .unwrap();
    std::fs::write(
        paths.weights.join("unet.ckpt.json"),
        serde_json::to_string(&record).unwrap(),
    )
    .unwrap();
    let resumed = train(&config, &paths, &Device::Cpu, true).unwrap();
    assert_eq!(resumed.steps, 3);
    assert_eq!(
        resumed.history.len(),
        3,
        "two checkpoints before, one more after resuming"
    );
}

#[test]
fn an_unknown_model_or_device_gets_a_clear_error() {
    let err = "resnet18".parse::<Model>().unwrap_err().to_string();
    assert!(
        err.contains("expected one of lungs, threshold, unet"),
        "{err}"
    );
    let err = reference_model::device::parse("gpu")
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected cpu, cuda or cuda:N"), "{err}");
    if !cfg!(feature = "cuda") {
        let err = reference_model::device::parse("cuda:0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("built without CUDA"), "{err}");
    }
}

#[test]
fn the_shipped_models_write_submissions_the_scorer_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let outputs: Vec<Output> = zoo::baselines()
        .into_iter()
        .map(|m| {
            let ext = zoo::config(m).task.submission_extension();
            Output {
                model: m,
                out: dir.path().join(format!("{m}.{ext}")),
                projections: Some(dir.path().join(m.name())),
            }
        })
        .collect();
    let options = PredictOptions {
        images: small_testset().join("images"),
        weights: WEIGHTS.into(),
        outputs: outputs.clone(),
    };
    let mut ticks = 0;
    let report = predict(&options, Device::Cpu, &mut |_, _| ticks += 1).unwrap();
    assert_eq!((report.studies, ticks), (6, 6));
    let annotations = scorer::Annotations::load(&small_testset().join("annotations")).unwrap();
    for output in &outputs {
        let scores = scorer::score(&annotations, &output.out, &())
            .unwrap_or_else(|e| panic!("{}: {e:#}", output.model))
            .scores;
        assert_eq!(scores.n_studies, 6);
        assert!(scores.auc_vs_all.value.is_some(), "{}", output.model);
        if output.model == Model::Resnet {
            assert!(
                scores.dice.value.is_none(),
                "a table-only submission has no Dice"
            );
        } else {
            let dice = scores.dice.value.unwrap_or(0.0);
            assert!(dice > 0.05, "{}: Dice {dice}", output.model);
        }
        let png =
            std::fs::read(dir.path().join(output.model.name()).join("study_0001.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_baselines_enter_the_board_flagged_with_their_cards() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.annotations = Some(small_testset().join("annotations"));
        config.images = Some(small_testset().join("images"));
    })
    .await;
    let (entered, replaced) = triageboard::baselines::run(&app.state).await.unwrap();
    assert_eq!((entered, replaced), (6, 0));
    let board_of = |first: i64| {
        let app = &app;
        async move {
            let started = Instant::now();
            loop {
                let (status, body) = app.get_json("/api/v1/leaderboard?all=true", None).await;
                assert_eq!(status, 200);
                let rows: Vec<Value> = body["rows"].as_array().cloned().unwrap_or_default();
                let from_run = rows
                    .iter()
                    .filter(|r| r["submission_id"].as_i64().unwrap() >= first)
                    .count();
                if from_run == 6 {
                    return rows;
                }
                assert!(started.elapsed() < Duration::from_secs(120), "{body}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let rows = board_of(0).await;
    assert_eq!(rows.len(), 6, "{rows:?}");
    // A rerun replaces the baselines of the previous run instead of adding six more.
    let first_of_rerun = rows
        .iter()
        .map(|r| r["submission_id"].as_i64().unwrap())
        .max()
        .unwrap()
        + 1;
    let (entered, replaced) = triageboard::baselines::run(&app.state).await.unwrap();
    assert_eq!((entered, replaced), (6, 6));
    let after = board_of(first_of_rerun).await;
    assert_eq!(after.len(), 6, "one copy of each baseline: {after:?}");
    assert!(rows.iter().all(|r| r["baseline"] == true), "{rows:?}");
    assert!(
        rows.iter().any(|r| r["method"] == "Multitask (reference)"),
        "{rows:?}"
    );
    let board = app.client.get(app.url("/")).send().await.unwrap();
    let board = board.text().await.unwrap();
    assert!(
        board.contains("href=\"/models/multitask\""),
        "the board links the cards"
    );
    let card = app
        .client
        .get(app.url("/models/multitask"))
        .send()
        .await
        .unwrap();
    assert_eq!(card.status(), 200);
    let html = card.text().await.unwrap();
    assert!(html.contains("<h1>Model card: Multitask"), "{html}");
    assert!(html.contains("<table>"), "the card's tables are rendered");
    let index = app
        .client
        .get(app.url("/models"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains("/models/unet3d"), "{index}");
    // Projections show per-study findings: a visitor is sent to log in (the organizer-only
    // guard they share with the other organizer pages is tested in tests/pages.rs).
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/organizer/reference/unet/study_0001.png",
        "/organizer/reference/unet",
    ] {
        let anonymous = no_redirects.get(app.url(path)).send().await.unwrap();
        assert!(
            anonymous.status().is_redirection(),
            "{path}: {}",
            anonymous.status()
        );
        let location = anonymous.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(location, "/login", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_baselines_command_enters_them_over_the_api_with_an_organizer_token() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.annotations = Some(small_testset().join("annotations"));
        config.images = Some(small_testset().join("images"));
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let run = |token: String| {
        let (address, images, out) = (
            app.address.clone(),
            small_testset().join("images"),
            out.path().to_owned(),
        );
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_triageboard"))
                .args([
                    "reference",
                    "baselines",
                    "--server",
                    &address,
                    "--token",
                    &token,
                ])
                .arg("--images")
                .arg(images)
                .arg("--weights")
                .arg(WEIGHTS)
                .arg("--out")
                .arg(out)
                .output()
                .unwrap()
        })
    };
    // A participant's token is refused before any inference, with the reason.
    let participant = app.participant("mallory").await;
    let refused = run(participant).await.unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("\"mallory\", who is not an organizer"),
        "{stderr}"
    );

    let done = run(app.organizer_token.clone()).await.unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("entered as a final baseline").count(),
        6,
        "{stderr}"
    );
    let (_, body) = app
        .get_json("/api/v1/submissions", Some(&app.organizer_token))
        .await;
    let flagged = body
        .as_array()
        .map_or(0, |a| a.iter().filter(|s| s["baseline"] == true).count());
    assert_eq!(flagged, 6, "{body}");
}
