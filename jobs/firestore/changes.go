package firestore

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"omtx/jobs"
)

// watchWindow is how many changes one snapshot listener delivers before
// Watch listens anew from the last: a listener keeps every document of its
// result set, which would grow without end.
const watchWindow = 1000

// ChangesSince implements jobs.Store.
func (s *Store) ChangesSince(ctx context.Context, userID string, since int64, limit int) ([]jobs.Change, error) {
	if userID == "" {
		return nil, jobs.FieldError("user", "is required")
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	snaps, err := s.changesCol(userID).Where("seq", ">", since).OrderBy("seq", firestore.Asc).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	out := make([]jobs.Change, 0, len(snaps))
	for _, snap := range snaps {
		var c changeDoc
		if err := snap.DataTo(&c); err != nil {
			return nil, fmt.Errorf("changes: decode %s: %w", snap.Ref.ID, err)
		}
		out = append(out, c.change())
	}
	return out, nil
}

// Watch implements jobs.Store with a snapshot listener on the user's
// changes after since. A user's changes commit in sequence order (each
// transaction that records one reads and writes the user's document), so
// a snapshot that holds a change holds all before it; each snapshot's new
// changes are delivered in sequence order.
func (s *Store) Watch(ctx context.Context, userID string, since int64) (<-chan jobs.Change, error) {
	if userID == "" {
		return nil, jobs.FieldError("user", "is required")
	}
	out := make(chan jobs.Change)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			next, err := s.listen(ctx, userID, since, out)
			if err != nil {
				return
			}
			since = next
		}
	}()
	return out, nil
}

// listen delivers the user's changes after since until it has delivered
// watchWindow of them, and returns the last delivered.
func (s *Store) listen(ctx context.Context, userID string, since int64, out chan<- jobs.Change) (int64, error) {
	it := s.changesCol(userID).Where("seq", ">", since).OrderBy("seq", firestore.Asc).Snapshots(ctx)
	defer it.Stop()
	delivered := 0
	for delivered < watchWindow {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return since, errors.New("watch: listener stopped")
		}
		if err != nil {
			return since, err
		}
		var batch []changeDoc
		for _, ch := range snap.Changes {
			if ch.Kind != firestore.DocumentAdded {
				continue
			}
			var c changeDoc
			if err := ch.Doc.DataTo(&c); err != nil {
				return since, fmt.Errorf("watch: decode %s: %w", ch.Doc.Ref.ID, err)
			}
			batch = append(batch, c)
		}
		sort.Slice(batch, func(i, j int) bool { return batch[i].Seq < batch[j].Seq })
		for _, c := range batch {
			if c.Seq <= since {
				continue
			}
			select {
			case out <- c.change():
				since = c.Seq
				delivered++
			case <-ctx.Done():
				return since, ctx.Err()
			}
		}
	}
	return since, nil
}
