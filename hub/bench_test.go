package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"omtx/api"
	"omtx/jobs"
	"omtx/results"
)

// distinctLigands returns n different real molecules: a para-substituted
// phenol ether with alkyl chains of several lengths.
func distinctLigands(n int) []api.Ligand {
	subs := []string{"F", "Cl", "Br", "I", "O", "N", "C", "C#N", "OC", "C(=O)O"}
	out := make([]api.Ligand, 0, n)
	for i := 0; len(out) < n; i++ {
		a, s, c := i%25+1, (i/25)%len(subs), i/(25*len(subs))+1
		out = append(out, api.Ligand{Name: fmt.Sprintf("cmpd-%05d", i),
			SMILES: strings.Repeat("C", a) + "c1ccc(" + subs[s] + ")cc1O" + strings.Repeat("C", c)})
	}
	return out
}

// completedBatch submits n ligands and completes every child with a
// realistic Vina summary.
func completedBatch(tb testing.TB, e *testEnv, n int) string {
	tb.Helper()
	ctx := context.Background()
	req := vinaBatch(distinctLigands(n)...)
	resp, err := e.svc.SubmitBatch(ctx, Caller{UserID: "alice"}, req)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; ; i++ {
		j, err := e.store.JobLease(ctx, jobs.LeaseParams{Owner: "bench", Models: []string{"vina"}, TTL: time.Hour})
		if jobs.IsCode(err, jobs.ErrNoWork) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		a := -4 - float64((j.Index*7919)%900)/100 // -4.00 to -12.99 kcal/mol
		sum, _ := json.Marshal(results.JobSummary{Primary: "affinity", Files: []string{"logs.txt", "metadata.json", "poses.sdf", "results.json", "structure.cif"},
			ElapsedSeconds: 21.4, Metrics: map[string]float64{"affinity": a, "ligand_efficiency": -a / 14, "molecular_weight": 212.3, "heavy_atoms": 14}})
		if err := e.store.JobComplete(ctx, *j.Lease, sum); err != nil {
			tb.Fatal(err)
		}
	}
	return resp.BatchID
}

// BenchmarkResults10k reads a page of a finished 10,000-ligand batch's
// results sorted by affinity, with the table cached (warm) and rebuilt
// from the store on every call (cold).
func BenchmarkResults10k(b *testing.B) {
	e := newEnv(b)
	id := completedBatch(b, e, 10000)
	ctx := context.Background()
	for _, size := range []int{50, 10000} {
		for _, warm := range []bool{true, false} {
			name := fmt.Sprintf("page_size=%d/%s", size, map[bool]string{true: "warm", false: "cold"}[warm])
			b.Run(name, func(b *testing.B) {
				q := api.ResultsQuery{Sort: "affinity", PageSize: size}
				if _, err := e.svc.Results(ctx, "alice", id, q); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if !warm {
						e.svc.rows.forget(id)
					}
					page, err := e.svc.Results(ctx, "alice", id, q)
					if err != nil {
						b.Fatal(err)
					}
					if len(page.Rows) != size || page.Total != 10000 || *page.Rows[0].Affinity > *page.Rows[1].Affinity {
						b.Fatalf("page of %d rows, total %d", len(page.Rows), page.Total)
					}
				}
			})
		}
	}
}

// TestLargeBatch checks a batch of a few thousand ligands: the table's
// order over all of it, and exports that stream every row.
func TestLargeBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("large batch")
	}
	t.Parallel()
	const n = 3000
	e := newEnv(t)
	id := completedBatch(t, e, n)
	ctx := context.Background()
	start := time.Now()
	page, err := e.svc.Results(ctx, "alice", id, api.ResultsQuery{Sort: "affinity", PageSize: n})
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	for i := 1; i < len(page.Rows); i++ {
		a, b := page.Rows[i-1], page.Rows[i]
		if *a.Affinity > *b.Affinity || *a.Affinity == *b.Affinity && a.Index > b.Index {
			t.Fatalf("rows %d and %d out of order: %v (%d), %v (%d)", i-1, i, *a.Affinity, a.Index, *b.Affinity, b.Index)
		}
	}
	if *page.Rows[0].Affinity != -12.99 || len(page.Rows) != n {
		t.Fatalf("best %v of %d rows", *page.Rows[0].Affinity, len(page.Rows))
	}
	t.Logf("cold page of %d rows in %v", n, cold)

	// The export streams every row.
	d, err := e.svc.Export(ctx, "alice", id, "csv")
	if err != nil {
		t.Fatal(err)
	}
	var lines countingWriter
	if err := d.Write(&lines); err != nil {
		t.Fatal(err)
	}
	if lines.n != n+1 {
		t.Fatalf("csv has %d lines", lines.n)
	}
	// While the batch runs, the export lists children in input order.
	resp := e.submit(caller, vinaBatch(distinctLigands(n + 10)[n:]...))
	e.workN("vina", 4, vinaDecide)
	d, err = e.svc.Export(ctx, "alice", resp.BatchID, "json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.Write(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Rows []api.ResultRow }
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || len(doc.Rows) != 10 {
		t.Fatalf("json export of a running batch: %v, %d rows", err, len(doc.Rows))
	}
	for i, r := range doc.Rows {
		if r.Index != i {
			t.Fatalf("row %d has index %d", i, r.Index)
		}
	}
}

// countingWriter counts lines and keeps nothing.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += strings.Count(string(p), "\n")
	return len(p), nil
}
