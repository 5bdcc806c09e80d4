package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"omtx/accounts"
	"omtx/jobs"
)

// TokenCreate implements accounts.Store.
func (s *Store) TokenCreate(ctx context.Context, userID, label string) (string, error) {
	if err := accounts.ValidateLabel(label); err != nil {
		return "", err
	}
	token := accounts.NewToken()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.userWhere(ctx, tx, `u.id = ?`, userID); err != nil {
			return err
		}
		return insertToken(ctx, tx, userID, accounts.HashSecret(token), label, s.now())
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// UserByToken implements accounts.Store.
func (s *Store) UserByToken(ctx context.Context, token string) (*accounts.User, error) {
	if token == "" {
		return nil, notFound("token")
	}
	u, err := scanUser(s.userByToken.QueryRowContext(ctx, accounts.HashSecret(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("token")
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	return u, nil
}

// TokenRevoke implements accounts.Store.
func (s *Store) TokenRevoke(ctx context.Context, token string) error {
	hash := accounts.HashSecret(token)
	return s.tx(ctx, func(tx *sql.Tx) error {
		var revoked int64
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM api_tokens WHERE hash = ?`, hash).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("token")
		}
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if revoked != 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE hash = ?`, s.now(), hash); err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		return nil
	})
}

// SessionCreate implements accounts.Store. It also removes expired
// sessions, of every user.
func (s *Store) SessionCreate(ctx context.Context, userID string, ttl time.Duration) (string, *accounts.Session, error) {
	if ttl <= 0 {
		return "", nil, jobs.FieldError("ttl", "a session lasts a positive time, not %v", ttl)
	}
	now := s.cfg.Clock.Now()
	secret := accounts.NewSessionSecret()
	sess := &accounts.Session{UserID: userID, CSRF: accounts.NewCSRF(), ExpiresAt: toTime(now.Add(ttl).UnixNano())}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.userWhere(ctx, tx, `u.id = ?`, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.UnixNano()); err != nil {
			return fmt.Errorf("remove expired sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			accounts.HashSecret(secret), userID, sess.CSRF, now.UnixNano(), sess.ExpiresAt.UnixNano()); err != nil {
			return fmt.Errorf("create session for user %s: %w", userID, err)
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return secret, sess, nil
}

// SessionGet implements accounts.Store.
func (s *Store) SessionGet(ctx context.Context, secret string) (*accounts.Session, *accounts.User, error) {
	if secret == "" {
		return nil, nil, notFound("session")
	}
	var sess accounts.Session
	var expires int64
	u, err := scanUser(s.sessionGet.QueryRowContext(ctx, accounts.HashSecret(secret), s.now()), &sess.CSRF, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, notFound("session")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up session: %w", err)
	}
	sess.UserID = u.ID
	sess.ExpiresAt = toTime(expires)
	return &sess, u, nil
}

// SessionDelete implements accounts.Store.
func (s *Store) SessionDelete(ctx context.Context, secret string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, accounts.HashSecret(secret)); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return nil
	})
}
