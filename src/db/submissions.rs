//! The `submissions` and `outcomes` tables.

use sqlx::{Any, Executor};

/// A submission's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Stored, waiting for a worker.
    Queued,
    /// A worker is scoring it.
    Running,
    /// Scored; `scores_json` holds the published metrics.
    Scored,
    /// Rejected (invalid) or could not be scored; does not count against the quota.
    Failed,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 4] = [
        Status::Queued,
        Status::Running,
        Status::Scored,
        Status::Failed,
    ];

    /// The value stored in the `status` column and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Scored => "scored",
            Status::Failed => "failed",
        }
    }

    /// Parses the stored value.
    pub fn parse(text: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What an upload adds.
#[derive(Clone, Debug)]
pub struct NewSubmission {
    /// The submitter.
    pub user_id: i64,
    /// The uploaded file's name, cleaned for display.
    pub file_name: String,
    /// The stored file, relative to the data folder.
    pub stored_path: String,
    /// Its size.
    pub size_bytes: i64,
    /// Its sha256, hex.
    pub sha256: String,
    /// Method name shown on the board.
    pub method: String,
    /// Free text.
    pub description: String,
    /// Link to a paper.
    pub paper_url: Option<String>,
    /// Link to code.
    pub code_url: Option<String>,
    /// The reference model behind a baseline (organizers' entries only).
    pub reference_model: Option<String>,
    /// A reference baseline: flagged and final from the start.
    pub baseline: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A stored submission with its submitter's name.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Submission {
    /// Row id.
    pub id: i64,
    /// Submitter id.
    pub user_id: i64,
    /// Submitter name.
    pub user_name: String,
    /// `queued`, `running`, `scored` or `failed`.
    pub status: String,
    /// The uploaded file's name.
    pub file_name: String,
    /// The stored file, relative to the data folder.
    pub stored_path: String,
    /// Bytes.
    pub size_bytes: i64,
    /// sha256 of the file, hex.
    pub sha256: String,
    /// Method name.
    pub method: String,
    /// Free text.
    pub description: String,
    /// Link to a paper.
    pub paper_url: Option<String>,
    /// Link to code.
    pub code_url: Option<String>,
    /// 1 for a reference baseline (flagged by an organizer).
    pub baseline: i64,
    /// 1 when an organizer hid it from the board.
    pub hidden: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds, when scored or failed.
    pub scored_at: Option<i64>,
    /// The scores over the whole test set (EVALUATION.md section 4) as JSON; organizers
    /// only.
    pub scores_json: Option<String>,
    /// The live scores: over the public split.
    pub public_scores_json: Option<String>,
    /// The final scores: over the private split (shown only once the entry is final).
    pub private_scores_json: Option<String>,
    /// When it was marked final, Unix milliseconds.
    pub final_at: Option<i64>,
    /// When a final entry was withdrawn from the board, Unix milliseconds.
    pub withdrawn_at: Option<i64>,
    /// The reference model behind a baseline.
    pub reference_model: Option<String>,
    /// 1 when its predictions look like a probe (organizers only).
    pub probe_like: i64,
    /// Why it failed, safe to show.
    pub error: Option<String>,
    /// Validation messages as a JSON array of strings, safe to show.
    pub details_json: Option<String>,
    /// The manifest version it was scored against.
    pub manifest_version: Option<String>,
    /// Scoring time in milliseconds.
    pub scoring_ms: Option<i64>,
}

impl Submission {
    /// The parsed status (`Failed` for anything unexpected).
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Failed)
    }
}

const SELECT_SUBMISSION: &str = "select s.id, s.user_id, u.name as user_name, s.status,
        s.file_name, s.stored_path, s.size_bytes, s.sha256, s.method, s.description,
        s.paper_url, s.code_url, s.baseline, s.hidden, s.created_at, s.scored_at,
        s.scores_json, s.error, s.details_json, s.manifest_version, s.scoring_ms,
        s.public_scores_json, s.private_scores_json, s.final_at, s.withdrawn_at,
        s.reference_model, s.probe_like
    from submissions s
    join users u on u.id = s.user_id";

/// Submissions of a user on a UTC day that count against the quota (all but failed ones).
pub async fn count_counted_on_day<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
    day: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*)
         from submissions
         where user_id = $1
           and created_day = $2
           and status <> 'failed'",
    )
    .bind(user_id)
    .bind(day)
    .fetch_one(executor)
    .await
}

