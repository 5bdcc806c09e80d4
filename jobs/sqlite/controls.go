package sqlite

import (
	"context"
	"errors"
	"fmt"

	"omtx/jobs"
)

// wrap adds context to an internal error; the domain's errors pass as they
// are, so that their safe message is what the caller shows.
func wrap(err error, format string, args ...any) error {
	var e *jobs.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// BatchPause implements jobs.Store. Pausing a paused batch changes nothing.
func (s *Store) BatchPause(ctx context.Context, userID, batchID string) (*jobs.Batch, error) {
	return s.setPaused(ctx, userID, batchID, true)
}

// BatchResume implements jobs.Store. Resuming a batch that is not paused
// changes nothing.
func (s *Store) BatchResume(ctx context.Context, userID, batchID string) (*jobs.Batch, error) {
	return s.setPaused(ctx, userID, batchID, false)
}

// setPaused pauses or resumes an open batch. The lease queries pass over
// paused batches; nothing else about the batch changes, so running
// children end as usual and the batch is finalized when its last child
// ends (after a cancel, say), paused or not.
func (s *Store) setPaused(ctx context.Context, userID, batchID string, paused bool) (*jobs.Batch, error) {
	verb := "resume"
	if paused {
		verb = "pause"
	}
	err := s.tx(ctx, func(tx *wtx) error {
		p, err := s.loadJob(ctx, tx, `id = ? AND user_id = ? AND type = 'BATCH_PARENT'`, batchID, userID)
		if err != nil {
			return notFound(err, "batch", batchID)
		}
		if p.Status.Final() {
			return jobs.Errorf(jobs.ErrConflict, "batch %s is already %s and cannot be %sd", batchID, p.Status, verb)
		}
		if p.Paused == paused {
			return nil
		}
		now := s.now()
		flag := 0
		if paused {
			flag = 1
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET paused = ?, updated_at = ? WHERE id = ?`, flag, now, batchID); err != nil {
			return err
		}
		// The status is unchanged, but a live page must learn of the pause.
		return recordChange(ctx, tx, userID, batchID, batchID, jobs.TypeBatchParent, p.Status, now)
	})
	if err != nil {
		return nil, wrap(err, "%s batch %s", verb, batchID)
	}
	return s.BatchGet(ctx, userID, batchID)
}

// BatchRetryFailed implements jobs.Store.
//
// The failed children go back to pending with attempt 0, no error, and
// available at once. A batch that had ended is reopened: running again
// (pending if none of its children was ever leased), its end time, cancel
// request and finalize task cleared, so that the batch ends and is
// finalized again, exactly once, when the retried children have ended.
// Milestones already reached keep the time they were first reached, even
// above the reopened batch's percent. One change is recorded, for the
// batch, as BatchCancel does for the children it cancels.
//
// A batch whose finalize task is leased answers ErrConflict (retry when
// the finalizer is done), and so does a batch being cancelled.
func (s *Store) BatchRetryFailed(ctx context.Context, userID, batchID string) (*jobs.Batch, int, error) {
	var moved int
	err := s.tx(ctx, func(tx *wtx) error {
		moved = 0
		p, err := s.loadJob(ctx, tx, `id = ? AND user_id = ? AND type = 'BATCH_PARENT'`, batchID, userID)
		if err != nil {
			return notFound(err, "batch", batchID)
		}
		switch {
		case p.Finalize == jobs.FinalizeLeased:
			return jobs.Errorf(jobs.ErrConflict, "batch %s is being finalized: retry its failed children when that is done", batchID)
		case p.CancelRequested && !p.Status.Final():
			return jobs.Errorf(jobs.ErrConflict, "batch %s is being cancelled", batchID)
		case p.Progress.Failed == 0:
			return nil
		}
		now := s.now()
		// failed -> pending is not in the lifecycle table on purpose: no
		// worker or rescuer may make it. It is the owner's explicit action
		// on ended children, made here and nowhere else, with fresh
		// attempts.
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'pending', attempt = 0, error = '', available_at = ?,
			lease_owner = '', lease_expires_at = 0, cancel_requested = 0, finished_at = 0, updated_at = ?
			WHERE batch_id = ? AND type = 'BATCH_CHILD' AND status = 'failed'`, now, now, batchID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		moved = int(n)
		if moved == 0 {
			return nil
		}
		if err := addUserCounts(ctx, tx, userID, moved, 0); err != nil {
			return err
		}
		after := p.Progress
		after.Move(jobs.StatusFailed, jobs.StatusPending, moved)
		status := p.Status
		if status.Final() {
			status = jobs.StatusRunning
			if p.StartedAt.IsZero() {
				status = jobs.StatusPending
			}
		}
		// The parent's attempt, error, availability and lease belong to
		// its finalize task, which starts afresh; for a batch that had not
		// ended they are unset already.
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET n_pending = ?, n_failed = ?, status = ?, finished_at = 0,
			finalize_state = '', finalized_at = 0, attempt = 0, error = '', available_at = ?, lease_owner = '', lease_expires_at = 0,
			cancel_requested = 0, updated_at = ? WHERE id = ?`,
			after.Pending, after.Failed, status, now, now, batchID)
		if err != nil {
			return err
		}
		return recordChange(ctx, tx, userID, batchID, batchID, jobs.TypeBatchParent, status, now)
	})
	if err != nil {
		return nil, 0, wrap(err, "retry failed children of batch %s", batchID)
	}
	b, err := s.BatchGet(ctx, userID, batchID)
	if err != nil {
		return nil, 0, err
	}
	return b, moved, nil
}

// BatchDelete implements jobs.Store. With the batch go its children, its
// milestones, its change rows, and the result-cache entries that point at
// its children (identical work submitted later runs again).
func (s *Store) BatchDelete(ctx context.Context, userID, batchID string) error {
	err := s.tx(ctx, func(tx *wtx) error {
		p, err := s.loadJob(ctx, tx, `id = ? AND user_id = ? AND type = 'BATCH_PARENT'`, batchID, userID)
		if err != nil {
			return notFound(err, "batch", batchID)
		}
		switch {
		case !p.Status.Final() || p.Progress.Pending+p.Progress.Running > 0:
			return jobs.Errorf(jobs.ErrConflict, "batch %s has %d pending and %d running children: cancel it first and wait until they end",
				batchID, p.Progress.Pending, p.Progress.Running)
		case p.Finalize == jobs.FinalizePending || p.Finalize == jobs.FinalizeLeased:
			return jobs.Errorf(jobs.ErrConflict, "batch %s is being finalized: delete it when that is done", batchID)
		}
		var from int64
		if err := tx.QueryRowContext(ctx, `SELECT first_change_seq FROM jobs WHERE id = ?`, batchID).Scan(&from); err != nil {
			return err
		}
		del := []struct {
			query string
			args  []any
		}{
			{`DELETE FROM results_cache WHERE user_id = ? AND content_key IN (SELECT content_key FROM jobs
				WHERE batch_id = ? AND type = 'BATCH_CHILD' AND status = 'completed' AND content_key != '')
				AND job_id IN (SELECT id FROM jobs WHERE batch_id = ? AND type = 'BATCH_CHILD' AND status = 'completed')`,
				[]any{userID, batchID, batchID}},
			{`DELETE FROM milestones WHERE batch_id = ?`, []any{batchID}},
			{`DELETE FROM changes WHERE user_id = ? AND seq >= ? AND batch_id = ?`, []any{userID, from, batchID}},
			{`DELETE FROM jobs WHERE batch_id = ? AND type = 'BATCH_CHILD'`, []any{batchID}},
			{`DELETE FROM jobs WHERE id = ?`, []any{batchID}},
		}
		for _, d := range del {
			if _, err := tx.ExecContext(ctx, d.query, d.args...); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, "delete batch %s", batchID)
}

// JobDelete implements jobs.Store.
func (s *Store) JobDelete(ctx context.Context, userID, jobID string) error {
	err := s.tx(ctx, func(tx *wtx) error {
		j, err := s.loadJob(ctx, tx, `id = ? AND user_id = ? AND type = 'INDIVIDUAL'`, jobID, userID)
		if err != nil {
			return notFound(err, "job", jobID)
		}
		if !j.Status.Final() {
			return jobs.Errorf(jobs.ErrConflict, "job %s is %s: cancel it first and wait until it ends", jobID, j.Status)
		}
		for _, d := range []string{
			`DELETE FROM results_cache WHERE user_id = ? AND job_id = ?`,
			`DELETE FROM changes WHERE user_id = ? AND job_id = ?`,
			`DELETE FROM jobs WHERE user_id = ? AND id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, d, userID, jobID); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, "delete job %s", jobID)
}

// Stats implements jobs.Store. It reads in one snapshot, with a handful of
// queries whose cost grows with the number of batches and individual jobs,
// not with the number of children: children are counted from their
// parents' counters, which every change of a child keeps exact, and only
// children waiting for a retry backoff are read one by one.
func (s *Store) Stats(ctx context.Context) (jobs.Stats, error) {
	st, err := s.stats(ctx)
	if err != nil {
		return jobs.Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

func (s *Store) stats(ctx context.Context) (jobs.Stats, error) {
	var st jobs.Stats
	now := s.now()
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return st, err
	}
	defer tx.Rollback()

	counts := map[jobs.ModelStatus]int{}

	rows, err := tx.QueryContext(ctx, `SELECT model, status, count(*), coalesce(sum(available_at > ?), 0)
		FROM jobs WHERE type = 'INDIVIDUAL' GROUP BY model, status`, now)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var model, status string
		var n, later int
		if err := rows.Scan(&model, &status, &n, &later); err != nil {
			rows.Close()
			return st, err
		}
		counts[jobs.ModelStatus{Model: model, Status: jobs.Status(status)}] += n
		if jobs.Status(status) == jobs.StatusPending {
			st.AddQueued(model, n-later)
			st.Delayed += later
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}

	rows, err = tx.QueryContext(ctx, `SELECT model,
		coalesce(sum(n_pending), 0), coalesce(sum(n_running), 0), coalesce(sum(n_completed), 0),
		coalesce(sum(n_failed), 0), coalesce(sum(n_cancelled), 0),
		coalesce(sum(status IN ('pending', 'running')), 0),
		coalesce(sum(status IN ('pending', 'running') AND paused != 0), 0),
		coalesce(sum(finalize_state IN ('pending', 'leased')), 0),
		coalesce(sum(CASE WHEN paused != 0 THEN n_pending ELSE 0 END), 0)
		FROM jobs WHERE type = 'BATCH_PARENT' GROUP BY model`)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var model string
		var p jobs.Progress
		var active, paused, finalizing, pausedPending int
		if err := rows.Scan(&model, &p.Pending, &p.Running, &p.Completed, &p.Failed, &p.Cancelled,
			&active, &paused, &finalizing, &pausedPending); err != nil {
			rows.Close()
			return st, err
		}
		for status, n := range map[jobs.Status]int{jobs.StatusPending: p.Pending, jobs.StatusRunning: p.Running,
			jobs.StatusCompleted: p.Completed, jobs.StatusFailed: p.Failed, jobs.StatusCancelled: p.Cancelled} {
			counts[jobs.ModelStatus{Model: model, Status: status}] += n
		}
		st.ActiveBatches += active
		st.PausedBatches += paused
		st.Finalizing += finalizing
		st.AddQueued(model, p.Pending-pausedPending)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}

	// Children waiting for a backoff; those in unpaused batches were
	// counted as queued above.
	rows, err = tx.QueryContext(ctx, `SELECT c.model, count(*),
		coalesce(sum((SELECT paused FROM jobs p WHERE p.id = c.batch_id) != 0), 0)
		FROM jobs c WHERE c.type = 'BATCH_CHILD' AND c.status = 'pending' AND c.attempt > 0 AND c.available_at > ?
		GROUP BY c.model`, now)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var model string
		var later, laterPaused int
		if err := rows.Scan(&model, &later, &laterPaused); err != nil {
			rows.Close()
			return st, err
		}
		st.Delayed += later
		st.AddQueued(model, -(later - laterPaused))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}

	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM queue_users WHERE pending > 0 OR running > 0`).Scan(&st.Users); err != nil {
		return st, err
	}

	st.Jobs = jobs.StatsCounts(counts)
	return st, nil
}
