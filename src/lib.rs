//! TriageBoard: a public leaderboard for CT-based COVID-19 triage.
//!
//! The binary's roles are clap subcommands (see [`cli`]); the libraries under `crates/`
//! hold everything that knows nothing of HTTP or SQL. The web service is
//! [`startup::Application`] over [`state::AppState`]: [`web`] holds the routes, [`db`] the
//! SQL, [`jobs`] the scoring worker.

pub mod accounts;
pub mod backup;
pub mod baselines;
pub mod board_cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dataset;
pub mod dataset_import;
pub mod db;
pub mod demo_baselines;
pub mod disclosure;
pub mod error;
pub mod intake;
pub mod jobs;
pub mod leaderboard;
pub mod manifest_key;
pub mod service_key;
pub mod splits;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod testset_version;
pub mod web;
