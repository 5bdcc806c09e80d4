package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"omtx/jobs"
)

// Cancelling a batch cancels its pending children at once; running ones
// learn it at their next heartbeat; the batch ends when they have.
func testCancelBatch(t *testing.T, h *harness) {
	p := h.batch("alice", 5, "vina")
	a := h.lease("w1", "vina")
	b := h.lease("w2", "vina")
	got, err := h.store.BatchCancel(h.ctx, "alice", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantProgress(t, got, jobs.Progress{Total: 5, Running: 2, Cancelled: 3})
	if got.Status.Final() || !got.CancelRequested {
		t.Fatalf("batch with running children: status %s, cancel requested %v", got.Status, got.CancelRequested)
	}
	h.noWork("vina")

	_, err = h.store.JobHeartbeat(h.ctx, *a.Lease, ttl)
	wantCode(t, "heartbeat of a cancelled job", err, jobs.ErrCancelled)
	if j := h.getJob("alice", a.ID); j.Status != jobs.StatusCancelled {
		t.Fatalf("child after cancel heartbeat: %s", j.Status)
	}
	wantCode(t, "complete after cancel", h.store.JobComplete(h.ctx, *a.Lease, json.RawMessage(`{}`)), jobs.ErrLeaseLost)

	// The other worker finishes before its next heartbeat: its result stands.
	h.complete(b, `{"affinity":-7}`)
	final := h.getBatch("alice", p.ID)
	wantProgress(t, final, jobs.Progress{Total: 5, Completed: 1, Cancelled: 4})
	if final.Status != jobs.StatusCompleted || final.Finalize != jobs.FinalizePending {
		t.Fatalf("batch after last child: %s finalize %q", final.Status, final.Finalize)
	}
	_, err = h.store.BatchCancel(h.ctx, "alice", p.ID)
	wantCode(t, "cancel an ended batch", err, jobs.ErrConflict)
}

func testCancelAllPending(t *testing.T, h *harness) {
	p := h.batch("alice", 3, "vina")
	got, err := h.store.BatchCancel(h.ctx, "alice", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantProgress(t, got, jobs.Progress{Total: 3, Cancelled: 3})
	if got.Status != jobs.StatusCancelled || got.Finalize != jobs.FinalizePending || got.FinishedAt.IsZero() {
		t.Fatalf("cancelled batch: %s finalize %q", got.Status, got.Finalize)
	}
	// Its finalize task still runs (the hierarchy records the cancelled batch).
	f := h.leaseFinalize("w")
	if f.ID != p.ID {
		t.Fatalf("finalize leased %s", f.ID)
	}
	h.noWork("vina")
}

func testCancelIndividual(t *testing.T, h *harness) {
	j := h.individual("alice", "vina", "")
	got, err := h.store.JobCancel(h.ctx, "alice", j.ID)
	if err != nil || got.Status != jobs.StatusCancelled {
		t.Fatalf("cancel pending: %v, %v", got, err)
	}
	_, err = h.store.JobCancel(h.ctx, "alice", j.ID)
	wantCode(t, "cancel twice", err, jobs.ErrConflict)
	h.noWork("vina")

	r := h.individual("alice", "vina", "")
	l := h.lease("w", "vina")
	got, err = h.store.JobCancel(h.ctx, "alice", r.ID)
	if err != nil || got.Status != jobs.StatusRunning || !got.CancelRequested {
		t.Fatalf("cancel running: %+v, %v", got, err)
	}
	// The worker is gone: the rescuer ends it as cancelled, not retried.
	h.clock.Advance(ttl)
	if res, err := h.store.JobRescue(h.ctx); err != nil || res != (jobs.Rescued{Cancelled: 1}) {
		t.Fatalf("rescue of a cancelled job: %+v, %v", res, err)
	}
	if got := h.getJob("alice", l.ID); got.Status != jobs.StatusCancelled {
		t.Fatalf("after rescue: %s", got.Status)
	}
}

func (h *harness) leaseFinalize(owner string) *jobs.Job {
	h.t.Helper()
	j, err := h.store.JobLease(h.ctx, jobs.LeaseParams{Owner: owner, TTL: ttl, Finalize: true})
	if err != nil {
		h.t.Fatalf("lease finalize: %v", err)
	}
	if j.Type != jobs.TypeBatchParent {
		h.t.Fatalf("finalize lease gave a %s", j.Type)
	}
	return j
}

func testProgressMilestones(t *testing.T, h *harness) {
	p := h.batch("alice", 20, "vina")
	var finished []time.Time
	for i := 0; i < 20; i++ {
		now := h.clock.Advance(time.Minute)
		j := h.lease("w", "vina")
		if i == 0 {
			if b := h.getBatch("alice", p.ID); b.Status != jobs.StatusRunning || !b.StartedAt.Equal(now) {
				t.Fatalf("batch after first lease: %s started %v", b.Status, b.StartedAt)
			}
		}
		if i%5 == 4 {
			if err := h.store.JobFail(h.ctx, *j.Lease, jobs.Failure{Error: "bad ligand"}); err != nil {
				t.Fatal(err)
			}
		} else {
			h.complete(j, `{}`)
		}
		finished = append(finished, now)
		b := h.getBatch("alice", p.ID)
		if pct := b.Progress.Percent(); pct != float64(5*(i+1)) {
			t.Fatalf("after %d children: %v%%", i+1, pct)
		}
	}
	b := h.getBatch("alice", p.ID)
	wantProgress(t, b, jobs.Progress{Total: 20, Completed: 16, Failed: 4})
	// 10% is reached by the 2nd child, 25% by the 5th, 50% by the 10th...
	var want []jobs.Milestone
	for i, pct := range []int{10, 25, 50, 75, 90, 100} {
		want = append(want, jobs.Milestone{Percent: pct, At: finished[[]int{1, 4, 9, 14, 17, 19}[i]]})
	}
	if fmt.Sprint(b.Milestones) != fmt.Sprint(want) {
		t.Fatalf("milestones = %v, want %v", b.Milestones, want)
	}
	if b.Status != jobs.StatusCompleted || !b.FinishedAt.Equal(finished[19]) {
		t.Fatalf("final: %s at %v", b.Status, b.FinishedAt)
	}
	// The list has each batch's own milestones, another batch's beside it.
	other := h.batch("alice", 4, "vina")
	h.complete(h.lease("w", "vina"), `{}`)
	list, err := h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice"})
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %d batches, %v", len(list), err)
	}
	for _, l := range list {
		if g := h.getBatch("alice", l.ID); fmt.Sprint(l.Milestones) != fmt.Sprint(g.Milestones) {
			t.Fatalf("listed batch %s has milestones %v, the batch %v", l.ID, l.Milestones, g.Milestones)
		}
	}
	if g := h.getBatch("alice", other.ID); len(g.Milestones) != 2 || g.Milestones[1].Percent != 25 {
		t.Fatalf("other batch milestones %v, want 10%% and 25%%", g.Milestones)
	}
}

// Many workers complete a batch's children at once: the batch reaches its
// final status exactly once and exactly one finalize task is handed out,
// even to many workers asking at once.
func testFinalizeOnceConcurrent(t *testing.T, h *harness) {
	const n, workers = 200, 8
	p := h.batch("alice", n, "vina")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			for {
				j, err := h.store.JobLease(h.ctx, jobs.LeaseParams{Owner: owner, Models: []string{"vina"}, TTL: ttl})
				if jobs.IsCode(err, jobs.ErrNoWork) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				if err := h.store.JobComplete(h.ctx, *j.Lease, json.RawMessage(`{}`)); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	b := h.getBatch("alice", p.ID)
	wantProgress(t, b, jobs.Progress{Total: n, Completed: n})
	if b.Status != jobs.StatusCompleted || b.Finalize != jobs.FinalizePending {
		t.Fatalf("batch: %s finalize %q", b.Status, b.Finalize)
	}

	got := make(chan string, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			j, err := h.store.JobLease(h.ctx, jobs.LeaseParams{Owner: fmt.Sprintf("f%d", w), TTL: ttl, Finalize: true})
			if err == nil {
				got <- j.ID
			} else if !jobs.IsCode(err, jobs.ErrNoWork) {
				t.Error(err)
			}
		}(w)
	}
	wg.Wait()
	close(got)
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	if len(ids) != 1 || ids[0] != p.ID {
		t.Fatalf("finalize tasks handed out: %v, want exactly [%s]", ids, p.ID)
	}
	changes, err := h.store.ChangesSince(h.ctx, "alice", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	final := 0
	for _, c := range changes {
		if c.JobID == p.ID && c.Status == jobs.StatusCompleted {
			final++
		}
	}
	if final != 1 {
		t.Fatalf("batch became completed %d times in the change feed", final)
	}
}

// A worker that dies while finalizing: the task is handed out again after
// its lease expires, and the dead worker's completion is refused.
func testFinalizeCrashRecovered(t *testing.T, h *harness) {
	p := h.batch("alice", 1, "vina")
	h.complete(h.lease("w", "vina"), `{}`)
	dead := h.leaseFinalize("w1")
	h.noWork("vina")
	h.clock.Advance(ttl)
	r, err := h.store.JobRescue(h.ctx)
	if err != nil || r != (jobs.Rescued{Finalize: 1}) {
		t.Fatalf("rescue: %+v, %v", r, err)
	}
	h.clock.Advance(time.Hour)
	again := h.leaseFinalize("w2")
	if again.ID != p.ID || again.Attempt != 2 {
		t.Fatalf("finalize again: %s attempt %d", again.ID, again.Attempt)
	}
	wantCode(t, "dead finalizer completes", h.store.JobComplete(h.ctx, *dead.Lease, nil), jobs.ErrLeaseLost)
	h.complete(again, `{}`)
	b := h.getBatch("alice", p.ID)
	if b.Finalize != jobs.FinalizeDone || b.FinalizedAt.IsZero() || b.Status != jobs.StatusCompleted {
		t.Fatalf("after finalize: %q at %v, %s", b.Finalize, b.FinalizedAt, b.Status)
	}
	h.noWork("vina")
}

// A user's work list filters by model and name, lists individual jobs
// beside batches when asked, and sorts by time or name.
func testBatchListFilters(t *testing.T, h *harness) {
	submit := func(user, model, name string, n int) *jobs.Job {
		h.t.Helper()
		h.clock.Advance(time.Second)
		sub := jobs.Submission{UserID: user, Model: model, ModelVersion: "1", Name: name,
			Input: json.RawMessage(`{"target":"ABL1"}`)}
		if n > 0 {
			sub.Children = make([]jobs.ChildSubmission, n)
			for i := range sub.Children {
				sub.Children[i] = jobs.ChildSubmission{Name: fmt.Sprintf("lig-%d", i), Input: ligand(i)}
			}
		}
		j, err := h.store.Submit(h.ctx, sub)
		if err != nil {
			t.Fatalf("submit %s: %v", name, err)
		}
		return j
	}
	abl := submit("alice", "vina", "ABL1 kinase screen", 2)
	submit("alice", "vina", "egfr hits", 1)
	submit("alice", "boltz2", "Kinase cofold", 1)
	single := submit("alice", "vina", "imatinib check", 0)
	submit("bob", "vina", "bob kinase", 1)

	names := func(f jobs.BatchFilter) string {
		t.Helper()
		f.UserID = "alice"
		bs, err := h.store.BatchList(h.ctx, f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		var out []string
		for _, b := range bs {
			out = append(out, b.Name)
		}
		return strings.Join(out, "|")
	}
	for _, c := range []struct {
		f    jobs.BatchFilter
		want string
	}{
		{jobs.BatchFilter{}, "Kinase cofold|egfr hits|ABL1 kinase screen"},
		{jobs.BatchFilter{Individual: true}, "imatinib check|Kinase cofold|egfr hits|ABL1 kinase screen"},
		{jobs.BatchFilter{Model: "vina"}, "egfr hits|ABL1 kinase screen"},
		{jobs.BatchFilter{Model: "vina", Individual: true, Order: jobs.OldestFirst}, "ABL1 kinase screen|egfr hits|imatinib check"},
		{jobs.BatchFilter{Query: "KINASE"}, "Kinase cofold|ABL1 kinase screen"},
		{jobs.BatchFilter{Query: "kinase", Model: "vina"}, "ABL1 kinase screen"},
		{jobs.BatchFilter{Query: "no such"}, ""},
		{jobs.BatchFilter{Order: jobs.NameAsc, Individual: true}, "ABL1 kinase screen|egfr hits|imatinib check|Kinase cofold"},
		{jobs.BatchFilter{Order: jobs.NameDesc}, "Kinase cofold|egfr hits|ABL1 kinase screen"},
		{jobs.BatchFilter{Order: jobs.NameAsc, Offset: 1, Limit: 1}, "egfr hits"},
	} {
		if got := names(c.f); got != c.want {
			t.Errorf("list %+v = %q, want %q", c.f, got, c.want)
		}
	}
	bs, err := h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice", Individual: true, Query: "imatinib"})
	if err != nil || len(bs) != 1 || bs[0].ID != single.ID || bs[0].Type != jobs.TypeIndividual {
		t.Fatalf("individual job in the list: %v, %v", bs, err)
	}
	wantProgress(t, bs[0], jobs.Progress{Total: 1, Pending: 1})
	if b := h.getBatch("alice", abl.ID); b.Progress.Total != 2 {
		t.Fatalf("batch progress %+v", b.Progress)
	}
	_, err = h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice", Order: "size"})
	wantCode(t, "unknown order", err, jobs.ErrInvalid)
	_, err = h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice", Order: jobs.NameAsc,
		After: &jobs.BatchKey{CreatedAt: abl.CreatedAt, ID: abl.ID}})
	wantCode(t, "cursor with name order", err, jobs.ErrInvalid)
}
