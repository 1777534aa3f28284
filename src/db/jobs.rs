//! The `jobs` table: the scoring queue, one row per submission waiting or being scored.
//!
//! A worker claims the oldest job that is queued, or running with an expired lease (its
//! worker died), in one atomic statement; it renews the lease while scoring and deletes
//! the row in the transaction that records the result. Jobs are keyed by submission id,
//! so enqueuing twice (a rescore while queued) is one job, and recording a result twice
//! (a worker that lost its lease finishing late) writes the same values.

use sqlx::{Any, Executor};

use super::{Db, Dialect};

/// A job a worker now holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedJob {
    /// The submission to score.
    pub submission_id: i64,
    /// How many times the job was claimed, this claim included.
    pub attempts: i64,
}

/// Puts a submission in the queue (again): a queued or expired job is reset.
pub async fn enqueue<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    submission_id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into jobs (submission_id, state, attempts, enqueued_at)
         values ($1, 'queued', 0, $2)
         on conflict (submission_id) do update
         set state = 'queued', attempts = 0, lease_until = null, worker = null",
    )
    .bind(submission_id)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}

/// Puts every submission in the queue again (after the annotations changed), in one
/// statement; returns how many.
pub async fn enqueue_all<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "insert into jobs (submission_id, state, attempts, enqueued_at)
         select id, 'queued', 0, $1
         from submissions
         where true
         on conflict (submission_id) do update
         set state = 'queued', attempts = 0, lease_until = null, worker = null",
    )
    .bind(now)
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}

/// PostgreSQL: `skip locked` lets concurrent workers pass over a row another worker is
/// claiming instead of waiting for it and then finding it taken.
const CLAIM_POSTGRES: &str = "update jobs
    set state = 'running', attempts = attempts + 1, lease_until = $1, worker = $2
    where submission_id = (
        select submission_id
        from jobs
        where (state = 'queued' or (state = 'running' and lease_until < $3))
          and exists (select 1 from testset_version where id = 1 and version = $4)
        order by enqueued_at, submission_id
        limit 1
        for update skip locked
    )
    returning submission_id, attempts";

/// SQLite has one writer at a time, so the same statement without row locks is atomic.
const CLAIM_SQLITE: &str = "update jobs
    set state = 'running', attempts = attempts + 1, lease_until = $1, worker = $2
    where submission_id = (
        select submission_id
        from jobs
        where (state = 'queued' or (state = 'running' and lease_until < $3))
          and exists (select 1 from testset_version where id = 1 and version = $4)
        order by enqueued_at, submission_id
        limit 1
    )
    returning submission_id, attempts";

/// Claims the oldest available job for `worker` until `now + lease_ms`, and marks its
/// submission as running, in one transaction. Nothing is claimed unless the database is on
/// test-set `version`, the one the worker loaded (checked in the same statement, so that a
/// `testset adopt` cannot slip between a check and the claim).
pub async fn claim(
    db: &Db,
    worker: &str,
    now: i64,
    lease_ms: i64,
    version: &str,
) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let sql = match db.dialect() {
        Dialect::Postgres => CLAIM_POSTGRES,
        Dialect::Sqlite => CLAIM_SQLITE,
    };
    let mut tx = db.pool().begin().await?;
    let job: Option<ClaimedJob> = sqlx::query_as(sql)
        .bind(now.saturating_add(lease_ms))
        .bind(worker)
        .bind(now)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(job) = job {
        super::submissions::mark_running(&mut *tx, job.submission_id).await?;
    }
    tx.commit().await?;
    Ok(job)
}

/// Extends a lease the worker still holds; false when another worker took the job over
/// or the job is gone.
pub async fn extend_lease<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    submission_id: i64,
    worker: &str,
    lease_until: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update jobs
         set lease_until = $3
         where submission_id = $1
           and worker = $2
           and state = 'running'",
    )
    .bind(submission_id)
    .bind(worker)
    .bind(lease_until)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a finished job, only while `worker` still holds it: a job queued again
/// meanwhile (a rescore) or taken over by another worker stays for its next run.
pub async fn delete_job<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    submission_id: i64,
    worker: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "delete from jobs
         where submission_id = $1
           and worker = $2",
    )
    .bind(submission_id)
    .bind(worker)
    .execute(executor)
    .await?;
    Ok(())
}

/// Jobs in each state: (queued, running).
pub async fn queue_length<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<(i64, i64), sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select state, count(*)
         from jobs
         group by state",
    )
    .fetch_all(executor)
    .await?;
    let count = |state: &str| rows.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
    Ok((count("queued"), count("running")))
}

/// Gives a job `worker` holds back to the queue at once (its worker is stopping): the
/// claim does not count as an attempt, and the submission reads as queued again.
/// False when the worker no longer held it.
pub async fn release(db: &Db, submission_id: i64, worker: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    let done = sqlx::query(
        "update jobs
         set state = 'queued', lease_until = null, worker = null,
             attempts = case when attempts > 0 then attempts - 1 else 0 end
         where submission_id = $1
           and worker = $2
           and state = 'running'",
    )
    .bind(submission_id)
    .bind(worker)
    .execute(&mut *tx)
    .await?;
    let released = done.rows_affected() == 1;
    if released {
        sqlx::query(
            "update submissions
             set status = 'queued'
             where id = $1 and status = 'running'",
        )
        .bind(submission_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(released)
}
