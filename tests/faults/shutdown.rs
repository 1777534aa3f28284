//! Stopping: SIGTERM gives a scoring the grace period and then gives its job back at
//! once; kill -9 mid-scoring costs one short lease; kill -9 mid-upload leaves nothing.

use std::time::{Duration, Instant};

use super::{
    Feeder, Running, Server, assert_nothing_lost, config_like, job, replace_with_fifo,
    restore_file, wait_status,
};
use crate::helpers::{Backend, TestApp, predictions_csv, spawn_app_with};

crate::on_both_databases!(
    sigterm_gives_a_running_scoring_back_to_the_queue_at_once,
    sigterm_lets_a_scoring_finish_within_the_grace_period,
    kill_9_mid_scoring_costs_one_short_lease_and_scores_once,
    kill_9_mid_upload_leaves_no_row_and_no_file
);

/// An app that scores nothing itself (the test starts the workers), with a participant and
/// one upload whose file is a FIFO; returns the token, the id, the FIFO and the content.
async fn blocked_submission(app: &TestApp) -> (String, i64, std::path::PathBuf, Vec<u8>) {
    let token = app.participant("sam").await;
    let id = app.submit(&token, &predictions_csv(0.9), "slow").await;
    let stored: String = sqlx::query_scalar("select stored_path from submissions where id = $1")
        .bind(id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let (fifo, content) = replace_with_fifo(&app.state, &stored);
    (token, id, fifo, content)
}

async fn sigterm_gives_a_running_scoring_back_to_the_queue_at_once(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let (token, id, fifo, content) = blocked_submission(&app).await;
    let mut config = config_like(&app, 1);
    config.shutdown_grace_seconds = 0;
    let running = Running::start(config).await;
    wait_status(&app.state, id, "running").await;

    let took = running.terminate().await;
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    // Back in the queue at once, and the abandoned claim is not counted as an attempt.
    assert_eq!(job(&app.state, id).await, Some(("queued".to_owned(), 0)));
    wait_status(&app.state, id, "queued").await;

    // The abandoned scoring thread gets its data and ends; then the real file goes back.
    Feeder::start(&fifo, content.clone()).drained().await;
    restore_file(&fifo, &content);
    let started = Instant::now();
    let next = Running::start(config_like(&app, 1)).await;
    let done = app.wait_done(&token, id).await;
    assert_eq!(done["status"], "scored", "{done}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the next start took {:?} to score the job given back",
        started.elapsed()
    );
    next.terminate().await;
    assert_nothing_lost(&app.state, &[id]).await;
}

async fn sigterm_lets_a_scoring_finish_within_the_grace_period(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let (token, id, fifo, content) = blocked_submission(&app).await;
    let mut config = config_like(&app, 1);
    config.shutdown_grace_seconds = 30;
    let running = Running::start(config).await;
    wait_status(&app.state, id, "running").await;

    let stopping = tokio::spawn(running.terminate());
    // The worker is in its grace period now; the scoring gets its data and finishes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let feeder = Feeder::start(&fifo, content.clone());
    let took = stopping.await.unwrap();
    feeder.drained().await;
    assert!(took < Duration::from_secs(30), "stopping took {took:?}");
    restore_file(&fifo, &content);
    let done = app.wait_done(&token, id).await;
    assert_eq!(
        done["status"], "scored",
        "recorded before the process ended: {done}"
    );
    assert_nothing_lost(&app.state, &[id]).await;
}

async fn kill_9_mid_scoring_costs_one_short_lease_and_scores_once(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let (token, id, fifo, content) = blocked_submission(&app).await;
    let server = Server::spawn(&config_like(&app, 1), &["--lease-seconds", "2"]);
    wait_status(&app.state, id, "running").await;
    server.kill();
    restore_file(&fifo, &content);
    assert_eq!(
        job(&app.state, id).await.map(|j| j.0),
        Some("running".to_owned())
    );

    let started = Instant::now();
    let mut config = config_like(&app, 1);
    config.lease_seconds = 2;
    let next = Running::start(config).await;
    let done = app.wait_done(&token, id).await;
    assert_eq!(done["status"], "scored", "{done}");
    let delay = started.elapsed();
    assert!(delay < Duration::from_secs(8), "the job waited {delay:?}");
    next.terminate().await;
    assert_nothing_lost(&app.state, &[id]).await;
}

async fn kill_9_mid_upload_leaves_no_row_and_no_file(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let token = app.participant("uma").await;
    let server = Server::spawn(&config_like(&app, 0), &[]);

    // An upload that sends its first part, then waits.
    let (more, rest) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    let chunks = futures_util::stream::unfold(rest, |mut rest| async move {
        let chunk = rest.recv().await?;
        Some((Ok::<_, std::io::Error>(chunk), rest))
    });
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(chunks))
        .file_name("predictions.csv");
    let form = reqwest::multipart::Form::new()
        .text("method", "cut off")
        .part("file", part);
    let request = app
        .client
        .post(format!("{}/api/v1/submissions", server.address))
        .bearer_auth(&token)
        .multipart(form);
    let upload = tokio::spawn(request.send());
    more.send(predictions_csv(0.5).into_bytes()).await.unwrap();
    let incoming = app.state.config.incoming_dir();
    let started = Instant::now();
    while std::fs::read_dir(&incoming).unwrap().count() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no partial upload appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    let answer = upload.await.unwrap();
    assert!(answer.is_err(), "a killed server answered: {answer:?}");
    drop(more);

    let next = Running::start(config_like(&app, 1)).await;
    assert_eq!(
        std::fs::read_dir(&incoming).unwrap().count(),
        0,
        "the start removed the partial upload"
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from submissions")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0, "the cut-off upload left a row");
    let id = app
        .submit(&token, &predictions_csv(0.5), "after the crash")
        .await;
    assert_eq!(app.wait_done(&token, id).await["status"], "scored");
    next.terminate().await;
    assert_nothing_lost(&app.state, &[id]).await;
}
