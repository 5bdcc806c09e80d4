package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"omtx/jobs"
)

// A big batch from one user delays another user's single job by at most
// one job per worker: every worker that asks next gets it.
func testFairAcrossUsers(t *testing.T, h *harness, size int) {
	big := h.batch("alice", size, "vina")
	const workers = 4
	for w := 0; w < workers; w++ {
		if j := h.lease(fmt.Sprintf("w%d", w), "vina"); j.BatchID != big.ID {
			t.Fatalf("worker %d leased %s", w, j.ID)
		}
	}
	single := h.individual("bob", "vina", "")
	if j := h.lease("w0", "vina"); j.ID != single.ID {
		t.Fatalf("next lease after bob submitted went to %s (%s), not bob's job", j.UserID, j.ID)
	}
	// Two users with batches alternate.
	h.batch("carol", 3, "vina")
	var got []string
	for i := 0; i < 4; i++ {
		got = append(got, h.lease("w1", "vina").UserID)
	}
	if fmt.Sprint(got) != "[carol alice carol alice]" {
		t.Fatalf("users served in order %v", got)
	}
}

func testFairAcrossBatches(t *testing.T, h *harness) {
	x := h.batch("alice", 3, "vina")
	y := h.batch("alice", 3, "vina")
	var got []string
	for i := 0; i < 6; i++ {
		j := h.lease("w", "vina")
		name := "x"
		if j.BatchID == y.ID {
			name = "y"
		} else if j.BatchID != x.ID {
			t.Fatalf("leased %s from batch %s", j.ID, j.BatchID)
		}
		got = append(got, fmt.Sprintf("%s%d", name, j.Index))
	}
	if fmt.Sprint(got) != "[x0 y0 x1 y1 x2 y2]" {
		t.Fatalf("children served in order %v", got)
	}
}

func testIndividualBeforeChildren(t *testing.T, h *harness) {
	h.batch("alice", 3, "vina")
	single := h.individual("alice", "vina", "")
	if j := h.lease("w", "vina"); j.ID != single.ID {
		t.Fatalf("leased %s %s before the individual job", j.Type, j.ID)
	}
}

func testLeaseByModel(t *testing.T, h *harness) {
	v := h.individual("alice", "vina", "")
	b := h.individual("alice", "boltz2", "")
	if j := h.lease("gpu", "boltz2", "chai1"); j.ID != b.ID {
		t.Fatalf("boltz2 worker got %s (%s)", j.ID, j.Model)
	}
	h.noWork("boltz2")
	if j := h.lease("cpu", "vina"); j.ID != v.ID {
		t.Fatalf("vina worker got %s", j.ID)
	}
}

func testDedupAtSubmit(t *testing.T, h *harness) {
	first := h.individual("alice", "vina", "key-1")
	h.complete(h.lease("w", "vina"), `{"affinity":-9.1}`)

	again := h.individual("alice", "vina", "key-1")
	if again.Status != jobs.StatusCompleted || again.ReusedFrom != first.ID || string(again.Result) != `{"affinity":-9.1}` {
		t.Fatalf("identical individual job: %s reused %q result %s", again.Status, again.ReusedFrom, again.Result)
	}
	children := []jobs.ChildSubmission{{Name: "same", Input: ligand(0), ContentKey: "key-1"}, {Name: "new", Input: ligand(1), ContentKey: "key-2"}}
	p, err := h.store.Submit(h.ctx, jobs.Submission{UserID: "alice", Model: "vina", Children: children})
	if err != nil {
		t.Fatal(err)
	}
	wantProgress(t, h.getBatch("alice", p.ID), jobs.Progress{Total: 2, Pending: 1, Completed: 1})
	j := h.lease("w", "vina")
	if j.Name != "new" {
		t.Fatalf("leased %s, want only the new ligand", j.Name)
	}
	h.complete(j, `{}`)
	if b := h.getBatch("alice", p.ID); b.Status != jobs.StatusCompleted || b.Progress.Completed != 2 {
		t.Fatalf("batch: %s %+v", b.Status, b.Progress)
	}
}

