package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"omtx/jobs"
)

func testSubmitIndividual(t *testing.T, h *harness) {
	j := h.individual("alice", "vina", "")
	if j.ID == "" || j.Type != jobs.TypeIndividual || j.Status != jobs.StatusPending || j.UserID != "alice" {
		t.Fatalf("submitted job = %+v", j)
	}
	if j.MaxAttempts != jobs.DefaultMaxAttempts || !j.CreatedAt.Equal(Start) {
		t.Fatalf("defaults: max attempts %d, created %v", j.MaxAttempts, j.CreatedAt)
	}
	got := h.getJob("alice", j.ID)
	if string(got.Input) != `{"smiles":"CCO"}` || got.Model != "vina" || got.Name != "single" {
		t.Fatalf("read back %+v", got)
	}
}

func testSubmitBatch(t *testing.T, h *harness) {
	p := h.batch("alice", 5, "vina")
	if p.Type != jobs.TypeBatchParent || p.BatchID != p.ID || p.Status != jobs.StatusPending {
		t.Fatalf("parent = %+v", p)
	}
	b := h.getBatch("alice", p.ID)
	wantProgress(t, b, jobs.Progress{Total: 5, Pending: 5})
	if string(b.Input) != `{"target":"ABL1"}` {
		t.Fatalf("shared input = %s", b.Input)
	}
	kids, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "alice", BatchID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 5 {
		t.Fatalf("%d children, want 5", len(kids))
	}
	for i, k := range kids {
		if k.Index != i || k.Type != jobs.TypeBatchChild || k.BatchID != p.ID || k.Name != "lig-"+string(rune('0'+i)) {
			t.Fatalf("child %d = %+v", i, k)
		}
		if string(k.Input) != string(ligand(i)) {
			t.Fatalf("child %d input %s", i, k.Input)
		}
	}
}

// A batch whose last child is bad leaves nothing behind: no parent, no
// children, no change events.
func testSubmitAtomic(t *testing.T, h *harness) {
	children := []jobs.ChildSubmission{
		{Name: "good-1", Input: ligand(1)},
		{Name: "good-2", Input: ligand(2)},
		{Name: "bad", Input: json.RawMessage(`{"smiles":`)},
	}
	_, err := h.store.Submit(h.ctx, jobs.Submission{UserID: "alice", Model: "vina", Children: children})
	wantCode(t, "submit with a broken child", err, jobs.ErrInvalid)
	if !strings.Contains(err.Error(), "row 3") {
		t.Fatalf("error %q does not name row 3", err)
	}
	if bs, err := h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice"}); err != nil || len(bs) != 0 {
		t.Fatalf("batches after failed submit: %d, %v", len(bs), err)
	}
	if js, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "alice"}); err != nil || len(js) != 0 {
		t.Fatalf("jobs after failed submit: %d, %v", len(js), err)
	}
	if cs, err := h.store.ChangesSince(h.ctx, "alice", 0, 100); err != nil || len(cs) != 0 {
		t.Fatalf("changes after failed submit: %d, %v", len(cs), err)
	}
	h.noWork("vina")
}

func testSubmitInvalid(t *testing.T, h *harness) {
	cases := []struct {
		name  string
		sub   jobs.Submission
		field string
	}{
		{"no user", jobs.Submission{Model: "vina"}, "user"},
		{"no model", jobs.Submission{UserID: "alice"}, "model_name"},
		{"empty batch", jobs.Submission{UserID: "alice", Model: "vina", Children: []jobs.ChildSubmission{}}, "ligands"},
		{"unnamed child", jobs.Submission{UserID: "alice", Model: "vina", Children: []jobs.ChildSubmission{{Input: ligand(0)}}}, "ligands"},
	}
	for _, c := range cases {
		_, err := h.store.Submit(h.ctx, c.sub)
		wantCode(t, c.name, err, jobs.ErrInvalid)
		if !strings.HasPrefix(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name field %q", c.name, err, c.field)
		}
	}
}

// The lease is valid strictly before its expiry: a heartbeat 1 ns before
// extends it, one at the expiry is refused, and the rescuer returns it at
// the expiry and not before.
func testLeaseExpiryBoundary(t *testing.T, h *harness) {
	j := h.individual("alice", "vina", "")
	l := h.lease("w1", "vina")
	if l.ID != j.ID || l.Status != jobs.StatusRunning || l.Attempt != 1 || !l.Lease.ExpiresAt.Equal(Start.Add(ttl)) {
		t.Fatalf("leased %+v lease %+v", l, l.Lease)
	}
	h.noWork("vina")

	h.clock.Advance(ttl - time.Nanosecond)
	lease, err := h.store.JobHeartbeat(h.ctx, *l.Lease, ttl)
	if err != nil {
		t.Fatalf("heartbeat 1 ns before expiry: %v", err)
	}
	if want := Start.Add(2*ttl - time.Nanosecond); !lease.ExpiresAt.Equal(want) {
		t.Fatalf("extended to %v, want %v", lease.ExpiresAt, want)
	}
	h.clock.Set(lease.ExpiresAt.Add(-time.Nanosecond))
	if r, err := h.store.JobRescue(h.ctx); err != nil || r != (jobs.Rescued{}) {
		t.Fatalf("rescue 1 ns before expiry: %+v, %v", r, err)
	}
	h.clock.Set(lease.ExpiresAt)
	_, err = h.store.JobHeartbeat(h.ctx, lease, ttl)
	wantCode(t, "heartbeat at expiry", err, jobs.ErrLeaseLost)
	err = h.store.JobComplete(h.ctx, lease, json.RawMessage(`{}`))
	wantCode(t, "complete at expiry", err, jobs.ErrLeaseLost)

	r, err := h.store.JobRescue(h.ctx)
	if err != nil || r != (jobs.Rescued{Retried: 1}) {
		t.Fatalf("rescue at expiry: %+v, %v", r, err)
	}
	got := h.getJob("alice", j.ID)
	backoff := jobs.DefaultRetry.Backoff(1)
	if got.Status != jobs.StatusPending || got.Attempt != 1 || !got.AvailableAt.Equal(lease.ExpiresAt.Add(backoff)) {
		t.Fatalf("after rescue: status %s attempt %d available %v", got.Status, got.Attempt, got.AvailableAt)
	}
	if !strings.Contains(got.Error, "lease expired") || !strings.Contains(got.Error, "w1") {
		t.Fatalf("rescue reason %q", got.Error)
	}
	// Backoff: not before it is over.
	h.clock.Advance(backoff - time.Nanosecond)
	h.noWork("vina")
	h.clock.Advance(time.Nanosecond)
	again := h.lease("w2", "vina")
	if again.ID != j.ID || again.Attempt != 2 {
		t.Fatalf("second lease: %s attempt %d", again.ID, again.Attempt)
	}
}

