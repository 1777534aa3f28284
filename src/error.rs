//! The one error type of HTTP handlers: it logs internal errors and answers every error as
//! JSON `{"error": "...", "details": [...]}` with the right status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock;

/// The JSON body of every error answer. The response also carries it as an extension, so
/// that page routes can show the same message as a page ([`crate::web::pages::html_errors`]).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in one sentence.
    pub error: String,
    /// Further lines: validation messages, limits, when to retry.
    pub details: Vec<String>,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed request (400).
    #[error("{message}")]
    BadRequest {
        /// One sentence.
        message: String,
        /// More lines.
        details: Vec<String>,
    },
    /// No or unknown token (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the thing's state (409), e.g. marking a final twice.
    #[error("{0}")]
    Conflict(String),
    /// The path exists but not with this method (405).
    #[error("this endpoint does not take that method")]
    MethodNotAllowed,
    /// The upload is larger than the cap (413).
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// The submission breaks the format rules (422); the messages are participant-safe.
    #[error("the submission is invalid")]
    Invalid(Vec<String>),
    /// The daily quota is used up (429).
    #[error("the daily submission limit of {limit} is reached")]
    QuotaExhausted {
        /// Submissions per UTC day.
        limit: u32,
        /// When the next submission is allowed, Unix milliseconds.
        next_allowed_at: i64,
    },
    /// The finals limit of the rolling 30 days is used up (429).
    #[error("the limit of {limit} final submissions per 30 days is reached")]
    FinalsExhausted {
        /// Finals per rolling 30 days.
        limit: u32,
        /// When the next final is allowed, Unix milliseconds.
        next_allowed_at: i64,
    },
    /// The database or the data folder is out of space (507): nothing was stored.
    #[error(
        "the server's storage is full: nothing was stored, and nothing counts against your quota; try again later"
    )]
    StorageFull,
    /// The database does not answer (503): an outage or a connection pool exhausted for
    /// longer than the database timeout.
    #[error("the database is not answering: nothing was changed; try again in a minute")]
    DatabaseUnavailable,
    /// An upload sent nothing for longer than the idle timeout and was cut off (408).
    #[error(
        "the upload stopped sending data and was cut off: nothing was stored, and nothing counts against your quota; send it again"
    )]
    UploadStalled,
    /// A request other than an upload ran past the request timeout (503).
    #[error("the server took too long to answer: try again in a minute")]
    TimedOut,
    /// Too many jobs are waiting (503).
    #[error("the scoring queue is full")]
    QueueFull {
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// Anything else (500): logged in full, answered without details.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A 400 with one message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UploadStalled => StatusCode::REQUEST_TIMEOUT,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::QuotaExhausted { .. } | AppError::FinalsExhausted { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::QueueFull { .. } | AppError::DatabaseUnavailable | AppError::TimedOut => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Seconds a client is told to wait when storage is full.
pub const STORAGE_RETRY_AFTER_S: u64 = 300;

/// Whether a database error says the disk is full: SQLite's SQLITE_FULL (13), also raised
/// by `max_page_count`, or PostgreSQL's `disk_full` (53100).
pub fn is_disk_full(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("13" | "53100")),
        sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::StorageFull,
        _ => false,
    }
}

/// Seconds a client is told to wait when the database does not answer.
pub const DATABASE_RETRY_AFTER_S: u64 = 30;

/// Whether a database error says the database cannot be reached now: no connection within
/// the database timeout, a broken connection, PostgreSQL shutting down or refusing
/// connections (class 57P and 08), or SQLite still locked after its busy timeout (5).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        sqlx::Error::Io(io) => io.kind() != std::io::ErrorKind::StorageFull,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code == "5" || code.starts_with("57P") || code.starts_with("08")),
        _ => false,
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if is_disk_full(&err) {
            tracing::error!(error = %err, "the database is out of space");
            return AppError::StorageFull;
        }
        if is_unavailable(&err) {
            tracing::error!(error = %err, "the database is not answering");
            return AppError::DatabaseUnavailable;
        }
        AppError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl AppError {
    /// An internal error caused by a database that is full or not answering is answered
    /// as such (507 or 503), wherever in the chain of causes the database error sits.
    fn classified(self) -> Self {
        let AppError::Internal(err) = &self else {
            return self;
        };
        let cause = err
            .chain()
            .find_map(|cause| cause.downcast_ref::<sqlx::Error>());
        match cause {
            Some(db) if is_disk_full(db) => {
                tracing::error!(error = format!("{err:#}"), "the database is out of space");
                AppError::StorageFull
            }
            Some(db) if is_unavailable(db) => {
                tracing::error!(error = format!("{err:#}"), "the database is not answering");
                AppError::DatabaseUnavailable
            }
            _ => self,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let this = self.classified();
        let status = this.status();
        let mut retry_after = None;
        let details = match &this {
            AppError::BadRequest { details, .. } => details.clone(),
            AppError::Invalid(lines) => lines.clone(),
            AppError::TooLarge { limit } => vec![format!("the limit is {limit} bytes")],
            AppError::QuotaExhausted {
                next_allowed_at, ..
            } => {
                let now = clock::now_ms();
                retry_after = Some(((next_allowed_at - now).max(0) as u64).div_ceil(1000));
                vec![
                    "failed submissions do not count".to_owned(),
                    format!(
                        "next submission allowed at {}",
                        clock::rfc3339(*next_allowed_at)
                    ),
                ]
            }
            AppError::FinalsExhausted {
                next_allowed_at, ..
            } => {
                let now = clock::now_ms();
                retry_after = Some(((next_allowed_at - now).max(0) as u64).div_ceil(1000));
                vec![format!(
                    "the next final is allowed at {}",
                    clock::rfc3339(*next_allowed_at)
                )]
            }
            AppError::QueueFull { retry_after_s } => {
                retry_after = Some(*retry_after_s);
                vec![format!("retry in {retry_after_s} seconds")]
            }
            AppError::DatabaseUnavailable | AppError::TimedOut => {
                retry_after = Some(DATABASE_RETRY_AFTER_S);
                vec![format!("retry in {DATABASE_RETRY_AFTER_S} seconds")]
            }
            AppError::StorageFull => {
                retry_after = Some(STORAGE_RETRY_AFTER_S);
                vec![format!(
                    "retry in {STORAGE_RETRY_AFTER_S} seconds; the organizers have been alerted"
                )]
            }
            AppError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
                Vec::new()
            }
            AppError::Unauthorized(_)
            | AppError::Forbidden(_)
            | AppError::NotFound(_)
            | AppError::Conflict(_)
            | AppError::UploadStalled
            | AppError::MethodNotAllowed => Vec::new(),
        };
        let error = match &this {
            AppError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let body = ErrorBody { error, details };
        let mut response = (status, Json(body.clone())).into_response();
        response.extensions_mut().insert(body);
        let headers = response.headers_mut();
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::AppError;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;

    #[test]
    fn an_internal_error_answers_without_its_cause() {
        let err = AppError::Internal(anyhow::anyhow!("reading annotations/labels.csv"));
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_database_outage_behind_context_answers_503_with_retry_after() {
        let err = anyhow::Error::new(sqlx::Error::PoolTimedOut).context("reading the board");
        let response = AppError::Internal(err).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "30");
        let other = AppError::Internal(anyhow::anyhow!("something else")).into_response();
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_full_queue_says_when_to_retry() {
        let response = AppError::QueueFull { retry_after_s: 30 }.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "30");
    }
}
