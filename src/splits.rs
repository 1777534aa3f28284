//! The test set's public and private split (EVALUATION.md section 5.1): taken from the
//! `split` column of `labels.csv` when the organizer gives one, otherwise drawn once per
//! category from the service's secret key, so that it is stable across restarts and
//! processes and never derivable by anyone without the database.

use anyhow::bail;
use scorer::Split;
use scorer::annotations::StudyTruth;

use crate::service_key::ServiceKey;

/// Every study's split, in the order of the annotations' index.
///
/// With no `split` column, each category is split on its own (stratified): its studies are
/// ordered by `HMAC(key, "split", id)` and the first `round(public_fraction * n)` are
/// public. A column given for some studies but not all is an error, as is a fraction
/// outside [0, 1].
pub fn assign(
    studies: &[StudyTruth],
    key: &ServiceKey,
    public_fraction: f64,
) -> anyhow::Result<Vec<Split>> {
    let given = studies.iter().filter(|s| s.split.is_some()).count();
    if given == studies.len() {
        return Ok(studies.iter().filter_map(|s| s.split).collect());
    }
    if given > 0 {
        bail!(
            "labels.csv gives a split for {given} of {} studies: give one for every study or for none",
            studies.len()
        );
    }
    if !(0.0..=1.0).contains(&public_fraction) {
        bail!("the public fraction must lie in [0, 1], not {public_fraction}");
    }
    let mut splits = vec![Split::Private; studies.len()];
    let mut categories: Vec<&str> = studies.iter().map(|s| s.category.as_str()).collect();
    categories.sort_unstable();
    categories.dedup();
    for category in categories {
        let mut members: Vec<(usize, [u8; 32])> = studies
            .iter()
            .enumerate()
            .filter(|(_, s)| s.category == category)
            .map(|(i, s)| (i, key.derive("split", s.id.as_str().as_bytes())))
            .collect();
        members.sort_by_key(|m| m.1);
        let public = (public_fraction * members.len() as f64).round() as usize;
        for (i, _) in members.into_iter().take(public) {
            splits[i] = Split::Public;
        }
    }
    Ok(splits)
}
