//! The repository's copy of the scoring contract stays the contract.
//!
//! The project stands alone: a clone without `../shared` beside it checks its copy against
//! the contract's sha256, pinned here; a checkout with `../shared` also compares the two
//! files, so that a new contract is noticed (then copy it and update the digest).

use std::path::Path;

use sha2::{Digest, Sha256};

/// sha256 of `shared/spec/EVALUATION.md` as of its section 5.
const CONTRACT_SHA256: &str = "774a71527924c3856634ffafa706a2dcbc53d028d1c181719b8b2040d8d7cde5";

#[test]
fn docs_evaluation_md_is_the_shared_contract_word_for_word() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = std::fs::read_to_string(root.join("docs/EVALUATION.md")).unwrap();
    let digest = sha2_hex(copy.as_bytes());
    assert_eq!(
        digest, CONTRACT_SHA256,
        "docs/EVALUATION.md is not the pinned contract"
    );
    let shared = root.join("../shared/spec/EVALUATION.md");
    if let Ok(contract) = std::fs::read_to_string(&shared) {
        assert_eq!(
            copy, contract,
            "docs/EVALUATION.md differs from shared/spec/EVALUATION.md: copy it again and pin its sha256 here"
        );
    }
}

fn sha2_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
