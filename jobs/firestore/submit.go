package firestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/uuid"

	"omtx/jobs"
)

// Limits that keep documents far under Firestore's 1 MiB.
const (
	maxInputBytes  = 512 << 10
	maxResultBytes = 512 << 10
	// chunkSize is how many documents one write of a batch's children
	// holds (Firestore takes at most 500 writes in one commit).
	chunkSize = 400
	// writers is how many chunks are written at once.
	writers = 4
)

func newID() string { return uuid.NewString() }

// Submit implements jobs.Store.
func (s *Store) Submit(ctx context.Context, sub jobs.Submission) (*jobs.Job, error) {
	if err := validate(sub); err != nil {
		return nil, err
	}
	if sub.MaxAttempts == 0 {
		sub.MaxAttempts = jobs.DefaultMaxAttempts
	}
	for attempt := 1; ; attempt++ {
		// A repeat is answered before anything is written; one that races
		// the first submission is caught in the transaction that shows it.
		held, err := s.heldKey(ctx, sub)
		if err != nil {
			return nil, wrap(err, "submit")
		}
		if held == nil {
			var j *jobs.Job
			if sub.IsBatch() {
				j, err = s.submitBatch(ctx, sub)
			} else {
				j, err = s.submitIndividual(ctx, sub)
			}
			var race *keyHeldError
			if !errors.As(err, &race) {
				if err != nil {
					return nil, wrap(err, "submit")
				}
				return j, nil
			}
			held = &race.key
		}
		err = s.replay(ctx, sub, *held)
		if !jobs.IsCode(err, jobs.ErrNotFound) {
			return nil, err
		}
		// The key's holder was deleted since it was found, which frees
		// the key: look again.
		if attempt == replayAttempts {
			return nil, &jobs.Error{Code: jobs.ErrConflict, Field: jobs.IdempotencyField,
				Message: "is held by a submission being deleted; try again"}
		}
	}
}

// validate checks a submission before anything is written, so that a bad
// child leaves nothing behind.
func validate(sub jobs.Submission) error {
	if err := sub.Validate(); err != nil {
		return err
	}
	if sub.IsBatch() && len(sub.Children) == 0 {
		return jobs.FieldError("ligands", "a batch needs at least one ligand")
	}
	if len(sub.Input) > maxInputBytes {
		return jobs.FieldError("input", "is larger than %d KiB", maxInputBytes>>10)
	}
	for i, c := range sub.Children {
		if len(c.Input) > 0 && !json.Valid(c.Input) {
			return jobs.FieldError("ligands", "row %d (%s): input is not valid JSON", i+1, c.Name)
		}
		if len(c.Input) > maxInputBytes {
			return jobs.FieldError("ligands", "row %d (%s): input is larger than %d KiB", i+1, c.Name, maxInputBytes>>10)
		}
	}
	return nil
}

// newJobDoc is the document of a new pending job of a submission.
func newJobDoc(sub jobs.Submission, typ jobs.Type, now int64) jobDoc {
	d := jobDoc{UserID: sub.UserID, Type: string(typ), Model: sub.Model, ModelVersion: sub.ModelVersion,
		Name: sub.Name, NameLower: asciiLower(sub.Name), Input: sub.Input, ContentKey: sub.ContentKey,
		Status: string(jobs.StatusPending), MaxAttempts: int64(sub.MaxAttempts), AvailableAt: now,
		RequestID: sub.RequestID, TraceContext: sub.TraceContext, CreatedAt: now, UpdatedAt: now}
	if typ != jobs.TypeBatchChild {
		d.IdempotencyKey = sub.IdempotencyKey
	}
	return d
}

