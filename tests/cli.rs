//! The command line against a running server: `user add` and `submit`.

mod helpers;

use std::process::{Command, Output};

use helpers::{Backend, invalid_csv, predictions_csv, spawn_app, spawn_app_with};

on_both_databases!(a_separate_worker_process_scores_what_the_server_queued);

/// The deployment of several machines in small: a server without workers queues, and a
/// `triageboard worker` process sharing its database and data folder scores.
async fn a_separate_worker_process_scores_what_the_server_queued(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.workers = 0).await;
    let token = app.participant("remote").await;
    let id = app
        .submit(&token, &predictions_csv(1.0), "queued elsewhere")
        .await;
    let config = app.state.config.clone();
    let args: Vec<String> = vec![
        "worker".into(),
        "--once".into(),
        "--data-dir".into(),
        config.data_dir().to_str().unwrap().into(),
        "--database".into(),
        config.db.database_url(),
        "--annotations".into(),
        config.annotations_dir().to_str().unwrap().into(),
        "--images".into(),
        config.images_dir().to_str().unwrap().into(),
    ];
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        triageboard(&args)
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("scored 1 submissions"));
    let body = app.wait_done(&token, id).await;
    assert_eq!(body["status"], "scored");
}

fn triageboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triageboard"))
        .args(args)
        .env_remove("TRIAGEBOARD_TOKEN")
        .env_remove("TRIAGEBOARD_SERVER")
        .output()
        .expect("running triageboard")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_add_prints_a_token_that_authenticates() {
    let app = spawn_app(Backend::Sqlite).await;
    let data_dir = app.dir.path().to_str().unwrap().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        triageboard(&["user", "add", "zoe", "--data-dir", &data_dir])
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("tb_"));
    let (status, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["name"], "zoe");
    assert_eq!(me["role"], "participant");

    let data_dir = app.dir.path().to_str().unwrap().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        triageboard(&["user", "add", "zoe", "--data-dir", &data_dir])
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
}

async fn submit(app: &helpers::TestApp, token: &str, csv: &str, extra: &[&str]) -> Output {
    let path = app.dir.path().join(format!(
        "upload-{}.csv",
        triageboard::web::upload::random_name()
    ));
    std::fs::write(&path, csv).unwrap();
    let mut args: Vec<String> = vec![
        "submit".into(),
        path.to_str().unwrap().into(),
        "--server".into(),
        app.address.clone(),
        "--token".into(),
        token.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        triageboard(&args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_waits_for_the_score_and_prints_it() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.participant("ci-bot").await;
    let output = submit(
        &app,
        &token,
        &predictions_csv(1.0),
        &["--wait", "--method", "CI run"],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let scores: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(scores["auc_vs_all"], 1.0);
    let (_, board) = app.get_json("/api/v1/leaderboard?board=live", None).await;
    assert_eq!(board["rows"][0]["method"], "CI run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_without_wait_prints_the_id() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.participant("ci-bot").await;
    let output = submit(&app, &token, &predictions_csv(1.0), &[]).await;
    assert!(output.status.success());
    let id: i64 = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(id > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_exits_2_with_the_problems_of_an_invalid_file() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.participant("ci-bot").await;
    let output = submit(&app, &token, &invalid_csv(), &["--wait"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the submission is invalid"), "{stderr}");
    assert!(stderr.contains("not_a_study"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_exits_1_on_a_bad_token_or_a_missing_file() {
    let app = spawn_app(Backend::Sqlite).await;
    let output = submit(&app, "tb_nope", &predictions_csv(1.0), &[]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("401"));

    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        triageboard(&[
            "submit",
            "/nonexistent/p.csv",
            "--server",
            &address,
            "--token",
            "t",
        ])
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/p.csv"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_organizer_gets_a_password_for_the_pages_from_the_command_line() {
    use std::io::Write;
    use triageboard::accounts::{LoginOutcome, check_login};
    let app = spawn_app(Backend::Sqlite).await;
    assert_eq!(
        check_login(&app.state.db, "organizer", "correct horse battery")
            .await
            .unwrap(),
        LoginOutcome::Wrong,
        "no password at first start"
    );
    let data_dir = app.dir.path().to_owned();
    let set = |password: &'static str| {
        let data_dir = data_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_triageboard"))
                .args(["user", "password", "Organizer", "--data-dir"])
                .arg(&data_dir)
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
            child.wait_with_output().unwrap()
        })
    };
    let short = set("short").await.unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    let done = set("correct horse battery").await.unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let outcome = check_login(&app.state.db, "organizer", "correct horse battery")
        .await
        .unwrap();
    assert!(matches!(outcome, LoginOutcome::Active(_)), "{outcome:?}");
}
