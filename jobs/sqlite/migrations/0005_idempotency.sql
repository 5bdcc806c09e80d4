-- A submission's idempotency key and the fingerprint of the work it asked
-- for, on the job or batch parent it recorded (NULL elsewhere): a repeat
-- under the key answers that job instead of recording the work twice.
-- Deleting the job frees the key.
ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
ALTER TABLE jobs ADD COLUMN request_fingerprint TEXT;
CREATE UNIQUE INDEX jobs_user_idempotency_key ON jobs (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
