//! `triageboard submit FILE --server URL --token T [--wait]`: uploads a submission with a
//! progress bar, optionally waits for the score and prints it; the exit code says how it
//! went (0 scored or accepted, 2 invalid, 1 anything else), for CI scripts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::ProgressBar;
use serde::Deserialize;

use super::api_client::{Accepted, ApiClient, Refusal};

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
    // A file that cannot be read is told before anything is asked of the server.
    tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("opening {}", args.file.display()))?;
    let client = ApiClient::new(&args.server, &args.token, "triageboard-submit")?;
    if let Err(refusal) = client.me().await? {
        return Ok(refused(&refusal));
    }
    let fields: Vec<(&str, String)> = [
        ("method", &args.method),
        ("description", &args.description),
        ("paper_url", &args.paper_url),
        ("code_url", &args.code_url),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value.clone()?)))
    .collect();
    let accepted = match client.upload(&args.file, &fields).await? {
        Ok(accepted) => accepted,
        Err(refusal) => return Ok(refused(&refusal)),
    };
    eprintln!(
        "submission {} accepted: {}{}",
        accepted.id,
        client.server(),
        accepted.url
    );
    if !args.wait {
        println!("{}", accepted.id);
        return Ok(ExitCode::SUCCESS);
    }
    wait(&client, &accepted, Duration::from_secs(args.wait_seconds)).await
}

/// Prints the server's refusal; the exit code says whether the submission was invalid.
fn refused(refusal: &Refusal) -> ExitCode {
    refusal.print();
    if refusal.status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::FAILURE
    }
}

async fn wait(
    client: &ApiClient,
    accepted: &Accepted,
    limit: Duration,
) -> anyhow::Result<ExitCode> {
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    loop {
        let status: Status = match client.get(&accepted.url).await? {
            Ok(status) => status,
            Err(refusal) => {
                spinner.finish_and_clear();
                return Ok(refused(&refusal));
            }
        };
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
