//! The `api_tokens` table: bearer tokens, stored as their sha256.

use sqlx::{Any, Executor};

use super::users::{Role, User};

/// Stores a token's hash for a user and returns the token's id.
pub async fn insert_token<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
    name: &str,
    token_hash: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into api_tokens (user_id, name, token_hash, created_at)
         values ($1, $2, $3, $4)
         returning id",
    )
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .bind(now)
    .fetch_one(executor)
    .await
}

#[derive(sqlx::FromRow)]
struct TokenUser {
    id: i64,
    name: String,
    role: String,
}

/// The user holding a token that is not revoked, if the account is active (a pending or
/// refused account's tokens do nothing).
pub async fn find_user_by_token_hash<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    token_hash: &str,
) -> Result<Option<User>, sqlx::Error> {
    let row: Option<TokenUser> = sqlx::query_as(
        "select u.id, u.name, u.role
         from api_tokens t
         join users u on u.id = t.user_id
         where t.token_hash = $1
           and t.revoked_at is null
           and u.status = 'active'",
    )
    .bind(token_hash)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|r| User {
        id: r.id,
        name: r.name,
        role: Role::parse(&r.role),
    }))
}

/// Revokes one of a user's tokens; false when the user has no such live token.
pub async fn revoke_token<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
    token_id: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update api_tokens
         set revoked_at = $3
         where id = $2
           and user_id = $1
           and revoked_at is null",
    )
    .bind(user_id)
    .bind(token_id)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A token as the settings page lists it (never the token itself).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenInfo {
    /// Row id.
    pub id: i64,
    /// The name given at creation.
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds, when revoked.
    pub revoked_at: Option<i64>,
}

/// A user's tokens, newest first.
pub async fn list_tokens<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
) -> Result<Vec<TokenInfo>, sqlx::Error> {
    sqlx::query_as(
        "select id, name, created_at, revoked_at
         from api_tokens
         where user_id = $1
         order by id desc",
    )
    .bind(user_id)
    .fetch_all(executor)
    .await
}
