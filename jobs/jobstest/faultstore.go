package jobstest

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"omtx/jobs"
)

// FaultStore is a jobs.Store that injects faults (see Faults) into the
// calls of another: errors, timeouts, and writes that happen while the
// caller is told they failed. It counts the completions that really
// happened, whatever their callers were told, so that a test can check
// that every job completed exactly once.
//
// Faults reach Submit, the reads a runner makes (JobGet, JobList,
// BatchGet), the runner's calls (JobLease, JobLeaseSiblings,
// JobHeartbeat, JobComplete, JobFail, JobRescue) and BatchCancel; the
// other methods pass through.
type FaultStore struct {
	jobs.Store
	faults *Faults

	mu          sync.Mutex
	completions map[string]int
}

// NewFaultStore wraps inner.
func NewFaultStore(inner jobs.Store, f *Faults) *FaultStore {
	return &FaultStore{Store: inner, faults: f, completions: map[string]int{}}
}

// Completions is how many times JobComplete really completed job id (a
// batch parent's: its finalize task).
func (s *FaultStore) Completions(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.completions[id]
}

// Submit implements jobs.Store.
func (s *FaultStore) Submit(ctx context.Context, sub jobs.Submission) (*jobs.Job, error) {
	return Do(ctx, s.faults, "Submit", func(ctx context.Context) (*jobs.Job, error) { return s.Store.Submit(ctx, sub) })
}

// JobGet implements jobs.Store.
func (s *FaultStore) JobGet(ctx context.Context, userID, jobID string) (*jobs.Job, error) {
	return Do(ctx, s.faults, "JobGet", func(ctx context.Context) (*jobs.Job, error) { return s.Store.JobGet(ctx, userID, jobID) })
}

// JobList implements jobs.Store.
func (s *FaultStore) JobList(ctx context.Context, f jobs.JobFilter) ([]*jobs.Job, error) {
	return Do(ctx, s.faults, "JobList", func(ctx context.Context) ([]*jobs.Job, error) { return s.Store.JobList(ctx, f) })
}

// BatchGet implements jobs.Store.
func (s *FaultStore) BatchGet(ctx context.Context, userID, batchID string) (*jobs.Batch, error) {
	return Do(ctx, s.faults, "BatchGet", func(ctx context.Context) (*jobs.Batch, error) { return s.Store.BatchGet(ctx, userID, batchID) })
}

// BatchCancel implements jobs.Store.
func (s *FaultStore) BatchCancel(ctx context.Context, userID, batchID string) (*jobs.Batch, error) {
	return Do(ctx, s.faults, "BatchCancel", func(ctx context.Context) (*jobs.Batch, error) { return s.Store.BatchCancel(ctx, userID, batchID) })
}

// JobLease implements jobs.Store.
func (s *FaultStore) JobLease(ctx context.Context, p jobs.LeaseParams) (*jobs.Job, error) {
	return Do(ctx, s.faults, "JobLease", func(ctx context.Context) (*jobs.Job, error) { return s.Store.JobLease(ctx, p) })
}

// JobLeaseSiblings implements jobs.Store.
func (s *FaultStore) JobLeaseSiblings(ctx context.Context, p jobs.LeaseParams, held jobs.Lease, n int) ([]*jobs.Job, error) {
	return Do(ctx, s.faults, "JobLeaseSiblings", func(ctx context.Context) ([]*jobs.Job, error) {
		return s.Store.JobLeaseSiblings(ctx, p, held, n)
	})
}

// JobHeartbeat implements jobs.Store.
func (s *FaultStore) JobHeartbeat(ctx context.Context, l jobs.Lease, ttl time.Duration) (jobs.Lease, error) {
	next, err := Do(ctx, s.faults, "JobHeartbeat", func(ctx context.Context) (jobs.Lease, error) { return s.Store.JobHeartbeat(ctx, l, ttl) })
	if err != nil && IsInjected(err) {
		return l, err
	}
	return next, err
}

// JobComplete implements jobs.Store.
func (s *FaultStore) JobComplete(ctx context.Context, l jobs.Lease, result json.RawMessage) error {
	_, err := Do(ctx, s.faults, "JobComplete", func(ctx context.Context) (struct{}, error) {
		err := s.Store.JobComplete(ctx, l, result)
		if err == nil {
			s.mu.Lock()
			s.completions[l.JobID]++
			s.mu.Unlock()
		}
		return struct{}{}, err
	})
	return err
}

// JobFail implements jobs.Store.
func (s *FaultStore) JobFail(ctx context.Context, l jobs.Lease, f jobs.Failure) error {
	_, err := Do(ctx, s.faults, "JobFail", func(ctx context.Context) (struct{}, error) { return struct{}{}, s.Store.JobFail(ctx, l, f) })
	return err
}

// JobRescue implements jobs.Store.
func (s *FaultStore) JobRescue(ctx context.Context) (jobs.Rescued, error) {
	return Do(ctx, s.faults, "JobRescue", func(ctx context.Context) (jobs.Rescued, error) { return s.Store.JobRescue(ctx) })
}
