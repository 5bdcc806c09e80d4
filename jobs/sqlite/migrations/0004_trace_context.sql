-- The W3C trace context of the request that submitted a job, so that the
-- runner's spans continue the request's trace ('' when tracing is off).
ALTER TABLE jobs ADD COLUMN trace_context TEXT NOT NULL DEFAULT '';
