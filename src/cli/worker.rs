//! `triageboard worker`: scoring workers without the web server, for deployments where
//! several machines share one PostgreSQL and one storage folder.

use clap::Args;

use crate::config::Config;
use crate::jobs;
use crate::startup::build_state;

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
    super::serve::runtime()?.block_on(async move {
        let count = args.config.workers.max(1);
        let state = build_state(args.config).await?;
        if args.once {
            let done = jobs::run_pending(&state, &jobs::worker_name(0)).await?;
            eprintln!("scored {done} submissions");
            return Ok(());
        }
        let workers: Vec<_> = (0..count)
            .map(|i| tokio::spawn(jobs::run_worker(state.clone(), jobs::worker_name(i))))
            .collect();
        super::serve::shutdown_signal().await;
        for worker in workers {
            worker.abort();
        }
        Ok(())
    })
}
