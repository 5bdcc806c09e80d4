package firestore

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"omtx/accounts"
	"omtx/jobs"
)

// UserCreate implements accounts.Store. The user, its name and its first
// token are created in one commit; the name's document exists if the name
// is taken in any case, and then the commit fails.
func (s *Store) UserCreate(ctx context.Context, n accounts.NewUser) (*accounts.User, string, error) {
	if err := n.Validate(); err != nil {
		return nil, "", err
	}
	now := s.now()
	id := newID()
	doc := newUserDoc(n.Name, n.Tier, now)
	token := accounts.NewToken()
	err := s.createAll(ctx,
		creation{s.nameRef(n.Name), &nameDoc{UserID: id, Name: n.Name}},
		creation{s.userRef(id), doc},
		creation{s.tokenRef(token), &tokenDoc{UserID: id, CreatedAt: now}})
	if isExists(err) {
		return nil, "", jobs.Errorf(jobs.ErrConflict, "the name %q is taken", n.Name)
	}
	if err != nil {
		return nil, "", wrap(err, "create user %s", n.Name)
	}
	return doc.user(id), token, nil
}

// UserGet implements accounts.Store.
func (s *Store) UserGet(ctx context.Context, id string) (*accounts.User, error) {
	if !validID(id) {
		return nil, notFound("user")
	}
	snap, err := s.userRef(id).Get(ctx)
	if isNotFound(err) {
		return nil, notFound("user")
	}
	if err != nil {
		return nil, wrap(err, "read user %s", id)
	}
	return userOf(snap)
}

// txUser reads a user in a transaction.
func (s *Store) txUser(tx *firestore.Transaction, id string) (*userDoc, error) {
	if !validID(id) {
		return nil, notFound("user")
	}
	snap, err := tx.Get(s.userRef(id))
	if isNotFound(err) {
		return nil, notFound("user")
	}
	if err != nil {
		return nil, wrap(err, "read user %s", id)
	}
	var d userDoc
	if err := decode(snap, &d, "user"); err != nil {
		return nil, err
	}
	return &d, nil
}

func userOf(snap *firestore.DocumentSnapshot) (*accounts.User, error) {
	var d userDoc
	if err := decode(snap, &d, "user"); err != nil {
		return nil, err
	}
	return d.user(snap.Ref.ID), nil
}

// UserByName implements accounts.Store.
func (s *Store) UserByName(ctx context.Context, name string) (*accounts.User, error) {
	snaps, err := s.root.Collection(colUsers).Where("name_lower", "==", asciiLower(name)).Limit(1).
		Documents(ctx).GetAll()
	if err != nil {
		return nil, wrap(err, "find user %q", name)
	}
	if len(snaps) == 0 {
		return nil, notFound("user")
	}
	return userOf(snaps[0])
}

// UserList implements accounts.Store: by name regardless of case, as
// SQLite's NOCASE orders them.
func (s *Store) UserList(ctx context.Context) ([]*accounts.User, error) {
	snaps, err := s.root.Collection(colUsers).OrderBy("name_lower", firestore.Asc).Documents(ctx).GetAll()
	if err != nil {
		return nil, wrap(err, "list users")
	}
	users := make([]*accounts.User, 0, len(snaps))
	for _, snap := range snaps {
		u, err := userOf(snap)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, nil
}

// UserSetTier implements accounts.Store.
func (s *Store) UserSetTier(ctx context.Context, id string, t accounts.Tier) (*accounts.User, error) {
	if _, err := accounts.ParseTier(string(t)); err != nil {
		return nil, err
	}
	defer s.lock(id)()
	now := s.now()
	var u *accounts.User
	err := s.runTx(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		d, err := s.txUser(tx, id)
		if err != nil {
			return err
		}
		d.Tier, d.UpdatedAt = string(t), now
		u = d.user(id)
		return tx.Update(s.userRef(id), []firestore.Update{{Path: "tier", Value: d.Tier}, {Path: "updated_at", Value: now}})
	})
	if err != nil {
		return nil, wrap(err, "set tier of user %s", id)
	}
	return u, nil
}

// userOfCredential reads the user a credential belongs to; a credential
// whose user is gone is as good as none.
func (s *Store) userOfCredential(ctx context.Context, userID, what string) (*accounts.User, error) {
	u, err := s.UserGet(ctx, userID)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return nil, notFound(what)
	}
	if err != nil {
		return nil, fmt.Errorf("%s's user: %w", what, err)
	}
	return u, nil
}
