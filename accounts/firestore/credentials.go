package firestore

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"

	"omtx/accounts"
	"omtx/jobs"
)

// purgeChunk is how many expired sessions one commit removes.
const purgeChunk = 200

// TokenCreate implements accounts.Store.
func (s *Store) TokenCreate(ctx context.Context, userID, label string) (string, error) {
	if err := accounts.ValidateLabel(label); err != nil {
		return "", err
	}
	token := accounts.NewToken()
	doc := &tokenDoc{UserID: userID, Label: label, CreatedAt: s.now()}
	defer s.lock(userID)()
	err := s.runTx(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		if _, err := s.txUser(tx, userID); err != nil {
			return err
		}
		return tx.Create(s.tokenRef(token), doc)
	})
	if err != nil {
		return "", wrap(err, "create token for user %s", userID)
	}
	return token, nil
}

// UserByToken implements accounts.Store: one read of the token, one of
// its user.
func (s *Store) UserByToken(ctx context.Context, token string) (*accounts.User, error) {
	if token == "" {
		return nil, notFound("token")
	}
	snap, err := s.tokenRef(token).Get(ctx)
	if isNotFound(err) {
		return nil, notFound("token")
	}
	if err != nil {
		return nil, wrap(err, "look up token")
	}
	var d tokenDoc
	if err := decode(snap, &d, "token"); err != nil {
		return nil, err
	}
	if d.RevokedAt != 0 {
		return nil, notFound("token")
	}
	return s.userOfCredential(ctx, d.UserID, "token")
}

// TokenRevoke implements accounts.Store.
func (s *Store) TokenRevoke(ctx context.Context, token string) error {
	ref := s.tokenRef(token)
	defer s.lock(ref.ID)()
	now := s.now()
	err := s.runTx(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if isNotFound(err) {
			return notFound("token")
		}
		if err != nil {
			return err
		}
		var d tokenDoc
		if err := decode(snap, &d, "token"); err != nil {
			return err
		}
		if d.RevokedAt != 0 {
			return nil
		}
		return tx.Update(ref, []firestore.Update{{Path: "revoked_at", Value: now}})
	})
	return wrap(err, "revoke token")
}

// SessionCreate implements accounts.Store. It first removes expired
// sessions, of every user.
func (s *Store) SessionCreate(ctx context.Context, userID string, ttl time.Duration) (string, *accounts.Session, error) {
	if ttl <= 0 {
		return "", nil, jobs.FieldError("ttl", "a session lasts a positive time, not %v", ttl)
	}
	now := s.now()
	if err := s.purgeSessions(ctx, now); err != nil {
		return "", nil, err
	}
	secret := accounts.NewSessionSecret()
	sess := &accounts.Session{UserID: userID, CSRF: accounts.NewCSRF(), ExpiresAt: toTime(now + int64(ttl))}
	doc := &sessionDoc{UserID: userID, CSRF: sess.CSRF, CreatedAt: now, ExpiresAt: now + int64(ttl)}
	defer s.lock(userID)()
	err := s.runTx(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		if _, err := s.txUser(tx, userID); err != nil {
			return err
		}
		return tx.Create(s.sessionRef(secret), doc)
	})
	if err != nil {
		return "", nil, wrap(err, "create session for user %s", userID)
	}
	return secret, sess, nil
}

// purgeSessions deletes the sessions expired at now. Each expiry is fixed
// when the session is made, so deleting without a transaction is safe: a
// session found expired stays expired.
func (s *Store) purgeSessions(ctx context.Context, now int64) error {
	q := s.root.Collection(colSessions).Where("expires_at", "<=", now).Select().Limit(purgeChunk)
	for {
		snaps, err := q.Documents(ctx).GetAll()
		if err != nil {
			return wrap(err, "find expired sessions")
		}
		if len(snaps) == 0 {
			return nil
		}
		err = s.runTx(ctx, func(_ context.Context, tx *firestore.Transaction) error {
			for _, snap := range snaps {
				if err := tx.Delete(snap.Ref); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return wrap(err, "remove expired sessions")
		}
		if len(snaps) < purgeChunk {
			return nil
		}
	}
}

// SessionGet implements accounts.Store: one read of the session, one of
// its user.
func (s *Store) SessionGet(ctx context.Context, secret string) (*accounts.Session, *accounts.User, error) {
	if secret == "" {
		return nil, nil, notFound("session")
	}
	snap, err := s.sessionRef(secret).Get(ctx)
	if isNotFound(err) {
		return nil, nil, notFound("session")
	}
	if err != nil {
		return nil, nil, wrap(err, "look up session")
	}
	var d sessionDoc
	if err := decode(snap, &d, "session"); err != nil {
		return nil, nil, err
	}
	if d.ExpiresAt <= s.now() {
		return nil, nil, notFound("session")
	}
	u, err := s.userOfCredential(ctx, d.UserID, "session")
	if err != nil {
		return nil, nil, err
	}
	return &accounts.Session{UserID: u.ID, CSRF: d.CSRF, ExpiresAt: toTime(d.ExpiresAt)}, u, nil
}

// SessionDelete implements accounts.Store. Deleting a document that does
// not exist succeeds, so an unknown session is no error.
func (s *Store) SessionDelete(ctx context.Context, secret string) error {
	if _, err := s.sessionRef(secret).Delete(ctx); err != nil {
		return wrap(err, "delete session")
	}
	return nil
}
