package firestore

import (
	"sort"
	"strconv"

	"omtx/jobs"
)

// Parent phases: a batch parent is visible, and so are its children, only
// in phase "".
const (
	phaseSubmitting = "submitting"
	phaseDeleting   = "deleting"
)

// Sweeps: batch-wide changes made in chunks after the parent was marked.
const (
	sweepCancel = "cancel"
	sweepRetry  = "retry"
)

// jobDoc is a job's document: an individual job, a batch parent or a
// batch child. Times are Unix nanoseconds; 0 means unset.
type jobDoc struct {
	UserID          string `firestore:"user_id"`
	Type            string `firestore:"type"`
	BatchID         string `firestore:"batch_id"`
	Index           int64  `firestore:"idx"`
	Model           string `firestore:"model"`
	ModelVersion    string `firestore:"model_version"`
	Name            string `firestore:"name"`
	NameLower       string `firestore:"name_lower"`
	Input           []byte `firestore:"input"`
	ContentKey      string `firestore:"content_key"`
	Status          string `firestore:"status"`
	Attempt         int64  `firestore:"attempt"`
	MaxAttempts     int64  `firestore:"max_attempts"`
	AvailableAt     int64  `firestore:"available_at"`
	LeaseOwner      string `firestore:"lease_owner"`
	LeaseExpiresAt  int64  `firestore:"lease_expires_at"`
	CancelRequested bool   `firestore:"cancel_requested"`
	Error           string `firestore:"error"`
	Result          []byte `firestore:"result"`
	ReusedFrom      string `firestore:"reused_from"`
	RequestID       string `firestore:"request_id"`
	TraceContext    string `firestore:"trace_context"`
	CreatedAt       int64  `firestore:"created_at"`
	StartedAt       int64  `firestore:"started_at"`
	FinishedAt      int64  `firestore:"finished_at"`
	UpdatedAt       int64  `firestore:"updated_at"`
	// Ord is the user's submission number: it orders jobs submitted at
	// the same instant, as insertion order does in SQL.
	Ord int64 `firestore:"ord"`
	// IdempotencyKey is the key the job (individual) or batch (parent)
	// was submitted under, so that deleting it frees the key.
	IdempotencyKey string `firestore:"idempotency_key,omitempty"`

	// Batch parents only. Total is the number of children, for people
	// reading the database; progress comes from the shards.
	Total         int64  `firestore:"total"`
	Shards        int64  `firestore:"shards"`
	WebhookURL    string `firestore:"webhook_url"`
	WebhookSecret string `firestore:"webhook_secret"`
	Finalize      string `firestore:"finalize_state"`
	FinalizedAt   int64  `firestore:"finalized_at"`
	Paused        bool   `firestore:"paused"`
	// Open: children may be leased (visible, pending or running, not
	// paused, not being cancelled). Derived; see parentState.flush.
	Open       bool             `firestore:"open"`
	Phase      string           `firestore:"phase"`
	Sweep      string           `firestore:"sweep"`
	SweepAt    int64            `firestore:"sweep_at"`
	Milestones map[string]int64 `firestore:"milestones"`
}

// userDoc is a user's queue entry and change-feed counter.
type userDoc struct {
	UserID     string `firestore:"user_id"`
	Pending    int64  `firestore:"pending"`
	Running    int64  `firestore:"running"`
	MaxRunning int64  `firestore:"max_running"`
	// Eligible: pending work and room under the cap (derived).
	Eligible bool `firestore:"eligible"`
	// Active: pending or running work (derived; Stats counts these).
	Active bool `firestore:"active"`
	// Served orders users round-robin: when the user was last served, a
	// logical clock (see JobLease).
	Served int64 `firestore:"served"`
	// BatchServed is when each open batch was last served.
	BatchServed map[string]int64 `firestore:"batch_served"`
	// Seq is the last change-feed sequence number.
	Seq int64 `firestore:"seq"`
	// Ord counts the user's submissions.
	Ord int64 `firestore:"ord"`
}

// maxBatchServed bounds the batches whose service a user's document
// keeps, so that it stays small whatever the number of open batches.
const maxBatchServed = 500

// serveBatch records that a batch was served; beyond maxBatchServed
// batches the least recently served is forgotten (it then counts as never
// served, which only moves it ahead among the user's own batches).
func (u *userDoc) serveBatch(id string, served int64) {
	if u.BatchServed == nil {
		u.BatchServed = map[string]int64{}
	}
	u.BatchServed[id] = served
	for len(u.BatchServed) > maxBatchServed {
		oldest, at := "", int64(0)
		for b, v := range u.BatchServed {
			if oldest == "" || v < at || v == at && b < oldest {
				oldest, at = b, v
			}
		}
		delete(u.BatchServed, oldest)
	}
}

func (u *userDoc) derive() {
	u.Eligible = u.Pending > 0 && (u.MaxRunning == 0 || u.Running < u.MaxRunning)
	u.Active = u.Pending > 0 || u.Running > 0
}

