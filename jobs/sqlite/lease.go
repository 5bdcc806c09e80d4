package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"omtx/jobs"
)

// JobLease implements jobs.Store. Finalize tasks come first (they are
// short and a user is waiting for them); then users are served
// round-robin, least recently served first; within a user, individual jobs
// come before batch children, and batches are served round-robin; within a
// batch, children go in input order. Users with as many jobs running as
// their cap allow wait, and paused batches are passed over. A job whose
// identical work already completed is completed from that result here and
// never handed out (and stays completed when nothing else is left to hand
// out).
func (s *Store) JobLease(ctx context.Context, p jobs.LeaseParams) (*jobs.Job, error) {
	if p.Owner == "" {
		return nil, jobs.FieldError("owner", "is required")
	}
	if p.TTL <= 0 {
		return nil, jobs.FieldError("ttl", "must be positive")
	}
	var leased *jobs.Job
	err := s.tx(ctx, func(tx *wtx) error {
		now := s.now()
		expires := now + p.TTL.Nanoseconds()
		if p.Finalize {
			// The IN term lets the partial index jobs_finalize serve.
			b, err := s.loadJob(ctx, tx, `type = 'BATCH_PARENT' AND finalize_state IN ('pending', 'leased')
				AND finalize_state = 'pending' AND available_at <= ?
				ORDER BY finished_at LIMIT 1`, now)
			if err == nil {
				_, err = tx.ExecContext(ctx, `UPDATE jobs SET finalize_state = 'leased', attempt = attempt + 1, lease_owner = ?,
					lease_expires_at = ?, updated_at = ? WHERE id = ?`, p.Owner, expires, now, b.ID)
				if err != nil {
					return err
				}
				leased, err = s.withLease(ctx, tx, b.ID)
				return err
			}
			if !jobs.IsCode(err, jobs.ErrNotFound) {
				return err
			}
		}
		if len(p.Models) == 0 {
			return jobs.Errorf(jobs.ErrNoWork, "no work")
		}
		for reused := 0; ; {
			j, err := s.pick(ctx, tx, p.Models, now)
			if jobs.IsCode(err, jobs.ErrNoWork) && reused > 0 {
				// Keep the jobs completed from identical work: commit, and
				// answer no work after.
				leased = nil
				return nil
			}
			if err != nil {
				return err
			}
			from, result, hit, err := cached(ctx, tx, j.UserID, j.ContentKey)
			if err != nil {
				return err
			}
			if hit {
				if err := s.completeFromCache(ctx, tx, j, from, result, now); err != nil {
					return err
				}
				reused++
				continue
			}
			if err := s.leaseJob(ctx, tx, j, p.Owner, expires, now); err != nil {
				return err
			}
			leased, err = s.withLease(ctx, tx, j.ID)
			return err
		}
	})
	if err != nil {
		if jobs.IsCode(err, jobs.ErrNoWork) || jobs.IsCode(err, jobs.ErrInvalid) {
			return nil, err
		}
		return nil, fmt.Errorf("lease: %w", err)
	}
	if leased == nil {
		return nil, jobs.Errorf(jobs.ErrNoWork, "no work")
	}
	return leased, nil
}

// leaseJob hands a pending job to owner until expires.
func (s *Store) leaseJob(ctx context.Context, tx *wtx, j *jobs.Job, owner string, expires, now int64) error {
	if err := jobs.CheckTransition(j.ID, j.Status, jobs.StatusRunning); err != nil {
		return err
	}
	seq, err := nextLeaseSeq(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE jobs SET status = 'running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?,
		started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END, updated_at = ? WHERE id = ? AND status = 'pending'`,
		owner, expires, now, now, j.ID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE queue_users SET pending = pending - 1, running = running + 1, last_leased_seq = ?
		WHERE user_id = ?`, seq, j.UserID); err != nil {
		return err
	}
	if err := recordChange(ctx, tx, j.UserID, j.ID, j.BatchID, j.Type, jobs.StatusRunning, now); err != nil {
		return err
	}
	if j.Type == jobs.TypeBatchChild {
		if err := s.moveChildrenSeq(ctx, tx, j.BatchID, jobs.StatusPending, jobs.StatusRunning, 1, now, seq); err != nil {
			return err
		}
	}
	return nil
}

