package firestore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"omtx/jobs"
	"omtx/jobs/firestore/firestoretest"
	"omtx/jobs/jobstest"
	"omtx/jobs/storetest"
)

// These tests reach inside the store to stop work half way, as a crash
// would. TestMain (firestore_test.go) starts the emulator or skips.

const testTTL = 30 * time.Second

// TestProject is testProject for the black-box tests.
var TestProject = testProject

func openTest(t *testing.T, project string, clock jobs.Clock, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), project, jobs.Config{Clock: clock}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func batchOf(user string, n int) jobs.Submission {
	sub := jobs.Submission{UserID: user, Model: "vina", Name: "screen", MaxAttempts: jobs.DefaultMaxAttempts,
		Input: json.RawMessage(`{"target":"ABL1"}`)}
	for i := 0; i < n; i++ {
		sub.Children = append(sub.Children, jobs.ChildSubmission{Name: fmt.Sprintf("lig-%d", i), Input: json.RawMessage(`{"smiles":"C"}`)})
	}
	return sub
}

func (s *Store) countChildren(t *testing.T, batchID string) int {
	t.Helper()
	docs, err := s.jobsCol().Where("batch_id", "==", batchID).Where("type", "==", string(jobs.TypeBatchChild)).
		Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(docs)
}

// A batch whose children are written but whose parent was never shown
// (the hub died) is seen by no reader, and JobRescue removes it once it is
// stale.
func TestSubmitHiddenUntilShown(t *testing.T) {
	ctx := context.Background()
	clock := jobstest.NewClock(storetest.Start)
	s := openTest(t, testProject(t), clock, Options{ProgressShards: 2})
	sub := batchOf("alice", 5)
	id := newID()
	parent, err := s.createHidden(ctx, id, sub, s.now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.writeChildren(ctx, id, parent, sub, nil, s.now()); err != nil {
		t.Fatal(err)
	}
	kids, err := s.jobsCol().Where("batch_id", "==", id).Where("type", "==", string(jobs.TypeBatchChild)).Documents(ctx).GetAll()
	if err != nil || len(kids) != 5 {
		t.Fatalf("children written: %d, %v", len(kids), err)
	}
	if _, err := s.BatchGet(ctx, "alice", id); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("hidden batch: %v", err)
	}
	if _, err := s.JobGet(ctx, "alice", kids[0].Ref.ID); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("child of a hidden batch: %v", err)
	}
	if l, err := s.JobList(ctx, jobs.JobFilter{UserID: "alice"}); err != nil || len(l) != 0 {
		t.Fatalf("jobs: %d, %v", len(l), err)
	}
	if l, err := s.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: id}); err != nil || len(l) != 0 {
		t.Fatalf("children: %d, %v", len(l), err)
	}
	if l, err := s.BatchList(ctx, jobs.BatchFilter{UserID: "alice", Individual: true}); err != nil || len(l) != 0 {
		t.Fatalf("batches: %d, %v", len(l), err)
	}
	if c, err := s.ChangesSince(ctx, "alice", 0, 100); err != nil || len(c) != 0 {
		t.Fatalf("changes: %d, %v", len(c), err)
	}
	if st, err := s.Stats(ctx); err != nil || fmt.Sprintf("%+v", st) != fmt.Sprintf("%+v", jobs.Stats{}) {
		t.Fatalf("stats: %+v, %v", st, err)
	}
	if _, err := s.JobLease(ctx, jobs.LeaseParams{Owner: "w", Models: []string{"vina"}, TTL: testTTL, Finalize: true}); !jobs.IsCode(err, jobs.ErrNoWork) {
		t.Fatalf("lease: %v", err)
	}

	clock.Advance(10*time.Minute - time.Nanosecond)
	if _, err := s.JobRescue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.countChildren(t, id); n != 5 {
		t.Fatalf("a submission in progress was removed: %d children left", n)
	}
	clock.Advance(time.Nanosecond)
	if r, err := s.JobRescue(ctx); err != nil || r != (jobs.Rescued{}) {
		t.Fatalf("rescue: %+v, %v", r, err)
	}
	if n := s.countChildren(t, id); n != 0 {
		t.Fatalf("%d children of the abandoned submission left", n)
	}
	if _, err := s.jobRef(id).Get(ctx); !isNotFound(err) {
		t.Fatalf("parent of the abandoned submission: %v", err)
	}
	if shards, err := s.jobRef(id).Collection("progress").Documents(ctx).GetAll(); err != nil || len(shards) != 0 {
		t.Fatalf("progress of the abandoned submission: %d, %v", len(shards), err)
	}
}

