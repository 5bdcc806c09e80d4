package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"omtx/accounts"
	accountsqlite "omtx/accounts/sqlite"
	"omtx/api"
	"omtx/chem/ligands"
	"omtx/client"
	"omtx/gpu"
	"omtx/gpu/vina"
	"omtx/handlers"
	"omtx/hub"
	"omtx/jobs"
	jobsqlite "omtx/jobs/sqlite"
	"omtx/results"
)

func TestCmdParseParams(t *testing.T) {
	raw, err := parseParams([]string{"exhaustiveness=8", "affinity=true", "seed=42", "mode=fast", "box=[1,2]",
		"label=\"x\"", "empty=", "expr=a=b", "seed=7"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"exhaustiveness": 8.0, "affinity": true, "seed": 7.0, "mode": "fast",
		"box": []any{1.0, 2.0}, "label": "x", "empty": "", "expr": "a=b"}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("params %s, want %s", g, w)
	}
	if raw, err := parseParams(nil); err != nil || raw != nil {
		t.Fatalf("no params: %s %v", raw, err)
	}
	for _, bad := range []string{"novalue", "=3", " =3"} {
		if _, err := parseParams([]string{bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCmdParseBox(t *testing.T) {
	got, err := parseBox(" 15.19, 53.903,16.917,20,20,22.5")
	if err != nil || got != `{"center_x":15.19,"center_y":53.903,"center_z":16.917,"size_x":20,"size_y":20,"size_z":22.5}` {
		t.Fatalf("%s %v", got, err)
	}
	for _, bad := range []string{"", "1,2,3", "1,2,3,4,5,x", "1,2,3,4,5,6,7"} {
		if _, err := parseBox(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCmdParseArgsInterspersed(t *testing.T) {
	fs := newFlagSet("results", "omtx results", &bytes.Buffer{})
	top := fs.Int("top", 0, "")
	format := fs.String("format", "table", "")
	pos, err := fs.parse([]string{"--top", "3", "b1", "--format", "csv", "--", "--odd"})
	if err != nil {
		t.Fatal(err)
	}
	if *top != 3 || *format != "csv" || strings.Join(pos, " ") != "b1 --odd" {
		t.Fatalf("top %d format %s pos %q", *top, *format, pos)
	}
	if _, err := fs.parse([]string{"b1", "--nope"}); err == nil || !strings.Contains(err.Error(), "omtx results -h") {
		t.Fatalf("unknown flag: %v", err)
	}
}

// TestCmdHelp checks that every command's -h prints its usage and
// succeeds, and that bad use fails before any request is sent.
func TestCmdHelp(t *testing.T) {
	cmds := map[string]func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) error{
		"submit":   func(ctx context.Context, a []string, o, e *bytes.Buffer) error { return cmdSubmit(ctx, a, o, e) },
		"status":   func(ctx context.Context, a []string, o, e *bytes.Buffer) error { return cmdStatus(ctx, a, o, e) },
		"results":  func(ctx context.Context, a []string, o, e *bytes.Buffer) error { return cmdResults(ctx, a, o, e) },
		"download": func(ctx context.Context, a []string, o, e *bytes.Buffer) error { return cmdDownload(ctx, a, o, e) },
		"demo":     func(ctx context.Context, a []string, o, e *bytes.Buffer) error { return cmdDemo(ctx, a, o, e) },
	}
	for name, cmd := range cmds {
		var out, errOut bytes.Buffer
		if err := cmd(context.Background(), []string{"-h"}, &out, &errOut); err != nil {
			t.Errorf("%s -h: %v", name, err)
		}
		if strings.Count(out.String(), "Usage: omtx "+name) != 1 || !strings.Contains(out.String(), "-server") {
			t.Errorf("%s -h printed %q", name, out.String())
		}
	}
	bad := map[string][]string{
		"submit":   {"--model", "vina"},
		"results":  {},
		"download": {"b1", "--what", "tar"},
		"status":   {"a", "b"},
		"demo":     {"extra"},
	}
	for name, args := range bad {
		var out, errOut bytes.Buffer
		if err := cmds[name](context.Background(), append(args, "--server", "http://127.0.0.1:1", "--token", "x"), &out, &errOut); err == nil {
			t.Errorf("%s %q: no error", name, args)
		}
	}
	var out bytes.Buffer
	err := cmdResults(context.Background(), []string{"b1", "--order", "up"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "asc or desc") {
		t.Errorf("--order up: %v", err)
	}
	out.Reset()
	err = cmdStatus(context.Background(), []string{"--tokn", "x"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "-tokn") || out.Len() != 0 {
		t.Errorf("unknown flag: %v, printed %q", err, out.String())
	}
	// Nothing listens on port 1: the error says where the hub was looked for.
	err = cmdStatus(context.Background(), []string{"--server", "http://127.0.0.1:1", "--token", "x"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "is the hub running at http://127.0.0.1:1?") {
		t.Errorf("no hub: %v", err)
	}
}

func TestCmdTokenDiscovery(t *testing.T) {
	dir := t.TempDir()
	envOf := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	tok, src, err := discoverToken(" flagtok ", envOf(map[string]string{"OMTX_TOKEN": "envtok"}))
	if err != nil || tok != "flagtok" || src != "--token" {
		t.Fatalf("flag: %q %q %v", tok, src, err)
	}
	tok, src, err = discoverToken("", envOf(map[string]string{"OMTX_TOKEN": "envtok", "OMTX_DATA_DIR": dir}))
	if err != nil || tok != "envtok" || src != "OMTX_TOKEN" {
		t.Fatalf("env: %q %q %v", tok, src, err)
	}
	_, _, err = discoverToken("", envOf(map[string]string{"OMTX_DATA_DIR": dir}))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "local-token")) || !strings.Contains(err.Error(), "OMTX_DATA_DIR") {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "local-token"), []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err = discoverToken("", envOf(map[string]string{"OMTX_DATA_DIR": dir})); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "local-token"), []byte("filetok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, src, err = discoverToken("", envOf(map[string]string{"OMTX_DATA_DIR": dir}))
	if err != nil || tok != "filetok" || src != filepath.Join(dir, "local-token") {
		t.Fatalf("file: %q %q %v", tok, src, err)
	}
	// Without OMTX_DATA_DIR: ./data of the working directory.
	t.Chdir(t.TempDir())
	_, _, err = discoverToken("", envOf(nil))
	if err == nil || !strings.Contains(err.Error(), filepath.Join("data", "local-token")) || !strings.Contains(err.Error(), "default data folder") {
		t.Fatalf("default folder: %v", err)
	}
	os.Mkdir("data", 0o755)
	os.WriteFile(filepath.Join("data", "local-token"), []byte("cwdtok"), 0o600)
	if tok, _, err = discoverToken("", envOf(nil)); err != nil || tok != "cwdtok" {
		t.Fatalf("./data: %q %v", tok, err)
	}
}

func TestCmdRenderProgress(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		b    api.Batch
		now  time.Time
		want string
	}{
		{"not started", api.Batch{Status: "pending", Progress: api.Progress{Total: 30, Pending: 30}}, start,
			"[..........] 0/30 0% 0 running 0 failed"},
		{"running", api.Batch{Status: "running", StartedAt: &start,
			Progress: api.Progress{Total: 30, Completed: 12, Running: 3, Pending: 15}}, start.Add(86*time.Second + 700*time.Millisecond),
			"[####......] 12/30 40% 3 running 0 failed ETA 2m10s"},
		{"paused with failures", api.Batch{Status: "running", Paused: true, StartedAt: &start,
			Progress: api.Progress{Total: 4, Completed: 1, Failed: 1, Pending: 2}}, start.Add(time.Minute),
			"[#####.....] 2/4 50% 0 running 1 failed paused"},
		{"finalizing", api.Batch{Status: "completed", FinalizeState: "leased", StartedAt: &start,
			Progress: api.Progress{Total: 3, Completed: 2, Cancelled: 1}}, start.Add(time.Minute),
			"[##########] 3/3 100% 0 running 0 failed 1 cancelled writing results"},
		{"done", api.Batch{Status: "completed", FinalizeState: "done", StartedAt: &start,
			Progress: api.Progress{Total: 3, Completed: 3}}, start.Add(time.Minute),
			"[##########] 3/3 100% 0 running 0 failed"},
		{"one third", api.Batch{Status: "running", StartedAt: &start, Progress: api.Progress{Total: 3, Completed: 1, Running: 2}},
			start.Add(10 * time.Second), "[###.......] 1/3 33% 2 running 0 failed ETA 20s"},
	}
	for _, c := range cases {
		if got := renderProgress(c.b, c.now); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestCmdProgressPrinter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	b := api.Batch{Status: "running", Progress: api.Progress{Total: 10, Pending: 10}}
	var term bytes.Buffer
	pp := &progressPrinter{w: &term, terminal: true, now: clock}
	pp.update(b)
	b.Progress = api.Progress{Total: 10, Completed: 10}
	b.Status, b.FinalizeState = "completed", "done"
	pp.update(b)
	pp.done()
	if got := term.String(); !strings.HasPrefix(got, "\r[..........] 0/10") || strings.Count(got, "\r") != 2 ||
		!strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 {
		t.Fatalf("terminal output %q", got)
	}

	var plain bytes.Buffer
	pp = &progressPrinter{w: &plain, terminal: false, now: clock}
	b = api.Batch{Status: "running", Progress: api.Progress{Total: 10, Pending: 10}}
	pp.update(b)
	pp.update(b) // unchanged: no line
	now = now.Add(plainEvery)
	pp.update(b) // unchanged but a while later: a line
	b.Progress.Pending, b.Progress.Completed = 9, 1
	pp.update(b)
	pp.done()
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if len(lines) != 3 || strings.Contains(plain.String(), "\r") || !strings.HasPrefix(lines[2], "[#.........] 1/10") {
		t.Fatalf("plain output %q", plain.String())
	}
}

func TestCmdSubmitErrorListsProblems(t *testing.T) {
	err := &client.Error{Status: 400, ErrorDetail: api.ErrorDetail{Code: "invalid", Message: "2 ligands are invalid", Field: "file",
		Problems: []api.Problem{
			{Row: 2, Line: 3, Field: "smiles", Name: "bad1", Message: "unclosed ring 1"},
			{Row: 5, Line: 6, Field: "smiles", Name: "bad2", Message: "unknown element Xx"},
		}}}
	var stderr bytes.Buffer
	got := submitError("lib.csv", err, &stderr)
	want := "lib.csv: 2 problem(s):\n  row 2 (line 3, bad1) smiles: unclosed ring 1\n  row 5 (line 6, bad2) smiles: unknown element Xx\n"
	if stderr.String() != want {
		t.Fatalf("stderr %q, want %q", stderr.String(), want)
	}
	if got == nil || !strings.Contains(got.Error(), "2 ligands are invalid") || strings.Contains(got.Error(), "unclosed") {
		t.Fatalf("error %v", got)
	}
	other := submitError("lib.csv", errors.New("connection refused"), &stderr)
	if !strings.Contains(other.Error(), "connection refused") {
		t.Fatalf("other error %v", other)
	}
}

func TestCmdResultsTable(t *testing.T) {
	v1, v2 := -9.5, -7.25
	page := &api.ResultsPage{
		Affinity: api.Metric{Name: "affinity", Unit: "kcal/mol", Better: "lower", Primary: true},
		Metrics: []api.Metric{{Name: "affinity", Unit: "kcal/mol", Better: "lower", Primary: true},
			{Name: "ligand_efficiency", Unit: "kcal/mol/HA", Better: "lower"}},
		Total: 3,
	}
	rows := []api.ResultRow{
		{Index: 0, JobID: "j0", LigandName: "imatinib", SMILES: "C", Status: "completed", Affinity: &v1, Metrics: map[string]float64{"ligand_efficiency": 0.48461538}},
		{Index: 5, JobID: "j5", LigandName: "aspirin", SMILES: "CC", Status: "completed", Affinity: &v2},
		{Index: 2, JobID: "j2", LigandName: "broken", SMILES: "CCC", Status: "failed", Error: "vina exited\nwith status 1"},
	}
	var out bytes.Buffer
	if err := writeResultsTable(&out, page, rows, true); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, w := range []string{"affinity (kcal/mol, lower is better)", "ligand_efficiency (kcal/mol/HA)", "-9.5", " 0.4846 ",
		"failed: vina exited with status 1", "6  "} {
		if !strings.Contains(s, w) {
			t.Errorf("table lacks %q:\n%s", w, s)
		}
	}
	out.Reset()
	if err := writeResultsCSV(&out, page, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[0] != "index,job_id,ligand_name,smiles,status,affinity_kcal_per_mol,ligand_efficiency,error" ||
		lines[1] != "0,j0,imatinib,C,completed,-9.5,0.48461538," || !strings.HasPrefix(lines[3], "2,j2,broken,CCC,failed,,,\"vina exited") {
		t.Fatalf("csv:\n%s", out.String())
	}
	if got := metricHeader(api.Metric{Name: "confidence", Better: "higher"}); got != "confidence (higher is better)" {
		t.Errorf("metricHeader = %q", got)
	}
}

// TestCmdDemoLibraries checks that the embedded demonstration libraries
// are valid and name bundled targets.
func TestCmdDemoLibraries(t *testing.T) {
	targets := map[string]bool{}
	for _, tg := range vina.Targets() {
		targets[tg.ID] = true
	}
	for _, d := range demoBatches {
		if !targets[d.Target] {
			t.Errorf("%s: %s is not a bundled target", d.Name, d.Target)
		}
		f, err := demoLibraries.Open("testdata/demo/" + d.Library)
		if err != nil {
			t.Fatal(err)
		}
		lib, err := ligands.Read(f, ligands.FormatCSV, ligands.Options{})
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", d.Library, err)
		}
		if len(lib.Entries) < 2 {
			t.Errorf("%s: %d ligands", d.Library, len(lib.Entries))
		}
	}
	files, _ := fs.Glob(demoLibraries, "testdata/demo/*.csv")
	if len(files) < len(demoBatches) {
		t.Errorf("embedded: %v", files)
	}
}

// cliHub is the real handler stack over SQLite and files, with the
// bundled targets, for the commands to talk to.
type cliHub struct {
	url   string
	token string
	store jobs.Store
	res   *results.Store
	reg   *gpu.Registry
	data  string
}

func cliStartHub(t *testing.T) *cliHub {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := jobsqlite.Open(ctx, filepath.Join(data, "omtx.db"), jobs.Config{}, jobsqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	res, err := results.Open(ctx, "file://"+filepath.Join(data, "files"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	reg, err := newRegistry()
	if err != nil {
		t.Fatal(err)
	}
	acc, err := accountsqlite.Open(ctx, filepath.Join(data, "accounts.db"), accounts.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	_, token, err := acc.UserCreate(ctx, accounts.NewUser{Name: "local"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := hub.New(hub.Config{Store: store, Results: res, Models: reg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handlers.New(handlers.Deps{Log: log, Service: svc, Accounts: acc,
		Tokens: accounts.NewTokenCache(acc, time.Minute, nil)}))
	t.Cleanup(srv.Close)
	return &cliHub{url: srv.URL, token: token, store: store, res: res, reg: reg, data: data}
}

// runner runs the real runner for models (none: batch finalize tasks
// only) until the test ends.
func (h *cliHub) runner(t *testing.T, models []string) {
	t.Helper()
	r, err := gpu.NewRunner(gpu.RunnerConfig{Store: h.store, Results: h.res, Registry: h.reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Owner: "cli-test", Models: models,
		WorkDir: filepath.Join(h.data, "work"), Idle: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.loop(t, func(ctx context.Context) { r.Run(ctx) })
}

// loop runs fn in the background until the test ends.
func (h *cliHub) loop(t *testing.T, fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// cliDockedAffinity are scores Vina gives these ligands in ABL1, for the
// variant that completes jobs through the store.
var cliDockedAffinity = map[string]float64{"aspirin": -6.3, "ethanol": -2.4}

// completeThroughStore plays a worker without docking programs: it leases
// each child, writes its results.json and completes it with the summary a
// runner reports.
func (h *cliHub) completeThroughStore(t *testing.T) {
	h.loop(t, func(ctx context.Context) {
		idle := time.NewTicker(20 * time.Millisecond)
		defer idle.Stop()
		for ctx.Err() == nil {
			j, err := h.store.JobLease(ctx, jobs.LeaseParams{Owner: "store-worker", Models: []string{"vina"}, TTL: time.Minute})
			if err != nil {
				select {
				case <-ctx.Done():
				case <-idle.C:
				}
				continue
			}
			var lig gpu.Ligand
			json.Unmarshal(j.Input, &lig)
			heavy, aff := map[string]float64{"aspirin": 13, "ethanol": 3}[lig.Name], cliDockedAffinity[lig.Name]
			if heavy == 0 {
				heavy, aff = 30, -8.5 // the demonstration's drugs
			}
			metrics := map[string]float64{"affinity": aff, "ligand_efficiency": -aff / heavy, "heavy_atoms": heavy}
			h.res.PutJSON(ctx, results.JobDir(j.BatchID, j.ID)+"/results.json", map[string]any{
				"job_id": j.ID, "batch_id": j.BatchID, "model": "vina", "ligand": lig, "metrics": metrics})
			sum, _ := json.Marshal(results.JobSummary{Metrics: metrics, Primary: "affinity", Files: []string{"results.json"}})
			if err := h.store.JobComplete(ctx, *j.Lease, sum); err != nil && ctx.Err() == nil {
				t.Errorf("complete %s: %v", j.ID, err)
			}
		}
	})
}

// TestCmdEndToEnd drives the commands against the real server: submit a
// library and wait for it, then status, results, download and demo. The
// jobs are run by the real runner with AutoDock Vina when the docking
// programs are installed, and in any case completed through the store by
// a worker that plays the docking engine.
func TestCmdEndToEnd(t *testing.T) {
	t.Run("store", func(t *testing.T) { testCmdEndToEnd(t, false) })
	t.Run("vina", func(t *testing.T) { testCmdEndToEnd(t, true) })
}

func testCmdEndToEnd(t *testing.T, docking bool) {
	h := cliStartHub(t)
	ctx := context.Background()
	if docking {
		m, _ := h.reg.Get("vina")
		if err := m.Check(ctx); err != nil {
			t.Skipf("docking programs missing: %v", err)
		}
		h.runner(t, []string{"vina"})
	} else {
		h.completeThroughStore(t)
		h.runner(t, []string{})
	}
	// The token comes from the local-token file of the data folder.
	tokenDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(tokenDir, "local-token"), []byte(h.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OMTX_SERVER", h.url)
	t.Setenv("OMTX_TOKEN", "")
	t.Setenv("OMTX_DATA_DIR", tokenDir)
	work := t.TempDir()
	lib := filepath.Join(work, "screen.csv")
	os.WriteFile(lib, []byte("name,smiles\naspirin,CC(=O)Oc1ccccc1C(=O)O\nethanol,CCO\nbroken,C1CC\n"), 0o644)

	var out, errOut bytes.Buffer
	cmd := func(f func(context.Context, []string, io.Writer, io.Writer) error, args ...string) error {
		out.Reset()
		errOut.Reset()
		return f(ctx, args, &out, &errOut)
	}

	// An invalid row refuses the library, listed row by row.
	err := cmd(cmdSubmit, "--model", "vina", "--target", "ABL1", "--ligands", lib)
	if err == nil || !strings.Contains(errOut.String(), "\n  row 3 (line 4, broken) smiles: ") {
		t.Fatalf("invalid library: %v\n%s", err, errOut.String())
	}
	t.Logf("omtx submit, invalid library:\n%somtx: %v", errOut.String(), err)

	// Submit the valid rows and wait.
	csvPath := filepath.Join(work, "screen-results.csv")
	err = cmd(cmdSubmit, "--model", "vina", "--target", "ABL1", "--ligands", lib, "--drop-invalid",
		"--param", "exhaustiveness=1", "--param", "num_poses=2", "--wait", "--every", "100ms", "--out", csvPath)
	if err != nil {
		t.Fatalf("submit: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	submitted := out.String()
	t.Logf("omtx submit --wait:\n%s%s", errOut.String(), submitted)
	id := regexp.MustCompile(`batch (\S+) submitted: 2 jobs`).FindStringSubmatch(submitted)
	if id == nil {
		t.Fatalf("no batch id in\n%s", submitted)
	}
	batch := id[1]
	for _, want := range []string{h.url + "/api/v3/batches/" + batch, "results CSV: " + csvPath,
		"top 2 by affinity (kcal/mol, lower is better)", "aspirin", "ethanol"} {
		if !strings.Contains(submitted, want) {
			t.Errorf("submit output lacks %q:\n%s", want, submitted)
		}
	}
	if !strings.Contains(errOut.String(), "\n  row 3 (line 4, broken) smiles: position ") || !strings.Contains(errOut.String(), "2/2 100%") {
		t.Errorf("submit stderr:\n%s", errOut.String())
	}
	written, err := os.ReadFile(csvPath)
	if err != nil || !strings.Contains(string(written), "aspirin") {
		t.Fatalf("results CSV: %v\n%s", err, written)
	}

	if !docking {
		// A receptor of one's own, with its box.
		err = cmd(cmdSubmit, "--model", "vina", "--receptor", "testdata/vina/1iep_receptorH.pdb",
			"--box", "15.19,53.903,16.917,20,20,20", "--ligands", lib, "--drop-invalid")
		if err != nil || !strings.Contains(out.String(), "jobs (vina, receptor 1iep_receptorH.pdb)") {
			t.Fatalf("submit with a receptor: %v\n%s%s", err, out.String(), errOut.String())
		}
		err = cmd(cmdSubmit, "--model", "vina", "--receptor", "testdata/vina/1iep_receptorH.pdb", "--ligands", lib, "--drop-invalid")
		if err == nil || !strings.Contains(err.Error()+errOut.String(), "box") {
			t.Errorf("a receptor without a box: %v\n%s", err, errOut.String())
		}
	}

	// Status: the list, one batch, its JSON.
	if err := cmd(cmdStatus); err != nil || !strings.Contains(out.String(), batch) || !strings.Contains(out.String(), "2/2 100%") {
		t.Fatalf("status: %v\n%s", err, out.String())
	}
	if err := cmd(cmdStatus, batch); err != nil || !strings.Contains(out.String(), "100% at") || !strings.Contains(out.String(), "completed") {
		t.Fatalf("status %s: %v\n%s", batch, err, out.String())
	}
	t.Logf("omtx status BATCH_ID:\n%s", out.String())
	var b api.Batch
	if err := cmd(cmdStatus, batch, "--json"); err != nil || json.Unmarshal(out.Bytes(), &b) != nil || b.FinalizeState != "done" {
		t.Fatalf("status --json: %v\n%s", err, out.String())
	}

	// Results: best first, with unit and direction.
	if err := cmd(cmdResults, batch); err != nil {
		t.Fatal(err)
	}
	t.Logf("omtx results:\n%s", out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "affinity (kcal/mol, lower is better)") {
		t.Fatalf("results:\n%s", out.String())
	}
	if err := cmd(cmdResults, batch, "--format", "json", "--sort", "affinity", "--order", "asc"); err != nil {
		t.Fatal(err)
	}
	var page api.ResultsPage
	if err := json.Unmarshal(out.Bytes(), &page); err != nil || len(page.Rows) != 2 || page.Rows[0].Affinity == nil ||
		page.Rows[1].Affinity == nil || *page.Rows[0].Affinity > *page.Rows[1].Affinity {
		t.Fatalf("results json: %v\n%s", err, out.String())
	}
	best := page.Rows[0]
	if !strings.HasPrefix(lines[1], strconv.Itoa(best.Index+1)+" ") || !strings.Contains(lines[1], best.LigandName) {
		t.Errorf("table's first row is not the best (%s):\n%s", best.LigandName, strings.Join(lines, "\n"))
	}
	if !docking && (best.LigandName != "aspirin" || *best.Affinity != cliDockedAffinity["aspirin"]) {
		t.Errorf("best %+v", best)
	}
	if err := cmd(cmdResults, batch, "--format", "csv", "--q", "ETHAN"); err != nil {
		t.Fatal(err)
	}
	if rows := strings.Split(strings.TrimSpace(out.String()), "\n"); len(rows) != 2 || !strings.Contains(rows[1], ",ethanol,CCO,completed,") {
		t.Fatalf("results csv --q:\n%s", out.String())
	}
	if err := cmd(cmdResults, batch, "--top", "1", "--format", "csv"); err != nil || strings.Count(out.String(), "\n") != 2 {
		t.Fatalf("results --top 1: %v\n%s", err, out.String())
	}

	// Downloads: named by the server, into a folder; the ZIP holds the
	// batch's CSV; a job's files.
	dl := t.TempDir()
	if err := cmd(cmdDownload, batch, "--out", dl); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(dl, batch+"_results.csv")
	if raw, err := os.ReadFile(got); err != nil || !bytes.Equal(raw, written) || !strings.HasPrefix(out.String(), got+" (") {
		t.Fatalf("download csv: %v; printed %q", err, out.String())
	}
	if err := cmd(cmdDownload, batch, "--what", "zip", "--out", dl); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(filepath.Join(dl, batch+"_results.zip"))
	if err != nil {
		t.Fatalf("zip: %v (%s)", err, out.String())
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	zr.Close()
	if !slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, "batch_results.csv") }) ||
		!slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, best.JobID+"/results.json") }) {
		t.Fatalf("zip holds %v", names)
	}
	jsonPath := filepath.Join(dl, "best.json")
	if err := cmd(cmdDownload, batch, "--job", best.JobID, "--file", "results.json", "--out", jsonPath); err != nil {
		t.Fatal(err)
	}
	if raw, err := os.ReadFile(jsonPath); err != nil || !json.Valid(raw) || !strings.Contains(string(raw), best.LigandName) {
		t.Fatalf("results.json: %v %s", err, raw)
	}
	if docking {
		if err := cmd(cmdDownload, batch, "--job", best.JobID, "--file", "cif", "--out", dl); err != nil {
			t.Fatal(err)
		}
		path := strings.Fields(out.String())[0]
		if raw, err := os.ReadFile(path); err != nil || !bytes.HasPrefix(raw, []byte("data_")) {
			t.Fatalf("cif %s: %v", path, err)
		}
	}
	if err := cmd(cmdDownload, batch, "--job", "nope", "--file", "results.json", "--out", dl); !client.IsStatus(err, 404) {
		t.Fatalf("unknown job: %v", err)
	}

	// A refused token says where it came from.
	if err := cmd(cmdStatus, "--token", "omtx_wrong"); !client.IsStatus(err, 401) || !strings.Contains(err.Error(), "came from --token") {
		t.Fatalf("wrong token: %v", err)
	}

	// The demonstration batches are submitted from the embedded files.
	// Docked for real they take minutes, so they are cancelled at once;
	// completed through the store, demo --wait sees them to the end.
	demoArgs := []string{"--wait", "--every", "50ms"}
	if docking {
		demoArgs = nil
	}
	if err := cmd(cmdDemo, demoArgs...); err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	t.Logf("omtx demo %s:\n%s", strings.Join(demoArgs, " "), out.String())
	demoIDs := regexp.MustCompile(`batch (\S+), (\d+) ligands`).FindAllStringSubmatch(out.String(), -1)
	if len(demoIDs) != len(demoBatches) || demoIDs[0][2] != "6" || demoIDs[1][2] != "3" ||
		!strings.Contains(out.String(), h.url+"/api/v3/batches/"+demoIDs[0][1]+"/results") {
		t.Fatalf("demo printed:\n%s", out.String())
	}
	if !docking && (strings.Count(out.String(), " completed: ") != 2 || !strings.Contains(out.String(), "imatinib") ||
		!strings.Contains(out.String(), "gefitinib")) {
		t.Fatalf("demo --wait printed:\n%s", out.String())
	}
	c, err := client.New(h.url, h.token)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range demoIDs {
		if docking {
			if _, err := c.Control(ctx, d[1], api.ActionCancel); err != nil {
				t.Fatal(err)
			}
		}
		bt, err := c.Batch(ctx, d[1])
		if err != nil || bt.Target == "" || bt.Progress.Total == 0 {
			t.Fatalf("demo batch %+v %v", bt, err)
		}
	}
	rows := 4 // a header, two demo batches and the screen
	if !docking {
		rows++ // and the screen with its own receptor
	}
	if err := cmd(cmdStatus); err != nil || strings.Count(out.String(), "\n") != rows {
		t.Fatalf("status after demo: %v\n%s", err, out.String())
	}
	t.Logf("omtx status:\n%s", out.String())

	// A protein from a FASTA file and typed parameters, for Boltz-2 (no
	// runner takes it here).
	fasta := filepath.Join(work, "sh3.fasta")
	os.WriteFile(fasta, []byte(">ABL1_SH3 human ABL1 SH3 domain\nNLFVALYDFVASGDNTLSITKGEKLRVLGYNHNGEWCEAQTKNGQGWVPSNYITPVN\n"), 0o644)
	err = cmd(cmdSubmit, "--model", "boltz2", "--protein-fasta", fasta, "--ligands", lib, "--drop-invalid",
		"--param", "seed=7", "--param", "use_potentials=true", "--name", "sh3 screen")
	if err != nil {
		t.Fatalf("boltz2 submit: %v\n%s", err, errOut.String())
	}
	id = regexp.MustCompile(`batch (\S+) submitted: 2 jobs \(boltz2, ABL1_SH3\)`).FindStringSubmatch(out.String())
	if id == nil {
		t.Fatalf("boltz2 submit printed:\n%s", out.String())
	}
	if bt, err := c.Batch(ctx, id[1]); err != nil || bt.ProteinName != "ABL1_SH3" || bt.JobName != "sh3 screen" || bt.ModelName != "boltz2" {
		t.Fatalf("boltz2 batch %+v %v", bt, err)
	}
	err = cmd(cmdSubmit, "--model", "boltz2", "--protein-fasta", fasta, "--ligands", lib, "--drop-invalid", "--param", "seed=\"seven\"")
	if err == nil || !strings.Contains(err.Error(), "seed") {
		t.Fatalf("string seed: %v", err)
	}
}
