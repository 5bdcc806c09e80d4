package firestore

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"omtx/jobs"
)

// sweepChunk is how many children one step of a sweep moves.
const sweepChunk = 200

// JobCancel implements jobs.Store: at once when pending; a running job's
// worker learns it at its next heartbeat.
func (s *Store) JobCancel(ctx context.Context, userID, jobID string) (*jobs.Job, error) {
	err := s.update(ctx, userID, func(t *txn) error {
		j, err := t.job(jobID)
		if err == nil && (j.doc.isParent() || j.doc.UserID != userID) {
			err = jobs.Errorf(jobs.ErrNotFound, "job %s not found", jobID)
		}
		if err == nil && j.doc.isChild() {
			var p *parentState
			if p, err = t.parentOf(j); err == nil && !p.doc.visible() {
				err = jobs.Errorf(jobs.ErrNotFound, "job %s not found", jobID)
			}
		}
		if err != nil {
			return err
		}
		switch j.doc.status() {
		case jobs.StatusRunning:
			j.doc.CancelRequested, j.doc.UpdatedAt = true, t.now
			j.dirty = true
			return nil
		case jobs.StatusPending:
			return t.setStatus(j, jobs.StatusCancelled, "", nil)
		}
		return jobs.CheckTransition(jobID, j.doc.status(), jobs.StatusCancelled)
	})
	if err != nil {
		return nil, wrap(err, "cancel job %s", jobID)
	}
	return s.JobGet(ctx, userID, jobID)
}

// BatchCancel implements jobs.Store. The cancel request on the parent is
// what workers (at their heartbeat) and the lease act on; the pending
// children are then cancelled in chunks (see sweep).
func (s *Store) BatchCancel(ctx context.Context, userID, batchID string) (*jobs.Batch, error) {
	if err := s.requestCancel(ctx, userID, batchID); err != nil {
		return nil, wrap(err, "cancel batch %s", batchID)
	}
	if _, err := s.sweep(ctx, userID, batchID); err != nil {
		return nil, fmt.Errorf("cancel batch %s: %w", batchID, err)
	}
	return s.BatchGet(ctx, userID, batchID)
}

