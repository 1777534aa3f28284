//! Faults the service must survive without losing an acknowledged submission (issue 11).
//!
//! A full disk on SQLite, without root: SQLite's `max_page_count` makes the database
//! "full" at a chosen size, with the same error (SQLITE_FULL) as a full filesystem. The
//! test pins what a full disk must do: refuse uploads with 507, `Retry-After` and a message
//! that says what is wrong, and lose no upload it answered 202, also across a restart.
//!
//! Not yet reproduced here: the lost 202s that issue 11 measured on a full tmpfs. With
//! `max_page_count` SQLite fails the statement without ending the transaction, so the pool
//! never holds a connection whose transaction depth is stale; this test passes with and
//! without the `after_release` check in `src/db/mod.rs`.

mod helpers;

use std::collections::BTreeSet;

use helpers::{Backend, TestApp, predictions_csv, spawn_app_with};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Executor};
use triageboard::config::Config;
use triageboard::startup::Application;

/// Every connection of the pool (8), held at once, so that a pragma reaches all of them.
async fn every_connection(app: &TestApp) -> Vec<PoolConnection<Any>> {
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(app.state.db.pool().acquire().await.expect("a connection"));
    }
    held
}

/// Makes the database full: no connection may grow the file, and a filler table takes
/// every free page first.
async fn fill_the_disk(app: &TestApp) {
    let pool = app.state.db.pool();
    pool.execute("create table filler (junk blob)")
        .await
        .unwrap();
    let pages: i64 = sqlx::query_scalar("pragma page_count")
        .fetch_one(pool)
        .await
        .unwrap();
    for mut conn in every_connection(app).await {
        let sql = format!("pragma max_page_count = {}", pages + 2);
        conn.execute(sql.as_str()).await.unwrap();
    }
    // Big rows first, then ever smaller ones into what is left of the pages.
    for size in [2000, 200, 20, 1] {
        loop {
            let insert = sqlx::query("insert into filler (junk) values (randomblob($1))")
                .bind(size)
                .execute(pool)
                .await;
            match insert {
                Ok(_) => continue,
                Err(err) => {
                    assert!(triageboard::error::is_disk_full(&err), "{err}");
                    break;
                }
            }
        }
    }
}

/// Frees the space again: the filler goes, and the limit is lifted on every connection.
async fn free_the_disk(app: &TestApp) {
    for mut conn in every_connection(app).await {
        conn.execute("pragma max_page_count = 1073741823")
            .await
            .unwrap();
    }
    app.state
        .db
        .pool()
        .execute("drop table filler")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_disk_refuses_uploads_clearly_and_loses_no_acknowledged_one() {
    // A job whose result could not be recorded while the disk was full is claimed again
    // when its lease runs out: short here (issue 11 asks for short, renewed leases).
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.daily_quota = 1000;
        c.lease_seconds = 2;
    })
    .await;
    let token = app.participant("dora").await;
    let mut acknowledged = BTreeSet::new();
    acknowledged.insert(app.submit(&token, &predictions_csv(0.9), "before").await);

    fill_the_disk(&app).await;
    // What is left inside the tables' pages still takes a few rows; every upload answered
    // 202 meanwhile must survive, and a refusal must say what is wrong.
    let mut refused = 0;
    for attempt in 0..200 {
        let response = app
            .upload(
                &token,
                "predictions.csv",
                predictions_csv(0.5).into_bytes(),
                &[("method", "while full")],
            )
            .await;
        let status = response.status().as_u16();
        if status == 202 {
            // Space can come back: a connection closed after the error is replaced by one
            // without the test's page limit.
            let body: serde_json::Value = response.json().await.unwrap();
            acknowledged.insert(body["id"].as_i64().unwrap());
            continue;
        }
        assert!(
            status == 507 || status == 503,
            "upload {attempt} while full: {status}"
        );
        assert!(response.headers().contains_key("retry-after"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("storage is full"),
            "{body}"
        );
        refused += 1;
        if refused == 5 {
            break;
        }
    }
    assert!(refused > 0, "the full disk never refused an upload");

    free_the_disk(&app).await;
    for i in 0..3 {
        let id = app
            .submit(&token, &predictions_csv(0.8), &format!("after {i}"))
            .await;
        acknowledged.insert(id);
    }
    for id in &acknowledged {
        let done = app.wait_done(&token, *id).await;
        assert_eq!(done["status"], "scored", "{done}");
    }

    // After a restart on the same folder, every acknowledged submission is still there.
    let mut config = Config::new(app.dir.path());
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.annotations = app.state.config.annotations.clone();
    config.images = app.state.config.images.clone();
    config.workers = 0;
    let restarted = Application::build(config).await.expect("a restart");
    let stored: Vec<i64> = sqlx::query_scalar("select id from submissions order by id")
        .fetch_all(restarted.state().db.pool())
        .await
        .unwrap();
    for id in &acknowledged {
        assert!(
            stored.contains(id),
            "submission {id} was acknowledged and is gone"
        );
    }
    assert_eq!(
        stored.len(),
        acknowledged.len(),
        "refused uploads left rows"
    );
}
