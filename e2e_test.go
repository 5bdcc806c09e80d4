package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"omtx/api"
	"omtx/client"

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

// startWorker runs `omtx worker` on data, with env added to the
// environment (backend settings).
func startWorker(t *testing.T, bin, data, name string, env ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(data, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "worker", "--data", data, "--lease-ttl", "3s", "--rescue-every", "500ms")
	cmd.Env = append(os.Environ(), env...)
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

// startServer runs `omtx serve` without workers on data, with env added
// to the environment, and returns its address and the local user's token.
func startServer(t *testing.T, bin, data string, env ...string) (string, string) {
	t.Helper()
	_, url := serveProcess(t, bin, data, env...)
	token, err := os.ReadFile(filepath.Join(data, "local-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(url, "http://"), strings.TrimSpace(string(token))
}

// serveProcess runs `omtx serve` without workers on data, with env added
// to the environment and its log in data/serve.log, until the test ends
// (SIGTERM), and returns the process and the URL it serves on.
func serveProcess(t *testing.T, bin, data string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(data, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--data", data, "--addr", "127.0.0.1:0", "--workers", "0")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logf.Close()
	})
	sc := bufio.NewScanner(out)
	var url string
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "OMTX-Hub serving on "); ok {
			url = strings.Fields(rest)[0]
			break
		}
	}
	go io.Copy(io.Discard, out)
	if url == "" {
		t.Fatalf("serve printed no address: %v", sc.Err())
	}
	return cmd, url
}

