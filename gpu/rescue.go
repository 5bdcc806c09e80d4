package gpu

import (
	"context"
	"log/slog"
	"time"

	"omtx/jobs"
)

// RescueConfig configures Rescue.
type RescueConfig struct {
	Store jobs.Store
	// Every is the time between passes (default 10 s).
	Every time.Duration
	Log   *slog.Logger
	// Metrics, when set, is told what each successful pass did.
	Metrics RescueMetrics
}

// RescueMetrics records rescue passes.
type RescueMetrics interface {
	Rescued(r jobs.Rescued)
}

// Rescue returns expired leases every cfg.Every until ctx ends. Any number
// of processes may run it: each pass is one store transaction.
func Rescue(ctx context.Context, cfg RescueConfig) {
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	for {
		r, err := cfg.Store.JobRescue(ctx)
		if err != nil {
			if ctx.Err() == nil {
				cfg.Log.Error("rescue", "err", err)
			}
		} else {
			if cfg.Metrics != nil {
				cfg.Metrics.Rescued(r)
			}
			if r != (jobs.Rescued{}) {
				cfg.Log.Info("rescued expired leases", "retried", r.Retried, "failed", r.Failed, "cancelled", r.Cancelled, "finalize", r.Finalize)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
