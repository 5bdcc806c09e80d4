package jobs

import (
	"context"
	"encoding/json"
	"time"
)

// Store keeps jobs and batches. Every method that reads or changes a
// user's records takes that user and never returns or touches another
// user's records: another user's ID answers ErrNotFound. The runner-side
// methods (lease, heartbeat, complete, fail, rescue) act on leases, which
// only the store hands out.
//
// Implementations enforce the lifecycle of this package (CanTransition),
// keep batch progress exact under concurrent workers, and finalize each
// batch exactly once.
type Store interface {
	// Submit records an individual job, or a batch parent with all its
	// children, atomically: all of it or nothing.
	Submit(ctx context.Context, s Submission) (*Job, error)

	JobGet(ctx context.Context, userID, jobID string) (*Job, error)
	JobList(ctx context.Context, f JobFilter) ([]*Job, error)
	// JobCancel cancels an individual job: at once when pending; a running
	// job's worker learns it at its next heartbeat.
	JobCancel(ctx context.Context, userID, jobID string) (*Job, error)

	BatchGet(ctx context.Context, userID, batchID string) (*Batch, error)
	BatchList(ctx context.Context, f BatchFilter) ([]*Batch, error)
	// BatchCancel cancels a batch: its pending children at once, its running
	// children at their next heartbeat.
	BatchCancel(ctx context.Context, userID, batchID string) (*Batch, error)

	// JobLease hands out one job to run, or a batch's finalize task (a
	// BATCH_PARENT job), fairly across users and batches. It answers
	// ErrNoWork when there is nothing to do.
	JobLease(ctx context.Context, p LeaseParams) (*Job, error)
	// JobLeaseSiblings leases up to n more pending children of the batch of
	// a child the worker already holds, for engines that run many inputs in
	// one process. It may return fewer, or none.
	JobLeaseSiblings(ctx context.Context, p LeaseParams, held Lease, n int) ([]*Job, error)
	// JobHeartbeat extends a lease by ttl. ErrLeaseLost: the lease expired
	// or was taken over; ErrCancelled: the job was cancelled. In both cases
	// the worker stops and writes nothing.
	JobHeartbeat(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// JobComplete ends a leased job with its result (or a finalize task).
	JobComplete(ctx context.Context, l Lease, result json.RawMessage) error
	// JobFail records a failed attempt. A retryable failure with attempts
	// left goes back to pending after the retry policy's backoff.
	JobFail(ctx context.Context, l Lease, f Failure) error
	// JobRescue returns expired leases: to pending with backoff while
	// attempts remain, failed for good after the last one.
	JobRescue(ctx context.Context) (Rescued, error)

	// ChangesSince lists a user's job and batch changes after seq, in order.
	ChangesSince(ctx context.Context, userID string, since int64, limit int) ([]Change, error)
	// Watch streams a user's changes after seq until ctx ends. The channel
	// closes when ctx is done or the store fails.
	Watch(ctx context.Context, userID string, since int64) (<-chan Change, error)

	// Ping checks that the store answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Submission is a new individual job (no Children) or batch (Children).
type Submission struct {
	UserID       string
	Model        string
	ModelVersion string
	Name         string
	// Input is the individual job's input, or what a batch's children share.
	Input json.RawMessage
	// ContentKey of an individual job (see ContentKey); optional.
	ContentKey string
	Children   []ChildSubmission
	// MaxAttempts per job; DefaultMaxAttempts when zero.
	MaxAttempts int
}

// ChildSubmission is one child of a batch.
type ChildSubmission struct {
	Name       string
	Input      json.RawMessage
	ContentKey string
}

// Validate checks a submission before it reaches a store.
func (s Submission) Validate() error {
	switch {
	case s.UserID == "":
		return FieldError("user", "is required")
	case s.Model == "":
		return FieldError("model_name", "is required")
	case s.MaxAttempts < 0:
		return FieldError("max_attempts", "must not be negative")
	}
	for i, c := range s.Children {
		if c.Name == "" {
			return FieldError("ligands", "row %d: name is required", i+1)
		}
	}
	return nil
}

// IsBatch reports whether the submission is a batch.
func (s Submission) IsBatch() bool { return s.Children != nil }

// JobFilter selects a user's jobs.
type JobFilter struct {
	UserID  string // required
	BatchID string // children of this batch
	Type    Type   // optional
	Status  Status // optional
	// Children list in batch order, other jobs newest first.
	Offset int
	Limit  int // default 100, at most 1000
}

// BatchFilter selects a user's batches, newest first.
type BatchFilter struct {
	UserID string // required
	Status Status // optional
	Offset int
	Limit  int // default 50, at most 500
}

// LeaseParams says who leases and for what.
type LeaseParams struct {
	Owner  string        // worker identity, unique per process
	Models []string      // models this worker runs
	TTL    time.Duration // lease term; heartbeats extend it
	// Finalize lets this worker take batch finalize tasks.
	Finalize bool
}

// Failure is a failed attempt.
type Failure struct {
	Error string
	// Retryable asks for another attempt if any are left; otherwise the job
	// fails for good (bad input, an engine that rejected it).
	Retryable bool
}

// Rescued counts what a rescue pass did.
type Rescued struct {
	Retried   int // back to pending
	Failed    int // out of attempts
	Cancelled int // cancelled while its worker was gone
	Finalize  int // finalize tasks handed out again
}

// Change is one event in a user's feed: a job or batch changed.
type Change struct {
	Seq     int64
	UserID  string
	JobID   string
	BatchID string
	Type    Type
	Status  Status
	At      time.Time
}

// Config is what every store needs from its composition root.
type Config struct {
	Clock Clock
	Retry RetryPolicy
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Retry == nil {
		c.Retry = DefaultRetry
	}
	return c
}
