package gpu_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"omtx/gpu"
	"omtx/jobs"
	"omtx/jobs/jobstest"
	"omtx/jobs/sqlite"
	"omtx/results"
)

// scriptModel is a model adapter that exists only in tests: its "engine"
// is a shell script run as a real child process through the task's
// executor. Its score is the length of the ligand's SMILES, so results
// are checkable.
type scriptModel struct {
	script string
	runs   atomic.Int32 // engine processes started
}

func (m *scriptModel) Info() gpu.Info {
	return gpu.Info{Name: "script", Version: "1", Resource: gpu.CPU, Ligands: true,
		Metrics: []results.Metric{{Name: "score", Label: "Score", Unit: "chars", Better: results.LowerIsBetter, Primary: true}}}
}
func (m *scriptModel) Check(context.Context) error { return nil }
func (m *scriptModel) Validate(gpu.Input) error    { return nil }

func (m *scriptModel) Run(ctx context.Context, t gpu.Task) (*gpu.Output, error) {
	m.runs.Add(1)
	err := t.Exec.Run(ctx, gpu.Cmd{Path: "/bin/sh", Args: []string{"-c", m.script}, Dir: t.Dir,
		Env: []string{"SMILES=" + t.Ligand.SMILES}})
	if err != nil {
		if strings.Contains(t.Ligand.SMILES, "permanent") {
			return nil, gpu.Permanent(err)
		}
		return nil, err
	}
	return readScore(t.Dir)
}

func readScore(dir string) (*gpu.Output, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "score.txt"))
	if err != nil {
		return nil, err
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	if err != nil {
		return nil, err
	}
	return &gpu.Output{Metrics: map[string]float64{"score": v}, Details: map[string]any{"note": "test"},
		Files: map[string]string{"structure.cif": filepath.Join(dir, "structure.cif")}}, nil
}

const scoreScript = `echo "engine running on $SMILES"; printf '%s' "$SMILES" | wc -c > score.txt; echo "data_test" > structure.cif`

type env struct {
	store   jobs.Store
	results *results.Store
	clock   *jobstest.Clock
	work    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	clock := jobstest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jobs.db"), jobs.Config{Clock: clock}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	res, err := results.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return &env{store: store, results: res, clock: clock, work: t.TempDir()}
}

