package hub

import (
	"context"
	"slices"
	"time"

	"omtx/api"
	"omtx/gpu"
	"omtx/jobs"
)

// Model checks run programs; their outcome is kept this long.
const (
	checkTTL     = time.Minute
	checkTimeout = 10 * time.Second
)

// notAccepted is why a model outside Config.Accept cannot run here.
const notAccepted = "this deployment does not take submissions for it"

// availability is the registry's Check, kept for checkTTL by the clock.
func (s *Service) availability(ctx context.Context) []gpu.Availability {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	now := s.clock.Now()
	if s.checked != nil && !now.Before(s.checkedAt) && now.Sub(s.checkedAt) < checkTTL {
		return s.checked
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
	defer cancel()
	s.checked, s.checkedAt = s.models.Check(cctx), now
	return s.checked
}

// Models lists the models with their inputs and metrics, and whether this
// deployment runs them: available when it takes submissions for the model
// and the model's check passes here.
func (s *Service) Models(ctx context.Context) *api.ModelList {
	out := &api.ModelList{Models: []api.Model{}}
	for _, a := range s.availability(ctx) {
		m := api.Model{Name: a.Info.Name, Version: a.Info.Version, Description: a.Info.Description,
			Resource: string(a.Info.Resource), Ligands: a.Info.Ligands, Fields: make([]api.Field, 0, len(a.Info.Fields)),
			Metrics: apiMetrics(a.Info.Metrics)}
		switch {
		case !s.accepts(a.Info.Name):
			m.Reason = notAccepted
		case a.Reason != "":
			m.Reason = a.Reason
		default:
			m.Available = true
		}
		for _, f := range a.Info.Fields {
			m.Fields = append(m.Fields, api.Field{Name: f.Name, Label: f.Label, Type: string(f.Type), Required: f.Required,
				Default: f.Default, Min: f.Min, Max: f.Max, Enum: f.Enum, Help: f.Help, Top: f.Top})
		}
		out.Models = append(out.Models, m)
	}
	return out
}

func apiQueue(st jobs.Stats) api.QueueStats {
	return api.QueueStats{Queued: st.Queued, Delayed: st.Delayed, Running: running(st), ActiveBatches: st.ActiveBatches,
		PausedBatches: st.PausedBatches, Finalizing: st.Finalizing}
}

// running counts running jobs over all models.
func running(st jobs.Stats) int {
	n := 0
	for _, c := range st.Jobs {
		if c.Status == jobs.StatusRunning {
			n += c.N
		}
	}
	return n
}

// SystemStatus answers the queue's numbers across all users and the
// models: "ok" while at least one model it accepts can run, "degraded"
// otherwise.
func (s *Service) SystemStatus(ctx context.Context) (*api.SystemStatus, error) {
	st, err := s.store.Stats(ctx)
	if err != nil {
		return nil, err
	}
	models := s.Models(ctx).Models
	out := &api.SystemStatus{Status: "degraded", Time: s.clock.Now().UTC(), Queue: apiQueue(st), Models: models}
	for _, m := range models {
		if m.Available {
			out.Status = "ok"
		}
	}
	return out, nil
}

// SystemHealth pings each dependency and reads the queue: "healthy" when
// all answer, "unhealthy" when none does, "degraded" in between.
func (s *Service) SystemHealth(ctx context.Context, checks []Check) *api.SystemHealth {
	out := &api.SystemHealth{Checks: make([]api.HealthCheck, 0, len(checks)+1)}
	failed := 0
	for _, c := range checks {
		hc := api.HealthCheck{Name: c.Name, Status: "ok"}
		if err := c.Ping(ctx); err != nil {
			hc.Status, hc.Error = "unavailable", err.Error()
			failed++
		}
		out.Checks = append(out.Checks, hc)
	}
	st, err := s.store.Stats(ctx)
	qc := api.HealthCheck{Name: "queue", Status: "ok"}
	if err != nil {
		qc.Status, qc.Error = "unavailable", err.Error()
		failed++
	} else {
		out.Queue = apiQueue(st)
	}
	out.Checks = append(out.Checks, qc)
	switch {
	case failed == 0:
		out.Status = "healthy"
	case failed == len(out.Checks):
		out.Status = "unhealthy"
	default:
		out.Status = "degraded"
	}
	return out
}

// ActiveBatches lists the user's pending and running batches with their
// progress, newest first.
func (s *Service) ActiveBatches(ctx context.Context, userID string) (*api.ActiveBatches, error) {
	var all []*jobs.Batch
	for _, st := range []jobs.Status{jobs.StatusPending, jobs.StatusRunning} {
		for off := 0; ; off += maxListSize {
			page, err := s.store.BatchList(ctx, jobs.BatchFilter{UserID: userID, Status: st, Offset: off, Limit: maxListSize})
			if err != nil {
				return nil, err
			}
			all = append(all, page...)
			if len(page) < maxListSize {
				break
			}
		}
	}
	slices.SortStableFunc(all, func(a, b *jobs.Batch) int { return b.CreatedAt.Compare(a.CreatedAt) })
	out := &api.ActiveBatches{Batches: make([]api.BatchProgress, 0, len(all))}
	for _, b := range all {
		out.Batches = append(out.Batches, s.progress(b))
	}
	return out, nil
}

// BatchProgress returns a batch's progress, milestones and pace.
func (s *Service) BatchProgress(ctx context.Context, userID, batchID string) (*api.BatchProgress, error) {
	b, err := s.batch(ctx, userID, batchID)
	if err != nil {
		return nil, err
	}
	p := s.progress(b)
	return &p, nil
}

// progress computes a batch's pace: ended children per minute since it
// started (its first lease, or its submission before any), up to now or
// to its end, and the time the rest would take at that pace (none once it
// ended, while paused, or before anything ended).
func (s *Service) progress(b *jobs.Batch) api.BatchProgress {
	out := api.BatchProgress{BatchID: b.ID, JobName: b.Name, Status: string(b.Status), Paused: b.Paused,
		Progress: apiProgress(b.Progress), Milestones: apiMilestones(b.Milestones)}
	start := b.StartedAt
	if start.IsZero() {
		start = b.CreatedAt
	}
	end := s.clock.Now()
	if b.Status.Final() && !b.FinishedAt.IsZero() {
		end = b.FinishedAt
	}
	elapsed := end.Sub(start).Seconds()
	if elapsed < 0 {
		elapsed = 0
	}
	out.ElapsedSeconds = elapsed
	ended := b.Progress.Ended()
	if elapsed > 0 && ended > 0 {
		out.JobsPerMinute = float64(ended) / (elapsed / 60)
	}
	if !b.Status.Final() && !b.Paused && out.JobsPerMinute > 0 {
		eta := float64(b.Progress.Total-ended) / out.JobsPerMinute * 60
		out.EtaSeconds = &eta
	}
	return out
}
