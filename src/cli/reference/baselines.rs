//! `reference baselines`: runs every reference model on a folder of test images and enters
//! the results on a server as final baselines, through its REST API with an organizer's
//! token (the same entries as the server's own run, [`crate::baselines::entry`]).

use anyhow::Result;
use reference_model::zoo;

use super::{BaselinesArgs, outputs_for, run_models};
use crate::cli::api_client::ApiClient;

/// Runs `reference baselines`.
pub(super) fn run(args: &BaselinesArgs) -> Result<()> {
    let models = zoo::baselines();
    let outputs = outputs_for(&models, &args.out)?;
    let runtime = crate::cli::serve::runtime()?;
    let client = ApiClient::new(&args.server, &args.token, "triageboard-reference")?;
    let server = client.server().to_owned();
    // Before minutes of inference: is the server there, and is the token an organizer's?
    runtime.block_on(async {
        let me = client
            .me()
            .await?
            .map_err(|refusal| anyhow::anyhow!("{server} refused the token: {refusal}"))?;
        if me.role != "organizer" {
            anyhow::bail!(
                "the token belongs to {:?}, who is not an organizer: baselines need an organizer's token",
                me.name
            );
        }
        Ok(())
    })?;
    run_models(&args.images, &args.weights, outputs.clone(), &args.device)?;
    runtime.block_on(async {
        for output in &outputs {
            let entry = crate::baselines::entry(output.model);
            let fields = [
                ("method", entry.method),
                ("description", entry.description),
                ("reference_model", output.model.to_string()),
            ];
            let accepted = client
                .upload(&output.out, &fields)
                .await?
                .map_err(|refusal| {
                    anyhow::anyhow!("{server} refused the {} baseline: {refusal}", output.model)
                })?;
            eprintln!(
                "{}: submission {}, entered as a final baseline",
                output.model, accepted.id
            );
        }
        Ok(())
    })
}
