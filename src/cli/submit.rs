//! `triageboard submit FILE --server URL --token T [--wait]`: uploads a submission with a
//! progress bar, optionally waits for the score and prints it; the exit code says how it
//! went (0 scored or accepted, 2 invalid, 1 anything else), for CI scripts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use tokio::io::AsyncReadExt;

/// Arguments of `submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// `predictions.csv` or a zip of `<study_id>.nii.gz` masks.
    file: PathBuf,
    /// The server's base URL, e.g. `https://board.example.org`.
    #[arg(long, env = "TRIAGEBOARD_SERVER")]
    server: String,
    /// An API token (from the settings page or `triageboard user add`).
    #[arg(long, env = "TRIAGEBOARD_TOKEN", hide_env_values = true)]
    token: String,
    /// Method name shown on the board.
    #[arg(long)]
    method: Option<String>,
    /// Free text about the method.
    #[arg(long)]
    description: Option<String>,
    /// Link to a paper.
    #[arg(long)]
    paper_url: Option<String>,
    /// Link to the code.
    #[arg(long)]
    code_url: Option<String>,
    /// Wait for the score and print it.
    #[arg(long)]
    wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 3600)]
    wait_seconds: u64,
}

/// What the server answers on errors.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    details: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Accepted {
    id: i64,
    url: String,
}

#[derive(Debug, Deserialize)]
struct Status {
    status: String,
    error: Option<String>,
    #[serde(default)]
    details: Vec<String>,
    /// The live scores (public split), at display precision.
    live_scores: Option<serde_json::Value>,
}

/// Exit code of an invalid submission, as `score` uses.
const EXIT_INVALID: u8 = 2;

/// Runs `submit` and returns the process exit code.
pub fn run(args: &SubmitArgs) -> ExitCode {
    let result = super::serve::runtime().and_then(|rt| rt.block_on(submit(args)));
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn submit(args: &SubmitArgs) -> anyhow::Result<ExitCode> {
    let server = args.server.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .user_agent(concat!("triageboard-submit/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata().await?.len();
    // The token first: a server refusing it answers before reading the upload and may
    // reset the connection mid-body, which would hide its 401 behind a send error (and a
    // large file would be sent for nothing).
    let me = client
        .get(format!("{server}/api/v1/me"))
        .bearer_auth(&args.token)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    if !me.status().is_success() {
        return Ok(report_error(me.status(), me).await);
    }
    let bar = ProgressBar::new(size);
    if let Ok(style) = ProgressStyle::with_template(
        "uploading [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let body = reqwest::Body::wrap_stream(read_with_progress(file, bar.clone()));
    let file_name = args.file.file_name().map_or_else(
        || "submission".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::stream_with_length(body, size)
            .file_name(file_name)
            .mime_str("application/octet-stream")?,
    );
    for (name, value) in [
        ("method", &args.method),
        ("description", &args.description),
        ("paper_url", &args.paper_url),
        ("code_url", &args.code_url),
    ] {
        if let Some(value) = value {
            form = form.text(name, value.clone());
        }
    }
    let response = client
        .post(format!("{server}/api/v1/submissions"))
        .bearer_auth(&args.token)
        .multipart(form)
        .send()
        .await
        .with_context(|| format!("uploading to {server}"))?;
    bar.finish_and_clear();
    let status = response.status();
    if status != reqwest::StatusCode::ACCEPTED {
        return Ok(report_error(status, response).await);
    }
    let accepted: Accepted = response
        .json()
        .await
        .context("reading the server's answer")?;
    eprintln!(
        "submission {} accepted: {server}{}",
        accepted.id, accepted.url
    );
    if !args.wait {
        println!("{}", accepted.id);
        return Ok(ExitCode::SUCCESS);
    }
    wait(
        &client,
        server,
        &args.token,
        &accepted,
        Duration::from_secs(args.wait_seconds),
    )
    .await
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

async fn report_error(status: reqwest::StatusCode, response: reqwest::Response) -> ExitCode {
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => {
            eprintln!("error ({status}): {}", body.error);
            for line in body.details {
                eprintln!("  {line}");
            }
        }
        Err(_) => eprintln!("error ({status}): {}", text.trim()),
    }
    if let Some(seconds) = retry_after {
        eprintln!("  retry after {seconds} seconds");
    }
    if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::FAILURE
    }
}

async fn wait(
    client: &reqwest::Client,
    server: &str,
    token: &str,
    accepted: &Accepted,
    limit: Duration,
) -> anyhow::Result<ExitCode> {
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let url = format!("{server}{}", accepted.url);
    loop {
        let response = client.get(&url).bearer_auth(token).send().await?;
        if !response.status().is_success() {
            spinner.finish_and_clear();
            return Ok(report_error(response.status(), response).await);
        }
        let status: Status = response
            .json()
            .await
            .context("reading the submission's status")?;
        spinner.set_message(format!("submission {}: {}", accepted.id, status.status));
        match status.status.as_str() {
            "scored" => {
                spinner.finish_and_clear();
                let scores = status.live_scores.unwrap_or(serde_json::Value::Null);
                println!("{}", serde_json::to_string_pretty(&scores)?);
                return Ok(ExitCode::SUCCESS);
            }
            "failed" => {
                spinner.finish_and_clear();
                eprintln!(
                    "submission {} failed: {}",
                    accepted.id,
                    status.error.unwrap_or_default()
                );
                for line in &status.details {
                    eprintln!("  {line}");
                }
                return Ok(if status.details.is_empty() {
                    ExitCode::FAILURE
                } else {
                    ExitCode::from(EXIT_INVALID)
                });
            }
            _ => {}
        }
        if started.elapsed() > limit {
            spinner.finish_and_clear();
            bail!(
                "submission {} is still {} after {} s",
                accepted.id,
                status.status,
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
