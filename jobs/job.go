// Package jobs is the hub's job engine: jobs and batches, their lifecycle,
// leasing with expiry and heartbeats, fair scheduling across users and
// batches, batch progress and finalization, and de-duplication of identical
// work. It declares the Store it needs; jobs/sqlite and later backends
// implement it, and jobs/storetest holds the suite every Store must pass.
//
// Nothing here knows about HTTP, files or a particular database.
package jobs

import (
	"encoding/json"
	"time"
)

// Type says what role a job plays.
type Type string

// Job types, named as in the system the hub replaces.
const (
	TypeIndividual  Type = "INDIVIDUAL"
	TypeBatchParent Type = "BATCH_PARENT"
	TypeBatchChild  Type = "BATCH_CHILD"
)

// Job is one unit of work, or the parent record of a batch.
type Job struct {
	ID     string
	UserID string
	Type   Type
	// BatchID is the parent's ID for a batch child and the job's own ID for
	// a batch parent; empty for an individual job.
	BatchID string
	// Index is the child's position in its batch (0-based, input order).
	Index        int
	Model        string
	ModelVersion string
	Name         string
	// Input is the model input, JSON. For a batch, what all children share
	// (protein, target, parameters) is on the parent and each child holds
	// only its own part (the ligand).
	Input json.RawMessage
	// ContentKey identifies identical work (see ContentKey); empty when the
	// job is not eligible for reuse.
	ContentKey  string
	Status      Status
	Attempt     int // leases handed out so far
	MaxAttempts int
	// AvailableAt is when a pending job may next be leased (retry backoff).
	AvailableAt time.Time
	// Lease is set while the job is leased to a worker.
	Lease *Lease
	// CancelRequested is set on a running job whose cancellation its worker
	// has not yet acknowledged (it learns at its next heartbeat).
	CancelRequested bool
	// Error is the reason of the last failure or expired lease.
	Error string
	// Result is the summary the model adapter reported on completion.
	Result json.RawMessage
	// ReusedFrom names the completed job whose result this one reused.
	ReusedFrom string
	// RequestID is the id of the request that submitted the job.
	RequestID string
	// TraceContext is the W3C trace context of that request ("" when
	// tracing is off): the runner continues its trace.
	TraceContext string
	// Webhook is a batch parent's completion webhook, if any.
	Webhook    *Webhook
	CreatedAt  time.Time
	StartedAt  time.Time // first lease; zero until then
	FinishedAt time.Time // zero until the job reached a final status
	UpdatedAt  time.Time
}

// Lease is a worker's hold on a job for one attempt. Every heartbeat and
// completion is conditional on still holding exactly this lease.
type Lease struct {
	JobID     string
	Owner     string
	Attempt   int
	ExpiresAt time.Time
}

// Expired reports whether the lease has run out at now. A lease is valid
// strictly before its expiry.
func (l Lease) Expired(now time.Time) bool { return !now.Before(l.ExpiresAt) }

// Batch is a batch parent with its progress.
type Batch struct {
	Job
	Progress   Progress
	Milestones []Milestone
	// Finalize is the state of the batch's finalize task.
	Finalize FinalizeState
	// FinalizedAt is when the finalize task completed.
	FinalizedAt time.Time
	// Paused batches hand out no new children until resumed. An ended
	// batch is not paused.
	Paused bool
}

// FinalizeState tracks the one-time finalize task of a batch.
type FinalizeState string

// Finalize states. A batch's finalize task becomes pending exactly once,
// when its last child ends; it is leased like a job and done once.
const (
	FinalizeNone    FinalizeState = ""
	FinalizePending FinalizeState = "pending"
	FinalizeLeased  FinalizeState = "leased"
	FinalizeDone    FinalizeState = "done"
	// FinalizeFailed: the task failed on every attempt; the error is kept.
	FinalizeFailed FinalizeState = "failed"
)

// Milestone records when a batch's progress first reached Percent.
type Milestone struct {
	Percent int
	At      time.Time
}

// MilestonePercents are the progress points whose times are kept.
var MilestonePercents = []int{10, 25, 50, 75, 90, 100}

// Progress counts a batch's children by status.
type Progress struct {
	Total     int
	Pending   int
	Running   int
	Completed int
	Failed    int
	Cancelled int
}

// Ended is the number of children in a final status.
func (p Progress) Ended() int { return p.Completed + p.Failed + p.Cancelled }

// Percent is the share of ended children, 0 to 100.
func (p Progress) Percent() float64 {
	if p.Total == 0 {
		return 0
	}
	return 100 * float64(p.Ended()) / float64(p.Total)
}

// Move records that n children went from status from to status to.
func (p *Progress) Move(from, to Status, n int) {
	*p.count(from) -= n
	*p.count(to) += n
}

func (p *Progress) count(s Status) *int {
	switch s {
	case StatusPending:
		return &p.Pending
	case StatusRunning:
		return &p.Running
	case StatusCompleted:
		return &p.Completed
	case StatusFailed:
		return &p.Failed
	case StatusCancelled:
		return &p.Cancelled
	}
	panic("jobs: unknown status " + string(s))
}

// CrossedMilestones returns the milestone percents that progress passes
// going from before to after.
func CrossedMilestones(before, after Progress) []int {
	var out []int
	b, a := before.Percent(), after.Percent()
	for _, m := range MilestonePercents {
		if b < float64(m) && a >= float64(m) {
			out = append(out, m)
		}
	}
	return out
}

// FinalStatus is the status a batch takes when its last child ends:
// cancelled when it was cancelled and nothing completed, completed when at
// least one child completed, failed when none did.
func FinalStatus(p Progress, cancelRequested bool) Status {
	switch {
	case p.Completed > 0:
		return StatusCompleted
	case cancelRequested || p.Cancelled > 0 && p.Failed == 0:
		return StatusCancelled
	default:
		return StatusFailed
	}
}
