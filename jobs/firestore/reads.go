package firestore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"omtx/jobs"
)

// getJob reads a job document outside a transaction.
func (s *Store) getJob(ctx context.Context, id string) (*jobDoc, error) {
	if !validID(id) {
		return nil, jobs.Errorf(jobs.ErrNotFound, "job %s not found", id)
	}
	snap, err := s.jobRef(id).Get(ctx)
	if isNotFound(err) {
		return nil, jobs.Errorf(jobs.ErrNotFound, "job %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	var d jobDoc
	if err := snap.DataTo(&d); err != nil {
		return nil, fmt.Errorf("decode job %s: %w", id, err)
	}
	return &d, nil
}

// visibleJob reads a job of userID that readers may see: a parent that is
// not hidden, or a child whose parent is not.
func (s *Store) visibleJob(ctx context.Context, userID, id string) (*jobDoc, error) {
	d, err := s.getJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.UserID != userID {
		return nil, jobs.Errorf(jobs.ErrNotFound, "job %s not found", id)
	}
	switch {
	case d.isParent() && !d.visible():
		return nil, jobs.Errorf(jobs.ErrNotFound, "job %s not found", id)
	case d.isChild():
		p, err := s.getJob(ctx, d.BatchID)
		if jobs.IsCode(err, jobs.ErrNotFound) || err == nil && !p.visible() {
			return nil, jobs.Errorf(jobs.ErrNotFound, "job %s not found", id)
		}
		if err != nil {
			return nil, err
		}
		childView(d, p)
	}
	return d, nil
}

// childView shows a running child of a batch being cancelled as asked to
// stop: its worker learns it at its next heartbeat.
func childView(d, parent *jobDoc) {
	if d.Status == string(jobs.StatusRunning) && parent.CancelRequested {
		d.CancelRequested = true
	}
}

// cached looks up a completed result of identical work by the same user.
func (t *txn) cached(userID, key string) (from string, result []byte, ok bool, err error) {
	if key == "" {
		return "", nil, false, nil
	}
	snap, err := t.tx.Get(t.s.resultRef(userID, key))
	if isNotFound(err) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("look up result: %w", err)
	}
	var r resultDoc
	if err := snap.DataTo(&r); err != nil {
		return "", nil, false, fmt.Errorf("decode result: %w", err)
	}
	j, err := t.job(r.JobID)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, err
	}
	if j.doc.UserID != userID || j.doc.Status != string(jobs.StatusCompleted) {
		return "", nil, false, nil
	}
	if j.doc.isChild() {
		p, err := t.parent(j.doc.BatchID)
		if jobs.IsCode(err, jobs.ErrNotFound) || err == nil && !p.doc.visible() {
			return "", nil, false, nil
		}
		if err != nil {
			return "", nil, false, err
		}
	}
	return r.JobID, j.doc.Result, true, nil
}

// JobGet implements jobs.Store.
func (s *Store) JobGet(ctx context.Context, userID, jobID string) (*jobs.Job, error) {
	d, err := s.visibleJob(ctx, userID, jobID)
	if err != nil {
		return nil, wrap(err, "get job %s", jobID)
	}
	return d.job(jobID), nil
}

// BatchGet implements jobs.Store.
func (s *Store) BatchGet(ctx context.Context, userID, batchID string) (*jobs.Batch, error) {
	d, err := s.visibleJob(ctx, userID, batchID)
	if err == nil && !d.isParent() {
		err = jobs.Errorf(jobs.ErrNotFound, "batch %s not found", batchID)
	}
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return nil, jobs.Errorf(jobs.ErrNotFound, "batch %s not found", batchID)
	}
	if err != nil {
		return nil, wrap(err, "get batch %s", batchID)
	}
	return s.withProgress(ctx, batchID, d)
}

// withProgress reads a parent's shards and makes the batch.
func (s *Store) withProgress(ctx context.Context, id string, d *jobDoc) (*jobs.Batch, error) {
	shards, err := s.readShards(ctx, id, int(d.Shards))
	if err != nil {
		return nil, err
	}
	return d.batch(id, shards), nil
}