// shardDoc counts the children of one progress shard by status.
type shardDoc struct {
	Total     int64 `firestore:"total"`
	Pending   int64 `firestore:"pending"`
	Running   int64 `firestore:"running"`
	Completed int64 `firestore:"completed"`
	Failed    int64 `firestore:"failed"`
	Cancelled int64 `firestore:"cancelled"`
}

func (d *shardDoc) count(s jobs.Status) *int64 {
	switch s {
	case jobs.StatusPending:
		return &d.Pending
	case jobs.StatusRunning:
		return &d.Running
	case jobs.StatusCompleted:
		return &d.Completed
	case jobs.StatusFailed:
		return &d.Failed
	default:
		return &d.Cancelled
	}
}

func (d *shardDoc) open() int64 { return d.Pending + d.Running }

// changeDoc is one entry of a user's change feed.
type changeDoc struct {
	Seq     int64  `firestore:"seq"`
	UserID  string `firestore:"user_id"`
	JobID   string `firestore:"job_id"`
	BatchID string `firestore:"batch_id"`
	Type    string `firestore:"type"`
	Status  string `firestore:"status"`
	At      int64  `firestore:"at"`
}

func (c changeDoc) change() jobs.Change {
	return jobs.Change{Seq: c.Seq, UserID: c.UserID, JobID: c.JobID, BatchID: c.BatchID,
		Type: jobs.Type(c.Type), Status: jobs.Status(c.Status), At: toTime(c.At)}
}

// resultDoc points at the completed job whose result identical work of the
// same user reuses.
type resultDoc struct {
	UserID     string `firestore:"user_id"`
	ContentKey string `firestore:"content_key"`
	JobID      string `firestore:"job_id"`
	BatchID    string `firestore:"batch_id"`
}

// sumShards adds up a batch's progress shards.
func sumShards(shards []shardDoc) jobs.Progress {
	var p jobs.Progress
	for _, d := range shards {
		p.Total += int(d.Total)
		p.Pending += int(d.Pending)
		p.Running += int(d.Running)
		p.Completed += int(d.Completed)
		p.Failed += int(d.Failed)
		p.Cancelled += int(d.Cancelled)
	}
	return p
}

// job converts a document to a jobs.Job.
func (d *jobDoc) job(id string) *jobs.Job {
	j := &jobs.Job{
		ID: id, UserID: d.UserID, Type: jobs.Type(d.Type), BatchID: d.BatchID, Index: int(d.Index),
		Model: d.Model, ModelVersion: d.ModelVersion, Name: d.Name, Input: d.Input, ContentKey: d.ContentKey,
		Status: jobs.Status(d.Status), Attempt: int(d.Attempt), MaxAttempts: int(d.MaxAttempts),
		AvailableAt: toTime(d.AvailableAt), CancelRequested: d.CancelRequested, Error: d.Error,
		Result: d.Result, ReusedFrom: d.ReusedFrom, RequestID: d.RequestID, TraceContext: d.TraceContext,
		CreatedAt: toTime(d.CreatedAt), StartedAt: toTime(d.StartedAt), FinishedAt: toTime(d.FinishedAt),
		UpdatedAt: toTime(d.UpdatedAt),
	}
	if d.LeaseOwner != "" {
		j.Lease = &jobs.Lease{JobID: id, Owner: d.LeaseOwner, Attempt: int(d.Attempt), ExpiresAt: toTime(d.LeaseExpiresAt)}
	}
	if d.Type == string(jobs.TypeBatchParent) && d.WebhookURL != "" {
		j.Webhook = &jobs.Webhook{URL: d.WebhookURL, Secret: d.WebhookSecret}
	}
	return j
}

// batch converts a parent's document and shards to a jobs.Batch.
func (d *jobDoc) batch(id string, shards []shardDoc) *jobs.Batch {
	b := &jobs.Batch{Job: *d.job(id), Progress: sumShards(shards), Finalize: jobs.FinalizeState(d.Finalize),
		FinalizedAt: toTime(d.FinalizedAt), Paused: d.Paused}
	for k, at := range d.Milestones {
		pct, err := strconv.Atoi(k)
		if err != nil {
			continue
		}
		b.Milestones = append(b.Milestones, jobs.Milestone{Percent: pct, At: toTime(at)})
	}
	sort.Slice(b.Milestones, func(i, j int) bool { return b.Milestones[i].Percent < b.Milestones[j].Percent })
	return b
}

func (d *jobDoc) isParent() bool      { return d.Type == string(jobs.TypeBatchParent) }
func (d *jobDoc) isChild() bool       { return d.Type == string(jobs.TypeBatchChild) }
func (d *jobDoc) status() jobs.Status { return jobs.Status(d.Status) }

// visible reports whether a parent is shown: not being submitted or
// deleted.
func (d *jobDoc) visible() bool { return d.Phase == "" }
