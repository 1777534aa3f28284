//! The `sessions` table: browser sessions, stored as the sha256 of the cookie's value.

use sqlx::{Any, Executor};

use super::users::{Role, User};

/// Stores a new session.
pub async fn insert_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id_hash: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into sessions (id_hash, user_id, created_at, expires_at)
         values ($1, $2, $3, $4)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(executor)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SessionUser {
    id: i64,
    name: String,
    role: String,
}

/// The user of a session that has not expired, if the account is active.
pub async fn find_user_by_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id_hash: &str,
    now: i64,
) -> Result<Option<User>, sqlx::Error> {
    let row: Option<SessionUser> = sqlx::query_as(
        "select u.id, u.name, u.role
         from sessions s
         join users u on u.id = s.user_id
         where s.id_hash = $1
           and s.expires_at > $2
           and u.status = 'active'",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|r| User {
        id: r.id,
        name: r.name,
        role: Role::parse(&r.role),
    }))
}

/// Ends a session.
pub async fn delete_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "delete from sessions
         where id_hash = $1",
    )
    .bind(id_hash)
    .execute(executor)
    .await?;
    Ok(())
}

/// Ends every session of a user but the one whose hash is `keep` (after a password
/// change: whoever knew the old password is logged out everywhere else).
pub async fn delete_other_sessions<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
    keep: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "delete from sessions
         where user_id = $1 and id_hash <> $2",
    )
    .bind(user_id)
    .bind(keep)
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}
