package firestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"omtx/jobs"
)

const (
	// pageSize is how many candidates a lease reads at a time.
	pageSize = 20
	// maxReuse is how many jobs one lease transaction completes from
	// identical work before it commits and goes on in another.
	maxReuse = 50
	// maxModels is the most models a lease may ask for (Firestore's "in").
	maxModels = 30
)

func noWork() error { return jobs.Errorf(jobs.ErrNoWork, "no work") }

// JobLease implements jobs.Store. Finalize tasks come first (they are
// short and a user is waiting for them); then users are served
// round-robin, least recently served first; within a user, individual jobs
// come before batch children, and batches are served round-robin; within a
// batch, children go in input order. Users with as many jobs running as
// their cap allows wait, and paused batches are passed over. A job whose
// identical work already completed is completed from that result here and
// never handed out (and stays completed when nothing else is left).
//
// The users waiting are read outside any transaction; each is then tried
// in a transaction of its own that reads the user's queue entry, checks
// the cap, and picks and leases the user's next job. "Last served" is a
// logical clock: the store clock's time in nanoseconds, or one more than
// the latest value handed out when the clock has not moved past it (a
// manual clock, or clock skew between hubs).
func (s *Store) JobLease(ctx context.Context, p jobs.LeaseParams) (*jobs.Job, error) {
	if err := checkLeaseParams(p); err != nil {
		return nil, err
	}
	if p.Finalize {
		j, err := s.leaseFinalize(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("lease finalize task: %w", err)
		}
		if j != nil {
			return j, nil
		}
	}
	if len(p.Models) == 0 {
		return nil, noWork()
	}
	hint, err := s.lastServed(ctx)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	it := s.usersCol().Where("eligible", "==", true).OrderBy("served", firestore.Asc).OrderBy("user_id", firestore.Asc).Documents(ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil, noWork()
		}
		if err != nil {
			return nil, fmt.Errorf("lease: users: %w", err)
		}
		var u userDoc
		if err := snap.DataTo(&u); err != nil {
			return nil, fmt.Errorf("lease: decode user: %w", err)
		}
		for {
			res, err := s.leaseFromUser(ctx, u.UserID, p, hint)
			if err != nil {
				return nil, wrap(err, "lease")
			}
			if res.job != nil {
				return res.job, nil
			}
			if !res.more {
				break
			}
		}
	}
}

func checkLeaseParams(p jobs.LeaseParams) error {
	switch {
	case p.Owner == "":
		return jobs.FieldError("owner", "is required")
	case p.TTL <= 0:
		return jobs.FieldError("ttl", "must be positive")
	case len(p.Models) > maxModels:
		return jobs.FieldError("models", "at most %d", maxModels)
	}
	return nil
}

// lastServed is the latest "last served" value handed out.
func (s *Store) lastServed(ctx context.Context) (int64, error) {
	docs, err := s.usersCol().OrderBy("served", firestore.Desc).Limit(1).Documents(ctx).GetAll()
	if err != nil || len(docs) == 0 {
		return 0, err
	}
	var u userDoc
	if err := docs[0].DataTo(&u); err != nil {
		return 0, err
	}
	return u.Served, nil
}

type leaseResult struct {
	job *jobs.Job
	// more: the transaction completed maxReuse jobs from identical work
	// and the user may have more.
	more bool
}

