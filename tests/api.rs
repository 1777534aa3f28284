//! The REST API v1 over real HTTP, on SQLite and PostgreSQL: every endpoint and every
//! error path, and that no answer holds anything per-study.

mod helpers;

use helpers::{Backend, invalid_csv, predictions_csv, spawn_app, spawn_app_with, study_ids};
use serde_json::Value;

on_both_databases!(
    health_and_metrics_answer,
    an_upload_is_scored_and_ranked_on_the_board,
    an_invalid_upload_fails_with_every_problem_listed,
    failed_submissions_do_not_count_against_the_quota,
    validation_answers_the_scoring_messages_without_using_quota,
    requests_without_a_valid_token_get_401,
    another_participants_submission_answers_like_a_missing_one,
    unknown_ids_and_paths_get_404,
    malformed_forms_get_400,
    repeated_text_fields_are_refused_not_buffered,
    an_upload_over_the_cap_gets_413,
    fifty_concurrent_uploads_with_five_left_admit_exactly_five,
    a_full_queue_answers_503_with_retry_after,
    organizers_flag_baselines_hide_entries_and_rescore,
    the_board_keeps_the_best_entry_per_method_unless_asked_for_all,
    the_board_rejects_unknown_sort_metrics_and_formats,
    the_board_csv_does_not_turn_method_names_into_formulas,
    the_openapi_document_lists_every_endpoint,
    finals_are_limited_per_30_days_and_say_when_the_next_frees_up,
    participants_read_three_decimals_and_organizers_full_precision,
    a_double_click_or_the_same_file_again_is_refused_and_costs_nothing,
    messages_name_the_file_as_uploaded_and_a_broken_zip_is_called_one,
);

async fn messages_name_the_file_as_uploaded_and_a_broken_zip_is_called_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("jo").await;
    let details = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 422);
        response.json::<Value>().await.unwrap()["details"].to_string()
    };
    let table = app
        .post_form(
            "/api/v1/validate",
            &token,
            "my_run.csv",
            invalid_csv().into_bytes(),
            &[],
        )
        .await;
    let table = details(table).await;
    assert!(table.contains("my_run.csv"), "{table}");
    assert!(!table.contains("predictions.csv line"), "{table}");
    // Not a zip inside, whatever its name: called a broken zip, not a table that is not text.
    let broken = app
        .post_form(
            "/api/v1/validate",
            &token,
            "masks.zip",
            vec![0xff, 0xfe, 0x00, 0x17, 0x80],
            &[],
        )
        .await;
    let broken = details(broken).await;
    assert!(
        broken.contains("masks.zip is not a zip archive"),
        "{broken}"
    );
    assert!(!broken.contains("UTF-8"), "{broken}");
}

async fn a_double_click_or_the_same_file_again_is_refused_and_costs_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("ines").await;
    let csv = predictions_csv(0.8);
    // A double click: the same bytes twice at once.
    let twice =
        (0..2).map(|_| app.upload(&token, "predictions.csv", csv.clone().into_bytes(), &[]));
    let mut answers = Vec::new();
    for response in futures_util::future::join_all(twice).await {
        let status = response.status().as_u16();
        answers.push((status, response.json::<Value>().await.unwrap()));
    }
    answers.sort_by_key(|(status, _)| *status);
    assert_eq!(answers[0].0, 202, "{answers:?}");
    assert_eq!(answers[1].0, 409, "{answers:?}");
    let first = answers[0].1["id"].as_i64().unwrap();
    let message = answers[1].1["error"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "already submitted this exact file as submission {first}"
        )),
        "{message}"
    );
    app.wait_done(&token, first).await;
    // Later, the same file again is refused too; another file is taken.
    let again = app
        .upload(&token, "renamed.csv", csv.clone().into_bytes(), &[])
        .await;
    assert_eq!(again.status(), 409);
    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["remaining_today"], 4, "{me}");
    app.submit(&token, &predictions_csv(0.8), "another").await;
}

/// No answer may hold a study id (EVALUATION.md section 5).
fn assert_no_study_ids(text: &str) {
    for id in study_ids() {
        assert!(!text.contains(&id), "an answer names study {id}: {text}");
    }
}

