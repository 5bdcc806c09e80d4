package gpu_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"omtx/gpu"
	"omtx/jobs"
	"omtx/jobs/jobstest"
	"omtx/jobs/sqlite"
	"omtx/results"
	"omtx/results/resultstest"
)

// quickModel is an in-process test adapter: it writes a small file into
// the task's folder and scores the ligand by its SMILES length.
type quickModel struct{ runs atomic.Int32 }

func (m *quickModel) Info() gpu.Info {
	return gpu.Info{Name: "quick", Version: "1", Resource: gpu.CPU, Ligands: true,
		Metrics: []results.Metric{{Name: "score", Label: "Score", Unit: "chars", Better: results.LowerIsBetter, Primary: true}}}
}
func (m *quickModel) Check(context.Context) error { return nil }
func (m *quickModel) Validate(gpu.Input) error    { return nil }

func (m *quickModel) Run(ctx context.Context, t gpu.Task) (*gpu.Output, error) {
	m.runs.Add(1)
	out := filepath.Join(t.Dir, "pose.txt")
	if err := os.WriteFile(out, []byte(t.Ligand.SMILES+"\n"), 0o644); err != nil {
		return nil, err
	}
	return &gpu.Output{Metrics: map[string]float64{"score": float64(len(t.Ligand.SMILES))}, Files: map[string]string{"pose.txt": out}}, nil
}

// TestRunnerUnderFaults drives real runners over a SQLite store and a
// bucket that both inject faults into 8% of their calls: errors, timeouts,
// and writes that land while the caller is told they failed (a lease the
// runner never hears of, a completion it thinks failed, a file written
// but reported lost). Leases that are never completed expire (the test
// moves the clock) and are rescued. Nothing is lost: every child
// completes; nothing is doubled: each completes exactly once in the store
// and in the change feed, with the files of the attempt that completed it,
// no attempt writes its results twice, and the batch is finalized once.
func TestRunnerUnderFaults(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			runUnderFaults(t, seed, 150)
		})
	}
}

// faultRig is a batch of quick jobs over a SQLite store and a memory
// bucket, both wrapped to inject faults.
type faultRig struct {
	seed   uint64
	n      int
	inner  *sqlite.Store
	store  *jobstest.FaultStore
	bucket *resultstest.FaultBucket
	res    *results.Store
	faults *jobstest.Faults
	model  *quickModel
	reg    *gpu.Registry
	batch  string
	smiles map[string]string
}

func newFaultRig(t *testing.T, seed uint64, n int, rate float64, clock jobs.Clock, retry jobs.RetryPolicy) *faultRig {
	t.Helper()
	ctx := context.Background()
	inner, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jobs.db"), jobs.Config{Clock: clock, Retry: retry}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	faults := jobstest.NewFaults(seed, rate)
	bucket := resultstest.NewFaultBucket(memblob.OpenBucket(nil), faults)
	res := results.NewStore(bucket.Bucket())
	t.Cleanup(func() { res.Close() })
	m := &quickModel{}
	rig := &faultRig{seed: seed, n: n, inner: inner, store: jobstest.NewFaultStore(inner, faults), bucket: bucket, res: res,
		faults: faults, model: m, reg: gpu.NewRegistry(m), smiles: map[string]string{}}
	var children []jobs.ChildSubmission
	for i := range n {
		s := strings.Repeat("C", 1+i%30) + "O" + strings.Repeat("N", i/30)
		name := fmt.Sprintf("lig%03d", i)
		rig.smiles[name] = s
		in, _ := json.Marshal(gpu.Ligand{Name: name, SMILES: s})
		children = append(children, jobs.ChildSubmission{Name: name, Input: in})
	}
	// Transient faults are retried; enough attempts that none fails for
	// good at these rates.
	p, err := inner.Submit(ctx, jobs.Submission{UserID: "alice", Model: "quick", ModelVersion: "1", Name: "under faults",
		Input: json.RawMessage(`{"protein_name":"ABL1"}`), Children: children, MaxAttempts: 30})
	if err != nil {
		t.Fatal(err)
	}
	rig.batch = p.ID
	return rig
}