// Two children with the same key in one batch: the second is completed
// from the first's result when its turn comes, without being handed out.
func testDedupAtLease(t *testing.T, h *harness) {
	children := []jobs.ChildSubmission{
		{Name: "a", Input: ligand(0), ContentKey: "k"},
		{Name: "a-again", Input: ligand(0), ContentKey: "k"},
		{Name: "b", Input: ligand(1), ContentKey: "k2"},
	}
	p, err := h.store.Submit(h.ctx, jobs.Submission{UserID: "alice", Model: "vina", Children: children})
	if err != nil {
		t.Fatal(err)
	}
	a := h.lease("w", "vina")
	h.complete(a, `{"affinity":-6}`)
	if j := h.lease("w", "vina"); j.Name != "b" {
		t.Fatalf("leased %q, want b (a-again reuses a's result)", j.Name)
	}
	kids, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "alice", BatchID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if k := kids[1]; k.Status != jobs.StatusCompleted || k.ReusedFrom != a.ID || string(k.Result) != `{"affinity":-6}` || k.Attempt != 0 {
		t.Fatalf("duplicate child: %s reused %q result %s attempts %d", k.Status, k.ReusedFrom, k.Result, k.Attempt)
	}
}

// Results are reused only within one user: another user's identical
// submission runs for itself.
func testDedupPerUser(t *testing.T, h *harness) {
	h.individual("alice", "vina", "shared")
	h.complete(h.lease("w", "vina"), `{}`)
	j := h.individual("bob", "vina", "shared")
	if j.Status != jobs.StatusPending || j.ReusedFrom != "" {
		t.Fatalf("bob's job reused alice's: %s %q", j.Status, j.ReusedFrom)
	}
}

// No method returns or changes another user's records.
func testTenantScoping(t *testing.T, h *harness) {
	p := h.batch("alice", 2, "vina")
	j := h.individual("alice", "vina", "")
	kids, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "alice", BatchID: p.ID})
	if err != nil || len(kids) != 2 {
		t.Fatalf("alice's children: %d, %v", len(kids), err)
	}
	for _, id := range []string{p.ID, j.ID, kids[0].ID} {
		_, err := h.store.JobGet(h.ctx, "mallory", id)
		wantCode(t, "get another user's job", err, jobs.ErrNotFound)
	}
	_, err = h.store.BatchGet(h.ctx, "mallory", p.ID)
	wantCode(t, "get another user's batch", err, jobs.ErrNotFound)
	_, err = h.store.BatchGet(h.ctx, "alice", j.ID)
	wantCode(t, "an individual job is not a batch", err, jobs.ErrNotFound)
	_, err = h.store.BatchCancel(h.ctx, "mallory", p.ID)
	wantCode(t, "cancel another user's batch", err, jobs.ErrNotFound)
	_, err = h.store.JobCancel(h.ctx, "mallory", j.ID)
	wantCode(t, "cancel another user's job", err, jobs.ErrNotFound)
	if got := h.getBatch("alice", p.ID); got.CancelRequested || got.Status != jobs.StatusPending {
		t.Fatalf("mallory changed alice's batch: %+v", got)
	}
	if l, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "mallory", BatchID: p.ID}); err != nil || len(l) != 0 {
		t.Fatalf("mallory lists alice's children: %d, %v", len(l), err)
	}
	if l, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "mallory"}); err != nil || len(l) != 0 {
		t.Fatalf("mallory lists jobs: %d, %v", len(l), err)
	}
	if l, err := h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "mallory"}); err != nil || len(l) != 0 {
		t.Fatalf("mallory lists batches: %d, %v", len(l), err)
	}
	if c, err := h.store.ChangesSince(h.ctx, "mallory", 0, 100); err != nil || len(c) != 0 {
		t.Fatalf("mallory sees changes: %d, %v", len(c), err)
	}
	for name, err := range map[string]error{
		"list without user":    second(h.store.JobList(h.ctx, jobs.JobFilter{})),
		"batches without user": second(h.store.BatchList(h.ctx, jobs.BatchFilter{})),
		"changes without user": second(h.store.ChangesSince(h.ctx, "", 0, 10)),
	} {
		wantCode(t, name, err, jobs.ErrInvalid)
	}
}