func (e *env) runner(t *testing.T, m gpu.Model, mod func(*gpu.RunnerConfig)) *gpu.Runner {
	t.Helper()
	cfg := gpu.RunnerConfig{Store: e.store, Results: e.results, Registry: gpu.NewRegistry(m), Clock: e.clock,
		Owner: "test-worker", WorkDir: e.work, LeaseTTL: 300 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	r, err := gpu.NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) submit(t *testing.T, model string, smiles ...string) *jobs.Job {
	t.Helper()
	var children []jobs.ChildSubmission
	for i, s := range smiles {
		in, _ := json.Marshal(gpu.Ligand{Name: fmt.Sprintf("lig%d", i), SMILES: s})
		children = append(children, jobs.ChildSubmission{Name: fmt.Sprintf("lig%d", i), Input: in})
	}
	p, err := e.store.Submit(context.Background(), jobs.Submission{UserID: "alice", Model: model, ModelVersion: "1", Name: "screen",
		Input: json.RawMessage(`{"protein_name":"ABL1","target":"ABL1"}`), Children: children})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func drain(t *testing.T, r *gpu.Runner) {
	t.Helper()
	for i := 0; i < 100; i++ {
		worked, err := r.Once(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !worked {
			return
		}
	}
	t.Fatal("runner never ran out of work")
}

func (e *env) read(t *testing.T, key string) string {
	t.Helper()
	rc, err := e.results.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunnerBatchEndToEnd(t *testing.T) {
	e := newEnv(t)
	m := &scriptModel{script: scoreScript}
	p := e.submit(t, "script", "CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O")
	drain(t, e.runner(t, m, nil))

	ctx := context.Background()
	b, err := e.store.BatchGet(ctx, "alice", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != jobs.StatusCompleted || b.Progress.Completed != 3 || b.Finalize != jobs.FinalizeDone {
		t.Fatalf("batch %s %+v finalize %q", b.Status, b.Progress, b.Finalize)
	}
	kids, _ := e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: p.ID})
	for i, k := range kids {
		var sum results.JobSummary
		if err := json.Unmarshal(k.Result, &sum); err != nil {
			t.Fatal(err)
		}
		want := float64(len([]string{"CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O"}[i]))
		if sum.Metrics["score"] != want || sum.Primary != "score" {
			t.Fatalf("child %d summary %+v, want score %v", i, sum, want)
		}
		dir := results.JobDir(p.ID, k.ID)
		if got := e.read(t, dir+"/structure.cif"); got != "data_test\n" {
			t.Fatalf("structure.cif = %q", got)
		}
		var res struct {
			Metrics []gpu.MetricValue `json:"metrics"`
			Ligand  gpu.Ligand        `json:"ligand"`
		}
		if err := json.Unmarshal([]byte(e.read(t, dir+"/results.json")), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Metrics) != 1 || res.Metrics[0].Value != want || res.Metrics[0].Better != results.LowerIsBetter || res.Ligand.Name != k.Name {
			t.Fatalf("results.json %+v", res)
		}
		if logs := e.read(t, dir+"/logs.txt"); !strings.Contains(logs, "$ /bin/sh -c") || !strings.Contains(logs, "engine running on") {
			t.Fatalf("logs.txt = %q", logs)
		}
		var meta map[string]any
		if err := json.Unmarshal([]byte(e.read(t, dir+"/metadata.json")), &meta); err != nil || meta["worker"] != "test-worker" {
			t.Fatalf("metadata.json %v, %v", meta, err)
		}
	}
	csv := e.read(t, "batches/"+p.ID+"/results/batch_results.csv")
	if strings.Count(csv, "\n") != 4 {
		t.Fatalf("batch_results.csv:\n%s", csv)
	}
	if m.runs.Load() != 3 {
		t.Fatalf("engine ran %d times", m.runs.Load())
	}
}

// runUntilEngineStarts starts the runner on one job and waits for the
// engine's pid file.
func runUntilEngineStarts(t *testing.T, r *gpu.Runner, pidFile string) (<-chan error, int) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := r.Once(context.Background())
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		raw, err := os.ReadFile(pidFile)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && perr == nil && pid > 0 {
			return done, pid
		}
		select {
		case err := <-done:
			t.Fatalf("runner returned before the engine started: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("engine never started")
	return nil, 0
}

// processGone reports whether pid has exited: no such process, or a zombie
// waiting for whoever inherited it to reap it.
func processGone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func TestRunnerStopsEngineOnCancelAndLostLease(t *testing.T) {
	for _, how := range []string{"cancel", "lease lost"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t)
			pidFile := filepath.Join(t.TempDir(), "engine.pid")
			// The engine's own child (sleep) must die too: the whole group goes.
			m := &scriptModel{script: fmt.Sprintf(`sleep 60 & echo $! > %s; wait`, pidFile)}
			p := e.submit(t, "script", "CCO")
			done, pid := runUntilEngineStarts(t, e.runner(t, m, nil), pidFile)
			kids, _ := e.store.JobList(context.Background(), jobs.JobFilter{UserID: "alice", BatchID: p.ID})
			if how == "cancel" {
				if _, err := e.store.BatchCancel(context.Background(), "alice", p.ID); err != nil {
					t.Fatal(err)
				}
			} else {
				e.clock.Advance(time.Hour)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("runner did not stop the engine")
			}
			// SIGKILL reaches the group at once; give the kernel a moment.
			for end := time.Now().Add(5 * time.Second); !processGone(pid) && time.Now().Before(end); {
				time.Sleep(10 * time.Millisecond)
			}
			if !processGone(pid) {
				t.Fatalf("engine child %d still running", pid)
			}
			if _, err := e.results.Get(context.Background(), results.JobDir(p.ID, kids[0].ID)+"/results.json"); !jobs.IsCode(err, jobs.ErrNotFound) {
				t.Fatalf("a stopped job wrote results.json: %v", err)
			}
			j, _ := e.store.JobGet(context.Background(), "alice", kids[0].ID)
			want := jobs.StatusCancelled
			if how == "lease lost" {
				want = jobs.StatusRunning // until the rescuer returns it
			}
			if j.Status != want {
				t.Fatalf("job %s, want %s", j.Status, want)
			}
		})
	}
}

func TestRunnerFailures(t *testing.T) {
	cases := []struct {
		name, script, smiles string
		timeout              time.Duration
		status               jobs.Status
		reason               string
	}{
		{"engine crash is retried", `echo boom >&2; exit 3`, "CCO", 0, jobs.StatusPending, "exited with status 3"},
		{"bad input fails for good", `exit 1`, "permanent", 0, jobs.StatusFailed, "exited with status 1"},
		{"time limit", `sleep 60`, "CCO", 300 * time.Millisecond, jobs.StatusPending, "time limit"},
		{"no output", `true`, "CCO", 0, jobs.StatusPending, "score.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.submit(t, "script", c.smiles)
			r := e.runner(t, &scriptModel{script: c.script}, func(cfg *gpu.RunnerConfig) { cfg.JobTimeout = c.timeout })
			if _, err := r.Once(context.Background()); err != nil {
				t.Fatal(err)
			}
			kids, _ := e.store.JobList(context.Background(), jobs.JobFilter{UserID: "alice", BatchID: p.ID})
			if k := kids[0]; k.Status != c.status || !strings.Contains(k.Error, c.reason) {
				t.Fatalf("job %s %q, want %s with %q", k.Status, k.Error, c.status, c.reason)
			}
			logs := e.read(t, results.JobDir(p.ID, kids[0].ID)+"/logs.txt")
			if !strings.Contains(logs, "attempt 1 failed") {
				t.Fatalf("logs.txt of a failed attempt: %q", logs)
			}
		})
	}
}

