package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"omtx/jobs"
)

func (h *harness) fail(j *jobs.Job, retryable bool) {
	h.t.Helper()
	if err := h.store.JobFail(h.ctx, *j.Lease, jobs.Failure{Error: "engine said no", Retryable: retryable}); err != nil {
		h.t.Fatalf("fail %s: %v", j.ID, err)
	}
}

func (h *harness) submit(sub jobs.Submission) *jobs.Job {
	h.t.Helper()
	if sub.ModelVersion == "" {
		sub.ModelVersion = "1"
	}
	j, err := h.store.Submit(h.ctx, sub)
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	return j
}

func children(n int) []jobs.ChildSubmission {
	out := make([]jobs.ChildSubmission, n)
	for i := range out {
		out[i] = jobs.ChildSubmission{Name: fmt.Sprintf("lig-%d", i), Input: ligand(i)}
	}
	return out
}

func (h *harness) siblings(held *jobs.Job, n int) []*jobs.Job {
	h.t.Helper()
	p := jobs.LeaseParams{Owner: held.Lease.Owner, Models: []string{held.Model}, TTL: ttl}
	more, err := h.store.JobLeaseSiblings(h.ctx, p, *held.Lease, n)
	if err != nil {
		h.t.Fatalf("siblings of %s: %v", held.ID, err)
	}
	return more
}

func (h *harness) children(user, batchID string) []*jobs.Job {
	h.t.Helper()
	kids, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: user, BatchID: batchID})
	if err != nil {
		h.t.Fatalf("children of %s: %v", batchID, err)
	}
	return kids
}

// changesOf counts the feed's changes of one job or batch to status.
func (h *harness) changesOf(user, id string, status jobs.Status) int {
	h.t.Helper()
	cs, err := h.store.ChangesSince(h.ctx, user, 0, 1000)
	if err != nil {
		h.t.Fatalf("changes: %v", err)
	}
	n := 0
	for _, c := range cs {
		if c.JobID == id && c.Status == status {
			n++
		}
	}
	return n
}