async fn health_and_metrics_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok\n");

    let token = app.participant("alice").await;
    let id = app.submit(&token, &predictions_csv(1.0), "perfect").await;
    app.wait_done(&token, id).await;
    // Scoring durations and queue internals are side channels: organizers only.
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.organizer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("triageboard_queue_jobs{state=\"queued\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("triageboard_submissions{status=\"scored\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("triageboard_scoring_seconds_count 1"),
        "{text}"
    );
}

async fn an_upload_is_scored_and_ranked_on_the_board(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("alice").await;
    let response = app
        .upload(
            &token,
            "predictions.csv",
            predictions_csv(1.0).into_bytes(),
            &[
                ("method", "Perfect oracle"),
                ("description", "knows the labels"),
                ("code_url", "https://example.org/code"),
            ],
        )
        .await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["status"], "queued");
    let id = accepted["id"].as_i64().unwrap();
    assert_eq!(accepted["url"], format!("/api/v1/submissions/{id}"));

    let done = app.wait_done(&token, id).await;
    assert_eq!(done["status"], "scored", "{done}");
    assert!(done["error"].is_null());
    assert!(done["scored_at"].as_str().unwrap().ends_with('Z'));
    assert!(done["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(done["method"], "Perfect oracle");
    // No manifest: the version is a keyed digest of the annotation files.
    let version = done["manifest_version"].as_str().unwrap();
    assert!(
        version.starts_with("unpinned-") && version.len() == 25,
        "{version}"
    );
    // Live scores cover the public split only; final scores wait for a final mark.
    let scores = &done["live_scores"];
    assert!(scores["n_studies"].as_u64().unwrap() < 12, "{scores}");
    assert_eq!(scores["auc_vs_all"], 1.0);
    assert!(done["final_scores"].is_null(), "{done}");
    assert_eq!(done["final"], false);
    for organizer_only in ["full_scores", "scoring_ms", "probe_like"] {
        assert!(
            done.get(organizer_only).is_none(),
            "{organizer_only}: {done}"
        );
    }
    assert_eq!(scores["identification_source"], "covid_probability");
    assert_eq!(scores["severity_source"], "affected_percent");
    assert!(scores["auc_vs_all_ci"].is_array());
    assert!(scores["dice"].is_null());
    let keys: Vec<&String> = scores.as_object().unwrap().keys().collect();
    for key in &keys {
        assert!(
            [
                "n_studies",
                "n_covid",
                "identification_source",
                "severity_source",
                "spearman",
                "spearman_ci",
                "dice",
                "dice_ci"
            ]
            .contains(&key.as_str())
                || key.starts_with("auc_vs_"),
            "unexpected key {key}"
        );
    }
    assert_no_study_ids(&done.to_string());

    // The main board lists final entries only.
    let (status, board) = app.get_json("/api/v1/leaderboard", None).await;
    assert_eq!(status, 200);
    assert_eq!(board["board"], "final");
    assert!(board["rows"].as_array().unwrap().is_empty(), "{board}");
    let (status, live) = app.get_json("/api/v1/leaderboard?board=live", None).await;
    assert_eq!(status, 200);
    assert_eq!(live["rows"][0]["scores"]["auc_vs_all"], 1.0);
    assert!(live["rows"][0]["tied_with_leader"].is_null());

    let (status, marked) = app
        .post_json(&format!("/api/v1/submissions/{id}/final"), &token)
        .await;
    assert_eq!(status, 200, "{marked}");
    assert_eq!(marked["final"], true);
    assert_eq!(marked["final_scores"]["auc_vs_all"], 1.0);
    let private = marked["final_scores"]["n_studies"].as_u64().unwrap();
    let public = marked["live_scores"]["n_studies"].as_u64().unwrap();
    assert_eq!(private + public, 12, "the splits partition the test set");

    let (status, board) = app.get_json("/api/v1/leaderboard", None).await;
    assert_eq!(status, 200);
    assert_eq!(board["sort"], "auc_vs_all");
    let rows = board["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["rank"], 1);
    assert_eq!(rows[0]["participant"], "alice");
    assert_eq!(rows[0]["method"], "Perfect oracle");
    assert_eq!(rows[0]["baseline"], false);
    assert_eq!(rows[0]["scores"]["auc_vs_all"], 1.0);
    assert_no_study_ids(&board.to_string());
    // A table has no Dice: sorted by Dice, the entry is listed unranked.
    let (status, by_dice) = app.get_json("/api/v1/leaderboard?sort=dice", None).await;
    assert_eq!(status, 200);
    assert!(by_dice["rows"][0]["rank"].is_null(), "{by_dice}");

    let response = app
        .client
        .get(app.url("/api/v1/leaderboard?format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with(
        "rank,participant,method,baseline,submission_id,created_at,auc_vs_all,auc_vs_all_ci_low"
    ));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("1,alice,Perfect oracle,false,")
    );
    assert_no_study_ids(&csv);

    let (status, mine) = app.get_json("/api/v1/submissions", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(mine.as_array().unwrap().len(), 1);
}

async fn an_invalid_upload_fails_with_every_problem_listed(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("bob").await;
    let id = app.submit(&token, &invalid_csv(), "broken").await;
    let done = app.wait_done(&token, id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"], "the submission is invalid");
    let details: Vec<&str> = done["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(details.len() >= 3, "{details:?}");
    assert!(
        details.iter().any(|d| d.contains("not_a_study")),
        "{details:?}"
    );
    assert!(details.iter().any(|d| d.contains("1.5")), "{details:?}");
    assert!(done["live_scores"].is_null());
    let (_, board) = app.get_json("/api/v1/leaderboard?board=live", None).await;
    assert!(board["rows"].as_array().unwrap().is_empty());
}

async fn failed_submissions_do_not_count_against_the_quota(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.daily_quota = 1).await;
    let token = app.participant("carol").await;
    let id = app.submit(&token, &invalid_csv(), "broken").await;
    assert_eq!(app.wait_done(&token, id).await["status"], "failed");
    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["used_today"], 0);
    assert_eq!(me["remaining_today"], 1);

    let id = app.submit(&token, &predictions_csv(0.8), "fixed").await;
    assert_eq!(app.wait_done(&token, id).await["status"], "scored");
    let response = app
        .upload(
            &token,
            "predictions.csv",
            predictions_csv(0.9).into_bytes(),
            &[],
        )
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("daily submission limit of 1")
    );
    assert!(
        body["details"]
            .to_string()
            .contains("next submission allowed at")
    );
    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["remaining_today"], 0);
    assert!(
        me["next_submission_allowed_at"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z")
    );
}

async fn validation_answers_the_scoring_messages_without_using_quota(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("dave").await;
    let response = app
        .post_form(
            "/api/v1/validate",
            &token,
            "predictions.csv",
            invalid_csv().into_bytes(),
            &[],
        )
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "the submission is invalid");
    let validated = body["details"].clone();
    assert!(validated.as_array().unwrap().len() >= 3);

    let response = app
        .post_form(
            "/api/v1/validate",
            &token,
            "predictions.csv",
            predictions_csv(0.5).into_bytes(),
            &[],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["valid"], true);

    let response = app
        .post_form(
            "/api/v1/validate",
            &token,
            "x.csv",
            b"\x1f\x8b\x08\x00junk".to_vec(),
            &[],
        )
        .await;
    assert_eq!(response.status(), 422);

    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["used_today"], 0);

    // A failed scoring answers the same messages as the validation.
    let id = app.submit(&token, &invalid_csv(), "broken").await;
    assert_eq!(app.wait_done(&token, id).await["details"], validated);
    // Nothing is left behind in the upload folder.
    let incoming = std::fs::read_dir(app.state.config.incoming_dir())
        .unwrap()
        .count();
    assert_eq!(incoming, 0);
}