// JobLeaseSiblings implements jobs.Store.
func (s *Store) JobLeaseSiblings(ctx context.Context, p jobs.LeaseParams, held jobs.Lease, n int) ([]*jobs.Job, error) {
	if p.Owner == "" || p.Owner != held.Owner {
		return nil, jobs.FieldError("owner", "must be the holder of the lease")
	}
	if p.TTL <= 0 {
		return nil, jobs.FieldError("ttl", "must be positive")
	}
	var out []*jobs.Job
	err := s.tx(ctx, func(tx *wtx) error {
		out = nil
		now := s.now()
		b, err := s.holding(ctx, tx, held, now)
		if err != nil {
			return err
		}
		if b.Type != jobs.TypeBatchChild {
			return nil
		}
		// A paused batch hands out nothing more, and siblings count
		// against the user's cap like any lease.
		var paused, running, maxRunning int
		err = tx.QueryRowContext(ctx, `SELECT p.paused, coalesce(u.running, 0), coalesce(u.max_running, 0)
			FROM jobs p LEFT JOIN queue_users u ON u.user_id = p.user_id WHERE p.id = ?`, b.BatchID).Scan(&paused, &running, &maxRunning)
		if err != nil {
			return err
		}
		if paused != 0 {
			return nil
		}
		if maxRunning > 0 {
			n = min(n, maxRunning-running)
		}
		for len(out) < n {
			sib, err := s.loadJob(ctx, tx, `batch_id = ? AND type = 'BATCH_CHILD' AND status = 'pending' AND available_at <= ?
				ORDER BY idx LIMIT 1`, b.BatchID, now)
			if jobs.IsCode(err, jobs.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			from, result, hit, err := cached(ctx, tx, sib.UserID, sib.ContentKey)
			if err != nil {
				return err
			}
			if hit {
				if err := s.completeFromCache(ctx, tx, &sib.Job, from, result, now); err != nil {
					return err
				}
				continue
			}
			if err := s.leaseJob(ctx, tx, &sib.Job, p.Owner, now+p.TTL.Nanoseconds(), now); err != nil {
				return err
			}
			j, err := s.withLease(ctx, tx, sib.ID)
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lease siblings: %w", err)
	}
	return out, nil
}

// withLease reads a job back with its lease.
func (s *Store) withLease(ctx context.Context, q querier, id string) (*jobs.Job, error) {
	b, err := s.loadJob(ctx, q, `id = ?`, id)
	if err != nil {
		return nil, err
	}
	return &b.Job, nil
}

func nextLeaseSeq(ctx context.Context, tx *wtx) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'lease_seq' RETURNING value`).Scan(&seq)
	return seq, err
}

// pick chooses the next pending job for the given models, fairly. Users at
// their cap of running jobs wait; paused batches are passed over.
func (s *Store) pick(ctx context.Context, tx *wtx, models []string, now int64) (*jobs.Job, error) {
	modelArgs := make([]any, len(models))
	for i, m := range models {
		modelArgs[i] = m
	}
	in := "(" + placeholders(len(models)) + ")"
	users, err := queryStrings(ctx, tx, `SELECT user_id FROM queue_users WHERE pending > 0
		AND (max_running = 0 OR running < max_running) ORDER BY last_leased_seq, user_id`)
	if err != nil {
		return nil, err
	}
	for _, user := range users {
		args := append([]any{user}, modelArgs...)
		// Named, so that the planner never prefers the stats index on
		// (model, status, available_at) and sorts.
		b, err := s.loadJobFrom(ctx, tx, `jobs INDEXED BY jobs_pending_individual`,
			`status = 'pending' AND type = 'INDIVIDUAL' AND user_id = ? AND model IN `+in+`
			AND available_at <= ? ORDER BY created_at, rowid LIMIT 1`, append(args, now)...)
		if err == nil {
			return &b.Job, nil
		}
		if !jobs.IsCode(err, jobs.ErrNotFound) {
			return nil, err
		}
		batches, err := queryStrings(ctx, tx, `SELECT id FROM jobs WHERE type = 'BATCH_PARENT' AND status IN ('pending', 'running')
			AND user_id = ? AND model IN `+in+` AND paused = 0 ORDER BY last_leased_seq, created_at, rowid`, args...)
		if err != nil {
			return nil, err
		}
		for _, batch := range batches {
			b, err := s.loadJob(ctx, tx, `batch_id = ? AND type = 'BATCH_CHILD' AND status = 'pending' AND available_at <= ?
				ORDER BY idx LIMIT 1`, batch, now)
			if err == nil {
				return &b.Job, nil
			}
			if !jobs.IsCode(err, jobs.ErrNotFound) {
				return nil, err
			}
		}
	}
	return nil, jobs.Errorf(jobs.ErrNoWork, "no work")
}

func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// completeFromCache completes a pending job with the result of identical
// work that already completed.
func (s *Store) completeFromCache(ctx context.Context, tx *wtx, j *jobs.Job, from string, result []byte, now int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET result = ?, reused_from = ? WHERE id = ?`, result, from, j.ID); err != nil {
		return err
	}
	return s.setStatus(ctx, tx, j, jobs.StatusCompleted, now, "")
}

// holding loads the job of a lease and checks that the lease still holds:
// same owner, same attempt, the job (or finalize task) still leased, and
// not expired.
func (s *Store) holding(ctx context.Context, tx *wtx, l jobs.Lease, now int64) (*jobs.Batch, error) {
	b, err := s.loadJob(ctx, tx, `id = ?`, l.JobID)
	if err != nil {
		return nil, jobs.Errorf(jobs.ErrLeaseLost, "job %s: lease lost: job not found", l.JobID)
	}
	var owner string
	var expires time.Time
	if b.Lease != nil {
		owner, expires = b.Lease.Owner, b.Lease.ExpiresAt
	}
	leased := b.Status == jobs.StatusRunning
	if b.Type == jobs.TypeBatchParent {
		leased = b.Finalize == jobs.FinalizeLeased
	}
	switch {
	case !leased || owner != l.Owner || b.Attempt != l.Attempt:
		return nil, jobs.Errorf(jobs.ErrLeaseLost, "job %s: lease of %s (attempt %d) lost: job is %s", l.JobID, l.Owner, l.Attempt, b.Status)
	case now >= fromTime(expires):
		return nil, jobs.Errorf(jobs.ErrLeaseLost, "job %s: lease of %s (attempt %d) expired at %s", l.JobID, l.Owner, l.Attempt, expires.Format(time.RFC3339Nano))
	}
	return b, nil
}

// JobHeartbeat implements jobs.Store.
func (s *Store) JobHeartbeat(ctx context.Context, l jobs.Lease, ttl time.Duration) (jobs.Lease, error) {
	if ttl <= 0 {
		return l, jobs.FieldError("ttl", "must be positive")
	}
	var out jobs.Lease
	var cancelled bool
	err := s.tx(ctx, func(tx *wtx) error {
		now := s.now()
		b, err := s.holding(ctx, tx, l, now)
		if err != nil {
			return err
		}
		if b.CancelRequested && b.Type != jobs.TypeBatchParent {
			cancelled = true
			return s.setStatus(ctx, tx, &b.Job, jobs.StatusCancelled, now, "")
		}
		out = l
		out.ExpiresAt = toTime(now + ttl.Nanoseconds())
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET lease_expires_at = ?, updated_at = ? WHERE id = ?`, fromTime(out.ExpiresAt), now, l.JobID)
		return err
	})
	if err != nil {
		return l, err
	}
	if cancelled {
		return l, jobs.Errorf(jobs.ErrCancelled, "job %s was cancelled", l.JobID)
	}
	return out, nil
}

// JobComplete implements jobs.Store.
func (s *Store) JobComplete(ctx context.Context, l jobs.Lease, result json.RawMessage) error {
	return s.tx(ctx, func(tx *wtx) error {
		now := s.now()
		b, err := s.holding(ctx, tx, l, now)
		if err != nil {
			return err
		}
		if b.Type == jobs.TypeBatchParent {
			_, err := tx.ExecContext(ctx, `UPDATE jobs SET finalize_state = 'done', finalized_at = ?, lease_owner = '', lease_expires_at = 0,
				updated_at = ? WHERE id = ?`, now, now, b.ID)
			if err != nil {
				return err
			}
			return recordChange(ctx, tx, b.UserID, b.ID, b.ID, b.Type, b.Status, now)
		}
		if b.ContentKey != "" {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO results_cache (user_id, content_key, job_id) VALUES (?, ?, ?)`,
				b.UserID, b.ContentKey, b.ID); err != nil {
				return err
			}
		}
		return s.setStatusResult(ctx, tx, &b.Job, jobs.StatusCompleted, now, "", []byte(result))
	})
}

