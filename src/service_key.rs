//! The service's own secret: 256 random bits generated on the first start and kept in the
//! database (`service_keys`), so that every `serve` and `worker` on one database shares it.
//!
//! Everything the service must decide secretly but reproducibly is derived from it with
//! HMAC-SHA256 under a purpose string: the test set's public/private split, the bootstrap
//! seed (so that published intervals cannot be recomputed offline to confirm a guessed
//! labelling) and the CSRF tokens of signed-in sessions.

use anyhow::Context;
use hmac::{KeyInit, Mac};
use sqlx::{Any, Executor};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The name of the key's row.
const NAME: &str = "service";

/// The service's secret key.
#[derive(Clone)]
pub struct ServiceKey([u8; 32]);

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceKey(..)")
    }
}

impl ServiceKey {
    /// A key from its bytes (tests, and the demo's fixed split when one is wanted).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// HMAC-SHA256 of `data` under the key, for one `purpose` (domain separation).
    pub fn derive(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The first 8 bytes of [`ServiceKey::derive`] as a number (seeds).
    pub fn derive_u64(&self, purpose: &str, data: &[u8]) -> u64 {
        let bytes = self.derive(purpose, data);
        u64::from_be_bytes(bytes[..8].try_into().expect("8 of 32 bytes"))
    }
}

/// Reads the service key, creating it on the first start. Safe when several processes
/// start at once: the insert does nothing if another one won, and everyone reads the row.
pub async fn load_or_create<'c, E>(executor: E) -> anyhow::Result<ServiceKey>
where
    E: Executor<'c, Database = Any> + Copy,
{
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    sqlx::query(
        "insert into service_keys (name, value)
         values ($1, $2)
         on conflict (name) do nothing",
    )
    .bind(NAME)
    .bind(crate::accounts::hex(&fresh))
    .execute(executor)
    .await
    .context("storing the service key")?;
    let stored: String = sqlx::query_scalar(
        "select value
         from service_keys
         where name = $1",
    )
    .bind(NAME)
    .fetch_one(executor)
    .await
    .context("reading the service key")?;
    parse_hex(&stored)
        .map(ServiceKey)
        .context("the stored service key is not 64 hex digits")
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{ServiceKey, parse_hex};

    #[test]
    fn derivations_differ_by_purpose_and_by_key() {
        let a = ServiceKey::from_bytes([1; 32]);
        let b = ServiceKey::from_bytes([2; 32]);
        assert_ne!(a.derive("split", b"x"), a.derive("csrf", b"x"));
        assert_ne!(a.derive("split", b"x"), b.derive("split", b"x"));
        assert_eq!(a.derive("split", b"x"), a.derive("split", b"x"));
    }

    #[test]
    fn the_stored_form_reads_back() {
        let hex = crate::accounts::hex(&[0xab; 32]);
        assert_eq!(parse_hex(&hex), Some([0xab; 32]));
        assert_eq!(parse_hex("ab"), None);
        assert_eq!(parse_hex(&"zz".repeat(32)), None);
    }
}