async fn requests_without_a_valid_token_get_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases: [Option<&str>; 4] = [
        None,
        Some("Bearer tb_0000"),
        Some("Basic YWxpY2U6cHc="),
        Some("Bearer "),
    ];
    for header in cases {
        for path in ["/api/v1/me", "/api/v1/submissions", "/api/v1/submissions/1"] {
            let mut request = app.client.get(app.url(path));
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{path} with {header:?}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let body: Value = response.json().await.unwrap();
            assert!(body["error"].is_string() && body["details"].is_array());
        }
    }
    let response = app
        .upload(
            "tb_wrong",
            "predictions.csv",
            predictions_csv(1.0).into_bytes(),
            &[],
        )
        .await;
    assert_eq!(response.status(), 401);
}

async fn another_participants_submission_answers_like_a_missing_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.participant("alice").await;
    let mallory = app.participant("mallory").await;
    let id = app.submit(&alice, &predictions_csv(1.0), "mine").await;
    // Ids are sequential: a foreign id must not answer differently from a missing one.
    let (status, foreign) = app
        .get_json(&format!("/api/v1/submissions/{id}"), Some(&mallory))
        .await;
    assert_eq!(status, 404);
    let missing_id = id + 1000;
    let (status, missing) = app
        .get_json(&format!("/api/v1/submissions/{missing_id}"), Some(&mallory))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        foreign["error"]
            .as_str()
            .unwrap()
            .replace(&id.to_string(), "N"),
        missing["error"]
            .as_str()
            .unwrap()
            .replace(&missing_id.to_string(), "N")
    );
    let (status, _) = app
        .post_json(&format!("/api/v1/submissions/{id}/final"), &mallory)
        .await;
    assert_eq!(status, 404);
    let (status, body) = app
        .get_json(
            &format!("/api/v1/submissions/{id}"),
            Some(&app.organizer_token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["participant"], "alice");
    let (_, mine) = app.get_json("/api/v1/submissions", Some(&mallory)).await;
    assert!(mine.as_array().unwrap().is_empty());
}

