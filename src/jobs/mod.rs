//! The scoring worker: claims jobs from the database, scores in `spawn_blocking` while
//! renewing its lease, and records the result, the manifest version and the per-study
//! outcomes in one transaction. The same loop runs inside `serve` and as `worker`.
//!
//! Every step is idempotent and keyed by submission id: a worker killed mid-scoring leaves
//! a running job whose lease expires, and the next claim scores the same file again.

use std::time::{Duration, Instant};

use anyhow::Context;
use scorer::{Evaluation, ScoreError};

use crate::clock;
use crate::db::{jobs, submissions};
use crate::state::AppState;

/// A job claimed this many times without finishing (its worker died each time, for
/// example killed for memory) fails instead of taking workers down forever.
pub const MAX_ATTEMPTS: i64 = 3;

/// The participant-safe message of a failure that is not the participant's fault.
pub const INTERNAL_FAILURE: &str = "the submission could not be scored because of an error on our side; it does not count against your quota, and the organizers can rescore it";

/// The participant-safe message of an invalid submission (details list the problems).
pub const INVALID: &str = "the submission is invalid";

/// A name for a worker, unique across processes and machines with high probability.
pub fn worker_name(index: usize) -> String {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    format!(
        "{}-{}-{index}",
        std::process::id(),
        crate::accounts::hex(&bytes)
    )
}

/// Runs a worker until the task is dropped: claims and scores jobs, and sleeps until woken
/// or the poll interval passes when the queue is empty.
pub async fn run_worker(state: AppState, worker: String) {
    tracing::info!(worker, "scoring worker started");
    loop {
        match run_one(&state, &worker).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(err) => tracing::error!(worker, error = format!("{err:#}"), "scoring worker"),
        }
        tokio::select! {
            () = state.jobs_ready.notified() => {}
            () = tokio::time::sleep(state.config.poll_interval()) => {}
        }
    }
}

/// Scores every job that can be claimed now, one after another; returns how many ran.
/// Tests call this instead of waiting for a background worker.
pub async fn run_pending(state: &AppState, worker: &str) -> anyhow::Result<usize> {
    let mut done = 0;
    while run_one(state, worker).await? {
        done += 1;
    }
    Ok(done)
}

/// Claims one job and runs it; false when there was nothing to claim.
pub async fn run_one(state: &AppState, worker: &str) -> anyhow::Result<bool> {
    let lease_ms = i64::try_from(state.config.lease().as_millis()).unwrap_or(i64::MAX);
    let Some(job) = jobs::claim(&state.db, worker, clock::now_ms(), lease_ms)
        .await
        .context("claiming a job")?
    else {
        return Ok(false);
    };
    let id = job.submission_id;
    tracing::info!(worker, submission = id, attempt = job.attempts, "scoring");
    let outcome = if job.attempts > MAX_ATTEMPTS {
        tracing::error!(submission = id, "giving up after {MAX_ATTEMPTS} attempts");
        Err(anyhow::anyhow!("claimed {} times without finishing", job.attempts).into())
    } else {
        score_submission(state, worker, id).await
    };
    record(state, worker, id, outcome).await?;
    Ok(true)
}

/// What became of one scoring run.
enum Failure {
    Invalid(Vec<String>),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::Internal(err)
    }
}

async fn score_submission(
    state: &AppState,
    worker: &str,
    id: i64,
) -> Result<(Evaluation, Duration), Failure> {
    let submission = submissions::find_submission(state.db.pool(), id)
        .await
        .context("reading the submission")?
        .ok_or_else(|| anyhow::anyhow!("submission {id} has a job but no row"))?;
    let path = state.config.data_dir().join(&submission.stored_path);
    let testset = state.testset.clone();
    let started = Instant::now();
    let mut scoring =
        tokio::task::spawn_blocking(move || scorer::score(&testset.annotations, &path, &()));

    // Renew the lease while the blocking task runs, so that a long scoring is not taken
    // over; a worker that lost its lease goes on (recording is idempotent) but says so.
    let lease = state.config.lease();
    let mut heartbeat = tokio::time::interval(lease / 3);
    heartbeat.tick().await;
    let joined = loop {
        tokio::select! {
            joined = &mut scoring => break joined,
            _ = heartbeat.tick() => {
                let until = clock::now_ms() + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
                match jobs::extend_lease(state.db.pool(), id, worker, until).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(worker, submission = id, "lost the lease"),
                    Err(err) => tracing::warn!(worker, submission = id, error = %err, "renewing the lease"),
                }
            }
        }
    };
    let elapsed = started.elapsed();
    state.metrics.observe_scoring(elapsed);
    match joined {
        Ok(Ok(evaluation)) => Ok((evaluation, elapsed)),
        Ok(Err(ScoreError::Invalid(problems))) => Err(Failure::Invalid(problems.lines())),
        Ok(Err(other)) => Err(Failure::Internal(
            anyhow::Error::new(other).context(format!("scoring submission {id}")),
        )),
        Err(join) => Err(Failure::Internal(anyhow::anyhow!(
            "the scoring task of submission {id} panicked or was cancelled: {join}"
        ))),
    }
}

async fn record(
    state: &AppState,
    worker: &str,
    id: i64,
    outcome: Result<(Evaluation, Duration), Failure>,
) -> anyhow::Result<()> {
    let now = clock::now_ms();
    let mut tx = state.db.pool().begin().await?;
    match outcome {
        Ok((evaluation, elapsed)) => {
            let scores = serde_json::to_string(&evaluation.scores)?;
            let outcomes = outcomes_json(&evaluation);
            let ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
            let version = &state.testset.manifest_version;
            submissions::record_scored(&mut *tx, id, &scores, version, ms, now).await?;
            submissions::upsert_outcomes(&mut *tx, id, &outcomes).await?;
            tracing::info!(submission = id, ms, "scored");
        }
        Err(Failure::Invalid(lines)) => {
            let details = serde_json::to_string(&lines)?;
            submissions::record_failed(&mut *tx, id, INVALID, &details, now).await?;
            tracing::info!(
                submission = id,
                problems = lines.len(),
                "invalid submission"
            );
        }
        Err(Failure::Internal(err)) => {
            // The cause may name hidden files: it goes to the log, never to the participant.
            tracing::error!(
                submission = id,
                error = format!("{err:#}"),
                "scoring failed"
            );
            submissions::record_failed(&mut *tx, id, INTERNAL_FAILURE, "[]", now).await?;
        }
    }
    jobs::delete_job(&mut *tx, id, worker).await?;
    tx.commit().await?;
    Ok(())
}

/// The per-study outcomes as JSON, in study order (organizers only).
fn outcomes_json(evaluation: &Evaluation) -> String {
    let rows: Vec<serde_json::Value> = evaluation
        .outcomes
        .iter()
        .map(|o| {
            serde_json::json!({
                "category": o.category,
                "true_severity": o.true_severity,
                "identification": o.identification,
                "severity": o.severity,
                "dice": o.dice,
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}
