package firestore

import (
	"context"

	"cloud.google.com/go/firestore"

	"omtx/accounts"
	"omtx/jobs"
)

// maxNameTries bounds the names UserEnsureExternal tries for a new user:
// the name and UniqueName(name, 2) to UniqueName(name, maxNameTries).
const maxNameTries = 1000

// nameChunk is how many candidate names one read checks.
const nameChunk = 20

// maxEnsureRounds bounds UserEnsureExternal's rounds. A round lost to a
// racing creator means that creator made a user (with the identity or the
// name this round wanted), so rounds run out only under a storm of
// sign-ins.
const maxEnsureRounds = 100

// UserByExternal implements accounts.Store: one read of the identity's
// document, one of its user.
func (s *Store) UserByExternal(ctx context.Context, id accounts.External) (*accounts.User, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	snap, err := s.externalRef(id).Get(ctx)
	if isNotFound(err) {
		return nil, notFound("user")
	}
	if err != nil {
		return nil, wrap(err, "look up %s identity", id.Provider)
	}
	var d externalDoc
	if err := decode(snap, &d, "identity"); err != nil {
		return nil, err
	}
	return s.UserGet(ctx, d.UserID)
}

// UserEnsureExternal implements accounts.Store. A new user, its name and
// its link to the identity are created in one commit that fails if any of
// them exists: if the identity won (a concurrent first sign-in linked it),
// the next round finds its user; if the name did, the next round tries
// the names after it. Names are never freed, so the name a round picks is
// the first free one. A round reads the identity and the first candidate
// names in one call. A Store runs the rounds of first sign-ins that want
// one name one at a time (see lock), so that its own sign-ins do not lose
// rounds to each other.
func (s *Store) UserEnsureExternal(ctx context.Context, id accounts.External, n accounts.NewUser) (*accounts.User, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	// Most sign-ins are not the first: they take no lock.
	if u, err := s.UserByExternal(ctx, id); !jobs.IsCode(err, jobs.ErrNotFound) {
		return u, err
	}
	defer s.lock("name:" + asciiLower(n.Name))()
	next := 1 // the first candidate to check: 1 is the name itself
	for range maxEnsureRounds {
		userID, name, k, err := s.probe(ctx, id, n.Name, next)
		if err != nil {
			return nil, err
		}
		if userID != "" {
			return s.UserGet(ctx, userID)
		}
		u, err := s.createLinked(ctx, id, name, n.Tier)
		if !isExists(err) {
			return u, err
		}
		next = k + 1
	}
	return nil, jobs.Errorf(jobs.ErrConflict, "too many concurrent sign-ins: try again")
}

// probe reads, in one call, the identity's link and candidate names from
// the from-th on. It returns the linked user's id, or else the first free
// candidate and its number (reading further candidates if it must).
func (s *Store) probe(ctx context.Context, id accounts.External, name string, from int) (userID, free string, k int, err error) {
	refs := append([]*firestore.DocumentRef{s.externalRef(id)}, s.candidateRefs(name, from)...)
	snaps, err := s.client.GetAll(ctx, refs)
	if err != nil {
		return "", "", 0, wrap(err, "look up %s identity", id.Provider)
	}
	if snaps[0].Exists() {
		var d externalDoc
		if err := decode(snaps[0], &d, "identity"); err != nil {
			return "", "", 0, err
		}
		return d.UserID, "", 0, nil
	}
	if k, ok := firstMissing(snaps[1:], from); ok {
		return "", candidate(name, k), k, nil
	}
	free, k, err = s.freeName(ctx, name, from+len(refs)-1)
	return "", free, k, err
}

// createLinked creates a user named name, linked to id, in one commit.
func (s *Store) createLinked(ctx context.Context, id accounts.External, name string, tier accounts.Tier) (*accounts.User, error) {
	now := s.now()
	userID := newID()
	doc := newUserDoc(name, tier, now)
	err := s.createAll(ctx,
		creation{s.externalRef(id), &externalDoc{Provider: id.Provider, Subject: id.Subject, UserID: userID, CreatedAt: now}},
		creation{s.nameRef(name), &nameDoc{UserID: userID, Name: name}},
		creation{s.userRef(userID), doc})
	if err != nil {
		if isExists(err) {
			return nil, err // for the caller to tell
		}
		return nil, wrap(err, "create user %s for %s identity", name, id.Provider)
	}
	return doc.user(userID), nil
}

// candidate is the k-th name UserEnsureExternal tries for name: the name
// itself (k = 1), then UniqueName(name, k).
func candidate(name string, k int) string {
	if k == 1 {
		return name
	}
	return accounts.UniqueName(name, k)
}

// candidateRefs returns the name documents of up to nameChunk candidate
// names, from the from-th on.
func (s *Store) candidateRefs(name string, from int) []*firestore.DocumentRef {
	refs := make([]*firestore.DocumentRef, 0, nameChunk)
	for k := from; k < from+nameChunk && k <= maxNameTries; k++ {
		refs = append(refs, s.nameRef(candidate(name, k)))
	}
	return refs
}

// firstMissing returns the number of the first candidate whose name
// document does not exist, given the snapshots of candidates from the
// from-th on.
func firstMissing(snaps []*firestore.DocumentSnapshot, from int) (int, bool) {
	for i, snap := range snaps {
		if !snap.Exists() {
			return from + i, true
		}
	}
	return 0, false
}

// freeName returns the first candidate name, from the from-th on, that no
// user has (regardless of case), and its number. It reads the candidates'
// name documents nameChunk at a time.
func (s *Store) freeName(ctx context.Context, name string, from int) (string, int, error) {
	for k := from; k <= maxNameTries; k += nameChunk {
		snaps, err := s.client.GetAll(ctx, s.candidateRefs(name, k))
		if err != nil {
			return "", 0, wrap(err, "check names like %q", name)
		}
		if i, ok := firstMissing(snaps, k); ok {
			return candidate(name, i), i, nil
		}
	}
	return "", 0, jobs.Errorf(jobs.ErrConflict, "no free name like %q", name)
}
