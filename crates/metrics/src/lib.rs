//! Scoring metrics of the TriageBoard leaderboard: ROC AUC, Spearman's rho, Dice, their
//! percentile-bootstrap intervals, DeLong's test for comparing two AUCs, and the severity
//! formula itself.
//!
//! Every function is pure (this crate never does IO) and total: degenerate input (empty,
//! constant, NaN, mismatched lengths) gives `None`, never a NaN and never a panic, so that a
//! degenerate metric is published as `null` (the evaluation contract, EVALUATION.md, section 3).

mod auc;
pub mod bootstrap;
pub mod delong;
mod dice;
mod mean;
mod quantile;
mod ranks;
pub mod severity;
mod spearman;

pub use auc::roc_auc;
pub use bootstrap::{Bootstrap, PairedDiff};
pub use delong::{PairedDeLong, auc_variance, paired_delong};
pub use dice::dice;
pub use mean::{mean, mean_and_sd};
pub use quantile::quantile;
pub use ranks::average_ranks;
pub use severity::{affected_percent, affected_percent_of};
pub use spearman::spearman;
