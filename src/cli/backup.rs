//! `triageboard backup` and `triageboard restore` (see [`crate::backup`]).

use std::path::PathBuf;

use clap::Args;

use crate::backup;
use crate::config::DatabaseConfig;
use crate::db::{Db, Dialect};

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    db: DatabaseConfig,
    /// A new (or empty) folder for the backup.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The folder `backup` wrote.
    #[arg(long)]
    from: PathBuf,
    /// A fresh data folder to restore into (then `serve --data-dir` it).
    #[arg(long, env = "TRIAGEBOARD_DATA_DIR")]
    data_dir: PathBuf,
}

/// Backs up a database and its uploaded files while the service runs.
pub fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    super::serve::runtime()?.block_on(async move {
        let db = Db::connect(&args.db.database_url()).await?;
        let copied = backup::backup(&db, &args.db.data_dir, &args.out).await?;
        println!(
            "backed up {} submissions and {} files ({} bytes) into {}",
            copied.submissions,
            copied.files,
            copied.bytes,
            args.out.display()
        );
        if db.dialect() == Dialect::Postgres {
            println!(
                "PostgreSQL: this copied the files only; the database is pg_dump's, taken before this command (docs/server.md, Backups)"
            );
        }
        Ok(())
    })
}

/// Restores a SQLite backup into a fresh data folder.
pub fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    super::serve::runtime()?.block_on(async move {
        let copied = backup::restore(&args.from, &args.data_dir).await?;
        println!(
            "restored {} submissions and {} files ({} bytes) into {}",
            copied.submissions,
            copied.files,
            copied.bytes,
            args.data_dir.display()
        );
        Ok(())
    })
}
