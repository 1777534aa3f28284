-- Secrets the service generates once and keeps with its database: the key that draws the
-- test set's public/private split, seeds the bootstrap and binds CSRF tokens to sessions
-- (see src/service_key.rs). Never shown to anyone.
create table service_keys (
    name text primary key,
    value text not null
);
