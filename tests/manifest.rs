//! The committed manifest pins the synthetic reference test set: regenerating it with the
//! defaults gives exactly the files it describes.

use std::path::Path;

use scorer::Annotations;
use scorer::manifest::Manifest;
use triageboard::dataset::{Synth, synthesize};

#[test]
fn the_default_synthetic_test_set_matches_the_committed_manifest() {
    let dir = tempfile::tempdir().unwrap();
    synthesize(dir.path(), &Synth::default(), &|_, _| {}).unwrap();
    let manifest = Manifest::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("hidden-test-manifest/synthetic-demo.json"),
    )
    .unwrap();
    assert_eq!(manifest.n_studies, 101);
    let counts: Vec<(&str, usize)> = manifest
        .category_counts
        .iter()
        .map(|(c, n)| (c.as_str(), *n))
        .collect();
    assert_eq!(
        counts,
        [
            ("covid", 33),
            ("nodules", 18),
            ("normal", 32),
            ("pneumonia", 18)
        ]
    );
    manifest.verify_images(&dir.path().join("images")).unwrap();
    // The synthetic set is public, and so is its manifest's key.
    let key = manifest
        .default_key()
        .expect("the demo manifest has the public demo key");
    let annotations = Annotations::load(&dir.path().join("annotations")).unwrap();
    manifest.verify_annotations(&annotations, &key).unwrap();
}
