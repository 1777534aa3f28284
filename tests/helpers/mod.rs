//! Test helpers: a tiny synthetic test set generated once, and the real application
//! spawned on port 0 over a fresh SQLite or PostgreSQL database.
//!
//! PostgreSQL tests use `TRIAGEBOARD_TEST_POSTGRES`, by default 127.0.0.1:5432 (trust auth,
//! user postgres), and create a database
//! per test. When it is unreachable they are skipped with a printed reason, except under
//! CI (`CI` set), where they must run and fail loudly.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

pub mod browser;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Executor;
use triageboard::accounts;
use triageboard::config::{Config, SignupMode};
use triageboard::db::users::Role;
use triageboard::startup::Application;
use triageboard::state::AppState;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in the test's folder.
    Sqlite,
    /// A fresh database on the local PostgreSQL.
    Postgres,
}

/// Runs one `async fn name(backend: Backend)` on both databases, as two tests named
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::helpers::postgres_available().await {
                        super::$name($crate::helpers::Backend::Postgres).await;
                    }
                }
            )*
        }
    };
}

/// The PostgreSQL the tests use: `TRIAGEBOARD_TEST_POSTGRES` (an admin URL ending in a
/// database name), or the local server.
fn postgres_admin() -> String {
    std::env::var("TRIAGEBOARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `HOST:PORT` of the tests' PostgreSQL, as its URL names it.
pub fn postgres_address() -> String {
    let admin = postgres_admin();
    let after_scheme = admin
        .split_once("://")
        .map_or(admin.as_str(), |(_, rest)| rest);
    let after_user = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, rest)| rest);
    after_user.split('/').next().unwrap_or_default().to_owned()
}

/// The URL of database `name` on the tests' PostgreSQL.
fn postgres_url(name: &str) -> String {
    let admin = postgres_admin();
    match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => admin,
    }
}

/// True when the local PostgreSQL answers; otherwise prints why the test is skipped, or
/// panics under CI.
pub async fn postgres_available() -> bool {
    let url = postgres_admin();
    let reachable =
        tokio::time::timeout(Duration::from_secs(5), triageboard::db::Db::connect(&url)).await;
    match reachable {
        Ok(Ok(db)) => {
            db.close().await;
            true
        }
        Ok(Err(err)) => skip_or_fail(&format!("{err:#}")),
        Err(_) => skip_or_fail("no answer within 5 s"),
    }
}

fn skip_or_fail(reason: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!(
            "PostgreSQL ({}) is required under CI: {reason}",
            postgres_admin()
        );
    }
    eprintln!(
        "skipping a PostgreSQL test: {} is unreachable ({reason})",
        postgres_admin()
    );
    false
}

/// The 12-study synthetic test set, generated once per target folder.
pub fn testset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let done = base.join("server-testset-12");
        if done.join("annotations").join("labels.csv").is_file() {
            return done;
        }
        // Generate aside, then rename into place: concurrent test binaries never see a
        // half-written set, and the loser of a race removes its copy.
        let aside = base.join(format!("server-testset-12-{}", std::process::id()));
        let options = triageboard::dataset::Synth {
            count: Some(12),
            force: true,
            ..Default::default()
        };
        triageboard::dataset::synthesize(&aside, &options, &|_, _| {})
            .expect("generating the test set");
        if std::fs::rename(&aside, &done).is_err() {
            let _ = std::fs::remove_dir_all(&aside);
        }
        done
    })
}

/// The 101-study demo test set (the reference composition: 33 covid, 32 normal, 18
/// pneumonia, 18 nodules), generated once per target folder like [`testset`].
pub fn demo_testset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let done = base.join("server-testset-demo");
        if done.join("annotations").join("labels.csv").is_file() {
            return done;
        }
        let aside = base.join(format!("server-testset-demo-{}", std::process::id()));
        let options = triageboard::dataset::Synth {
            force: true,
            ..Default::default()
        };
        triageboard::dataset::synthesize(&aside, &options, &|_, _| {})
            .expect("generating the demo test set");
        if std::fs::rename(&aside, &done).is_err() {
            let _ = std::fs::remove_dir_all(&aside);
        }
        done
    })
}

/// `(study_id, category)` from a test set's hidden labels, sorted by id.
pub fn labels_of(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("annotations").join("labels.csv")).expect("labels");
    let mut labels: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(id, c)| (id.to_owned(), c.split(',').next().unwrap_or(c).to_owned()))
        .collect();
    labels.sort();
    labels
}

/// The study ids of the test set, sorted.
pub fn study_ids() -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(testset().join("images"))
        .expect("reading the images")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".nii.gz")
                .map(str::to_owned)
        })
        .collect();
    ids.sort();
    ids
}

/// `(study_id, category)` from the hidden labels (tests only: to build good submissions).
pub fn labels() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(testset().join("annotations").join("labels.csv")).expect("labels");
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(id, c)| (id.to_owned(), c.to_owned()))
        .collect()
}

