//! Accounts: argon2 password hashes, API tokens (shown once, stored as sha256), creating
//! users with a first token, checking a log-in in constant time, and organizers'
//! decisions on pending accounts.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::db::users::{self, Account, AccountStatus, Role};
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
    let inserted = users::insert_user(
        &mut *tx,
        name,
        password_hash.as_deref(),
        role,
        AccountStatus::Active,
        now,
    )
    .await;
    let user_id = match inserted {
        Ok(id) => id,
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
            anyhow::bail!(
                "a user named {name:?} already exists (names are compared without regard to case)"
            )
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

/// Sets the log-in password of the user `name` (any case), which must exist.
pub async fn set_password(db: &Db, name: &str, password: &str) -> anyhow::Result<()> {
    let hash = hash_password(password)?;
    if !users::set_password_hash(db.pool(), name, &hash).await? {
        anyhow::bail!("there is no user {name:?}");
    }
    Ok(())
}

/// Changes the password of `name` when `current` is its password (one argon2
/// verification, as at log-in); false, and nothing changed, when it is not.
pub async fn change_password(
    db: &Db,
    name: &str,
    current: &str,
    new: &str,
) -> anyhow::Result<bool> {
    let hash = users::find_login(db.pool(), name)
        .await?
        .and_then(|record| record.password_hash);
    let (current, new) = (current.to_owned(), new.to_owned());
    let dummy = dummy_hash()?;
    let new_hash = tokio::task::spawn_blocking(move || {
        let right = verify_password(&current, hash.as_deref().unwrap_or(dummy));
        (right && hash.is_some())
            .then(|| hash_password(&new))
            .transpose()
    })
    .await
    .map_err(|e| anyhow::anyhow!("verifying a password: {e}"))??;
    let Some(new_hash) = new_hash else {
        return Ok(false);
    };
    Ok(users::set_password_hash(db.pool(), name, &new_hash).await?)
}

/// The hash that log-in verifies against when the name is unknown or has no password, so
/// that every log-in costs one argon2 verification and its time tells nothing about the
/// name. It is the hash of a random password nobody knows, made once with the same
/// parameters as real hashes.
fn dummy_hash() -> anyhow::Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let hash = hash_password(&hex(&secret))?;
    Ok(DUMMY.get_or_init(|| hash))
}

/// What a log-in attempt comes to. The status of an account is told only after its right
/// password, so that a guesser learns nothing from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The password is right and the account active: the user's id.
    Active(i64),
    /// The password is right but an organizer has not admitted the account yet.
    Pending,
    /// The password is right but an organizer refused the account.
    Refused,
    /// Unknown name, an account without a password, or a wrong password.
    Wrong,
}

/// Checks `name` (without regard to case) and `password` with exactly one argon2
/// verification, against a dummy hash when the name is unknown or has no password.
pub async fn check_login(db: &Db, name: &str, password: &str) -> anyhow::Result<LoginOutcome> {
    let found = users::find_login(db.pool(), name)
        .await?
        .and_then(|record| Some((record.id, record.status, record.password_hash?)));
    let password = password.to_owned();
    let dummy = dummy_hash()?;
    tokio::task::spawn_blocking(move || {
        let hash = found.as_ref().map_or(dummy, |(_, _, hash)| hash.as_str());
        let right = verify_password(&password, hash);
        match found {
            Some((id, status, _)) if right => match status {
                AccountStatus::Active => LoginOutcome::Active(id),
                AccountStatus::Pending => LoginOutcome::Pending,
                AccountStatus::Refused => LoginOutcome::Refused,
            },
            _ => LoginOutcome::Wrong,
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("verifying a password: {e}"))
}

/// An organizer's decision on an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admit it (a pending or refused account becomes active).
    Approve,
    /// Refuse it (a pending account only).
    Refuse,
}

/// Why a decision could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// No account has this id.
    #[error("no account {0}")]
    NoSuchAccount(i64),
    /// Refusing is for accounts that wait; an active one stays active.
    #[error("account {id} ({name}) is active: only pending accounts can be refused")]
    AlreadyActive {
        /// The account's id.
        id: i64,
        /// Its name.
        name: String,
    },
    /// The database failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
}

/// Approves or refuses account `id` and returns it as it is now. Deciding again what was
/// decided is no error (two organizers may click at once).
pub async fn decide(db: &Db, id: i64, decision: Decision) -> Result<Account, DecisionError> {
    let account = users::find_account(db.pool(), id)
        .await?
        .ok_or(DecisionError::NoSuchAccount(id))?;
    let target = match decision {
        Decision::Approve => AccountStatus::Active,
        Decision::Refuse => AccountStatus::Refused,
    };
    if account.status == target {
        return Ok(account);
    }
    if decision == Decision::Refuse && account.status == AccountStatus::Active {
        return Err(DecisionError::AlreadyActive {
            id,
            name: account.name,
        });
    }
    users::change_status(db.pool(), id, account.status, target).await?;
    users::find_account(db.pool(), id)
        .await?
        .ok_or(DecisionError::NoSuchAccount(id))
}

#[cfg(test)]
mod tests {
    use super::{TOKEN_PREFIX, dummy_hash, hash_password, new_token, token_hash, verify_password};

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

    #[test]
    fn the_dummy_hash_is_made_once_like_a_real_one_and_matches_no_guess() {
        let dummy = dummy_hash().unwrap();
        assert!(std::ptr::eq(dummy, dummy_hash().unwrap()));
        let real = hash_password("x").unwrap();
        let params = |h: &str| h.rsplitn(3, '$').nth(2).unwrap().to_owned();
        assert_eq!(params(dummy), params(&real), "same argon2 parameters");
        assert!(!verify_password("", dummy));
        assert!(!verify_password("password", dummy));
    }
}