// batchScriptModel runs all its tasks in one engine process.
type batchScriptModel struct{ scriptModel }

func (m *batchScriptModel) RunMany(ctx context.Context, tasks []gpu.Task, done func(int, *gpu.Output, error)) error {
	m.runs.Add(1)
	var script strings.Builder
	for _, t := range tasks {
		fmt.Fprintf(&script, "cd %q && printf '%%s' %q | wc -c > score.txt && echo data_test > structure.cif\n", t.Dir, t.Ligand.SMILES)
	}
	if err := tasks[0].Exec.Run(ctx, gpu.Cmd{Path: "/bin/sh", Args: []string{"-c", script.String()}}); err != nil {
		return err
	}
	for i, t := range tasks {
		out, err := readScore(t.Dir)
		done(i, out, err)
	}
	return nil
}

func TestRunnerBatchModelOneProcess(t *testing.T) {
	e := newEnv(t)
	m := &batchScriptModel{}
	p := e.submit(t, "script", "C", "CC", "CCC", "CCCC", "CCCCC")
	drain(t, e.runner(t, m, func(cfg *gpu.RunnerConfig) { cfg.BatchSize = 3 }))
	if got := m.runs.Load(); got != 2 {
		t.Fatalf("engine processes: %d, want 2 for 5 children in groups of 3", got)
	}
	kids, _ := e.store.JobList(context.Background(), jobs.JobFilter{UserID: "alice", BatchID: p.ID})
	for i, k := range kids {
		var sum results.JobSummary
		json.Unmarshal(k.Result, &sum)
		if k.Status != jobs.StatusCompleted || sum.Metrics["score"] != float64(i+1) {
			t.Fatalf("child %d: %s %+v", i, k.Status, sum)
		}
	}
}
