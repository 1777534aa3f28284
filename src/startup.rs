//! Building and running the application: `Application::build` binds the port first (tests
//! start it on port 0 and read the port back), connects and migrates the database, loads
//! the test set, and creates the first organizer on a fresh database.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use scorer::Annotations;
use scorer::manifest::Manifest;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::Config;
use crate::db::Db;
use crate::service_key::ServiceKey;
use crate::state::{AppState, TestSet};
use crate::telemetry::Metrics;
use crate::{accounts, jobs, web};

/// A built application, bound to its address and ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
    initial_token: Option<String>,
}

impl Application {
    /// Binds, connects, migrates and loads everything `serve` needs.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("listening on {}", config.bind))?;
        let address = listener.local_addr()?;
        let state = build_state(config).await?;
        let initial_token = accounts::bootstrap_organizer(&state.db).await?;
        Ok(Self {
            listener,
            address,
            state,
            initial_token,
        })
    }

    /// The bound address (with the real port when built with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The shared state, for tests and embedders.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The organizer token created at first start, if this start created it.
    pub fn initial_token(&self) -> Option<&str> {
        self.initial_token.as_deref()
    }

    /// Serves requests and runs the configured workers until `shutdown` completes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let workers: Vec<_> = (0..self.state.config.workers)
            .map(|i| tokio::spawn(jobs::run_worker(self.state.clone(), jobs::worker_name(i))))
            .collect();
        let router = web::router(self.state.clone());
        // The peer's address: the rate limits key on it, and only a trusted proxy's
        // forwarded headers are believed.
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP");
        // A job a worker was scoring is claimed again once its lease expires.
        for worker in workers {
            worker.abort();
        }
        served
    }
}

/// Connects and migrates the database and loads the test set: everything a worker needs.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let db = Db::connect(&config.db.database_url()).await?;
    db.migrate().await?;
    for dir in [config.submissions_dir(), config.incoming_dir()] {
        tokio::fs::create_dir_all(&dir)
            .await
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    // Partial uploads of a process that crashed: no live upload holds their lock.
    let incoming = config.incoming_dir();
    let removed = tokio::task::spawn_blocking(move || web::upload::remove_orphans(&incoming))
        .await
        .context("cleaning incoming/")?;
    if removed > 0 {
        tracing::info!(removed, "removed partial uploads left by a crash");
    }
    let key = crate::service_key::load_or_create(db.pool()).await?;
    let testset = load_testset(&config, &key).await?;
    rescore_without_splits(&db).await?;
    Ok(AppState {
        db,
        config: Arc::new(config),
        testset: Arc::new(testset),
        metrics: Arc::new(Metrics::default()),
        jobs_ready: Arc::new(Notify::new()),
        baselines: Arc::default(),
        key: Arc::new(key),
    })
}

/// Submissions scored before the public/private split existed have no live or final
/// scores and would be on neither board: they are queued once to be scored again.
async fn rescore_without_splits(db: &Db) -> anyhow::Result<()> {
    let ids = crate::db::submissions::list_scored_without_splits(db.pool()).await?;
    if ids.is_empty() {
        return Ok(());
    }
    tracing::info!(
        count = ids.len(),
        "rescoring submissions scored before the split existed"
    );
    let now = crate::clock::now_ms();
    for id in ids {
        crate::db::jobs::enqueue(db.pool(), id, now).await?;
    }
    Ok(())
}

/// Loads the annotations once and checks them against the manifest when one is given.
async fn load_testset(config: &Config, key: &ServiceKey) -> anyhow::Result<TestSet> {
    let dir = config.annotations_dir();
    let manifest = config.manifest.clone();
    let service_key = key.clone();
    let public_fraction = config.public_fraction;
    let key_file = config.manifest_key.clone();
    tokio::task::spawn_blocking(move || {
        let annotations = Annotations::load(&dir)
            .with_context(|| format!("loading the annotations from {}", dir.display()))?;
        let manifest_version = match manifest {
            Some(path) => {
                let manifest = Manifest::load(&path)?;
                let key = crate::manifest_key::for_checking(&manifest, &path, key_file.as_deref())?;
                manifest
                    .verify_annotations(&annotations, &key)
                    .with_context(|| {
                        format!(
                            "the annotations in {} do not match {}",
                            dir.display(),
                            path.display()
                        )
                    })?;
                manifest.version()
            }
            None => "unpinned".to_owned(),
        };
        let splits = crate::splits::assign(annotations.studies(), &service_key, public_fraction)
            .with_context(|| format!("the test split of {}", dir.display()))?;
        let bootstrap = scorer::Bootstrap {
            seed: service_key.derive_u64("bootstrap", b""),
            ..scorer::Bootstrap::default()
        };
        Ok(TestSet {
            annotations,
            manifest_version,
            splits,
            bootstrap,
        })
    })
    .await
    .context("loading the test set")?
}