/// A valid predictions table; `skill` in [0, 1] blends the truth with a fixed pattern.
///
/// Each call's bytes differ (trailing zeros on the first probability, the same number), as
/// the service refuses a participant's byte-identical resubmission.
pub fn predictions_csv(skill: f64) -> String {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut text = String::from("study_id,covid_probability,affected_percent\n");
    for (i, (id, category)) in labels().iter().enumerate() {
        let truth = if category == "covid" { 1.0 } else { 0.0 };
        let noise = ((i * 7) % 11) as f64 / 10.0;
        let p = (skill * truth + (1.0 - skill) * noise).clamp(0.0, 1.0);
        let zeros = if i == 0 {
            "0".repeat(call)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "{id},{p:.4}{zeros},{:.3}\n",
            p * 40.0 + (i % 3) as f64
        ));
    }
    text
}

/// A table that breaks the rules: one unknown id, one out-of-range value, one id missing.
pub fn invalid_csv() -> String {
    let ids = study_ids();
    let mut text = String::from("study_id,covid_probability\n");
    for id in &ids[1..] {
        text.push_str(&format!("{id},1.5\n"));
    }
    text.push_str("not_a_study,0.5\n");
    text
}

/// A running application and what tests need to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The application's state (database, config), shared with the server.
    pub state: AppState,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The token of the organizer created at first start.
    pub organizer_token: String,
    /// The data folder (and SQLite file).
    pub dir: tempfile::TempDir,
    postgres_database: Option<String>,
}

/// Starts the app on `backend` with the defaults of tests: a fast-polling worker.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the app on `backend` with sign-up in `mode` (a test set is given, so the
/// default would be `approval`).
pub async fn spawn_app_signup(backend: Backend, mode: SignupMode) -> TestApp {
    spawn_app_with(backend, |c| c.signup = Some(mode)).await
}

/// Starts the app on `backend` after `adjust` changed the configuration.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut config = Config::new(dir.path());
    config.bind = "127.0.0.1:0".parse().expect("an address");
    config.annotations = Some(testset().join("annotations"));
    config.images = Some(testset().join("images"));
    config.poll_seconds = 0.05;
    let mut postgres_database = None;
    if backend == Backend::Postgres {
        let name = format!("tb_test_{}", triageboard::web::upload::random_name());
        let admin = triageboard::db::Db::connect(&postgres_admin())
            .await
            .expect("PostgreSQL");
        let sql = format!("create database {name}");
        admin
            .pool()
            .execute(sql.as_str())
            .await
            .expect("creating a test database");
        admin.close().await;
        config.db.database = Some(postgres_url(&name));
        postgres_database = Some(name);
    }
    adjust(&mut config);
    let app = Application::build(config).await.expect("building the app");
    let address = format!("http://{}", app.address());
    let state = app.state().clone();
    let organizer_token = app
        .initial_token()
        .expect("a first-start organizer token")
        .to_owned();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address,
        state,
        client: reqwest::Client::new(),
        organizer_token,
        dir,
        postgres_database,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Best effort: drop the test's PostgreSQL database from a thread with its own
        // runtime (Drop cannot await).
        if let Some(name) = self.postgres_database.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let admin = triageboard::db::Db::connect(&postgres_admin()).await.ok()?;
                    let sql = format!("drop database if exists {name} with (force)");
                    let _ = admin.pool().execute(sql.as_str()).await;
                    admin.close().await;
                    Some(())
                })
            })
            .join();
        }
    }
}

impl TestApp {
    /// A URL on the app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Creates a participant and returns their token.
    pub async fn participant(&self, name: &str) -> String {
        accounts::create_user_with_token(&self.state.db, name, Role::Participant, None)
            .await
            .expect("creating a participant")
    }

    /// Uploads `bytes` as `file_name` with the given text fields.
    pub async fn upload(
        &self,
        token: &str,
        file_name: &str,
        bytes: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.post_form("/api/v1/submissions", token, file_name, bytes, fields)
            .await
    }

    /// Posts a multipart form with a `file` part.
    pub async fn post_form(
        &self,
        path: &str,
        token: &str,
        file_name: &str,
        bytes: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        );
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("a response")
    }

    /// GET with a token, as JSON with its status.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> (reqwest::StatusCode, Value) {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("a response");
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    /// GET without a token, as text with its status (a page as a visitor reads it).
    pub async fn get_text(&self, path: &str) -> (reqwest::StatusCode, String) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("a response");
        let status = response.status();
        (status, response.text().await.expect("a body"))
    }

    /// POST without a body, as JSON with its status.
    pub async fn post_json(&self, path: &str, token: &str) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("a response");
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Uploads a submission and returns its id, asserting 202.
    pub async fn submit(&self, token: &str, csv: &str, method: &str) -> i64 {
        let response = self
            .upload(
                token,
                "predictions.csv",
                csv.as_bytes().to_vec(),
                &[("method", method)],
            )
            .await;
        assert_eq!(
            response.status(),
            202,
            "{}",
            response.text().await.unwrap_or_default()
        );
        let body: Value = response.json().await.expect("JSON");
        body["id"].as_i64().expect("an id")
    }

    /// Polls a submission until it is scored or failed (60 s at most) and returns it.
    pub async fn wait_done(&self, token: &str, id: i64) -> Value {
        let started = Instant::now();
        loop {
            let (status, body) = self
                .get_json(&format!("/api/v1/submissions/{id}"), Some(token))
                .await;
            assert_eq!(status, 200, "{body}");
            if body["status"] == "scored" || body["status"] == "failed" {
                return body;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "submission {id} is still {}",
                body["status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
