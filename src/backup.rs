//! Backups of a running service (issue 11): the database and the uploaded files its rows
//! name. On SQLite `VACUUM INTO` writes a consistent copy of the database while the service
//! runs; the files are copied after it, so that every row of the copy finds its file (an
//! upload's file is written before its row, and files are never changed). On PostgreSQL
//! the database is `pg_dump`'s job, taken first; this copies the files of the rows present
//! afterwards. The service key, the accounts and every score are in the database; the
//! annotations are not (the organizers keep them; the demo's are regenerated).
//!
//! A backup folder holds `triageboard.db` (SQLite only) and `submissions/`. Restoring is
//! copying them into a fresh data folder, which [`restore`] does after checking the copy.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::db::{Db, Dialect};

/// The database file's name in a backup and in a data folder.
pub const DATABASE_FILE: &str = "triageboard.db";

/// What a backup or a restore copied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    /// Submission rows in the database copied.
    pub submissions: u64,
    /// Files copied.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Backs up the database at `db` (its uploaded files under `data_dir`) into `out`, which
/// must not exist or be empty.
pub async fn backup(db: &Db, data_dir: &Path, out: &Path) -> anyhow::Result<Copied> {
    prepare_empty(out)?;
    let paths = match db.dialect() {
        Dialect::Sqlite => {
            let target = out.join(DATABASE_FILE);
            let target = target
                .to_str()
                .context("the backup folder's path is not valid UTF-8")?;
            sqlx::query(&format!("vacuum into '{}'", target.replace('\'', "''")))
                .execute(db.pool())
                .await
                .context("copying the database (VACUUM INTO)")?;
            stored_paths_of(&out.join(DATABASE_FILE)).await?
        }
        Dialect::Postgres => stored_paths(db).await?,
    };
    let mut copied = Copied {
        submissions: paths.len() as u64,
        ..Copied::default()
    };
    let data_dir = data_dir.to_owned();
    let out = out.to_owned();
    let files = tokio::task::spawn_blocking(move || copy_files(&paths, &data_dir, &out))
        .await
        .context("copying the uploaded files")??;
    copied.files = files.0;
    copied.bytes = files.1;
    Ok(copied)
}

/// Restores the SQLite backup in `from` into the fresh data folder `data_dir`: checks the
/// database copy, then copies it and every file its rows name. Refuses a data folder that
/// already has a database, and a backup whose rows name missing files.
pub async fn restore(from: &Path, data_dir: &Path) -> anyhow::Result<Copied> {
    let source = from.join(DATABASE_FILE);
    if !source.is_file() {
        anyhow::bail!(
            "{} has no {DATABASE_FILE}: a PostgreSQL backup is restored with pg_restore and by copying its submissions/ folder into the data folder (docs/server.md)",
            from.display()
        );
    }
    let target = data_dir.join(DATABASE_FILE);
    if target.exists() {
        anyhow::bail!(
            "{} already has a database: restore into a fresh data folder",
            data_dir.display()
        );
    }
    let check = Db::connect(&sqlite_url(&source)?).await?;
    let verdict: String = sqlx::query_scalar("pragma integrity_check")
        .fetch_one(check.pool())
        .await
        .context("checking the backup's database")?;
    check.close().await;
    if verdict != "ok" {
        anyhow::bail!("the backup's database is damaged: {verdict}");
    }
    let paths = stored_paths_of(&source).await?;
    let missing: Vec<&String> = paths
        .iter()
        .filter(|path| !from.join(path).is_file())
        .collect();
    if let Some(first) = missing.first() {
        anyhow::bail!(
            "the backup lacks {} of the files its database names (first: {first})",
            missing.len()
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let (from, data_dir) = (from.to_owned(), data_dir.to_owned());
    let submissions = paths.len() as u64;
    let (files, bytes) = tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, u64)> {
        let copied = copy_files(&paths, &from, &data_dir)?;
        // The database last: a data folder with a database is a complete restore.
        let partial = data_dir.join(format!("{DATABASE_FILE}.restoring"));
        std::fs::copy(&source, &partial)
            .with_context(|| format!("copying {}", source.display()))?;
        std::fs::rename(&partial, data_dir.join(DATABASE_FILE))?;
        Ok(copied)
    })
    .await
    .context("restoring the files")??;
    Ok(Copied {
        submissions,
        files,
        bytes,
    })
}

fn prepare_empty(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
        if entries.next().is_some() {
            anyhow::bail!("{} is not empty: back up into a new folder", out.display());
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
}

fn sqlite_url(path: &Path) -> anyhow::Result<String> {
    let path = path.to_str().context("the path is not valid UTF-8")?;
    Ok(format!("sqlite://{path}"))
}

async fn stored_paths(db: &Db) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar("select stored_path from submissions order by id")
        .fetch_all(db.pool())
        .await
        .context("listing the submissions' files")
}

async fn stored_paths_of(database: &Path) -> anyhow::Result<Vec<String>> {
    let copy = Db::connect(&sqlite_url(database)?).await?;
    let paths = stored_paths(&copy).await;
    copy.close().await;
    paths
}

/// Copies each relative path from `from` to `to`; refuses paths that leave the folder.
fn copy_files(paths: &[String], from: &Path, to: &Path) -> anyhow::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for path in paths {
        let relative = PathBuf::from(path);
        if relative.is_absolute() || relative.components().any(|c| c.as_os_str() == "..") {
            anyhow::bail!("the stored path {path:?} leaves the data folder");
        }
        let (source, target) = (from.join(&relative), to.join(&relative));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        bytes += std::fs::copy(&source, &target)
            .with_context(|| format!("copying {} to {}", source.display(), target.display()))?;
        files += 1;
    }
    Ok((files, bytes))
}
