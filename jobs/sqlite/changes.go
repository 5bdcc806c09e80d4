package sqlite

import (
	"context"
	"fmt"
	"time"

	"omtx/jobs"
)

// ChangesSince implements jobs.Store.
func (s *Store) ChangesSince(ctx context.Context, userID string, since int64, limit int) ([]jobs.Change, error) {
	if userID == "" {
		return nil, jobs.FieldError("user", "is required")
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.reads.QueryContext(ctx, `SELECT seq, user_id, job_id, batch_id, type, status, at FROM changes
		WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?`, userID, since, limit)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer rows.Close()
	var out []jobs.Change
	for rows.Next() {
		var c jobs.Change
		var typ, status string
		var at int64
		if err := rows.Scan(&c.Seq, &c.UserID, &c.JobID, &c.BatchID, &typ, &status, &at); err != nil {
			return nil, fmt.Errorf("changes: %w", err)
		}
		c.Type, c.Status, c.At = jobs.Type(typ), jobs.Status(status), toTime(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Watch implements jobs.Store. Commits through this Store wake it at once;
// commits by other processes on the same file are seen within the poll
// interval.
func (s *Store) Watch(ctx context.Context, userID string, since int64) (<-chan jobs.Change, error) {
	if userID == "" {
		return nil, jobs.FieldError("user", "is required")
	}
	out := make(chan jobs.Change)
	go func() {
		defer close(out)
		ticker := time.NewTicker(s.poll)
		defer ticker.Stop()
		for {
			wake := s.changedSignal()
			batch, err := s.ChangesSince(ctx, userID, since, 1000)
			if err != nil {
				return
			}
			for _, c := range batch {
				select {
				case out <- c:
					since = c.Seq
				case <-ctx.Done():
					return
				}
			}
			if len(batch) == 1000 {
				continue
			}
			select {
			case <-wake:
			case <-ticker.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
