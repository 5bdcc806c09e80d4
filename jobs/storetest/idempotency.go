package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"omtx/jobs"
)

// keyedBatch is a batch submission of n ligands under an idempotency key.
func keyedBatch(user, key string, n int) jobs.Submission {
	children := make([]jobs.ChildSubmission, n)
	for i := range children {
		children[i] = jobs.ChildSubmission{Name: fmt.Sprintf("lig-%d", i), Input: ligand(i), ContentKey: fmt.Sprintf("k-%d", i)}
	}
	return jobs.Submission{UserID: user, Model: "vina", ModelVersion: "1", Name: "screen",
		Input: json.RawMessage(`{"target":"ABL1"}`), Children: children, IdempotencyKey: key,
		Webhook: &jobs.Webhook{URL: "https://example.org/hook", Secret: "0123456789abcdef"}}
}

// wantReplay asserts that err is a replay of the job first submitted as id.
func wantReplay(t *testing.T, what string, err error, id string) *jobs.Job {
	t.Helper()
	var se *jobs.SubmittedError
	if !errors.As(err, &se) {
		t.Fatalf("%s: want a replay of %s, got %v", what, id, err)
	}
	if se.Job == nil || se.Job.ID != id {
		t.Fatalf("%s: replay of %+v, want %s", what, se.Job, id)
	}
	return se.Job
}

// counts is what a user holds: batches, jobs of any kind and changes.
func (h *harness) counts(user string) [3]int {
	h.t.Helper()
	bs, err := h.store.BatchList(h.ctx, jobs.BatchFilter{UserID: user, Individual: true, Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, b := range bs {
		if b.Type == jobs.TypeBatchParent {
			n += len(h.children(user, b.ID))
		}
	}
	cs, err := h.store.ChangesSince(h.ctx, user, 0, 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	return [3]int{len(bs), n, len(cs)}
}

func testIdempotentSubmit(t *testing.T, h *harness) {
	sub := keyedBatch("alice", "retry-1", 3)
	p := h.submit(sub)
	before := h.counts("alice")

	// The same work again, as a retry sends it: another request id and
	// trace, another cap, the input spelled with other spaces.
	again := keyedBatch("alice", "retry-1", 3)
	again.RequestID, again.TraceContext, again.MaxRunning = "req-2", "00-trace-2", 7
	again.Input = json.RawMessage(`{ "target": "ABL1" }`)
	_, err := h.store.Submit(h.ctx, again)
	if j := wantReplay(t, "the same batch again", err, p.ID); j.Type != jobs.TypeBatchParent || j.Name != "screen" {
		t.Fatalf("replayed %s %q, want the batch parent", j.Type, j.Name)
	}
	if got := h.counts("alice"); got != before {
		t.Fatalf("after a replay: batches, children, changes = %v, want %v", got, before)
	}

	// Other work under a used key is refused and stores nothing.
	for name, change := range map[string]func(*jobs.Submission){
		"another ligand":  func(s *jobs.Submission) { s.Children[2].Input = ligand(9) },
		"a ligand less":   func(s *jobs.Submission) { s.Children = s.Children[:2] },
		"another name":    func(s *jobs.Submission) { s.Name = "other" },
		"another target":  func(s *jobs.Submission) { s.Input = json.RawMessage(`{"target":"EGFR"}`) },
		"another webhook": func(s *jobs.Submission) { s.Webhook.Secret = "fedcba9876543210" },
		"another model":   func(s *jobs.Submission) { s.Model = "boltz2" },
		"a single job": func(s *jobs.Submission) {
			s.Children, s.Webhook, s.Input = nil, nil, json.RawMessage(`{"smiles":"CCO"}`)
		},
	} {
		s := keyedBatch("alice", "retry-1", 3)
		change(&s)
		_, err := h.store.Submit(h.ctx, s)
		wantCode(t, name+" under a used key", err, jobs.ErrConflict)
		var je *jobs.Error
		if errors.As(err, &je); je.Field != jobs.IdempotencyField {
			t.Fatalf("%s: conflict %v names field %q, want %q", name, err, je.Field, jobs.IdempotencyField)
		}
		if got := h.counts("alice"); got != before {
			t.Fatalf("after %s was refused: %v, want %v", name, got, before)
		}
	}

	// Keys are the user's own: another user's key of the same name is
	// another submission, and does not reveal alice's.
	q := h.submit(keyedBatch("bob", "retry-1", 3))
	if q.ID == p.ID || q.UserID != "bob" {
		t.Fatalf("bob's submission answered %s of %s", q.ID, q.UserID)
	}
	// Another key is another submission of the same work.
	if r := h.submit(keyedBatch("alice", "retry-2", 3)); r.ID == p.ID {
		t.Fatal("another key replayed the first batch")
	}

	// An individual job, replayed in its current status.
	single := jobs.Submission{UserID: "alice", Model: "vina", ModelVersion: "1", Name: "single",
		Input: json.RawMessage(`{"smiles":"CCO"}`), IdempotencyKey: "single-1"}
	j := h.submit(single)
	leased := h.lease("w", "vina")
	if leased.ID != j.ID {
		t.Fatalf("leased %s, want the individual job %s", leased.ID, j.ID)
	}
	_, err = h.store.Submit(h.ctx, single)
	if got := wantReplay(t, "the individual job again", err, j.ID); got.Status != jobs.StatusRunning {
		t.Fatalf("replayed job is %s, want running", got.Status)
	}
	h.complete(leased, `{"affinity":-7}`)
	_, err = h.store.Submit(h.ctx, single)
	if got := wantReplay(t, "the completed job again", err, j.ID); got.Status != jobs.StatusCompleted {
		t.Fatalf("replayed job is %s, want completed", got.Status)
	}

	// Deleting the job frees its key.
	if err := h.store.JobDelete(h.ctx, "alice", j.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if k := h.submit(single); k.ID == j.ID {
		t.Fatalf("a freed key replayed the deleted job %s", j.ID)
	}
}

func testIdempotentSubmitConcurrent(t *testing.T, h *harness) {
	const tries, n = 8, 50
	var wg sync.WaitGroup
	ids := make([]string, tries)
	errs := make([]error, tries)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := keyedBatch("alice", "burst", n)
			sub.RequestID = fmt.Sprintf("req-%d", i)
			j, err := h.store.Submit(h.ctx, sub)
			if j != nil {
				ids[i] = j.ID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	first := ""
	for i, err := range errs {
		if err == nil {
			if first != "" {
				t.Fatalf("two batches under one key: %s and %s", first, ids[i])
			}
			first = ids[i]
		}
	}
	if first == "" {
		t.Fatalf("no submission recorded: %v", errs)
	}
	for _, err := range errs {
		if err != nil {
			wantReplay(t, "a concurrent repeat", err, first)
		}
	}
	if got := h.counts("alice"); got[0] != 1 || got[1] != n {
		t.Fatalf("batches, children = %d, %d; want 1, %d", got[0], got[1], n)
	}
	// Each child runs once.
	for range n {
		h.complete(h.lease("w", "vina"), `{}`)
	}
	_, err := h.store.JobLease(h.ctx, jobs.LeaseParams{Owner: "w", Models: []string{"vina"}, TTL: ttl})
	wantCode(t, "lease after every child ran", err, jobs.ErrNoWork)
}