// A paused batch hands out no children, neither by JobLease nor by
// JobLeaseSiblings; its running children end as usual and it stays open;
// other work goes on; resuming hands its children out again.
func testPauseBlocksLease(t *testing.T, h *harness) {
	p := h.batch("alice", 4, "vina")
	first := h.lease("w1", "vina")
	events := h.changesOf("alice", p.ID, jobs.StatusRunning)
	b, err := h.store.BatchPause(h.ctx, "alice", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Paused || b.Status != jobs.StatusRunning {
		t.Fatalf("paused batch: paused %v status %s", b.Paused, b.Status)
	}
	if got := h.changesOf("alice", p.ID, jobs.StatusRunning); got != events+1 {
		t.Fatalf("pause recorded %d changes of the batch, want 1", got-events)
	}
	if b, err = h.store.BatchPause(h.ctx, "alice", p.ID); err != nil || !b.Paused {
		t.Fatalf("pause twice: %+v, %v", b, err)
	}
	h.noWork("vina")
	if more := h.siblings(first, 3); len(more) != 0 {
		t.Fatalf("a paused batch gave %d siblings", len(more))
	}
	// Other users' work goes on.
	bob := h.individual("bob", "vina", "")
	if j := h.lease("w2", "vina"); j.ID != bob.ID {
		t.Fatalf("leased %s, want bob's job", j.ID)
	}
	// The running child ends as usual; the batch stays open with its
	// pending children.
	h.complete(first, `{}`)
	b = h.getBatch("alice", p.ID)
	wantProgress(t, b, jobs.Progress{Total: 4, Pending: 3, Completed: 1})
	if b.Status != jobs.StatusRunning || b.Finalize != jobs.FinalizeNone || !b.FinishedAt.IsZero() || !b.Paused {
		t.Fatalf("paused batch after its running child ended: %s finalize %q finished %v paused %v", b.Status, b.Finalize, b.FinishedAt, b.Paused)
	}
	h.noWork("vina")

	b, err = h.store.BatchResume(h.ctx, "alice", p.ID)
	if err != nil || b.Paused {
		t.Fatalf("resume: %+v, %v", b, err)
	}
	if got := h.changesOf("alice", p.ID, jobs.StatusRunning); got != events+2 {
		t.Fatalf("pause and resume recorded %d changes of the batch, want 2", got-events)
	}
	if b, err = h.store.BatchResume(h.ctx, "alice", p.ID); err != nil || b.Paused {
		t.Fatalf("resume twice: %+v, %v", b, err)
	}
	next := h.lease("w1", "vina")
	if next.BatchID != p.ID || next.Index != 1 {
		t.Fatalf("after resume leased %s index %d", next.BatchID, next.Index)
	}
	more := h.siblings(next, 5)
	if len(more) != 2 {
		t.Fatalf("siblings after resume: %d, want 2", len(more))
	}
	for _, j := range append(more, next) {
		h.complete(j, `{}`)
	}
	b = h.getBatch("alice", p.ID)
	if b.Status != jobs.StatusCompleted || b.Finalize != jobs.FinalizePending {
		t.Fatalf("batch after all children: %s finalize %q", b.Status, b.Finalize)
	}
	_, err = h.store.BatchPause(h.ctx, "alice", p.ID)
	wantCode(t, "pause an ended batch", err, jobs.ErrConflict)
	_, err = h.store.BatchResume(h.ctx, "alice", p.ID)
	wantCode(t, "resume an ended batch", err, jobs.ErrConflict)
}

// A paused batch can be cancelled; it then ends and is finalized as any
// cancelled batch, and is no longer paused. A child whose lease expires
// in a paused batch waits for the resume like the others.
func testPauseCancelRescue(t *testing.T, h *harness) {
	p := h.batch("alice", 3, "vina")
	a := h.lease("w1", "vina")
	if _, err := h.store.BatchPause(h.ctx, "alice", p.ID); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(ttl)
	if r, err := h.store.JobRescue(h.ctx); err != nil || r != (jobs.Rescued{Retried: 1}) {
		t.Fatalf("rescue: %+v, %v", r, err)
	}
	h.clock.Advance(time.Hour)
	h.noWork("vina")
	wantProgress(t, h.getBatch("alice", p.ID), jobs.Progress{Total: 3, Pending: 3})

	if _, err := h.store.BatchResume(h.ctx, "alice", p.ID); err != nil {
		t.Fatal(err)
	}
	again := h.lease("w1", "vina")
	if again.ID != a.ID || again.Attempt != 2 {
		t.Fatalf("after resume leased %s attempt %d, want the rescued child", again.ID, again.Attempt)
	}
	if _, err := h.store.BatchPause(h.ctx, "alice", p.ID); err != nil {
		t.Fatal(err)
	}
	b, err := h.store.BatchCancel(h.ctx, "alice", p.ID)
	if err != nil {
		t.Fatalf("cancel a paused batch: %v", err)
	}
	wantProgress(t, b, jobs.Progress{Total: 3, Running: 1, Cancelled: 2})
	_, err = h.store.JobHeartbeat(h.ctx, *again.Lease, ttl)
	wantCode(t, "heartbeat in a cancelled batch", err, jobs.ErrCancelled)
	b = h.getBatch("alice", p.ID)
	if b.Status != jobs.StatusCancelled || b.Finalize != jobs.FinalizePending || b.Paused {
		t.Fatalf("cancelled paused batch: %s finalize %q paused %v", b.Status, b.Finalize, b.Paused)
	}
	if f := h.leaseFinalize("f"); f.ID != p.ID {
		t.Fatalf("finalize leased %s", f.ID)
	}
}

// Retrying the failed children of an ended batch reopens it with fresh
// attempts; when they end, the batch takes its final status again and one
// finalize task is handed out again.
func testRetryFailedEnded(t *testing.T, h *harness) {
	p := h.submit(jobs.Submission{UserID: "alice", Model: "vina", Name: "screen", MaxAttempts: 2, Children: children(3)})
	for i := 0; i < 3; i++ {
		h.fail(h.lease("w", "vina"), false)
	}
	b := h.getBatch("alice", p.ID)
	if b.Status != jobs.StatusFailed || b.Finalize != jobs.FinalizePending {
		t.Fatalf("batch with all children failed: %s finalize %q", b.Status, b.Finalize)
	}
	endedAt := b.FinishedAt
	milestones := fmt.Sprint(b.Milestones)
	// The finalize task fails once (a retryable failure) and then succeeds:
	// the parent has used an attempt, which the retry gives back.
	f := h.leaseFinalize("f")
	if err := h.store.JobFail(h.ctx, *f.Lease, jobs.Failure{Error: "bucket unavailable", Retryable: true}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	f = h.leaseFinalize("f")
	if f.Attempt != 2 {
		t.Fatalf("finalize attempt %d, want 2", f.Attempt)
	}
	h.complete(f, `{}`)
	if b := h.getBatch("alice", p.ID); b.Finalize != jobs.FinalizeDone {
		t.Fatalf("finalize: %q", b.Finalize)
	}

	now := h.clock.Advance(time.Minute)
	b, n, err := h.store.BatchRetryFailed(h.ctx, "alice", p.ID)
	if err != nil || n != 3 {
		t.Fatalf("retry failed: %d, %v", n, err)
	}
	wantProgress(t, b, jobs.Progress{Total: 3, Pending: 3})
	if b.Status != jobs.StatusRunning || !b.FinishedAt.IsZero() || b.Finalize != jobs.FinalizeNone || !b.FinalizedAt.IsZero() {
		t.Fatalf("reopened batch: %s finished %v finalize %q at %v", b.Status, b.FinishedAt, b.Finalize, b.FinalizedAt)
	}
	// Milestones keep the time they were first reached.
	if fmt.Sprint(b.Milestones) != milestones {
		t.Fatalf("milestones %v, want %s", b.Milestones, milestones)
	}
	if got := h.changesOf("alice", p.ID, jobs.StatusRunning); got != 2 {
		t.Fatalf("batch became running %d times in the feed, want 2", got)
	}
	for _, k := range h.children("alice", p.ID) {
		if k.Status != jobs.StatusPending || k.Attempt != 0 || k.Error != "" || !k.AvailableAt.Equal(now) || !k.FinishedAt.IsZero() {
			t.Fatalf("retried child %d: %s attempt %d error %q available %v finished %v", k.Index, k.Status, k.Attempt, k.Error, k.AvailableAt, k.FinishedAt)
		}
	}
	// Fresh attempts: a retryable failure goes back to pending once more.
	first := h.lease("w", "vina")
	if first.Attempt != 1 {
		t.Fatalf("retried child leased at attempt %d", first.Attempt)
	}
	h.fail(first, true)
	for i := 0; i < 2; i++ {
		h.complete(h.lease("w", "vina"), `{}`)
	}
	b = h.getBatch("alice", p.ID)
	wantProgress(t, b, jobs.Progress{Total: 3, Pending: 1, Completed: 2})
	if b.Status != jobs.StatusRunning || b.Finalize != jobs.FinalizeNone {
		t.Fatalf("batch with one child left: %s finalize %q", b.Status, b.Finalize)
	}
	h.clock.Advance(time.Hour)
	last := h.lease("w", "vina")
	if last.ID != first.ID || last.Attempt != 2 {
		t.Fatalf("leased %s attempt %d, want the retried child's second attempt", last.ID, last.Attempt)
	}
	h.fail(last, false)
	b = h.getBatch("alice", p.ID)
	wantProgress(t, b, jobs.Progress{Total: 3, Completed: 2, Failed: 1})
	if b.Status != jobs.StatusCompleted || b.Finalize != jobs.FinalizePending || !b.FinishedAt.After(endedAt) {
		t.Fatalf("batch ended again: %s finalize %q finished %v", b.Status, b.Finalize, b.FinishedAt)
	}
	if got := h.changesOf("alice", p.ID, jobs.StatusCompleted); got != 1 {
		t.Fatalf("batch became completed %d times in the feed", got)
	}
	f = h.leaseFinalize("f")
	if f.ID != p.ID || f.Attempt != 1 {
		t.Fatalf("finalize again: %s attempt %d", f.ID, f.Attempt)
	}
	h.noWork("vina")
	h.complete(f, `{}`)
	if b := h.getBatch("alice", p.ID); b.Finalize != jobs.FinalizeDone || b.FinalizedAt.IsZero() {
		t.Fatalf("finalized again: %q at %v", b.Finalize, b.FinalizedAt)
	}
	h.noWork("vina")

	// The one child still failed can be retried again; none failed is
	// not an error and changes nothing.
	if _, n, err := h.store.BatchRetryFailed(h.ctx, "alice", p.ID); err != nil || n != 1 {
		t.Fatalf("retry the last failed child: %d, %v", n, err)
	}
	h.complete(h.lease("w", "vina"), `{}`)
	h.complete(h.leaseFinalize("f"), `{}`)
	b, n, err = h.store.BatchRetryFailed(h.ctx, "alice", p.ID)
	if err != nil || n != 0 || b.Status != jobs.StatusCompleted || b.Finalize != jobs.FinalizeDone {
		t.Fatalf("retry with nothing failed: %d, %v, batch %s finalize %q", n, err, b.Status, b.Finalize)
	}
	wantProgress(t, b, jobs.Progress{Total: 3, Completed: 3})
}

// Retrying the failed children of a running batch puts them back in its
// queue; the batch ends once, when all have ended.
func testRetryFailedRunning(t *testing.T, h *harness) {
	p := h.batch("alice", 4, "vina")
	h.fail(h.lease("w", "vina"), false)
	running := h.lease("w", "vina")
	b, n, err := h.store.BatchRetryFailed(h.ctx, "alice", p.ID)
	if err != nil || n != 1 {
		t.Fatalf("retry: %d, %v", n, err)
	}
	wantProgress(t, b, jobs.Progress{Total: 4, Pending: 3, Running: 1})
	if b.Status != jobs.StatusRunning {
		t.Fatalf("batch: %s", b.Status)
	}
	again := h.lease("w", "vina")
	if again.Index != 0 || again.Attempt != 1 {
		t.Fatalf("leased index %d attempt %d, want the retried child 0 at attempt 1", again.Index, again.Attempt)
	}
	h.complete(again, `{}`)
	h.complete(running, `{}`)
	for i := 0; i < 2; i++ {
		h.complete(h.lease("w", "vina"), `{}`)
	}
	b = h.getBatch("alice", p.ID)
	wantProgress(t, b, jobs.Progress{Total: 4, Completed: 4})
	if b.Status != jobs.StatusCompleted || b.Finalize != jobs.FinalizePending {
		t.Fatalf("batch: %s finalize %q", b.Status, b.Finalize)
	}
	if got := h.changesOf("alice", p.ID, jobs.StatusCompleted); got != 1 {
		t.Fatalf("batch became completed %d times", got)
	}
}

// Retrying is refused while the finalize task is leased and while a cancel
// is under way; a cancelled batch with failures is reopened, and its
// cancel request is over.
func testRetryFailedConflicts(t *testing.T, h *harness) {
	p := h.batch("alice", 1, "vina")
	h.fail(h.lease("w", "vina"), false)
	f := h.leaseFinalize("f")
	_, _, err := h.store.BatchRetryFailed(h.ctx, "alice", p.ID)
	wantCode(t, "retry while finalizing", err, jobs.ErrConflict)
	h.complete(f, `{}`)
	if _, n, err := h.store.BatchRetryFailed(h.ctx, "alice", p.ID); err != nil || n != 1 {
		t.Fatalf("retry after finalize: %d, %v", n, err)
	}

	c := h.batch("bob", 3, "gnina")
	h.fail(h.lease("w", "gnina"), false)
	r := h.lease("w", "gnina")
	if _, err := h.store.BatchCancel(h.ctx, "bob", c.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = h.store.BatchRetryFailed(h.ctx, "bob", c.ID)
	wantCode(t, "retry while cancelling", err, jobs.ErrConflict)
	_, err = h.store.JobHeartbeat(h.ctx, *r.Lease, ttl)
	wantCode(t, "heartbeat after cancel", err, jobs.ErrCancelled)
	b := h.getBatch("bob", c.ID)
	wantProgress(t, b, jobs.Progress{Total: 3, Failed: 1, Cancelled: 2})
	if b.Status != jobs.StatusCancelled || b.Finalize != jobs.FinalizePending {
		t.Fatalf("cancelled batch: %s finalize %q", b.Status, b.Finalize)
	}
	// Not leased yet, the finalize task is withdrawn by the retry.
	b, n, err := h.store.BatchRetryFailed(h.ctx, "bob", c.ID)
	if err != nil || n != 1 {
		t.Fatalf("retry a cancelled batch: %d, %v", n, err)
	}
	if b.Status != jobs.StatusRunning || b.CancelRequested || b.Finalize != jobs.FinalizeNone {
		t.Fatalf("reopened cancelled batch: %s cancel %v finalize %q", b.Status, b.CancelRequested, b.Finalize)
	}
	j := h.lease("w", "gnina")
	if j.BatchID != c.ID || j.Index != 0 {
		t.Fatalf("leased %s index %d", j.BatchID, j.Index)
	}
	if _, err := h.store.JobHeartbeat(h.ctx, *j.Lease, ttl); err != nil {
		t.Fatalf("heartbeat of a retried child: %v", err)
	}
	h.complete(j, `{}`)
	b = h.getBatch("bob", c.ID)
	if b.Status != jobs.StatusCompleted || b.Finalize != jobs.FinalizePending {
		t.Fatalf("batch after the retried child: %s finalize %q", b.Status, b.Finalize)
	}
}

// A batch is deleted only when it has ended and been finalized; it goes
// with its children, milestones, changes and cached results.
func testDeleteBatch(t *testing.T, h *harness) {
	kids := []jobs.ChildSubmission{
		{Name: "a", Input: ligand(0), ContentKey: "key-a"},
		{Name: "b", Input: ligand(1), ContentKey: "key-b"},
	}
	p := h.submit(jobs.Submission{UserID: "alice", Model: "vina", Children: kids})
	other := h.batch("alice", 1, "vina")
	kept := h.individual("alice", "vina", "key-b")
	h.complete(h.lease("w", "vina"), `{}`) // the individual job first
	a := h.lease("w", "vina")
	if a.BatchID != p.ID {
		t.Fatalf("leased %s, want batch %s", a.ID, p.ID)
	}
	err := h.store.BatchDelete(h.ctx, "alice", p.ID)
	wantCode(t, "delete a running batch", err, jobs.ErrConflict)
	if !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("conflict %q does not say to cancel first", err)
	}
	h.complete(a, `{"affinity":-8}`)
	if j := h.lease("w", "vina"); j.BatchID != other.ID {
		t.Fatalf("leased %s, want the other batch's child", j.ID)
	} else {
		h.complete(j, `{}`)
	}
	// Child b reuses the individual job's result when its turn comes.
	_, err = h.store.JobLease(h.ctx, jobs.LeaseParams{Owner: "w", Models: []string{"vina"}, TTL: ttl})
	wantCode(t, "lease with only a reusable child left", err, jobs.ErrNoWork)
	b := h.getBatch("alice", p.ID)
	if b.Status != jobs.StatusCompleted || len(b.Milestones) == 0 {
		t.Fatalf("batch: %s milestones %v", b.Status, b.Milestones)
	}
	wantCode(t, "delete before finalize", h.store.BatchDelete(h.ctx, "alice", p.ID), jobs.ErrConflict)
	var f *jobs.Job
	for f == nil || f.ID != p.ID {
		if f != nil {
			h.complete(f, `{}`)
		}
		f = h.leaseFinalize("f")
	}
	wantCode(t, "delete while finalizing", h.store.BatchDelete(h.ctx, "alice", p.ID), jobs.ErrConflict)
	h.complete(f, `{}`)

	wantCode(t, "delete another user's batch", h.store.BatchDelete(h.ctx, "mallory", p.ID), jobs.ErrNotFound)
	wantCode(t, "delete an individual job", h.store.BatchDelete(h.ctx, "alice", kept.ID), jobs.ErrNotFound)
	ids := []string{p.ID}
	for _, k := range h.children("alice", p.ID) {
		ids = append(ids, k.ID)
	}
	if err := h.store.BatchDelete(h.ctx, "alice", p.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantCode(t, "delete twice", h.store.BatchDelete(h.ctx, "alice", p.ID), jobs.ErrNotFound)
	_, err = h.store.BatchGet(h.ctx, "alice", p.ID)
	wantCode(t, "get a deleted batch", err, jobs.ErrNotFound)
	for _, id := range ids {
		_, err := h.store.JobGet(h.ctx, "alice", id)
		wantCode(t, "get a deleted job", err, jobs.ErrNotFound)
	}
	if n := len(h.children("alice", p.ID)); n != 0 {
		t.Fatalf("%d children left", n)
	}
	cs, err := h.store.ChangesSince(h.ctx, "alice", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cs {
		for _, id := range ids {
			if c.JobID == id || c.BatchID == id {
				t.Fatalf("change %+v of the deleted batch is left", c)
			}
		}
		seen[c.JobID] = true
	}
	if !seen[other.ID] || !seen[kept.ID] {
		t.Fatalf("changes of other jobs went with the batch")
	}
	// The deleted child's result is not reused; another job's is.
	if j := h.individual("alice", "vina", "key-a"); j.Status != jobs.StatusPending {
		t.Fatalf("deleted child's result reused: %s from %s", j.Status, j.ReusedFrom)
	}
	if j := h.individual("alice", "vina", "key-b"); j.Status != jobs.StatusCompleted || j.ReusedFrom != kept.ID {
		t.Fatalf("another job's result: %s from %q", j.Status, j.ReusedFrom)
	}
	if b := h.getBatch("alice", other.ID); b.Status != jobs.StatusCompleted {
		t.Fatalf("other batch: %s", b.Status)
	}

	// A cancelled batch is deleted once its finalize task is done.
	c := h.batch("alice", 2, "gnina")
	if _, err := h.store.BatchCancel(h.ctx, "alice", c.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete a cancelled batch before finalize", h.store.BatchDelete(h.ctx, "alice", c.ID), jobs.ErrConflict)
	for {
		f := h.leaseFinalize("f")
		h.complete(f, `{}`)
		if f.ID == c.ID {
			break
		}
	}
	if err := h.store.BatchDelete(h.ctx, "alice", c.ID); err != nil {
		t.Fatalf("delete a cancelled batch: %v", err)
	}
}

// The new batch controls answer ErrNotFound for another user's batch and
// for a job that is not a batch, and change nothing.
func testControlsTenancy(t *testing.T, h *harness) {
	p := h.batch("alice", 2, "vina")
	h.fail(h.lease("w", "vina"), false)
	j := h.individual("alice", "vina", "")
	for _, id := range []string{p.ID, j.ID, "no-such-batch"} {
		user := "mallory"
		if id == j.ID {
			user = "alice"
		}
		_, err := h.store.BatchPause(h.ctx, user, id)
		wantCode(t, "pause", err, jobs.ErrNotFound)
		_, err = h.store.BatchResume(h.ctx, user, id)
		wantCode(t, "resume", err, jobs.ErrNotFound)
		_, _, err = h.store.BatchRetryFailed(h.ctx, user, id)
		wantCode(t, "retry failed", err, jobs.ErrNotFound)
		wantCode(t, "delete", h.store.BatchDelete(h.ctx, user, id), jobs.ErrNotFound)
	}
	b := h.getBatch("alice", p.ID)
	wantProgress(t, b, jobs.Progress{Total: 2, Pending: 1, Failed: 1})
	if b.Paused {
		t.Fatal("mallory paused alice's batch")
	}
	if got := h.getJob("alice", j.ID); got.Status != jobs.StatusPending {
		t.Fatalf("individual job: %s", got.Status)
	}
}

// A user at their cap of running jobs gets no more until one ends, however
// it ends; other users are served meanwhile. The cap is the one of the
// user's latest submission.
func testMaxRunning(t *testing.T, h *harness) {
	p := h.submit(jobs.Submission{UserID: "alice", Model: "vina", Children: children(8), MaxRunning: 2})
	h.submit(jobs.Submission{UserID: "bob", Model: "vina", Children: children(3)})
	var users []string
	var bobs []*jobs.Job
	for i := 0; i < 5; i++ {
		j := h.lease("w", "vina")
		users = append(users, j.UserID)
		if j.UserID == "bob" {
			bobs = append(bobs, j)
		}
	}
	if got := fmt.Sprint(users); got != "[alice bob alice bob bob]" {
		t.Fatalf("leases went to %s", got)
	}
	h.noWork("vina")
	for _, j := range bobs {
		h.complete(j, `{}`)
	}
	h.complete(h.leaseFinalize("f"), `{}`)
	running := func() []*jobs.Job {
		out, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "alice", BatchID: p.ID, Status: jobs.StatusRunning})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a := running()
	if len(a) != 2 {
		t.Fatalf("alice has %d running", len(a))
	}
	if more := h.siblings(a[0], 3); len(more) != 0 {
		t.Fatalf("siblings beyond the cap: %d", len(more))
	}
	// A completion frees a place for one more, and only one.
	h.complete(a[0], `{}`)
	a[0] = h.lease("w", "vina")
	h.noWork("vina")
	// So does a retryable failure...
	h.fail(a[1], true)
	a[1] = h.lease("w", "vina")
	h.noWork("vina")
	// ...a cancel learnt at a heartbeat...
	if _, err := h.store.JobCancel(h.ctx, "alice", a[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err := h.store.JobHeartbeat(h.ctx, *a[0].Lease, ttl)
	wantCode(t, "heartbeat after cancel", err, jobs.ErrCancelled)
	a[0] = h.lease("w", "vina")
	h.noWork("vina")
	// ...and expired leases, rescued.
	h.clock.Advance(ttl)
	if r, err := h.store.JobRescue(h.ctx); err != nil || r.Retried != 2 {
		t.Fatalf("rescue: %+v, %v", r, err)
	}
	h.clock.Advance(time.Hour)
	a[0], a[1] = h.lease("w", "vina"), h.lease("w", "vina")
	h.noWork("vina")
	if n := len(running()); n != 2 {
		t.Fatalf("alice has %d running", n)
	}
	// Alice's latest submission raises her cap, for all her pending jobs.
	h.submit(jobs.Submission{UserID: "alice", Model: "gnina", Input: ligand(0), MaxRunning: 3})
	if j := h.lease("w", "vina"); j.BatchID != p.ID {
		t.Fatalf("leased %s", j.ID)
	}
	h.noWork("vina")
	// No cap: siblings up to what is left.
	h.submit(jobs.Submission{UserID: "alice", Model: "gnina", Input: ligand(1)})
	if more := h.siblings(a[0], 10); len(more) != 3 {
		t.Fatalf("uncapped siblings: %d, want the 3 left", len(more))
	}
	wantProgress(t, h.getBatch("alice", p.ID), jobs.Progress{Total: 8, Running: 6, Completed: 1, Cancelled: 1})
}

// Siblings stop at the cap.
func testMaxRunningSiblings(t *testing.T, h *harness) {
	h.submit(jobs.Submission{UserID: "carol", Model: "boltz2", Children: children(6), MaxRunning: 3})
	first := h.lease("gpu", "boltz2")
	if more := h.siblings(first, 5); len(more) != 2 {
		t.Fatalf("siblings under a cap of 3: %d, want 2", len(more))
	}
	h.noWork("boltz2")
}

// The request id and trace context are kept on every job of a submission,
// the webhook on the batch parent, where the finalizer finds it.
func testRequestIDAndWebhook(t *testing.T, h *harness) {
	hook := &jobs.Webhook{URL: "https://example.org/hook", Secret: "s3cret"}
	const tc1 = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const tc2 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\ncongo=t61rcWkgMzE"
	p := h.submit(jobs.Submission{UserID: "alice", Model: "vina", Children: children(2), RequestID: "req-1", Webhook: hook,
		TraceContext: tc1})
	if p.RequestID != "req-1" || p.Webhook == nil || *p.Webhook != *hook {
		t.Fatalf("submitted parent: request %q webhook %+v", p.RequestID, p.Webhook)
	}
	b := h.getBatch("alice", p.ID)
	if b.RequestID != "req-1" || b.Webhook == nil || *b.Webhook != *hook || b.TraceContext != tc1 {
		t.Fatalf("batch: request %q webhook %+v", b.RequestID, b.Webhook)
	}
	if j := h.getJob("alice", p.ID); j.Webhook == nil || *j.Webhook != *hook {
		t.Fatalf("parent as a job: webhook %+v", j.Webhook)
	}
	for _, k := range h.children("alice", p.ID) {
		if k.RequestID != "req-1" || k.Webhook != nil || k.TraceContext != tc1 {
			t.Fatalf("child %d: request %q webhook %+v", k.Index, k.RequestID, k.Webhook)
		}
	}
	j := h.submit(jobs.Submission{UserID: "alice", Model: "gnina", Input: ligand(0), RequestID: "req-2", TraceContext: tc2})
	if got := h.getJob("alice", j.ID); got.RequestID != "req-2" || got.Webhook != nil || got.TraceContext != tc2 {
		t.Fatalf("individual job: request %q webhook %+v", got.RequestID, got.Webhook)
	}
	if l := h.lease("w", "gnina"); l.RequestID != "req-2" || l.TraceContext != tc2 {
		t.Fatalf("leased job: request %q", l.RequestID)
	}
	for i := 0; i < 2; i++ {
		l := h.lease("w", "vina")
		if l.RequestID != "req-1" || l.TraceContext != tc1 {
			t.Fatalf("leased child: request %q trace %q", l.RequestID, l.TraceContext)
		}
		h.complete(l, `{}`)
	}
	f := h.leaseFinalize("f")
	if f.ID != p.ID || f.Webhook == nil || *f.Webhook != *hook || f.RequestID != "req-1" || f.TraceContext != tc1 {
		t.Fatalf("finalize task: %s webhook %+v request %q", f.ID, f.Webhook, f.RequestID)
	}
	plain := h.batch("alice", 1, "vina")
	if b := h.getBatch("alice", plain.ID); b.Webhook != nil || b.RequestID != "" || b.TraceContext != "" {
		t.Fatalf("batch without webhook: %+v request %q", b.Webhook, b.RequestID)
	}
}

// Stats count over all users, on a known mix.
func testStats(t *testing.T, h *harness) {
	st, err := h.store.Stats(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", st) != fmt.Sprintf("%+v", jobs.Stats{}) {
		t.Fatalf("empty store: %+v", st)
	}

	// bob's vina batch: one child running, one failed, one waiting for a
	// retry, one queued.
	h.batch("bob", 4, "vina")
	h.lease("w", "vina")
	h.fail(h.lease("w", "vina"), false)
	h.fail(h.lease("w", "vina"), true)
	// bob's boltz2 batch, paused: one child waiting for a retry, two
	// pending.
	z := h.batch("bob", 3, "boltz2")
	h.fail(h.lease("w", "boltz2"), true)
	if _, err := h.store.BatchPause(h.ctx, "bob", z.ID); err != nil {
		t.Fatal(err)
	}
	// carol's individual gnina job waits for a retry; another is cancelled.
	h.individual("carol", "gnina", "")
	h.fail(h.lease("w", "gnina"), true)
	cj := h.individual("carol", "gnina", "")
	if _, err := h.store.JobCancel(h.ctx, "carol", cj.ID); err != nil {
		t.Fatal(err)
	}
	// dave's vina batch has ended and waits for its finalize task.
	h.batch("dave", 1, "vina")
	// alice: an individual vina job completed, one queued.
	h.individual("alice", "vina", "")
	for {
		j := h.lease("w", "vina")
		h.complete(j, `{}`)
		if j.UserID == "dave" {
			break
		}
	}
	h.individual("alice", "vina", "")

	want := jobs.Stats{
		Jobs: []jobs.StatsCount{
			{Model: "boltz2", Status: jobs.StatusPending, N: 3},
			{Model: "gnina", Status: jobs.StatusPending, N: 1},
			{Model: "gnina", Status: jobs.StatusCancelled, N: 1},
			{Model: "vina", Status: jobs.StatusPending, N: 3},
			{Model: "vina", Status: jobs.StatusRunning, N: 1},
			{Model: "vina", Status: jobs.StatusCompleted, N: 2},
			{Model: "vina", Status: jobs.StatusFailed, N: 1},
		},
		Queued:        2, // alice's job and bob's vina child
		QueuedByModel: map[string]int{"vina": 2},
		Delayed:       3, // bob's two children and carol's job
		ActiveBatches: 2,
		PausedBatches: 1,
		Finalizing:    1,
		Users:         3, // alice, bob, carol
	}
	st, err = h.store.Stats(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", st) != fmt.Sprintf("%+v", want) {
		t.Fatalf("stats =\n%+v\nwant\n%+v", st, want)
	}

	// The backoffs end: what waited is queued, except in the paused batch.
	h.clock.Advance(time.Hour)
	want.Queued, want.Delayed = 4, 0
	want.QueuedByModel = map[string]int{"gnina": 1, "vina": 3}
	st, err = h.store.Stats(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", st) != fmt.Sprintf("%+v", want) {
		t.Fatalf("stats after the backoffs =\n%+v\nwant\n%+v", st, want)
	}
	// Resumed, the paused batch's children are queued too.
	if _, err := h.store.BatchResume(h.ctx, "bob", z.ID); err != nil {
		t.Fatal(err)
	}
	want.Queued, want.PausedBatches = 7, 0
	want.QueuedByModel = map[string]int{"boltz2": 3, "gnina": 1, "vina": 3}
	st, err = h.store.Stats(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", st) != fmt.Sprintf("%+v", want) {
		t.Fatalf("stats after resume =\n%+v\nwant\n%+v", st, want)
	}
}

// A rescue pass while a batch runs returns its expired children only: the
// open batch has no finalize task to hand out.
func testRescueLeavesBatchOpen(t *testing.T, h *harness) {
	p := h.batch("alice", 2, "vina")
	h.lease("w", "vina")
	h.clock.Advance(ttl)
	if r, err := h.store.JobRescue(h.ctx); err != nil || r != (jobs.Rescued{Retried: 1}) {
		t.Fatalf("rescue: %+v, %v", r, err)
	}
	b := h.getBatch("alice", p.ID)
	if b.Status != jobs.StatusRunning || b.Finalize != jobs.FinalizeNone {
		t.Fatalf("batch after rescue: %s finalize %q", b.Status, b.Finalize)
	}
	if j := h.lease("w", "vina"); j.Type != jobs.TypeBatchChild || j.Index != 1 {
		t.Fatalf("leased %s index %d", j.Type, j.Index)
	}
}

// When the only work left is identical to work already done, a lease
// completes it from that result and answers no work; the completion stays.
func testDedupAtLeaseNothingElse(t *testing.T, h *harness) {
	kids := []jobs.ChildSubmission{{Name: "a", Input: ligand(0), ContentKey: "k"}, {Name: "a-again", Input: ligand(0), ContentKey: "k"}}
	p := h.submit(jobs.Submission{UserID: "alice", Model: "vina", Children: kids})
	h.complete(h.lease("w", "vina"), `{"affinity":-6}`)
	_, err := h.store.JobLease(h.ctx, jobs.LeaseParams{Owner: "w", Models: []string{"vina"}, TTL: ttl})
	wantCode(t, "lease with only a duplicate left", err, jobs.ErrNoWork)
	b := h.getBatch("alice", p.ID)
	wantProgress(t, b, jobs.Progress{Total: 2, Completed: 2})
	if b.Status != jobs.StatusCompleted || b.Finalize != jobs.FinalizePending {
		t.Fatalf("batch: %s finalize %q", b.Status, b.Finalize)
	}
}

// An ended individual job can be deleted with its changes and cached
// result; a running one, a batch or another user's job cannot. The jobs
// that reused its result are listed first so that their files can be kept.
func testDeleteJob(t *testing.T, h *harness) {
	src := h.individual("alice", "vina", "key-a")
	p := h.batch("alice", 1, "vina")
	wantCode(t, "delete a pending job", h.store.JobDelete(h.ctx, "alice", src.ID), jobs.ErrConflict)
	l := h.lease("w", "vina")
	if l.ID != src.ID {
		t.Fatalf("leased %s, want the individual job", l.ID)
	}
	err := h.store.JobDelete(h.ctx, "alice", src.ID)
	wantCode(t, "delete a running job", err, jobs.ErrConflict)
	if !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("conflict %q does not say to cancel first", err)
	}
	h.complete(l, `{"affinity":-7}`)
	reuser := h.individual("alice", "vina", "key-a")
	if reuser.ReusedFrom != src.ID {
		t.Fatalf("second job reused %q", reuser.ReusedFrom)
	}
	reusers, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "alice", ReusedFrom: src.ID})
	if err != nil || len(reusers) != 1 || reusers[0].ID != reuser.ID {
		t.Fatalf("jobs that reused %s: %v, %v", src.ID, reusers, err)
	}
	if l, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "mallory", ReusedFrom: src.ID}); err != nil || len(l) != 0 {
		t.Fatalf("mallory lists alice's reusers: %v, %v", l, err)
	}
	wantCode(t, "delete another user's job", h.store.JobDelete(h.ctx, "mallory", src.ID), jobs.ErrNotFound)
	wantCode(t, "delete a batch as a job", h.store.JobDelete(h.ctx, "alice", p.ID), jobs.ErrNotFound)
	child := h.children("alice", p.ID)[0]
	wantCode(t, "delete a batch child", h.store.JobDelete(h.ctx, "alice", child.ID), jobs.ErrNotFound)
	if err := h.store.JobDelete(h.ctx, "alice", src.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantCode(t, "delete twice", h.store.JobDelete(h.ctx, "alice", src.ID), jobs.ErrNotFound)
	_, err = h.store.JobGet(h.ctx, "alice", src.ID)
	wantCode(t, "get a deleted job", err, jobs.ErrNotFound)
	cs, err := h.store.ChangesSince(h.ctx, "alice", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.JobID == src.ID {
			t.Fatalf("change %+v of the deleted job is left", c)
		}
	}
	// Its result is not reused any more; the reuser stays as it was.
	if j := h.individual("alice", "vina", "key-a"); j.Status != jobs.StatusPending {
		t.Fatalf("deleted job's result reused: %s from %s", j.Status, j.ReusedFrom)
	}
	if j := h.getJob("alice", reuser.ID); j.Status != jobs.StatusCompleted || j.ReusedFrom != src.ID {
		t.Fatalf("reuser after delete: %s from %q", j.Status, j.ReusedFrom)
	}
}
