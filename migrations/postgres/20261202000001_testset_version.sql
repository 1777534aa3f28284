-- The one version of the test set this database is on (issue 11): scores record it, the
-- boards show only entries scored on it, and a process started with other annotations is
-- refused. `files_json` maps each annotation file to its sha256, so that the refusal can say
-- which file changed; it is as secret as the annotations. One row; changed only by
-- `triageboard testset adopt`, which queues every submission to be scored again.
create table testset_version (
    id integer primary key check (id = 1),
    version text not null,
    files_json text not null,
    adopted_at bigint not null
);
