//! `/testset/images.zip`: the public test images as one zip, streamed as it is written
//! (stored, not recompressed: the volumes are gzip already), never built in memory; and
//! `/testset/sample_submission.csv`, every study id with a neutral prediction, the format
//! to fill in (the ids are public: they name the images).

use std::io::{self, Write};

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::error::AppError;
use crate::state::AppState;

/// A `Write` that hands its bytes to the response body through a channel.
struct ChannelWriter(mpsc::Sender<io::Result<Vec<u8>>>);

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(bytes.to_vec()))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(super) async fn images_zip(State(state): State<AppState>) -> Result<Response, AppError> {
    let dir = state.config.images_dir();
    if !dir.is_dir() {
        return Err(AppError::NotFound(
            "this board does not serve its test images".to_owned(),
        ));
    }
    let mut ids: Vec<String> = state
        .testset
        .annotations
        .index()
        .ids()
        .iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    ids.sort();
    let (sender, receiver) = mpsc::channel::<io::Result<Vec<u8>>>(8);
    tokio::task::spawn_blocking(move || {
        let error_sender = sender.clone();
        let written = (|| -> zip::result::ZipResult<()> {
            let buffered = io::BufWriter::with_capacity(256 * 1024, ChannelWriter(sender));
            let mut zip = zip::ZipWriter::new_stream(buffered);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(true);
            for id in ids {
                let name = format!("{id}.nii.gz");
                let mut file = std::fs::File::open(dir.join(&name))?;
                zip.start_file(format!("images/{name}"), options)?;
                io::copy(&mut file, &mut zip)?;
            }
            zip.finish()?;
            Ok(())
        })();
        if let Err(err) = written {
            tracing::warn!(error = %err, "streaming the test images");
            let _ = error_sender
                .blocking_send(Err(io::Error::other("the archive could not be completed")));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"triageboard-test-images.zip\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `/testset/sample_submission.csv`: every study id, sorted, with probability 0.5 and
/// 0 % affected: a valid submission that ranks at chance, to start from.
pub(super) async fn sample_submission(State(state): State<AppState>) -> Response {
    let mut ids: Vec<&str> = state
        .testset
        .annotations
        .index()
        .ids()
        .iter()
        .map(|id| id.as_str())
        .collect();
    ids.sort_unstable();
    let mut text = String::from("study_id,covid_probability,affected_percent\n");
    for id in ids {
        text.push_str(id);
        text.push_str(",0.5,0\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sample_submission.csv\"",
            ),
        ],
        text,
    )
        .into_response()
}
