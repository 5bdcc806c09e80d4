package firestore

import (
	"context"
	"errors"
	"sync"
	"testing"

	"omtx/jobs"
	"omtx/jobs/jobstest"
	"omtx/jobs/storetest"
)

// endBatch cancels a batch and completes its finalize task, so that it may
// be deleted.
func endBatch(t *testing.T, s *Store, userID, batchID string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.BatchCancel(ctx, userID, batchID); err != nil {
		t.Fatal(err)
	}
	f, err := s.JobLease(ctx, jobs.LeaseParams{Owner: "f", TTL: testTTL, Finalize: true})
	if err != nil || f.ID != batchID {
		t.Fatalf("finalize lease: %v, %v", f, err)
	}
	if err := s.JobComplete(ctx, *f.Lease, nil); err != nil {
		t.Fatal(err)
	}
}

// replayOf asserts that err replays the submission recorded as id.
func replayOf(t *testing.T, what string, err error, id string) {
	t.Helper()
	var se *jobs.SubmittedError
	if !errors.As(err, &se) || se.Job.ID != id {
		t.Fatalf("%s: %v, want a replay of %s", what, err, id)
	}
}

// A batch's delete frees its key at its first step: a batch whose delete
// was cut short (hidden, its children still there) answers no replay, the
// key records a new batch, and finishing the old delete leaves the new
// batch's key alone.
func TestBatchDeleteFreesKey(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testProject(t), jobstest.NewClock(storetest.Start), Options{ProgressShards: 2})
	sub := batchOf("alice", 3)
	sub.IdempotencyKey = "k"
	old, err := s.Submit(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	endBatch(t, s, "alice", old.ID)
	if err := s.hideForDelete(ctx, "alice", old.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.keyRef("alice", "k").Get(ctx); !isNotFound(err) {
		t.Fatalf("key of a batch being deleted: %v", err)
	}
	renewed, err := s.Submit(ctx, sub)
	if err != nil || renewed.ID == old.ID {
		t.Fatalf("submit under the key of a batch being deleted: %v, %v", renewed, err)
	}
	if err := s.purge(ctx, "alice", old.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Submit(ctx, sub)
	replayOf(t, "after the old delete ended", err, renewed.ID)

	endBatch(t, s, "alice", renewed.ID)
	if err := s.BatchDelete(ctx, "alice", renewed.ID); err != nil {
		t.Fatal(err)
	}
	if third, err := s.Submit(ctx, sub); err != nil || third.ID == renewed.ID {
		t.Fatalf("submit after the delete: %v, %v", third, err)
	}
}

// A key whose document names a job that is gone (its submitter saw an
// error although the commit went through, and removed it) holds nothing.
func TestStaleKeyHoldsNothing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testProject(t), jobstest.NewClock(storetest.Start), Options{})
	sub := batchOf("alice", 2)
	sub.IdempotencyKey = "k"
	b, err := s.Submit(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.purge(ctx, "alice", b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.keyRef("alice", "k").Get(ctx); err != nil {
		t.Fatalf("the stale key is gone: %v", err)
	}
	c, err := s.Submit(ctx, sub)
	if err != nil || c.ID == b.ID {
		t.Fatalf("submit under a stale key: %v, %v", c, err)
	}
	_, err = s.Submit(ctx, sub)
	replayOf(t, "the new batch again", err, c.ID)
}

// Two hubs (two Stores, so no lock in common) submit under one key at
// once: Firestore's transactions let one record it, and the other
// replays it.
func TestTwoHubsOneKey(t *testing.T) {
	ctx := context.Background()
	project := testProject(t)
	clock := jobstest.NewClock(storetest.Start)
	hubs := []*Store{openTest(t, project, clock, Options{}), openTest(t, project, clock, Options{})}
	sub := batchOf("alice", 3)
	sub.IdempotencyKey = "k"
	ids := make([]string, len(hubs))
	errs := make([]error, len(hubs))
	var wg sync.WaitGroup
	for i, s := range hubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := s.Submit(ctx, sub)
			if j != nil {
				ids[i] = j.ID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	switch {
	case errs[0] == nil && errs[1] == nil:
		t.Fatalf("two batches under one key: %s and %s", ids[0], ids[1])
	case errs[0] == nil:
		replayOf(t, "hub 2", errs[1], ids[0])
	case errs[1] == nil:
		replayOf(t, "hub 1", errs[0], ids[1])
	default:
		t.Fatalf("nothing recorded: %v; %v", errs[0], errs[1])
	}
	bs, err := hubs[0].BatchList(ctx, jobs.BatchFilter{UserID: "alice", Limit: 10})
	if err != nil || len(bs) != 1 {
		t.Fatalf("batches: %d, %v", len(bs), err)
	}
}
