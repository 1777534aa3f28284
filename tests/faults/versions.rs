//! Annotations changed under a running board: a start with other annotations is refused
//! with the file that changed, `testset adopt` is the one way to change them, a process
//! still holding the old ones scores nothing, and the boards show one version.

use std::path::Path;
use std::process::Command;

use super::{Running, assert_nothing_lost, config_like};
use crate::helpers::{Backend, predictions_csv, spawn_app_with, testset};
use triageboard::startup::Application;

/// Copies a folder tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The `manifest_version` of every entry of the live board, from its API.
async fn live_versions(app: &crate::helpers::TestApp) -> Vec<String> {
    let (status, board) = app
        .get_json("/api/v1/leaderboard?board=live&all=true", None)
        .await;
    assert_eq!(status, 200, "{board}");
    board["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manifest_version"].as_str().unwrap_or("none").to_owned())
        .collect()
}

crate::on_both_databases!(
    changed_annotations_are_refused_until_adopted_and_then_everything_is_rescored
);

async fn changed_annotations_are_refused_until_adopted_and_then_everything_is_rescored(
    backend: Backend,
) {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&testset().join("annotations"), copy.path());
    let annotations = copy.path().to_owned();
    let app = spawn_app_with(backend, |c| c.annotations = Some(annotations.clone())).await;
    let token = app.participant("yan").await;
    let id = app.submit(&token, &predictions_csv(0.8), "m").await;
    let first = app.wait_done(&token, id).await;
    let old_version = first["manifest_version"].as_str().unwrap().to_owned();
    assert!(old_version.starts_with("unpinned-"), "{old_version}");
    assert_eq!(
        live_versions(&app).await,
        std::slice::from_ref(&old_version)
    );

    // The organizer edits a label: a new start is refused and names the file.
    let labels = annotations.join("labels.csv");
    let text = std::fs::read_to_string(&labels).unwrap();
    let edited = if text.contains(",normal") {
        text.replacen(",normal", ",pneumonia", 1)
    } else {
        text.replacen(",covid", ",normal", 1)
    };
    std::fs::write(&labels, edited).unwrap();
    let refused = Application::build(config_like(&app, 0)).await.unwrap_err();
    let message = format!("{refused:#}");
    assert!(message.contains("labels.csv changed"), "{message}");
    assert!(message.contains("testset adopt"), "{message}");

    // Adopting is explicit, and queues every submission.
    let config = config_like(&app, 0);
    let mut adopt = Command::new(env!("CARGO_BIN_EXE_triageboard"));
    adopt.args(["testset", "adopt"]);
    if let Some(database) = &config.db.database {
        adopt.arg("--database").arg(database);
    }
    let output = adopt
        .arg("--data-dir")
        .arg(config.data_dir())
        .arg("--annotations")
        .arg(&annotations)
        .arg("--images")
        .arg(config.images_dir())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("queued 1 submissions"), "{said}");

    // The running app holds the old annotations: it shows no entry of the old version on
    // its board, and its worker scores nothing.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(live_versions(&app).await, Vec::<String>::new());
    let queued: i64 = sqlx::query_scalar("select count(*) from jobs where state = 'queued'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(queued, 1, "the stale worker took the job");

    // A start with the new annotations scores it on the new version.
    let next = Running::start(config_like(&app, 1)).await;
    let started = std::time::Instant::now();
    let new_version = loop {
        let (_, body) = app
            .get_json(&format!("/api/v1/submissions/{id}"), Some(&token))
            .await;
        let version = body["manifest_version"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if body["status"] == "scored" && version != old_version {
            break version;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(live_versions(&app).await, [new_version]);
    next.terminate().await;
    assert_nothing_lost(&app.state, &[id]).await;
}