// leaseFromUser leases the user's next job, if the user is under their
// cap and has one for these models.
func (s *Store) leaseFromUser(ctx context.Context, userID string, p jobs.LeaseParams, hint int64) (leaseResult, error) {
	var res leaseResult
	var leased *jobState
	err := s.update(ctx, userID, func(t *txn) error {
		res, leased = leaseResult{}, nil
		u, err := t.user(userID)
		if err != nil {
			return err
		}
		if u.doc.Pending <= 0 || u.doc.MaxRunning > 0 && u.doc.Running >= u.doc.MaxRunning {
			return nil
		}
		served := max(t.now, hint+1, u.doc.Served+1)
		expires := t.now + p.TTL.Nanoseconds()
		reused := 0
		take := func(j *jobState) (bool, error) {
			if j.doc.Status != string(jobs.StatusPending) || j.doc.AvailableAt > t.now {
				return false, nil
			}
			from, result, hit, err := t.cached(userID, j.doc.ContentKey)
			if err != nil {
				return false, err
			}
			if hit {
				j.doc.ReusedFrom = from
				if err := t.setStatus(j, jobs.StatusCompleted, "", result); err != nil {
					return false, err
				}
				reused++
				res.more = reused >= maxReuse
				return res.more, nil
			}
			leased = j
			return true, t.leaseJob(j, p.Owner, expires, served)
		}
		done, err := t.scanJobs(s.jobsCol().Where("user_id", "==", userID).Where("type", "==", string(jobs.TypeIndividual)).
			Where("status", "==", string(jobs.StatusPending)).Where("model", "in", p.Models).
			OrderBy("created_at", firestore.Asc).OrderBy("ord", firestore.Asc), take)
		if err != nil || done {
			return err
		}
		batches, err := t.openBatches(userID, p.Models, u.doc.BatchServed)
		if err != nil {
			return err
		}
		for _, b := range batches {
			done, err := t.scanJobs(s.pendingChildren(b.id), take)
			if err != nil || done {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return leaseResult{}, err
	}
	if leased != nil {
		res.job = leased.doc.job(leased.id)
	}
	return res, nil
}

// pendingChildren selects a batch's pending children in input order.
func (s *Store) pendingChildren(batchID string) firestore.Query {
	return s.jobsCol().Where("batch_id", "==", batchID).Where("type", "==", string(jobs.TypeBatchChild)).
		Where("status", "==", string(jobs.StatusPending)).OrderBy("idx", firestore.Asc)
}

// openBatches reads a user's batches whose children may be leased, least
// recently served first.
func (t *txn) openBatches(userID string, models []string, served map[string]int64) ([]*parentState, error) {
	snaps, err := t.tx.Documents(t.s.jobsCol().Where("user_id", "==", userID).Where("type", "==", string(jobs.TypeBatchParent)).
		Where("open", "==", true).Where("model", "in", models)).GetAll()
	if err != nil {
		return nil, fmt.Errorf("open batches of %s: %w", userID, err)
	}
	out := make([]*parentState, 0, len(snaps))
	for _, snap := range snaps {
		if _, err := t.addJob(snap); err != nil {
			return nil, err
		}
		out = append(out, t.parents[snap.Ref.ID])
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if served[a.id] != served[b.id] {
			return served[a.id] < served[b.id]
		}
		if a.doc.CreatedAt != b.doc.CreatedAt {
			return a.doc.CreatedAt < b.doc.CreatedAt
		}
		if a.doc.Ord != b.doc.Ord {
			return a.doc.Ord < b.doc.Ord
		}
		return a.id < b.id
	})
	return out, nil
}

// scanJobs reads a query's documents in the transaction, a page at a
// time, and hands each to fn until fn says it is done.
func (t *txn) scanJobs(q firestore.Query, fn func(*jobState) (bool, error)) (bool, error) {
	var last *firestore.DocumentSnapshot
	for {
		page := q.Limit(pageSize)
		if last != nil {
			page = page.StartAfter(last)
		}
		snaps, err := t.tx.Documents(page).GetAll()
		if err != nil {
			return false, err
		}
		for _, snap := range snaps {
			j, err := t.addJob(snap)
			if err != nil {
				return false, err
			}
			done, err := fn(j)
			if err != nil || done {
				return done, err
			}
		}
		if len(snaps) < pageSize {
			return false, nil
		}
		last = snaps[len(snaps)-1]
	}
}

// leaseFinalize leases the finalize task of the batch that ended first,
// or answers nil. The candidates are found outside a transaction; each is
// then leased in a transaction on its user's records that checks again
// that it is pending.
func (s *Store) leaseFinalize(ctx context.Context, p jobs.LeaseParams) (*jobs.Job, error) {
	q := s.jobsCol().Where("type", "==", string(jobs.TypeBatchParent)).
		Where("finalize_state", "==", string(jobs.FinalizePending)).OrderBy("finished_at", firestore.Asc)
	var out *jobs.Job
	err := s.scan(ctx, q, func(id string, d *jobDoc) (bool, error) {
		if d.AvailableAt > s.now() || !d.visible() {
			return false, nil
		}
		err := s.update(ctx, d.UserID, func(t *txn) error {
			out = nil
			b, err := t.parent(id)
			if jobs.IsCode(err, jobs.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			d := &b.doc
			if d.Finalize != string(jobs.FinalizePending) || d.AvailableAt > t.now || !d.visible() {
				return nil
			}
			d.Finalize = string(jobs.FinalizeLeased)
			d.Attempt++
			d.LeaseOwner, d.LeaseExpiresAt, d.UpdatedAt = p.Owner, t.now+p.TTL.Nanoseconds(), t.now
			b.dirty = true
			out = d.job(id)
			return nil
		})
		return out != nil, err
	})
	return out, err
}

// JobLeaseSiblings implements jobs.Store.
func (s *Store) JobLeaseSiblings(ctx context.Context, p jobs.LeaseParams, held jobs.Lease, n int) ([]*jobs.Job, error) {
	if p.Owner == "" || p.Owner != held.Owner {
		return nil, jobs.FieldError("owner", "must be the holder of the lease")
	}
	if p.TTL <= 0 {
		return nil, jobs.FieldError("ttl", "must be positive")
	}
	userID, err := s.ownerOf(ctx, held.JobID)
	if err != nil {
		return nil, fmt.Errorf("lease siblings: %w", err)
	}
	var out []*jobState
	err = s.update(ctx, userID, func(t *txn) error {
		out = nil
		j, err := t.holding(held)
		if err != nil || !j.doc.isChild() {
			return err
		}
		b, err := t.parentOf(j)
		if err != nil {
			return err
		}
		// A paused batch hands out nothing more, and siblings count
		// against the user's cap like any lease.
		if b.doc.Paused || b.doc.CancelRequested {
			return nil
		}
		u, err := t.user(j.doc.UserID)
		if err != nil {
			return err
		}
		want := n
		if u.doc.MaxRunning > 0 {
			want = min(want, int(u.doc.MaxRunning-u.doc.Running))
		}
		if want <= 0 {
			return nil
		}
		served := max(t.now, u.doc.Served+1)
		expires := t.now + p.TTL.Nanoseconds()
		_, err = t.scanJobs(s.pendingChildren(b.id), func(c *jobState) (bool, error) {
			if c.doc.Status != string(jobs.StatusPending) || c.doc.AvailableAt > t.now {
				return false, nil
			}
			from, result, hit, err := t.cached(c.doc.UserID, c.doc.ContentKey)
			if err != nil {
				return false, err
			}
			if hit {
				c.doc.ReusedFrom = from
				return false, t.setStatus(c, jobs.StatusCompleted, "", result)
			}
			if err := t.leaseJob(c, p.Owner, expires, served); err != nil {
				return false, err
			}
			out = append(out, c)
			return len(out) >= want, nil
		})
		return err
	})
	if err != nil {
		return nil, wrap(err, "lease siblings")
	}
	leased := make([]*jobs.Job, len(out))
	for i, j := range out {
		leased[i] = j.doc.job(j.id)
	}
	return leased, nil
}

// holding reads the job of a lease and checks that the lease still holds:
// same owner, same attempt, the job (or finalize task) still leased, and
// not expired.
func (t *txn) holding(l jobs.Lease) (*jobState, error) {
	j, err := t.job(l.JobID)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return nil, jobs.Errorf(jobs.ErrLeaseLost, "job %s: lease lost: job not found", l.JobID)
	}
	if err != nil {
		return nil, err
	}
	d := &j.doc
	leased := d.Status == string(jobs.StatusRunning)
	if d.isParent() {
		leased = d.Finalize == string(jobs.FinalizeLeased)
	}
	switch {
	case !leased || d.LeaseOwner != l.Owner || int(d.Attempt) != l.Attempt:
		return nil, jobs.Errorf(jobs.ErrLeaseLost, "job %s: lease of %s (attempt %d) lost: job is %s", l.JobID, l.Owner, l.Attempt, d.Status)
	case t.now >= d.LeaseExpiresAt:
		return nil, jobs.Errorf(jobs.ErrLeaseLost, "job %s: lease of %s (attempt %d) expired at %s", l.JobID, l.Owner, l.Attempt,
			toTime(d.LeaseExpiresAt).Format(time.RFC3339Nano))
	}
	return j, nil
}

// cancelRequested reports whether a job's worker must stop: the job was
// cancelled, or (a child) its batch was.
func (t *txn) cancelRequested(j *jobState) (bool, error) {
	if j.doc.CancelRequested || !j.doc.isChild() {
		return j.doc.CancelRequested, nil
	}
	p, err := t.parentOf(j)
	if err != nil {
		return false, err
	}
	return p.doc.CancelRequested, nil
}

// JobHeartbeat implements jobs.Store.
func (s *Store) JobHeartbeat(ctx context.Context, l jobs.Lease, ttl time.Duration) (jobs.Lease, error) {
	if ttl <= 0 {
		return l, jobs.FieldError("ttl", "must be positive")
	}
	userID, err := s.ownerOf(ctx, l.JobID)
	if err != nil {
		return l, fmt.Errorf("heartbeat %s: %w", l.JobID, err)
	}
	var out jobs.Lease
	var cancelled bool
	err = s.update(ctx, userID, func(t *txn) error {
		cancelled = false
		j, err := t.holding(l)
		if err != nil {
			return err
		}
		if !j.doc.isParent() {
			stop, err := t.cancelRequested(j)
			if err != nil {
				return err
			}
			if stop {
				cancelled = true
				return t.setStatus(j, jobs.StatusCancelled, "", nil)
			}
		}
		out = l
		out.ExpiresAt = toTime(t.now + ttl.Nanoseconds())
		j.doc.LeaseExpiresAt, j.doc.UpdatedAt = fromTime(out.ExpiresAt), t.now
		j.dirty = true
		if j.doc.isParent() {
			t.parents[j.id].dirty = true
		}
		return nil
	})
	if err != nil {
		return l, wrap(err, "heartbeat %s", l.JobID)
	}
	if cancelled {
		return l, jobs.Errorf(jobs.ErrCancelled, "job %s was cancelled", l.JobID)
	}
	return out, nil
}

// JobComplete implements jobs.Store.
func (s *Store) JobComplete(ctx context.Context, l jobs.Lease, result json.RawMessage) error {
	if len(result) > maxResultBytes {
		return jobs.FieldError("result", "is larger than %d KiB", maxResultBytes>>10)
	}
	userID, err := s.ownerOf(ctx, l.JobID)
	if err != nil {
		return fmt.Errorf("complete %s: %w", l.JobID, err)
	}
	err = s.update(ctx, userID, func(t *txn) error {
		j, err := t.holding(l)
		if err != nil {
			return err
		}
		d := &j.doc
		if d.isParent() {
			d.Finalize, d.FinalizedAt, d.LeaseOwner, d.LeaseExpiresAt, d.UpdatedAt = string(jobs.FinalizeDone), t.now, "", 0, t.now
			t.parents[j.id].dirty = true
			return t.record(d.UserID, j.id, j.id, jobs.TypeBatchParent, d.status())
		}
		if d.ContentKey != "" {
			ref := s.resultRef(d.UserID, d.ContentKey)
			_, err := t.tx.Get(ref)
			switch {
			case isNotFound(err):
				t.results = append(t.results, resultWrite{ref: ref, doc: resultDoc{UserID: d.UserID, ContentKey: d.ContentKey, JobID: j.id, BatchID: d.BatchID}})
			case err != nil:
				return fmt.Errorf("look up result: %w", err)
			}
		}
		res := []byte(result)
		if res == nil {
			res = []byte{}
		}
		return t.setStatus(j, jobs.StatusCompleted, "", res)
	})
	return wrap(err, "complete %s", l.JobID)
}

// JobFail implements jobs.Store.
func (s *Store) JobFail(ctx context.Context, l jobs.Lease, f jobs.Failure) error {
	userID, err := s.ownerOf(ctx, l.JobID)
	if err != nil {
		return fmt.Errorf("fail %s: %w", l.JobID, err)
	}
	err = s.update(ctx, userID, func(t *txn) error {
		j, err := t.holding(l)
		if err != nil {
			return err
		}
		return t.failAttempt(j, f)
	})
	return wrap(err, "fail %s", l.JobID)
}

// failAttempt ends a leased attempt that did not succeed: back to pending
// after a backoff when it may be retried and attempts remain, failed for
// good otherwise. A finalize task is retried the same way.
func (t *txn) failAttempt(j *jobState, f jobs.Failure) error {
	d := &j.doc
	retry := f.Retryable && d.Attempt < d.MaxAttempts
	msg := f.Error
	if f.Retryable && !retry {
		msg = fmt.Sprintf("%s (gave up after %d attempts)", f.Error, d.Attempt)
	}
	if retry {
		d.AvailableAt = t.now + t.s.cfg.Retry.Backoff(int(d.Attempt)).Nanoseconds()
		j.dirty = true
	}
	if d.isParent() {
		d.Finalize = string(jobs.FinalizeFailed)
		if retry {
			d.Finalize = string(jobs.FinalizePending)
		}
		d.Error, d.LeaseOwner, d.LeaseExpiresAt, d.UpdatedAt = msg, "", 0, t.now
		t.parents[j.id].dirty = true
		return nil
	}
	to := jobs.StatusFailed
	if retry {
		to = jobs.StatusPending
	}
	return t.setStatus(j, to, msg, nil)
}

// JobRescue implements jobs.Store. Each expired lease is returned in a
// transaction of its own that checks again that it expired. It also
// finishes, or undoes, the batch-wide work that a crashed hub left half
// done (see the package documentation); that is not counted.
func (s *Store) JobRescue(ctx context.Context) (jobs.Rescued, error) {
	var r jobs.Rescued
	now := s.now()
	running, err := s.owned(ctx, s.jobsCol().Where("status", "==", string(jobs.StatusRunning)).
		Where("lease_expires_at", ">", int64(0)).Where("lease_expires_at", "<=", now))
	if err != nil {
		return r, fmt.Errorf("rescue: %w", err)
	}
	finalize, err := s.owned(ctx, s.jobsCol().Where("finalize_state", "==", string(jobs.FinalizeLeased)).
		Where("lease_expires_at", "<=", now))
	if err != nil {
		return r, fmt.Errorf("rescue: %w", err)
	}
	for _, o := range append(running, finalize...) {
		var got jobs.Rescued
		err := s.update(ctx, o.user, func(t *txn) error {
			got = jobs.Rescued{}
			return t.rescue(o.id, &got)
		})
		if err != nil {
			return r, fmt.Errorf("rescue %s: %w", o.id, err)
		}
		r.Retried += got.Retried
		r.Failed += got.Failed
		r.Cancelled += got.Cancelled
		r.Finalize += got.Finalize
	}
	if err := s.resumeStale(ctx, now); err != nil {
		return r, fmt.Errorf("rescue: %w", err)
	}
	return r, nil
}

// rescue returns one expired lease, if it is still leased and expired.
func (t *txn) rescue(id string, r *jobs.Rescued) error {
	j, err := t.job(id)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	d := &j.doc
	leased := d.Status == string(jobs.StatusRunning)
	if d.isParent() {
		leased = d.Finalize == string(jobs.FinalizeLeased)
	}
	if !leased || d.LeaseExpiresAt > t.now {
		return nil
	}
	if !d.isParent() {
		stop, err := t.cancelRequested(j)
		if err != nil {
			return err
		}
		if stop {
			r.Cancelled++
			return t.setStatus(j, jobs.StatusCancelled, "", nil)
		}
	}
	f := jobs.Failure{Retryable: true, Error: fmt.Sprintf("lease expired: worker %s stopped heartbeating during attempt %d of %d",
		d.LeaseOwner, d.Attempt, d.MaxAttempts)}
	switch {
	case d.isParent():
		r.Finalize++
	case d.Attempt < d.MaxAttempts:
		r.Retried++
	default:
		r.Failed++
	}
	return t.failAttempt(j, f)
}

// ownedDoc is a job's id and its user.
type ownedDoc struct{ id, user string }

// owned lists the jobs a query finds, with their users.
func (s *Store) owned(ctx context.Context, q firestore.Query) ([]ownedDoc, error) {
	var out []ownedDoc
	err := s.scan(ctx, q.Select("user_id"), func(id string, d *jobDoc) (bool, error) {
		out = append(out, ownedDoc{id, d.UserID})
		return false, nil
	})
	return out, err
}

// ownerOf is the user of a job, read outside any transaction (a job's user
// never changes) so that the transaction on the job can take the user's
// lock. A job that does not exist has no user; the transaction finds out.
func (s *Store) ownerOf(ctx context.Context, jobID string) (string, error) {
	d, err := s.getJob(ctx, jobID)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return d.UserID, nil
}
