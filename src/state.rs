//! The one cloneable state every handler and worker takes: database, configuration, the
//! loaded test set and the process's metrics.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::Config;
use crate::db::Db;
use crate::telemetry::Metrics;

/// The hidden annotations, loaded once, and the manifest version scores are recorded with.
#[derive(Debug)]
pub struct TestSet {
    /// The scorer's view of the annotations (Sync, shared by every scoring thread).
    pub annotations: scorer::Annotations,
    /// The test-set version scores record: the manifest's, or `unpinned-<digest>` when no
    /// manifest was given ([`crate::testset_version`]).
    pub manifest_version: String,
    /// The version with every annotation file's digest, checked against the database's.
    pub fingerprint: crate::testset_version::Fingerprint,
    /// Every study's split, in the order of the annotations' index; never shown.
    pub splits: Vec<scorer::Split>,
    /// The bootstrap of every published interval: the contract's settings with a seed
    /// derived from the service key, so that intervals cannot be recomputed offline.
    pub bootstrap: scorer::Bootstrap,
}

impl TestSet {
    /// Whether the study at `position` is in `split`.
    pub fn in_split(&self, position: usize, split: scorer::Split) -> bool {
        self.splits.get(position) == Some(&split)
    }
}

/// Shared state; clones share everything.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The configuration.
    pub config: Arc<Config>,
    /// The test set.
    pub testset: Arc<TestSet>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Wakes this process's workers when a job is enqueued.
    pub jobs_ready: Arc<Notify>,
    /// The background run of the reference baselines.
    pub baselines: crate::baselines::Tracker,
    /// The boards, built once per change of the database ([`crate::board_cache`]).
    pub boards: Arc<crate::board_cache::BoardCache>,
    /// The service's secret (splits, bootstrap seeds, CSRF tokens).
    pub key: Arc<crate::service_key::ServiceKey>,
}
