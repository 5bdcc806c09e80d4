package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"omtx/accounts"
	"omtx/api"
	"omtx/jobs"
	"omtx/loadgen"
	"omtx/metrics"
	"omtx/results"
)

// apiBench is a whole server as serve builds it (SQLite, files, local
// tokens, rate limits, metrics, access log), on loopback.
type apiBench struct {
	b     *backends
	srv   *httptest.Server
	token string
	user  *accounts.User
}

func newAPIBench(tb testing.TB) *apiBench {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	c := config{dataDir: dir, store: "sqlite://" + filepath.Join(dir, "omtx.db"), blob: "file://" + filepath.Join(dir, "files")}
	b, err := openBackends(ctx, c)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	users, err := openAccounts(ctx, c.store, b.clock)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { users.Close() })
	u, token, err := users.UserCreate(ctx, accounts.NewUser{Name: "bench", Tier: accounts.TierEnterprise})
	if err != nil {
		tb.Fatal(err)
	}
	// The limiter runs on every request, with a read rate the load
	// generator cannot reach: the benchmark measures the cost of the
	// limits, not their refusals.
	limits := accounts.DefaultLimits()
	l := limits[accounts.TierEnterprise]
	l.ReadPerMinute, l.SubmitPerMinute = 1e9, 1e9
	limits[accounts.TierEnterprise] = l
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, stop, err := newServer(ctx, b, users, limits, metrics.New(b.store.Stats), []string{"vina"}, false, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return &apiBench{b: b, srv: srv, token: token, user: u}
}

func (a *apiBench) do(tb testing.TB, method, path string, body any, out any) {
	tb.Helper()
	var r io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, r)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		tb.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			tb.Fatal(err)
		}
	}
}

// submit submits n ligands against ABL1 through the API.
func (a *apiBench) submit(tb testing.TB, n int) string {
	tb.Helper()
	smiles := []string{"CC(=O)Oc1ccccc1C(=O)O", "c1ccc2ccccc2c1", "CCN(CC)CCNC(=O)c1ccc(N)cc1", "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"}
	req := api.SubmitBatchRequest{JobName: "bench", ModelName: "vina", ProteinName: "ABL1", Target: "ABL1"}
	for i := 0; i < n; i++ {
		req.Ligands = append(req.Ligands, api.Ligand{Name: fmt.Sprintf("lig%05d", i), SMILES: smiles[i%len(smiles)]})
	}
	var out api.SubmitBatchResponse
	a.do(tb, http.MethodPost, "/api/v3/batches/submit", req, &out)
	return out.BatchID
}

// complete ends every pending child of the store with a docking-like
// result (affinity spread over -12..-4 kcal/mol), as a runner would.
func (a *apiBench) complete(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	for i := 0; ; i++ {
		j, err := a.b.store.JobLease(ctx, jobs.LeaseParams{Owner: "bench", Models: []string{"vina"}, TTL: time.Minute})
		if jobs.IsCode(err, jobs.ErrNoWork) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		if j.Type == jobs.TypeBatchParent {
			if err := a.b.store.JobComplete(ctx, *j.Lease, nil); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		aff := -4 - 8*float64((i*7919)%1000)/1000
		sum, _ := json.Marshal(results.JobSummary{Primary: "affinity", Metrics: map[string]float64{
			"affinity": aff, "ligand_efficiency": aff / 30, "molecular_weight": 180 + float64(i%300), "heavy_atoms": 13 + float64(i%20)}})
		if err := a.b.store.JobComplete(ctx, *j.Lease, sum); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkAPIBatchGet drives authenticated GET /api/v3/batches/{id}
// with the load generator (32 keep-alive connections) and, in the same
// run, a bare net/http handler answering the same JSON, and reports both
// and their ratio. Load generator and server share the machine's cores.
func BenchmarkAPIBatchGet(b *testing.B) {
	a := newAPIBench(b)
	id := a.submit(b, 100)
	var batch api.Batch
	a.do(b, http.MethodGet, "/api/v3/batches/"+id, nil, &batch)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(batch)
	}))
	defer bare.Close()
	cfg := loadgen.Config{Connections: 32, Duration: 5 * time.Second, Warmup: time.Second}
	for i := 0; i < b.N; i++ {
		cfg.URL, cfg.Header = bare.URL, nil
		base, err := loadgen.Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		cfg.URL, cfg.Header = a.srv.URL+"/api/v3/batches/"+id, http.Header{"Authorization": {"Bearer " + a.token}}
		hub, err := loadgen.Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if hub.Non2xx+hub.Errors > 0 || base.Non2xx+base.Errors > 0 {
			b.Fatalf("failed requests: hub %s; bare %s", hub, base)
		}
		b.Logf("bare net/http: %s", base)
		b.Logf("hub API:       %s", hub)
		b.ReportMetric(hub.ReqPerSec, "req/s")
		b.ReportMetric(float64(hub.P50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(hub.P99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(base.ReqPerSec, "bare-req/s")
		b.ReportMetric(hub.ReqPerSec/base.ReqPerSec, "ratio")
	}
}

// BenchmarkAPIResults10k times GET /api/v3/batches/{id}/results sorted by
// affinity on a finished batch of 10,000 ligands: one page of 50 rows and
// the whole table in one page.
func BenchmarkAPIResults10k(b *testing.B) {
	a := newAPIBench(b)
	id := a.submit(b, 10000)
	a.complete(b)
	for _, size := range []int{50, 10000} {
		b.Run(fmt.Sprintf("page_size=%d", size), func(b *testing.B) {
			path := fmt.Sprintf("/api/v3/batches/%s/results?sort=affinity&page_size=%d", id, size)
			var page api.ResultsPage
			a.do(b, http.MethodGet, path, nil, &page)
			if page.Total != 10000 || len(page.Rows) != size || *page.Rows[0].Affinity > *page.Rows[len(page.Rows)-1].Affinity {
				b.Fatalf("unexpected page: total %d, %d rows", page.Total, len(page.Rows))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a.do(b, http.MethodGet, path, nil, nil)
			}
		})
	}
}