func (s *Store) submitIndividual(ctx context.Context, sub jobs.Submission) (*jobs.Job, error) {
	id := newID()
	var out *jobs.Job
	err := s.update(ctx, sub.UserID, func(t *txn) error {
		u, err := t.user(sub.UserID)
		if err != nil {
			return err
		}
		if err := t.holdKey(sub, id); err != nil {
			return err
		}
		from, result, hit, err := t.cached(sub.UserID, sub.ContentKey)
		if err != nil {
			return err
		}
		d := newJobDoc(sub, jobs.TypeIndividual, t.now)
		u.doc.Ord++
		d.Ord = u.doc.Ord
		u.doc.MaxRunning = int64(max(sub.MaxRunning, 0))
		u.dirty = true
		if hit {
			d.Status, d.FinishedAt, d.Result, d.ReusedFrom = string(jobs.StatusCompleted), t.now, result, from
		} else {
			u.doc.Pending++
		}
		t.jobs[id] = &jobState{id: id, ref: s.jobRef(id), doc: d, dirty: true}
		out = d.job(id)
		return t.record(sub.UserID, id, "", jobs.TypeIndividual, jobs.Status(d.Status))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// submitBatch writes a batch in steps, so that it may be larger than a
// transaction: the parent, hidden; the children in chunks; then one
// transaction that shows the parent and queues the children. Until that
// commits no reader sees any of it; if any step fails, what was written is
// deleted (and what a crash leaves, JobRescue deletes).
func (s *Store) submitBatch(ctx context.Context, sub jobs.Submission) (*jobs.Job, error) {
	now := s.now()
	id := newID()
	reuse, err := s.reusable(ctx, sub)
	if err != nil {
		return nil, err
	}
	parent, err := s.createHidden(ctx, id, sub, now)
	if err != nil {
		return nil, fmt.Errorf("create batch %s: %w", id, err)
	}
	prog, err := s.writeChildren(ctx, id, parent, sub, reuse, now)
	if err == nil {
		err = s.showBatch(ctx, id, sub, prog)
	}
	if err != nil {
		// Best effort, on a context of its own: the caller's may be done.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if perr := s.purge(cctx, sub.UserID, id); perr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, perr)
		}
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	b, err := s.BatchGet(ctx, sub.UserID, id)
	if err != nil {
		return nil, fmt.Errorf("read back batch %s: %w", id, err)
	}
	return &b.Job, nil
}

// createHidden creates a batch's parent, hidden, and numbers the
// submission. The parent comes first so that a crash leaves something
// JobRescue can find and clean up.
func (s *Store) createHidden(ctx context.Context, id string, sub jobs.Submission, now int64) (jobDoc, error) {
	n := int64(len(sub.Children))
	parent := newJobDoc(sub, jobs.TypeBatchParent, now)
	parent.BatchID, parent.Total, parent.Shards, parent.Phase = id, n, min(int64(s.opts.ProgressShards), n), phaseSubmitting
	if sub.Webhook != nil {
		parent.WebhookURL, parent.WebhookSecret = sub.Webhook.URL, sub.Webhook.Secret
	}
	defer s.lockUser(sub.UserID)()
	err := s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		t := s.newTxn(ctx, tx)
		u, err := t.user(sub.UserID)
		if err != nil {
			return err
		}
		u.doc.Ord++
		parent.Ord = u.doc.Ord
		if err := tx.Create(s.jobRef(id), &parent); err != nil {
			return err
		}
		return tx.Set(u.ref, &u.doc)
	})
	return parent, err
}

// reused is a completed result that a new job takes over.
type reused struct {
	from   string
	result []byte
}

// reusable looks up the completed results of the children's content keys.
func (s *Store) reusable(ctx context.Context, sub jobs.Submission) (map[string]reused, error) {
	var keys []string
	seen := map[string]bool{}
	for _, c := range sub.Children {
		if c.ContentKey != "" && !seen[c.ContentKey] {
			seen[c.ContentKey] = true
			keys = append(keys, c.ContentKey)
		}
	}
	out := map[string]reused{}
	for start := 0; start < len(keys); start += chunkSize {
		part := keys[start:min(start+chunkSize, len(keys))]
		refs := make([]*firestore.DocumentRef, len(part))
		for i, k := range part {
			refs[i] = s.resultRef(sub.UserID, k)
		}
		snaps, err := s.client.GetAll(ctx, refs)
		if err != nil {
			return nil, fmt.Errorf("look up results: %w", err)
		}
		for i, snap := range snaps {
			if !snap.Exists() {
				continue
			}
			var r resultDoc
			if err := snap.DataTo(&r); err != nil {
				return nil, fmt.Errorf("decode result %s: %w", snap.Ref.ID, err)
			}
			j, err := s.visibleJob(ctx, sub.UserID, r.JobID)
			if jobs.IsCode(err, jobs.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if j.Status == string(jobs.StatusCompleted) {
				out[part[i]] = reused{from: r.JobID, result: j.Result}
			}
		}
	}
	return out, nil
}

// writeChildren writes a batch's children and its progress shards in
// chunks, and returns its progress.
func (s *Store) writeChildren(ctx context.Context, id string, parent jobDoc, sub jobs.Submission, reuse map[string]reused, now int64) (jobs.Progress, error) {
	shards := make([]shardDoc, parent.Shards)
	type write struct {
		ref *firestore.DocumentRef
		doc any
	}
	var writes []write
	for i, c := range sub.Children {
		d := newJobDoc(sub, jobs.TypeBatchChild, now)
		d.BatchID, d.Index, d.Name, d.NameLower, d.Input, d.ContentKey, d.Ord = id, int64(i), c.Name, asciiLower(c.Name), c.Input, c.ContentKey, parent.Ord
		sh := &shards[i%len(shards)]
		sh.Total++
		if r, ok := reuse[c.ContentKey]; ok && c.ContentKey != "" {
			d.Status, d.FinishedAt, d.Result, d.ReusedFrom = string(jobs.StatusCompleted), now, r.result, r.from
			sh.Completed++
		} else {
			sh.Pending++
		}
		writes = append(writes, write{s.jobRef(newID()), d})
	}
	for k := range shards {
		writes = append(writes, write{s.shardRef(id, k), shards[k]})
	}
	chunks := make(chan []write)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range chunks {
				err := s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
					for _, w := range chunk {
						if err := tx.Set(w.ref, w.doc); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for start := 0; start < len(writes); start += chunkSize {
		select {
		case chunks <- writes[start:min(start+chunkSize, len(writes))]:
		case err = <-errs:
			break feed
		}
	}
	close(chunks)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	if err != nil {
		return jobs.Progress{}, fmt.Errorf("write children: %w", err)
	}
	return sumShards(shards), nil
}

// showBatch makes a written batch visible: the parent leaves its hidden
// phase, its pending children join the user's queue, the change is
// recorded, and milestones already passed by reused results are set. A
// batch all of whose children reused results ends here.
func (s *Store) showBatch(ctx context.Context, id string, sub jobs.Submission, prog jobs.Progress) error {
	return s.update(ctx, sub.UserID, func(t *txn) error {
		p, err := t.parent(id)
		if err != nil {
			return err
		}
		if p.doc.Phase != phaseSubmitting {
			return fmt.Errorf("batch %s was removed while it was submitted", id)
		}
		u, err := t.user(sub.UserID)
		if err != nil {
			return err
		}
		if err := t.holdKey(sub, id); err != nil {
			return err
		}
		u.doc.Pending += int64(prog.Pending)
		u.doc.MaxRunning = int64(max(sub.MaxRunning, 0))
		u.dirty = true
		p.doc.Phase = ""
		p.dirty = true
		before := jobs.Progress{Total: prog.Total, Pending: prog.Total}
		for _, m := range jobs.CrossedMilestones(before, prog) {
			if p.doc.Milestones == nil {
				p.doc.Milestones = map[string]int64{}
			}
			p.doc.Milestones[strconv.Itoa(m)] = t.now
		}
		if err := t.record(sub.UserID, id, id, jobs.TypeBatchParent, jobs.StatusPending); err != nil {
			return err
		}
		if prog.Pending == 0 {
			return t.endBatch(p, prog)
		}
		return nil
	})
}
