//! Receiving a multipart upload: the `file` field streams to a file under `incoming/`
//! chunk by chunk (never whole in memory), hashed and counted against the size cap; the
//! few text fields, each at most once, are read with a small cap.

use std::path::{Path, PathBuf};

use axum::extract::Multipart;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::accounts::hex;
use crate::error::AppError;

/// Longest accepted text field, in bytes.
pub const MAX_TEXT_FIELD: usize = 4096;

/// A file under `incoming/` that is removed when dropped, unless it was moved away.
///
/// While it exists it holds an exclusive advisory lock (`flock`) on the file, so that a
/// process cleaning `incoming/` after a crash removes the `.part` files no live upload owns
/// and leaves alone those another `serve` is still writing ([`remove_orphans`]).
#[derive(Debug)]
pub struct IncomingFile {
    path: Option<PathBuf>,
    lock: Option<std::fs::File>,
}

impl IncomingFile {
    /// Where the file is now.
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Renames the file to `to` (atomic on one filesystem); it is no longer removed.
    pub async fn persist(mut self, to: &Path) -> std::io::Result<()> {
        if let Some(from) = &self.path {
            tokio::fs::rename(from, to).await?;
            self.path = None;
        }
        self.lock = None;
        Ok(())
    }
}

impl Drop for IncomingFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Creates a locked `.part` file and its guard.
fn create_locked(path: &Path) -> std::io::Result<(IncomingFile, tokio::fs::File)> {
    let file = std::fs::File::create(path)?;
    file.lock()?;
    let guard = IncomingFile {
        path: Some(path.to_owned()),
        lock: Some(file.try_clone()?),
    };
    Ok((guard, tokio::fs::File::from_std(file)))
}

/// Removes the `.part` files under `dir` that no live upload owns: those left by a process
/// that crashed (killed mid-upload). A file whose lock is held belongs to an upload still
/// streaming, in this process or another one sharing the folder, and stays. Returns how
/// many were removed.
pub fn remove_orphans(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "part") {
            continue;
        }
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// An I/O error of an upload as an answer: a full disk says so (507), anything else is
/// internal.
fn io_error(err: std::io::Error, doing: &'static str) -> AppError {
    if err.kind() == std::io::ErrorKind::StorageFull {
        tracing::error!(doing, "the data folder is out of space");
        AppError::StorageFull
    } else {
        AppError::Internal(anyhow::Error::new(err).context(doing))
    }
}

/// An upload as received.
#[derive(Debug)]
pub struct Received {
    /// The uploaded bytes, on disk.
    pub file: IncomingFile,
    /// The client's name for the file, cleaned for display.
    pub file_name: String,
    /// Bytes.
    pub size: u64,
    /// sha256, hex.
    pub sha256: String,
    /// The text fields, by name.
    pub fields: Vec<(String, String)>,
}

impl Received {
    /// A text field, trimmed; `None` when absent or blank.
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

/// Reads a multipart body: one `file` field and any of `text_fields`.
pub async fn receive(
    multipart: Result<Multipart, MultipartRejection>,
    incoming: &Path,
    limit: u64,
    text_fields: &[&str],
) -> Result<Received, AppError> {
    let mut multipart = multipart.map_err(|rejection| AppError::BadRequest {
        message: "expected a multipart/form-data body".to_owned(),
        details: vec![rejection.body_text()],
    })?;
    let mut file = None;
    let mut fields = Vec::new();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            if file.is_some() {
                return Err(AppError::bad_request(
                    "the form has more than one `file` field",
                ));
            }
            let file_name = clean_file_name(field.file_name().unwrap_or("submission"));
            let path = incoming.join(format!("{}.part", random_name()));
            let (guard, mut out) =
                create_locked(&path).map_err(|e| io_error(e, "creating an upload file"))?;
            let mut hasher = Sha256::new();
            let mut size: u64 = 0;
            while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
                size += chunk.len() as u64;
                if size > limit {
                    return Err(AppError::TooLarge { limit });
                }
                hasher.update(&chunk);
                out.write_all(&chunk)
                    .await
                    .map_err(|e| io_error(e, "writing an upload"))?;
            }
            // The data is on disk before the row that points at it is committed.
            out.sync_all()
                .await
                .map_err(|e| io_error(e, "syncing an upload"))?;
            file = Some((guard, file_name, size, hex(&hasher.finalize())));
        } else if text_fields.contains(&name.as_str()) {
            // One of each: repeated fields would pile up in memory up to the body limit.
            if fields.iter().any(|(n, _)| *n == name) {
                return Err(AppError::bad_request(format!(
                    "the form has more than one `{name}` field"
                )));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_TEXT_FIELD {
                    return Err(AppError::bad_request(format!(
                        "the field `{name}` is longer than {MAX_TEXT_FIELD} bytes"
                    )));
                }
            }
            let text = String::from_utf8(bytes).map_err(|_| {
                AppError::bad_request(format!("the field `{name}` is not UTF-8 text"))
            })?;
            fields.push((name, text));
        } else {
            let mut expected = vec!["file"];
            expected.extend_from_slice(text_fields);
            return Err(AppError::BadRequest {
                message: format!("unknown form field `{}`", name.escape_default()),
                details: vec![format!("expected fields: {}", expected.join(", "))],
            });
        }
    }
    let Some((file, file_name, size, sha256)) = file else {
        return Err(AppError::bad_request("the form has no `file` field"));
    };
    if size == 0 {
        return Err(AppError::bad_request("the uploaded file is empty"));
    }
    Ok(Received {
        file,
        file_name,
        size,
        sha256,
        fields,
    })
}

fn multipart_error(err: MultipartError, limit: u64) -> AppError {
    if stalled(&err) {
        return AppError::UploadStalled;
    }
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        // The body limit is the size cap plus room for the form's own bytes.
        AppError::TooLarge { limit }
    } else {
        AppError::BadRequest {
            message: "malformed multipart body".to_owned(),
            details: vec![err.body_text()],
        }
    }
}

/// Whether the body stopped sending for longer than the idle timeout (the body timeout
/// of `web::router` sits somewhere in the chain of causes).
fn stalled(err: &MultipartError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = cause {
        if current.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// A random file name, 128 bits in hex.
pub fn random_name() -> String {
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    hex(&bytes)
}

/// The last path component of a client-given name, limited to safe characters.
pub fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(100)
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "submission".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::clean_file_name;

    #[test]
    fn client_file_names_lose_their_folders_and_odd_characters() {
        assert_eq!(clean_file_name("predictions.csv"), "predictions.csv");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\x\\masks v2.zip"), "masksv2.zip");
        assert_eq!(clean_file_name(".."), "submission");
        assert_eq!(clean_file_name("<>"), "submission");
    }
}
