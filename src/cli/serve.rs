//! `triageboard serve`: the web service with its scoring workers. With no flags it is the
//! embedded demo: SQLite and the synthetic test set under `./data`, generated if missing.

use anyhow::Context;
use clap::Args;

use super::progress::Bar;
use crate::config::Config;
use crate::dataset::{self, DEMO_MANIFEST, Synth};
use crate::startup::Application;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: Config,
}

/// Runs the service until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.config;
    let demo = config.is_demo();
    if demo {
        ensure_demo_testset(&config)?;
        pin_demo(&mut config)?;
    }
    let runtime = runtime()?;
    let served = runtime.block_on(async move {
        let app = Application::build(config).await?;
        println!("TriageBoard is listening on http://{}", app.address());
        println!("sign-up: {}", app.state().config.signup_mode().as_str());
        if let Some(token) = app.initial_token() {
            println!("organizer API token (shown once, keep it): {token}");
            let config = &app.state().config;
            let target = match &config.db.database {
                Some(_) => "--database <this server's database URL>".to_owned(),
                None => format!("--data-dir {}", config.data_dir().display()),
            };
            println!(
                "to log in to the pages as \"organizer\", set a password (read from standard input): triageboard user password organizer {target}"
            );
        }
        if demo {
            // The demo's board fills with the reference baselines within minutes.
            crate::baselines::populate_if_empty(app.state()).await?;
        }
        app.run_until_stopped(shutdown_signal()).await
    });
    // A scoring given back to the queue may still be running on a blocking thread: it is
    // abandoned rather than waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}

/// A multi-threaded tokio runtime for the async subcommands.
pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Generates the demo test set under the data folder unless a complete one is there
/// (`labels.csv` is written last).
fn ensure_demo_testset(config: &Config) -> anyhow::Result<()> {
    let dir = config.demo_testset_dir();
    if dir.join("annotations").join("labels.csv").is_file() {
        return Ok(());
    }
    eprintln!(
        "generating the synthetic demo test set in {} (once)",
        dir.display()
    );
    let bar = Bar::new("generating");
    // `force`: a folder without labels.csv is an interrupted earlier run.
    let options = Synth {
        force: true,
        ..Synth::default()
    };
    dataset::synthesize(&dir, &options, &|done, total| {
        bar.set_len(total);
        bar.set_position(done);
    })
    .with_context(|| format!("generating the demo test set in {}", dir.display()))?;
    bar.finish();
    Ok(())
}

/// Pins the embedded demo to its committed manifest unless `--manifest` names another:
/// the generated set is checked file by file at every start, and its scores record the
/// manifest's version. The manifest is written beside the set, as a copy of the one this
/// binary was built with.
pub(super) fn pin_demo(config: &mut Config) -> anyhow::Result<()> {
    if config.manifest.is_some() {
        return Ok(());
    }
    let path = config.demo_testset_dir().join("manifest.json");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(DEMO_MANIFEST) {
        std::fs::write(&path, DEMO_MANIFEST)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    config.manifest = Some(path);
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