async fn unknown_ids_and_paths_get_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("erin").await;
    for path in [
        "/api/v1/submissions/999999",
        "/api/v1/submissions/abc",
        "/api/v1/nothing",
    ] {
        let (status, body) = app.get_json(path, Some(&token)).await;
        assert_eq!(status, 404, "{path}");
        assert!(body["error"].is_string(), "{path}");
    }
    // Outside the API, an unknown path is a page (tests/public_pages.rs).
    let response = app.client.get(app.url("/nothing")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

async fn malformed_forms_get_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("frank").await;
    let url = app.url("/api/v1/submissions");

    let response = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "expected a multipart/form-data body"
    );

    let form = reqwest::multipart::Form::new().text("method", "no file");
    let response = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "the form has no `file` field"
    );

    let response = app
        .upload(
            &token,
            "p.csv",
            predictions_csv(1.0).into_bytes(),
            &[("team", "x")],
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unknown form field `team`");
    assert!(body["details"][0].as_str().unwrap().contains("method"));

    let response = app.upload(&token, "p.csv", Vec::new(), &[]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "the uploaded file is empty"
    );

    let long = "x".repeat(5000);
    let response = app
        .upload(
            &token,
            "p.csv",
            predictions_csv(1.0).into_bytes(),
            &[("description", &long)],
        )
        .await;
    assert_eq!(response.status(), 400);

    let response = app
        .upload(
            &token,
            "p.csv",
            predictions_csv(1.0).into_bytes(),
            &[("paper_url", "javascript:alert(1)")],
        )
        .await;
    assert_eq!(response.status(), 400);

    let response = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["used_today"], 0);
}

/// Each text field is capped, but repeating one used to pile every copy up in memory
/// until the body limit (the upload cap, 2 GiB by default).
async fn repeated_text_fields_are_refused_not_buffered(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("rita").await;
    let response = app
        .upload(
            &token,
            "p.csv",
            predictions_csv(1.0).into_bytes(),
            &[("description", "one"), ("description", "two")],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "the form has more than one `description` field"
    );
    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["used_today"], 0);
}

