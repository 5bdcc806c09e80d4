// Package accountstest is the conformance suite every accounts.Store must
// pass. A backend's test calls Run with a function that opens an empty
// store on the given clock.
package accountstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"omtx/accounts"
	"omtx/jobs"
	"omtx/jobs/jobstest"
)

// Open returns a new, empty store that tells time by clock.
type Open func(t *testing.T, clock jobs.Clock) accounts.Store

// Start is the suite's clock origin.
var Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Run runs the whole suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"UserCreateGet", testUserCreateGet},
		{"UserList", testUserList},
		{"UserNameConflict", testUserNameConflict},
		{"UserInvalid", testUserInvalid},
		{"UserNotFound", testUserNotFound},
		{"UserSetTier", testUserSetTier},
		{"TokenRoundTrip", testTokenRoundTrip},
		{"TokenSecond", testTokenSecond},
		{"TokenRevoke", testTokenRevoke},
		{"Session", testSession},
		{"SessionExpiry", testSessionExpiry},
		{"SessionDelete", testSessionDelete},
		{"CredentialsApart", testCredentialsApart},
		{"Concurrent", testConcurrent},
		{"ExternalEnsure", testExternalEnsure},
		{"ExternalNameTaken", testExternalNameTaken},
		{"ExternalApart", testExternalApart},
		{"ExternalInvalid", testExternalInvalid},
		{"ExternalConcurrent", testExternalConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := jobstest.NewClock(Start)
			h := &harness{t: t, clock: clock, store: open(t, clock), ctx: context.Background()}
			t.Cleanup(func() { h.store.Close() })
			if err := h.store.Ping(h.ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			tc.fn(t, h)
		})
	}
}

type harness struct {
	t     *testing.T
	clock *jobstest.Clock
	store accounts.Store
	ctx   context.Context
}

func (h *harness) create(name string, tier accounts.Tier) (*accounts.User, string) {
	h.t.Helper()
	u, token, err := h.store.UserCreate(h.ctx, accounts.NewUser{Name: name, Tier: tier})
	if err != nil {
		h.t.Fatalf("create user %s: %v", name, err)
	}
	return u, token
}

func (h *harness) byToken(token string) *accounts.User {
	h.t.Helper()
	u, err := h.store.UserByToken(h.ctx, token)
	if err != nil {
		h.t.Fatalf("user by token: %v", err)
	}
	return u
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := jobs.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	wantCode(t, what, err, jobs.ErrInvalid)
	if e := (*jobs.Error)(nil); !errors.As(err, &e) || e.Field != field {
		t.Fatalf("%s: error about field %q, want %q", what, e.Field, field)
	}
}

func wantUser(t *testing.T, what string, got, want *accounts.User) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Tier != want.Tier || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func wantToken(t *testing.T, token, prefix string) {
	t.Helper()
	// 32 random bytes are 43 characters of unpadded base64url.
	body, ok := strings.CutPrefix(token, prefix)
	if !ok || len(body) != 43 || strings.ContainsAny(body, "+/=") {
		t.Fatalf("credential %q: want %s and 43 base64url characters", token, prefix)
	}
}

