package gpu

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"omtx/api"
	"omtx/jobs"
	"omtx/results"
)

// finalize writes a finished batch's aggregates into the hierarchy and
// completes its finalize task. A crash half-way leaves the task to be
// leased again; every object it writes is rewritten with the same bytes.
func (r *Runner) finalize(ctx context.Context, task *jobs.Job) error {
	log := r.cfg.Log.With("batch", task.ID, "attempt", task.Attempt)
	if task.RequestID != "" {
		log = log.With("request_id", task.RequestID)
	}
	work, stop := r.holdLogged(ctx, *task.Lease, log)
	defer stop()
	b, err := r.cfg.Store.BatchGet(work, task.UserID, task.ID)
	if err != nil {
		return r.finalizeFailed(ctx, stop(), fmt.Errorf("finalize %s: %w", task.ID, err))
	}
	children, err := r.children(work, b)
	if err != nil {
		return r.finalizeFailed(ctx, stop(), err)
	}
	// Children that reused an identical job's result get its files.
	for _, c := range children {
		if c.ReusedFrom == "" || c.Status != jobs.StatusCompleted {
			continue
		}
		src, err := r.cfg.Store.JobGet(work, c.UserID, c.ReusedFrom)
		if jobs.IsCode(err, jobs.ErrNotFound) {
			// The source was deleted; its files were copied here first.
			if keys, lerr := r.cfg.Results.List(work, results.JobDir(b.ID, c.ID)+"/"); lerr == nil && len(keys) > 0 {
				continue
			}
		}
		if err != nil {
			return r.finalizeFailed(ctx, stop(), fmt.Errorf("reused result of %s: %w", c.ID, err))
		}
		if err := r.cfg.Results.CopyJob(work, batchOf(src), src.ID, b.ID, c.ID); err != nil {
			return r.finalizeFailed(ctx, stop(), fmt.Errorf("copy reused result into %s: %w", c.ID, err))
		}
	}
	var metrics []results.Metric
	if m, ok := r.cfg.Registry.Get(b.Model); ok {
		metrics = m.Info().Metrics
	}
	in := results.FinalizeInput{Batch: b, Children: children, Model: b.Model, ModelVersion: b.ModelVersion, Metrics: metrics,
		Meta: batchMetadata(b, metrics)}
	if _, err := r.cfg.Results.Finalize(work, in); err != nil {
		return r.finalizeFailed(ctx, stop(), fmt.Errorf("finalize %s: %w", b.ID, err))
	}
	lease := stop()
	if lost(work) {
		return nil
	}
	err = r.cfg.Store.JobComplete(ctx, lease, nil)
	if jobs.IsCode(err, jobs.ErrLeaseLost) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("complete finalize of %s: %w", b.ID, err)
	}
	r.mu.Lock()
	delete(r.batches, b.ID)
	r.mu.Unlock()
	log.Info("batch finalized", "status", b.Status, "children", len(children))
	r.announce(ctx, b, task, log)
	return nil
}

// announce sends a finalized batch's webhook, if it asked for one, in the
// background: the next lease does not wait for the receiver. Delivery is
// best effort: the sender retries while ctx lasts, and a process that
// stops before it is done loses the delivery (a durable outbox would keep
// it; not done yet).
func (r *Runner) announce(ctx context.Context, b *jobs.Batch, task *jobs.Job, log *slog.Logger) {
	hook := b.Webhook
	if hook == nil {
		hook = task.Webhook
	}
	if hook == nil || hook.URL == "" {
		return
	}
	if r.cfg.Webhooks == nil {
		log.Warn("batch asked for a webhook but this runner sends none")
		return
	}
	ev := completedEvent(b, r.cfg.Clock.Now())
	r.deliveries.Go(func() {
		if err := r.cfg.Webhooks.Send(ctx, hook.URL, hook.Secret, ev); err != nil {
			log.Warn("webhook not delivered", "err", err)
			return
		}
		log.Info("webhook delivered", "event", ev.Event)
	})
}

// completedEvent is the webhook body announcing a finalized batch; now
// stands in for a finish time the batch lacks.
func completedEvent(b *jobs.Batch, now time.Time) api.WebhookEvent {
	finished := b.FinishedAt
	if finished.IsZero() {
		finished = now
	}
	p := b.Progress
	return api.WebhookEvent{Event: "batch.completed", BatchID: b.ID, JobName: b.Name, Status: string(b.Status),
		Progress: api.Progress{Total: p.Total, Pending: p.Pending, Running: p.Running, Completed: p.Completed,
			Failed: p.Failed, Cancelled: p.Cancelled, Percent: p.Percent()},
		FinishedAt: finished, ResultsURL: api.Prefix + "/batches/" + b.ID + "/results"}
}

func (r *Runner) finalizeFailed(ctx context.Context, lease jobs.Lease, cause error) error {
	err := r.cfg.Store.JobFail(ctx, lease, jobs.Failure{Error: cause.Error(), Retryable: true})
	if err != nil && !jobs.IsCode(err, jobs.ErrLeaseLost) {
		return fmt.Errorf("%v; recording it: %w", cause, err)
	}
	return cause
}

// children reads every child of a batch, in input order.
func (r *Runner) children(ctx context.Context, b *jobs.Batch) ([]*jobs.Job, error) {
	const page = 1000
	var out []*jobs.Job
	for {
		kids, err := r.cfg.Store.JobList(ctx, jobs.JobFilter{UserID: b.UserID, BatchID: b.ID, Offset: len(out), Limit: page})
		if err != nil {
			return nil, fmt.Errorf("children of %s: %w", b.ID, err)
		}
		out = append(out, kids...)
		if len(kids) < page {
			return out, nil
		}
	}
}

// batchMetadata describes a batch for batch_metadata.json.
func batchMetadata(b *jobs.Batch, metrics []results.Metric) results.BatchMetadata {
	var in Input
	_ = json.Unmarshal(b.Input, &in) // a batch's input was validated at submission
	return results.BatchMetadata{BatchID: b.ID, JobName: b.Name, Model: b.Model, ModelVersion: b.ModelVersion,
		ProteinName: in.ProteinName, Target: in.Target, Parameters: in.Parameters, TotalJobs: b.Progress.Total,
		Status: b.Status, Metrics: metrics, CreatedAt: b.CreatedAt, FinishedAt: b.FinishedAt}
}
