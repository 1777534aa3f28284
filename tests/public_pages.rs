//! What a participant reads in the browser beyond the board's table: each entry's public
//! page, one row per participant, errors as pages (never JSON or axum's text on a page
//! route), changing a password, and times and sizes written for people.

mod helpers;

use helpers::browser::Browser;
use helpers::{Backend, TestApp, predictions_csv, study_ids};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use triageboard::config::SignupMode;

on_both_databases!(
    every_entry_has_a_public_page_with_its_description_links_and_board_scores,
    the_board_shows_one_row_per_participant_and_every_baseline,
    errors_on_page_routes_are_pages_and_the_api_keeps_json,
    a_password_is_changed_with_the_current_one_and_logs_out_other_sessions,
);

/// Posts the settings page's password form.
async fn change_password(
    browser: &mut Browser<'_>,
    csrf: &str,
    current: &str,
    new: &str,
    repeat: &str,
) -> reqwest::Response {
    browser
        .post_form(
            "/settings/password",
            &[
                ("csrf", csrf),
                ("current", current),
                ("new", new),
                ("repeat", repeat),
            ],
        )
        .await
}

async fn spawn_app(backend: Backend) -> TestApp {
    helpers::spawn_app_signup(backend, SignupMode::Open).await
}

/// Uploads through the API with a description and links, waits for the score.
async fn entry(app: &TestApp, token: &str, skill: f64, method: &str) -> i64 {
    let response = app
        .upload(
            token,
            "predictions.csv",
            predictions_csv(skill).into_bytes(),
            &[
                ("method", method),
                ("description", "Two stages:\nlungs first, then lesions."),
                ("paper_url", "https://example.org/paper"),
                ("code_url", "https://example.org/code"),
            ],
        )
        .await;
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    let id = body["id"].as_i64().unwrap();
    let done = app.wait_done(token, id).await;
    assert_eq!(done["status"], "scored", "{done}");
    id
}

