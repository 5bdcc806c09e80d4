-- Batch controls (pause, retry failed, delete), a per-user cap on running
-- jobs, request ids and batch webhooks, and operator stats.

-- paused: batch parents only; their pending children are not leased.
ALTER TABLE jobs ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
-- webhook_*: batch parents only; empty URL means none.
ALTER TABLE jobs ADD COLUMN webhook_url TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';
-- first_change_seq: batch parents only, the seq of the batch's first change
-- (its submission): deleting the batch searches the user's changes from
-- there, where an index on changes.batch_id would cost every change a
-- write. 0 for batches submitted before it was kept.
ALTER TABLE jobs ADD COLUMN first_change_seq INTEGER NOT NULL DEFAULT 0;

-- running: the user's jobs in status running (not finalize tasks);
-- max_running: the cap from the user's latest submission, 0 = none.
ALTER TABLE queue_users ADD COLUMN running INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_users ADD COLUMN max_running INTEGER NOT NULL DEFAULT 0;

INSERT OR IGNORE INTO queue_users (user_id)
	SELECT DISTINCT user_id FROM jobs WHERE status = 'running' AND type != 'BATCH_PARENT';
UPDATE queue_users SET running = (SELECT count(*) FROM jobs
	WHERE jobs.user_id = queue_users.user_id AND jobs.status = 'running' AND jobs.type != 'BATCH_PARENT');

-- Stats: batch parents by model (children are counted from their
-- parents' counters), individual jobs by model and status, and children
-- waiting for a retry backoff. A child is pending with attempt > 0 only
-- after a failed attempt, so the last index is written only on retries,
-- not on every lease and completion.
CREATE INDEX jobs_parents_model ON jobs (model) WHERE type = 'BATCH_PARENT';
CREATE INDEX jobs_individual_stats ON jobs (model, status, available_at) WHERE type = 'INDIVIDUAL';
CREATE INDEX jobs_children_retry ON jobs (available_at)
	WHERE type = 'BATCH_CHILD' AND status = 'pending' AND attempt > 0;
