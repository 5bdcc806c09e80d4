package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"omtx/api"
	"omtx/client"
	"omtx/jobs"
	"omtx/jobs/sqlite"
	"omtx/results"
)

// The chaos tests run the real binary, built with -tags chaostest so that
// it has the fast test model "chaos" (testmodel.go), as several processes
// on one data folder (the default SQLite store and file:// results), and
// kill them with SIGKILL while they work.

var (
	chaosBinOnce sync.Once
	chaosBin     string
	chaosBinErr  error
)

// buildChaosBinary builds the binary with the chaos model, once per test
// run (a second build would only relink, but costs seconds on a busy host).
func buildChaosBinary(t *testing.T) string {
	t.Helper()
	chaosBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "omtx-chaos-bin-")
		if err != nil {
			chaosBinErr = err
			return
		}
		chaosBin = filepath.Join(dir, "omtx")
		out, err := exec.Command("go", "build", "-tags", "chaostest", "-o", chaosBin, ".").CombinedOutput()
		if err != nil {
			chaosBinErr = fmt.Errorf("go build -tags chaostest: %v\n%s", err, out)
		}
	})
	if chaosBinErr != nil {
		t.Fatal(chaosBinErr)
	}
	return chaosBin
}

// expectedChaosScore is the chaos model's score of a SMILES (testmodel.go,
// which normal test builds do not compile).
func expectedChaosScore(smiles string) float64 {
	h := fnv.New32a()
	h.Write([]byte(smiles))
	return -float64(h.Sum32()%1000) / 100
}

// chaosLigands returns n distinct molecules (N-alkyl amino alcohols of
// growing chains), so that no child reuses another's result.
func chaosLigands(n int) []api.Ligand {
	out := make([]api.Ligand, 0, n)
	for i := 0; len(out) < n; i++ {
		a, b := 1+i%40, 1+i/40
		out = append(out, api.Ligand{Name: fmt.Sprintf("lig-%05d", len(out)), SMILES: strings.Repeat("C", a) + "N" + strings.Repeat("C", b) + "O"})
	}
	return out
}

// proc is one omtx process of a chaos test, restartable.
type proc struct {
	t    *testing.T
	bin  string
	args []string
	env  []string
	log  string // appended to by every start

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	kills int
}

func newProc(t *testing.T, bin, log string, env []string, args ...string) *proc {
	p := &proc{t: t, bin: bin, args: args, env: env, log: log}
	t.Cleanup(p.stop)
	return p
}

// start runs the process; stdout goes to out when given, else to the log.
func (p *proc) start(out io.Writer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	logf, err := os.OpenFile(p.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if out != nil {
		cmd.Stdout = out
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// pid is the running process's id, 0 when none runs.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	if cmd != nil {
		p.kills++
	}
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop ends the process gracefully (SIGTERM), or kills it after 10 s.
func (p *proc) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// startServe starts `omtx serve --workers 0` under p and returns its
// address and the local user's token.
func startServe(t *testing.T, p *proc, data string) (string, string) {
	t.Helper()
	pr, pw := io.Pipe()
	if err := p.start(pw); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pr)
	var addr string
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "OMTX-Hub serving on "); ok {
			addr = strings.TrimPrefix(strings.Fields(rest)[0], "http://")
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" {
		t.Fatalf("serve printed no address: %v (log %s)", sc.Err(), p.log)
	}
	token, err := os.ReadFile(filepath.Join(data, "local-token"))
	if err != nil {
		t.Fatal(err)
	}
	return addr, strings.TrimSpace(string(token))
}

func newServeProc(t *testing.T, bin, data string) *proc {
	return newProc(t, bin, filepath.Join(data, "serve.log"), nil, "serve", "--data", data, "--addr", "127.0.0.1:0", "--workers", "0")
}

// newWorkerProc is an `omtx worker` of the chaos model with short leases,
// so that a killed worker's jobs come back within seconds.
func newWorkerProc(t *testing.T, bin, data string, i int, ledger string) *proc {
	return newProc(t, bin, filepath.Join(data, fmt.Sprintf("worker%d.log", i)), []string{"OMTX_CHAOS_LEDGER=" + ledger},
		"worker", "--data", data, "--models", "chaos", "--workers", "2", "--lease-ttl", "2s", "--rescue-every", "300ms")
}

