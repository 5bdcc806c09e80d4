package gpu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"omtx/jobs"
)

// runMany runs a leased child together with more children of its batch in
// one engine process (weights load once), completing each child on its own
// as the engine reports it.
func (r *Runner) runMany(ctx context.Context, model BatchModel, first *jobs.Job) error {
	more, err := r.cfg.Store.JobLeaseSiblings(ctx, jobs.LeaseParams{Owner: r.cfg.Owner, Models: []string{first.Model}, TTL: r.cfg.LeaseTTL},
		*first.Lease, r.cfg.BatchSize-1)
	if err != nil {
		r.cfg.Log.Warn("lease siblings", "job", first.ID, "err", err)
	}
	all := append([]*jobs.Job{first}, more...)
	type held struct {
		job  *jobs.Job
		ctx  context.Context
		stop func() jobs.Lease
		once sync.Once
	}
	hs := make([]*held, len(all))
	for i, j := range all {
		c, stop := r.hold(ctx, *j.Lease)
		hs[i] = &held{job: j, ctx: c, stop: stop}
	}
	// The engine stops when every child it runs was cancelled or lost.
	engineCtx, cancelEngine := context.WithCancelCause(ctx)
	defer cancelEngine(nil)
	go func() {
		for _, h := range hs {
			<-h.ctx.Done()
		}
		cancelEngine(fmt.Errorf("every job of this engine run was cancelled or lost its lease"))
	}()

	dir := filepath.Join(r.cfg.WorkDir, "jobs", fmt.Sprintf("%s-%d-many", first.ID, first.Attempt))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	defer os.RemoveAll(dir)
	var logBuf syncBuffer
	var engine time.Duration
	var mu sync.Mutex
	exec := ProcessExecutor{Log: &logBuf, Elapsed: func(d time.Duration) { mu.Lock(); engine += d; mu.Unlock() }}
	tasks := make([]Task, len(all))
	for i, j := range all {
		in, lig, err := r.sharedInput(ctx, j)
		if err != nil {
			return r.fail(ctx, j, hs[i].stop(), err, &logBuf, r.cfg.Log)
		}
		sub := filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		tasks[i] = Task{JobID: j.ID, Input: in, Dir: sub, Cache: r.cache, Exec: exec, Log: &logBuf}
		if lig != nil {
			tasks[i].Ligand = *lig
		}
		if tasks[i].Receptor, err = r.receptor(ctx, in, sub); err != nil {
			return r.fail(ctx, j, hs[i].stop(), err, &logBuf, r.cfg.Log)
		}
	}
	started := r.cfg.Clock.Now()
	finish := func(i int, out *Output, runErr error) {
		h := hs[i]
		h.once.Do(func() {
			lease := h.stop()
			if lost(h.ctx) {
				return
			}
			log := r.jobLog(h.job)
			mu.Lock()
			elapsed := engine / time.Duration(len(all))
			mu.Unlock()
			if runErr != nil {
				r.observe(h.job, elapsed, runErr)
				if err := r.fail(ctx, h.job, lease, runErr, &logBuf, log); err != nil {
					log.Error("record failure", "err", err)
				}
				return
			}
			summary, err := r.store(ctx, h.job, lease, out, &logBuf, started, elapsed)
			if err == nil {
				err = r.cfg.Store.JobComplete(ctx, lease, summary)
			}
			if err == nil {
				r.observe(h.job, elapsed, nil)
			}
			if err != nil && !jobs.IsCode(err, jobs.ErrLeaseLost) {
				log.Error("complete", "err", err)
			}
		})
	}
	runCtx, cancel := context.WithTimeoutCause(engineCtx, r.cfg.JobTimeout, fmt.Errorf("engine run exceeded its time limit of %s", r.cfg.JobTimeout))
	defer cancel()
	runErr := model.RunMany(runCtx, tasks, finish)
	if runErr == nil {
		runErr = fmt.Errorf("the engine gave no result for this job")
	}
	for i := range hs {
		finish(i, nil, runErr)
	}
	return nil
}
