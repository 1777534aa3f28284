//! One test-set version at a time (issue 11). The database records the version of the
//! annotations it is on (`testset_version`) with a sha256 of every annotation file. A
//! `serve` or `worker` started with other annotations is refused with the files that
//! differ; a worker whose database moved to another version meanwhile claims nothing; the
//! boards show only entries scored on the current version. Changing the annotations is one
//! explicit action, `triageboard testset adopt`: the new version, then every submission
//! queued to be scored again.
//!
//! The version is the manifest's when one pins the annotations, otherwise `unpinned-`
//! and the first 16 hex digits of an HMAC under the service key over the files' digests:
//! the version is shown to participants, and a plain digest would let them confirm a
//! rebuilt annotation folder offline (the manifest's keyed digests exist for the same
//! reason, `docs/manifest.md`). The file digests are plain sha256 of hidden files: they
//! stay in the database, which only organizers reach.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use sqlx::{Any, Executor};

use crate::db::{Db, jobs};
use crate::service_key::ServiceKey;

/// The annotations a process loaded: their version and every file's sha256, by path
/// relative to the annotations folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// What scores record and boards select on.
    pub version: String,
    /// `labels.csv`, `lungs/<id>.nii.gz`, `lesions/<id>/<rater>` → sha256.
    pub files: BTreeMap<String, String>,
}

impl Fingerprint {
    /// Reads every file of the annotations folder `dir`; `pinned` is the manifest's
    /// version when a manifest was checked.
    pub fn of_folder(dir: &Path, pinned: Option<String>, key: &ServiceKey) -> anyhow::Result<Self> {
        let mut files = BTreeMap::new();
        collect(dir, dir, &mut files)?;
        let version = pinned.unwrap_or_else(|| {
            let listing: String = files
                .iter()
                .map(|(path, digest)| format!("{path} {digest}\n"))
                .collect();
            let mac = key.derive("testset-version", listing.as_bytes());
            format!("unpinned-{}", &crate::accounts::hex(&mac)[..16])
        });
        Ok(Self { version, files })
    }

    /// The files that differ from `other`'s, for a message: at most five, then a count.
    pub fn differences(&self, other: &Fingerprint) -> String {
        let mut lines = Vec::new();
        for (path, digest) in &self.files {
            match other.files.get(path) {
                None => lines.push(format!("{path} is new")),
                Some(old) if old != digest => lines.push(format!("{path} changed")),
                Some(_) => {}
            }
        }
        for path in other.files.keys() {
            if !self.files.contains_key(path) {
                lines.push(format!("{path} is gone"));
            }
        }
        let more = lines.len().saturating_sub(5);
        lines.truncate(5);
        let mut text = lines.join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        if text.is_empty() {
            text = "the files are the same, under another version name".to_owned();
        }
        text
    }
}

/// Every regular file under `dir`, recursively, hashed. Hidden files (`.name`) are skipped.
fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, files)?;
        } else if kind.is_file() {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let key = relative.to_string_lossy().replace('\\', "/");
            files.insert(key, scorer::manifest::sha256_file(&path)?);
        }
    }
    Ok(())
}

/// The version the database is on, if one was ever recorded.
pub async fn current<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select version from testset_version where id = 1")
        .fetch_optional(executor)
        .await
}

async fn stored<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<Option<Fingerprint>> {
    let row: Option<(String, String)> =
        sqlx::query_as("select version, files_json from testset_version where id = 1")
            .fetch_optional(executor)
            .await?;
    row.map(|(version, files)| {
        let files = serde_json::from_str(&files).context("reading testset_version.files_json")?;
        Ok(Fingerprint { version, files })
    })
    .transpose()
}

async fn write<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    fingerprint: &Fingerprint,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "insert into testset_version (id, version, files_json, adopted_at)
         values (1, $1, $2, $3)
         on conflict (id) do update
         set version = excluded.version, files_json = excluded.files_json,
             adopted_at = excluded.adopted_at",
    )
    .bind(&fingerprint.version)
    .bind(serde_json::to_string(&fingerprint.files)?)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}

