package gpu

import (
	"context"
	"log/slog"
	"time"

	"omtx/jobs"
)

// Rescue returns expired leases every interval until ctx ends. Any number
// of processes may run it: each pass is one store transaction.
func Rescue(ctx context.Context, store jobs.Store, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r, err := store.JobRescue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("rescue", "err", err)
		case r != (jobs.Rescued{}):
			log.Info("rescued expired leases", "retried", r.Retried, "failed", r.Failed, "cancelled", r.Cancelled, "finalize", r.Finalize)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
