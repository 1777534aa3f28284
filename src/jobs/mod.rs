//! The scoring worker: claims jobs from the database, scores in `spawn_blocking` while
//! renewing its lease, and records the scores over the whole test set and over each
//! split, the manifest version and the per-study outcomes in one transaction. The same loop runs inside `serve` and as `worker`.
//!
//! Every step is idempotent and keyed by submission id: a worker killed mid-scoring leaves
//! a running job whose lease expires, and the next claim scores the same file again. A
//! worker told to stop (SIGTERM) claims nothing more, lets the scoring in hand finish
//! within the shutdown grace, and otherwise gives the job back to the queue at once.

use std::time::{Duration, Instant};

use anyhow::Context;
use scorer::{Evaluation, ScoreError, Split, StudyOutcome};
use tokio_util::sync::CancellationToken;

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

/// Runs a worker until `stop` is cancelled: claims and scores jobs, and sleeps until woken
/// or the poll interval passes when the queue is empty. Once stopped, a scoring in hand
/// has the shutdown grace to finish before its job goes back to the queue.
pub async fn run_worker(state: AppState, worker: String, stop: CancellationToken) {
    tracing::info!(worker, "scoring worker started");
    while !stop.is_cancelled() {
        match run_one(&state, &worker, &stop).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(err) => tracing::error!(worker, error = format!("{err:#}"), "scoring worker"),
        }
        tokio::select! {
            () = state.jobs_ready.notified() => {}
            () = tokio::time::sleep(state.config.poll_interval()) => {}
            () = stop.cancelled() => {}
        }
    }
    tracing::info!(worker, "scoring worker stopped");
}

/// Scores every job that can be claimed now, one after another; returns how many ran.
/// Tests call this instead of waiting for a background worker.
pub async fn run_pending(state: &AppState, worker: &str) -> anyhow::Result<usize> {
    let never = CancellationToken::new();
    let mut done = 0;
    while run_one(state, worker, &never).await? {
        done += 1;
    }
    Ok(done)
}

/// Claims one job and runs it; false when there was nothing to claim (or `stop` is
/// cancelled, so that nothing new is claimed).
pub async fn run_one(
    state: &AppState,
    worker: &str,
    stop: &CancellationToken,
) -> anyhow::Result<bool> {
    if stop.is_cancelled() {
        return Ok(false);
    }
    // Scores are only ever of the database's test-set version: a process that loaded
    // other annotations (the organizers adopted new ones since it started) claims nothing.
    let on = crate::testset_version::current(state.db.pool())
        .await
        .context("reading the test-set version")?;
    if let Some(on) = on.filter(|on| *on != state.testset.manifest_version) {
        anyhow::bail!(
            "the database is on test-set version {on}, and this process loaded {}: it scores \
             nothing until restarted with the current annotations",
            state.testset.manifest_version
        );
    }
    let lease_ms = i64::try_from(state.config.lease().as_millis()).unwrap_or(i64::MAX);
    let version = &state.testset.manifest_version;
    let Some(job) = jobs::claim(&state.db, worker, clock::now_ms(), lease_ms, version)
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
        match score_submission(state, worker, id, stop).await {
            Some(outcome) => outcome,
            None => return give_back(state, worker, id).await.map(|()| false),
        }
    };
    record(state, worker, id, outcome).await?;
    Ok(true)
}