// requestCancel marks a batch cancelled and starts its cancel sweep; it
// records one change of the batch.
func (s *Store) requestCancel(ctx context.Context, userID, batchID string) error {
	return s.update(ctx, userID, func(t *txn) error {
		p, err := t.userBatch(userID, batchID)
		if err != nil {
			return err
		}
		switch {
		case p.doc.status().Final():
			return jobs.Errorf(jobs.ErrConflict, "batch %s is already %s", batchID, p.doc.Status)
		case p.doc.Sweep == sweepRetry:
			return jobs.Errorf(jobs.ErrConflict, "batch %s: its failed children are being retried; cancel it when that is done", batchID)
		}
		d := &p.doc
		d.CancelRequested, d.Sweep, d.SweepAt, d.UpdatedAt = true, sweepCancel, t.now, t.now
		p.dirty = true
		return t.record(userID, batchID, batchID, jobs.TypeBatchParent, d.status())
	})
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

// setPaused pauses or resumes an open batch. The lease passes over paused
// batches; nothing else about the batch changes, so running children end
// as usual and the batch ends when its last child does, paused or not.
func (s *Store) setPaused(ctx context.Context, userID, batchID string, paused bool) (*jobs.Batch, error) {
	verb := "resume"
	if paused {
		verb = "pause"
	}
	err := s.update(ctx, userID, func(t *txn) error {
		p, err := t.userBatch(userID, batchID)
		if err != nil {
			return err
		}
		if p.doc.status().Final() {
			return jobs.Errorf(jobs.ErrConflict, "batch %s is already %s and cannot be %sd", batchID, p.doc.Status, verb)
		}
		if p.doc.Paused == paused {
			return nil
		}
		p.doc.Paused, p.doc.UpdatedAt = paused, t.now
		p.dirty = true
		// The status is unchanged, but a live page must learn of the pause.
		return t.record(userID, batchID, batchID, jobs.TypeBatchParent, p.doc.status())
	})
	if err != nil {
		return nil, wrap(err, "%s batch %s", verb, batchID)
	}
	return s.BatchGet(ctx, userID, batchID)
}

// BatchRetryFailed implements jobs.Store.
//
// One transaction reopens the batch (running again, or pending if none of
// its children was ever leased; its end time, cancel request and finalize
// task cleared) and marks it with a retry sweep, which keeps it from
// ending; the failed children then go back to pending in chunks, with
// attempt 0, no error, and available at once. Children that fail while
// the sweep runs are retried too. Milestones already reached keep their
// time. One change is recorded, for the batch.
//
// A batch whose finalize task is leased answers ErrConflict (retry when
// the finalizer is done), and so does a batch being cancelled.
func (s *Store) BatchRetryFailed(ctx context.Context, userID, batchID string) (*jobs.Batch, int, error) {
	var failed int
	err := s.update(ctx, userID, func(t *txn) error {
		failed = 0
		p, err := t.userBatch(userID, batchID)
		if err != nil {
			return err
		}
		d := &p.doc
		switch {
		case d.Finalize == string(jobs.FinalizeLeased):
			return jobs.Errorf(jobs.ErrConflict, "batch %s is being finalized: retry its failed children when that is done", batchID)
		case d.CancelRequested && !d.status().Final():
			return jobs.Errorf(jobs.ErrConflict, "batch %s is being cancelled", batchID)
		case d.Sweep != "":
			return jobs.Errorf(jobs.ErrConflict, "batch %s: its failed children are already being retried", batchID)
		}
		if err := t.allShards(p); err != nil {
			return err
		}
		if failed = p.progress().Failed; failed == 0 {
			return nil
		}
		st := d.status()
		if st.Final() {
			st = jobs.StatusRunning
			if d.StartedAt == 0 {
				st = jobs.StatusPending
			}
		}
		// The parent's attempt, error, availability and lease belong to
		// its finalize task, which starts afresh.
		d.Status, d.FinishedAt, d.Finalize, d.FinalizedAt = string(st), 0, "", 0
		d.Attempt, d.Error, d.AvailableAt, d.LeaseOwner, d.LeaseExpiresAt = 0, "", t.now, "", 0
		d.CancelRequested, d.Sweep, d.SweepAt, d.UpdatedAt = false, sweepRetry, t.now, t.now
		p.dirty = true
		return t.record(userID, batchID, batchID, jobs.TypeBatchParent, st)
	})
	if err != nil {
		return nil, 0, wrap(err, "retry failed children of batch %s", batchID)
	}
	moved := 0
	if failed > 0 {
		if moved, err = s.sweep(ctx, userID, batchID); err != nil {
			return nil, 0, fmt.Errorf("retry failed children of batch %s: %w", batchID, err)
		}
	}
	b, err := s.BatchGet(ctx, userID, batchID)
	if err != nil {
		return nil, 0, err
	}
	return b, moved, nil
}

// sweep carries out a batch's sweep in chunks, each a transaction: a
// cancel moves the pending children to cancelled, a retry the failed ones
// to pending. The step that finds nothing left to move clears the sweep
// and ends the batch if nothing is open. It returns how many children it
// moved. Every step checks the children's status again, so two sweeps of
// one batch (a rescue beside a slow caller) move each child once.
func (s *Store) sweep(ctx context.Context, userID, batchID string) (int, error) {
	moved := 0
	for {
		var n int
		var done bool
		err := s.update(ctx, userID, func(t *txn) error {
			n, done = 0, false
			p, err := t.parent(batchID)
			if jobs.IsCode(err, jobs.ErrNotFound) || err == nil && p.doc.Sweep == "" {
				done = true
				return nil
			}
			if err != nil {
				return err
			}
			op := p.doc.Sweep
			from := jobs.StatusPending
			if op == sweepRetry {
				from = jobs.StatusFailed
			}
			snaps, err := t.tx.Documents(s.jobsCol().Where("batch_id", "==", batchID).Where("type", "==", string(jobs.TypeBatchChild)).
				Where("status", "==", string(from)).OrderBy("idx", firestore.Asc).Limit(sweepChunk)).GetAll()
			if err != nil {
				return err
			}
			if len(snaps) == 0 {
				p.doc.Sweep, p.doc.SweepAt, p.doc.UpdatedAt = "", 0, t.now
				p.dirty, p.settle, done = true, true, true
				return nil
			}
			for _, snap := range snaps {
				j, err := t.addJob(snap)
				if err != nil {
					return err
				}
				if op == sweepCancel {
					err = t.setStatusOpt(j, jobs.StatusCancelled, "", nil, false)
				} else {
					err = t.retryChild(p, j)
				}
				if err != nil {
					return err
				}
			}
			n = len(snaps)
			return nil
		})
		if err != nil {
			return moved, fmt.Errorf("sweep batch %s: %w", batchID, err)
		}
		moved += n
		if done {
			return moved, nil
		}
	}
}

// retryChild puts a failed child back to pending with fresh attempts.
// failed -> pending is not in the lifecycle table on purpose: no worker
// or rescuer may make it. It is the owner's explicit action on ended
// children, made here and nowhere else.
func (t *txn) retryChild(p *parentState, j *jobState) error {
	d := &j.doc
	d.Status, d.Attempt, d.Error, d.AvailableAt = string(jobs.StatusPending), 0, "", t.now
	d.LeaseOwner, d.LeaseExpiresAt, d.CancelRequested, d.FinishedAt, d.UpdatedAt = "", 0, false, 0, t.now
	j.dirty = true
	if err := t.addUserCounts(d.UserID, 1, 0); err != nil {
		return err
	}
	return t.moveChildren(p, int(d.Index), jobs.StatusFailed, jobs.StatusPending, 1)
}

// BatchDelete implements jobs.Store. One transaction checks that the
// batch may go, hides it (phase "deleting") and frees its idempotency key;
// then its result-cache entries, changes, children and progress go in
// chunks, and the parent last. A delete cut short stays hidden and
// JobRescue finishes it.
func (s *Store) BatchDelete(ctx context.Context, userID, batchID string) error {
	if err := s.hideForDelete(ctx, userID, batchID); err != nil {
		return wrap(err, "delete batch %s", batchID)
	}
	return wrap(s.purge(ctx, userID, batchID), "delete batch %s", batchID)
}

// hideForDelete is BatchDelete's first step: it checks that the batch may
// go, hides it and frees its idempotency key.
func (s *Store) hideForDelete(ctx context.Context, userID, batchID string) error {
	return s.update(ctx, userID, func(t *txn) error {
		p, err := t.userBatch(userID, batchID)
		if err != nil {
			return err
		}
		if err := t.allShards(p); err != nil {
			return err
		}
		prog, d := p.progress(), &p.doc
		switch {
		case !d.status().Final() || prog.Pending+prog.Running > 0 || d.Sweep != "":
			return jobs.Errorf(jobs.ErrConflict, "batch %s has %d pending and %d running children: cancel it first and wait until they end",
				batchID, prog.Pending, prog.Running)
		case d.Finalize == string(jobs.FinalizePending) || d.Finalize == string(jobs.FinalizeLeased):
			return jobs.Errorf(jobs.ErrConflict, "batch %s is being finalized: delete it when that is done", batchID)
		}
		d.Phase, d.UpdatedAt = phaseDeleting, t.now
		p.dirty = true
		return t.freeKey(&p.jobState)
	})
}

// JobDelete implements jobs.Store. An individual job has few changes, so
// the job, its changes, its result-cache entry and its idempotency key go
// in one transaction.
func (s *Store) JobDelete(ctx context.Context, userID, jobID string) error {
	defer s.lockUser(userID)()
	err := s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		t := s.newTxn(ctx, tx)
		j, err := t.job(jobID)
		if err == nil && (j.doc.Type != string(jobs.TypeIndividual) || j.doc.UserID != userID) {
			err = jobs.Errorf(jobs.ErrNotFound, "job %s not found", jobID)
		}
		if err != nil {
			return err
		}
		if !j.doc.status().Final() {
			return jobs.Errorf(jobs.ErrConflict, "job %s is %s: cancel it first and wait until it ends", jobID, j.doc.Status)
		}
		refs := []*firestore.DocumentRef{j.ref}
		if j.doc.ContentKey != "" {
			ref := s.resultRef(userID, j.doc.ContentKey)
			snap, err := tx.Get(ref)
			if err != nil && !isNotFound(err) {
				return err
			}
			var r resultDoc
			if err == nil {
				if err := snap.DataTo(&r); err != nil {
					return err
				}
			}
			if r.JobID == jobID {
				refs = append(refs, ref)
			}
		}
		changes, err := tx.Documents(s.changesCol(userID).Where("job_id", "==", jobID).Select()).GetAll()
		if err != nil {
			return err
		}
		for _, c := range changes {
			refs = append(refs, c.Ref)
		}
		if err := t.freeKey(j); err != nil {
			return err
		}
		refs = append(refs, t.freed...)
		for _, ref := range refs {
			if err := tx.Delete(ref); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, "delete job %s", jobID)
}

// purge deletes a batch and everything of it: result-cache entries,
// changes, children, progress, and the parent last, so that a purge cut
// short can be run again.
func (s *Store) purge(ctx context.Context, userID, batchID string) error {
	qs := []firestore.Query{
		s.root.Collection("results").Where("batch_id", "==", batchID),
		s.changesCol(userID).Where("batch_id", "==", batchID),
		s.jobsCol().Where("batch_id", "==", batchID).Where("type", "==", string(jobs.TypeBatchChild)),
		s.jobRef(batchID).Collection("progress").Query,
	}
	for _, q := range qs {
		if err := s.deleteAll(ctx, q); err != nil {
			return err
		}
	}
	if _, err := s.jobRef(batchID).Delete(ctx); err != nil {
		return fmt.Errorf("delete batch %s: %w", batchID, err)
	}
	return nil
}

// deleteAll deletes a query's documents in chunks.
func (s *Store) deleteAll(ctx context.Context, q firestore.Query) error {
	for {
		snaps, err := q.Select().Limit(chunkSize).Documents(ctx).GetAll()
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if len(snaps) == 0 {
			return nil
		}
		err = s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			for _, snap := range snaps {
				if err := tx.Delete(snap.Ref); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
}

// resumeStale finishes what a crashed hub left half done, once it is
// older than Options.StaleAfter: hidden batches (a submission that never
// showed, a delete that never ended) are purged, and sweeps are carried
// out.
func (s *Store) resumeStale(ctx context.Context, now int64) error {
	cutoff := now - s.opts.StaleAfter.Nanoseconds()
	hidden := s.jobsCol().Where("phase", "in", []string{phaseSubmitting, phaseDeleting}).Where("updated_at", "<=", cutoff)
	owners := map[string]string{}
	err := s.scan(ctx, hidden.Select("user_id"), func(id string, d *jobDoc) (bool, error) {
		owners[id] = d.UserID
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("find hidden batches: %w", err)
	}
	for id, user := range owners {
		if err := s.purge(ctx, user, id); err != nil {
			return fmt.Errorf("purge hidden batch %s: %w", id, err)
		}
	}
	sweeps, err := s.owned(ctx, s.jobsCol().Where("sweep", "in", []string{sweepCancel, sweepRetry}).Where("sweep_at", "<=", cutoff))
	if err != nil {
		return fmt.Errorf("find sweeps: %w", err)
	}
	for _, o := range sweeps {
		if _, err := s.sweep(ctx, o.user, o.id); err != nil {
			return err
		}
	}
	return nil
}
