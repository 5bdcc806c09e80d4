package firestore

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"omtx/jobs"
)

// keyDoc is idempotency/{digest(user, key)}: the job or batch that a
// user's submission under an idempotency key recorded, and the
// fingerprint of the work it asked for. It is written in the transaction
// that makes the work visible, and deleted with that work; a document
// whose job is gone or hidden holds nothing.
type keyDoc struct {
	UserID      string `firestore:"user_id"`
	JobID       string `firestore:"job_id"`
	Fingerprint string `firestore:"fingerprint"`
	Batch       bool   `firestore:"batch"`
}

// keyHeldError ends a submission transaction that found the key held.
type keyHeldError struct {
	key keyDoc
}

func (e *keyHeldError) Error() string {
	return fmt.Sprintf("idempotency key held by %s", e.key.JobID)
}

func (s *Store) keysCol() *firestore.CollectionRef { return s.root.Collection("idempotency") }

func (s *Store) keyRef(userID, key string) *firestore.DocumentRef {
	return s.keysCol().Doc(digest(userID, key))
}

// heldKey answers, before anything is written, a submission whose key the
// user's visible job or batch holds: nil when it holds none.
func (s *Store) heldKey(ctx context.Context, sub jobs.Submission) (*keyDoc, error) {
	if sub.IdempotencyKey == "" {
		return nil, nil
	}
	snap, err := s.keyRef(sub.UserID, sub.IdempotencyKey).Get(ctx)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up idempotency key: %w", err)
	}
	var k keyDoc
	if err := snap.DataTo(&k); err != nil {
		return nil, fmt.Errorf("decode idempotency key: %w", err)
	}
	if k.UserID != sub.UserID {
		return nil, nil
	}
	if _, err := s.visibleJob(ctx, sub.UserID, k.JobID); jobs.IsCode(err, jobs.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &k, nil
}

// holdKey, in a submission's transaction, claims sub's idempotency key for
// jobID, or answers *keyHeldError when the user's visible job or batch
// holds it. It reads before any write, as Firestore wants; the claim is
// written by flush.
func (t *txn) holdKey(sub jobs.Submission, jobID string) error {
	if sub.IdempotencyKey == "" {
		return nil
	}
	ref := t.s.keyRef(sub.UserID, sub.IdempotencyKey)
	snap, err := t.tx.Get(ref)
	switch {
	case isNotFound(err):
	case err != nil:
		return fmt.Errorf("look up idempotency key: %w", err)
	default:
		var k keyDoc
		if err := snap.DataTo(&k); err != nil {
			return fmt.Errorf("decode idempotency key: %w", err)
		}
		j, err := t.job(k.JobID)
		if err != nil && !jobs.IsCode(err, jobs.ErrNotFound) {
			return err
		}
		if err == nil && k.UserID == sub.UserID && j.doc.UserID == sub.UserID && j.doc.visible() {
			return &keyHeldError{key: k}
		}
	}
	t.keys = append(t.keys, keyWrite{ref: ref, doc: keyDoc{UserID: sub.UserID, JobID: jobID,
		Fingerprint: sub.Fingerprint(), Batch: sub.IsBatch()}})
	return nil
}

// keyWrite is a claim of an idempotency key that flush writes.
type keyWrite struct {
	ref *firestore.DocumentRef
	doc keyDoc
}

// replay answers a submission under a held key: the holder as it is now
// for the same work, a conflict for other work.
func (s *Store) replay(ctx context.Context, sub jobs.Submission, k keyDoc) error {
	if k.Fingerprint != sub.Fingerprint() {
		return jobs.KeyReusedError(k.JobID)
	}
	if k.Batch {
		b, err := s.BatchGet(ctx, sub.UserID, k.JobID)
		if err != nil {
			return wrap(err, "submit: read back batch %s", k.JobID)
		}
		return &jobs.SubmittedError{Job: &b.Job}
	}
	j, err := s.JobGet(ctx, sub.UserID, k.JobID)
	if err != nil {
		return wrap(err, "submit: read back job %s", k.JobID)
	}
	return &jobs.SubmittedError{Job: j}
}