// JobFail implements jobs.Store.
func (s *Store) JobFail(ctx context.Context, l jobs.Lease, f jobs.Failure) error {
	return s.tx(ctx, func(tx *wtx) error {
		now := s.now()
		b, err := s.holding(ctx, tx, l, now)
		if err != nil {
			return err
		}
		return s.failAttempt(ctx, tx, b, f, now)
	})
}

// failAttempt ends a leased attempt that did not succeed: back to pending
// after a backoff when it may be retried and attempts remain, failed for
// good otherwise. A finalize task is retried the same way.
func (s *Store) failAttempt(ctx context.Context, tx *wtx, b *jobs.Batch, f jobs.Failure, now int64) error {
	retry := f.Retryable && b.Attempt < b.MaxAttempts
	msg := f.Error
	if f.Retryable && !retry {
		msg = fmt.Sprintf("%s (gave up after %d attempts)", f.Error, b.Attempt)
	}
	if retry {
		avail := now + s.cfg.Retry.Backoff(b.Attempt).Nanoseconds()
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET available_at = ? WHERE id = ?`, avail, b.ID); err != nil {
			return err
		}
	}
	if b.Type == jobs.TypeBatchParent {
		state := jobs.FinalizeFailed
		if retry {
			state = jobs.FinalizePending
		}
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET finalize_state = ?, error = ?, lease_owner = '', lease_expires_at = 0, updated_at = ?
			WHERE id = ?`, state, msg, now, b.ID)
		return err
	}
	to := jobs.StatusFailed
	if retry {
		to = jobs.StatusPending
	}
	return s.setStatus(ctx, tx, &b.Job, to, now, msg)
}

