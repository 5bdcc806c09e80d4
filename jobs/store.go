package jobs

import (
	"context"
	"encoding/json"
	"sort"
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
	//
	// A submission with an IdempotencyKey is recorded at most once per user
	// and key, concurrent submissions included: a later one under a key
	// that the user's existing job or batch holds records nothing and
	// answers *SubmittedError with that job when it asks for the same work
	// (equal Fingerprint), KeyReusedError (ErrConflict) when it does not.
	// Deleting the job frees its key.
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
	// BatchPause stops new leases of a batch's children (running ones
	// finish, and the batch stays open while any child is pending);
	// BatchResume allows them again. Both are idempotent, record a change
	// of the batch when they change it, and answer ErrConflict for a batch
	// in a final status. A paused batch can be cancelled; a batch that ends
	// is no longer paused.
	BatchPause(ctx context.Context, userID, batchID string) (*Batch, error)
	BatchResume(ctx context.Context, userID, batchID string) (*Batch, error)
	// BatchRetryFailed puts a batch's failed children back to pending with
	// fresh attempts (attempt 0, no error, available now), reopening the
	// batch if it had ended: running again, its cancel request and
	// finalize task cleared, so that it ends and is finalized again,
	// exactly once, when they end. Milestones already reached keep their
	// time. It returns the batch and how many children went back; none is
	// not an error. ErrConflict while the finalize task is leased or a
	// cancel is under way.
	BatchRetryFailed(ctx context.Context, userID, batchID string) (*Batch, int, error)
	// BatchDelete removes an ended batch with its children, milestones,
	// changes and cached results (ErrConflict while any child is pending
	// or running, or its finalize task is pending or leased: cancel it
	// first and wait for its finalize task).
	BatchDelete(ctx context.Context, userID, batchID string) error
	// JobDelete removes an ended individual job with its changes and cached
	// result (ErrConflict while it is pending or running: cancel it first;
	// ErrNotFound for a batch or a batch child).
	JobDelete(ctx context.Context, userID, jobID string) error

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

	// Stats counts jobs across all users for operators (metrics, system
	// status): no user's records, only numbers.
	Stats(ctx context.Context) (Stats, error)

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
	// MaxRunning caps how many of this user's jobs run at once (their
	// tier's cap at submission); 0 means no cap. The latest submission's
	// value applies to all of the user's pending jobs. Jobs in status
	// running count (finalize tasks do not); JobLease and
	// JobLeaseSiblings hand out none beyond it.
	MaxRunning int
	// RequestID is the id of the HTTP request that submitted the work,
	// kept on the jobs so that runner logs can be joined with it.
	RequestID string
	// TraceContext is the W3C trace context of that request, kept on
	// every job of the submission ("" when tracing is off).
	TraceContext string
	// Webhook, for a batch, is called when the batch is finalized. It is
	// kept on the batch parent only; an individual job has none.
	Webhook *Webhook
	// IdempotencyKey, when set, makes a repeat of this submission (a retry
	// after a lost answer) return the first one instead of doubling it;
	// see Store.Submit and CheckIdempotencyKey.
	IdempotencyKey string
}

// Webhook is where a batch's completion is announced: a POST to URL signed
// with HMAC-SHA256 under Secret.
type Webhook struct {
	URL    string
	Secret string
}

// Stats are counts over all users.
type Stats struct {
	// Jobs counts individual jobs and batch children by model and status,
	// ordered by model and then lifecycle; pairs with no jobs are left out.
	Jobs []StatsCount
	// Queued is the number of pending jobs that may be leased now (not
	// waiting for a retry backoff, not in a paused batch).
	Queued int
	// QueuedByModel splits Queued by model; models with none are left out
	// (nil when nothing is queued). Runners of a model scale on it.
	QueuedByModel map[string]int
	// Delayed is the number of pending jobs waiting for a retry backoff,
	// paused batches' included.
	Delayed int
	// ActiveBatches counts batches that are pending or running.
	ActiveBatches int
	// PausedBatches counts active batches that are paused.
	PausedBatches int
	// Finalizing counts batches whose finalize task is pending or leased.
	Finalizing int
	// Users counts users with pending or running work.
	Users int
}

