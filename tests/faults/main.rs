//! Faults the service must survive without losing an acknowledged submission (issue 11):
//! a full disk, SIGTERM and kill -9 mid-scoring and mid-upload, slow clients, a database
//! outage, annotations changed under a running board, and a backup restored. Each test
//! checks the invariant of `assert_nothing_lost`: every upload answered 202 has a row and a
//! file, every row ends scored or failed with no job left, and nothing is half-done.
//!
//! Scorings that must still be running when the fault strikes read their file from a FIFO
//! (`mkfifo`): the worker blocks on it until the test feeds it, so no test depends on how
//! fast the machine scores.

#[path = "../helpers/mod.rs"]
mod helpers;

mod backup;
mod connections;
mod disk;
mod shutdown;
mod versions;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use helpers::TestApp;
use triageboard::config::Config;
use triageboard::startup::Application;
use triageboard::state::AppState;

/// A second start on the app's data folder and database, without workers.
async fn restart(app: &TestApp) -> Application {
    Application::build(config_like(app, 0))
        .await
        .expect("a restart")
}

/// The configuration of `app` (folder, database, test set) with `workers` workers, on a
/// fresh port.
fn config_like(app: &TestApp, workers: usize) -> Config {
    let mut config = Config::new(app.state.config.data_dir());
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.db.database = app.state.config.db.database.clone();
    config.annotations = app.state.config.annotations.clone();
    config.images = app.state.config.images.clone();
    config.poll_seconds = 0.05;
    config.workers = workers;
    config
}

/// An application running in this process that the test stops as SIGTERM would.
struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn start(config: Config) -> Self {
        let app = Application::build(config).await.expect("a start");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self {
            stop: Some(stop),
            task,
        }
    }

    /// Stops it (what `serve` does on SIGTERM) and returns how long stopping took.
    async fn terminate(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().expect("running").send(());
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("stopped within 60 s")
            .expect("the task")
            .expect("a clean stop");
        started.elapsed()
    }
}

/// Replaces the submission's stored file by a FIFO and returns the file's content: a
/// worker that claims it blocks until a [`Feeder`] feeds it.
fn replace_with_fifo(state: &AppState, stored_path: &str) -> (PathBuf, Vec<u8>) {
    let path = state.config.data_dir().join(stored_path);
    let content = std::fs::read(&path).expect("the stored file");
    std::fs::remove_file(&path).unwrap();
    let made = Command::new("mkfifo").arg(&path).status().expect("mkfifo");
    assert!(made.success(), "mkfifo failed");
    (path, content)
}

/// Feeds a FIFO to the scorer. The scorer opens a submission twice: for its first four
/// bytes, then to read it all. One writer, opened as soon as the first reader waits,
/// writes the first four bytes and then the whole content, and stays open for a second:
/// the pipe keeps what the first reader left while a writer holds it, so the second open
/// finds the whole content, and the writer's close then ends it. The open does not block
/// (`O_NONBLOCK`, Linux's value): no reader yet means "try again".
struct Feeder {
    thread: std::thread::JoinHandle<()>,
}

impl Feeder {
    fn start(path: &Path, content: Vec<u8>) -> Self {
        use std::os::unix::fs::OpenOptionsExt;
        const O_NONBLOCK: i32 = 0o4000;
        let path = path.to_owned();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                let opened = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(O_NONBLOCK)
                    .open(&path);
                if let Ok(mut fifo) = opened {
                    let mut bytes = content[..4].to_vec();
                    bytes.extend_from_slice(&content);
                    fifo.write_all(&bytes).expect("writing to the FIFO");
                    std::thread::sleep(Duration::from_secs(1));
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Self { thread }
    }

    /// Waits until the feeding is over (20 s at most).
    async fn drained(self) {
        let started = Instant::now();
        while !self.thread.is_finished() {
            assert!(
                started.elapsed() < Duration::from_secs(25),
                "nobody read the FIFO"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Puts the real file back where the FIFO was: a reader that opens it from now on reads
/// the file.
fn restore_file(path: &Path, content: &[u8]) {
    let aside = path.with_extension("restoring");
    std::fs::write(&aside, content).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

/// Waits until `id` has `status` (30 s at most).
async fn wait_status(state: &AppState, id: i64, status: &str) {
    let started = Instant::now();
    loop {
        let now: String = sqlx::query_scalar("select status from submissions where id = $1")
            .bind(id)
            .fetch_one(state.db.pool())
            .await
            .unwrap();
        if now == status {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "submission {id} is {now}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The job of `id`: (state, attempts), or `None` when there is none.
async fn job(state: &AppState, id: i64) -> Option<(String, i64)> {
    sqlx::query_as("select state, attempts from jobs where submission_id = $1")
        .bind(id)
        .fetch_optional(state.db.pool())
        .await
        .unwrap()
}

/// The invariant every fault test ends with: every acknowledged id has a row and its file,
/// every row is scored or failed, no job is left, and no partial upload remains.
async fn assert_nothing_lost(state: &AppState, acknowledged: &[i64]) {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("select id, status, stored_path from submissions order by id")
            .fetch_all(state.db.pool())
            .await
            .unwrap();
    for id in acknowledged {
        let Some((_, status, stored)) = rows.iter().find(|(row, _, _)| row == id) else {
            panic!("submission {id} was acknowledged and has no row");
        };
        assert!(
            state.config.data_dir().join(stored).is_file(),
            "submission {id} has no file"
        );
        assert!(
            status == "scored" || status == "failed",
            "submission {id} is left {status}"
        );
    }
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs")
        .fetch_one(state.db.pool())
        .await
        .unwrap();
    assert_eq!(jobs, 0, "jobs are left in the queue");
    let partial = std::fs::read_dir(state.config.incoming_dir())
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(partial, 0, "partial uploads are left in incoming/");
}

/// A `triageboard serve` child process, killed when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    /// Starts `serve` on `config`'s folder, database and test set, port 0, and reads its
    /// address from its first line.
    fn spawn(config: &Config, extra: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_triageboard"));
        command.arg("serve");
        if let Some(database) = &config.db.database {
            command.arg("--database").arg(database);
        }
        command
            .arg("--data-dir")
            .arg(config.data_dir())
            .arg("--annotations")
            .arg(config.annotations_dir())
            .arg("--images")
            .arg(config.images_dir())
            .args(["--bind", "127.0.0.1:0", "--poll-seconds", "0.05"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("starting triageboard serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("a first line")
            .expect("readable stdout");
        let address = first
            .rsplit(' ')
            .next()
            .expect("the address")
            .trim()
            .to_owned();
        assert!(address.starts_with("http://"), "{first}");
        // Keep reading so that the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, address }
    }

    /// kill -9.
    fn kill(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