func testUserCreateGet(t *testing.T, h *harness) {
	u, token := h.create("alice", accounts.TierPremium)
	if u.ID == "" || u.Name != "alice" || u.Tier != accounts.TierPremium || !u.CreatedAt.Equal(Start) {
		t.Fatalf("created %+v", u)
	}
	if u.CreatedAt.Location() != time.UTC {
		t.Fatalf("created at %v, want UTC", u.CreatedAt)
	}
	wantToken(t, token, accounts.TokenPrefix)

	got, err := h.store.UserGet(h.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantUser(t, "get", got, u)
	got, err = h.store.UserByName(h.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantUser(t, "by name", got, u)
	got, err = h.store.UserByName(h.ctx, "ALICE")
	if err != nil {
		t.Fatal(err)
	}
	wantUser(t, "by name in capitals", got, u)

	// The tier defaults.
	b, _ := h.create("bob.smith-2_x", "")
	if b.Tier != accounts.TierDefault {
		t.Fatalf("tier of a user created without one: %q", b.Tier)
	}
	if b.ID == u.ID {
		t.Fatalf("two users with ID %s", u.ID)
	}
}

func testUserList(t *testing.T, h *harness) {
	users, err := h.store.UserList(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 0 {
		t.Fatalf("empty store lists %d users", len(users))
	}
	for _, name := range []string{"carol", "alice", "bob"} {
		h.create(name, accounts.TierDefault)
		h.clock.Advance(time.Second)
	}
	users, err = h.store.UserList(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if got := strings.Join(names, ","); got != "alice,bob,carol" {
		t.Fatalf("list: %s, want alice,bob,carol", got)
	}
}

func testUserNameConflict(t *testing.T, h *harness) {
	h.create("alice", accounts.TierDefault)
	for _, name := range []string{"alice", "Alice"} {
		_, _, err := h.store.UserCreate(h.ctx, accounts.NewUser{Name: name, Tier: accounts.TierPremium})
		wantCode(t, "create "+name+" again", err, jobs.ErrConflict)
	}
	users, err := h.store.UserList(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Tier != accounts.TierDefault {
		t.Fatalf("after a conflict: %d users, first %+v", len(users), users[0])
	}
}

func testUserInvalid(t *testing.T, h *harness) {
	for _, name := range []string{"", "a b", "alice@example.org", "ünïcode", "semi;colon", "slash/name", strings.Repeat("x", 65)} {
		_, _, err := h.store.UserCreate(h.ctx, accounts.NewUser{Name: name})
		wantField(t, fmt.Sprintf("name %q", name), err, "name")
	}
	_, _, err := h.store.UserCreate(h.ctx, accounts.NewUser{Name: "alice", Tier: "gold"})
	wantField(t, "tier gold", err, "tier")
	if !strings.Contains(err.Error(), "premium") {
		t.Fatalf("tier error does not list the tiers: %v", err)
	}
	// The longest name is fine.
	h.create(strings.Repeat("x", 64), "")
	users, err := h.store.UserList(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 {
		t.Fatalf("%d users after invalid creates, want 1", len(users))
	}
}

func testUserNotFound(t *testing.T, h *harness) {
	_, err := h.store.UserGet(h.ctx, "00000000-0000-0000-0000-000000000000")
	wantCode(t, "get missing", err, jobs.ErrNotFound)
	_, err = h.store.UserByName(h.ctx, "nobody")
	wantCode(t, "by name missing", err, jobs.ErrNotFound)
	_, err = h.store.UserSetTier(h.ctx, "nobody", accounts.TierPremium)
	wantCode(t, "set tier of missing", err, jobs.ErrNotFound)
	_, err = h.store.TokenCreate(h.ctx, "nobody", "ci")
	wantCode(t, "token for missing", err, jobs.ErrNotFound)
	_, _, err = h.store.SessionCreate(h.ctx, "nobody", time.Hour)
	wantCode(t, "session for missing", err, jobs.ErrNotFound)
}

func testUserSetTier(t *testing.T, h *harness) {
	u, token := h.create("alice", "")
	h.clock.Advance(time.Hour)
	got, err := h.store.UserSetTier(h.ctx, u.ID, accounts.TierEnterprise)
	if err != nil {
		t.Fatal(err)
	}
	want := *u
	want.Tier = accounts.TierEnterprise
	wantUser(t, "set tier", got, &want)
	wantUser(t, "by token after set tier", h.byToken(token), &want)
	_, err = h.store.UserSetTier(h.ctx, u.ID, "platinum")
	wantField(t, "set tier platinum", err, "tier")
}

func testTokenRoundTrip(t *testing.T, h *harness) {
	alice, aliceToken := h.create("alice", accounts.TierPremium)
	bob, bobToken := h.create("bob", "")
	wantUser(t, "alice's token", h.byToken(aliceToken), alice)
	wantUser(t, "bob's token", h.byToken(bobToken), bob)
	for _, bad := range []string{"", "omtx_", aliceToken + "x", aliceToken[:len(aliceToken)-1], strings.ToUpper(aliceToken), accounts.HashSecret(aliceToken)} {
		_, err := h.store.UserByToken(h.ctx, bad)
		wantCode(t, fmt.Sprintf("token %q", bad), err, jobs.ErrNotFound)
	}
}

func testTokenSecond(t *testing.T, h *harness) {
	u, first := h.create("alice", "")
	second, err := h.store.TokenCreate(h.ctx, u.ID, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	wantToken(t, second, accounts.TokenPrefix)
	if second == first {
		t.Fatal("the second token is the first")
	}
	wantUser(t, "second token", h.byToken(second), u)
	wantUser(t, "first token still", h.byToken(first), u)
	_, err = h.store.TokenCreate(h.ctx, u.ID, strings.Repeat("l", 101))
	wantField(t, "long label", err, "label")
}

func testTokenRevoke(t *testing.T, h *harness) {
	u, first := h.create("alice", "")
	second, err := h.store.TokenCreate(h.ctx, u.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.TokenRevoke(h.ctx, first); err != nil {
		t.Fatal(err)
	}
	_, err = h.store.UserByToken(h.ctx, first)
	wantCode(t, "revoked token", err, jobs.ErrNotFound)
	wantUser(t, "other token after revoke", h.byToken(second), u)
	if err := h.store.TokenRevoke(h.ctx, first); err != nil {
		t.Fatalf("revoke twice: %v", err)
	}
	wantCode(t, "revoke unknown", h.store.TokenRevoke(h.ctx, accounts.NewToken()), jobs.ErrNotFound)
	// The user is still there.
	if _, err := h.store.UserGet(h.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) session(userID string, ttl time.Duration) (string, *accounts.Session) {
	h.t.Helper()
	secret, s, err := h.store.SessionCreate(h.ctx, userID, ttl)
	if err != nil {
		h.t.Fatalf("create session: %v", err)
	}
	return secret, s
}

func testSession(t *testing.T, h *harness) {
	u, _ := h.create("alice", accounts.TierPremium)
	secret, s := h.session(u.ID, 12*time.Hour)
	wantToken(t, secret, accounts.SessionPrefix)
	if s.UserID != u.ID || !s.ExpiresAt.Equal(Start.Add(12*time.Hour)) || len(s.CSRF) < 32 {
		t.Fatalf("session %+v", s)
	}
	got, gu, err := h.store.SessionGet(h.ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *s {
		t.Fatalf("get session %+v, want %+v", got, s)
	}
	wantUser(t, "session's user", gu, u)

	secret2, s2 := h.session(u.ID, time.Hour)
	if secret2 == secret || s2.CSRF == s.CSRF {
		t.Fatal("two sessions share a secret or a CSRF token")
	}
	for _, bad := range []string{"", "omtxs_", secret + "x", accounts.HashSecret(secret)} {
		_, _, err := h.store.SessionGet(h.ctx, bad)
		wantCode(t, fmt.Sprintf("session %q", bad), err, jobs.ErrNotFound)
	}
	_, _, err = h.store.SessionCreate(h.ctx, u.ID, 0)
	wantCode(t, "session of no time", err, jobs.ErrInvalid)
}

func testSessionExpiry(t *testing.T, h *harness) {
	u, _ := h.create("alice", "")
	short, _ := h.session(u.ID, time.Hour)
	long, _ := h.session(u.ID, 2*time.Hour)
	h.clock.Advance(time.Hour - time.Nanosecond)
	if _, _, err := h.store.SessionGet(h.ctx, short); err != nil {
		t.Fatalf("session a nanosecond before it expires: %v", err)
	}
	h.clock.Advance(time.Nanosecond)
	_, _, err := h.store.SessionGet(h.ctx, short)
	wantCode(t, "session at its expiry", err, jobs.ErrNotFound)
	if _, _, err := h.store.SessionGet(h.ctx, long); err != nil {
		t.Fatalf("longer session: %v", err)
	}
	// Creating a session removes expired ones; the live one stays.
	h.session(u.ID, time.Hour)
	if _, _, err := h.store.SessionGet(h.ctx, long); err != nil {
		t.Fatalf("longer session after a cleanup: %v", err)
	}
	// An expired session stays dead even if the clock is moved back.
	h.clock.Set(Start)
	_, _, err = h.store.SessionGet(h.ctx, short)
	wantCode(t, "expired session removed by a cleanup", err, jobs.ErrNotFound)
}

func testSessionDelete(t *testing.T, h *harness) {
	u, _ := h.create("alice", "")
	a, _ := h.session(u.ID, time.Hour)
	b, _ := h.session(u.ID, time.Hour)
	if err := h.store.SessionDelete(h.ctx, a); err != nil {
		t.Fatal(err)
	}
	_, _, err := h.store.SessionGet(h.ctx, a)
	wantCode(t, "deleted session", err, jobs.ErrNotFound)
	if _, _, err := h.store.SessionGet(h.ctx, b); err != nil {
		t.Fatalf("other session after a delete: %v", err)
	}
	if err := h.store.SessionDelete(h.ctx, a); err != nil {
		t.Fatalf("delete twice: %v", err)
	}
}

// A session secret is not an API token, and an API token is not a session.
func testCredentialsApart(t *testing.T, h *harness) {
	u, token := h.create("alice", "")
	secret, _ := h.session(u.ID, time.Hour)
	_, err := h.store.UserByToken(h.ctx, secret)
	wantCode(t, "session secret as token", err, jobs.ErrNotFound)
	_, _, err = h.store.SessionGet(h.ctx, token)
	wantCode(t, "token as session", err, jobs.ErrNotFound)
	wantCode(t, "revoke a session secret", h.store.TokenRevoke(h.ctx, secret), jobs.ErrNotFound)
	if _, _, err := h.store.SessionGet(h.ctx, secret); err != nil {
		t.Fatalf("session after revoking its secret as a token: %v", err)
	}
	if err := h.store.SessionDelete(h.ctx, token); err != nil {
		t.Fatal(err)
	}
	h.byToken(token)
}

func testConcurrent(t *testing.T, h *harness) {
	const n = 16
	tokens := make([][]string, n)
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			u, token, err := h.store.UserCreate(h.ctx, accounts.NewUser{Name: fmt.Sprintf("user-%d", g)})
			if err != nil {
				errs[g] = err
				return
			}
			ids[g] = u.ID
			tokens[g] = append(tokens[g], token)
			for i := range 3 {
				token, err := h.store.TokenCreate(h.ctx, u.ID, fmt.Sprintf("t%d", i))
				if err != nil {
					errs[g] = err
					return
				}
				tokens[g] = append(tokens[g], token)
				if _, err := h.store.UserByToken(h.ctx, token); err != nil {
					errs[g] = err
					return
				}
			}
			// Everyone races for one name; exactly one wins.
			if _, _, err := h.store.UserCreate(h.ctx, accounts.NewUser{Name: "contested"}); err != nil && !jobs.IsCode(err, jobs.ErrConflict) {
				errs[g] = err
			}
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", g, err)
		}
	}
	users, err := h.store.UserList(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != n+1 {
		t.Fatalf("%d users, want %d", len(users), n+1)
	}
	for g := range n {
		for _, token := range tokens[g] {
			if u := h.byToken(token); u.ID != ids[g] {
				t.Fatalf("token of user-%d belongs to %s", g, u.Name)
			}
		}
	}
}

func (h *harness) ensure(id accounts.External, name string) *accounts.User {
	h.t.Helper()
	u, err := h.store.UserEnsureExternal(h.ctx, id, accounts.NewUser{Name: name})
	if err != nil {
		h.t.Fatalf("ensure %s/%s: %v", id.Provider, id.Subject, err)
	}
	return u
}

func firebaseID(uid string) accounts.External {
	return accounts.External{Provider: accounts.ProviderFirebase, Subject: uid}
}

// The first sign-in creates the user, later ones find it unchanged.
func testExternalEnsure(t *testing.T, h *harness) {
	id := firebaseID("uid-alice")
	if _, err := h.store.UserByExternal(h.ctx, id); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("unknown identity: %v, want not found", err)
	}
	u := h.ensure(id, "alice")
	if u.ID == "" || u.Name != "alice" || u.Tier != accounts.TierDefault || !u.CreatedAt.Equal(Start) {
		t.Fatalf("created %+v", u)
	}
	got, err := h.store.UserByExternal(h.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	wantUser(t, "by external", got, u)
	got, err = h.store.UserGet(h.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantUser(t, "get", got, u)

	h.clock.Advance(time.Hour)
	again, err := h.store.UserEnsureExternal(h.ctx, id, accounts.NewUser{Name: "renamed", Tier: accounts.TierEnterprise})
	if err != nil {
		t.Fatal(err)
	}
	wantUser(t, "second sign-in", again, u)
	if _, err := h.store.UserByName(h.ctx, "renamed"); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("the second sign-in made a user: %v", err)
	}
	users, err := h.store.UserList(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 {
		t.Fatalf("%d users, want 1", len(users))
	}

	// A tier given at creation is kept.
	p, err := h.store.UserEnsureExternal(h.ctx, firebaseID("uid-pat"), accounts.NewUser{Name: "pat", Tier: accounts.TierPremium})
	if err != nil {
		t.Fatal(err)
	}
	if p.Tier != accounts.TierPremium {
		t.Fatalf("tier %q, want premium", p.Tier)
	}
}

// A taken name (regardless of case) gets the first free suffix.
func testExternalNameTaken(t *testing.T, h *harness) {
	h.create("alice", accounts.TierDefault)
	second := h.ensure(firebaseID("uid-1"), "Alice")
	if second.Name != "Alice-2" {
		t.Fatalf("name %q, want Alice-2", second.Name)
	}
	third := h.ensure(firebaseID("uid-2"), "alice")
	if third.Name != "alice-3" {
		t.Fatalf("name %q, want alice-3", third.Name)
	}
	long := strings.Repeat("x", accounts.MaxNameLen)
	h.create(long, accounts.TierDefault)
	u := h.ensure(firebaseID("uid-3"), long)
	if len(u.Name) != accounts.MaxNameLen || !strings.HasSuffix(u.Name, "-2") {
		t.Fatalf("name %q, want %d characters ending in -2", u.Name, accounts.MaxNameLen)
	}
	// Local users and linked users are told apart only by their links:
	// a local user named like an identity is not that identity's user.
	if _, err := h.store.UserByExternal(h.ctx, firebaseID("alice")); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("a local user answers for an identity: %v", err)
	}
}

// Two identities never share a user, nor do one subject at two providers.
func testExternalApart(t *testing.T, h *harness) {
	a := h.ensure(firebaseID("uid-a"), "sam")
	b := h.ensure(firebaseID("uid-b"), "sam")
	c := h.ensure(accounts.External{Provider: "other", Subject: "uid-a"}, "sam")
	if a.ID == b.ID || a.ID == c.ID || b.ID == c.ID {
		t.Fatalf("identities share users: %s %s %s", a.ID, b.ID, c.ID)
	}
	if a.Name == b.Name || a.Name == c.Name || b.Name == c.Name {
		t.Fatalf("identities share names: %s %s %s", a.Name, b.Name, c.Name)
	}
	for id, want := range map[accounts.External]*accounts.User{firebaseID("uid-a"): a, firebaseID("uid-b"): b,
		{Provider: "other", Subject: "uid-a"}: c} {
		got, err := h.store.UserByExternal(h.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantUser(t, id.Provider+"/"+id.Subject, got, want)
	}
	// Subjects compare exactly: case matters to Firebase uids.
	if _, err := h.store.UserByExternal(h.ctx, firebaseID("UID-A")); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("subject matched regardless of case: %v", err)
	}
}

func testExternalInvalid(t *testing.T, h *harness) {
	_, err := h.store.UserEnsureExternal(h.ctx, accounts.External{Provider: accounts.ProviderFirebase}, accounts.NewUser{Name: "x"})
	wantField(t, "empty subject", err, "subject")
	_, err = h.store.UserEnsureExternal(h.ctx, accounts.External{Subject: "uid"}, accounts.NewUser{Name: "x"})
	wantField(t, "empty provider", err, "provider")
	_, err = h.store.UserEnsureExternal(h.ctx, firebaseID(strings.Repeat("u", accounts.MaxSubjectLen+1)), accounts.NewUser{Name: "x"})
	wantField(t, "long subject", err, "subject")
	_, err = h.store.UserEnsureExternal(h.ctx, firebaseID("uid"), accounts.NewUser{Name: "no spaces"})
	wantField(t, "bad name", err, "name")
	_, err = h.store.UserEnsureExternal(h.ctx, firebaseID("uid"), accounts.NewUser{Name: "ok", Tier: "gold"})
	wantField(t, "bad tier", err, "tier")
	_, err = h.store.UserByExternal(h.ctx, accounts.External{})
	wantField(t, "lookup without provider", err, "provider")
	users, err := h.store.UserList(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 0 {
		t.Fatalf("refused calls made users: %v", users)
	}
}

// Concurrent first sign-ins of one identity make one user; of different
// identities with one name, as many users with distinct names.
func testExternalConcurrent(t *testing.T, h *harness) {
	const n = 16
	same := make([]*accounts.User, n)
	apart := make([]*accounts.User, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			var err error
			if same[g], err = h.store.UserEnsureExternal(h.ctx, firebaseID("uid-shared"), accounts.NewUser{Name: "shared"}); err != nil {
				errs[g] = err
				return
			}
			apart[g], errs[g] = h.store.UserEnsureExternal(h.ctx, firebaseID(fmt.Sprintf("uid-%d", g)), accounts.NewUser{Name: "popular"})
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", g, err)
		}
	}
	names := map[string]bool{}
	ids := map[string]bool{}
	for g := range n {
		if same[g].ID != same[0].ID || same[g].Name != "shared" {
			t.Fatalf("sign-in %d of one identity got %+v, another %+v", g, same[g], same[0])
		}
		if names[apart[g].Name] || ids[apart[g].ID] {
			t.Fatalf("identity %d shares user %+v", g, apart[g])
		}
		names[apart[g].Name], ids[apart[g].ID] = true, true
	}
	users, err := h.store.UserList(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != n+1 {
		t.Fatalf("%d users, want %d", len(users), n+1)
	}
}
