package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"omtx/api"
	"omtx/loadgen"
)

// loadRoute is one route the load benchmark drives: a request and the
// status its success answers.
type loadRoute struct {
	name   string
	method string
	path   string
	body   any // JSON; nil for none
	status int
}

// BenchmarkAPIRoutes drives the main read and write routes of a whole
// server on loopback with the load generator (32 keep-alive connections,
// 2 s each after 0.5 s of warm-up) and, in the same run and for each
// route, a bare net/http handler that reads the same request and answers
// the same bytes. It reports the route's req/s, p50 and p99 and its ratio
// to the bare handler. Load generator and server share the machine's
// cores. The reads run on a finished batch of 100 ligands and a list of
// 20 batches; the writes check 4 ligands and submit batches of 4 new
// ligands (children pending: no runner takes them).
func BenchmarkAPIRoutes(b *testing.B) {
	a := newAPIBench(b)
	id := a.submit(b, 100)
	a.complete(b)
	for range 19 {
		a.submit(b, 2)
	}
	fresh := []api.Ligand{
		{Name: "caffeine", SMILES: "Cn1cnc2c1c(=O)n(C)c(=O)n2C"},
		{Name: "ibuprofen", SMILES: "CC(C)Cc1ccc(cc1)C(C)C(=O)O"},
		{Name: "paracetamol", SMILES: "CC(=O)Nc1ccc(O)cc1"},
		{Name: "ethanol", SMILES: "CCO"},
	}
	routes := []loadRoute{
		{"read/results-page", http.MethodGet, "/api/v3/batches/" + id + "/results?sort=affinity&page_size=50", nil, http.StatusOK},
		{"read/batch-list", http.MethodGet, "/api/v3/batches?page_size=20", nil, http.StatusOK},
		{"write/validate", http.MethodPost, "/api/v3/ligands/validate", api.ValidateLigandsRequest{Ligands: fresh}, http.StatusOK},
		{"write/submit", http.MethodPost, "/api/v3/batches/submit",
			api.SubmitBatchRequest{JobName: "load", ModelName: "vina", ProteinName: "ABL1", Target: "ABL1", Ligands: fresh}, http.StatusAccepted},
	}
	for _, r := range routes {
		b.Run(r.name, func(b *testing.B) {
			var body []byte
			if r.body != nil {
				var err error
				if body, err = json.Marshal(r.body); err != nil {
					b.Fatal(err)
				}
			}
			status, answer := a.raw(b, r.method, r.path, body)
			if status != r.status {
				b.Fatalf("%s %s: %d %s", r.method, r.path, status, answer)
			}
			bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				io.Copy(io.Discard, req.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				w.Write(answer)
			}))
			defer bare.Close()
			cfg := loadgen.Config{Method: r.method, Body: body, Connections: 32, Duration: 2 * time.Second, Warmup: 500 * time.Millisecond}
			header := http.Header{"Authorization": {"Bearer " + a.token}, "Content-Type": {"application/json"}}
			for i := 0; i < b.N; i++ {
				cfg.URL, cfg.Header = bare.URL+r.path, http.Header{"Content-Type": {"application/json"}}
				base, err := loadgen.Run(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				cfg.URL, cfg.Header = a.srv.URL+r.path, header
				hub, err := loadgen.Run(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if hub.Non2xx+hub.Errors > 0 || base.Non2xx+base.Errors > 0 {
					b.Fatalf("failed requests: hub %s; bare %s", hub, base)
				}
				b.Logf("%s bare net/http: %s", r.name, base)
				b.Logf("%s hub API:       %s", r.name, hub)
				b.ReportMetric(hub.ReqPerSec, "req/s")
				b.ReportMetric(float64(hub.P50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(hub.P99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(base.ReqPerSec, "bare-req/s")
				b.ReportMetric(hub.ReqPerSec/base.ReqPerSec, "ratio")
			}
		})
	}
}

// raw sends one authenticated request with a JSON body and returns the
// status and the answer.
func (a *apiBench) raw(tb testing.TB, method, path string, body []byte) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, bytes.NewReader(body))
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
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(fmt.Errorf("%s %s: %w", method, path, err))
	}
	return resp.StatusCode, data
}
