//! The reference pipeline end to end: training writes weights, a record and a card and
//! resumes; the shipped models write valid submissions; the service enters them as
//! flagged baselines with public model cards and organizer-only projections.

mod helpers;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use helpers::{Backend, spawn_app_with};
use reference_model::Device;
use reference_model::predict::{Output, PredictOptions, predict};
use reference_model::train::{TrainOptions, TrainPaths, train};
use reference_model::zoo::{self, Model};
use serde_json::Value;
use triageboard::baselines::Source;
use triageboard::dataset::{DEFAULT_SEED, DEMO_MANIFEST, Synth, synthesize};
use triageboard::demo_baselines;

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

/// Train and validation splits of `train` and `val` studies under `dir`, and a weights
/// folder beside them.
fn training_folders(dir: &Path, train: usize, val: usize) -> TrainPaths {
    split(&dir.join("train"), phantom::Split::Train, train);
    split(&dir.join("val"), phantom::Split::Val, val);
    TrainPaths {
        train: dir.join("train"),
        val: dir.join("val"),
        weights: dir.join("weights"),
    }
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
    let paths = training_folders(dir.path(), 6, 4);
    let mut config = zoo::config(Model::Unet);
    let recipe = config.recipe.as_mut().unwrap();
    (recipe.steps, recipe.slices, recipe.val_every) = (2, 2, 1);
    let record = train(&config, &paths, &Device::Cpu, &TrainOptions::default()).unwrap();
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
    let resume = TrainOptions {
        resume: true,
        ..TrainOptions::default()
    };
    let resumed = train(&config, &paths, &Device::Cpu, &resume).unwrap();
    assert_eq!(resumed.steps, 3);
    assert_eq!(
        resumed.history.len(),
        3,
        "two checkpoints before, one more after resuming"
    );
}

#[test]
fn a_moving_average_is_validated_and_kept_without_changing_the_training() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = training_folders(dir.path(), 4, 3);
    let mut config = zoo::config(Model::Unet);
    let recipe = config.recipe.as_mut().unwrap();
    (recipe.steps, recipe.slices, recipe.val_every) = (3, 2, 1);
    let plain = train(&config, &paths, &Device::Cpu, &TrainOptions::default()).unwrap();
    let plain_weights = std::fs::read(paths.weights.join("unet.safetensors")).unwrap();

    config.recipe.as_mut().unwrap().ema = Some(0.9);
    paths.weights = dir.path().join("weights-ema");
    let averaged = train(&config, &paths, &Device::Cpu, &TrainOptions::default()).unwrap();
    // The average is swapped in to validate and out again: the training itself, and so
    // every step's loss, is the same as without it.
    let losses = |r: &reference_model::train::Record| -> Vec<f64> {
        r.history.iter().map(|h| h.loss).collect()
    };
    assert_eq!(losses(&averaged), losses(&plain));
    assert_ne!(
        std::fs::read(paths.weights.join("unet.safetensors")).unwrap(),
        plain_weights,
        "the kept weights are the average, not the weights of a step"
    );
    let card = std::fs::read_to_string(paths.weights.join("unet.md")).unwrap();
    assert!(
        card.contains("moving average of the weights (decay 0.9)"),
        "{card}"
    );
}

#[test]
fn a_time_limit_ends_training_with_a_validated_card_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let paths = training_folders(dir.path(), 4, 3);
    let mut config = zoo::config(Model::Unet);
    let recipe = config.recipe.as_mut().unwrap();
    (recipe.steps, recipe.slices, recipe.val_every) = (50, 2, 25);
    let options = TrainOptions {
        time_limit: Some(Duration::ZERO),
        ..TrainOptions::default()
    };
    let record = train(&config, &paths, &Device::Cpu, &options).unwrap();
    assert_eq!(record.steps, 1, "a spent limit stops after the first step");
    assert_eq!(record.history.len(), 1, "and validates it");
    assert_eq!(record.best_step, 1);
    assert_eq!(record.time_limit_seconds, Some(0.0));
    let card = std::fs::read_to_string(paths.weights.join("unet.md")).unwrap();
    assert!(
        card.contains("1 steps (of the recipe's 50: stopped at its time limit of 0 s)"),
        "{card}"
    );
    assert!(!paths.weights.join("unet.ckpt.safetensors").exists());
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
    let run = triageboard::baselines::run(&app.state, Source::CacheOrCompute)
        .await
        .unwrap();
    // Not the demo set: the cache does not apply and every model runs.
    assert_eq!((run.entered, run.replaced, run.cached), (6, 0, false));
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
    let run = triageboard::baselines::run(&app.state, Source::Compute)
        .await
        .unwrap();
    assert_eq!((run.entered, run.replaced, run.cached), (6, 6, false));
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

/// A submission's per-study files and its table's rows, by name and by study id.
fn contents(path: &Path) -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, String>) {
    let bytes = std::fs::read(path).unwrap();
    let (files, table) = if path.extension().is_some_and(|e| e == "csv") {
        (BTreeMap::new(), String::from_utf8(bytes).unwrap())
    } else {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut files = BTreeMap::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            files.insert(entry.name().unwrap().into_owned(), data);
        }
        let table = String::from_utf8(files.remove("predictions.csv").unwrap()).unwrap();
        (files, table)
    };
    let rows = table
        .lines()
        .skip(1)
        .map(|l| (l.split(',').next().unwrap().to_owned(), l.to_owned()))
        .collect();
    (files, rows)
}