func (s *Store) readShards(ctx context.Context, id string, n int) ([]shardDoc, error) {
	refs := make([]*firestore.DocumentRef, n)
	for k := range refs {
		refs[k] = s.shardRef(id, k)
	}
	snaps, err := s.client.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("read progress of %s: %w", id, err)
	}
	out := make([]shardDoc, n)
	for k, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		if err := snap.DataTo(&out[k]); err != nil {
			return nil, fmt.Errorf("decode progress of %s: %w", id, err)
		}
	}
	return out, nil
}

// recordMilestones sets, at the time at, the milestones a batch has
// reached and not recorded yet. It runs after the commit that ended some
// of its children, on a fresh read of the shards; the write is a small
// transaction of its own, so the first to record a milestone wins.
func (s *Store) recordMilestones(ctx context.Context, id string, shards int, at int64) error {
	refs := []*firestore.DocumentRef{s.jobRef(id)}
	for k := 0; k < shards; k++ {
		refs = append(refs, s.shardRef(id, k))
	}
	snaps, err := s.client.GetAll(ctx, refs)
	if err != nil {
		return fmt.Errorf("milestones of %s: %w", id, err)
	}
	if !snaps[0].Exists() {
		return nil
	}
	var d jobDoc
	if err := snaps[0].DataTo(&d); err != nil {
		return fmt.Errorf("milestones of %s: %w", id, err)
	}
	docs := make([]shardDoc, shards)
	for k, snap := range snaps[1:] {
		if snap.Exists() {
			if err := snap.DataTo(&docs[k]); err != nil {
				return fmt.Errorf("milestones of %s: %w", id, err)
			}
		}
	}
	missing := missingMilestones(&d, sumShards(docs))
	if len(missing) == 0 {
		return nil
	}
	err = s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(s.jobRef(id))
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		var d jobDoc
		if err := snap.DataTo(&d); err != nil {
			return err
		}
		var ups []firestore.Update
		for _, m := range missing {
			if _, ok := d.Milestones[strconv.Itoa(m)]; !ok {
				ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{"milestones", strconv.Itoa(m)}, Value: at})
			}
		}
		if len(ups) == 0 {
			return nil
		}
		return tx.Update(snap.Ref, ups)
	})
	if err != nil {
		return fmt.Errorf("milestones of %s: %w", id, err)
	}
	return nil
}

// missingMilestones lists the milestones reached and not yet recorded.
func missingMilestones(d *jobDoc, p jobs.Progress) []int {
	var out []int
	for _, m := range jobs.MilestonePercents {
		if _, ok := d.Milestones[strconv.Itoa(m)]; !ok && p.Percent() >= float64(m) {
			out = append(out, m)
		}
	}
	return out
}