fn content_type(response: &reqwest::Response) -> String {
    response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn every_entry_has_a_public_page_with_its_description_links_and_board_scores(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let token = app.participant("ada").await;
    let id = entry(&app, &token, 1.0, "Lung-first net").await;
    // Linked from the live board, readable by anyone.
    let (_, live) = app.get_text("/live").await;
    assert!(live.contains(&format!("href=\"/entries/{id}\"")), "{live}");
    let (status, page) = app.get_text(&format!("/entries/{id}")).await;
    assert_eq!(status, 200);
    for expected in [
        "Lung-first net",
        "ada",
        "Two stages:\nlungs first, then lesions.",
        "href=\"https://example.org/paper\"",
        "href=\"https://example.org/code\"",
        "UTC",
        "Live: public split",
        "1.000",
    ] {
        assert!(page.contains(expected), "{expected:?} missing from {page}");
    }
    assert!(!page.contains("Final: private split"), "not final yet");
    assert!(page.contains("not marked final"));
    for study in study_ids() {
        assert!(!page.contains(&study), "no study id on an entry page");
    }

    // Once final, the page shows what the main board shows too.
    let (status, _) = app
        .post_json(&format!("/api/v1/submissions/{id}/final"), &token)
        .await;
    assert_eq!(status, 200);
    let (_, page) = app.get_text(&format!("/entries/{id}")).await;
    assert!(page.contains("Final: private split"), "{page}");
    let (_, main) = app.get_text("/").await;
    assert!(main.contains(&format!("href=\"/entries/{id}\"")));

    // An entry an organizer hid is on no board, so it has no page; nor has a missing one.
    let hidden = app
        .client
        .post(app.url(&format!("/api/v1/admin/submissions/{id}/hidden")))
        .bearer_auth(&app.organizer_token)
        .json(&serde_json::json!({"value": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 200);
    let (status, page) = app.get_text(&format!("/entries/{id}")).await;
    assert_eq!(status, 404);
    assert!(page.contains(&format!("There is no entry {id} on the boards")));
    let (status, _) = app.get_text("/entries/424242").await;
    assert_eq!(status, 404);
    let (status, _) = app.get_text("/entries/abc").await;
    assert_eq!(status, 404);
}

async fn the_board_shows_one_row_per_participant_and_every_baseline(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.participant("bea").await;
    let weak = entry(&app, &token, 0.3, "First try").await;
    let strong = entry(&app, &token, 1.0, "Second method").await;
    let (_, board) = app.get_json("/api/v1/leaderboard?board=live", None).await;
    let ids: Vec<i64> = board["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["submission_id"].as_i64().unwrap())
        .collect();
    let (_, every) = app
        .get_json("/api/v1/leaderboard?board=live&all=true", None)
        .await;
    assert_eq!(every["rows"].as_array().unwrap().len(), 2);
    // Their best on the live board's sort (AUC vs all on the public split); on a tie, the
    // earlier entry.
    let auc = |id: i64| {
        every["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["submission_id"] == id)
            .unwrap()["scores"]["auc_vs_all"]
            .as_f64()
            .unwrap()
    };
    let best = if auc(strong) > auc(weak) {
        strong
    } else {
        weak
    };
    assert_eq!(ids, vec![best], "one row per participant: their best");

    // Baselines are all the organizer's, and each keeps its row.
    for (skill, method) in [(0.6, "Baseline A"), (0.7, "Baseline B")] {
        let id = app
            .submit(&app.organizer_token, &predictions_csv(skill), method)
            .await;
        app.wait_done(&app.organizer_token, id).await;
        let flagged = app
            .client
            .post(app.url(&format!("/api/v1/admin/submissions/{id}/baseline")))
            .bearer_auth(&app.organizer_token)
            .json(&serde_json::json!({"value": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(flagged.status(), 200);
    }
    let (_, board) = app.get_json("/api/v1/leaderboard?board=live", None).await;
    let methods: Vec<&str> = board["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods.len(), 3, "{methods:?}");
    assert!(methods.contains(&"Baseline A") && methods.contains(&"Baseline B"));
    assert_eq!(
        methods.contains(&"First try"),
        best == weak,
        "only bea's best is listed"
    );
    let (_, page) = app.get_text("/live").await;
    assert!(page.contains("each participant's best entry (and every baseline)"));
}

async fn errors_on_page_routes_are_pages_and_the_api_keeps_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("cyd").await;
    let page = |path: &'static str| {
        let request = app.client.get(app.url(path));
        async move { request.send().await.unwrap() }
    };

    let response = page("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(content_type(&response).starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>No such page or endpoint</h1>"), "{html}");
    assert!(html.contains("href=\"/static/style.css\""), "the layout");

    let response = page("/?sort=bogus").await;
    assert_eq!(response.status(), 400);
    assert!(content_type(&response).starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("Unknown sort metric"), "{html}");
    assert!(html.contains("sort by one of: auc_vs_all"), "{html}");

    // A path parameter that does not parse is a page that does not exist, shown in the
    // signed-in user's layout.
    let (status, html) = browser.get("/submissions/abc").await;
    assert_eq!(status, 404);
    assert!(html.contains("Log out cyd"), "{html}");
    assert!(!html.contains("Cannot parse"), "{html}");
    let csrf = browser.csrf();
    let response = browser
        .post_form("/settings/tokens/abc/revoke", &[("csrf", &csrf)])
        .await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("There is no page /settings/tokens/abc/revoke"),
        "{html}"
    );

    // A form axum cannot read is explained on a page too.
    let response = browser
        .post_form("/settings/tokens", &[("csrf", &csrf)])
        .await;
    assert_eq!(response.status(), 422);
    assert!(content_type(&response).starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("missing field"));

    // A wrong method on a page.
    let response = page("/logout").await;
    assert_eq!(response.status(), 405);
    assert!(content_type(&response).starts_with("text/html"));

    // The API and the pages' JSON keep JSON.
    for path in ["/api/v1/nothing", "/api/v1/leaderboard?sort=bogus"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert!(response.status().is_client_error());
        assert!(
            content_type(&response).starts_with("application/json"),
            "{path}"
        );
    }
    let (status, json) = browser.get("/submissions/424242/status.json").await;
    assert_eq!(status, 404);
    let body: serde_json::Value = serde_json::from_str(&json).expect("JSON for the page's script");
    assert!(body["error"].is_string(), "{body}");
}

async fn a_password_is_changed_with_the_current_one_and_logs_out_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("dot").await;
    let mut elsewhere = Browser::new(&app);
    elsewhere.get("/login").await;
    let csrf = elsewhere.csrf();
    let response = elsewhere
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("name", "dot"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let (_, settings) = browser.get("/settings").await;
    assert!(settings.contains("Change the password"));
    let csrf = browser.csrf();
    let refused = [
        (
            "wrong password",
            "a new secret",
            "a new secret",
            StatusCode::UNAUTHORIZED,
            "The current password is wrong",
        ),
        (
            "correct horse battery",
            "a new secret",
            "another secret",
            StatusCode::BAD_REQUEST,
            "The two new passwords differ",
        ),
        (
            "correct horse battery",
            "short",
            "short",
            StatusCode::BAD_REQUEST,
            "at least 8 characters",
        ),
    ];
    for (current, new, repeat, status, says) in refused {
        let response = change_password(&mut browser, &csrf, current, new, repeat).await;
        assert_eq!(response.status(), status, "{says}");
        let page = response.text().await.unwrap();
        assert!(page.contains(says), "{says} in {page}");
    }

    let response = change_password(
        &mut browser,
        &csrf,
        "correct horse battery",
        "a new secret",
        "a new secret",
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/settings?password=changed");
    let (status, settings) = browser.get("/settings?password=changed").await;
    assert_eq!(status, 200, "this session stays signed in");
    assert!(settings.contains("Your password is changed"));

    // The other session is logged out; the old password no longer works, the new one does.
    let (status, _) = elsewhere.get("/settings").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "sent to log in");
    // Checked without the log-in form, whose per-account limit these tries have used up.
    let check =
        |password: &'static str| triageboard::accounts::check_login(&app.state.db, "dot", password);
    assert_eq!(
        check("correct horse battery").await.unwrap(),
        triageboard::accounts::LoginOutcome::Wrong
    );
    assert!(matches!(
        check("a new secret").await.unwrap(),
        triageboard::accounts::LoginOutcome::Active(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submission_page_writes_times_and_sizes_for_people() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("eve").await;
    browser.get("/submit").await;
    let csrf = browser.csrf();
    let csv = predictions_csv(0.8);
    let response = browser.upload(&csv, "Readable", &csrf).await;
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let (_, page) = browser.get(&location).await;
    assert!(page.contains(" UTC</dd>"), "{page}");
    let size = match csv.len() {
        n if n < 1000 => format!("({n} bytes, sha256"),
        n => format!("({:.1} kB, sha256", n as f64 / 1000.0),
    };
    assert!(page.contains(&size), "{size} in {page}");
    assert!(!page.contains("Z</dd>"), "no RFC 3339 on a page: {page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_papers_rows_on_the_board_are_docs_paper_table2() {
    let app = spawn_app(Backend::Sqlite).await;
    let (_, board) = app.get_text("/").await;
    let paper = &board[board
        .find("Reported in the paper")
        .expect("the paper's rows")..];
    let csv = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/paper-table2.csv"),
    )
    .unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let row_start = paper
            .find(&format!("<td>{}</td>", cells[0]))
            .unwrap_or_else(|| panic!("{} missing", cells[0]));
        let row = &paper[row_start..paper[row_start..].find("</tr>").unwrap() + row_start];
        for (name, value) in header.iter().zip(&cells).skip(1) {
            if *name == "note" || value.is_empty() {
                continue;
            }
            let shown = format!("{:.3}", value.parse::<f64>().unwrap());
            assert!(
                row.contains(&shown),
                "{} {name}: {shown} not in {row}",
                cells[0]
            );
        }
    }
}
