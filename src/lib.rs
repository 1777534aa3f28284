//! TriageBoard: a public leaderboard for CT-based COVID-19 triage.
//!
//! The binary's roles are clap subcommands (see [`cli`]); the libraries under `crates/`
//! hold everything that knows nothing of HTTP or SQL.

pub mod cli;
pub mod dataset;