// JobList implements jobs.Store.
func (s *Store) JobList(ctx context.Context, f jobs.JobFilter) ([]*jobs.Job, error) {
	if f.UserID == "" {
		return nil, jobs.FieldError("user", "is required")
	}
	n, offset := limit(f.Limit, 100, 1000), max(f.Offset, 0)
	if f.BatchID != "" {
		return s.listChildren(ctx, f, n, offset)
	}
	q := s.jobsCol().Where("user_id", "==", f.UserID)
	if f.Type != "" {
		q = q.Where("type", "==", string(f.Type))
	}
	if f.Status != "" {
		q = q.Where("status", "==", string(f.Status))
	}
	if f.ReusedFrom != "" {
		q = q.Where("reused_from", "==", f.ReusedFrom)
	}
	q = q.OrderBy("created_at", firestore.Desc).OrderBy("ord", firestore.Desc).OrderBy("idx", firestore.Desc)
	parents := map[string]*jobDoc{}
	var out []*jobs.Job
	err := s.scan(ctx, q, func(id string, d *jobDoc) (bool, error) {
		ok, err := s.shown(ctx, id, d, parents)
		if err != nil || !ok {
			return false, err
		}
		if offset > 0 {
			offset--
			return false, nil
		}
		out = append(out, d.job(id))
		return len(out) == n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// shown reports whether a listed job may be shown, reading (once per
// list) the parents of children.
func (s *Store) shown(ctx context.Context, id string, d *jobDoc, parents map[string]*jobDoc) (bool, error) {
	switch {
	case d.isParent():
		parents[id] = d
		return d.visible(), nil
	case !d.isChild():
		return true, nil
	}
	p, ok := parents[d.BatchID]
	if !ok {
		var err error
		p, err = s.getJob(ctx, d.BatchID)
		if jobs.IsCode(err, jobs.ErrNotFound) {
			p, err = nil, nil
		}
		if err != nil {
			return false, err
		}
		parents[d.BatchID] = p
	}
	if p == nil || !p.visible() {
		return false, nil
	}
	childView(d, p)
	return true, nil
}

// listChildren lists a batch's children in input order.
func (s *Store) listChildren(ctx context.Context, f jobs.JobFilter, n, offset int) ([]*jobs.Job, error) {
	if f.Type != "" && f.Type != jobs.TypeBatchChild {
		return nil, nil
	}
	p, err := s.visibleJob(ctx, f.UserID, f.BatchID)
	if jobs.IsCode(err, jobs.ErrNotFound) || err == nil && !p.isParent() {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	q := s.jobsCol().Where("batch_id", "==", f.BatchID).Where("type", "==", string(jobs.TypeBatchChild))
	if f.Status != "" {
		q = q.Where("status", "==", string(f.Status))
	}
	if f.ReusedFrom != "" {
		q = q.Where("reused_from", "==", f.ReusedFrom)
	}
	docs, err := q.OrderBy("idx", firestore.Asc).Offset(offset).Limit(n).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]*jobs.Job, 0, len(docs))
	for _, snap := range docs {
		var d jobDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("list jobs: decode %s: %w", snap.Ref.ID, err)
		}
		if d.UserID != f.UserID {
			continue
		}
		childView(&d, p)
		out = append(out, d.job(snap.Ref.ID))
	}
	return out, nil
}

// scan streams a query's documents to fn until fn says stop.
func (s *Store) scan(ctx context.Context, q firestore.Query, fn func(id string, d *jobDoc) (stop bool, err error)) error {
	it := q.Documents(ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
		var d jobDoc
		if err := snap.DataTo(&d); err != nil {
			return fmt.Errorf("decode %s: %w", snap.Ref.ID, err)
		}
		stop, err := fn(snap.Ref.ID, &d)
		if err != nil || stop {
			return err
		}
	}
}

// BatchList implements jobs.Store. Hidden batches and names that do not
// match the query are filtered out as the list streams, so paging by
// offset skips only what is shown.
func (s *Store) BatchList(ctx context.Context, f jobs.BatchFilter) ([]*jobs.Batch, error) {
	if f.UserID == "" {
		return nil, jobs.FieldError("user", "is required")
	}
	if !f.Order.Valid() {
		return nil, jobs.FieldError("sort", "unknown order %q", f.Order)
	}
	if f.After != nil && f.Order != jobs.NewestFirst {
		return nil, jobs.FieldError("cursor", "only pages the newest-first order")
	}
	q := s.jobsCol().Where("user_id", "==", f.UserID)
	if f.Individual {
		q = q.Where("type", "in", []string{string(jobs.TypeBatchParent), string(jobs.TypeIndividual)})
	} else {
		q = q.Where("type", "==", string(jobs.TypeBatchParent))
	}
	if f.Status != "" {
		q = q.Where("status", "==", string(f.Status))
	}
	if f.Model != "" {
		q = q.Where("model", "==", f.Model)
	}
	switch f.Order {
	case jobs.NewestFirst:
		q = q.OrderBy("created_at", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
		if f.After != nil {
			q = q.StartAfter(fromTime(f.After.CreatedAt), f.After.ID)
		}
	case jobs.OldestFirst:
		q = q.OrderBy("created_at", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc)
	case jobs.NameAsc:
		q = q.OrderBy("name_lower", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc)
	case jobs.NameDesc:
		q = q.OrderBy("name_lower", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc)
	}
	n, offset := limit(f.Limit, 50, 500), max(f.Offset, 0)
	query := asciiLower(f.Query)
	var out []*jobs.Batch
	err := s.scan(ctx, q, func(id string, d *jobDoc) (bool, error) {
		if !d.visible() || query != "" && !strings.Contains(d.NameLower, query) {
			return false, nil
		}
		if offset > 0 {
			offset--
			return false, nil
		}
		if !d.isParent() {
			out = append(out, &jobs.Batch{Job: *d.job(id), Progress: jobs.SingleProgress(d.status())})
			return len(out) == n, nil
		}
		b, err := s.withProgress(ctx, id, d)
		if err != nil {
			return false, err
		}
		out = append(out, b)
		return len(out) == n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	return out, nil
}
