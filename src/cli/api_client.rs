//! The REST API as the command line uses it (`submit`, `reference baselines`): one client
//! with the server's address and a token, the token check before an upload, a streamed
//! upload with a progress bar, and the server's error answers read back into what it said.

use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use tokio::io::AsyncReadExt;

/// A server and the token to use on it.
pub struct ApiClient {
    http: reqwest::Client,
    server: String,
    token: String,
}

/// Who a token belongs to (`GET /api/v1/me`).
#[derive(Debug, Deserialize)]
pub struct Me {
    /// The user's name.
    pub name: String,
    /// `participant` or `organizer`.
    pub role: String,
}

/// The answer to an accepted upload (202).
#[derive(Debug, Deserialize)]
pub struct Accepted {
    /// The submission's id.
    pub id: i64,
    /// Its API path, to poll.
    pub url: String,
}

/// An error answer, as the server gave it.
#[derive(Debug)]
pub struct Refusal {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// The one-sentence reason (the body's text when it is not the API's JSON).
    pub error: String,
    /// Further lines: validation messages, limits.
    pub details: Vec<String>,
    /// The `Retry-After` header, in seconds.
    pub retry_after: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    details: Vec<String>,
}

impl Refusal {
    /// Reads an error answer.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let (error, details) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.error, body.details),
            Err(_) => (text.trim().to_owned(), Vec::new()),
        };
        Self {
            status,
            error,
            details,
            retry_after,
        }
    }

    /// Prints it on stderr, one line per detail.
    pub fn print(&self) {
        eprintln!("error ({}): {}", self.status, self.error);
        for line in &self.details {
            eprintln!("  {line}");
        }
        if let Some(seconds) = &self.retry_after {
            eprintln!("  retry after {seconds} seconds");
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.error, self.status)?;
        for line in &self.details {
            write!(f, "; {line}")?;
        }
        Ok(())
    }
}

/// What a request came to: the answer, or the server's refusal. Failing to reach the
/// server at all is the outer `anyhow` error.
pub type Answer<T> = Result<T, Refusal>;

impl ApiClient {
    /// A client for `server` (a trailing `/` is dropped) that identifies itself as `agent`.
    pub fn new(server: &str, token: &str, agent: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(format!("{agent}/{}", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            server: server.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// `GET` of a path of the server (`/api/v1/...`), as JSON.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> anyhow::Result<Answer<T>> {
        let server = &self.server;
        let response = self
            .http
            .get(format!("{server}{path}"))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?;
        if !response.status().is_success() {
            return Ok(Err(Refusal::read(response).await));
        }
        let value = response
            .json()
            .await
            .with_context(|| format!("reading the answer to {path}"))?;
        Ok(Ok(value))
    }

    /// Who the token belongs to. Asked before an upload: a server refusing the token
    /// answers before reading the upload and may reset the connection mid-body, which would
    /// hide its 401 behind a send error (and a large file would be sent for nothing).
    pub async fn me(&self) -> anyhow::Result<Answer<Me>> {
        self.get("/api/v1/me").await
    }

    /// Uploads `file` with the form's text `fields`, streamed with a progress bar (hidden
    /// when stderr is not a terminal).
    pub async fn upload(
        &self,
        file: &Path,
        fields: &[(&str, String)],
    ) -> anyhow::Result<Answer<Accepted>> {
        let opened = tokio::fs::File::open(file)
            .await
            .with_context(|| format!("opening {}", file.display()))?;
        let size = opened.metadata().await?.len();
        let bar = ProgressBar::new(size);
        if let Ok(style) = ProgressStyle::with_template(
            "uploading [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let body = reqwest::Body::wrap_stream(read_with_progress(opened, bar.clone()));
        let file_name = file.file_name().map_or_else(
            || "submission".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::stream_with_length(body, size)
                .file_name(file_name)
                .mime_str("application/octet-stream")?,
        );
        for (name, value) in fields {
            form = form.text(name.to_string(), value.clone());
        }
        let server = &self.server;
        let response = self
            .http
            .post(format!("{server}/api/v1/submissions"))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .with_context(|| format!("uploading {} to {server}", file.display()))?;
        bar.finish_and_clear();
        if response.status() != reqwest::StatusCode::ACCEPTED {
            return Ok(Err(Refusal::read(response).await));
        }
        let accepted = response
            .json()
            .await
            .context("reading the server's answer")?;
        Ok(Ok(accepted))
    }
}

/// Streams a file in chunks, advancing the bar as the bytes go out.
fn read_with_progress(
    file: tokio::fs::File,
    bar: ProgressBar,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures_util::stream::unfold((file, bar), |(mut file, bar)| async move {
        let mut buffer = vec![0u8; 256 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                bar.inc(n as u64);
                Some((Ok(buffer), (file, bar)))
            }
            Err(err) => Some((Err(err), (file, bar))),
        }
    })
}