async fn an_upload_over_the_cap_gets_413(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.max_upload_bytes = 1000).await;
    let token = app.participant("grace").await;
    let big = predictions_csv(1.0).repeat(10);
    assert!(big.len() > 1000);
    let response = app
        .upload(&token, "predictions.csv", big.clone().into_bytes(), &[])
        .await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        "the upload is larger than the limit of 1000 bytes"
    );
    let response = app
        .post_form(
            "/api/v1/validate",
            &token,
            "predictions.csv",
            big.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(response.status(), 413);

    // Announced far beyond the cap: refused before the body is read.
    let response = app
        .client
        .post(app.url("/api/v1/submissions"))
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body(vec![b'x'; 200_000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let incoming = std::fs::read_dir(app.state.config.incoming_dir())
        .unwrap()
        .count();
    assert_eq!(incoming, 0);
}

async fn fifty_concurrent_uploads_with_five_left_admit_exactly_five(backend: Backend) {
    // No worker: nothing fails meanwhile, so the count is exact.
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let token = app.participant("heidi").await;
    // Fifty different files (the same one twice would be refused as a resubmission).
    let csvs: Vec<String> = (0..50).map(|_| predictions_csv(0.7)).collect();
    let uploads = csvs
        .iter()
        .map(|csv| app.upload(&token, "predictions.csv", csv.clone().into_bytes(), &[]));
    let statuses: Vec<u16> = futures_util::future::join_all(uploads)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        45,
        "{statuses:?}"
    );
    let (_, mine) = app.get_json("/api/v1/submissions", Some(&token)).await;
    assert_eq!(mine.as_array().unwrap().len(), 5);
    let stored = std::fs::read_dir(app.state.config.submissions_dir())
        .unwrap()
        .count();
    assert_eq!(stored, 5, "refused uploads leave no file");
}

async fn a_full_queue_answers_503_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.workers = 0;
        c.max_queue = 2;
    })
    .await;
    let token = app.participant("ivan").await;
    app.submit(&token, &predictions_csv(0.5), "a").await;
    app.submit(&token, &predictions_csv(0.6), "b").await;
    let response = app
        .upload(
            &token,
            "predictions.csv",
            predictions_csv(0.7).into_bytes(),
            &[],
        )
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "60");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "the scoring queue is full");
    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["used_today"], 2);
}

