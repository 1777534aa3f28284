//! The `users` table: participants and organizers.

use sqlx::{Any, Executor};

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Submits and sees their own submissions.
    Participant,
    /// Also sees every submission, rescores, hides and flags baselines.
    Organizer,
}

impl Role {
    /// The value stored in the `role` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Participant => "participant",
            Role::Organizer => "organizer",
        }
    }

    /// Parses the stored value; anything unknown is the least privileged role.
    pub fn parse(text: &str) -> Self {
        match text {
            "organizer" => Role::Organizer,
            _ => Role::Participant,
        }
    }
}

/// A user as the service sees them after authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Unique name shown on the board.
    pub name: String,
    /// Participant or organizer.
    pub role: Role,
}

impl User {
    /// True for organizers.
    pub fn is_organizer(&self) -> bool {
        self.role == Role::Organizer
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    name: String,
    role: String,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            role: Role::parse(&row.role),
        }
    }
}

/// Inserts a user and returns their id; fails on a taken name (unique violation).
pub async fn insert_user<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    name: &str,
    password_hash: Option<&str>,
    role: Role,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into users (name, password_hash, role, created_at)
         values ($1, $2, $3, $4)
         returning id",
    )
    .bind(name)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .fetch_one(executor)
    .await
}

/// Inserts an organizer named `name` only if there is no organizer yet; returns the new
/// id, or `None` when an organizer exists (or another process created this one first).
pub async fn insert_first_organizer<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    name: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "insert into users (name, role, created_at)
         select $1, 'organizer', $2
         where not exists (select 1 from users where role = 'organizer')
         on conflict (name) do nothing
         returning id",
    )
    .bind(name)
    .bind(now)
    .fetch_optional(executor)
    .await
}

/// Touches the user's row: inside a transaction this serializes the user's uploads, so
/// the quota check that follows sees every upload committed before it (a row lock on
/// PostgreSQL, the database's write lock on SQLite).
pub async fn lock_user_for_submission<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update users
         set last_submission_at = $2
         where id = $1",
    )
    .bind(user_id)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}

/// Checks a user name: 1 to 40 characters, letters, digits, `_`, `.`, `-`, starting with a
/// letter or digit.
pub fn valid_user_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The id of user `name`, created with `role` (and no password) if missing.
pub async fn ensure_user(
    pool: &sqlx::AnyPool,
    name: &str,
    role: Role,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query("insert into users (name, role, created_at) values ($1, $2, $3) on conflict (name) do nothing")
        .bind(name)
        .bind(role.as_str())
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query_scalar("select id from users where name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::{Role, valid_user_name};

    #[test]
    fn user_names_are_short_plain_words() {
        assert!(valid_user_name("alice"));
        assert!(valid_user_name("team-42.b_c"));
        assert!(!valid_user_name(""));
        assert!(!valid_user_name("-alice"));
        assert!(!valid_user_name("a b"));
        assert!(!valid_user_name("<script>"));
        assert!(!valid_user_name(&"a".repeat(41)));
    }

    #[test]
    fn an_unknown_role_is_a_participant() {
        assert_eq!(Role::parse("organizer"), Role::Organizer);
        assert_eq!(Role::parse("admin"), Role::Participant);
    }
}
