package resultstest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"gocloud.dev/blob/memblob"

	"omtx/jobs"
	"omtx/jobs/jobstest"
	"omtx/results"
	"omtx/results/resultstest"
)

// TestFaultBucket checks the faults themselves, through results.Store: a
// failed or timed-out write leaves no object, a write with a lost reply
// leaves the whole object and is counted, and a faulted read stops part
// way with an error.
func TestFaultBucket(t *testing.T) {
	ctx := context.Background()
	faults := jobstest.NewFaults(7, 1)
	fb := resultstest.NewFaultBucket(memblob.OpenBucket(nil), faults)
	res := results.NewStore(fb.Bucket())
	defer res.Close()
	seen := map[jobstest.Fault]int{}
	for i := range 60 {
		key := fmt.Sprintf("jobs/j%d/results.json", i)
		err := res.PutJSON(ctx, key, map[string]int{"i": i})
		var ie *jobstest.InjectedError
		if !errors.As(err, &ie) {
			t.Fatalf("write %d: %v, want an injected fault", i, err)
		}
		seen[ie.Fault]++
		faults.SetEnabled(false)
		rc, gerr := res.Get(ctx, key)
		switch ie.Fault {
		case jobstest.Lost:
			if gerr != nil || fb.Writes(key) != 1 {
				t.Fatalf("write %d with a lost reply: object %v, %d writes counted", i, gerr, fb.Writes(key))
			}
			body, _ := io.ReadAll(rc)
			rc.Close()
			if want := fmt.Sprintf("{\n  \"i\": %d\n}\n", i); string(body) != want {
				t.Fatalf("write %d landed as %q", i, body)
			}
		default:
			if !jobs.IsCode(gerr, jobs.ErrNotFound) || fb.Writes(key) != 0 {
				t.Fatalf("write %d with %s: object %v, %d writes counted; want none", i, ie.Fault, gerr, fb.Writes(key))
			}
		}
		if ie.Fault == jobstest.Timeout && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("an injected timeout is not a deadline: %v", err)
		}
		faults.SetEnabled(true)
	}
	if seen[jobstest.Fail] == 0 || seen[jobstest.Timeout] == 0 || seen[jobstest.Lost] == 0 {
		t.Fatalf("faults injected: %v; want every kind", seen)
	}

	faults.SetEnabled(false)
	body := strings.Repeat("x", 4096)
	if err := res.Put(ctx, "big.txt", strings.NewReader(body), ""); err != nil {
		t.Fatal(err)
	}
	faults.SetEnabled(true)
	rc, err := res.Get(ctx, "big.txt")
	if err == nil {
		got, rerr := io.ReadAll(rc)
		rc.Close()
		if rerr == nil || len(got) >= len(body) {
			t.Fatalf("faulted read returned %d of %d bytes, %v; want part and an error", len(got), len(body), rerr)
		}
	} else if !jobstest.IsInjected(err) {
		t.Fatalf("faulted read: %v", err)
	}
}
