-- The initial schema (SQLite). Times are Unix milliseconds (UTC); flags are 0/1 integers,
-- so that the same queries read alike on SQLite and PostgreSQL through sqlx's Any driver.

create table users (
    id integer primary key autoincrement,
    name text not null unique,
    password_hash text,
    role text not null check (role in ('participant', 'organizer')),
    created_at integer not null,
    -- Written by every upload: it serializes one user's uploads (the quota check).
    last_submission_at integer
);

create table api_tokens (
    id integer primary key autoincrement,
    user_id integer not null references users (id),
    name text not null,
    -- sha256 of the token: tokens carry 256 random bits, so a fast hash is enough.
    token_hash text not null unique,
    created_at integer not null,
    last_used_at integer,
    revoked_at integer
);

create table submissions (
    id integer primary key autoincrement,
    user_id integer not null references users (id),
    status text not null check (status in ('queued', 'running', 'scored', 'failed')),
    file_name text not null,
    stored_path text not null,
    size_bytes integer not null,
    sha256 text not null,
    method text not null,
    description text not null,
    paper_url text,
    code_url text,
    baseline integer not null default 0,
    hidden integer not null default 0,
    created_at integer not null,
    created_day integer not null,
    scored_at integer,
    scores_json text,
    error text,
    details_json text,
    manifest_version text,
    scoring_ms integer
);

create index submissions_by_user_day on submissions (user_id, created_day);
create index submissions_by_status on submissions (status);

-- Per-study outcomes of a scored submission: hidden categories and ground truth.
-- Organizers only; the board uses them for paired tests and publishes aggregates.
create table outcomes (
    submission_id integer primary key references submissions (id),
    outcomes_json text not null
);

-- The scoring queue: one row per submission to score; deleted with the result.
create table jobs (
    submission_id integer primary key references submissions (id),
    state text not null check (state in ('queued', 'running')),
    attempts integer not null default 0,
    lease_until integer,
    worker text,
    enqueued_at integer not null
);

create index jobs_by_state on jobs (state, enqueued_at);
