//! The job queue in the database, on SQLite and PostgreSQL: atomic claims, leases that
//! expire when a worker dies, and the first-start organizer.

mod helpers;

use std::collections::HashSet;

use helpers::{Backend, predictions_csv, spawn_app_with};
use triageboard::clock::now_ms;
use triageboard::db::jobs;
use triageboard::jobs::run_pending;
use triageboard::startup::Application;

on_both_databases!(
    a_job_whose_worker_died_is_scored_after_its_lease_expires,
    a_running_job_with_a_live_lease_is_not_taken,
    concurrent_claims_never_share_a_job,
    a_second_start_on_the_same_database_prints_no_new_organizer_token,
    scores_record_the_manifest_version_and_a_foreign_manifest_stops_the_start,
    a_rescore_queued_while_the_job_is_scored_is_not_lost,
);

/// Recording a result used to delete the job whatever had happened to it meanwhile: a
/// rescore queued while the job was being scored was silently dropped.
async fn a_rescore_queued_while_the_job_is_scored_is_not_lost(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let token = app.participant("ivy").await;
    let id = app.submit(&token, &predictions_csv(1.0), "net").await;
    let claimed = jobs::claim(
        &app.state.db,
        "busy-worker",
        now_ms(),
        60_000,
        &app.state.testset.manifest_version,
    )
    .await
    .unwrap();
    assert_eq!(claimed.map(|j| j.submission_id), Some(id));

    let response = app
        .client
        .post(app.url(&format!("/api/v1/admin/submissions/{id}/rescore")))
        .bearer_auth(&app.organizer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    // The busy worker records its run: only a job it still holds is removed.
    jobs::delete_job(app.state.db.pool(), id, "busy-worker")
        .await
        .unwrap();
    assert_eq!(
        jobs::queue_length(app.state.db.pool()).await.unwrap(),
        (1, 0)
    );
    assert_eq!(run_pending(&app.state, "next-worker").await.unwrap(), 1);
    assert_eq!(
        jobs::queue_length(app.state.db.pool()).await.unwrap(),
        (0, 0)
    );
}

async fn scores_record_the_manifest_version_and_a_foreign_manifest_stops_the_start(
    backend: Backend,
) {
    let testset = helpers::testset();
    let annotations = scorer::Annotations::load(&testset.join("annotations")).unwrap();
    let key = scorer::manifest::ManifestKey::from_bytes([5; 32]);
    let manifest =
        scorer::manifest::Manifest::build("tests", &testset.join("images"), &annotations, &key)
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.json");
    std::fs::write(&path, manifest.to_json()).unwrap();
    let key_path = dir.path().join("manifest.key");
    key.write_new(&key_path).unwrap();

    let pinned = path.clone();
    let app = spawn_app_with(backend, move |c| {
        c.manifest = Some(pinned);
        c.manifest_key = Some(key_path);
    })
    .await;
    let token = app.participant("dora").await;
    let id = app.submit(&token, &predictions_csv(1.0), "pinned").await;
    let body = app.wait_done(&token, id).await;
    assert_eq!(body["manifest_version"], manifest.version());

    // A manifest of another test set: the server refuses to start rather than score
    // against annotations nobody announced.
    let mut foreign = manifest.clone();
    foreign.studies.pop();
    foreign.n_studies -= 1;
    let foreign_path = dir.path().join("foreign.json");
    std::fs::write(&foreign_path, foreign.to_json()).unwrap();
    let mut config = (*app.state.config).clone();
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.manifest = Some(foreign_path);
    let error = Application::build(config.clone()).await.unwrap_err();
    assert!(format!("{error:#}").contains("do not match"), "{error:#}");

    // Without the key the digests cannot be checked: the start stops and names the option.
    config.manifest = Some(path);
    config.manifest_key = None;
    let error = Application::build(config).await.unwrap_err();
    assert!(format!("{error:#}").contains("--manifest-key"), "{error:#}");
}

async fn a_job_whose_worker_died_is_scored_after_its_lease_expires(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let token = app.participant("alice").await;
    let id = app.submit(&token, &predictions_csv(1.0), "net").await;

    // A worker claims the job with a 1 ms lease and dies without recording anything.
    let claimed = jobs::claim(
        &app.state.db,
        "dead-worker",
        now_ms(),
        1,
        &app.state.testset.manifest_version,
    )
    .await
    .unwrap();
    assert_eq!(claimed.map(|j| j.submission_id), Some(id));
    let (_, running) = app
        .get_json(&format!("/api/v1/submissions/{id}"), Some(&token))
        .await;
    assert_eq!(running["status"], "running");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let done = run_pending(&app.state, "live-worker").await.unwrap();
    assert_eq!(done, 1);
    let body = app.wait_done(&token, id).await;
    assert_eq!(body["status"], "scored");
    assert_eq!(
        jobs::queue_length(app.state.db.pool()).await.unwrap(),
        (0, 0)
    );
}

async fn a_running_job_with_a_live_lease_is_not_taken(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let token = app.participant("bob").await;
    app.submit(&token, &predictions_csv(1.0), "net").await;
    let first = jobs::claim(
        &app.state.db,
        "w1",
        now_ms(),
        60_000,
        &app.state.testset.manifest_version,
    )
    .await
    .unwrap();
    assert!(first.is_some());
    let second = jobs::claim(
        &app.state.db,
        "w2",
        now_ms(),
        60_000,
        &app.state.testset.manifest_version,
    )
    .await
    .unwrap();
    assert_eq!(second, None);
    assert!(
        jobs::extend_lease(
            app.state.db.pool(),
            first.unwrap().submission_id,
            "w1",
            now_ms() + 60_000
        )
        .await
        .unwrap()
    );
    assert!(
        !jobs::extend_lease(
            app.state.db.pool(),
            first.unwrap().submission_id,
            "w2",
            now_ms() + 60_000
        )
        .await
        .unwrap()
    );
}

async fn concurrent_claims_never_share_a_job(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.workers = 0;
        c.daily_quota = 20;
    })
    .await;
    let token = app.participant("carol").await;
    let mut ids = HashSet::new();
    for i in 0..8 {
        ids.insert(
            app.submit(&token, &predictions_csv(0.5), &format!("m{i}"))
                .await,
        );
    }
    let claims = (0..12).map(|i| {
        let db = app.state.db.clone();
        let version = app.state.testset.manifest_version.clone();
        tokio::spawn(async move {
            jobs::claim(&db, &format!("w{i}"), now_ms(), 60_000, &version)
                .await
                .unwrap()
        })
    });
    let claimed: Vec<i64> = futures_util::future::join_all(claims)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap())
        .map(|j| j.submission_id)
        .collect();
    assert_eq!(claimed.len(), 8, "{claimed:?}");
    assert_eq!(claimed.iter().copied().collect::<HashSet<_>>(), ids);
}

async fn a_second_start_on_the_same_database_prints_no_new_organizer_token(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let mut config = (*app.state.config).clone();
    config.bind = "127.0.0.1:0".parse().unwrap();
    let again = Application::build(config).await.unwrap();
    assert_eq!(again.initial_token(), None);
    let (status, me) = app.get_json("/api/v1/me", Some(&app.organizer_token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["role"], "organizer");
    assert!(me["daily_quota"].is_null());
}
