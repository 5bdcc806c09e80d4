package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob/memblob"

	"omtx/jobs"
	"omtx/jobs/jobstest"
	"omtx/jobs/sqlite"
	"omtx/results"
	"omtx/results/resultstest"
)

// TestSubmitUnderFaults submits batches through the service over a store
// and a bucket that inject faults (errors, timeouts, writes that land
// while the caller is told they failed) into a fifth of their calls, the
// caller retrying each submission until it is answered. No batch is ever
// partial; every answered batch is there, running, with its start files;
// and a batch the caller was not answered for is either cancelled (the
// service could not write its files) or comes from a submission that
// landed while it reported a failure, or from a cancel that did not land:
// exactly those, so without an idempotency key a retry after an ambiguous
// failure doubles a submission. With a key (the caller's retries send the
// same one, and a new one only when told the key's batch was cancelled)
// nothing is doubled: every batch stored is answered or cancelled.
func TestSubmitUnderFaults(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		for _, seed := range []uint64{1, 2, 3} {
			t.Run(fmt.Sprintf("keyed=%v/seed%d", keyed, seed), func(t *testing.T) {
				t.Parallel()
				submitUnderFaults(t, seed, keyed)
			})
		}
	}
}

func submitUnderFaults(t *testing.T, seed uint64, keyed bool) {
	ctx := context.Background()
	clock := jobstest.NewClock(t0)
	inner, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jobs.db"), jobs.Config{Clock: clock}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	faults := jobstest.NewFaults(seed, 0.2)
	store := jobstest.NewFaultStore(inner, faults)
	bucket := resultstest.NewFaultBucket(memblob.OpenBucket(nil), faults)
	res := results.NewStore(bucket.Bucket())
	t.Cleanup(func() { res.Close() })
	svc, err := New(Config{Store: store, Results: res, Models: newRegistry(t), Accept: []string{"vina"}, Clock: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}

	const submissions = 40
	answered := map[string]string{} // batch -> job name
	tries, replays, newKeys := 0, 0, 0
	for i := range submissions {
		req := vinaBatch(library...)
		req.JobName = fmt.Sprintf("screen %02d", i)
		c := caller
		if keyed {
			c.IdempotencyKey = fmt.Sprintf("screen-%02d", i)
		}
		for try := 0; ; try++ {
			if try == 30 {
				t.Fatalf("seed %d: %s not answered after 30 tries; %s", seed, req.JobName, faults)
			}
			tries++
			r, err := svc.SubmitBatch(ctx, c, req)
			if err == nil {
				if _, twice := answered[r.BatchID]; twice {
					t.Fatalf("seed %d: batch %s answered for two submissions", seed, r.BatchID)
				}
				answered[r.BatchID] = req.JobName
				if r.Replayed {
					replays++
				}
				break
			}
			var je *jobs.Error
			if keyed && errors.As(err, &je) && je.Code == jobs.ErrConflict && je.Field == jobs.IdempotencyField {
				newKeys++
				c.IdempotencyKey = fmt.Sprintf("screen-%02d-%d", i, try)
				continue
			}
			if !jobstest.IsInjected(err) && !errorsFromFault(err) {
				t.Fatalf("seed %d: %s: an error no fault explains: %v", seed, req.JobName, err)
			}
		}
	}
	faults.SetEnabled(false)

	all, err := inner.BatchList(ctx, jobs.BatchFilter{UserID: caller.UserID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, b := range all {
		kids, err := inner.JobList(ctx, jobs.JobFilter{UserID: caller.UserID, BatchID: b.ID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(kids) != len(library) || b.Progress.Total != len(library) {
			t.Errorf("seed %d: batch %s (%s) is partial: %d children, progress %+v", seed, b.ID, b.Name, len(kids), b.Progress)
		}
		name, ok := answered[b.ID]
		switch {
		case ok:
			if b.Status != jobs.StatusPending || b.CancelRequested || b.Progress.Pending != len(library) {
				t.Errorf("seed %d: answered batch %s (%s) is %s (cancel %v), progress %+v", seed, b.ID, name, b.Status, b.CancelRequested, b.Progress)
			}
			for _, f := range []string{results.FileBatchIndex, results.FileBatchMetadata} {
				if _, err := res.Size(ctx, results.BatchDir(b.ID)+"/"+f); err != nil {
					t.Errorf("seed %d: answered batch %s (%s): %v", seed, b.ID, name, err)
				}
			}
		case b.Status == jobs.StatusCancelled:
		default:
			live++
		}
	}
	if len(answered) != submissions {
		t.Fatalf("seed %d: %d batches answered, want %d", seed, len(answered), submissions)
	}
	// Unanswered batches that stay live: a submission that landed while
	// the caller saw an error, or a cancel of a batch without files that
	// did not land.
	hidden := faults.Hidden("Submit")
	lostCancels := faults.Calls("BatchCancel") - faults.Landed("BatchCancel")
	switch {
	case keyed && live != 0:
		t.Errorf("seed %d: %d unanswered batches are live under idempotency keys; %d submissions landed unseen and %d cancels did not land",
			seed, live, hidden, lostCancels)
	case !keyed && live != hidden+lostCancels:
		t.Errorf("seed %d: %d unanswered batches are live; %d submissions landed unseen and %d cancels did not land", seed, live, hidden, lostCancels)
	}
	t.Logf("seed %d keyed %v: %d submissions answered in %d tries (%d replays, %d new keys); %d batches stored: %d answered, %d cancelled for want of files, %d live and unanswered (%d submits landed unseen, %d cancels lost); %s",
		seed, keyed, submissions, tries, replays, newKeys, len(all), len(answered), len(all)-len(answered)-live, live, hidden, lostCancels, faults)
}

// errorsFromFault reports whether a submission error comes from an
// injected fault the service reported in its own words (it formats the
// cause of a batch without files with %v, so only the text tells).
func errorsFromFault(err error) bool {
	return strings.Contains(err.Error(), "injected fault")
}
