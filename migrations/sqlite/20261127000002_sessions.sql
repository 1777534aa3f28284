-- Browser sessions: the cookie holds a random id, the table its sha256.
create table sessions (
    id_hash text primary key,
    user_id integer not null references users (id),
    created_at integer not null,
    expires_at integer not null
);

create index sessions_by_expiry on sessions (expires_at);
