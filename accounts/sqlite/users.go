package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"omtx/accounts"
	"omtx/jobs"
)

const userColumns = `u.id, u.name, u.tier, u.created_at`

type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner, extra ...any) (*accounts.User, error) {
	var u accounts.User
	var created int64
	if err := row.Scan(append(extra, &u.ID, &u.Name, &u.Tier, &created)...); err != nil {
		return nil, err
	}
	u.CreatedAt = toTime(created)
	return &u, nil
}

// userWhere reads the one user matching where.
func (s *Store) userWhere(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, where string, args ...any) (*accounts.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user")
	}
	if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// UserCreate implements accounts.Store.
func (s *Store) UserCreate(ctx context.Context, n accounts.NewUser) (*accounts.User, string, error) {
	if err := n.Validate(); err != nil {
		return nil, "", err
	}
	now := s.cfg.Clock.Now()
	u := &accounts.User{ID: newID(), Name: n.Name, Tier: n.Tier, CreatedAt: toTime(now.UnixNano())}
	token := accounts.NewToken()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, tier, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			u.ID, u.Name, string(u.Tier), now.UnixNano(), now.UnixNano()); err != nil {
			if isUnique(err) {
				return jobs.Errorf(jobs.ErrConflict, "the name %q is taken", u.Name)
			}
			return fmt.Errorf("create user %s: %w", u.Name, err)
		}
		return insertToken(ctx, tx, u.ID, accounts.HashSecret(token), "", now.UnixNano())
	})
	if err != nil {
		return nil, "", err
	}
	return u, token, nil
}

func insertToken(ctx context.Context, tx *sql.Tx, userID, hash, label string, now int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (hash, user_id, label, created_at) VALUES (?, ?, ?, ?)`,
		hash, userID, label, now); err != nil {
		return fmt.Errorf("create token for user %s: %w", userID, err)
	}
	return nil
}

// UserGet implements accounts.Store.
func (s *Store) UserGet(ctx context.Context, id string) (*accounts.User, error) {
	return s.userWhere(ctx, s.read, `u.id = ?`, id)
}

// UserByName implements accounts.Store.
func (s *Store) UserByName(ctx context.Context, name string) (*accounts.User, error) {
	return s.userWhere(ctx, s.read, `u.name = ?`, name)
}

// UserList implements accounts.Store.
func (s *Store) UserList(ctx context.Context) ([]*accounts.User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users u ORDER BY u.name, u.id`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	users := []*accounts.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UserSetTier implements accounts.Store.
func (s *Store) UserSetTier(ctx context.Context, id string, t accounts.Tier) (*accounts.User, error) {
	if _, err := accounts.ParseTier(string(t)); err != nil {
		return nil, err
	}
	var u *accounts.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET tier = ?, updated_at = ? WHERE id = ?`, string(t), s.now(), id)
		if err != nil {
			return fmt.Errorf("set tier of user %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("set tier of user %s: %w", id, err)
		} else if n == 0 {
			return notFound("user")
		}
		u, err = s.userWhere(ctx, tx, `u.id = ?`, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
