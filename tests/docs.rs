//! The repository's copy of the scoring contract stays the contract.

use std::path::Path;

#[test]
fn docs_evaluation_md_is_the_shared_contract_word_for_word() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/spec/EVALUATION.md");
    let Ok(contract) = std::fs::read_to_string(&shared) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing under CI",
            shared.display()
        );
        eprintln!("skipped: {} is not beside this checkout", shared.display());
        return;
    };
    let copy = std::fs::read_to_string(root.join("docs/EVALUATION.md")).unwrap();
    assert_eq!(
        copy, contract,
        "docs/EVALUATION.md differs from shared/spec/EVALUATION.md: copy it again"
    );
}
