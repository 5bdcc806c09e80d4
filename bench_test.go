package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"omtx/gpu"
	"omtx/jobs"
	"omtx/jobs/sqlite"
	"omtx/results"
)

// BenchmarkDockingBatch runs the kinase-inhibitor set against ABL1 with
// real Vina at default settings through one in-process runner, and reports
// the hub's overhead (batch wall time over the summed wall time of the
// engine processes it ran) and ligands per hour.
func BenchmarkDockingBatch(b *testing.B) {
	ctx := context.Background()
	reg, err := newRegistry()
	if err != nil {
		b.Fatal(err)
	}
	if m, _ := reg.Get("vina"); m.Check(ctx) != nil {
		b.Skip("docking programs missing")
	}
	var wall, engine time.Duration
	ligandsDone := 0
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		store, err := sqlite.Open(ctx, filepath.Join(dir, "omtx.db"), jobs.Config{}, sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := results.Open(ctx, "file://"+filepath.Join(dir, "files"))
		if err != nil {
			b.Fatal(err)
		}
		runner, err := gpu.NewRunner(gpu.RunnerConfig{Store: store, Results: res, Registry: reg, Log: quietLog(), WorkDir: filepath.Join(dir, "work")})
		if err != nil {
			b.Fatal(err)
		}
		p := submitKinaseBatch(b, store, `{}`)
		start := time.Now()
		for {
			worked, err := runner.Once(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !worked {
				break
			}
		}
		wall += time.Since(start)
		kids, _ := store.JobList(ctx, jobs.JobFilter{UserID: "local", BatchID: p.ID})
		for _, k := range kids {
			var sum results.JobSummary
			if err := json.Unmarshal(k.Result, &sum); err != nil || k.Status != jobs.StatusCompleted {
				b.Fatalf("%s: %s %v", k.Name, k.Status, err)
			}
			engine += time.Duration(sum.ElapsedSeconds * float64(time.Second))
			ligandsDone++
		}
		store.Close()
		res.Close()
	}
	b.ReportMetric(wall.Seconds()/engine.Seconds(), "wall/engine")
	b.ReportMetric(float64(ligandsDone)/wall.Hours(), "ligands/h")
	b.ReportMetric(wall.Seconds()/float64(ligandsDone), "s/ligand")
}
