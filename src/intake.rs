//! The submission service: every way in (the API's uploads, the upload page, the reference
//! baselines computed by the server) enters a submission through [`enter`], which enforces
//! the daily quota and the queue bound in the transaction that stores the submission and
//! its job. Also validation without scoring, and marking a submission final
//! (EVALUATION.md 5.1) under the rolling finals limit.

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

/// What a submission says about itself, whichever way it came in.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// Method name shown on the board.
    pub method: String,
    /// Free text.
    pub description: String,
    /// Link to a paper.
    pub paper_url: Option<String>,
    /// Link to code.
    pub code_url: Option<String>,
    /// The reference model behind an organizer's baseline: such an entry is flagged as a
    /// baseline and final from the start.
    pub reference_model: Option<String>,
}

impl Entry {
    /// The text fields of an upload form. `reference_model` is taken from organizers only
    /// and must name a shipped reference model.
    pub fn from_form(received: &Received, user: &User) -> Result<Self, AppError> {
        let reference_model = match received.field("reference_model") {
            Some(_) if !user.is_organizer() => {
                return Err(AppError::Forbidden(
                    "only organizers enter reference baselines (the reference_model field)"
                        .to_owned(),
                ));
            }
            Some(model) if model.parse::<reference_model::zoo::Model>().is_err() => {
                return Err(AppError::bad_request(format!(
                    "{:?} is not a reference model; use one of {}",
                    model.escape_default().to_string(),
                    reference_model::zoo::names().join(", ")
                )));
            }
            other => other,
        };
        Ok(Self {
            method: received
                .field("method")
                .unwrap_or_else(|| "unnamed method".to_owned()),
            description: received.field("description").unwrap_or_default(),
            paper_url: received.field("paper_url"),
            code_url: received.field("code_url"),
            reference_model,
        })
    }
}

/// Stores an upload as a queued submission with its job and returns its id.
pub async fn accept(state: &AppState, user: &User, received: Received) -> Result<i64, AppError> {
    let entry = Entry::from_form(&received, user)?;
    let extension = if received.file_name.to_ascii_lowercase().ends_with(".zip") {
        "zip"
    } else {
        "csv"
    };
    let stored_path = format!("submissions/{}.{extension}", random_name());
    let absolute = state.config.data_dir().join(&stored_path);
    check_links(&entry)?;
    if let Err(err) = received.file.persist(&absolute).await {
        if err.kind() == std::io::ErrorKind::StorageFull {
            tracing::error!(path = %absolute.display(), "the data folder is out of space");
            return Err(AppError::StorageFull);
        }
        return Err(anyhow::Error::new(err)
            .context(format!("storing an upload as {}", absolute.display()))
            .into());
    }
    let stored = Stored {
        file_name: received.file_name.clone(),
        stored_path,
        size_bytes: received.size,
        sha256: received.sha256.clone(),
    };
    enter(state, user, stored, entry).await
}

/// A file already in `submissions/`.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The name it was uploaded or written as, for display.
    pub file_name: String,
    /// Where it is, relative to the data folder.
    pub stored_path: String,
    /// Its size.
    pub size_bytes: u64,
    /// Its sha256, hex.
    pub sha256: String,
}

fn check_links(entry: &Entry) -> Result<(), AppError> {
    for url in [&entry.paper_url, &entry.code_url].into_iter().flatten() {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(AppError::bad_request(format!(
                "{url:?} is not an http(s) link"
            )));
        }
    }
    Ok(())
}

/// Enters a stored file as a queued submission with its job and returns its id: the one
/// way in for uploads and the server's own baselines.
///
/// The row and the job are committed in one transaction that first locks the user's row,
/// so that concurrent uploads of one user see each other and exactly `quota` of them are
/// accepted. The answer is sent only after the commit; on refusal the file is removed.
pub async fn enter(
    state: &AppState,
    user: &User,
    stored: Stored,
    entry: Entry,
) -> Result<i64, AppError> {
    let new = submissions::NewSubmission {
        user_id: user.id,
        file_name: stored.file_name,
        stored_path: stored.stored_path.clone(),
        size_bytes: i64::try_from(stored.size_bytes).unwrap_or(i64::MAX),
        sha256: stored.sha256,
        method: entry.method,
        description: entry.description,
        paper_url: entry.paper_url,
        code_url: entry.code_url,
        baseline: entry.reference_model.is_some(),
        reference_model: entry.reference_model,
        created_at: clock::now_ms(),
    };
    match insert(state, user, &new).await {
        Ok(id) => {
            state.jobs_ready.notify_one();
            Ok(id)
        }
        Err(err) => {
            let _ = tokio::fs::remove_file(state.config.data_dir().join(&stored.stored_path)).await;
            Err(err)
        }
    }
}

/// The rolling window of the finals limit.
pub const FINALS_WINDOW_MS: i64 = 30 * clock::DAY_MS;