func (r *faultRig) runner(t *testing.T, i int, clock jobs.Clock, ttl time.Duration) *gpu.Runner {
	t.Helper()
	run, err := gpu.NewRunner(gpu.RunnerConfig{Store: r.store, Results: r.res, Registry: r.reg, Clock: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Owner: fmt.Sprintf("worker-%d", i), WorkDir: t.TempDir(), LeaseTTL: ttl,
		Idle: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// finished reports whether the batch's finalize task has ended.
func (r *faultRig) finished(t *testing.T) bool {
	b, err := r.inner.BatchGet(context.Background(), "alice", r.batch)
	if err != nil {
		t.Fatal(err)
	}
	return b.Finalize == jobs.FinalizeDone || b.Finalize == jobs.FinalizeFailed
}

func (r *faultRig) state(t *testing.T) string {
	b, _ := r.inner.BatchGet(context.Background(), "alice", r.batch)
	return fmt.Sprintf("%s %+v finalize %q (%s); %s", b.Status, b.Progress, b.Finalize, b.Error, r.faults)
}

func runUnderFaults(t *testing.T, seed uint64, n int) {
	ctx := context.Background()
	clock := jobstest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	retry := jobs.ExponentialRetry{Base: time.Second, Max: 10 * time.Second}
	rig := newFaultRig(t, seed, n, 0.08, clock, retry)
	const ttl = time.Minute // of the store's clock; the test moves it
	runners := []*gpu.Runner{rig.runner(t, 0, clock, ttl), rig.runner(t, 1, clock, ttl)}
	// The runners take turns; when neither finds work, time moves past
	// every lease and backoff and a rescue pass returns what was left.
	errs := 0
	for i := 0; ; i++ {
		if i > 50*n {
			t.Fatalf("seed %d: the batch did not finish in %d turns: %s", seed, i, rig.state(t))
		}
		worked, err := runners[i%2].Once(ctx)
		if err != nil {
			errs++
		}
		if worked {
			continue
		}
		if rig.finished(t) {
			break
		}
		clock.Advance(ttl + retry.Max)
		rig.store.JobRescue(ctx) // may itself be faulted: then the next pass does it
	}
	rig.check(t, fmt.Sprintf("%d runner errors", errs))
}

// TestRunnersUnderFaultsConcurrently runs four runners at once, with a
// rescuer, in real time with short leases, over the same faulty store and
// bucket: leases expire under working runners and are taken over, and
// heartbeats and completions race with rescues. The same guarantees hold.
func TestRunnersUnderFaultsConcurrently(t *testing.T) {
	for _, seed := range []uint64{11, 12} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rig := newFaultRig(t, seed, 150, 0.05, jobs.SystemClock{}, jobs.ExponentialRetry{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for i := range 4 {
				r := rig.runner(t, i, jobs.SystemClock{}, 300*time.Millisecond)
				wg.Go(func() { r.Run(ctx) })
			}
			wg.Go(func() {
				gpu.Rescue(ctx, gpu.RescueConfig{Store: rig.store, Every: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			})
			deadline := time.Now().Add(time.Minute)
			for !rig.finished(t) {
				if time.Now().After(deadline) {
					cancel()
					wg.Wait()
					t.Fatalf("seed %d: the batch did not finish in a minute: %s", seed, rig.state(t))
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			wg.Wait()
			rig.check(t, "concurrent")
		})
	}
}

// check proves nothing lost and nothing doubled: see TestRunnerUnderFaults.
func (r *faultRig) check(t *testing.T, note string) {
	t.Helper()
	ctx := context.Background()
	seed, n := r.seed, r.n
	r.faults.SetEnabled(false)
	b, err := r.inner.BatchGet(ctx, "alice", r.batch)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != jobs.StatusCompleted || b.Finalize != jobs.FinalizeDone || b.Progress != (jobs.Progress{Total: n, Completed: n}) {
		t.Fatalf("seed %d: batch %s, finalize %q (%s), progress %+v; want every child completed and the batch finalized", seed, b.Status, b.Finalize, b.Error, b.Progress)
	}
	if got := r.store.Completions(r.batch); got != 1 {
		t.Errorf("seed %d: the batch's finalize task completed %d times, want 1", seed, got)
	}
	var changes []jobs.Change
	for {
		var since int64
		if len(changes) > 0 {
			since = changes[len(changes)-1].Seq
		}
		page, err := r.inner.ChangesSince(ctx, "alice", since, 1000)
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, page...)
		if len(page) < 1000 {
			break
		}
	}
	completedChanges := map[string]int{}
	for _, c := range changes {
		if c.Type == jobs.TypeBatchChild && c.Status == jobs.StatusCompleted {
			completedChanges[c.JobID]++
		}
	}
	kids, err := r.inner.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: r.batch, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for _, k := range kids {
		attempts += k.Attempt
		if got := r.store.Completions(k.ID); got != 1 {
			t.Errorf("seed %d: child %s completed %d times in the store, want 1", seed, k.Name, got)
		}
		if got := completedChanges[k.ID]; got != 1 {
			t.Errorf("seed %d: child %s has %d completed changes, want 1", seed, k.Name, got)
		}
		dir := results.JobDir(r.batch, k.ID)
		// Each attempt that reached the store step writes results.json at
		// most once.
		if w := r.bucket.Writes(dir + "/results.json"); w < 1 || w > k.Attempt {
			t.Errorf("seed %d: child %s: results.json written %d times in %d attempts", seed, k.Name, w, k.Attempt)
		}
		var meta struct {
			Attempt int `json:"attempt"`
		}
		if err := json.Unmarshal([]byte(readKey(t, r.res, dir+"/metadata.json")), &meta); err != nil {
			t.Fatalf("seed %d: child %s metadata.json: %v", seed, k.Name, err)
		}
		if meta.Attempt != k.Attempt {
			t.Errorf("seed %d: child %s: the files are of attempt %d, the store completed attempt %d", seed, k.Name, meta.Attempt, k.Attempt)
		}
		var sum results.JobSummary
		if err := json.Unmarshal(k.Result, &sum); err != nil || sum.Metrics["score"] != float64(len(r.smiles[k.Name])) {
			t.Errorf("seed %d: child %s result %s (%v)", seed, k.Name, k.Result, err)
		}
		if got := readKey(t, r.res, dir+"/pose.txt"); got != r.smiles[k.Name]+"\n" {
			t.Errorf("seed %d: child %s pose.txt %q", seed, k.Name, got)
		}
	}
	rows, err := csv.NewReader(strings.NewReader(readKey(t, r.res, "batches/"+r.batch+"/results/batch_results.csv"))).ReadAll()
	if err != nil || len(rows) != n+1 {
		t.Fatalf("seed %d: batch_results.csv: %d rows, want %d (%v)", seed, len(rows)-1, n, err)
	}
	if r.faults.Injected() < n/3 {
		t.Errorf("seed %d: only %d faults injected; the test proves little", seed, r.faults.Injected())
	}
	t.Logf("seed %d (%s): %d children completed once each in %d attempts (%d engine runs), finalized once in %d attempts; %s",
		seed, note, n, attempts, r.model.runs.Load(), b.Attempt, r.faults)
}

func readKey(t *testing.T, res *results.Store, key string) string {
	t.Helper()
	rc, err := res.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(body)
}
