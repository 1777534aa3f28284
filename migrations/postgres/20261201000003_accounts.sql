-- Accounts an organizer admits (EVALUATION.md 5.4): a status per user, and names unique
-- whatever their case, so that `Alice` cannot sign up beside `alice` and log-in finds a
-- name however it is typed. Existing users stay active. Creating the index fails on a
-- database that already holds two names differing only in case: rename one of them
-- first (docs/server.md gives the query).
alter table users
    add column status text not null default 'active'
    check (status in ('active', 'pending', 'refused'));

create unique index users_by_lower_name on users (lower(name));