/// A user's standing against the finals limit (EVALUATION.md 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalsQuota {
    /// Finals allowed per rolling 30 days (`None`: organizers have no limit).
    pub limit: Option<u32>,
    /// Finals marked in the last 30 days.
    pub used: i64,
    /// When the next final is allowed, Unix milliseconds (now when some are left): when
    /// the oldest final of the window leaves it.
    pub next_allowed_at: i64,
}

impl FinalsQuota {
    /// Finals left now (`None`: no limit).
    pub fn remaining(&self) -> Option<i64> {
        self.limit.map(|l| (i64::from(l) - self.used).max(0))
    }
}

fn finals_quota_from(state: &AppState, user: &User, finals: &[i64], now: i64) -> FinalsQuota {
    let limit = (!user.is_organizer()).then_some(state.config.finals_per_30_days);
    let used = finals.len() as i64;
    let next_allowed_at = match limit {
        Some(l) if used >= i64::from(l) => {
            // The window holds `used` finals, oldest first; one frees when the
            // (used - limit + 1)-th oldest leaves it.
            let index = usize::try_from(used - i64::from(l)).unwrap_or(0);
            finals.get(index).map_or(now, |at| at + FINALS_WINDOW_MS)
        }
        _ => now,
    };
    FinalsQuota {
        limit,
        used,
        next_allowed_at,
    }
}

/// The user's finals quota now.
pub async fn finals_quota(state: &AppState, user: &User) -> Result<FinalsQuota, AppError> {
    let now = clock::now_ms();
    let finals =
        submissions::finals_since(state.db.pool(), user.id, now - FINALS_WINDOW_MS).await?;
    Ok(finals_quota_from(state, user, &finals, now))
}

/// Marks the user's scored submission `id` final, under the finals limit. A submission
/// that is not the user's answers 404, like one that does not exist.
pub async fn mark_final(state: &AppState, user: &User, id: i64) -> Result<(), AppError> {
    let now = clock::now_ms();
    let mut tx = state.db.pool().begin().await?;
    // Written first: it serializes this user's finals (see `insert`).
    users::lock_user_for_submission(&mut *tx, user.id, now).await?;
    let submission = submissions::find_submission(&mut *tx, id)
        .await?
        .filter(|s| s.user_id == user.id)
        .ok_or_else(|| no_submission(id))?;
    if submission.final_at.is_some() {
        return Err(AppError::Conflict(format!(
            "submission {id} is already final"
        )));
    }
    if submission.status() != submissions::Status::Scored {
        return Err(AppError::Conflict(format!(
            "submission {id} is {}; only a scored submission can be marked final",
            submission.status
        )));
    }
    let finals = submissions::finals_since(&mut *tx, user.id, now - FINALS_WINDOW_MS).await?;
    let quota = finals_quota_from(state, user, &finals, now);
    if quota.remaining() == Some(0) {
        return Err(AppError::FinalsExhausted {
            limit: state.config.finals_per_30_days,
            next_allowed_at: quota.next_allowed_at,
        });
    }
    if !submissions::mark_final(&mut *tx, id, user.id, now).await? {
        return Err(AppError::Conflict(format!(
            "submission {id} changed meanwhile; reload and try again"
        )));
    }
    tx.commit().await?;
    tracing::info!(submission = id, user = user.name, "marked final");
    Ok(())
}

/// Withdraws the user's final entry `id` from the main board; it still counts against the
/// finals limit.
pub async fn withdraw(state: &AppState, user: &User, id: i64) -> Result<(), AppError> {
    if submissions::withdraw(state.db.pool(), id, user.id, clock::now_ms()).await? {
        return Ok(());
    }
    match submissions::find_submission(state.db.pool(), id)
        .await?
        .filter(|s| s.user_id == user.id)
    {
        None => Err(no_submission(id)),
        Some(s) if s.withdrawn_at.is_some() => Err(AppError::Conflict(format!(
            "submission {id} is already withdrawn"
        ))),
        Some(_) => Err(AppError::Conflict(format!(
            "submission {id} is not final; only final entries are on the main board"
        ))),
    }
}

/// The one answer for a submission that does not exist or is someone else's: ids are
/// sequential, and a different answer would tell which ids belong to others.
pub fn no_submission(id: impl std::fmt::Display) -> AppError {
    AppError::NotFound(format!(
        "no submission {:?} of yours",
        id.to_string().escape_default().to_string()
    ))
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
    // A double click, or the same file again: it would score the same and use a slot.
    if !user.is_organizer() {
        let earlier = submissions::find_same_file(&mut *tx, user.id, &new.sha256).await?;
        if let Some(earlier) = earlier {
            return Err(AppError::Conflict(format!(
                "you already submitted this exact file as submission {earlier}; it was not submitted again and nothing counts against your quota"
            )));
        }
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
        let result = scorer::validate_named(
            &testset.annotations,
            received.file.path(),
            &received.file_name,
            &(),
        );
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
