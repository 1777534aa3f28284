//! The manifest's digests of private files are keyed: they pin the toy set for whoever holds
//! the key, and confirm nothing about a study's category, a rebuilt lung map or a guessed
//! `labels.csv` to anyone who does not.

mod common;

use std::collections::HashSet;
use std::fs;

use common::ToySet;
use scorer::Annotations;
use scorer::manifest::{DEMO_KEY, DEMO_NAME, Manifest, ManifestError, ManifestKey};
use sha2::{Digest, Sha256};

const KEY: ManifestKey = ManifestKey::from_bytes([7; 32]);
const OTHER_KEY: ManifestKey = ManifestKey::from_bytes([8; 32]);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn build(set: &ToySet, key: &ManifestKey) -> Manifest {
    let annotations = Annotations::load(&set.annotations()).unwrap();
    Manifest::build("toy", &set.images(), &annotations, key).unwrap()
}

fn verify(set: &ToySet, manifest: &Manifest, key: &ManifestKey) -> Result<(), ManifestError> {
    let annotations = Annotations::load(&set.annotations()).unwrap();
    manifest.verify_annotations(&annotations, key)
}

fn mismatches(result: Result<(), ManifestError>) -> Vec<String> {
    match result {
        Err(ManifestError::Mismatch(problems)) => problems,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn non_covid_studies_with_identical_files_get_different_digests() {
    let set = ToySet::new();
    // Every toy study has the same lung map bytes, and no non-COVID study has a lesion
    // folder: plain checksums would be equal across them.
    let lungs: HashSet<Vec<u8>> = set
        .studies
        .iter()
        .map(|s| fs::read(set.annotations().join(format!("lungs/{}.nii.gz", s.id))).unwrap())
        .collect();
    assert_eq!(lungs.len(), 1);
    let manifest = build(&set, &KEY);
    let negatives: Vec<_> = manifest
        .studies
        .iter()
        .filter(|s| s.id.starts_with('n'))
        .collect();
    assert_eq!(negatives.len(), 6);
    let lesions: HashSet<&str> = negatives
        .iter()
        .map(|s| s.lesions_digest.as_str())
        .collect();
    let lung_digests: HashSet<&str> = manifest
        .studies
        .iter()
        .map(|s| s.lungs_digest.as_str())
        .collect();
    assert_eq!(lesions.len(), negatives.len());
    assert_eq!(lung_digests.len(), manifest.studies.len());
}

#[test]
fn the_same_files_under_another_key_give_other_digests() {
    let set = ToySet::new();
    let ours = build(&set, &KEY);
    let theirs = build(&set, &OTHER_KEY);
    assert_ne!(ours.labels_digest, theirs.labels_digest);
    assert_ne!(ours.key_check, theirs.key_check);
    for (a, b) in ours.studies.iter().zip(&theirs.studies) {
        assert_eq!(a.id, b.id);
        // Images are public: their checksums are plain and the same under any key.
        assert_eq!(a.image_sha256, b.image_sha256);
        assert_ne!(a.lungs_digest, b.lungs_digest, "{}", a.id);
        assert_ne!(a.lesions_digest, b.lesions_digest, "{}", a.id);
    }
}

#[test]
fn a_rebuilt_lung_map_or_the_true_labels_cannot_be_confirmed_without_the_key() {
    let set = ToySet::new();
    let manifest = build(&set, &KEY);
    let labels = fs::read(set.annotations().join("labels.csv")).unwrap();
    let labels_sha256 = hex(&Sha256::digest(&labels));
    assert_ne!(manifest.labels_digest, labels_sha256);
    for study in &manifest.studies {
        let lungs = fs::read(set.annotations().join(format!("lungs/{}.nii.gz", study.id))).unwrap();
        // Neither the plain checksum nor the unkeyed scheme of older manifests matches.
        assert_ne!(study.lungs_digest, hex(&Sha256::digest(&lungs)));
        let mut old_key = Sha256::new();
        old_key.update(b"triageboard-manifest-key\0");
        old_key.update(&lungs);
        let old_empty = hex(&Sha256::digest(old_key.finalize()));
        assert_ne!(study.lesions_digest, old_empty);
    }
    // With the right files, someone who guesses a key learns only that the key is wrong.
    let annotations = Annotations::load(&set.annotations()).unwrap();
    assert!(matches!(
        manifest.verify_annotations(&annotations, &OTHER_KEY),
        Err(ManifestError::WrongKey { .. })
    ));
}

#[test]
fn verification_with_the_right_key_passes_and_names_each_changed_file() {
    let set = ToySet::new();
    let manifest = build(&set, &KEY);
    verify(&set, &manifest, &KEY).unwrap();

    let ann = set.annotations();
    fs::copy(
        ann.join("lesions/c1/rater1.nii.gz"),
        ann.join("lesions/c1/rater2.nii.gz"),
    )
    .unwrap();
    assert_eq!(
        mismatches(verify(&set, &manifest, &KEY)),
        ["lesions/c1/: differs from the manifest (a rater's mask was changed, added or removed)"]
    );

    let lungs = ann.join("lungs/n1.nii.gz");
    let mut bytes = fs::read(&lungs).unwrap();
    bytes.push(0);
    fs::write(&lungs, bytes).unwrap();
    let problems = mismatches(verify(&set, &manifest, &KEY));
    assert!(
        problems.contains(&"lungs/n1.nii.gz: differs from the manifest".to_owned()),
        "{problems:?}"
    );
}

#[test]
fn a_changed_labels_csv_is_named_whatever_its_columns() {
    let set = ToySet::new();
    let labels = set.annotations().join("labels.csv");
    let manifest = build(&set, &KEY);
    // The same studies and categories with a split column added: the bytes changed.
    let with_split: String = fs::read_to_string(&labels)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let split = if i == 0 { "split" } else { "public" };
            format!("{line},{split}\n")
        })
        .collect();
    fs::write(&labels, &with_split).unwrap();
    assert_eq!(
        mismatches(verify(&set, &manifest, &KEY)),
        ["labels.csv: differs from the manifest"]
    );
    // A manifest built over the three-column file pins it in turn.
    let pinned = build(&set, &KEY);
    verify(&set, &pinned, &KEY).unwrap();
    fs::write(&labels, with_split.replacen("public", "private", 1)).unwrap();
    assert_eq!(
        mismatches(verify(&set, &pinned, &KEY)),
        ["labels.csv: differs from the manifest"]
    );
}