async fn organizers_flag_baselines_hide_entries_and_rescore(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("judy").await;
    let id = app
        .submit(&token, &predictions_csv(0.9), "ResNet-ish")
        .await;
    app.wait_done(&token, id).await;
    let flag = |path: String, bearer: String, body: Value| {
        let request = app
            .client
            .post(app.url(&path))
            .bearer_auth(bearer)
            .json(&body);
        async move { request.send().await.unwrap() }
    };

    let response = flag(
        format!("/api/v1/admin/submissions/{id}/baseline"),
        token.clone(),
        serde_json::json!({"value": true}),
    )
    .await;
    assert_eq!(response.status(), 403);
    let response = app
        .client
        .post(app.url(&format!("/api/v1/admin/submissions/{id}/baseline")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let organizer = app.organizer_token.clone();
    let response = flag(
        format!("/api/v1/admin/submissions/{id}/baseline"),
        organizer.clone(),
        serde_json::json!({"value": true}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["baseline"], true);
    let (_, board) = app.get_json("/api/v1/leaderboard?board=live", None).await;
    assert_eq!(board["rows"][0]["baseline"], true);

    let response = flag(
        format!("/api/v1/admin/submissions/{id}/baseline"),
        organizer.clone(),
        serde_json::json!({"v": 1}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let response = flag(
        "/api/v1/admin/submissions/424242/hidden".to_owned(),
        organizer.clone(),
        serde_json::json!({"value": true}),
    )
    .await;
    assert_eq!(response.status(), 404);

    let response = flag(
        format!("/api/v1/admin/submissions/{id}/hidden"),
        organizer.clone(),
        serde_json::json!({"value": true}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let (_, board) = app.get_json("/api/v1/leaderboard?board=live", None).await;
    assert!(board["rows"].as_array().unwrap().is_empty());
    let response = flag(
        format!("/api/v1/admin/submissions/{id}/hidden"),
        organizer.clone(),
        serde_json::json!({"value": false}),
    )
    .await;
    assert_eq!(response.status(), 200);

    let first = app.wait_done(&token, id).await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/admin/submissions/{id}/rescore")))
        .bearer_auth(&organizer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let again = app.wait_done(&token, id).await;
    assert_eq!(
        again["live_scores"], first["live_scores"],
        "scoring is deterministic"
    );
}

async fn the_board_keeps_the_best_entry_per_method_unless_asked_for_all(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.participant("alice").await;
    let bob = app.participant("bob").await;
    // Wrong on every study, so that it is worse than the oracle on any split.
    let inverted: String = predictions_csv(1.0)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let cells: Vec<&str> = line.split(',').collect();
            match (i, cells.as_slice()) {
                (0, _) => format!("{line}\n"),
                (_, [id, p, a]) => format!("{id},{},{a}\n", 1.0 - p.parse::<f64>().unwrap()),
                _ => unreachable!("three columns"),
            }
        })
        .collect();
    let weak = app.submit(&alice, &inverted, "net").await;
    let strong = app.submit(&alice, &predictions_csv(1.0), "net").await;
    let other = app.submit(&bob, &predictions_csv(0.95), "forest").await;
    for (token, id) in [(&alice, weak), (&alice, strong), (&bob, other)] {
        assert_eq!(app.wait_done(token, id).await["status"], "scored");
    }
    let (_, board) = app.get_json("/api/v1/leaderboard?board=live", None).await;
    let rows = board["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{board}");
    assert_eq!(rows[0]["submission_id"], strong);
    assert!(
        rows.iter().all(|r| r["tied_with_leader"].is_null()),
        "tie marks are for the final board only: {board}"
    );

    let (_, all) = app
        .get_json(
            "/api/v1/leaderboard?board=live&all=true&sort=spearman",
            None,
        )
        .await;
    assert_eq!(all["rows"].as_array().unwrap().len(), 3);
    assert_eq!(all["sort"], "spearman");
    assert_eq!(all["all"], true);

    // On the final board, ties are marked: both participants mark one entry final.
    for (token, id) in [(&alice, strong), (&bob, other)] {
        let (status, body) = app
            .post_json(&format!("/api/v1/submissions/{id}/final"), token)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, board) = app.get_json("/api/v1/leaderboard", None).await;
    let rows = board["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{board}");
    assert!(rows[0]["tied_with_leader"].is_null());
    assert!(rows[1]["tied_with_leader"].is_boolean(), "{board}");
}

async fn finals_are_limited_per_30_days_and_say_when_the_next_frees_up(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("frank").await;
    let broken = app.submit(&token, &invalid_csv(), "broken").await;
    assert_eq!(app.wait_done(&token, broken).await["status"], "failed");
    let (status, body) = app
        .post_json(&format!("/api/v1/submissions/{broken}/final"), &token)
        .await;
    assert_eq!(status, 409, "only a scored submission can be final: {body}");
    let first_final = app.submit(&token, &predictions_csv(0.3), "first").await;
    let other = app.submit(&token, &predictions_csv(0.9), "second").await;
    app.wait_done(&token, first_final).await;
    app.wait_done(&token, other).await;
    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["finals_remaining"], 1, "{me}");
    let (status, body) = app
        .post_json(&format!("/api/v1/submissions/{first_final}/final"), &token)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_json(&format!("/api/v1/submissions/{first_final}/final"), &token)
        .await;
    assert_eq!(status, 409, "marking twice: {body}");
    let response = app
        .client
        .post(app.url(&format!("/api/v1/submissions/{other}/final")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (29 * 86_400..=30 * 86_400).contains(&retry),
        "the next final frees up 30 days after the first: {retry} s"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("1 final"),
        "{body}"
    );
    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["finals_per_30_days"], 1);
    assert_eq!(me["finals_used"], 1);
    assert_eq!(me["finals_remaining"], 0);
    assert!(me["next_final_allowed_at"].as_str().unwrap().ends_with('Z'));

    // Withdrawn: off the main board, and the limit still counts it.
    let (status, body) = app
        .post_json(
            &format!("/api/v1/submissions/{first_final}/withdraw"),
            &token,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["withdrawn"], true);
    let (_, board) = app.get_json("/api/v1/leaderboard", None).await;
    assert!(board["rows"].as_array().unwrap().is_empty(), "{board}");
    let (_, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["finals_remaining"], 0);
    let (status, _) = app
        .post_json(&format!("/api/v1/submissions/{other}/withdraw"), &token)
        .await;
    assert_eq!(status, 409, "only a final entry can be withdrawn");
}

async fn participants_read_three_decimals_and_organizers_full_precision(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("grace").await;
    let id = app.submit(&token, &predictions_csv(0.55), "middling").await;
    app.wait_done(&token, id).await;
    let (_, mine) = app
        .get_json(&format!("/api/v1/submissions/{id}"), Some(&token))
        .await;
    let (_, seen) = app
        .get_json(
            &format!("/api/v1/submissions/{id}"),
            Some(&app.organizer_token),
        )
        .await;
    let mut numbers = Vec::new();
    collect_numbers(&mine["live_scores"], &mut numbers);
    assert!(numbers.len() > 5, "{mine}");
    for x in &numbers {
        assert!(
            ((x * 1000.0).round() - x * 1000.0).abs() < 1e-9,
            "{x} in {mine}"
        );
    }
    let full = seen["live_scores"]["auc_vs_all_ci"][0].as_f64().unwrap();
    assert_eq!(
        mine["live_scores"]["auc_vs_all_ci"][0].as_f64().unwrap(),
        (full * 1000.0).round() / 1000.0
    );
    assert!(seen["full_scores"].is_object(), "{seen}");
    assert!(
        seen["final_scores"].is_object(),
        "organizers see every split"
    );
    assert!(seen["scoring_ms"].is_i64());
}

fn collect_numbers(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Number(n) => out.extend(n.as_f64()),
        Value::Array(items) => items.iter().for_each(|v| collect_numbers(v, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !k.starts_with("n_"))
            .for_each(|(_, v)| collect_numbers(v, out)),
        _ => {}
    }
}

/// A method named like a formula used to be written to the CSV as is, to run in the
/// spreadsheet of whoever opened the export.
async fn the_board_csv_does_not_turn_method_names_into_formulas(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("mallory").await;
    let id = app
        .submit(&token, &predictions_csv(1.0), "=HYPERLINK(\"http://x\")")
        .await;
    app.wait_done(&token, id).await;
    let csv = app
        .client
        .get(app.url("/api/v1/leaderboard?board=live&format=csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = csv.lines().nth(1).expect("one entry");
    assert!(row.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "{row}");
}

async fn the_board_rejects_unknown_sort_metrics_and_formats(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app
        .get_json("/api/v1/leaderboard?sort=accuracy", None)
        .await;
    assert_eq!(status, 400);
    assert!(body["details"][0].as_str().unwrap().contains("auc_vs_all"));
    let (status, _) = app.get_json("/api/v1/leaderboard?format=xml", None).await;
    assert_eq!(status, 400);
    let (status, _) = app.get_json("/api/v1/leaderboard?all=maybe", None).await;
    assert_eq!(status, 400);
    let (status, body) = app.get_json("/api/v1/leaderboard?sort=dice", None).await;
    assert_eq!(status, 200);
    assert!(body["rows"].as_array().unwrap().is_empty());
}

async fn the_openapi_document_lists_every_endpoint(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, doc) = app.get_json("/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/submissions",
        "/api/v1/submissions/{id}",
        "/api/v1/submissions/{id}/final",
        "/api/v1/submissions/{id}/withdraw",
        "/api/v1/validate",
        "/api/v1/leaderboard",
        "/api/v1/me",
        "/api/v1/admin/submissions/{id}/baseline",
        "/api/v1/admin/submissions/{id}/hidden",
        "/api/v1/admin/submissions/{id}/rescore",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is missing");
    }
    let post = &doc["paths"]["/api/v1/submissions"]["post"];
    for status in ["202", "400", "401", "413", "429", "503"] {
        assert!(
            post["responses"].get(status).is_some(),
            "POST /submissions lacks {status}"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