func second[T any](_ T, err error) error { return err }

// The change feed lists a user's changes in commit order, and Watch
// delivers the same sequence live.
func testWatchOrder(t *testing.T, h *harness) {
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	feed, err := h.store.Watch(ctx, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	j := h.individual("alice", "vina", "")
	h.individual("bob", "vina", "")
	p := h.batch("alice", 1, "vina")
	l := h.lease("w", "vina")
	h.complete(l, `{}`)
	c := h.lease("w", "vina") // bob's job
	h.complete(c, `{}`)
	k := h.lease("w", "vina")
	h.complete(k, `{}`)

	type ev struct {
		id     string
		status jobs.Status
	}
	want := []ev{
		{j.ID, jobs.StatusPending}, {p.ID, jobs.StatusPending},
		{j.ID, jobs.StatusRunning}, {j.ID, jobs.StatusCompleted},
		{k.ID, jobs.StatusRunning}, {p.ID, jobs.StatusRunning},
		{k.ID, jobs.StatusCompleted}, {p.ID, jobs.StatusCompleted},
	}
	changes, err := h.store.ChangesSince(h.ctx, "alice", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []ev
	for i, c := range changes {
		if c.UserID != "alice" {
			t.Fatalf("alice's feed holds %s's change", c.UserID)
		}
		if i > 0 && c.Seq <= changes[i-1].Seq {
			t.Fatalf("feed out of order at %d: %d after %d", i, c.Seq, changes[i-1].Seq)
		}
		got = append(got, ev{c.JobID, c.Status})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("feed = %v\nwant   %v", got, want)
	}
	for i := range want {
		select {
		case c, ok := <-feed:
			if !ok {
				t.Fatalf("watch closed after %d changes", i)
			}
			if c != changes[i] {
				t.Fatalf("watch change %d = %+v, want %+v", i, c, changes[i])
			}
		case <-ctx.Done():
			t.Fatalf("watch delivered %d of %d changes", i, len(want))
		}
	}
	// Resuming from a sequence number skips what was seen.
	rest, err := h.store.ChangesSince(h.ctx, "alice", changes[5].Seq, 100)
	if err != nil || len(rest) != 2 || rest[0] != changes[6] {
		t.Fatalf("changes since %d: %v, %v", changes[5].Seq, rest, err)
	}
	// A later commit wakes the watcher.
	late := h.individual("alice", "vina", "")
	select {
	case c := <-feed:
		if c.JobID != late.ID {
			t.Fatalf("woke with %+v", c)
		}
	case <-ctx.Done():
		t.Fatal("watch did not deliver a later change")
	}
	cancel()
	for range feed {
	}
}

func testListPaging(t *testing.T, h *harness) {
	p := h.batch("alice", 25, "vina")
	var names []string
	for off := 0; off < 25; off += 10 {
		page, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "alice", BatchID: p.ID, Offset: off, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page {
			names = append(names, j.Name)
		}
	}
	if len(names) != 25 || names[0] != "lig-0" || names[24] != "lig-24" {
		t.Fatalf("paged children: %d, first %v", len(names), names[:3])
	}
	h.complete(h.lease("w", "vina"), `{}`)
	done, err := h.store.JobList(h.ctx, jobs.JobFilter{UserID: "alice", BatchID: p.ID, Status: jobs.StatusCompleted})
	if err != nil || len(done) != 1 || done[0].Name != "lig-0" {
		t.Fatalf("completed children: %v, %v", done, err)
	}
	for i := 0; i < 3; i++ {
		h.clock.Advance(time.Second)
		h.batch("alice", 1, "vina")
	}
	bs, err := h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice", Limit: 2})
	if err != nil || len(bs) != 2 || !bs[0].CreatedAt.After(bs[1].CreatedAt) {
		t.Fatalf("newest batches first: %v", err)
	}
	// Keyset paging: a batch submitted meanwhile (newer, and one at the
	// very same time) neither repeats nor hides the next page's batches.
	all, err := h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice"})
	if err != nil || len(all) != 4 {
		t.Fatalf("all batches: %d, %v", len(all), err)
	}
	h.clock.Advance(time.Second)
	h.batch("alice", 1, "vina")
	h.batch("alice", 1, "vina")
	last := bs[1]
	next, err := h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice", Limit: 2,
		After: &jobs.BatchKey{CreatedAt: last.CreatedAt, ID: last.ID}})
	if err != nil || len(next) != 2 || next[0].ID != all[2].ID || next[1].ID != all[3].ID {
		t.Fatalf("page after %s: %v, %v", last.ID, next, err)
	}
	// Batches created at the same instant are ordered by ID and paged
	// without loss.
	all, _ = h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice"})
	if !all[0].CreatedAt.Equal(all[1].CreatedAt) || all[0].ID < all[1].ID {
		t.Fatalf("same-time batches not ordered by ID: %v %v", all[0].ID, all[1].ID)
	}
	next, err = h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: "alice", Limit: 1,
		After: &jobs.BatchKey{CreatedAt: all[0].CreatedAt, ID: all[0].ID}})
	if err != nil || len(next) != 1 || next[0].ID != all[1].ID {
		t.Fatalf("page after a same-time batch: %v, %v", next, err)
	}
}

