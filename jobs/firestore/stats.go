package firestore

import (
	"context"
	"fmt"

	"omtx/jobs"
)

// Stats implements jobs.Store. It is for operators and favours being
// right over being cheap: it reads every individual job and every batch
// parent (with its progress shards), but no child, except those waiting
// for a retry backoff.
func (s *Store) Stats(ctx context.Context) (jobs.Stats, error) {
	st, err := s.stats(ctx)
	if err != nil {
		return jobs.Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

func (s *Store) stats(ctx context.Context) (jobs.Stats, error) {
	var st jobs.Stats
	now := s.now()
	counts := map[jobs.ModelStatus]int{}

	individual := s.jobsCol().Where("type", "==", string(jobs.TypeIndividual)).Select("model", "status", "available_at")
	err := s.scan(ctx, individual, func(_ string, d *jobDoc) (bool, error) {
		counts[jobs.ModelStatus{Model: d.Model, Status: d.status()}]++
		if d.status() == jobs.StatusPending {
			if d.AvailableAt > now {
				st.Delayed++
			} else {
				st.AddQueued(d.Model, 1)
			}
		}
		return false, nil
	})
	if err != nil {
		return st, err
	}

	// Children are counted from their batches' progress.
	paused := map[string]bool{}
	models := map[string]string{} // batch -> model
	parents := s.jobsCol().Where("type", "==", string(jobs.TypeBatchParent)).
		Select("model", "status", "paused", "finalize_state", "phase", "shards")
	err = s.scan(ctx, parents, func(id string, d *jobDoc) (bool, error) {
		if !d.visible() {
			return false, nil
		}
		shards, err := s.readShards(ctx, id, int(d.Shards))
		if err != nil {
			return false, err
		}
		p := sumShards(shards)
		for status, n := range map[jobs.Status]int{jobs.StatusPending: p.Pending, jobs.StatusRunning: p.Running,
			jobs.StatusCompleted: p.Completed, jobs.StatusFailed: p.Failed, jobs.StatusCancelled: p.Cancelled} {
			counts[jobs.ModelStatus{Model: d.Model, Status: status}] += n
		}
		paused[id], models[id] = d.Paused, d.Model
		if !d.status().Final() {
			st.ActiveBatches++
			if d.Paused {
				st.PausedBatches++
			}
		}
		if d.Finalize == string(jobs.FinalizePending) || d.Finalize == string(jobs.FinalizeLeased) {
			st.Finalizing++
		}
		if !d.Paused {
			st.AddQueued(d.Model, p.Pending)
		}
		return false, nil
	})
	if err != nil {
		return st, err
	}

	// Children waiting for a backoff; those in unpaused batches were
	// counted as queued above. A child is pending with attempt > 0 only
	// after a failed attempt.
	retrying := s.jobsCol().Where("type", "==", string(jobs.TypeBatchChild)).Where("status", "==", string(jobs.StatusPending)).
		Where("attempt", ">", int64(0)).Select("batch_id", "available_at")
	err = s.scan(ctx, retrying, func(_ string, d *jobDoc) (bool, error) {
		p, ok := paused[d.BatchID]
		if !ok || d.AvailableAt <= now {
			return false, nil
		}
		st.Delayed++
		if !p {
			st.AddQueued(models[d.BatchID], -1)
		}
		return false, nil
	})
	if err != nil {
		return st, err
	}

	active := s.usersCol().Where("active", "==", true)
	res, err := active.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return st, err
	}
	var users struct {
		N int64 `firestore:"n"`
	}
	if err := res.DataTo(&users); err != nil {
		return st, err
	}
	st.Users = int(users.N)

	st.Jobs = jobs.StatsCounts(counts)
	return st, nil
}