#[test]
fn a_wrong_key_is_reported_as_such_and_not_as_changed_files() {
    let set = ToySet::new();
    let manifest = build(&set, &KEY);
    let error = verify(&set, &manifest, &OTHER_KEY).unwrap_err();
    assert!(
        matches!(&error, ManifestError::WrongKey { name } if name == "toy"),
        "{error:?}"
    );
    assert!(error.to_string().contains("not the one"), "{error}");
    manifest.check_key(&KEY).unwrap();
}

#[test]
fn a_manifest_round_trips_through_its_file_and_keeps_its_version() {
    let set = ToySet::new();
    let manifest = build(&set, &KEY);
    let path = set.path("manifest.json");
    fs::write(&path, manifest.to_json()).unwrap();
    let loaded = Manifest::load(&path).unwrap();
    assert_eq!(loaded, manifest);
    assert_eq!(loaded.version(), manifest.version());
    assert_eq!(loaded.private_digests, "hmac-sha256");
}

#[test]
fn a_manifest_of_an_older_triageboard_is_refused_with_a_message_saying_so() {
    let set = ToySet::new();
    let mut json: serde_json::Value = serde_json::from_str(&build(&set, &KEY).to_json()).unwrap();
    let object = json.as_object_mut().unwrap();
    object.remove("private_digests");
    object.remove("key_check");
    let path = set.path("old.json");
    fs::write(&path, json.to_string()).unwrap();
    let error = Manifest::load(&path).unwrap_err();
    assert!(
        matches!(error, ManifestError::OldFormat { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("built by an older TriageBoard")
            && message.contains("rebuild it with `dataset manifest`"),
        "{message}"
    );

    json["private_digests"] = "hmac-sha512".into();
    fs::write(&path, json.to_string()).unwrap();
    let error = Manifest::load(&path).unwrap_err();
    assert!(error.to_string().contains("\"hmac-sha512\""), "{error}");
}

#[test]
fn only_the_synthetic_demo_manifest_defaults_to_the_public_demo_key() {
    let set = ToySet::new();
    let mut manifest = build(&set, &DEMO_KEY);
    assert_eq!(manifest.default_key(), None);
    manifest.name = DEMO_NAME.to_owned();
    let key = manifest.default_key().unwrap();
    verify(&set, &manifest, &key).unwrap();
}
