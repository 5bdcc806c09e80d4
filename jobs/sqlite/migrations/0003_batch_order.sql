-- A batch's children in input order, whatever their status: the results
-- table and the exports read whole batches this way, page by page. idx
-- and batch_id never change, so status updates do not touch this index.
CREATE INDEX jobs_batch_order ON jobs (batch_id, idx) WHERE type = 'BATCH_CHILD';
