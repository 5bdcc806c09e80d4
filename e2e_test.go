package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"omtx/chem/ligands"
	"omtx/gpu"
	"omtx/jobs"
	"omtx/jobs/sqlite"
	"omtx/results"
)

// requireDocking skips when Vina, Open Babel or RDKit are missing, except
// in CI, where they must be installed.
func requireDocking(t *testing.T) {
	t.Helper()
	reg, err := newRegistry()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := reg.Get("vina")
	if err := m.Check(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docking programs missing in CI: %v", err)
		}
		t.Skipf("docking programs missing: %v", err)
	}
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "omtx")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// submitKinaseBatch submits the demonstration set against ABL1 straight
// into the store, as the API will.
func submitKinaseBatch(t testing.TB, store jobs.Store, params string) *jobs.Job {
	t.Helper()
	f, err := os.Open("testdata/demo/kinase_inhibitors.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lib, err := ligands.ReadCSV(f, ligands.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var children []jobs.ChildSubmission
	for _, e := range lib.Entries {
		in, _ := json.Marshal(gpu.Ligand{Name: e.Name, SMILES: e.SMILES})
		children = append(children, jobs.ChildSubmission{Name: e.Name, Input: in})
	}
	in := fmt.Sprintf(`{"protein_name":"ABL1 kinase (1IEP)","target":"ABL1","parameters":%s}`, params)
	p, err := store.Submit(context.Background(), jobs.Submission{UserID: "local", Model: "vina", ModelVersion: "1.0.0",
		Name: "FDA kinase inhibitors vs ABL1", Input: json.RawMessage(in), Children: children})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startWorker(t *testing.T, bin, data, name string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(data, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "worker", "--data", data, "--lease-ttl", "3s", "--rescue-every", "500ms")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	return cmd
}

// waitFor polls the store until cond holds or the time runs out.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %s waiting for %s", limit, what)
}

// enginesOf lists live processes whose command line mentions dir.
func enginesOf(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
		if strings.Contains(cmdline, dir) && !strings.Contains(cmdline, " worker --data ") {
			stat, _ := os.ReadFile(strings.TrimSuffix(p, "cmdline") + "stat")
			if s := string(stat); strings.Contains(s[strings.LastIndexByte(s, ')')+1:], " Z ") {
				continue // exited, waiting to be reaped
			}
			out = append(out, cmdline)
		}
	}
	return out
}

// The FDA kinase inhibitors and aspirin against ABL1, with real Vina, run
// by `omtx worker` processes; the first is killed with SIGKILL mid-job.
// The job is leased again and completed once, every file is in place and
// no visible object is half-written.
func TestKinaseBatchSurvivesKilledWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("docks six ligands")
	}
	requireDocking(t)
	bin := buildBinary(t)
	data := t.TempDir()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(data, "omtx.db"), jobs.Config{}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p := submitKinaseBatch(t, store, `{"exhaustiveness":1,"num_poses":5}`)

	first := startWorker(t, bin, data, "worker1")
	var victim *jobs.Job
	waitFor(t, 2*time.Minute, "a running child", func() bool {
		kids, _ := store.JobList(ctx, jobs.JobFilter{UserID: "local", BatchID: p.ID, Status: jobs.StatusRunning})
		if len(kids) > 0 {
			victim = kids[0]
		}
		return victim != nil
	})
	// Let the engine start, then kill the worker outright.
	work := filepath.Join(data, "work")
	waitFor(t, time.Minute, "an engine process", func() bool { return len(enginesOf(work)) > 0 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	waitFor(t, 10*time.Second, "the killed worker's engines to die", func() bool { return len(enginesOf(work)) == 0 })

	startWorker(t, bin, data, "worker2")
	var b *jobs.Batch
	waitFor(t, 15*time.Minute, "the batch to finalize", func() bool {
		b, err = store.BatchGet(ctx, "local", p.ID)
		return err == nil && b.Finalize == jobs.FinalizeDone
	})
	if b.Status != jobs.StatusCompleted || b.Progress.Completed != 6 {
		t.Fatalf("batch %s %+v", b.Status, b.Progress)
	}
	got, _ := store.JobGet(ctx, "local", victim.ID)
	if got.Status != jobs.StatusCompleted || got.Attempt != 2 {
		t.Fatalf("killed child: %s after %d attempts", got.Status, got.Attempt)
	}
	changes, _ := store.ChangesSince(ctx, "local", 0, 1000)
	completed := map[string]int{}
	for _, c := range changes {
		if c.Type == jobs.TypeBatchChild && c.Status == jobs.StatusCompleted {
			completed[c.JobID]++
		}
	}
	kids, _ := store.JobList(ctx, jobs.JobFilter{UserID: "local", BatchID: p.ID})
	affinity := map[string]float64{}
	files := filepath.Join(data, "files")
	for _, k := range kids {
		if completed[k.ID] != 1 {
			t.Errorf("%s completed %d times", k.Name, completed[k.ID])
		}
		for _, name := range []string{"results.json", "metadata.json", "structure.cif", "poses.sdf", "logs.txt"} {
			if _, err := os.Stat(filepath.Join(files, results.JobDir(p.ID, k.ID), name)); err != nil {
				t.Errorf("%s: %v", k.Name, err)
			}
		}
		var sum results.JobSummary
		if err := json.Unmarshal(k.Result, &sum); err != nil {
			t.Fatal(err)
		}
		affinity[k.Name] = sum.Metrics["affinity"]
	}
	for _, name := range []string{"imatinib", "nilotinib", "dasatinib"} {
		if affinity[name] >= affinity["aspirin"] {
			t.Errorf("%s (%.1f kcal/mol) does not bind ABL1 better than aspirin (%.1f)", name, affinity[name], affinity["aspirin"])
		}
	}
	t.Logf("best affinities (kcal/mol): %v", affinity)
	for _, name := range []string{"batch_index.json", "summary.json", "results/aggregated.json", "results/summary.json",
		"results/job_index.json", "results/batch_metadata.json", "results/batch_results.csv"} {
		if _, err := os.Stat(filepath.Join(files, "batches", p.ID, name)); err != nil {
			t.Errorf("batch file: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(files, "archive", p.ID, "batch_metadata.json")); err != nil {
		t.Errorf("archive: %v", err)
	}
	raw, _ := os.ReadFile(filepath.Join(files, "batches", p.ID, "results", "batch_results.csv"))
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil || len(rows) != 7 {
		t.Fatalf("batch_results.csv: %d rows, %v", len(rows), err)
	}
	// Every object a reader can see is whole.
	res, err := results.Open(ctx, "file://"+files)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	keys, err := res.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		if !strings.HasSuffix(key, ".json") {
			continue
		}
		body, err := os.ReadFile(filepath.Join(files, key))
		if err != nil || !json.Valid(body) {
			t.Errorf("%s is not whole JSON: %v", key, err)
		}
	}
}
