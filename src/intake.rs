//! Accepting and checking uploads: the daily quota and the queue bound, enforced in the
//! transaction that stores the submission and its job, and validation without scoring.

use anyhow::Context;
use scorer::ScoreError;

use crate::clock;
use crate::db::users::User;
use crate::db::{jobs, submissions, users};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::upload::{Received, random_name};

/// Seconds a client is told to wait when the queue is full.
pub const QUEUE_RETRY_AFTER_S: u64 = 60;

/// A user's standing against the daily quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Submissions allowed per UTC day (`None`: organizers have no limit).
    pub limit: Option<u32>,
    /// Submissions today that count (queued, running or scored).
    pub used: i64,
    /// When the next submission is allowed, Unix milliseconds (now when some are left).
    pub next_allowed_at: i64,
}

impl Quota {
    /// Submissions left today (`None`: no limit).
    pub fn remaining(&self) -> Option<i64> {
        self.limit.map(|l| (i64::from(l) - self.used).max(0))
    }
}

/// The user's quota now.
pub async fn quota(state: &AppState, user: &User) -> Result<Quota, AppError> {
    let now = clock::now_ms();
    let used =
        submissions::count_counted_on_day(state.db.pool(), user.id, clock::utc_day(now)).await?;
    Ok(quota_from(state, user, used, now))
}

fn quota_from(state: &AppState, user: &User, used: i64, now: i64) -> Quota {
    let limit = (!user.is_organizer()).then_some(state.config.daily_quota);
    let exhausted = limit.is_some_and(|l| used >= i64::from(l));
    Quota {
        limit,
        used,
        next_allowed_at: if exhausted {
            clock::next_utc_midnight(now)
        } else {
            now
        },
    }
}

/// Refuses early, before a large upload is read, when the quota or the queue is full.
/// The authoritative check is the one in [`accept`].
pub async fn precheck(state: &AppState, user: &User) -> Result<(), AppError> {
    let quota = quota(state, user).await?;
    if quota.remaining() == Some(0) {
        return Err(AppError::QuotaExhausted {
            limit: state.config.daily_quota,
            next_allowed_at: quota.next_allowed_at,
        });
    }
    let (queued, _) = jobs::queue_length(state.db.pool()).await?;
    if queued >= i64::from(state.config.max_queue) {
        return Err(AppError::QueueFull {
            retry_after_s: QUEUE_RETRY_AFTER_S,
        });
    }
    Ok(())
}

/// Stores an upload as a queued submission with its job and returns its id.
///
/// The file is moved into `submissions/` first; the row and the job are committed in one
/// transaction that first locks the user's row, so that concurrent uploads of one user
/// see each other and exactly `quota` of them are accepted. The answer is sent only after
/// the commit.
pub async fn accept(state: &AppState, user: &User, received: Received) -> Result<i64, AppError> {
    let extension = if received.file_name.to_ascii_lowercase().ends_with(".zip") {
        "zip"
    } else {
        "csv"
    };
    let stored_path = format!("submissions/{}.{extension}", random_name());
    let absolute = state.config.data_dir().join(&stored_path);
    let new = submissions::NewSubmission {
        user_id: user.id,
        file_name: received.file_name.clone(),
        stored_path: stored_path.clone(),
        size_bytes: i64::try_from(received.size).unwrap_or(i64::MAX),
        sha256: received.sha256.clone(),
        method: received
            .field("method")
            .unwrap_or_else(|| "unnamed method".to_owned()),
        description: received.field("description").unwrap_or_default(),
        paper_url: received.field("paper_url"),
        code_url: received.field("code_url"),
        created_at: clock::now_ms(),
    };
    for url in [&new.paper_url, &new.code_url].into_iter().flatten() {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(AppError::bad_request(format!(
                "{url:?} is not an http(s) link"
            )));
        }
    }
    received
        .file
        .persist(&absolute)
        .await
        .with_context(|| format!("storing an upload as {}", absolute.display()))?;
    match insert(state, user, &new).await {
        Ok(id) => {
            state.jobs_ready.notify_one();
            Ok(id)
        }
        Err(err) => {
            let _ = tokio::fs::remove_file(&absolute).await;
            Err(err)
        }
    }
}

async fn insert(
    state: &AppState,
    user: &User,
    new: &submissions::NewSubmission,
) -> Result<i64, AppError> {
    let mut tx = state.db.pool().begin().await?;
    users::lock_user_for_submission(&mut *tx, user.id, new.created_at).await?;
    let day = clock::utc_day(new.created_at);
    let used = submissions::count_counted_on_day(&mut *tx, user.id, day).await?;
    let quota = quota_from(state, user, used, new.created_at);
    if quota.remaining() == Some(0) {
        return Err(AppError::QuotaExhausted {
            limit: state.config.daily_quota,
            next_allowed_at: quota.next_allowed_at,
        });
    }
    let (queued, _) = jobs::queue_length(&mut *tx).await?;
    if queued >= i64::from(state.config.max_queue) {
        return Err(AppError::QueueFull {
            retry_after_s: QUEUE_RETRY_AFTER_S,
        });
    }
    let id = submissions::insert_submission(&mut *tx, new).await?;
    jobs::enqueue(&mut *tx, id, new.created_at).await?;
    tx.commit().await?;
    tracing::info!(
        submission = id,
        user = user.name,
        bytes = new.size_bytes,
        "accepted"
    );
    Ok(id)
}

/// Checks an upload's format against the test set without scoring it or storing it.
pub async fn validate(state: &AppState, received: Received) -> Result<(), AppError> {
    let testset = state.testset.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let result = scorer::validate(&testset.annotations, received.file.path(), &());
        drop(received);
        result
    })
    .await
    .context("the validation task failed")?;
    match checked {
        Ok(()) => Ok(()),
        Err(ScoreError::Invalid(problems)) => Err(AppError::Invalid(problems.lines())),
        Err(other) => Err(AppError::Internal(
            anyhow::Error::new(other).context("validating an upload"),
        )),
    }
}