// StatsCount is the number of jobs of one model in one status.
type StatsCount struct {
	Model  string
	Status Status
	N      int
}

// AddQueued counts n more queued jobs of model (n may be negative),
// keeping Queued and QueuedByModel together.
func (s *Stats) AddQueued(model string, n int) {
	if n == 0 {
		return
	}
	s.Queued += n
	if s.QueuedByModel == nil {
		s.QueuedByModel = map[string]int{}
	}
	s.QueuedByModel[model] += n
	if s.QueuedByModel[model] == 0 {
		delete(s.QueuedByModel, model)
	}
	if len(s.QueuedByModel) == 0 {
		s.QueuedByModel = nil
	}
}

// ModelStatus is a model and a status, for counting jobs by both.
type ModelStatus struct {
	Model  string
	Status Status
}

// StatsCounts lists counts by model and status as Stats.Jobs holds them:
// pairs with no jobs left out, ordered by model and then lifecycle.
func StatsCounts(counts map[ModelStatus]int) []StatsCount {
	var out []StatsCount
	for k, n := range counts {
		if n != 0 {
			out = append(out, StatsCount{Model: k.Model, Status: k.Status, N: n})
		}
	}
	order := map[Status]int{}
	for i, status := range Statuses {
		order[status] = i
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		return order[a.Status] < order[b.Status]
	})
	return out
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
	if s.IdempotencyKey != "" {
		if err := CheckIdempotencyKey(s.IdempotencyKey); err != nil {
			return err
		}
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
	// ReusedFrom, when set, lists the jobs (of any batch) whose result was
	// reused from this job.
	ReusedFrom string
	// Children list in batch order, other jobs newest first.
	Offset int
	Limit  int // default 100, at most 1000
}

// BatchFilter selects a user's batches, newest first (by creation time,
// then by ID) unless Order says otherwise.
type BatchFilter struct {
	UserID string // required
	Status Status // optional
	Model  string // optional
	// Query, when set, keeps the entries whose name contains it, ignoring
	// ASCII case.
	Query string
	// Individual lists the user's individual jobs too, each as an entry of
	// one job (Progress counts the job itself; see SingleProgress), so that
	// a page can show all of a user's work in one list.
	Individual bool
	Order      ListOrder
	// After, when set, lists the batches that come after this one in the
	// list's order (keyset paging: stable while new batches arrive). Only
	// with NewestFirst; other orders page by Offset.
	After  *BatchKey
	Offset int
	Limit  int // default 50, at most 500
}

// ListOrder is the order of a batch list.
type ListOrder string

// List orders. Ties break by ID in the same direction.
const (
	NewestFirst ListOrder = ""
	OldestFirst ListOrder = "oldest"
	NameAsc     ListOrder = "name"
	NameDesc    ListOrder = "name_desc"
)

// Valid reports whether o is one of the list orders.
func (o ListOrder) Valid() bool {
	switch o {
	case NewestFirst, OldestFirst, NameAsc, NameDesc:
		return true
	}
	return false
}

// SingleProgress is the progress of an individual job listed among
// batches: a total of one, counted under its status.
func SingleProgress(s Status) Progress {
	p := Progress{Total: 1}
	switch s {
	case StatusPending:
		p.Pending = 1
	case StatusRunning:
		p.Running = 1
	case StatusCompleted:
		p.Completed = 1
	case StatusFailed:
		p.Failed = 1
	case StatusCancelled:
		p.Cancelled = 1
	}
	return p
}

// BatchKey is a batch's place in BatchList's order.
type BatchKey struct {
	CreatedAt time.Time
	ID        string
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
