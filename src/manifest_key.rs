//! Which key a manifest's digests of private files are made or checked with: the organizers'
//! key file (`dataset manifest --key`, `--manifest-key` elsewhere), or, for the synthetic
//! demo's manifest only, the public [`scorer::manifest::DEMO_KEY`].

use std::io;
use std::path::Path;

use anyhow::{Context, bail};
use scorer::manifest::{DEMO_KEY, DEMO_NAME, Manifest, ManifestError, ManifestKey};

/// How error messages name the key option of `dataset verify`, `score`, `serve` and `worker`.
const CHECK_FLAG: &str = "--manifest-key FILE (or TRIAGEBOARD_MANIFEST_KEY)";

/// The key to check `manifest` (read from `manifest_path`) with: the one in `key_file`, or
/// the public demo key for the synthetic demo's manifest. A key that is not the one the
/// manifest was built with is refused here, naming the option, before any file is compared.
pub fn for_checking(
    manifest: &Manifest,
    manifest_path: &Path,
    key_file: Option<&Path>,
) -> anyhow::Result<ManifestKey> {
    let key = match key_file {
        Some(path) => ManifestKey::load(path)
            .with_context(|| format!("reading the key of --manifest-key {}", path.display()))?,
        None => match manifest.default_key() {
            Some(key) => key,
            None => bail!(
                "{} digests its private files under its organizers' secret key: give the key file with {CHECK_FLAG}",
                manifest_path.display()
            ),
        },
    };
    manifest.check_key(&key).with_context(|| match key_file {
        Some(path) => format!(
            "--manifest-key {} does not fit {}",
            path.display(),
            manifest_path.display()
        ),
        None => format!(
            "{} is named {DEMO_NAME:?} but was not built with the public demo key: give its key file with {CHECK_FLAG}",
            manifest_path.display()
        ),
    })?;
    Ok(key)
}

/// The key to build the manifest `name` with (`dataset manifest --key FILE`): the one in
/// `key_file`, or a fresh random key written there (owner-only) when the file is missing.
/// Without a key file only the synthetic demo's manifest can be built, with its public key.
pub fn for_building(name: &str, key_file: Option<&Path>) -> anyhow::Result<ManifestKey> {
    let Some(path) = key_file else {
        if name == DEMO_NAME {
            eprintln!(
                "keying the digests with the public demo key: the synthetic set is public, so nothing about it is secret"
            );
            return Ok(DEMO_KEY);
        }
        bail!(
            "give --key FILE: the manifest's digests of private files are keyed with the secret in FILE (a missing FILE is created with a fresh random key)"
        );
    };
    match ManifestKey::load(path) {
        Ok(key) => Ok(key),
        Err(ManifestError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let key = ManifestKey::from_bytes(bytes);
            key.write_new(path)
                .with_context(|| format!("creating the key file --key {}", path.display()))?;
            eprintln!(
                "created a new manifest key in {}: keep it private, with the annotations (whoever holds it can confirm a guessed label against the manifest); checking the annotations against the manifest needs it",
                path.display()
            );
            Ok(key)
        }
        Err(err) => {
            Err(err).with_context(|| format!("reading the key of --key {}", path.display()))
        }
    }
}
