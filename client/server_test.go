package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omtx/accounts"
	accountsqlite "omtx/accounts/sqlite"
	"omtx/api"
	"omtx/gpu"
	"omtx/gpu/vina"
	"omtx/handlers"
	"omtx/hub"
	"omtx/jobs"
	"omtx/jobs/jobstest"
	jobsqlite "omtx/jobs/sqlite"
	"omtx/ratelimit"
	"omtx/results"
)

// testHub is the real handler stack over SQLite and files.
type testHub struct {
	url     string
	token   string
	store   jobs.Store
	res     *results.Store
	reg     *gpu.Registry
	workDir string
}

type hubOptions struct {
	clock  jobs.Clock
	limits map[accounts.Tier]accounts.Limits
}

func startHub(t *testing.T, o hubOptions) *testHub {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	if o.clock == nil {
		o.clock = jobs.SystemClock{}
	}
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
	dock, err := vina.New(vina.Config{Targets: os.DirFS("../testdata")})
	if err != nil {
		t.Fatal(err)
	}
	reg := gpu.NewRegistry(dock)
	acc, err := accountsqlite.Open(ctx, filepath.Join(data, "accounts.db"), accounts.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	_, token, err := acc.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := hub.New(hub.Config{Store: store, Results: res, Models: reg, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	d := handlers.Deps{Log: quiet(), Service: svc, Accounts: acc, Tokens: accounts.NewTokenCache(acc, time.Minute, nil),
		Limits: o.limits, Clock: o.clock}
	if o.limits != nil {
		d.Limiter = ratelimit.New(o.clock)
	}
	srv := httptest.NewServer(handlers.New(d))
	t.Cleanup(srv.Close)
	return &testHub{url: srv.URL, token: token, store: store, res: res, reg: reg, workDir: filepath.Join(data, "work")}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// finalizer runs the real runner for batch finalize tasks only (no
// model), until the test ends.
func (h *testHub) finalizer(t *testing.T) {
	t.Helper()
	r, err := gpu.NewRunner(gpu.RunnerConfig{Store: h.store, Results: h.res, Registry: h.reg, Log: quiet(),
		Owner: "finalizer", Models: []string{}, WorkDir: h.workDir, Idle: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

const library = "name,smiles\naspirin,CC(=O)Oc1ccccc1C(=O)O\nethanol,CCO\ncaffeine,Cn1cnc2c1c(=O)n(C)c(=O)n2C\n"

// TestServerRoutes calls every route of the client against the real
// handlers and service.
func TestServerRoutes(t *testing.T) {
	h := startHub(t, hubOptions{})
	h.finalizer(t)
	ctx := context.Background()
	c, err := New(h.url, h.token)
	if err != nil {
		t.Fatal(err)
	}

	me, err := c.Me(ctx)
	if err != nil || me.Name != "alice" || me.Limits.MaxLigandsPerBatch == 0 {
		t.Fatalf("me %+v %v", me, err)
	}
	models, err := c.Models(ctx)
	if err != nil || len(models.Models) != 1 || models.Models[0].Name != "vina" {
		t.Fatalf("models %+v %v", models, err)
	}

	// Checking ligands, inline and as a file.
	v, err := c.ValidateLigands(ctx, api.ValidateLigandsRequest{Ligands: []api.Ligand{{Name: "ok", SMILES: "CCO"}, {Name: "bad", SMILES: "C1CC"}}})
	if err != nil || v.Valid != 1 || v.Invalid != 1 || v.Results[1].Valid || v.Results[1].Error == nil {
		t.Fatalf("validate %+v %v", v, err)
	}
	v, err = c.ValidateLibrary(ctx, "vina", "lib.csv", strings.NewReader(library))
	if err != nil || v.Valid != 3 || v.Results[2].Name != "caffeine" {
		t.Fatalf("validate library %+v %v", v, err)
	}

	// A refused library lists its problems row by row.
	_, err = c.SubmitLibrary(ctx, api.SubmitBatchRequest{ModelName: "vina", Target: "ABL1", JobName: "bad"},
		"bad.csv", strings.NewReader("name,smiles\nok,CCO\nbroken,C1CC\nworse,Xx\n"))
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != 400 || len(ce.Problems) != 2 || ce.Problems[0].Row != 2 || ce.Problems[0].Name != "broken" {
		t.Fatalf("bad library: %#v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "row 2 (line 3, broken)") || !strings.Contains(msg, "row 3 (line 4, worse)") {
		t.Fatalf("message %q", msg)
	}
	// A bad field names itself.
	_, err = c.SubmitBatch(ctx, api.SubmitBatchRequest{ModelName: "nope", Ligands: []api.Ligand{{Name: "a", SMILES: "CCO"}}})
	if !errors.As(err, &ce) || ce.Field != "model_name" || !strings.Contains(err.Error(), "model_name: ") {
		t.Fatalf("bad model: %v", err)
	}

	sub, err := c.SubmitLibrary(ctx, api.SubmitBatchRequest{ModelName: "vina", Target: "ABL1", JobName: "three",
		Parameters: []byte(`{"exhaustiveness":1}`)}, "lib.csv", strings.NewReader(library))
	if err != nil || sub.TotalJobs != 3 || sub.BatchID == "" {
		t.Fatalf("submit %+v %v", sub, err)
	}
	inline, err := c.SubmitBatch(ctx, api.SubmitBatchRequest{ModelName: "vina", Target: "EGFR", JobName: "inline",
		Ligands: []api.Ligand{{Name: "ethanol", SMILES: "CCO"}}})
	if err != nil || inline.TotalJobs != 1 {
		t.Fatalf("inline %+v %v", inline, err)
	}

	list, err := c.Batches(ctx, api.ListQuery{PageSize: 1})
	if err != nil || len(list.Batches) != 1 || list.Batches[0].BatchID != inline.BatchID || !list.HasMore {
		t.Fatalf("list %+v %v", list, err)
	}
	list, err = c.Batches(ctx, api.ListQuery{Page: 2, PageSize: 1})
	if err != nil || len(list.Batches) != 1 || list.Batches[0].BatchID != sub.BatchID {
		t.Fatalf("page 2 %+v %v", list, err)
	}
	b, err := c.Batch(ctx, sub.BatchID)
	if err != nil || b.Progress.Total != 3 || b.Target != "ABL1" || b.JobName != "three" {
		t.Fatalf("batch %+v %v", b, err)
	}
	page, err := c.Results(ctx, sub.BatchID, api.ResultsQuery{Sort: "ligand_name", Order: "asc", Q: "a"})
	if err != nil || page.Affinity.Unit != "kcal/mol" || page.Affinity.Better != "lower" {
		t.Fatalf("results %+v %v", page, err)
	}
	if len(page.Rows) != 3 || page.Rows[0].LigandName != "aspirin" || page.Rows[1].LigandName != "caffeine" {
		t.Fatalf("rows %+v", page.Rows)
	}
	job, err := c.BatchJob(ctx, sub.BatchID, page.Rows[0].JobID)
	if err != nil || job.LigandName != "aspirin" || job.Status != "pending" {
		t.Fatalf("job %+v %v", job, err)
	}
	if _, err := c.Analytics(ctx, sub.BatchID); err != nil {
		t.Fatal(err)
	}

	// Controls: pause, resume, cancel; the batch then ends and is
	// finalized, and WaitBatch sees it.
	cr, err := c.Control(ctx, sub.BatchID, api.ActionPause)
	if err != nil || !cr.Batch.Paused {
		t.Fatalf("pause %+v %v", cr, err)
	}
	if cr, err = c.Control(ctx, sub.BatchID, api.ActionResume); err != nil || cr.Batch.Paused {
		t.Fatalf("resume %+v %v", cr, err)
	}
	if _, err := c.Control(ctx, sub.BatchID, "explode"); err == nil {
		t.Fatal("unknown action accepted")
	}
	if cr, err = c.Control(ctx, sub.BatchID, api.ActionCancel); err != nil || cr.Affected != 3 {
		t.Fatalf("cancel %+v %v", cr, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var seen int
	b, err = c.WaitBatch(wctx, sub.BatchID, 20*time.Millisecond, func(api.Batch) { seen++ })
	if err != nil || b.Status != "cancelled" || b.FinalizeState != "done" || seen == 0 {
		t.Fatalf("wait %+v %v", b, err)
	}
	// Pausing an ended batch is a conflict.
	if _, err := c.Control(ctx, sub.BatchID, api.ActionPause); !errors.As(err, &ce) || ce.Status != 409 || ce.Code != "conflict" {
		t.Fatalf("pause ended batch: %v", err)
	}
	var csv strings.Builder
	name, n, err := c.Download(ctx, ExportPath(sub.BatchID, "csv"), &csv)
	if err != nil || n == 0 || !strings.HasSuffix(name, ".csv") || !strings.Contains(csv.String(), "aspirin") {
		t.Fatalf("export %q %d %v\n%s", name, n, err, csv.String())
	}
	if err := c.DeleteBatch(ctx, sub.BatchID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Batch(ctx, sub.BatchID); !IsStatus(err, 404) {
		t.Fatalf("deleted batch: %v", err)
	}

	// A single prediction.
	pr, err := c.Predict(ctx, api.PredictRequest{ModelName: "vina", Target: "ABL1", LigandName: "ethanol", LigandSMILES: "CCO"})
	if err != nil || pr.JobID == "" {
		t.Fatalf("predict %+v %v", pr, err)
	}
	j, err := c.Job(ctx, pr.JobID)
	if err != nil || j.Type != "INDIVIDUAL" || j.SMILES != "CCO" {
		t.Fatalf("job %+v %v", j, err)
	}

	// A wrong token is refused.
	other, _ := New(h.url, "omtx_wrong")
	if _, err := other.Me(ctx); !IsStatus(err, 401) {
		t.Fatalf("wrong token: %v", err)
	}
}

// TestServerRateLimit checks that a rate-limited submission is sent again
// after Retry-After: the wait moves the server's clock.
func TestServerRateLimit(t *testing.T) {
	clock := jobstest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	limits := accounts.DefaultLimits()
	l := limits[accounts.TierDefault]
	l.SubmitPerMinute = 1
	limits[accounts.TierDefault] = l
	h := startHub(t, hubOptions{clock: clock, limits: limits})
	c, err := New(h.url, h.token)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	c.wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		clock.Advance(d)
		return nil
	}
	ctx := context.Background()
	req := api.SubmitBatchRequest{ModelName: "vina", Target: "ABL1", Ligands: []api.Ligand{{Name: "ethanol", SMILES: "CCO"}}}
	if _, err := c.SubmitBatch(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitBatch(ctx, req); err != nil {
		t.Fatalf("second submission after waiting: %v", err)
	}
	if len(waits) != 1 || waits[0] < time.Second || waits[0] > time.Minute {
		t.Fatalf("waits %v", waits)
	}
	// Without retries the 429 comes back with its wait.
	c.retries = 0
	_, err = c.SubmitBatch(ctx, req)
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != 429 || ce.RetryAfter < time.Second || !strings.Contains(err.Error(), "retry after") {
		t.Fatalf("err %v", err)
	}
	list, err := c.Batches(ctx, api.ListQuery{})
	if err != nil || len(list.Batches) != 2 {
		t.Fatalf("%d batches, %v", len(list.Batches), err)
	}
}
