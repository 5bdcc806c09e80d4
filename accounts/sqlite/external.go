package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"omtx/accounts"
	"omtx/jobs"
)

// maxNameTries bounds the names UserEnsureExternal tries for a new user.
const maxNameTries = 1000

// UserByExternal implements accounts.Store.
func (s *Store) UserByExternal(ctx context.Context, id accounts.External) (*accounts.User, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	return s.userWhere(ctx, s.read, `u.id = (SELECT user_id FROM external_identities WHERE provider = ? AND subject = ?)`,
		id.Provider, id.Subject)
}

// UserEnsureExternal implements accounts.Store. The lookup, the choice of
// a free name and both inserts are one write transaction, and write
// transactions are serialized (in this process by writeMu, across
// processes by SQLite's lock, taken when the transaction begins), so
// concurrent first sign-ins of one identity make one user.
func (s *Store) UserEnsureExternal(ctx context.Context, id accounts.External, n accounts.NewUser) (*accounts.User, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if u, err := s.UserByExternal(ctx, id); err == nil || !jobs.IsCode(err, jobs.ErrNotFound) {
		return u, err
	}
	var u *accounts.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = s.userWhere(ctx, tx, `u.id = (SELECT user_id FROM external_identities WHERE provider = ? AND subject = ?)`,
			id.Provider, id.Subject)
		if !jobs.IsCode(err, jobs.ErrNotFound) {
			return err // found (nil), or failed
		}
		name, err := freeName(ctx, tx, n.Name)
		if err != nil {
			return err
		}
		now := s.cfg.Clock.Now().UnixNano()
		u = &accounts.User{ID: newID(), Name: name, Tier: n.Tier, CreatedAt: toTime(now)}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, tier, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			u.ID, u.Name, string(u.Tier), now, now); err != nil {
			return fmt.Errorf("create user %s: %w", u.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO external_identities (provider, subject, user_id, created_at) VALUES (?, ?, ?, ?)`,
			id.Provider, id.Subject, u.ID, now); err != nil {
			return fmt.Errorf("link %s identity to user %s: %w", id.Provider, u.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// freeName returns name, or the first of its UniqueName candidates that
// no user has (names compare regardless of case).
func freeName(ctx context.Context, tx *sql.Tx, name string) (string, error) {
	cand := name
	for i := 2; i <= maxNameTries; i++ {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE name = ?`, cand).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return cand, nil
		}
		if err != nil {
			return "", fmt.Errorf("check name %s: %w", cand, err)
		}
		cand = accounts.UniqueName(name, i)
	}
	return "", jobs.Errorf(jobs.ErrConflict, "no free name like %q", name)
}