// A worker holding one child can take more of the same batch for an engine
// that runs many inputs in one process; each is leased and ends on its own.
func testLeaseSiblings(t *testing.T, h *harness) {
	h.batch("alice", 5, "boltz2")
	h.batch("alice", 2, "boltz2") // siblings never come from another batch
	first := h.lease("gpu", "boltz2")
	params := jobs.LeaseParams{Owner: "gpu", Models: []string{"boltz2"}, TTL: ttl}
	more, err := h.store.JobLeaseSiblings(h.ctx, params, *first.Lease, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(more) != 3 {
		t.Fatalf("leased %d siblings, want 3", len(more))
	}
	for i, j := range more {
		if j.BatchID != first.BatchID || j.Status != jobs.StatusRunning || j.Lease == nil || j.Lease.Owner != "gpu" || j.Index != first.Index+1+i {
			t.Fatalf("sibling %d: %+v", i, j)
		}
	}
	wantProgress(t, h.getBatch("alice", first.BatchID), jobs.Progress{Total: 5, Pending: 1, Running: 4})
	h.complete(more[1], `{}`)
	if err := h.store.JobFail(h.ctx, *more[0].Lease, jobs.Failure{Error: "out of memory", Retryable: true}); err != nil {
		t.Fatal(err)
	}
	// Asking for more than is left gives what is left.
	rest, err := h.store.JobLeaseSiblings(h.ctx, params, *first.Lease, 10)
	if err != nil || len(rest) != 1 {
		t.Fatalf("rest: %d, %v", len(rest), err)
	}
	// Only the holder of a lease may ask.
	_, err = h.store.JobLeaseSiblings(h.ctx, jobs.LeaseParams{Owner: "thief", Models: []string{"boltz2"}, TTL: ttl}, *first.Lease, 1)
	wantCode(t, "siblings by another owner", err, jobs.ErrInvalid)
	stale := *first.Lease
	stale.Attempt++
	_, err = h.store.JobLeaseSiblings(h.ctx, params, stale, 1)
	wantCode(t, "siblings with a stale lease", err, jobs.ErrLeaseLost)
}
