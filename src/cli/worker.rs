//! `triageboard worker`: scoring workers without the web server, for deployments where
//! several machines share one PostgreSQL and one storage folder.

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs;
use crate::startup::{build_state, spawn_workers, stop_workers};

/// Arguments of `worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    config: Config,
    /// Score what is queued now, then exit.
    #[arg(long)]
    once: bool,
}

/// Runs the workers until Ctrl-C or SIGTERM (or until the queue is empty with `--once`).
pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let mut config = args.config;
    if config.is_demo() {
        // The same version as the demo's `serve`.
        super::serve::pin_demo(&mut config)?;
    }
    let runtime = super::serve::runtime()?;
    let ran = runtime.block_on(async move {
        let count = config.workers.max(1);
        let state = build_state(config).await?;
        if args.once {
            let done = jobs::run_pending(&state, &jobs::worker_name(0)).await?;
            eprintln!("scored {done} submissions");
            return Ok(());
        }
        let stop = CancellationToken::new();
        let workers = spawn_workers(&state, count, &stop);
        super::serve::shutdown_signal().await;
        stop_workers(workers, &stop, state.config.shutdown_grace()).await;
        Ok(())
    });
    // A scoring given back to the queue may still be running on a blocking thread.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    ran
}