// checkNoProcessesLeft fails when a process of bin still runs after the
// test's other clean-ups. Register it first: clean-ups run last-in,
// first-out.
func checkNoProcessesLeft(t *testing.T, bin string) {
	t.Cleanup(func() {
		for _, cmdline := range processesOf(bin) {
			t.Errorf("process left running: %s", cmdline)
		}
	})
}

// processesOf lists the live (not zombie) processes running the program at
// path bin.
func processesOf(bin string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(raw), bin+"\x00") {
			continue
		}
		stat, _ := os.ReadFile(strings.TrimSuffix(p, "cmdline") + "stat")
		if s := string(stat); len(s) > 0 && strings.Contains(s[strings.LastIndexByte(s, ')')+1:], " Z ") {
			continue
		}
		out = append(out, strings.ReplaceAll(string(raw), "\x00", " "))
	}
	return out
}

// chaosSeed is the seed of a test's random choices: OMTX_CHAOS_SEED to
// replay a run, else the time. It is logged.
func chaosSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("OMTX_CHAOS_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (replay with OMTX_CHAOS_SEED=%d)", seed, seed)
	return seed
}

var ownerPID = regexp.MustCompile(`-(\d+)-w\d+$`)

// leaseHolder returns the pid in a lease owner ("host-pid-wN").
func leaseHolder(owner string) int {
	m := ownerPID.FindStringSubmatch(owner)
	if m == nil {
		return 0
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// allChanges reads a user's whole change feed.
func allChanges(t *testing.T, store jobs.Store, user string) []jobs.Change {
	t.Helper()
	var out []jobs.Change
	var since int64
	for {
		page, err := store.ChangesSince(context.Background(), user, since, 1000)
		if err != nil {
			t.Fatalf("change feed: %v", err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out
		}
		since = page[len(page)-1].Seq
	}
}

// allChildren lists a batch's children from the store.
func allChildren(t *testing.T, store jobs.Store, user, batchID string) []*jobs.Job {
	t.Helper()
	var out []*jobs.Job
	for {
		page, err := store.JobList(context.Background(), jobs.JobFilter{UserID: user, BatchID: batchID, Offset: len(out), Limit: 1000})
		if err != nil {
			t.Fatalf("children of %s: %v", batchID, err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out
		}
	}
}

// finalizedLines counts the "batch finalized" log lines of a batch in the
// workers' logs: one per finalize task completed.
func finalizedLines(t *testing.T, logs []string, batchID string) int {
	t.Helper()
	n := 0
	for _, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg   string `json:"msg"`
				Batch string `json:"batch"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "batch finalized" && line.Batch == batchID {
				n++
			}
		}
		f.Close()
	}
	return n
}

// checkBatchDoneOnce checks a finished chaos batch in the store, the
// change feed, the workers' logs and the hierarchy: every child completed
// exactly once with the result of the attempt the store recorded, the
// progress is exact, every child's folder is whole, batch_results.csv has
// one row per child, and the batch was finalized exactly once.
func checkBatchDoneOnce(t *testing.T, store jobs.Store, files, user, batchID string, ligs []api.Ligand, logs []string) {
	t.Helper()
	ctx := context.Background()
	n := len(ligs)
	b, err := store.BatchGet(ctx, user, batchID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != jobs.StatusCompleted || b.Finalize != jobs.FinalizeDone ||
		b.Progress != (jobs.Progress{Total: n, Completed: n}) {
		t.Fatalf("batch %s: status %s, finalize %q (%s), progress %+v; want completed, done, %d of %d completed",
			batchID, b.Status, b.Finalize, b.Error, b.Progress, n, n)
	}
	kids := allChildren(t, store, user, batchID)
	if len(kids) != n {
		t.Fatalf("batch %s has %d children, want %d", batchID, len(kids), n)
	}
	completed := map[string]int{}
	parentDone := 0
	for _, c := range allChanges(t, store, user) {
		switch {
		case c.BatchID != batchID:
		case c.Type == jobs.TypeBatchChild && c.Status == jobs.StatusCompleted:
			completed[c.JobID]++
		case c.Type == jobs.TypeBatchChild && c.Status == jobs.StatusFailed:
			t.Errorf("child %s failed for good (change %d)", c.JobID, c.Seq)
		case c.Type == jobs.TypeBatchParent && c.Status == jobs.StatusCompleted:
			parentDone++
		}
	}
	smiles := map[string]string{}
	for _, l := range ligs {
		smiles[l.Name] = l.SMILES
	}
	retried := 0
	for _, k := range kids {
		if k.Status != jobs.StatusCompleted {
			t.Errorf("child %s (%s) is %s after %d attempts: %s", k.ID, k.Name, k.Status, k.Attempt, k.Error)
			continue
		}
		if completed[k.ID] != 1 {
			t.Errorf("child %s (%s): %d completed changes in the feed, want exactly 1", k.ID, k.Name, completed[k.ID])
		}
		if k.Attempt > 1 {
			retried++
		}
		dir := filepath.Join(files, results.JobDir(batchID, k.ID))
		for _, name := range []string{"results.json", "metadata.json", "logs.txt", "chaos.txt"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("child %s (%s): %v", k.ID, k.Name, err)
			}
		}
		var meta struct {
			Attempt int `json:"attempt"`
		}
		if raw, err := os.ReadFile(filepath.Join(dir, "metadata.json")); err == nil {
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Errorf("child %s: metadata.json: %v", k.ID, err)
			} else if meta.Attempt != k.Attempt {
				t.Errorf("child %s: metadata.json is of attempt %d, the store completed attempt %d", k.ID, meta.Attempt, k.Attempt)
			}
		}
		var res struct {
			Metrics []struct {
				Name  string  `json:"name"`
				Value float64 `json:"value"`
			} `json:"metrics"`
		}
		if raw, err := os.ReadFile(filepath.Join(dir, "results.json")); err == nil {
			if err := json.Unmarshal(raw, &res); err != nil || len(res.Metrics) != 1 || res.Metrics[0].Value != expectedChaosScore(smiles[k.Name]) {
				t.Errorf("child %s (%s): results.json metrics %+v (%v), want score %v", k.ID, k.Name, res.Metrics, err, expectedChaosScore(smiles[k.Name]))
			}
		}
	}
	// The store records one change when the last child ends the batch and
	// one when its finalize task completes: a second finalize would add
	// one.
	if parentDone != 2 {
		t.Errorf("batch %s: %d completed changes of the parent in the feed, want 2 (batch ended, finalized)", batchID, parentDone)
	}
	if got := finalizedLines(t, logs, batchID); got != 1 {
		t.Errorf("batch %s finalized %d times by the workers' logs, want exactly 1", batchID, got)
	}
	for _, name := range []string{"batch_index.json", "summary.json", "results/aggregated.json", "results/summary.json",
		"results/job_index.json", "results/batch_metadata.json", "results/batch_results.csv"} {
		if _, err := os.Stat(filepath.Join(files, "batches", batchID, name)); err != nil {
			t.Errorf("batch file: %v", err)
		}
	}
	f, err := os.Open(filepath.Join(files, "batches", batchID, "results", "batch_results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != n+1 {
		t.Fatalf("batch_results.csv: %d rows after the header, want %d (%v)", len(rows)-1, n, err)
	}
	idCol := slices.Index(rows[0], "job_id")
	if idCol < 0 {
		t.Fatalf("batch_results.csv header %v has no job_id", rows[0])
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		if seen[r[idCol]] {
			t.Errorf("batch_results.csv: job %s twice", r[idCol])
		}
		seen[r[idCol]] = true
	}
	// Every object a reader can list is whole; what killed writers left
	// behind are only temporary files, which listings skip.
	res, err := results.Open(ctx, "file://"+files)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	keys, err := res.List(ctx, results.BatchDir(batchID)+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		if !strings.HasSuffix(key, ".json") {
			continue
		}
		body, err := os.ReadFile(filepath.Join(files, filepath.FromSlash(key)))
		if err != nil || !json.Valid(body) {
			t.Errorf("%s is not whole JSON: %v", key, err)
		}
	}
	temps, _ := filepath.Glob(filepath.Join(files, "batches", batchID, "jobs", "*", "*.tmp"))
	t.Logf("batch %s: %d children completed once each (%d after more than one attempt), finalized once (attempt %d); %d objects whole, %d temporary files of killed writes left",
		batchID, n, retried, b.Attempt, len(keys), len(temps))
}

// TestChaosWorkersKilled runs a 1,000-ligand batch of the chaos model,
// submitted through the API of a real `omtx serve --workers 0`, with four
// `omtx worker` processes on the same data folder, one of which (a random
// one among those holding leases, but none on a job's last attempt: a job
// killed on every attempt fails for good, by design) is killed with
// SIGKILL every 0.5 to 2 seconds while work is in flight, and started
// again. When the
// last child has ended, the worker holding the batch's finalize task is
// killed mid-finalize. Every child completes exactly once, with the result
// of the attempt that completed it, the batch's files are whole, and the
// batch is finalized exactly once.
func TestChaosWorkersKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 1,000 jobs in killed worker processes")
	}
	start := time.Now()
	bin := buildChaosBinary(t)
	checkNoProcessesLeft(t, bin)
	t.Logf("binary built in %s", time.Since(start).Round(time.Millisecond))
	rng := rand.New(rand.NewPCG(chaosSeed(t), 1))
	data := t.TempDir()
	ctx := context.Background()
	addr, token := startServe(t, newServeProc(t, bin, data), data)
	hub, err := client.New("http://"+addr, token)
	if err != nil {
		t.Fatal(err)
	}
	me, err := hub.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	ligs := chaosLigands(n)
	sub, err := hub.SubmitBatch(ctx, api.SubmitBatchRequest{JobName: "chaos", ModelName: "chaos", ProteinName: "none", Ligands: ligs})
	if err != nil {
		t.Fatal(err)
	}
	if sub.TotalJobs != n {
		t.Fatalf("submitted %d jobs, want %d", sub.TotalJobs, n)
	}
	store, err := sqlite.Open(ctx, filepath.Join(data, "omtx.db"), jobs.Config{}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ledger := filepath.Join(data, "runs.ledger")
	workers := make([]*proc, 4)
	var logs []string
	for i := range workers {
		workers[i] = newWorkerProc(t, bin, data, i, ledger)
		logs = append(logs, workers[i].log)
		if err := workers[i].start(nil); err != nil {
			t.Fatal(err)
		}
	}
	byPID := func(pid int) *proc {
		for _, w := range workers {
			if w.pid() == pid {
				return w
			}
		}
		return nil
	}

	// Kill a random busy worker every 0.5 to 2 s and start it again after
	// 0 to 500 ms, until every child has ended; then kill the worker that
	// holds the finalize task, once, and let the others finish.
	deadline := time.Now().Add(4 * time.Minute)
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	nextKill := time.Now().Add(between(500*time.Millisecond, 2*time.Second))
	var finalizeKill string
	heldAtKill := 0
	var allEnded time.Duration
	for {
		if time.Now().After(deadline) {
			b, _ := store.BatchGet(ctx, me.UserID, sub.BatchID)
			t.Fatalf("batch not finalized after 4 minutes: %+v", b)
		}
		b, err := store.BatchGet(ctx, me.UserID, sub.BatchID)
		if err != nil {
			t.Fatal(err)
		}
		if b.Finalize == jobs.FinalizeDone || b.Finalize == jobs.FinalizeFailed {
			break
		}
		if b.Finalize == jobs.FinalizeLeased && finalizeKill == "" {
			if w := byPID(leaseHolder(b.Lease.Owner)); w != nil {
				w.kill()
				after, err := store.BatchGet(ctx, me.UserID, sub.BatchID)
				if err != nil {
					t.Fatal(err)
				}
				finalizeKill = fmt.Sprintf("killed %s holding the finalize task (attempt %d); the task was then %q", b.Lease.Owner, b.Attempt, after.Finalize)
				if after.Finalize != jobs.FinalizeLeased {
					t.Errorf("the kill of the finalizing worker came too late: the finalize task was already %q", after.Finalize)
				}
				if err := w.start(nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		if b.Progress.Ended() < n && time.Now().After(nextKill) {
			// The victim: a random worker among those holding leases (the
			// ones whose death costs something), else any.
			running, err := store.JobList(ctx, jobs.JobFilter{UserID: me.UserID, BatchID: sub.BatchID, Status: jobs.StatusRunning, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			// A job whose every attempt is killed fails for good, by
			// design: spare the workers running a last attempt.
			held := map[*proc]int{}
			spare := map[*proc]bool{}
			for _, j := range running {
				if w := byPID(leaseHolder(j.Lease.Owner)); w != nil {
					held[w]++
					spare[w] = spare[w] || j.Attempt >= j.MaxAttempts
				}
			}
			var busy []*proc
			for _, w := range workers {
				if held[w] > 0 && !spare[w] {
					busy = append(busy, w)
				}
			}
			if len(busy) == 0 {
				// Nothing in flight (retries wait out their backoff): wait
				// for work to kill.
				time.Sleep(5 * time.Millisecond)
				continue
			}
			w := busy[rng.IntN(len(busy))]
			heldAtKill += held[w]
			w.kill()
			time.Sleep(between(0, 500*time.Millisecond)) // down for a while, as a node would be
			if err := w.start(nil); err != nil {
				t.Fatal(err)
			}
			nextKill = time.Now().Add(between(500*time.Millisecond, 2*time.Second))
		}
		if b.Progress.Ended() == n && allEnded == 0 {
			allEnded = time.Since(start)
		}
		// Poll fast once every child has ended, not to miss the finalize.
		if b.Progress.Ended() < n {
			time.Sleep(5 * time.Millisecond)
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	ran := time.Since(start)
	kills := 0
	for _, w := range workers {
		kills += w.kills
	}
	raw, _ := os.ReadFile(ledger)
	runs := strings.Count(string(raw), "\n")
	t.Logf("%d jobs, %d worker kills holding %d leases, %d engine runs (%d more than jobs); %s", n, kills, heldAtKill, runs, runs-n, finalizeKill)
	t.Logf("wall time %s (build included; every child ended at %s)", ran.Round(time.Millisecond), allEnded.Round(time.Millisecond))
	for _, w := range workers {
		w.stop()
	}
	checkBatchDoneOnce(t, store, filepath.Join(data, "files"), me.UserID, sub.BatchID, ligs, logs)
	if kills < 3 || heldAtKill < 3 {
		t.Errorf("only %d workers were killed, holding %d leases; the test proves little", kills, heldAtKill)
	}
	got, err := hub.Batch(ctx, sub.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "completed" || got.FinalizeState != "done" || got.Progress.Completed != n || got.Progress.Total != n {
		t.Errorf("API batch: %s, finalize %q, progress %+v", got.Status, got.FinalizeState, got.Progress)
	}
}

// TestChaosServerKilledDuringSubmit kills `omtx serve` with SIGKILL while
// it takes a 5,000-ligand batch, at points spread over the time a
// submission takes, and starts it again each time. No partial batch is
// ever visible, through the API or in the store: each submission is there
// whole (5,000 children, exact progress) or not at all, and every batch
// whose id reached the caller is there.
func TestChaosServerKilledDuringSubmit(t *testing.T) {
	if testing.Short() {
		t.Skip("submits 5,000-ligand batches to a server it kills")
	}
	start := time.Now()
	bin := buildChaosBinary(t)
	checkNoProcessesLeft(t, bin)
	rng := rand.New(rand.NewPCG(chaosSeed(t), 2))
	data := t.TempDir()
	ctx := context.Background()
	serve := newServeProc(t, bin, data)
	connect := func() *client.Client {
		addr, token := startServe(t, serve, data)
		c, err := client.New("http://"+addr, token)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	hub := connect()
	me, err := hub.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	req := api.SubmitBatchRequest{ModelName: "chaos", ProteinName: "none", Ligands: chaosLigands(n)}

	// One submission undisturbed, to learn how long one takes.
	req.JobName = "calibration"
	t0 := time.Now()
	first, err := hub.SubmitBatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	accepted := map[string]string{first.BatchID: req.JobName}
	names := map[string]bool{req.JobName: true}

	// Then kill the server at 5% to 120% of that time into a submission.
	const rounds = 8
	var outcomes []string
	for i := range rounds {
		req.JobName = fmt.Sprintf("killed-%d", i)
		names[req.JobName] = true
		delay := time.Duration(float64(took) * (0.05 + 1.15*float64(i)/float64(rounds-1)))
		delay += time.Duration(rng.Int64N(int64(took / 20)))
		type result struct {
			resp *api.SubmitBatchResponse
			err  error
		}
		done := make(chan result, 1)
		go func(req api.SubmitBatchRequest) {
			resp, err := hub.SubmitBatch(ctx, req)
			done <- result{resp, err}
		}(req)
		time.Sleep(delay) // the point of the kill, not a wait for anything
		serve.kill()
		r := <-done
		if r.err == nil {
			accepted[r.resp.BatchID] = req.JobName
			outcomes = append(outcomes, fmt.Sprintf("%s at %s: answered %s", req.JobName, delay.Round(time.Millisecond), r.resp.BatchID))
		} else {
			outcomes = append(outcomes, fmt.Sprintf("%s at %s: %v", req.JobName, delay.Round(time.Millisecond), r.err))
		}
		hub = connect()
	}

	// What the API lists, and what the store holds, after all the kills.
	var listed []api.Batch
	for page := 1; ; page++ {
		l, err := hub.Batches(ctx, api.ListQuery{Page: page, PageSize: 500})
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, l.Batches...)
		if !l.HasMore {
			break
		}
	}
	store, err := sqlite.Open(ctx, filepath.Join(data, "omtx.db"), jobs.Config{}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored, err := store.BatchList(ctx, jobs.BatchFilter{UserID: me.UserID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(stored) {
		t.Errorf("the API lists %d batches, the store holds %d", len(listed), len(stored))
	}
	seen := map[string]bool{}
	perName := map[string]int{}
	for _, b := range listed {
		seen[b.BatchID] = true
		perName[b.JobName]++
		if !names[b.JobName] {
			t.Errorf("batch %s has a name no submission used: %q", b.BatchID, b.JobName)
		}
		if b.Progress.Total != n || b.Progress.Pending != n {
			t.Errorf("API: batch %s (%s) is partial: progress %+v, want %d pending", b.BatchID, b.JobName, b.Progress, n)
		}
		if kids := allChildren(t, store, me.UserID, b.BatchID); len(kids) != n {
			t.Errorf("store: batch %s (%s) has %d children, want %d", b.BatchID, b.JobName, len(kids), n)
		}
	}
	for _, b := range stored {
		if b.Progress != (jobs.Progress{Total: n, Pending: n}) {
			t.Errorf("store: batch %s (%s) progress %+v, want %d pending", b.ID, b.Name, b.Progress, n)
		}
	}
	for name, k := range perName {
		if k > 1 {
			t.Errorf("submission %s is there %d times", name, k)
		}
	}
	for id, name := range accepted {
		if !seen[id] {
			t.Errorf("batch %s (%s) was answered to the caller but is not listed", id, name)
		}
	}
	// How each killed submission ended: answered, absent, or there although
	// its caller saw the connection drop (a retry would double it: the API
	// has no idempotency key).
	absent, unseen := 0, 0
	for i := range outcomes {
		name := fmt.Sprintf("killed-%d", i)
		switch {
		case strings.Contains(outcomes[i], "answered"):
		case perName[name] == 0:
			absent++
			outcomes[i] += " -> no batch"
		default:
			unseen++
			outcomes[i] += " -> the whole batch is there"
		}
	}
	t.Logf("a submission of %d ligands takes %s; kills:\n  %s", n, took.Round(time.Millisecond), strings.Join(outcomes, "\n  "))
	if absent == 0 {
		t.Errorf("no kill landed before a submission committed: the test proved nothing about partial batches")
	}
	// A submission killed after its transaction committed may miss its
	// batch_index.json until the batch is finalized (which rewrites it):
	// count those, for the report.
	noIndex := 0
	for _, b := range listed {
		if _, err := os.Stat(filepath.Join(data, "files", "batches", b.BatchID, "batch_index.json")); err != nil {
			noIndex++
		}
	}
	t.Logf("%d submissions killed: %d answered, %d left no batch, %d left a whole batch unanswered; %d batches in the store, none partial (%d without batch_index.json until finalized); wall time %s",
		rounds, len(accepted)-1, absent, unseen, len(stored), noIndex, time.Since(start).Round(time.Millisecond))
}

// TestChaosModelOnlyInTestBuilds checks that a normal build (no chaostest
// tag, as `go build` and `go test` make it) has no chaos model: `omtx
// models` does not list it.
func TestChaosModelOnlyInTestBuilds(t *testing.T) {
	if len(testModels) != 0 {
		t.Fatalf("this build has test models %v: run it without -tags chaostest", testModels)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"models"}, &out, quietLog()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "vina") {
		t.Fatalf("omtx models lists no vina:\n%s", out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "chaos" {
			t.Errorf("omtx models of a normal build lists the test model: %s", line)
		}
	}
}
