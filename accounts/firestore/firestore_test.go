package firestore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"omtx/accounts"
	"omtx/accounts/accountstest"
	"omtx/jobs"
	"omtx/jobs/firestore/firestoretest"
	"omtx/jobs/jobstest"
)

// project is the emulator's project: the demo- prefix keeps the client
// from ever looking for real credentials.
const project = "demo-omtx-test"

func TestMain(m *testing.M) {
	os.Exit(firestoretest.Main(m))
}

// testRoot is a root document of the test's own, so that tests share the
// emulator without seeing each other's records.
func testRoot(t *testing.T) string {
	return "omtx/accounts-" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + uuid.NewString()[:8]
}

// openAt opens a store on root, closed when the test ends.
func openAt(t *testing.T, root string, clock jobs.Clock) *Store {
	t.Helper()
	firestoretest.Require(t)
	s, err := Open(context.Background(), project, accounts.Config{Clock: clock}, Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	accountstest.Run(t, func(t *testing.T, clock jobs.Clock) accounts.Store {
		return openAt(t, testRoot(t), clock)
	})
}

// allDocs returns every document under the store's root, by path.
func (s *Store) allDocs(t *testing.T) map[string]map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]map[string]any{}
	cols, err := s.root.Collections(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range cols {
		snaps, err := col.Documents(ctx).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, snap := range snaps {
			out[col.ID+"/"+snap.Ref.ID] = snap.Data()
		}
	}
	return out
}

// Only hashes of credentials reach the database, as document ids.
func TestCredentialsHashed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openAt(t, testRoot(t), jobstest.NewClock(accountstest.Start))
	u, token, err := s.UserCreate(ctx, accounts.NewUser{Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.TokenCreate(ctx, u.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	secret, sess, err := s.SessionCreate(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	docs := s.allDocs(t)
	raw := fmt.Sprint(docs)
	for _, cred := range []string{token, second, secret} {
		_, body, _ := strings.Cut(cred, "_")
		if strings.Contains(raw, body) {
			t.Fatalf("the database holds the credential %q", cred)
		}
	}
	for _, path := range []string{colTokens + "/" + accounts.HashSecret(token), colTokens + "/" + accounts.HashSecret(second),
		colSessions + "/" + accounts.HashSecret(secret)} {
		if docs[path] == nil {
			t.Fatalf("no document %s", path)
		}
	}
	if !strings.Contains(raw, sess.CSRF) {
		t.Fatal("the database lacks the session's CSRF token")
	}
	// One user, one name, two tokens, one session.
	if len(docs) != 5 {
		t.Fatalf("%d documents: %v", len(docs), docs)
	}
	if got := docs[colNames+"/"+digest("alice")]; got == nil || got["user_id"] != u.ID {
		t.Fatalf("the name's document: %v", got)
	}
}

// Stores on different roots share nothing; two stores on one root (two
// hubs) share everything.
func TestRoots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := jobstest.NewClock(accountstest.Start)
	root := testRoot(t)
	a, b, other := openAt(t, root, clock), openAt(t, root, clock), openAt(t, testRoot(t), clock)
	u, token, err := a.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.UserByToken(ctx, token); err != nil || got.ID != u.ID {
		t.Fatalf("the other hub: %v, %v", got, err)
	}
	if _, _, err := b.UserCreate(ctx, accounts.NewUser{Name: "ALICE"}); !jobs.IsCode(err, jobs.ErrConflict) {
		t.Fatalf("the other hub took the name: %v", err)
	}
	if _, err := other.UserByToken(ctx, token); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("another root knows the token: %v", err)
	}
	if _, _, err := other.UserCreate(ctx, accounts.NewUser{Name: "alice"}); err != nil {
		t.Fatalf("another root: %v", err)
	}
}

func TestOpenInvalid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, root := range []string{"omtx", "omtx/a/b", "/omtx/a", "omtx//a", "omtx/__x__"} {
		if s, err := Open(ctx, project, accounts.Config{}, Options{Root: root}); err == nil {
			s.Close()
			t.Errorf("root %q opened", root)
		}
	}
	if _, err := Open(ctx, "", accounts.Config{}, Options{}); err == nil {
		t.Error("an empty project opened")
	}
}

