//! The reference models' cards (public: they report validation figures on the synthetic
//! `val` split only, nothing about the test set).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use reference_model::zoo::{self, Model};

use super::{Nav, render};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::session::{CsrfToken, MaybeUser};

#[derive(Template)]
#[template(path = "models.html")]
struct ModelsPage {
    nav: Nav,
    models: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "model.html")]
struct ModelPage {
    nav: Nav,
    title: String,
    body: String,
}

fn card_path(state: &AppState, name: Model) -> std::path::PathBuf {
    state.config.reference_weights.join(format!("{name}.md"))
}

pub(super) async fn index(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, AppError> {
    let nav = Nav::new(user.as_ref(), &csrf);
    let models = Model::ALL
        .iter()
        .map(|&model| {
            (
                model.name().to_owned(),
                zoo::config(model).title,
                model == Model::Threshold || card_path(&state, model).is_file(),
            )
        })
        .collect();
    render(&ModelsPage {
        nav: nav.clone(),
        models,
    })
}

pub(super) async fn card(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    CsrfToken(csrf): CsrfToken,
    Path(name): Path<String>,
) -> Result<Html<String>, AppError> {
    let nav = Nav::new(user.as_ref(), &csrf);
    let model: Model = name
        .parse()
        .map_err(|_| AppError::NotFound(format!("no reference model {name:?}")))?;
    let config = zoo::config(model);
    let markdown = if model == Model::Threshold {
        THRESHOLD_CARD.to_owned()
    } else {
        tokio::fs::read_to_string(card_path(&state, model))
            .await
            .map_err(|_| {
                AppError::NotFound(format!("the {name} model has no card: it is not trained"))
            })?
    };
    let mut body = String::new();
    pulldown_cmark::html::push_html(
        &mut body,
        pulldown_cmark::Parser::new_ext(&markdown, pulldown_cmark::Options::ENABLE_TABLES),
    );
    render(&ModelPage {
        nav: nav.clone(),
        title: config.title,
        body,
    })
}

/// The threshold baseline learns nothing, so its card is written by hand.
const THRESHOLD_CARD: &str = "# Model card: Thresholding (`threshold`)\n\n\
No learning. Inside the lungs found by the `lungs` model: voxels in [-700, 300] HU, Gaussian blur \
with sigma 8 mm (4 pixels of the paper's 2 mm grid), threshold 0.5, 3-D connected components \
smaller than 0.1% of the lungs' volume removed (the paper's grid-searched settings, sec. 4.3). \
The blur and the components run on the 4 mm working grid.\n\n\
Identification uses the predicted affected percentage.\n";