// JobRescue implements jobs.Store.
func (s *Store) JobRescue(ctx context.Context) (jobs.Rescued, error) {
	var r jobs.Rescued
	err := s.tx(ctx, func(tx *wtx) error {
		r = jobs.Rescued{}
		now := s.now()
		var expired []*jobs.Batch
		// Two searches, each on its partial index (an OR would scan every
		// job); a running batch parent holds no lease of its own.
		rows, err := tx.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs
			WHERE status = 'running' AND type != 'BATCH_PARENT' AND lease_expires_at <= ?
			UNION ALL SELECT `+jobColumns+` FROM jobs
			WHERE type = 'BATCH_PARENT' AND finalize_state IN ('pending', 'leased') AND finalize_state = 'leased'
			AND lease_expires_at <= ?`, now, now)
		if err != nil {
			return err
		}
		for rows.Next() {
			b, err := scanJob(rows)
			if err != nil {
				rows.Close()
				return err
			}
			expired = append(expired, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, b := range expired {
			var owner string
			if b.Lease != nil {
				owner = b.Lease.Owner
			}
			if b.CancelRequested && b.Type != jobs.TypeBatchParent {
				if err := s.setStatus(ctx, tx, &b.Job, jobs.StatusCancelled, now, ""); err != nil {
					return err
				}
				r.Cancelled++
				continue
			}
			f := jobs.Failure{Retryable: true, Error: fmt.Sprintf("lease expired: worker %s stopped heartbeating during attempt %d of %d", owner, b.Attempt, b.MaxAttempts)}
			if err := s.failAttempt(ctx, tx, b, f, now); err != nil {
				return err
			}
			switch {
			case b.Type == jobs.TypeBatchParent:
				r.Finalize++
			case b.Attempt < b.MaxAttempts:
				r.Retried++
			default:
				r.Failed++
			}
		}
		return nil
	})
	if err != nil {
		return jobs.Rescued{}, fmt.Errorf("rescue: %w", err)
	}
	return r, nil
}
