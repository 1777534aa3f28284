//! Accounts: argon2 password hashes, API tokens (shown once, stored as sha256), and
//! creating users with a first token.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::db::users::{self, Role};
use crate::db::{Db, tokens};

/// Prefix of every API token, so that secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "tb_";

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// True when `password` matches a hash made by [`hash_password`]; false for a malformed
/// hash as for a wrong password.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new random API token: the prefix and 256 random bits in hex.
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// What is stored for a token: its sha256 in hex. Tokens are random and long, so a fast
/// hash cannot be brute-forced, and lookups stay one indexed equality.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a user with an optional password and a first API token, returned in clear
/// (the only time it is ever shown).
pub async fn create_user_with_token(
    db: &Db,
    name: &str,
    role: Role,
    password: Option<&str>,
) -> anyhow::Result<String> {
    if !users::valid_user_name(name) {
        anyhow::bail!(
            "{name:?} is not a valid user name: use 1 to 40 letters, digits, '_', '.' or '-', starting with a letter or digit"
        );
    }
    let password_hash = password.map(hash_password).transpose()?;
    let token = new_token()?;
    let now = clock::now_ms();
    // The insert comes first: on SQLite a transaction that reads before it writes can fail
    // at once with SQLITE_BUSY when another connection wrote in between.
    let mut tx = db.pool().begin().await?;
    let user_id = match users::insert_user(&mut *tx, name, password_hash.as_deref(), role, now)
        .await
    {
        Ok(id) => id,
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
            anyhow::bail!("a user named {name:?} already exists")
        }
        Err(err) => return Err(anyhow::Error::new(err).context(format!("creating user {name:?}"))),
    };
    tokens::insert_token(&mut *tx, user_id, "first token", &token_hash(&token), now).await?;
    tx.commit().await?;
    Ok(token)
}

/// On a database without organizers, creates the organizer `organizer` and returns its
/// token; `None` when an organizer exists. Safe when several processes start at once.
pub async fn bootstrap_organizer(db: &Db) -> anyhow::Result<Option<String>> {
    let now = clock::now_ms();
    let mut tx = db.pool().begin().await?;
    let Some(user_id) = users::insert_first_organizer(&mut *tx, "organizer", now).await? else {
        return Ok(None);
    };
    let token = new_token()?;
    tokens::insert_token(&mut *tx, user_id, "first start", &token_hash(&token), now).await?;
    tx.commit().await?;
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::{TOKEN_PREFIX, hash_password, new_token, token_hash, verify_password};

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn two_tokens_differ_and_their_hashes_do_not_contain_them() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(token_hash(&a).len(), 64);
        assert!(!token_hash(&a).contains(&a[TOKEN_PREFIX.len()..]));
    }
}