const REGENERATE: &str = "regenerate the cache: cargo run --release -- dataset synth --out data/test --split test --force && cargo run --release -- reference eval --data data/test --write-demo-cache";

/// The demo's cached baselines are what the shipped models write: three studies of the
/// demo test set (a COVID-19, a pneumonia and a normal one), recomputed, match the cache's
/// files for them byte for byte.
#[test]
fn the_demo_cache_is_what_the_shipped_models_write() {
    let weights = Path::new(WEIGHTS);
    let models = zoo::baselines();
    let index = demo_baselines::index(weights).unwrap_or_else(|e| panic!("{e}; {REGENERATE}"));
    assert_eq!(
        index.weights,
        demo_baselines::weights_digests(weights, &models).unwrap(),
        "the shipped weights changed since the cache was written; {REGENERATE}"
    );
    let manifest =
        scorer::manifest::Manifest::from_json(DEMO_MANIFEST.as_bytes(), Path::new("demo")).unwrap();
    assert_eq!(
        index.testset_version,
        manifest.version(),
        "the demo test set changed since the cache was written; {REGENERATE}"
    );
    let files = demo_baselines::lookup(weights, &index.testset_version, &models).unwrap();
    assert_eq!(files.len(), models.len());

    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let plan = phantom::plan(
        phantom::Split::Test,
        phantom::Profile::Demo,
        DEFAULT_SEED,
        None,
    );
    let mut ids = Vec::new();
    for category in [
        phantom::Category::Covid,
        phantom::Category::Pneumonia,
        phantom::Category::Normal,
    ] {
        let spec = plan.iter().find(|s| s.category == category).unwrap();
        let study = phantom::generate(spec);
        let path = images.join(format!("{}.nii.gz", spec.id));
        volume::write_nifti_gz(&path, &study.geometry, &study.hu, 1).unwrap();
        ids.push(spec.id.clone());
    }
    let outputs: Vec<Output> = models
        .iter()
        .map(|&m| Output {
            model: m,
            out: dir.path().join(format!(
                "{m}.{}",
                zoo::config(m).task.submission_extension()
            )),
            projections: None,
        })
        .collect();
    let options = PredictOptions {
        images,
        weights: WEIGHTS.into(),
        outputs: outputs.clone(),
    };
    predict(&options, Device::Cpu, &mut |_, _| {}).unwrap();
    for (output, (model, cached)) in outputs.iter().zip(&files) {
        assert_eq!(output.model, *model);
        let (fresh, fresh_rows) = contents(&output.out);
        let (old, old_rows) = contents(cached);
        let zipped = zoo::config(*model).task.submission_extension() == "zip";
        assert_eq!(old_rows.len(), 101, "{model}: the cache holds every study");
        assert_eq!(old.len(), if zipped { 101 } else { 0 }, "{model}");
        for id in &ids {
            let mask = format!("{id}.nii.gz");
            assert_eq!(fresh.contains_key(&mask), zipped, "{model}: {mask}");
            assert!(
                fresh.get(&mask) == old.get(&mask),
                "{model}: {mask} differs from the cache; {REGENERATE}"
            );
            assert_eq!(
                fresh_rows.get(id),
                old_rows.get(id),
                "{model}: {id}'s row differs from the cache; {REGENERATE}"
            );
        }
    }
}

/// The cache applies only to the test set and the weights it was computed with.
#[test]
fn the_demo_cache_is_refused_for_another_test_set_or_other_weights() {
    let models = zoo::baselines();
    let index = demo_baselines::index(Path::new(WEIGHTS)).unwrap();
    let err = demo_baselines::lookup(Path::new(WEIGHTS), "another-version", &models)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not another-version"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(WEIGHTS).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let err = demo_baselines::lookup(dir.path(), &index.testset_version, &models)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no cache"), "{err}");
    let cache = dir.path().join(demo_baselines::DIR);
    std::fs::create_dir_all(&cache).unwrap();
    for entry in std::fs::read_dir(Path::new(WEIGHTS).join(demo_baselines::DIR)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, cache.join(path.file_name().unwrap())).unwrap();
    }
    assert_eq!(
        demo_baselines::lookup(dir.path(), &index.testset_version, &models)
            .unwrap()
            .len(),
        models.len()
    );
    // One changed byte in one model's config.
    let json = dir.path().join("unet.json");
    let mut text = std::fs::read_to_string(&json).unwrap();
    text.push(' ');
    std::fs::write(&json, text).unwrap();
    let err = demo_baselines::lookup(dir.path(), &index.testset_version, &models)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unet.json differs"), "{err}");
}

/// The demo's first start enters the cached baselines (no inference), and the queue scores
/// them like any other submission.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_set_gets_the_cached_baselines() {
    let data = tempfile::tempdir().unwrap();
    synthesize(data.path(), &Synth::default(), &|_, _| {}).unwrap();
    let manifest = data.path().join("manifest.json");
    std::fs::write(&manifest, DEMO_MANIFEST).unwrap();
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.annotations = Some(data.path().join("annotations"));
        config.images = Some(data.path().join("images"));
        config.manifest = Some(manifest.clone());
    })
    .await;
    let run = triageboard::baselines::run(&app.state, Source::CacheOrCompute)
        .await
        .unwrap();
    assert_eq!((run.entered, run.replaced, run.cached), (6, 0, true));
    let started = Instant::now();
    loop {
        let (status, body) = app.get_json("/api/v1/leaderboard?all=true", None).await;
        assert_eq!(status, 200);
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        if rows.len() == 6 {
            assert!(rows.iter().all(|r| r["baseline"] == true), "{rows:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
