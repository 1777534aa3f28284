//! Typed configuration of the service, from command-line flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Where the database lives; shared by `serve`, `worker` and `user add`.
#[derive(Clone, Debug, Args)]
pub struct DatabaseConfig {
    /// Folder for the SQLite database, uploads and the demo test set.
    #[arg(long, env = "TRIAGEBOARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...` (default: SQLite in the data folder).
    #[arg(long, env = "TRIAGEBOARD_DATABASE")]
    pub database: Option<String>,
}

impl DatabaseConfig {
    /// The database URL, defaulting to `sqlite://<data_dir>/triageboard.db`.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join("triageboard.db").display()
            ),
        }
    }
}

/// Everything `serve` and `worker` need.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// The database and the data folder.
    #[command(flatten)]
    pub db: DatabaseConfig,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "TRIAGEBOARD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The hidden annotations folder (default: `<data_dir>/testset/annotations`).
    #[arg(long, env = "TRIAGEBOARD_ANNOTATIONS")]
    pub annotations: Option<PathBuf>,
    /// The public images folder (default: `<data_dir>/testset/images`).
    #[arg(long, env = "TRIAGEBOARD_IMAGES")]
    pub images: Option<PathBuf>,
    /// A manifest pinning the annotations; scores record its version.
    #[arg(long, env = "TRIAGEBOARD_MANIFEST")]
    pub manifest: Option<PathBuf>,
    /// Largest accepted upload in bytes (larger ones get 413).
    #[arg(long, env = "TRIAGEBOARD_MAX_UPLOAD_BYTES", default_value_t = 2 << 30)]
    pub max_upload_bytes: u64,
    /// Submissions per participant per UTC day that are queued, running or scored.
    #[arg(long, env = "TRIAGEBOARD_DAILY_QUOTA", default_value_t = 5)]
    pub daily_quota: u32,
    /// Submissions a participant may mark final per rolling 30 days (EVALUATION.md 5.1).
    #[arg(long, env = "TRIAGEBOARD_FINALS_PER_30_DAYS", default_value_t = 1)]
    pub finals_per_30_days: u32,
    /// Share of each category drawn into the public split when `labels.csv` has no
    /// `split` column (EVALUATION.md 5.1).
    #[arg(long, env = "TRIAGEBOARD_PUBLIC_FRACTION", default_value_t = 0.5)]
    pub public_fraction: f64,
    /// Jobs waiting at most; beyond it uploads get 503 with Retry-After.
    #[arg(long, env = "TRIAGEBOARD_MAX_QUEUE", default_value_t = 100)]
    pub max_queue: u32,
    /// Scoring workers run inside this process (0: leave scoring to `triageboard worker`).
    #[arg(long, env = "TRIAGEBOARD_WORKERS", default_value_t = 1)]
    pub workers: usize,
    /// Seconds a worker holds a job before another may claim it again.
    #[arg(long, env = "TRIAGEBOARD_LEASE_SECONDS", default_value_t = 300)]
    pub lease_seconds: u64,
    /// Seconds between queue polls of an idle worker.
    #[arg(long, env = "TRIAGEBOARD_POLL_SECONDS", default_value_t = 2.0)]
    pub poll_seconds: f64,
    /// The reference models' weights and cards (`reference-model/weights` of the repository).
    #[arg(
        long,
        env = "TRIAGEBOARD_REFERENCE_WEIGHTS",
        default_value = "reference-model/weights"
    )]
    pub reference_weights: PathBuf,
    /// The key file `--manifest` was built with (not needed for the synthetic demo's).
    #[arg(long, env = "TRIAGEBOARD_MANIFEST_KEY")]
    pub manifest_key: Option<PathBuf>,
}

impl Config {
    /// The defaults of `serve` with everything under `data_dir`, as tests and embedders
    /// want it.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            db: DatabaseConfig {
                data_dir: data_dir.into(),
                database: None,
            },
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            annotations: None,
            images: None,
            manifest: None,
            max_upload_bytes: 2 << 30,
            daily_quota: 5,
            finals_per_30_days: 1,
            public_fraction: 0.5,
            max_queue: 100,
            workers: 1,
            lease_seconds: 300,
            poll_seconds: 2.0,
            reference_weights: PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/reference-model/weights"
            )),
            manifest_key: None,
        }
    }

    /// The data folder.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.db.data_dir
    }

    /// Where the demo test set lives when no `--annotations` is given.
    pub fn demo_testset_dir(&self) -> PathBuf {
        self.db.data_dir.join("testset")
    }

    /// The hidden annotations folder.
    pub fn annotations_dir(&self) -> PathBuf {
        self.annotations
            .clone()
            .unwrap_or_else(|| self.demo_testset_dir().join("annotations"))
    }

    /// The public images folder.
    pub fn images_dir(&self) -> PathBuf {
        self.images
            .clone()
            .unwrap_or_else(|| self.demo_testset_dir().join("images"))
    }

    /// Where accepted uploads are stored (shared by every `serve` and `worker`).
    pub fn submissions_dir(&self) -> PathBuf {
        self.db.data_dir.join("submissions")
    }

    /// Where uploads are written while they stream in.
    pub fn incoming_dir(&self) -> PathBuf {
        self.db.data_dir.join("incoming")
    }

    /// How long a claimed job stays claimed without a heartbeat.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds.max(1))
    }

    /// How long an idle worker sleeps between polls.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs_f64(self.poll_seconds.clamp(0.01, 3600.0))
    }
}
