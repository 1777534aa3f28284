-- A counter that changes whenever anything a board shows may have changed (issue 12): any
-- write to submissions (a score, a final, a hidden flag, a rescore starting), to users (a
-- name) or to the test-set version. Every `serve` process keeps its boards in memory and
-- rebuilds one only when this counter moved, so the cache is shared in effect by every
-- process on one database. Triggers bump it, so that no writer can forget to.
create table board_generation (
    id integer primary key check (id = 1),
    value bigint not null
);
insert into board_generation (id, value) values (1, 0);

create trigger board_after_submission_insert after insert on submissions
begin update board_generation set value = value + 1 where id = 1; end;
create trigger board_after_submission_update after update on submissions
begin update board_generation set value = value + 1 where id = 1; end;
create trigger board_after_submission_delete after delete on submissions
begin update board_generation set value = value + 1 where id = 1; end;
create trigger board_after_user_update after update on users
begin update board_generation set value = value + 1 where id = 1; end;
create trigger board_after_testset_insert after insert on testset_version
begin update board_generation set value = value + 1 where id = 1; end;
create trigger board_after_testset_update after update on testset_version
begin update board_generation set value = value + 1 where id = 1; end;