// A worker that lost its lease to a rescue cannot complete, fail or
// heartbeat; the new holder's result stands.
func testStaleWorkerAfterRescue(t *testing.T, h *harness) {
	p := h.batch("alice", 1, "vina")
	stale := h.lease("w1", "vina")
	h.clock.Advance(ttl)
	if _, err := h.store.JobRescue(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	fresh := h.lease("w2", "vina")
	if fresh.ID != stale.ID || fresh.Attempt != 2 {
		t.Fatalf("re-leased %s attempt %d", fresh.ID, fresh.Attempt)
	}
	wantCode(t, "stale complete", h.store.JobComplete(h.ctx, *stale.Lease, json.RawMessage(`{"by":"w1"}`)), jobs.ErrLeaseLost)
	wantCode(t, "stale fail", h.store.JobFail(h.ctx, *stale.Lease, jobs.Failure{Error: "x"}), jobs.ErrLeaseLost)
	_, err := h.store.JobHeartbeat(h.ctx, *stale.Lease, ttl)
	wantCode(t, "stale heartbeat", err, jobs.ErrLeaseLost)
	// Same owner name, old attempt: still refused.
	old := *fresh.Lease
	old.Attempt = 1
	wantCode(t, "old attempt", h.store.JobComplete(h.ctx, old, json.RawMessage(`{}`)), jobs.ErrLeaseLost)

	h.complete(fresh, `{"by":"w2"}`)
	got := h.getJob("alice", fresh.ID)
	if got.Status != jobs.StatusCompleted || string(got.Result) != `{"by":"w2"}` {
		t.Fatalf("after completion: %s %s", got.Status, got.Result)
	}
	wantCode(t, "complete twice", h.store.JobComplete(h.ctx, *fresh.Lease, json.RawMessage(`{}`)), jobs.ErrLeaseLost)
	wantProgress(t, h.getBatch("alice", p.ID), jobs.Progress{Total: 1, Completed: 1})
}

func testMaxAttempts(t *testing.T, h *harness) {
	j, err := h.store.Submit(h.ctx, jobs.Submission{UserID: "alice", Model: "vina", MaxAttempts: 2, Input: ligand(0)})
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		l := h.lease("w", "vina")
		if l.ID != j.ID || l.Attempt != attempt {
			t.Fatalf("attempt %d: leased %s attempt %d", attempt, l.ID, l.Attempt)
		}
		h.clock.Advance(ttl)
		r, err := h.store.JobRescue(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := jobs.Rescued{Retried: 1}
		if attempt == 2 {
			want = jobs.Rescued{Failed: 1}
		}
		if r != want {
			t.Fatalf("attempt %d rescue = %+v, want %+v", attempt, r, want)
		}
		h.clock.Advance(time.Hour)
	}
	got := h.getJob("alice", j.ID)
	if got.Status != jobs.StatusFailed || !strings.Contains(got.Error, "attempt 2 of 2") || got.FinishedAt.IsZero() {
		t.Fatalf("after last attempt: %s %q finished %v", got.Status, got.Error, got.FinishedAt)
	}
	h.noWork("vina")
}

func testFailRetryable(t *testing.T, h *harness) {
	j := h.individual("alice", "vina", "")
	l := h.lease("w", "vina")
	if err := h.store.JobFail(h.ctx, *l.Lease, jobs.Failure{Error: "engine ran out of memory", Retryable: true}); err != nil {
		t.Fatal(err)
	}
	got := h.getJob("alice", j.ID)
	if got.Status != jobs.StatusPending || got.Error != "engine ran out of memory" {
		t.Fatalf("after retryable failure: %s %q", got.Status, got.Error)
	}
	h.clock.Advance(jobs.DefaultRetry.Backoff(1))
	l = h.lease("w", "vina")
	if err := h.store.JobFail(h.ctx, *l.Lease, jobs.Failure{Error: "receptor has no atoms"}); err != nil {
		t.Fatal(err)
	}
	got = h.getJob("alice", j.ID)
	if got.Status != jobs.StatusFailed || got.Error != "receptor has no atoms" || got.Attempt != 2 {
		t.Fatalf("after permanent failure: %s %q attempt %d", got.Status, got.Error, got.Attempt)
	}
	h.clock.Advance(time.Hour)
	h.noWork("vina")
}