// A cancel cut short after its request: workers stop and nothing more is
// leased at once; JobRescue cancels the rest once the sweep is stale, and
// the batch ends.
func TestCancelSweepResumed(t *testing.T) {
	ctx := context.Background()
	clock := jobstest.NewClock(storetest.Start)
	s := openTest(t, testProject(t), clock, Options{})
	p, err := s.Submit(ctx, batchOf("alice", 5))
	if err != nil {
		t.Fatal(err)
	}
	params := jobs.LeaseParams{Owner: "w", Models: []string{"vina"}, TTL: testTTL}
	l, err := s.JobLease(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.requestCancel(ctx, "alice", p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JobLease(ctx, params); !jobs.IsCode(err, jobs.ErrNoWork) {
		t.Fatalf("lease in a batch being cancelled: %v", err)
	}
	if _, err := s.JobHeartbeat(ctx, *l.Lease, testTTL); !jobs.IsCode(err, jobs.ErrCancelled) {
		t.Fatalf("heartbeat: %v", err)
	}
	b, err := s.BatchGet(ctx, "alice", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status.Final() || b.Progress != (jobs.Progress{Total: 5, Pending: 4, Cancelled: 1}) {
		t.Fatalf("batch before the sweep: %s %+v", b.Status, b.Progress)
	}
	clock.Advance(10 * time.Minute)
	if r, err := s.JobRescue(ctx); err != nil || r != (jobs.Rescued{}) {
		t.Fatalf("rescue: %+v, %v", r, err)
	}
	b, err = s.BatchGet(ctx, "alice", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != jobs.StatusCancelled || b.Finalize != jobs.FinalizePending || b.Progress != (jobs.Progress{Total: 5, Cancelled: 5}) {
		t.Fatalf("batch after the sweep: %s %q %+v", b.Status, b.Finalize, b.Progress)
	}
}

// Two hubs (two Stores, so no lock in common) end one batch's children at
// once: progress stays exact, the batch ends once, and one finalize task
// is handed out. Small: the emulator resolves each collision of two
// transactions by a lock timeout of about 3 s (Firestore itself aborts
// one at once).
func TestTwoHubsOneBatch(t *testing.T) {
	ctx := context.Background()
	clock := jobstest.NewClock(storetest.Start)
	project := testProject(t)
	a := openTest(t, project, clock, Options{ProgressShards: 3})
	b := openTest(t, project, clock, Options{ProgressShards: 3})
	const n = 8
	p, err := a.Submit(ctx, batchOf("alice", n))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, err := s.JobLease(ctx, jobs.LeaseParams{Owner: fmt.Sprint("w", w), Models: []string{"vina"}, TTL: testTTL})
				if jobs.IsCode(err, jobs.ErrNoWork) {
					return
				}
				if err == nil {
					err = s.JobComplete(ctx, *j.Lease, json.RawMessage(`{}`))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := b.BatchGet(ctx, "alice", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Progress != (jobs.Progress{Total: n, Completed: n}) || got.Status != jobs.StatusCompleted || got.Finalize != jobs.FinalizePending {
		t.Fatalf("batch: %s %q %+v", got.Status, got.Finalize, got.Progress)
	}
	if len(got.Milestones) != len(jobs.MilestonePercents) {
		t.Fatalf("milestones: %v", got.Milestones)
	}
	ids := make(chan string, 2)
	for w, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := s.JobLease(ctx, jobs.LeaseParams{Owner: fmt.Sprint("f", w), TTL: testTTL, Finalize: true})
			if err == nil {
				ids <- j.ID
			} else if !jobs.IsCode(err, jobs.ErrNoWork) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(ids)
	if len(ids) != 1 {
		t.Fatalf("%d finalize tasks handed out", len(ids))
	}
	changes, err := a.ChangesSince(ctx, "alice", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ended := 0
	for i, c := range changes {
		if c.Seq != int64(i+1) {
			t.Fatalf("change %d has seq %d", i, c.Seq)
		}
		if c.JobID == p.ID && c.Status == jobs.StatusCompleted {
			ended++
		}
	}
	if ended != 1 {
		t.Fatalf("batch ended %d times", ended)
	}
}

// Ids that cannot name a document name no job; the store answers as for
// any unknown id.
func TestOddIDs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testProject(t), jobstest.NewClock(storetest.Start), Options{})
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "a/b", "..", "__x__", strings.Repeat("x", 2000)} {
		if _, err := s.JobGet(ctx, "alice", id); !jobs.IsCode(err, jobs.ErrNotFound) {
			t.Errorf("get %q: %v", id, err)
		}
		if _, err := s.BatchCancel(ctx, "alice", id); !jobs.IsCode(err, jobs.ErrNotFound) {
			t.Errorf("cancel %q: %v", id, err)
		}
		err := s.JobComplete(ctx, jobs.Lease{JobID: id, Owner: "w", Attempt: 1}, nil)
		if !jobs.IsCode(err, jobs.ErrLeaseLost) {
			t.Errorf("complete %q: %v", id, err)
		}
	}
}

// Open refuses a root that is not a document path.
func TestOpenRejectsBadRoot(t *testing.T) {
	for _, root := range []string{"omtx", "omtx/a/b", "omtx//a", "a/__b__"} {
		if _, err := Open(context.Background(), "demo-omtx-test", jobs.Config{}, Options{Root: root}); err == nil {
			t.Errorf("root %q accepted", root)
		}
	}
}

// testProject is a new emulator project for t, whose documents are
// deleted when t ends.
func testProject(t *testing.T) string {
	t.Helper()
	firestoretest.Require(t)
	project := firestoretest.Project(t)
	t.Cleanup(func() {
		if err := firestoretest.Wipe(context.Background(), os.Getenv(firestoretest.EnvHost), project); err != nil {
			t.Error(err)
		}
	})
	return project
}