/// Inserts a queued submission and returns its id.
pub async fn insert_submission<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    new: &NewSubmission,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into submissions (user_id, status, file_name, stored_path, size_bytes, sha256,
             method, description, paper_url, code_url, created_at, created_day,
             reference_model, baseline, final_at)
         values ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         returning id",
    )
    .bind(new.user_id)
    .bind(&new.file_name)
    .bind(&new.stored_path)
    .bind(new.size_bytes)
    .bind(&new.sha256)
    .bind(&new.method)
    .bind(&new.description)
    .bind(new.paper_url.as_deref())
    .bind(new.code_url.as_deref())
    .bind(new.created_at)
    .bind(crate::clock::utc_day(new.created_at))
    .bind(new.reference_model.as_deref())
    .bind(i64::from(new.baseline))
    .bind(new.baseline.then_some(new.created_at))
    .fetch_one(executor)
    .await
}

/// One submission.
pub async fn find_submission<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
) -> Result<Option<Submission>, sqlx::Error> {
    let sql = format!("{SELECT_SUBMISSION} where s.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(executor).await
}

/// Every scored submission not hidden by an organizer, oldest first (the live board).
pub async fn list_scored_visible<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<Vec<Submission>, sqlx::Error> {
    let sql =
        format!("{SELECT_SUBMISSION} where s.status = 'scored' and s.hidden = 0 order by s.id");
    sqlx::query_as(&sql).fetch_all(executor).await
}

/// A user's submissions, newest first.
pub async fn list_for_user<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
) -> Result<Vec<Submission>, sqlx::Error> {
    let sql = format!("{SELECT_SUBMISSION} where s.user_id = $1 order by s.id desc");
    sqlx::query_as(&sql).bind(user_id).fetch_all(executor).await
}

/// Every submission, newest first (organizers).
pub async fn list_all<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<Vec<Submission>, sqlx::Error> {
    let sql = format!("{SELECT_SUBMISSION} order by s.id desc");
    sqlx::query_as(&sql).fetch_all(executor).await
}

/// Marks a submission as being scored.
pub async fn mark_running<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update submissions
         set status = 'running'
         where id = $1",
    )
    .bind(id)
    .execute(executor)
    .await?;
    Ok(())
}

/// What a scoring run records, as JSON where the column is JSON.
#[derive(Clone, Debug)]
pub struct ScoredRecord {
    /// Over the whole test set.
    pub scores_json: String,
    /// Over the public split.
    pub public_scores_json: String,
    /// Over the private split.
    pub private_scores_json: String,
    /// The manifest version scored against.
    pub manifest_version: String,
    /// Scoring time.
    pub scoring_ms: i64,
    /// Whether the predictions look like a probe.
    pub probe_like: bool,
}

/// Records a score (idempotent: scoring the same file again writes the same values).
pub async fn record_scored<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
    record: &ScoredRecord,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update submissions
         set status = 'scored', scores_json = $2, manifest_version = $3, scoring_ms = $4,
             scored_at = $5, error = null, details_json = null,
             public_scores_json = $6, private_scores_json = $7, probe_like = $8
         where id = $1",
    )
    .bind(id)
    .bind(&record.scores_json)
    .bind(&record.manifest_version)
    .bind(record.scoring_ms)
    .bind(now)
    .bind(&record.public_scores_json)
    .bind(&record.private_scores_json)
    .bind(i64::from(record.probe_like))
    .execute(executor)
    .await?;
    Ok(())
}

/// Marks a scored submission of `user_id` final; false when it is not theirs, not scored
/// or already final.
pub async fn mark_final<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update submissions
         set final_at = $3
         where id = $1 and user_id = $2 and status = 'scored' and final_at is null",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws a final entry of `user_id` from the board (it still counts against the
/// finals limit); false when it is not theirs, not final or already withdrawn.
pub async fn withdraw<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update submissions
         set withdrawn_at = $3
         where id = $1 and user_id = $2 and final_at is not null and withdrawn_at is null",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// When a user marked submissions final since `since` (Unix ms), oldest first.
pub async fn finals_since<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
    since: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select final_at
         from submissions
         where user_id = $1
           and final_at is not null
           and final_at > $2
         order by final_at",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(executor)
    .await
}

