//! The reference pipeline of the seed paper (Goncharov et al., "CT-based COVID-19 Triage:
//! Deep Multitask Learning Improves Joint Identification and Severity Quantification") on Candle.
//!
//! This crate is a placeholder until the reference-pipeline issue lands: it exists from the
//! start so that the workspace layout, and the invariant that it never depends on the server,
//! are fixed before any model code is written. See `README.md` beside this file for the plan.