// The FDA kinase inhibitors and aspirin against ABL1, with real Vina:
// submitted through the API of `omtx serve` and run by `omtx worker`
// processes, the first of which is killed with SIGKILL mid-job. The job is
// leased again and completed once, every file is in place and no visible
// object is half-written; the results come back through the API (CSV,
// mmCIF, ZIP), and the same library submitted again with
// `omtx submit --wait` reuses the identical work.
func TestKinaseBatchSurvivesKilledWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("docks six ligands")
	}
	requireDocking(t)
	bin := buildBinary(t)
	data := t.TempDir()
	ctx := context.Background()
	addr, token := startServer(t, bin, data)
	hub, err := client.New("http://"+addr, token)
	if err != nil {
		t.Fatal(err)
	}
	me, err := hub.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lib, err := os.ReadFile("testdata/demo/kinase_inhibitors.csv")
	if err != nil {
		t.Fatal(err)
	}
	req := api.SubmitBatchRequest{JobName: "FDA kinase inhibitors vs ABL1", ModelName: "vina", ProteinName: "ABL1 kinase (1IEP)",
		Target: "ABL1", Parameters: json.RawMessage(`{"exhaustiveness":1,"num_poses":5}`)}
	sub, err := hub.SubmitLibrary(ctx, req, "kinase_inhibitors.csv", bytes.NewReader(lib))
	if err != nil {
		t.Fatal(err)
	}
	if sub.TotalJobs != 6 {
		t.Fatalf("submitted %+v", sub)
	}
	store, err := sqlite.Open(ctx, filepath.Join(data, "omtx.db"), jobs.Config{}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	user := me.UserID
	p := &jobs.Job{ID: sub.BatchID}

	first := startWorker(t, bin, data, "worker1")
	var victim *jobs.Job
	waitFor(t, 2*time.Minute, "a running child", func() bool {
		kids, _ := store.JobList(ctx, jobs.JobFilter{UserID: user, BatchID: p.ID, Status: jobs.StatusRunning})
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
	done, err := hub.WaitBatch(ctx, p.ID, 200*time.Millisecond, nil)
	if err != nil || done.FinalizeState != string(jobs.FinalizeDone) {
		t.Fatalf("batch: %+v, %v", done, err)
	}
	b, err := store.BatchGet(ctx, user, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != jobs.StatusCompleted || b.Progress.Completed != 6 {
		t.Fatalf("batch %s %+v", b.Status, b.Progress)
	}
	got, _ := store.JobGet(ctx, user, victim.ID)
	if got.Status != jobs.StatusCompleted || got.Attempt != 2 {
		t.Fatalf("killed child: %s after %d attempts", got.Status, got.Attempt)
	}
	changes, _ := store.ChangesSince(ctx, user, 0, 1000)
	completed := map[string]int{}
	for _, c := range changes {
		if c.Type == jobs.TypeBatchChild && c.Status == jobs.StatusCompleted {
			completed[c.JobID]++
		}
	}
	kids, _ := store.JobList(ctx, jobs.JobFilter{UserID: user, BatchID: p.ID})
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
	checkDownloads(t, hub, p.ID, kids, affinity)
	checkResubmit(t, bin, addr, token, kids, affinity)
}

// checkDownloads fetches the batch's CSV, imatinib's mmCIF and the ZIP of
// structures through the API and checks them against the store.
func checkDownloads(t *testing.T, hub *client.Client, batchID string, kids []*jobs.Job, affinity map[string]float64) {
	t.Helper()
	ctx := context.Background()
	var csvBody bytes.Buffer
	name, _, err := hub.Download(ctx, client.ExportPath(batchID, "csv"), &csvBody)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvBody).ReadAll()
	if err != nil || len(rows) != 7 || !strings.HasSuffix(name, ".csv") {
		t.Fatalf("export csv %q: %d rows, %v", name, len(rows), err)
	}
	col := slices.Index(rows[0], "affinity (kcal/mol)")
	nameCol := slices.Index(rows[0], "ligand_name")
	if col < 0 || nameCol < 0 {
		t.Fatalf("csv header %v", rows[0])
	}
	for _, r := range rows[1:] {
		v, err := strconv.ParseFloat(r[col], 64)
		if err != nil || v != affinity[r[nameCol]] {
			t.Errorf("csv %s: affinity %q, store %v", r[nameCol], r[col], affinity[r[nameCol]])
		}
	}
	var imatinib *jobs.Job
	for _, k := range kids {
		if k.Name == "imatinib" {
			imatinib = k
		}
	}
	var cif bytes.Buffer
	if name, _, err = hub.Download(ctx, client.JobFilePath(batchID, imatinib.ID, "cif"), &cif); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(name, ".cif") || !strings.Contains(cif.String(), "_atom_site.") {
		t.Fatalf("mmCIF %q: %.200s", name, cif.String())
	}
	var zipBody bytes.Buffer
	if _, _, err = hub.Download(ctx, client.ExportPath(batchID, "zip"), &zipBody); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipBody.Bytes()), int64(zipBody.Len()))
	if err != nil {
		t.Fatal(err)
	}
	structures := 0
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/structure.cif") {
			structures++
		}
	}
	if structures != 6 {
		t.Errorf("zip holds %d structures", structures)
	}
	t.Logf("downloads: csv %d rows, %s %d bytes, zip %d bytes with %d structures", len(rows)-1, name, cif.Len(), zipBody.Len(), structures)
}

// checkResubmit submits the same library with `omtx submit --wait`: every
// ligand reuses the work already done, and the CSV it writes agrees.
func checkResubmit(t *testing.T, bin, addr, token string, kids []*jobs.Job, affinity map[string]float64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "again.csv")
	cmd := exec.Command(bin, "submit", "--model", "vina", "--target", "ABL1", "--ligands", "testdata/demo/kinase_inhibitors.csv",
		"--param", "exhaustiveness=1", "--param", "num_poses=5", "--wait", "--every", "200ms", "--out", out)
	cmd.Env = append(os.Environ(), "OMTX_SERVER=http://"+addr, "OMTX_TOKEN="+token)
	start := time.Now()
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("omtx submit --wait: %v\n%s", err, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 7 {
		t.Fatalf("%s: %d rows, %v", out, len(rows), err)
	}
	col, nameCol := slices.Index(rows[0], "affinity (kcal/mol)"), slices.Index(rows[0], "ligand_name")
	for _, r := range rows[1:] {
		if v, err := strconv.ParseFloat(r[col], 64); err != nil || v != affinity[r[nameCol]] {
			t.Errorf("resubmitted %s: affinity %q, first run %v", r[nameCol], r[col], affinity[r[nameCol]])
		}
	}
	t.Logf("omtx submit --wait, same library again (reused) in %s:\n%s", time.Since(start).Round(time.Millisecond), msg)
}
