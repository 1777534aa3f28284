//! The evaluation-protocol page and the readable API page.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Html;

use super::{Nav, render};
use crate::error::AppError;
use crate::leaderboard::metric_keys;
use crate::state::AppState;
use crate::web::client::Client;
use crate::web::session::{CsrfToken, MaybeUser};

#[derive(Template)]
#[template(path = "about.html")]
struct AboutPage {
    nav: Nav,
    n_studies: usize,
    categories: String,
    version: String,
    quota: u32,
    finals: u32,
    max_upload: String,
}

/// `2.0 GiB` and the like.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub(super) async fn about(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, AppError> {
    let categories: Vec<String> = metric_keys(&state)
        .into_iter()
        .filter_map(|k| match k {
            scorer::MetricKey::AucVs(category) => Some(category),
            _ => None,
        })
        .collect();
    render(&AboutPage {
        nav: Nav::new(user.as_ref(), &csrf),
        n_studies: state.testset.annotations.studies().len(),
        categories: categories.join(", "),
        version: state.testset.manifest_version.clone(),
        quota: state.config.daily_quota,
        finals: state.config.finals_per_30_days,
        max_upload: human_bytes(state.config.max_upload_bytes),
    })
}

#[derive(Template)]
#[template(path = "api.html")]
struct ApiPage {
    nav: Nav,
    server: String,
}

pub(super) async fn api(
    MaybeUser(user): MaybeUser,
    CsrfToken(csrf): CsrfToken,
    client: Client,
    headers: HeaderMap,
) -> Result<Html<String>, AppError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost:8080");
    let scheme = if client.https { "https" } else { "http" };
    render(&ApiPage {
        nav: Nav::new(user.as_ref(), &csrf),
        server: format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(2 << 30), "2.0 GiB");
    }
}
