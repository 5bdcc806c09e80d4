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
// that makes the work visible, and deleted in the transaction that
// deletes the job or starts deleting the batch; a document whose job is
// gone or hidden holds nothing, and the next submission under its key
// takes it over.
type keyDoc struct {
	UserID      string `firestore:"user_id"`
	JobID       string `firestore:"job_id"`
	Fingerprint string `firestore:"fingerprint"`
	Batch       bool   `firestore:"batch"`
}

// keyHeldError ends a submission's transaction that found its key held
// by the user's visible job or batch (a concurrent submission won).
type keyHeldError struct {
	key keyDoc
}

func (e *keyHeldError) Error() string {
	return fmt.Sprintf("idempotency key held by %s", e.key.JobID)
}

// keyWrite is a claim of an idempotency key that flush writes.
type keyWrite struct {
	ref *firestore.DocumentRef
	doc keyDoc
}

func (s *Store) keysCol() *firestore.CollectionRef { return s.root.Collection("idempotency") }

func (s *Store) keyRef(userID, key string) *firestore.DocumentRef {
	return s.keysCol().Doc(digest(userID, key))
}

// readKey decodes a key document; ok is false when there is none.
func readKey(snap *firestore.DocumentSnapshot, err error) (k keyDoc, ok bool, _ error) {
	if isNotFound(err) {
		return keyDoc{}, false, nil
	}
	if err != nil {
		return keyDoc{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if err := snap.DataTo(&k); err != nil {
		return keyDoc{}, false, fmt.Errorf("decode idempotency key %s: %w", snap.Ref.ID, err)
	}
	return k, true, nil
}

// heldKey looks up, before anything is written, whether the user's
// visible job or batch holds sub's idempotency key: nil when none does.
func (s *Store) heldKey(ctx context.Context, sub jobs.Submission) (*keyDoc, error) {
	if sub.IdempotencyKey == "" {
		return nil, nil
	}
	k, ok, err := readKey(s.keyRef(sub.UserID, sub.IdempotencyKey).Get(ctx))
	if err != nil || !ok || k.UserID != sub.UserID {
		return nil, err
	}
	if _, err := s.visibleJob(ctx, sub.UserID, k.JobID); jobs.IsCode(err, jobs.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &k, nil
}

// holdKey, in the transaction that makes submission jobID visible,
// claims sub's idempotency key for it, or answers *keyHeldError when the
// user's visible job or batch holds the key. It only reads; flush writes
// the claim.
func (t *txn) holdKey(sub jobs.Submission, jobID string) error {
	if sub.IdempotencyKey == "" {
		return nil
	}
	ref := t.s.keyRef(sub.UserID, sub.IdempotencyKey)
	k, ok, err := readKey(t.tx.Get(ref))
	if err != nil {
		return err
	}
	if ok && k.UserID == sub.UserID && k.JobID != jobID {
		j, err := t.job(k.JobID)
		switch {
		case jobs.IsCode(err, jobs.ErrNotFound):
		case err != nil:
			return err
		case j.doc.UserID == sub.UserID && j.doc.visible():
			return &keyHeldError{key: k}
		}
	}
	t.keys = append(t.keys, keyWrite{ref: ref, doc: keyDoc{UserID: sub.UserID, JobID: jobID,
		Fingerprint: sub.Fingerprint(), Batch: sub.IsBatch()}})
	return nil
}

// freeKey, in a transaction that deletes job j (or starts deleting batch
// j), releases the idempotency key j was submitted under if j still holds
// it. It only reads; flush deletes the key's document.
func (t *txn) freeKey(j *jobState) error {
	if j.doc.IdempotencyKey == "" {
		return nil
	}
	ref := t.s.keyRef(j.doc.UserID, j.doc.IdempotencyKey)
	k, ok, err := readKey(t.tx.Get(ref))
	if err != nil {
		return fmt.Errorf("free key of %s: %w", j.id, err)
	}
	if ok && k.JobID == j.id {
		t.freed = append(t.freed, ref)
	}
	return nil
}

// replayAttempts bounds how often Submit looks a held key up again when
// its holder is deleted while being read back.
const replayAttempts = 3

// replay answers a submission under a held key: *jobs.SubmittedError
// with the holder as it is now for the same work, KeyReusedError for
// other work. It answers ErrNotFound when the holder was deleted since
// the key was found.
func (s *Store) replay(ctx context.Context, sub jobs.Submission, k keyDoc) error {
	if k.Fingerprint != sub.Fingerprint() {
		return jobs.KeyReusedError(k.JobID)
	}
	if k.Batch {
		b, err := s.BatchGet(ctx, sub.UserID, k.JobID)
		if err != nil {
			return wrap(err, "read back batch %s", k.JobID)
		}
		return &jobs.SubmittedError{Job: &b.Job}
	}
	j, err := s.JobGet(ctx, sub.UserID, k.JobID)
	if err != nil {
		return wrap(err, "read back job %s", k.JobID)
	}
	return &jobs.SubmittedError{Job: j}
}
