//! Typed configuration of the service, from command-line flags and environment variables.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// Who may create an account from the sign-up page (EVALUATION.md 5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SignupMode {
    /// Anyone: the account is usable at once (the demo's default).
    Open,
    /// Anyone may ask; an organizer admits each new account before it can log in.
    Approval,
    /// Nobody: organizers create accounts with `triageboard user add`.
    Closed,
}

impl SignupMode {
    /// The flag's value, for pages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SignupMode::Open => "open",
            SignupMode::Approval => "approval",
            SignupMode::Closed => "closed",
        }
    }
}

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
    /// Seconds a worker holds a job before another may claim it again. The worker renews
    /// the lease every third of it while it scores, so a long scoring keeps its job and a
    /// worker killed with -9 costs at most this long.
    #[arg(long, env = "TRIAGEBOARD_LEASE_SECONDS", default_value_t = 15)]
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
    /// Sign-up: `open`, `approval` (an organizer admits each account) or `closed`
    /// (`triageboard user add` only). Default: `approval`; `open` for the embedded demo
    /// (neither `--annotations` nor `--images`).
    #[arg(long, env = "TRIAGEBOARD_SIGNUP", value_enum)]
    pub signup: Option<SignupMode>,
    /// The address of an https reverse proxy in front of the service (repeatable or
    /// comma-separated). Only its `X-Forwarded-For` and `X-Forwarded-Proto` are believed;
    /// without one both headers are ignored.
    #[arg(
        long = "trusted-proxy",
        env = "TRIAGEBOARD_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,
    /// Seconds a client has to send a request's headers, counted from the connection's
    /// start or its previous response (so also how long an idle keep-alive connection
    /// stays open).
    #[arg(long, env = "TRIAGEBOARD_HEADER_TIMEOUT_SECONDS", default_value_t = 20)]
    pub header_timeout_seconds: u64,
    /// Seconds a request other than an upload may take before it answers 503.
    #[arg(
        long,
        env = "TRIAGEBOARD_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 30
    )]
    pub request_timeout_seconds: u64,
    /// Seconds an upload may go without sending a byte before it is cut off. There is no
    /// limit on an upload's total time: a slow but steady 2 GiB upload succeeds.
    #[arg(long, env = "TRIAGEBOARD_BODY_IDLE_SECONDS", default_value_t = 60)]
    pub body_idle_seconds: u64,
    /// Connections open at once; beyond it new ones wait to be accepted.
    #[arg(long, env = "TRIAGEBOARD_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Connections open at once from one client address (trusted proxies are exempt).
    #[arg(
        long,
        env = "TRIAGEBOARD_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 64
    )]
    pub max_connections_per_client: usize,
    /// Seconds a database query waits for a connection before the request answers 503
    /// ("the database is not answering").
    #[arg(
        long,
        env = "TRIAGEBOARD_DATABASE_TIMEOUT_SECONDS",
        default_value_t = 5
    )]
    pub database_timeout_seconds: u64,
    /// On SIGTERM or Ctrl-C: seconds to let requests and the submission being scored
    /// finish. A scoring still running then goes back to the queue at once, for the next
    /// start or another worker.
    #[arg(long, env = "TRIAGEBOARD_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    pub shutdown_grace_seconds: u64,
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
            lease_seconds: 15,
            poll_seconds: 2.0,
            reference_weights: PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/reference-model/weights"
            )),
            manifest_key: None,
            signup: None,
            trusted_proxies: Vec::new(),
            header_timeout_seconds: 20,
            request_timeout_seconds: 30,
            body_idle_seconds: 60,
            max_connections: 1024,
            max_connections_per_client: 64,
            database_timeout_seconds: 5,
            shutdown_grace_seconds: 20,
        }
    }

    /// True for the embedded demo: neither the annotations nor the images were given.
    pub fn is_demo(&self) -> bool {
        self.annotations.is_none() && self.images.is_none()
    }

    /// The sign-up mode in force: the flag's, else `open` for the demo and `approval`
    /// for a real test set.
    pub fn signup_mode(&self) -> SignupMode {
        self.signup.unwrap_or(if self.is_demo() {
            SignupMode::Open
        } else {
            SignupMode::Approval
        })
    }

    /// True when `peer` is one of the trusted proxies (an IPv4 peer seen through an IPv6
    /// socket as `::ffff:a.b.c.d` counts as `a.b.c.d`).
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted_proxies
            .iter()
            .any(|proxy| proxy.to_canonical() == peer)
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

    /// The server loop's connection limits.
    pub fn connection_limits(&self) -> crate::web::server::ConnectionLimits {
        crate::web::server::ConnectionLimits {
            header_timeout: Duration::from_secs(self.header_timeout_seconds.max(1)),
            max_connections: self.max_connections,
            max_per_client: self.max_connections_per_client,
            grace: self.shutdown_grace(),
        }
    }

    /// How long a non-upload request may take.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds.max(1))
    }

    /// How long an upload may stall.
    pub fn body_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.body_idle_seconds.max(1))
    }

    /// How long a shutdown waits for requests and a running scoring.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }

    /// How long an idle worker sleeps between polls.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs_f64(self.poll_seconds.clamp(0.01, 3600.0))
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, SignupMode};

    #[test]
    fn the_demo_signs_up_openly_and_a_real_test_set_asks_for_approval() {
        let mut config = Config::new("data");
        assert_eq!(config.signup_mode(), SignupMode::Open);
        config.annotations = Some("annotations".into());
        assert_eq!(config.signup_mode(), SignupMode::Approval);
        config.signup = Some(SignupMode::Closed);
        assert_eq!(config.signup_mode(), SignupMode::Closed);
    }

    #[test]
    fn a_trusted_proxy_is_recognised_through_an_ipv6_socket() {
        let mut config = Config::new("data");
        config.trusted_proxies = vec!["10.0.0.1".parse().unwrap()];
        assert!(config.is_trusted_proxy("10.0.0.1".parse().unwrap()));
        assert!(config.is_trusted_proxy("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!config.is_trusted_proxy("10.0.0.2".parse().unwrap()));
    }
}
