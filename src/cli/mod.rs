//! The command line: one binary, one clap subcommand per role.

mod api_client;
mod backup;
mod dataset;
mod progress;
mod reference;
mod score;
mod serve;
mod submit;
mod testset;
mod user;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// TriageBoard: a public leaderboard for CT-based COVID-19 triage.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score a submission against hidden annotations (EVALUATION.md): JSON on stdout;
    /// exit 0 when scored, 2 when the submission is invalid, 1 on any other failure.
    Score(score::ScoreArgs),
    /// Make or describe test sets.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
    /// Run the web service and its scoring workers (with no flags: the demo under ./data).
    Serve(serve::ServeArgs),
    /// Run scoring workers only, sharing the service's database and data folder.
    Worker(worker::WorkerArgs),
    /// The test-set version the database is on; `adopt` makes changed annotations the
    /// new version and rescores everything.
    #[command(subcommand)]
    Testset(testset::TestsetCommand),
    /// Back up the database (SQLite; PostgreSQL: pg_dump first) and the uploaded files
    /// while the service runs.
    Backup(backup::BackupArgs),
    /// Restore a SQLite backup into a fresh data folder.
    Restore(backup::RestoreArgs),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Train, run and evaluate the reference models (the board's baselines).
    #[command(subcommand)]
    Reference(reference::ReferenceCommand),
    /// Upload a submission to a server, optionally wait for its score (for CI).
    Submit(submit::SubmitArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Score(args) => return score::run(&args),
        Command::Dataset(command) => dataset::run(command),
        Command::Serve(args) => serve::run(args),
        Command::Worker(args) => worker::run(args),
        Command::Testset(command) => testset::run(command),
        Command::Backup(args) => backup::run_backup(args),
        Command::Restore(args) => backup::run_restore(args),
        Command::User(command) => user::run(command),
        Command::Submit(args) => return submit::run(&args),
        Command::Reference(command) => reference::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: logs sent to a file or a journal stay plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}
