package boltz2

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"omtx/gpu"
)

// prepared is one task ready to run.
type prepared struct {
	index  int
	task   gpu.Task
	stem   string
	seq    string
	params Params
	ligand LigandCheck
	msa    msaChoice
}

// RunMany implements gpu.BatchModel: every task's input YAML goes into one
// folder and ONE `boltz predict <folder>` runs them all, so the weights
// load once. Tasks whose settings differ (flags are per process) run in
// one process per group of equal settings. done is called for a task as
// soon as its affinity JSON is complete (boltz writes all structures first,
// then the affinities), or after boltz exits.
func (m *Model) RunMany(ctx context.Context, tasks []gpu.Task, done func(i int, out *gpu.Output, err error)) error {
	if len(tasks) == 0 {
		return nil
	}
	var groups [][]*prepared
	groupOf := map[string]int{}
	stems := map[string]bool{}
	for i, t := range tasks {
		seq, p, err := m.prepare(t.Input)
		if err != nil {
			done(i, nil, gpu.Permanent(err))
			continue
		}
		lc, err := ValidateLigand(t.Ligand)
		if err != nil {
			done(i, nil, gpu.Permanent(err))
			continue
		}
		pt := &prepared{index: i, task: t, stem: uniqueStem(t.JobID, i, stems), seq: seq, params: p, ligand: lc}
		key := strings.Join(m.predictFlags(p), " ")
		g, ok := groupOf[key]
		if !ok {
			g = len(groups)
			groupOf[key] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], pt)
	}
	var firstErr error
	for _, g := range groups {
		if err := m.runGroup(ctx, g, done); err != nil {
			for _, pt := range g {
				logf(pt.task.Log, "boltz2: %v", err)
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

// uniqueStem names a task's input file after its job, in the characters
// safe for file names, unique within the run.
func uniqueStem(jobID string, i int, seen map[string]bool) string {
	var b strings.Builder
	for _, r := range jobID {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 64 {
		s = s[:64]
	}
	if s == "" {
		s = "task" + strconv.Itoa(i)
	}
	for base, n := s, 1; seen[s]; n++ {
		s = base + "_" + strconv.Itoa(n)
	}
	seen[s] = true
	return s
}

// predictFlags are the flags of one prediction run that depend on the
// job's parameters.
func (m *Model) predictFlags(p Params) []string {
	f := []string{
		"--recycling_steps", strconv.Itoa(p.RecyclingSteps),
		"--sampling_steps", strconv.Itoa(p.SamplingSteps),
		"--diffusion_samples", strconv.Itoa(p.DiffusionSamples),
		"--sampling_steps_affinity", strconv.Itoa(p.SamplingStepsAffinity),
		"--diffusion_samples_affinity", strconv.Itoa(p.DiffusionSamplesAffinity),
	}
	if p.AffinityMWCorrection {
		f = append(f, "--affinity_mw_correction")
	}
	if p.UsePotentials {
		f = append(f, "--use_potentials")
	}
	if p.WriteFullPAE {
		f = append(f, "--write_full_pae")
	}
	if p.Seed != nil {
		f = append(f, "--seed", strconv.Itoa(*p.Seed))
	}
	return f
}

// Args returns the command line of one prediction run over the inputs in
// inDir, writing under outDir.
func (m *Model) Args(inDir, outDir string, p Params) []string {
	args := []string{"predict", inDir, "--out_dir", outDir,
		"--accelerator", m.cfg.Accelerator, "--devices", strconv.Itoa(m.cfg.Devices),
		"--output_format", "mmcif", "--override"}
	if m.cfg.CacheDir != "" {
		args = append(args, "--cache", m.cfg.CacheDir)
	}
	if m.cfg.NumWorkers > 0 {
		args = append(args, "--num_workers", strconv.Itoa(m.cfg.NumWorkers))
	}
	return append(args, m.predictFlags(p)...)
}

func (m *Model) runGroup(ctx context.Context, g []*prepared, done func(int, *gpu.Output, error)) error {
	lead := g[0].task
	batch, err := os.MkdirTemp(lead.Dir, "boltz-batch-")
	if err != nil {
		return fmt.Errorf("boltz2: batch folder: %w", err)
	}
	inDir, outDir := filepath.Join(batch, "in"), filepath.Join(batch, "out")
	if err := os.MkdirAll(inDir, 0o755); err != nil {
		return err
	}
	// MSAs first, once per protein sequence (and user alignment).
	var ready []*prepared
	msas := map[string]msaChoice{}
	for _, pt := range g {
		key := pt.seq + "\x00" + strings.TrimSpace(pt.params.MSA)
		c, ok := msas[key]
		if !ok {
			c, err = m.msaFor(ctx, pt.task, pt.seq, pt.params, batch)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				done(pt.index, nil, err)
				continue
			}
			msas[key] = c
		}
		pt.msa = c
		y, err := inputYAML(pt.seq, c.Path, strings.TrimSpace(pt.task.Ligand.SMILES))
		if err == nil {
			err = os.WriteFile(filepath.Join(inDir, pt.stem+".yaml"), []byte(y), 0o644)
		}
		if err != nil {
			done(pt.index, nil, err)
			continue
		}
		if pt.ligand.Warning != "" {
			logf(pt.task.Log, "boltz2: warning: %s", pt.ligand.Warning)
		}
		logf(pt.task.Log, "boltz2: %s; input %s.yaml, one boltz process for %d ligands", c.Note, pt.stem, len(g))
		ready = append(ready, pt)
	}
	if len(ready) == 0 {
		return nil
	}
	if len(ready) < len(g) {
		// Inputs that failed preparation must not be run.
		for _, pt := range g {
			if !contains(ready, pt) {
				os.Remove(filepath.Join(inDir, pt.stem+".yaml"))
			}
		}
	}
	cmd := gpu.Cmd{Path: m.cfg.Program, Args: m.Args(inDir, outDir, ready[0].params), Dir: batch}
	predRoot := filepath.Join(outDir, "boltz_results_in", "predictions")

	exited := make(chan error, 1)
	go func() { exited <- lead.Exec.Run(ctx, cmd) }()
	pending := map[*prepared]bool{}
	for _, pt := range ready {
		pending[pt] = true
	}
	tick := time.NewTicker(m.cfg.PollInterval)
	defer tick.Stop()
	var runErr error
wait:
	for {
		select {
		case runErr = <-exited:
			break wait
		case <-tick.C:
			for _, pt := range ready {
				if !pending[pt] || ctx.Err() != nil || !affinityComplete(predRoot, pt.stem) {
					continue
				}
				out, err := m.collect(pt, filepath.Join(predRoot, pt.stem))
				if err != nil {
					continue // perhaps still being written; retried after exit
				}
				delete(pending, pt)
				done(pt.index, out, nil)
			}
		}
	}
	if ctx.Err() != nil {
		// Cancelled, or the lease is lost: report nothing more.
		if runErr == nil {
			runErr = context.Cause(ctx)
		}
		return fmt.Errorf("boltz2: %w", runErr)
	}
	for _, pt := range ready {
		if !pending[pt] {
			continue
		}
		out, err := m.collect(pt, filepath.Join(predRoot, pt.stem))
		switch {
		case err == nil:
			done(pt.index, out, nil)
		case runErr != nil:
			// Left for RunMany's error.
			continue
		default:
			done(pt.index, nil, fmt.Errorf("boltz2: boltz finished without a complete prediction for %s (see the log: boltz skips inputs it cannot process or that run out of memory): %w", pt.stem, err))
		}
		delete(pending, pt)
	}
	if runErr != nil {
		return fmt.Errorf("boltz2: %w", runErr)
	}
	return nil
}

func contains(ps []*prepared, p *prepared) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// affinityComplete reports whether a task's affinity JSON exists and is
// whole (a truncated JSON object does not parse).
func affinityComplete(predRoot, stem string) bool {
	_, err := readAffinity(filepath.Join(predRoot, stem, "affinity_"+stem+".json"))
	return err == nil
}

var errNoPrediction = errors.New("no prediction files")
