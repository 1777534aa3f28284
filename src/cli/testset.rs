//! `triageboard testset`: the test-set version the database is on. `adopt` is the one way
//! to change the annotations under a running board: it records their version and queues
//! every submission to be scored again; processes still holding the old annotations score
//! nothing until restarted.

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::config::Config;
use crate::db::Db;
use crate::startup::load_testset;
use crate::testset_version;

/// What `testset` does.
#[derive(Debug, Subcommand)]
pub enum TestsetCommand {
    /// Make the annotations given (with `--annotations`, `--manifest` as for `serve`) the
    /// database's test-set version, and queue every submission to be scored on it.
    Adopt(AdoptArgs),
}

/// Arguments of `testset adopt`.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    #[command(flatten)]
    config: Config,
}

/// Runs a `testset` command.
pub fn run(command: TestsetCommand) -> anyhow::Result<()> {
    match command {
        TestsetCommand::Adopt(args) => adopt(args.config),
    }
}

fn adopt(config: Config) -> anyhow::Result<()> {
    super::serve::runtime()?.block_on(async move {
        let db = Db::connect(&config.db.database_url()).await?;
        db.migrate().await?;
        let key = crate::service_key::load_or_create(db.pool()).await?;
        let testset = load_testset(&config, &key)
            .await
            .context("loading the annotations to adopt")?;
        let (before, queued) = testset_version::adopt(&db, &testset.fingerprint).await?;
        match before {
            Some(before) if before == testset.fingerprint.version => println!(
                "the database was already on test-set version {before}; queued {queued} submissions to be scored again"
            ),
            Some(before) => println!(
                "test-set version {} replaces {before}; queued {queued} submissions to be scored again; restart every serve and worker with the new annotations",
                testset.fingerprint.version
            ),
            None => println!(
                "the database is now on test-set version {}; queued {queued} submissions to be scored",
                testset.fingerprint.version
            ),
        }
        Ok(())
    })
}