// Ids and names that cannot be document ids are unknown, not errors.
func TestOddKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openAt(t, testRoot(t), jobstest.NewClock(accountstest.Start))
	for _, id := range []string{"", ".", "..", "a/b", "__x__", strings.Repeat("x", 2000), "\xff"} {
		if _, err := s.UserGet(ctx, id); !jobs.IsCode(err, jobs.ErrNotFound) {
			t.Errorf("get %q: %v", id, err)
		}
		if _, err := s.TokenCreate(ctx, id, ""); !jobs.IsCode(err, jobs.ErrNotFound) {
			t.Errorf("token for %q: %v", id, err)
		}
		if _, _, err := s.SessionCreate(ctx, id, time.Hour); !jobs.IsCode(err, jobs.ErrNotFound) {
			t.Errorf("session for %q: %v", id, err)
		}
		if _, err := s.UserSetTier(ctx, id, accounts.TierPremium); !jobs.IsCode(err, jobs.ErrNotFound) {
			t.Errorf("set tier of %q: %v", id, err)
		}
	}
	// Names that are valid but not document ids are fine: the name's
	// document id is a digest.
	for _, name := range []string{".", "..", "__x__", "__"} {
		u, _, err := s.UserCreate(ctx, accounts.NewUser{Name: name})
		if err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		got, err := s.UserByName(ctx, name)
		if err != nil || got.ID != u.ID {
			t.Fatalf("by name %q: %v, %v", name, got, err)
		}
		if _, _, err := s.UserCreate(ctx, accounts.NewUser{Name: name}); !jobs.IsCode(err, jobs.ErrConflict) {
			t.Fatalf("create %q again: %v", name, err)
		}
	}
	if _, err := s.UserByName(ctx, "a/b"); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Errorf("by name a/b: %v", err)
	}
	// Any subject is an identity, slashes and all.
	id := accounts.External{Provider: "oidc/x", Subject: "https://issuer/sub/1"}
	u, err := s.UserEnsureExternal(ctx, id, accounts.NewUser{Name: "oidc"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByExternal(ctx, id); err != nil || got.ID != u.ID {
		t.Fatalf("by external: %v, %v", got, err)
	}
}

// Creating a session removes every expired session, more than one commit
// holds.
func TestPurgeMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := jobstest.NewClock(accountstest.Start)
	s := openAt(t, testRoot(t), clock)
	u, _, err := s.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// Write the sessions directly: SessionCreate would take a while.
	const n = purgeChunk*2 + 7
	bw := s.client.BulkWriter(ctx)
	for i := range n {
		doc := &sessionDoc{UserID: u.ID, CSRF: "c", CreatedAt: s.now(), ExpiresAt: s.now() + int64(i+1)}
		if _, err := bw.Create(s.sessionRef(fmt.Sprint("secret-", i)), doc); err != nil {
			t.Fatal(err)
		}
	}
	bw.End()
	live, _, err := s.SessionCreate(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, _, err := s.SessionCreate(ctx, u.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	left, err := s.root.Collection(colSessions).Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 {
		t.Fatalf("%d sessions left, want 2", len(left))
	}
	if _, _, err := s.SessionGet(ctx, live); err != nil {
		t.Fatal(err)
	}
}

// Changes of one user and one token from many goroutines (many hubs) all
// commit: read-write transactions that conflict are retried.
func TestConcurrentChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openAt(t, testRoot(t), jobstest.NewClock(accountstest.Start))
	u, token, err := s.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			if _, err := s.UserSetTier(ctx, u.ID, accounts.Tiers()[g%3]); err != nil {
				errs[g] = err
				return
			}
			errs[g] = s.TokenRevoke(ctx, token)
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", g, err)
		}
	}
	if _, err := s.UserByToken(ctx, token); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("revoked token: %v", err)
	}
	got, err := s.UserGet(ctx, u.ID)
	if err != nil || !got.Tier.Valid() {
		t.Fatalf("user after the changes: %+v, %v", got, err)
	}
}

// First sign-ins racing on several hubs (stores on one root, whose locks
// do not meet) end as on one: one user per identity, distinct names.
func TestEnsureAcrossHubs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := jobstest.NewClock(accountstest.Start)
	root := testRoot(t)
	const hubs, n = 4, 8
	stores := make([]*Store, hubs)
	for i := range stores {
		stores[i] = openAt(t, root, clock)
	}
	shared := accounts.External{Provider: accounts.ProviderFirebase, Subject: "uid-shared"}
	same := make([]*accounts.User, n)
	apart := make([]*accounts.User, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			s := stores[g%hubs]
			var err error
			if same[g], err = s.UserEnsureExternal(ctx, shared, accounts.NewUser{Name: "popular"}); err != nil {
				errs[g] = err
				return
			}
			id := accounts.External{Provider: accounts.ProviderFirebase, Subject: fmt.Sprint("uid-", g)}
			apart[g], errs[g] = s.UserEnsureExternal(ctx, id, accounts.NewUser{Name: "popular"})
		})
	}
	wg.Wait()
	names := map[string]bool{}
	for g := range n {
		if errs[g] != nil {
			t.Fatalf("goroutine %d: %v", g, errs[g])
		}
		if same[g].ID != same[0].ID {
			t.Fatalf("one identity has users %s and %s", same[g].ID, same[0].ID)
		}
		if names[apart[g].Name] || apart[g].ID == same[0].ID {
			t.Fatalf("identity %d shares %+v", g, apart[g])
		}
		names[apart[g].Name] = true
	}
	// The n+1 users took the name and its first n suffixes.
	names[same[0].Name] = true
	for k := 1; k <= n+1; k++ {
		if !names[candidate("popular", k)] {
			t.Fatalf("name %q not taken: %v", candidate("popular", k), names)
		}
	}
}

// A name-storm: more identities than first names race for one name, and
// each ends with its own user and the next free name.
func TestEnsureNamesInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openAt(t, testRoot(t), jobstest.NewClock(accountstest.Start))
	for i := range nameChunk + 3 {
		u, err := s.UserEnsureExternal(ctx, accounts.External{Provider: accounts.ProviderFirebase, Subject: fmt.Sprint("uid-", i)},
			accounts.NewUser{Name: "User"})
		if err != nil {
			t.Fatal(err)
		}
		if want := candidate("User", i+1); u.Name != want {
			t.Fatalf("user %d named %q, want %q", i, u.Name, want)
		}
	}
}
