-- Jobs, batch parents and batch children in one table. Times are Unix
-- nanoseconds (UTC); 0 means unset.
CREATE TABLE jobs (
	id               TEXT PRIMARY KEY,
	user_id          TEXT NOT NULL,
	type             TEXT NOT NULL,
	batch_id         TEXT NOT NULL DEFAULT '',
	idx              INTEGER NOT NULL DEFAULT 0,
	model            TEXT NOT NULL,
	model_version    TEXT NOT NULL DEFAULT '',
	name             TEXT NOT NULL DEFAULT '',
	input            BLOB,
	content_key      TEXT NOT NULL DEFAULT '',
	status           TEXT NOT NULL,
	attempt          INTEGER NOT NULL DEFAULT 0,
	max_attempts     INTEGER NOT NULL,
	available_at     INTEGER NOT NULL DEFAULT 0,
	lease_owner      TEXT NOT NULL DEFAULT '',
	lease_expires_at INTEGER NOT NULL DEFAULT 0,
	cancel_requested INTEGER NOT NULL DEFAULT 0,
	error            TEXT NOT NULL DEFAULT '',
	result           BLOB,
	reused_from      TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	started_at       INTEGER NOT NULL DEFAULT 0,
	finished_at      INTEGER NOT NULL DEFAULT 0,
	updated_at       INTEGER NOT NULL,
	-- batch parents only
	n_total          INTEGER NOT NULL DEFAULT 0,
	n_pending        INTEGER NOT NULL DEFAULT 0,
	n_running        INTEGER NOT NULL DEFAULT 0,
	n_completed      INTEGER NOT NULL DEFAULT 0,
	n_failed         INTEGER NOT NULL DEFAULT 0,
	n_cancelled      INTEGER NOT NULL DEFAULT 0,
	finalize_state   TEXT NOT NULL DEFAULT '',
	finalized_at     INTEGER NOT NULL DEFAULT 0,
	last_leased_seq  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- A user's jobs and batches, newest first.
CREATE INDEX jobs_user_type_created ON jobs (user_id, type, created_at DESC);
-- A batch's children in input order, by status.
CREATE INDEX jobs_batch_children ON jobs (batch_id, status, idx) WHERE type = 'BATCH_CHILD';
-- Pending individual jobs per user, oldest first.
CREATE INDEX jobs_pending_individual ON jobs (user_id, model, created_at)
	WHERE status = 'pending' AND type = 'INDIVIDUAL';
-- A user's open batches, least recently served first.
CREATE INDEX jobs_open_batches ON jobs (user_id, last_leased_seq)
	WHERE type = 'BATCH_PARENT' AND status IN ('pending', 'running');
-- Leases to rescue.
CREATE INDEX jobs_running_expiry ON jobs (lease_expires_at) WHERE status = 'running';
-- Finalize tasks.
CREATE INDEX jobs_finalize ON jobs (finalize_state, lease_expires_at)
	WHERE type = 'BATCH_PARENT' AND finalize_state IN ('pending', 'leased');

-- Users with pending work, least recently served first: round-robin
-- across users.
CREATE TABLE queue_users (
	user_id         TEXT PRIMARY KEY,
	pending         INTEGER NOT NULL DEFAULT 0,
	last_leased_seq INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX queue_users_waiting ON queue_users (last_leased_seq) WHERE pending > 0;

-- Completed results by content key, per user: identical work runs once.
CREATE TABLE results_cache (
	user_id     TEXT NOT NULL,
	content_key TEXT NOT NULL,
	job_id      TEXT NOT NULL,
	PRIMARY KEY (user_id, content_key)
) STRICT;

CREATE TABLE milestones (
	batch_id TEXT NOT NULL,
	percent  INTEGER NOT NULL,
	at       INTEGER NOT NULL,
	PRIMARY KEY (batch_id, percent)
) STRICT;

-- The change feed: one row per job or batch change, in commit order.
CREATE TABLE changes (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id  TEXT NOT NULL,
	job_id   TEXT NOT NULL,
	batch_id TEXT NOT NULL DEFAULT '',
	type     TEXT NOT NULL,
	status   TEXT NOT NULL,
	at       INTEGER NOT NULL
);
CREATE INDEX changes_user_seq ON changes (user_id, seq);

-- Counters: the lease sequence that orders round-robin service.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;
INSERT INTO counters (name, value) VALUES ('lease_seq', 0);
