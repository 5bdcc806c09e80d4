package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omtx/api"
	"omtx/chem/ligands"
	"omtx/gpu"
	"omtx/gpu/boltz2"
	"omtx/gpu/chai1"
	"omtx/gpu/rfantibody"
	"omtx/gpu/vina"
	"omtx/jobs"
	"omtx/jobs/jobstest"
	"omtx/jobs/sqlite"
	"omtx/results"
)

// testEnv is a service over a real SQLite store and a real file:// result
// store, with the real model registry.
type testEnv struct {
	t     testing.TB
	svc   *Service
	store *sqlite.Store
	res   *results.Store
	clock *jobstest.Clock
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newRegistry(t testing.TB) *gpu.Registry {
	t.Helper()
	dock, err := vina.New(vina.Config{Targets: os.DirFS("../testdata")})
	if err != nil {
		t.Fatal(err)
	}
	return gpu.NewRegistry(dock, boltz2.New(boltz2.Config{}), chai1.New(chai1.Config{}), rfantibody.New(rfantibody.Config{}))
}

func newEnv(t testing.TB, accept ...string) *testEnv {
	t.Helper()
	ctx := context.Background()
	clock := jobstest.NewClock(t0)
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "jobs.db"), jobs.Config{Clock: clock}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	res, err := results.Open(ctx, "file://"+filepath.ToSlash(dir)+"/blob")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	if accept == nil {
		accept = []string{"vina", "boltz2"}
	}
	svc, err := New(Config{Store: store, Results: res, Models: newRegistry(t), Accept: accept, Clock: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, svc: svc, store: store, res: res, clock: clock}
}

var caller = Caller{UserID: "alice", MaxLigandsPerBatch: 100, MaxRunning: 4, RequestID: "req-1"}

// library is a small set of real molecules.
var library = []api.Ligand{
	{Name: "imatinib", SMILES: "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"},
	{Name: "aspirin", SMILES: "CC(=O)Oc1ccccc1C(=O)O"},
	{Name: "erlotinib", SMILES: "COCCOc1cc2ncnc(Nc3cccc(C#C)c3)c2cc1OCCOC"},
	{Name: "gefitinib", SMILES: "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1"},
	{Name: "caffeine", SMILES: "Cn1cnc2c1c(=O)n(C)c(=O)n2C"},
}

func vinaBatch(ligs ...api.Ligand) api.SubmitBatchRequest {
	return api.SubmitBatchRequest{JobName: "kinase screen", ModelName: "vina", ProteinName: "ABL1 kinase", Target: "ABL1",
		Ligands: append([]api.Ligand(nil), ligs...), Parameters: json.RawMessage(`{"exhaustiveness": 4}`)}
}

func (e *testEnv) submit(c Caller, req api.SubmitBatchRequest) *api.SubmitBatchResponse {
	e.t.Helper()
	resp, err := e.svc.SubmitBatch(context.Background(), c, req)
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	return resp
}

// outcome is what a test worker does with a leased job: complete it with
// metrics, or fail it with an error when metrics is nil.
type outcome struct {
	metrics map[string]float64
	err     string
}

// work leases and ends every pending job, choosing each outcome by the
// job's ligand name, and writes each completed job's files as a runner
// would.
func (e *testEnv) work(model string, decide func(name string) outcome) int {
	e.t.Helper()
	return e.workN(model, -1, decide)
}

// workN is work for at most limit jobs (all when negative).
func (e *testEnv) workN(model string, limit int, decide func(name string) outcome) int {
	e.t.Helper()
	ctx := context.Background()
	n := 0
	for n != limit {
		j, err := e.store.JobLease(ctx, jobs.LeaseParams{Owner: "test-worker", Models: []string{model}, TTL: time.Minute})
		if jobs.IsCode(err, jobs.ErrNoWork) {
			return n
		}
		if err != nil {
			e.t.Fatalf("lease: %v", err)
		}
		e.clock.Advance(time.Second)
		o := decide(ligandOf(j).Name)
		if o.metrics == nil {
			if err := e.store.JobFail(ctx, *j.Lease, jobs.Failure{Error: o.err}); err != nil {
				e.t.Fatalf("fail: %v", err)
			}
			n++
			continue
		}
		dir := results.JobDir(batchOf(j), j.ID)
		files := map[string]string{
			"structure.cif": "data_" + j.ID + "\n",
			"poses.sdf":     ligandOf(j).Name + "\n  pose\n\nM  END\n$$$$\n",
			"results.json":  fmt.Sprintf("{\"job_id\": %q}\n", j.ID),
			"metadata.json": "{}\n",
			"logs.txt":      "docked\n",
		}
		var names []string
		for name, content := range files {
			if err := e.res.Put(ctx, dir+"/"+name, strings.NewReader(content), ""); err != nil {
				e.t.Fatal(err)
			}
			names = append(names, name)
		}
		sum, _ := json.Marshal(results.JobSummary{Metrics: o.metrics, Primary: "affinity", Files: names, ElapsedSeconds: 12.5})
		if err := e.store.JobComplete(ctx, *j.Lease, sum); err != nil {
			e.t.Fatalf("complete: %v", err)
		}
		n++
	}
	return n
}

// vinaOutcomes gives each known ligand a Vina result; "bad" ones fail.
var vinaOutcomes = map[string]float64{"imatinib": -12.8, "aspirin": -6.1, "erlotinib": -9.4, "gefitinib": -9.4}

func vinaDecide(name string) outcome {
	a, ok := vinaOutcomes[name]
	if !ok {
		return outcome{err: "vina: ligand preparation failed"}
	}
	return outcome{metrics: map[string]float64{"affinity": a, "ligand_efficiency": -a / 30, "heavy_atoms": 30}}
}

// wantCode fails unless err is a *jobs.Error with code and field.
func wantCode(t testing.TB, err error, code, field string) *jobs.Error {
	t.Helper()
	var je *jobs.Error
	if !errors.As(err, &je) {
		t.Fatalf("error %v (%T), want *jobs.Error %s on %q", err, err, code, field)
	}
	if je.Code != code || je.Field != field {
		t.Fatalf("error %s on %q (%s), want %s on %q", je.Code, je.Field, je.Message, code, field)
	}
	return je
}

func wantProblems(t testing.TB, err error) []ligands.Problem {
	t.Helper()
	var le *ligands.Error
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T), want *ligands.Error", err, err)
	}
	return le.Problems
}
