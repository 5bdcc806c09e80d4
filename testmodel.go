//go:build chaostest

package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"time"

	"omtx/gpu"
	"omtx/results"
)

// This file exists only in binaries built with -tags chaostest (the chaos
// tests in chaos_test.go): it adds the model "chaos", a fast CPU adapter
// that really writes a result file and derives its score from the SMILES,
// so that thousands of jobs run in seconds while workers are killed.
func init() { testModels = append(testModels, chaosModel{}) }

// chaosModel is the test adapter. OMTX_CHAOS_LEDGER, when set, names a
// file to which every run appends one line (job, pid): how many attempts
// ran, whatever happened to them after.
type chaosModel struct{}

func (chaosModel) Info() gpu.Info {
	return gpu.Info{Name: "chaos", Version: "1", Description: "test adapter for the chaos tests", Resource: gpu.CPU, Ligands: true,
		Metrics: []results.Metric{{Name: "score", Label: "Score", Unit: "kcal/mol", Better: results.LowerIsBetter, Primary: true}}}
}

func (chaosModel) Check(context.Context) error { return nil }
func (chaosModel) Validate(gpu.Input) error    { return nil }

// ChaosScore is the score the chaos model gives a SMILES: a pure function
// of it, so the tests can check every row.
func chaosScore(smiles string) float64 {
	h := fnv.New32a()
	h.Write([]byte(smiles))
	return -float64(h.Sum32()%1000) / 100
}

func (chaosModel) Run(ctx context.Context, t gpu.Task) (*gpu.Output, error) {
	if path := os.Getenv("OMTX_CHAOS_LEDGER"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		// One short write with O_APPEND: lines of concurrent processes
		// do not interleave.
		_, err = fmt.Fprintf(f, "%s %d\n", t.JobID, os.Getpid())
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	h := fnv.New32a()
	h.Write([]byte(t.JobID))
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-time.After(time.Duration(5+h.Sum32()%16) * time.Millisecond):
	}
	score := chaosScore(t.Ligand.SMILES)
	out := filepath.Join(t.Dir, "chaos.txt")
	if err := os.WriteFile(out, fmt.Appendf(nil, "%s\t%s\t%.2f\n", t.Ligand.Name, t.Ligand.SMILES, score), 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(t.Log, "chaos: scored %s\n", t.Ligand.Name)
	return &gpu.Output{Metrics: map[string]float64{"score": score}, Details: map[string]any{"pid": os.Getpid()},
		Files: map[string]string{"chaos.txt": out}}, nil
}
