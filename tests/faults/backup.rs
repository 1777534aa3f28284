//! Backups: taken while uploads go on, restored into a fresh data folder, they hold every
//! submission their database names, with its file and its scores, and the restored service
//! answers for them as the original did.

use std::process::Command;

use super::{assert_nothing_lost, config_like};
use crate::helpers::{Backend, predictions_csv, spawn_app_with};
use triageboard::startup::Application;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_submission_and_score() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.daily_quota = 100).await;
    let token = app.participant("zed").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            app.submit(
                &token,
                &predictions_csv(0.6 + 0.1 * f64::from(i)),
                &format!("m{i}"),
            )
            .await,
        );
    }
    for id in &ids {
        app.wait_done(&token, *id).await;
    }

    // Uploads keep arriving while the backup runs.
    let uploading = {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/v1/submissions"),
            token.clone(),
        );
        tokio::spawn(async move {
            let mut accepted = 0;
            for i in 0..5 {
                let part = reqwest::multipart::Part::bytes(predictions_csv(0.5).into_bytes())
                    .file_name("predictions.csv");
                let form = reqwest::multipart::Form::new()
                    .text("method", format!("during {i}"))
                    .part("file", part);
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .multipart(form)
                    .send()
                    .await;
                if response.is_ok_and(|r| r.status() == 202) {
                    accepted += 1;
                }
            }
            accepted
        })
    };
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("backup");
    let data_dir = app.state.config.data_dir().to_owned();
    let output = tokio::task::spawn_blocking({
        let target = target.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_triageboard"))
                .args(["backup", "--data-dir"])
                .arg(&data_dir)
                .arg("--out")
                .arg(&target)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("backed up"));
    assert_eq!(uploading.await.unwrap(), 5);

    // Restore into a fresh folder, refusing one that has a database.
    let fresh = tempfile::tempdir().unwrap();
    let restore = |into: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_triageboard"))
            .args(["restore", "--from"])
            .arg(&target)
            .arg("--data-dir")
            .arg(into)
            .output()
            .unwrap()
    };
    let refused = restore(app.state.config.data_dir());
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("fresh data folder"));
    let restored = restore(fresh.path());
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );

    let mut config = config_like(&app, 1);
    config.db.data_dir = fresh.path().to_owned();
    config.db.database = None;
    let copy = Application::build(config)
        .await
        .expect("a start on the restored folder");
    let restored_rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "select id, sha256, scores_json, public_scores_json from submissions order by id",
    )
    .fetch_all(copy.state().db.pool())
    .await
    .unwrap();
    for id in &ids {
        assert!(
            restored_rows.iter().any(|row| row.0 == *id),
            "scored submission {id} is not in the backup"
        );
    }
    for (id, sha256, scores, public) in &restored_rows {
        let original: (String, Option<String>, Option<String>) = sqlx::query_as(
            "select sha256, scores_json, public_scores_json from submissions where id = $1",
        )
        .bind(id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
        assert_eq!(&original.0, sha256, "submission {id}");
        if ids.contains(id) {
            assert_eq!(&original.1, scores, "the scores of submission {id}");
            assert_eq!(&original.2, public, "the live scores of submission {id}");
        }
    }
    // The restored service knows the participant's token and the scores, and finishes
    // what was queued when the backup was taken.
    let address = format!("http://{}", copy.address());
    let state = copy.state().clone();
    tokio::spawn(copy.run_until_stopped(std::future::pending()));
    for id in &ids {
        let restored: serde_json::Value = app
            .client
            .get(format!("{address}/api/v1/submissions/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (_, original) = app
            .get_json(&format!("/api/v1/submissions/{id}"), Some(&token))
            .await;
        assert_eq!(
            restored, original,
            "submission {id} as the restored service shows it"
        );
    }
    let all: Vec<i64> = restored_rows.iter().map(|row| row.0).collect();
    for id in &all {
        super::wait_status(&state, *id, "scored").await;
    }
    assert_nothing_lost(&state, &all).await;
}
