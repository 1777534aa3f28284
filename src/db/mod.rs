//! The database: one pool over SQLite or PostgreSQL, migrations per dialect, and the SQL of
//! the service in small named functions (one module per table), shared by `serve`,
//! `worker` and the tests.
//!
//! Why sqlx's `Any` driver rather than an enum over two pools: every query but the job
//! claim reads the same on both databases (SQLite accepts PostgreSQL's `$1` placeholders,
//! both have `returning` and `on conflict`), so one function per query with one SQL
//! string is half the code of a `match` per query, and the few dialect differences are
//! visible as an explicit `match db.dialect()`. The price is the `Any` type set (integers,
//! floats, text): times are stored as Unix milliseconds and flags as 0/1 integers, which
//! keeps the two schemas identical in meaning.
//!
//! One rule for transactions, from SQLite: a transaction writes before it reads. SQLite
//! starts transactions deferred, and one that read first and then wants the write lock
//! fails at once (`SQLITE_BUSY`, no waiting) if another connection wrote meanwhile; one
//! that writes first waits for the lock under the busy timeout.

pub mod jobs;
pub mod sessions;
pub mod submissions;
pub mod tokens;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Connection, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which SQL dialect the pool speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: one writer at a time, so single statements are atomic claims.
    Sqlite,
    /// PostgreSQL: many writers; claims need `for update skip locked`.
    Postgres,
}

/// A connection pool and its dialect; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

impl Db {
    /// Connects to `url` (`sqlite://PATH`, created if missing, or `postgres://...`), with
    /// queries waiting up to 30 s for a connection (the command-line tools).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, Duration::from_secs(30)).await
    }

    /// Connects to `url`; a query that cannot get a working connection within
    /// `acquire_timeout` fails with [`sqlx::Error::PoolTimedOut`], which the service answers
    /// with 503 (a database outage fails fast instead of holding every request).
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite://PATH or postgres://...");
        };
        let url = match dialect {
            Dialect::Sqlite => sqlite_url(url)?,
            Dialect::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("parsing the database URL {}", redact(&url)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => 8,
                Dialect::Postgres => 16,
            })
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers run beside the writer; the busy timeout makes
                        // concurrent writers wait for the lock instead of failing.
                        conn.execute("pragma journal_mode = wal").await?;
                        conn.execute("pragma busy_timeout = 30000").await?;
                        conn.execute("pragma foreign_keys = on").await?;
                        conn.execute("pragma synchronous = normal").await?;
                    }
                    Ok(())
                })
            })
            // A connection whose transaction the database ended by itself must not go back
            // to the pool. After SQLITE_FULL SQLite has already rolled the transaction back,
            // so sqlx's ROLLBACK fails, and sqlx-sqlite 0.8 lowers its transaction depth only
            // when ROLLBACK succeeds: the pooled connection would then believe it is inside a
            // transaction, turn the next `begin` into a SAVEPOINT and its `commit` into a
            // RELEASE, and acknowledged writes vanish (issue 11, upstream sqlx #4031; shown
            // by `tests/faults.rs` on a full tmpfs: without this check 7 of 10 acknowledged
            // uploads were gone after a restart in one run, and uploads failed with 500).
            // The ping lets a rollback queued by a dropped transaction run first, so the
            // depth read after it is the real one.
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    conn.ping().await?;
                    let clean = !conn.is_in_transaction();
                    if !clean {
                        tracing::warn!("closing a database connection left inside a transaction");
                    }
                    Ok(clean)
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}", redact(&url)))?;
        Ok(Self { pool, dialect })
    }

    /// Applies the migrations of this dialect that are not applied yet.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .context("migrating the database")
    }

    /// The pool, to pass to the query functions.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The dialect, for the few queries that differ.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes every connection (waits for the ones in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes the SQLite file's folder and asks for the file to be created when missing.
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() {
        anyhow::bail!("the SQLite URL {url:?} names no file");
    }
    let parent = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent.filter(|_| path != ":memory:") {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{redact, sqlite_url};

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/board"),
            "postgres://app:***@db:5432/board"
        );
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn sqlite_urls_ask_for_the_file_to_be_created() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/a/b.db", dir.path().display());
        assert!(sqlite_url(&url).unwrap().ends_with("b.db?mode=rwc"));
        assert!(dir.path().join("a").is_dir());
    }
}
