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

/// Whether an account may be used (EVALUATION.md 5.4: sign-up in `approval` mode creates
/// pending accounts that an organizer admits or refuses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Logs in and uses tokens.
    Active,
    /// Waits for an organizer; cannot log in or use tokens.
    Pending,
    /// Refused by an organizer; cannot log in or use tokens.
    Refused,
}

impl AccountStatus {
    /// The value stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Pending => "pending",
            AccountStatus::Refused => "refused",
        }
    }

    /// Parses a stored or requested value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(AccountStatus::Active),
            "pending" => Some(AccountStatus::Pending),
            "refused" => Some(AccountStatus::Refused),
            _ => None,
        }
    }

    /// Parses the stored value; anything unknown is refused, the least privileged.
    fn from_column(text: &str) -> Self {
        Self::parse(text).unwrap_or(AccountStatus::Refused)
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

/// Inserts a user and returns their id; fails on a taken name (unique violation), whatever
/// its case.
pub async fn insert_user<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    name: &str,
    password_hash: Option<&str>,
    role: Role,
    status: AccountStatus,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into users (name, password_hash, role, status, created_at)
         values ($1, $2, $3, $4, $5)
         returning id",
    )
    .bind(name)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(status.as_str())
    .bind(now)
    .fetch_one(executor)
    .await
}

/// What log-in needs to know of an account.
#[derive(Clone, Debug)]
pub struct LoginRecord {
    /// Row id.
    pub id: i64,
    /// The argon2 hash; `None` for accounts that log in with tokens only.
    pub password_hash: Option<String>,
    /// Whether the account may be used.
    pub status: AccountStatus,
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    id: i64,
    password_hash: Option<String>,
    status: String,
}

/// The account named `name`, compared without case (names are unique that way).
pub async fn find_login<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    name: &str,
) -> Result<Option<LoginRecord>, sqlx::Error> {
    let row: Option<LoginRow> = sqlx::query_as(
        "select id, password_hash, status
         from users
         where lower(name) = lower($1)",
    )
    .bind(name)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|r| LoginRecord {
        id: r.id,
        password_hash: r.password_hash,
        status: AccountStatus::from_column(&r.status),
    }))
}

/// Sets the password hash of the user `name` (compared without case); false when there is
/// no such user.
pub async fn set_password_hash<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    name: &str,
    hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update users
         set password_hash = $2
         where lower(name) = lower($1)",
    )
    .bind(name)
    .bind(hash)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An account as organizers list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// The name.
    pub name: String,
    /// Participant or organizer.
    pub role: Role,
    /// Whether it may be used.
    pub status: AccountStatus,
    /// Unix milliseconds.
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    name: String,
    role: String,
    status: String,
    created_at: i64,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            role: Role::parse(&row.role),
            status: AccountStatus::from_column(&row.status),
            created_at: row.created_at,
        }
    }
}

/// Every account, or those with one status, oldest first.
pub async fn list_accounts<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    status: Option<AccountStatus>,
) -> Result<Vec<Account>, sqlx::Error> {
    let rows: Vec<AccountRow> = sqlx::query_as(
        "select id, name, role, status, created_at
         from users
         where $1 is null or status = $1
         order by id",
    )
    .bind(status.map(AccountStatus::as_str))
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(Account::from).collect())
}

/// One account.
pub async fn find_account<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
) -> Result<Option<Account>, sqlx::Error> {
    let row: Option<AccountRow> = sqlx::query_as(
        "select id, name, role, status, created_at
         from users
         where id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(Account::from))
}

/// Moves an account from status `from` to `to`; false when it is not in `from` (any
/// more: another organizer may have decided first).
pub async fn change_status<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: i64,
    from: AccountStatus,
    to: AccountStatus,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update users
         set status = $3
         where id = $1
           and status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
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
         on conflict do nothing
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

/// Names the service gives its own accounts (the first organizer, the reference
/// baselines' owner); sign-up refuses them.
pub const RESERVED_NAMES: [&str; 2] = ["organizer", crate::baselines::REFERENCE_USER];

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
    // No conflict target: a name taken in another case violates `users_by_lower_name`,
    // not `name`'s own constraint, and must be skipped the same way.
    sqlx::query(
        "insert into users (name, role, created_at) values ($1, $2, $3) on conflict do nothing",
    )
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
    use super::{AccountStatus, Role, valid_user_name};

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

    #[test]
    fn an_unknown_stored_status_is_refused_and_statuses_read_back() {
        assert_eq!(AccountStatus::from_column("banned"), AccountStatus::Refused);
        for status in [
            AccountStatus::Active,
            AccountStatus::Pending,
            AccountStatus::Refused,
        ] {
            assert_eq!(AccountStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(AccountStatus::parse("Pending"), None);
    }
}