/// Scored submissions without split scores (scored before splits existed), to rescore.
pub async fn list_scored_without_splits<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select id
         from submissions
         where status = 'scored'
           and public_scores_json is null
         order by id",
    )
    .fetch_all(executor)
    .await
}

/// A participant's activity for the organizers' probing view.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Activity {
    /// The user.
    pub user_id: i64,
    /// Their name.
    pub user_name: String,
    /// Submissions of any status.
    pub submissions: i64,
    /// Scored submissions.
    pub scored: i64,
    /// Final submissions.
    pub finals: i64,
    /// Scored submissions that look like probes.
    pub probes: i64,
}

/// Per user: submissions, scored, finals and probe-like ones, most active first. (Sums
/// are cast: PostgreSQL sums bigints to numeric, which the Any driver cannot decode.)
pub async fn activity<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<Vec<Activity>, sqlx::Error> {
    sqlx::query_as(
        "select s.user_id, u.name as user_name, count(*) as submissions,
             cast(sum(case when s.status = 'scored' then 1 else 0 end) as bigint) as scored,
             cast(sum(case when s.final_at is not null then 1 else 0 end) as bigint) as finals,
             cast(sum(s.probe_like) as bigint) as probes
         from submissions s
         join users u on u.id = s.user_id
         group by s.user_id, u.name
         order by count(*) desc, u.name",
    )
    .fetch_all(executor)
    .await
}

/// Records a failure with participant-safe text.
pub async fn record_failed<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
    error: &str,
    details_json: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update submissions
         set status = 'failed', error = $2, details_json = $3, scored_at = $4,
             scores_json = null
         where id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(details_json)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}

/// Stores the per-study outcomes of a scored submission (organizers only).
pub async fn upsert_outcomes<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
    outcomes_json: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into outcomes (submission_id, outcomes_json)
         values ($1, $2)
         on conflict (submission_id) do update set outcomes_json = excluded.outcomes_json",
    )
    .bind(id)
    .bind(outcomes_json)
    .execute(executor)
    .await?;
    Ok(())
}

/// The per-study outcomes of a scored submission (organizers only).
pub async fn find_outcomes<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select outcomes_json
         from outcomes
         where submission_id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// Number of submissions in each status.
pub async fn count_by_status<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select status, count(*)
         from submissions
         group by status",
    )
    .fetch_all(executor)
    .await
}

/// Sets or clears the baseline flag; false when there is no such submission. Baselines
/// are final (EVALUATION.md 5.1): flagging one makes it final as of its upload, and
/// clearing the flag does not undo that.
pub async fn set_baseline<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
    baseline: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update submissions
         set baseline = $2,
             final_at = coalesce(final_at, case when $2 = 1 then created_at else null end)
         where id = $1",
    )
    .bind(id)
    .bind(i64::from(baseline))
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Hides a submission from the board or shows it again; false when there is none.
pub async fn set_hidden<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
    hidden: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update submissions
         set hidden = $2
         where id = $1",
    )
    .bind(id)
    .bind(i64::from(hidden))
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every scored final entry not hidden by an organizer nor withdrawn, oldest first (the
/// main board).
pub async fn list_final_visible<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<Vec<Submission>, sqlx::Error> {
    let sql = format!(
        "{SELECT_SUBMISSION} where s.status = 'scored' and s.hidden = 0
             and s.final_at is not null and s.withdrawn_at is null
         order by s.id"
    );
    sqlx::query_as(&sql).fetch_all(executor).await
}

/// The user's earliest submission of a file with this sha256 that did not fail, if any.
pub async fn find_same_file<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
    sha256: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from submissions
         where user_id = $1 and sha256 = $2 and status <> 'failed'
         order by id
         limit 1",
    )
    .bind(user_id)
    .bind(sha256)
    .fetch_optional(executor)
    .await
}

/// Hides the visible baselines of `user_id` older than `before_id` (a rerun of the
/// reference models replaces its previous entries); returns how many.
pub async fn hide_baselines_before<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
    before_id: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "update submissions
         set hidden = 1
         where user_id = $1 and baseline = 1 and hidden = 0 and id < $2",
    )
    .bind(user_id)
    .bind(before_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}

/// Submissions flagged as baselines (hidden or not, in any state).
pub async fn count_baselines<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from submissions where baseline = 1")
        .fetch_one(executor)
        .await
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn every_status_reads_back_as_itself() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("done"), None);
    }
}