/// At start: records the version on a database that has none (and queues the submissions
/// scored on another one), accepts the version it is on, and refuses any other, naming
/// the files that differ. Identical files under another version name (the same
/// annotations, now pinned by a manifest) keep their scores, relabelled.
pub async fn check(db: &Db, loaded: &Fingerprint, annotations: &Path) -> anyhow::Result<()> {
    let now = crate::clock::now_ms();
    let mut tx = db.pool().begin().await?;
    // Writes first (see `db`): claim the row's lock before reading it.
    sqlx::query("update testset_version set adopted_at = adopted_at where id = 1")
        .execute(&mut *tx)
        .await?;
    match stored(&mut *tx).await? {
        None => {
            write(&mut *tx, loaded, now).await?;
            let queued = rescore_other_versions(&mut tx, &loaded.version, now).await?;
            tracing::info!(
                version = loaded.version,
                queued,
                "recorded the test-set version"
            );
        }
        Some(on) if on == *loaded => {}
        Some(on) if on.files == loaded.files => {
            write(&mut *tx, loaded, now).await?;
            sqlx::query("update submissions set manifest_version = $1 where manifest_version = $2")
                .bind(&loaded.version)
                .bind(&on.version)
                .execute(&mut *tx)
                .await?;
            tracing::info!(
                from = on.version,
                to = loaded.version,
                "same annotation files under a new version name: scores relabelled"
            );
        }
        Some(on) => anyhow::bail!(
            "the annotations in {} are not the test-set version this database is on ({}): {}. \
             If the organizers changed the annotations on purpose, make them the new version \
             with `triageboard testset adopt` (same flags), which queues every submission to \
             be scored again; otherwise start with the annotations of version {}",
            annotations.display(),
            on.version,
            loaded.differences(&on),
            on.version
        ),
    }
    tx.commit().await?;
    Ok(())
}

/// `testset adopt`: makes `loaded` the database's version and queues every submission to
/// be scored on it. Returns the version it replaced and how many submissions were queued.
pub async fn adopt(db: &Db, loaded: &Fingerprint) -> anyhow::Result<(Option<String>, u64)> {
    let now = crate::clock::now_ms();
    let mut tx = db.pool().begin().await?;
    sqlx::query("update testset_version set adopted_at = adopted_at where id = 1")
        .execute(&mut *tx)
        .await?;
    let before = stored(&mut *tx).await?.map(|f| f.version);
    write(&mut *tx, loaded, now).await?;
    let queued = jobs::enqueue_all(&mut *tx, now).await?;
    tx.commit().await?;
    Ok((before, queued))
}

/// Queues the scored submissions whose scores are of another version.
async fn rescore_other_versions(
    tx: &mut sqlx::AnyConnection,
    version: &str,
    now: i64,
) -> anyhow::Result<usize> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "select id from submissions
         where status = 'scored' and (manifest_version is null or manifest_version <> $1)",
    )
    .bind(version)
    .fetch_all(&mut *tx)
    .await?;
    for id in &ids {
        jobs::enqueue(&mut *tx, *id, now).await?;
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::Fingerprint;
    use crate::service_key::ServiceKey;

    #[test]
    fn a_changed_file_is_named_and_an_unpinned_version_follows_the_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lungs")).unwrap();
        std::fs::write(
            dir.path().join("labels.csv"),
            "study_id,category\na,covid\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("lungs/a.nii.gz"), b"lungs").unwrap();
        let key = ServiceKey::from_bytes([7; 32]);
        let before = Fingerprint::of_folder(dir.path(), None, &key).unwrap();
        assert!(before.version.starts_with("unpinned-"));
        assert_eq!(before.files.len(), 2);
        std::fs::write(
            dir.path().join("labels.csv"),
            "study_id,category\na,normal\n",
        )
        .unwrap();
        let after = Fingerprint::of_folder(dir.path(), None, &key).unwrap();
        assert_ne!(after.version, before.version);
        assert_eq!(after.differences(&before), "labels.csv changed");
        let pinned = Fingerprint::of_folder(dir.path(), Some("abc".into()), &key).unwrap();
        assert_eq!(pinned.version, "abc");
    }
}
