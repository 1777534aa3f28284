//! Building and running the application: `Application::build` binds the port first (tests
//! start it on port 0 and read the port back), connects and migrates the database, loads
//! the test set, and creates the first organizer on a fresh database.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use scorer::Annotations;
use scorer::manifest::Manifest;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

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

    /// Serves requests and runs the configured workers until `shutdown` completes; then
    /// stops accepting, and gives requests in flight and the scorings in hand the shutdown
    /// grace to finish (a scoring that does not goes back to the queue).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let config = self.state.config.clone();
        let stop = CancellationToken::new();
        let workers = spawn_workers(&self.state, config.workers, &stop);
        let router = web::router(self.state.clone());
        let exempt = {
            let config = config.clone();
            move |peer| config.is_trusted_proxy(peer)
        };
        let stopping = stop.clone();
        web::server::serve(
            self.listener,
            router,
            config.connection_limits(),
            exempt,
            async move {
                shutdown.await;
                stopping.cancel();
            },
        )
        .await;
        stop_workers(workers, &stop, config.shutdown_grace()).await;
        Ok(())
    }
}

/// Starts `count` scoring workers that run until `stop` is cancelled.
pub fn spawn_workers(
    state: &AppState,
    count: usize,
    stop: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|i| {
            tokio::spawn(jobs::run_worker(
                state.clone(),
                jobs::worker_name(i),
                stop.clone(),
            ))
        })
        .collect()
}

/// Cancels `stop` and waits for the workers: each finishes or gives back its job within
/// the grace period, plus a moment for the database to answer.
pub async fn stop_workers(
    workers: Vec<tokio::task::JoinHandle<()>>,
    stop: &CancellationToken,
    grace: Duration,
) {
    stop.cancel();
    let all = futures_util::future::join_all(workers);
    if tokio::time::timeout(grace + Duration::from_secs(10), all)
        .await
        .is_err()
    {
        tracing::warn!(
            "a scoring worker did not stop in time; its job is claimed again when its lease runs out"
        );
    }
}

/// Connects and migrates the database and loads the test set: everything a worker needs.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let db = Db::connect_with(
        &config.db.database_url(),
        Duration::from_secs(config.database_timeout_seconds.max(1)),
    )
    .await?;
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
    crate::testset_version::check(&db, &testset.fingerprint, &config.annotations_dir()).await?;
    rescore_without_splits(&db).await?;
    Ok(AppState {
        db,
        config: Arc::new(config),
        testset: Arc::new(testset),
        metrics: Arc::new(Metrics::default()),
        jobs_ready: Arc::new(Notify::new()),
        baselines: Arc::default(),
        boards: Arc::default(),
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
pub async fn load_testset(config: &Config, key: &ServiceKey) -> anyhow::Result<TestSet> {
    let dir = config.annotations_dir();
    let manifest = config.manifest.clone();
    let service_key = key.clone();
    let public_fraction = config.public_fraction;
    let key_file = config.manifest_key.clone();
    let demo = config.is_demo();
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
                        let hint = if demo {
                            " (the demo's set was edited or generated by another version of TriageBoard: delete its folder to generate it again)"
                        } else {
                            ""
                        };
                        format!(
                            "the annotations in {} do not match {}{hint}",
                            dir.display(),
                            path.display()
                        )
                    })?;
                Some(manifest.version())
            }
            None => None,
        };
        let fingerprint =
            crate::testset_version::Fingerprint::of_folder(&dir, manifest_version, &service_key)
                .with_context(|| format!("reading the annotations in {}", dir.display()))?;
        let splits = crate::splits::assign(annotations.studies(), &service_key, public_fraction)
            .with_context(|| format!("the test split of {}", dir.display()))?;
        let bootstrap = scorer::Bootstrap {
            seed: service_key.derive_u64("bootstrap", b""),
            ..scorer::Bootstrap::default()
        };
        Ok(TestSet {
            annotations,
            manifest_version: fingerprint.version.clone(),
            fingerprint,
            splits,
            bootstrap,
        })
    })
    .await
    .context("loading the test set")?
}
