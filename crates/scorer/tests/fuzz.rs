//! Robustness: mutated submissions (bytes flipped, cut, overwritten in valid tables and
//! archives) never make the scorer panic; every outcome is a score or an error.
//!
//! Runs a modest number of cases by default; for a longer run:
//! `PROPTEST_CASES=20000 cargo test --release -p scorer --test fuzz`.

mod common;

use std::sync::OnceLock;

use common::{SHAPE, ToySet, mask_bytes, write_zip};
use proptest::prelude::*;
use scorer::Annotations;
use volume::Mask;

struct Fixture {
    set: ToySet,
    annotations: Annotations,
    zip: Vec<u8>,
    stored: Vec<u8>,
    csv: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let set = ToySet::new();
        let annotations = Annotations::load(&set.annotations()).unwrap();
        let mut entries: Vec<(String, Vec<u8>)> = set
            .studies
            .iter()
            .map(|s| {
                (
                    format!("team/{}.nii.gz", s.id),
                    mask_bytes(
                        &set.geometry,
                        s.raters.first().unwrap_or(&Mask::zeros(SHAPE)),
                    ),
                )
            })
            .collect();
        let mut csv = String::from("study_id,covid_probability,affected_percent\r\n");
        for (n, study) in set.studies.iter().enumerate() {
            csv.push_str(&format!("{},{},{}\r\n", study.id, n as f64 / 20.0, n * 3));
        }
        entries.push(("team/predictions.csv".to_owned(), csv.clone().into_bytes()));
        let path = set.path("valid.zip");
        write_zip(&path, &entries);
        let zip = std::fs::read(&path).unwrap();
        // Uncompressed .nii entries, stored: mutations land in NIfTI headers and voxels.
        let mut stored = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for study in &set.studies {
            let mut raw = Vec::new();
            volume::write_mask(
                &mut raw,
                &set.geometry,
                study.raters.first().unwrap_or(&Mask::zeros(SHAPE)),
            )
            .unwrap();
            stored
                .start_file(format!("{}.nii", study.id), options)
                .unwrap();
            std::io::Write::write_all(&mut stored, &raw).unwrap();
        }
        let stored = stored.finish().unwrap().into_inner();
        Fixture {
            set,
            annotations,
            zip,
            stored,
            csv: csv.into_bytes(),
        }
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ];
    proptest::collection::vec(one, 1..6)
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match mutation {
            Mutation::Flip { at, xor } => bytes[at % len] ^= xor,
            Mutation::Set { at, byte } => bytes[at % len] = *byte,
            Mutation::Truncate { at } => bytes.truncate(at % len),
            Mutation::Insert { at, bytes: extra } => {
                let at = at % len;
                bytes.splice(at..at, extra.iter().copied());
            }
        }
    }
    bytes
}

fn score_bytes(name: &str, bytes: &[u8]) {
    let fixture = fixture();
    let path = tempfile::Builder::new()
        .prefix(name)
        .tempfile_in(fixture.set.dir.path())
        .unwrap();
    std::fs::write(path.path(), bytes).unwrap();
    // Any outcome is fine; a panic fails the test.
    let _ = scorer::score(&fixture.annotations, path.path(), &());
    let _ = scorer::validate(&fixture.annotations, path.path(), &());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mutated_archives_never_panic(mutations in mutations()) {
        score_bytes("zip", &apply(fixture().zip.clone(), &mutations));
    }

    #[test]
    fn mutated_stored_archives_never_panic(mutations in mutations()) {
        score_bytes("stored", &apply(fixture().stored.clone(), &mutations));
    }

    #[test]
    fn mutated_tables_never_panic(mutations in mutations()) {
        score_bytes("csv", &apply(fixture().csv.clone(), &mutations));
    }
}

#[test]
fn the_unmutated_fixtures_score() {
    let fixture = fixture();
    for (name, bytes) in [
        ("zip", &fixture.zip),
        ("stored", &fixture.stored),
        ("csv", &fixture.csv),
    ] {
        let path = fixture.set.path(&format!("clean.{name}"));
        std::fs::write(&path, bytes).unwrap();
        scorer::score(&fixture.annotations, &path, &()).unwrap();
    }
}