/// Gives the job of a stopped worker back to the queue.
async fn give_back(state: &AppState, worker: &str, id: i64) -> anyhow::Result<()> {
    let released = jobs::release(&state.db, id, worker)
        .await
        .context("giving the job back")?;
    tracing::info!(
        worker,
        submission = id,
        released,
        "stopping: the scoring did not finish within the grace period, the job is back in the queue"
    );
    Ok(())
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
    stop: &CancellationToken,
) -> Option<Result<(Evaluation, Duration), Failure>> {
    let found = submissions::find_submission(state.db.pool(), id)
        .await
        .context("reading the submission");
    let submission = match found {
        Ok(Some(submission)) => submission,
        Ok(None) => {
            let err = anyhow::anyhow!("submission {id} has a job but no row");
            return Some(Err(Failure::Internal(err)));
        }
        Err(err) => return Some(Err(Failure::Internal(err))),
    };
    let path = state.config.data_dir().join(&submission.stored_path);
    let testset = state.testset.clone();
    // The messages name the file as its author did.
    let name = submission.file_name.clone();
    let started = Instant::now();
    let mut scoring = tokio::task::spawn_blocking(move || {
        scorer::score_named(&testset.annotations, &path, &name, &())
    });

    // Renew the lease while the blocking task runs, so that a long scoring is not taken
    // over; a worker that lost its lease goes on (recording is idempotent) but says so.
    let lease = state.config.lease();
    let mut heartbeat = tokio::time::interval(lease / 3);
    heartbeat.tick().await;
    // Once stopped, the scoring has the shutdown grace to finish.
    let grace = state.config.shutdown_grace();
    let give_up = async {
        stop.cancelled().await;
        tracing::info!(
            worker,
            submission = id,
            grace_s = grace.as_secs_f64(),
            "stopping: letting the scoring finish"
        );
        tokio::time::sleep(grace).await;
    };
    tokio::pin!(give_up);
    let joined = loop {
        tokio::select! {
            joined = &mut scoring => break joined,
            () = &mut give_up => return None,
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
    Some(match joined {
        Ok(Ok(evaluation)) => Ok((evaluation, elapsed)),
        Ok(Err(ScoreError::Invalid(problems))) => Err(Failure::Invalid(problems.lines())),
        Ok(Err(other)) => Err(Failure::Internal(
            anyhow::Error::new(other).context(format!("scoring submission {id}")),
        )),
        Err(join) => Err(Failure::Internal(anyhow::anyhow!(
            "the scoring task of submission {id} panicked or was cancelled: {join}"
        ))),
    })
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
            let record = scored_record(state, &evaluation, elapsed)?;
            let outcomes = serde_json::to_string(&evaluation.outcomes)?;
            submissions::record_scored(&mut *tx, id, &record, now).await?;
            submissions::upsert_outcomes(&mut *tx, id, &outcomes).await?;
            tracing::info!(submission = id, ms = record.scoring_ms, "scored");
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

/// The scores over the whole test set, the public split (live) and the private split
/// (final), all with the service's secret-seeded bootstrap. Private scores are computed for
/// every submission, so that marking one final needs no second scoring; they are shown
/// only once it is final.
fn scored_record(
    state: &AppState,
    evaluation: &Evaluation,
    elapsed: Duration,
) -> anyhow::Result<submissions::ScoredRecord> {
    let testset = &state.testset;
    let on = |split: Option<Split>| {
        let scores = evaluation.scores_where(
            |i| split.is_none_or(|split| testset.in_split(i, split)),
            &testset.bootstrap,
        );
        serde_json::to_string(&scores)
    };
    Ok(submissions::ScoredRecord {
        scores_json: on(None)?,
        public_scores_json: on(Some(Split::Public))?,
        private_scores_json: on(Some(Split::Private))?,
        manifest_version: testset.manifest_version.clone(),
        scoring_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
        probe_like: looks_like_a_probe(&evaluation.outcomes),
    })
}

/// Share of studies at one value beyond which a submission whose other studies are spread
/// over several values looks like a probe.
const PROBE_TIED_SHARE: f64 = 0.8;

/// Whether per-study predictions look like a probe of the labels: most studies tied at one
/// value while a few are spread out (the shape of Whitehill's attack), in the
/// identification or the severity scores. Organizers see the flag; nothing is blocked.
pub fn looks_like_a_probe(outcomes: &[StudyOutcome]) -> bool {
    let probe = |values: Vec<f64>| {
        let mut counts: Vec<(f64, usize)> = Vec::new();
        for v in values {
            match counts.iter_mut().find(|(x, _)| *x == v) {
                Some((_, n)) => *n += 1,
                None => counts.push((v, 1)),
            }
        }
        let total: usize = counts.iter().map(|(_, n)| n).sum();
        let modal = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
        total > 0
            && modal as f64 >= PROBE_TIED_SHARE * total as f64
            && modal < total
            && counts.len() >= 3
    };
    probe(outcomes.iter().map(|o| o.identification).collect())
        || probe(outcomes.iter().map(|o| o.severity).collect())
}

#[cfg(test)]
mod tests {
    use super::looks_like_a_probe;
    use scorer::StudyOutcome;

    fn outcomes(identification: &[f64]) -> Vec<StudyOutcome> {
        identification
            .iter()
            .enumerate()
            .map(|(i, &p)| StudyOutcome {
                category: "covid".into(),
                true_severity: 0.0,
                identification: p,
                severity: i as f64,
                dice: None,
            })
            .collect()
    }

    #[test]
    fn most_studies_tied_and_a_few_spread_out_look_like_a_probe() {
        let mut values = vec![0.5; 18];
        values.extend([0.9, 0.1]);
        assert!(looks_like_a_probe(&outcomes(&values)));
    }

    #[test]
    fn ordinary_predictions_do_not_look_like_a_probe() {
        let values: Vec<f64> = (0..20).map(|i| f64::from(i) / 20.0).collect();
        assert!(!looks_like_a_probe(&outcomes(&values)));
        // A hard 0/1 classifier ties everything at two values: not a probe either.
        let hard: Vec<f64> = (0..20).map(|i| f64::from(i % 5 == 0)).collect();
        let mut constant_severity = outcomes(&hard);
        for o in &mut constant_severity {
            o.severity = 1.0;
        }
        assert!(!looks_like_a_probe(&constant_severity));
    }
}
