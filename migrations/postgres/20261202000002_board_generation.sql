-- A counter that changes whenever anything a board shows may have changed (issue 12): any
-- write to submissions (a score, a final, a hidden flag, a rescore starting), to users (a
-- name) or to the test-set version. Every `serve` process keeps its boards in memory and
-- rebuilds one only when this counter moved, so the cache is shared in effect by every
-- process on one database. Statement-level triggers bump it (once per statement), so that
-- no writer can forget to; the bump commits or rolls back with the change.
create table board_generation (
    id integer primary key check (id = 1),
    value bigint not null
);
insert into board_generation (id, value) values (1, 0);

create function bump_board_generation() returns trigger language plpgsql as $$
begin
    update board_generation set value = value + 1 where id = 1;
    return null;
end
$$;

create trigger board_after_submissions after insert or update or delete on submissions
for each statement execute function bump_board_generation();
create trigger board_after_users after update on users
for each statement execute function bump_board_generation();
create trigger board_after_testset after insert or update on testset_version
for each statement execute function bump_board_generation();
