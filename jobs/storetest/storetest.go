// Package storetest is the conformance suite every jobs.Store must pass.
// A backend's test calls Run with a function that opens an empty store on
// the given clock.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"omtx/jobs"
	"omtx/jobs/jobstest"
)

// Open returns a new, empty store that tells time by clock.
type Open func(t *testing.T, clock jobs.Clock) jobs.Store

// Options tune the suite for slower backends.
type Options struct {
	// FairBatchSize is the size of the big batch in the fairness test
	// (default 10,000, as the product promises).
	FairBatchSize int
}

// Start is the suite's clock origin.
var Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const ttl = 30 * time.Second

// Run runs the whole suite.
func Run(t *testing.T, open Open, opts Options) {
	if opts.FairBatchSize == 0 {
		opts.FairBatchSize = 10000
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"SubmitIndividual", testSubmitIndividual},
		{"SubmitBatch", testSubmitBatch},
		{"SubmitAtomic", testSubmitAtomic},
		{"SubmitInvalid", testSubmitInvalid},
		{"IdempotentSubmit", testIdempotentSubmit},
		{"IdempotentSubmitConcurrent", testIdempotentSubmitConcurrent},
		{"LeaseExpiryBoundary", testLeaseExpiryBoundary},
		{"StaleWorkerAfterRescue", testStaleWorkerAfterRescue},
		{"MaxAttempts", testMaxAttempts},
		{"FailRetryable", testFailRetryable},
		{"CancelBatch", testCancelBatch},
		{"CancelAllPending", testCancelAllPending},
		{"CancelIndividual", testCancelIndividual},
		{"ProgressMilestones", testProgressMilestones},
		{"FinalizeOnceConcurrent", testFinalizeOnceConcurrent},
		{"FinalizeCrashRecovered", testFinalizeCrashRecovered},
		{"FairAcrossUsers", func(t *testing.T, h *harness) { testFairAcrossUsers(t, h, opts.FairBatchSize) }},
		{"FairAcrossBatches", testFairAcrossBatches},
		{"IndividualBeforeChildren", testIndividualBeforeChildren},
		{"LeaseByModel", testLeaseByModel},
		{"LeaseSiblings", testLeaseSiblings},
		{"DedupAtSubmit", testDedupAtSubmit},
		{"DedupAtLease", testDedupAtLease},
		{"DedupPerUser", testDedupPerUser},
		{"TenantScoping", testTenantScoping},
		{"WatchOrder", testWatchOrder},
		{"ListPaging", testListPaging},
		{"BatchListFilters", testBatchListFilters},
		{"PauseBlocksLease", testPauseBlocksLease},
		{"PauseCancelRescue", testPauseCancelRescue},
		{"RetryFailedEnded", testRetryFailedEnded},
		{"RetryFailedRunning", testRetryFailedRunning},
		{"RetryFailedConflicts", testRetryFailedConflicts},
		{"DeleteBatch", testDeleteBatch},
		{"DeleteJob", testDeleteJob},
		{"ControlsTenancy", testControlsTenancy},
		{"MaxRunning", testMaxRunning},
		{"MaxRunningSiblings", testMaxRunningSiblings},
		{"RequestIDAndWebhook", testRequestIDAndWebhook},
		{"Stats", testStats},
		{"RescueLeavesBatchOpen", testRescueLeavesBatchOpen},
		{"DedupAtLeaseNothingElse", testDedupAtLeaseNothingElse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := jobstest.NewClock(Start)
			h := &harness{t: t, clock: clock, store: open(t, clock), ctx: context.Background()}
			t.Cleanup(func() { h.store.Close() })
			tc.fn(t, h)
		})
	}
}

type harness struct {
	t     *testing.T
	clock *jobstest.Clock
	store jobs.Store
	ctx   context.Context
}

func ligand(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"smiles":"C%s"}`, string(rune('a'+i%26))))
}

func (h *harness) batch(user string, n int, model string) *jobs.Job {
	h.t.Helper()
	children := make([]jobs.ChildSubmission, n)
	for i := range children {
		children[i] = jobs.ChildSubmission{Name: fmt.Sprintf("lig-%d", i), Input: ligand(i)}
	}
	j, err := h.store.Submit(h.ctx, jobs.Submission{UserID: user, Model: model, ModelVersion: "1", Name: "screen",
		Input: json.RawMessage(`{"target":"ABL1"}`), Children: children})
	if err != nil {
		h.t.Fatalf("submit batch of %d: %v", n, err)
	}
	return j
}

func (h *harness) individual(user, model, key string) *jobs.Job {
	h.t.Helper()
	j, err := h.store.Submit(h.ctx, jobs.Submission{UserID: user, Model: model, ModelVersion: "1", Name: "single",
		Input: json.RawMessage(`{"smiles":"CCO"}`), ContentKey: key})
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	return j
}

func (h *harness) lease(owner string, models ...string) *jobs.Job {
	h.t.Helper()
	j, err := h.store.JobLease(h.ctx, jobs.LeaseParams{Owner: owner, Models: models, TTL: ttl})
	if err != nil {
		h.t.Fatalf("lease by %s: %v", owner, err)
	}
	if j.Lease == nil || j.Lease.Owner != owner {
		h.t.Fatalf("lease by %s: job %s has lease %+v", owner, j.ID, j.Lease)
	}
	return j
}

func (h *harness) noWork(models ...string) {
	h.t.Helper()
	j, err := h.store.JobLease(h.ctx, jobs.LeaseParams{Owner: "probe", Models: models, TTL: ttl, Finalize: true})
	if !jobs.IsCode(err, jobs.ErrNoWork) {
		h.t.Fatalf("lease: want no work, got job %v, err %v", j, err)
	}
}

func (h *harness) complete(j *jobs.Job, result string) {
	h.t.Helper()
	if err := h.store.JobComplete(h.ctx, *j.Lease, json.RawMessage(result)); err != nil {
		h.t.Fatalf("complete %s: %v", j.ID, err)
	}
}

func (h *harness) getBatch(user, id string) *jobs.Batch {
	h.t.Helper()
	b, err := h.store.BatchGet(h.ctx, user, id)
	if err != nil {
		h.t.Fatalf("batch %s: %v", id, err)
	}
	return b
}

func (h *harness) getJob(user, id string) *jobs.Job {
	h.t.Helper()
	j, err := h.store.JobGet(h.ctx, user, id)
	if err != nil {
		h.t.Fatalf("job %s: %v", id, err)
	}
	return j
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if !jobs.IsCode(err, code) {
		t.Fatalf("%s: want error %q, got %v", what, code, err)
	}
}

func wantProgress(t *testing.T, b *jobs.Batch, want jobs.Progress) {
	t.Helper()
	if b.Progress != want {
		t.Fatalf("batch %s progress = %+v, want %+v", b.ID, b.Progress, want)
	}
}
