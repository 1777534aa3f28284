//! A full disk, and partial uploads left by a crash.
//!
//! A full disk on SQLite, without root: SQLite's `max_page_count` makes the database
//! "full" at a chosen size, with the same error (SQLITE_FULL) as a full filesystem. The
//! test pins what a full disk must do: refuse uploads with 507, `Retry-After` and a message
//! that says what is wrong, and lose no upload it answered 202, also across a restart.
//!
//! `max_page_count` fails the statement without ending the transaction, so it does not
//! reproduce the lost submissions of issue 11; a real full filesystem does, and the second
//! test makes one (a 20 MB tmpfs; mounting needs root, which CI has here). With the
//! `after_release` check in `src/db/mod.rs` disabled that test fails (500s after the space
//! came back, in 2 of 2 runs); with it, it passes (5 of 5).

use std::collections::BTreeSet;

use sqlx::pool::PoolConnection;
use sqlx::{Any, Executor};

use super::restart;
use crate::helpers::{Backend, TestApp, predictions_csv, spawn_app, spawn_app_with};

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
    let restarted = restart(&app).await;
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

/// A 20 MB tmpfs, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one, or says why it cannot (mounting needs root).
    fn mount() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=20m", "tmpfs"])
            .arg(dir.path())
            .status()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !status.success() {
            return Err(format!("mount -t tmpfs failed ({status}); it needs root"));
        }
        Ok(Self { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills a filesystem to its last byte with one file and returns the file.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        match file.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    for size in [4096, 512, 1] {
        while file.write_all(&block[..size]).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

/// Issue 11's measurement on a real full filesystem: before the fix in `src/db/mod.rs`,
/// connections that saw SQLITE_FULL went back to the pool believing they were inside a
/// transaction; after the space came back, uploads failed with 500 on and off, workers met
/// "a job but no row", and acknowledged submissions were gone after a restart (7 of 10 in
/// one run of this sequence with the check disabled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_filesystem_every_upload_is_stored_and_survives_a_restart() {
    let tmpfs = match Tmpfs::mount() {
        Ok(tmpfs) => tmpfs,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping the full-filesystem test: {why}");
            return;
        }
        Err(why) => panic!("the full-filesystem test needs a tmpfs under CI: {why}"),
    };
    let data = tmpfs.dir.path().to_owned();
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.db.data_dir = data.clone();
        c.daily_quota = 1000;
        c.lease_seconds = 2;
    })
    .await;
    let token = app.participant("flo").await;
    let mut acknowledged = BTreeSet::new();
    for i in 0..3 {
        let id = app
            .submit(&token, &predictions_csv(0.7), &format!("before {i}"))
            .await;
        acknowledged.insert(id);
    }
    let filler = fill(&data);
    for i in 0..5 {
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
            let body: serde_json::Value = response.json().await.unwrap();
            acknowledged.insert(body["id"].as_i64().unwrap());
        } else {
            assert!(
                status == 507 || status == 503,
                "upload {i} while full: {status}"
            );
            assert!(response.headers().contains_key("retry-after"));
        }
    }
    std::fs::remove_file(filler).unwrap();
    for i in 0..20 {
        let response = app
            .upload(
                &token,
                "predictions.csv",
                predictions_csv(0.8).into_bytes(),
                &[("method", &format!("after {i}"))],
            )
            .await;
        assert_eq!(
            response.status(),
            202,
            "upload {i} after the space came back: {}",
            response.text().await.unwrap_or_default()
        );
        let body: serde_json::Value = response.json().await.unwrap();
        acknowledged.insert(body["id"].as_i64().unwrap());
    }
    for id in &acknowledged {
        let done = app.wait_done(&token, *id).await;
        assert_eq!(done["status"], "scored", "{done}");
    }
    let restarted = restart(&app).await;
    drop(app);
    let stored: Vec<i64> = sqlx::query_scalar("select id from submissions")
        .fetch_all(restarted.state().db.pool())
        .await
        .unwrap();
    for id in &acknowledged {
        assert!(
            stored.contains(id),
            "submission {id} was acknowledged and is gone"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_removes_partial_uploads_of_a_crash_and_keeps_live_ones() {
    let app = spawn_app(Backend::Sqlite).await;
    let incoming = app.state.config.incoming_dir();
    let orphan = incoming.join("crashed.part");
    std::fs::write(&orphan, b"half an upload").unwrap();
    // Another process still streaming this one holds its lock.
    let live = incoming.join("streaming.part");
    let held = std::fs::File::create(&live).unwrap();
    held.lock().unwrap();
    let kept = incoming.join("notes.txt");
    std::fs::write(&kept, b"not an upload").unwrap();

    restart(&app).await;
    assert!(
        !orphan.exists(),
        "a partial upload nobody owns is removed at start"
    );
    assert!(live.exists(), "a live upload's file is left alone");
    assert!(kept.exists(), "only .part files are touched");
    drop(held);
}
