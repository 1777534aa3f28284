-- EVALUATION.md section 5: live scores over the public split, final scores over the private
-- split, final submissions, and what organizers see of probing. `scores_json` keeps the
-- scores over the whole test set (organizers only).
alter table submissions add column public_scores_json text;
alter table submissions add column private_scores_json text;
-- When the participant marked it final (Unix ms); null while it is not.
alter table submissions add column final_at bigint;
-- When the participant withdrew a final entry from the board; it still counts.
alter table submissions add column withdrawn_at bigint;
-- The reference model behind a baseline entry (its card is /models/<name>).
alter table submissions add column reference_model text;
-- 1 when the per-study predictions look like a probe (organizers only).
alter table submissions add column probe_like bigint not null default 0;

create index submissions_by_user_final on submissions (user_id, final_at);

-- Reference baselines are final by default.
update submissions set final_at = created_at where baseline = 1;
