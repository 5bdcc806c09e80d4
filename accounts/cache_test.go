package accounts_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"omtx/accounts"
	"omtx/accounts/sqlite"
	"omtx/jobs"
	"omtx/jobs/jobstest"
)

var start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// countingStore is the real store, counting token look-ups.
type countingStore struct {
	accounts.Store
	lookups atomic.Int64
}

func (s *countingStore) UserByToken(ctx context.Context, token string) (*accounts.User, error) {
	s.lookups.Add(1)
	return s.Store.UserByToken(ctx, token)
}

func openStore(t testing.TB, clock jobs.Clock) *countingStore {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "omtx.db"), accounts.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &countingStore{Store: s}
}

func wantLookups(t *testing.T, s *countingStore, n int64) {
	t.Helper()
	if got := s.lookups.Load(); got != n {
		t.Fatalf("%d store look-ups, want %d", got, n)
	}
}

func TestTokenCacheTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := jobstest.NewClock(start)
	s := openStore(t, clock)
	u, token, err := s.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	c := accounts.NewTokenCache(s, time.Minute, clock)

	for range 3 {
		got, err := c.UserByToken(ctx, token)
		if err != nil || got.ID != u.ID {
			t.Fatalf("cached look-up: %v, %v", got, err)
		}
		got.Tier = "changed by the caller" // must not reach the cache
	}
	wantLookups(t, s, 1)

	// A tier change shows when the entry expires.
	if _, err := s.UserSetTier(ctx, u.ID, accounts.TierPremium); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if got, _ := c.UserByToken(ctx, token); got.Tier != accounts.TierDefault {
		t.Fatalf("tier before the entry expires: %q", got.Tier)
	}
	wantLookups(t, s, 1)
	clock.Advance(time.Nanosecond)
	if got, _ := c.UserByToken(ctx, token); got.Tier != accounts.TierPremium {
		t.Fatalf("tier after the entry expires: %q", got.Tier)
	}
	wantLookups(t, s, 2)

	// Or at once when asked.
	if _, err := s.UserSetTier(ctx, u.ID, accounts.TierEnterprise); err != nil {
		t.Fatal(err)
	}
	c.ForgetUser(u.ID)
	if got, _ := c.UserByToken(ctx, token); got.Tier != accounts.TierEnterprise {
		t.Fatalf("tier after ForgetUser: %q", got.Tier)
	}
	wantLookups(t, s, 3)

	// Unknown tokens are not cached.
	for range 2 {
		_, err := c.UserByToken(ctx, accounts.NewToken())
		if !jobs.IsCode(err, jobs.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
	}
	wantLookups(t, s, 5)
	if n := c.Len(); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
}

func TestTokenCacheRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := jobstest.NewClock(start)
	s := openStore(t, clock)
	u, token, err := s.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.TokenCreate(ctx, u.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	c := accounts.NewTokenCache(s, time.Hour, clock)
	for _, tok := range []string{token, other} {
		if _, err := c.UserByToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Revoke(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UserByToken(ctx, token); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("revoked token through the cache: %v", err)
	}
	if _, err := c.UserByToken(ctx, other); err != nil {
		t.Fatalf("other token after a revoke: %v", err)
	}
	wantLookups(t, s, 3)
	if err := c.Revoke(ctx, accounts.NewToken()); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

func TestTokenCacheOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, nil)
	_, token, err := s.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	c := accounts.NewTokenCache(s, 0, nil)
	for range 3 {
		if _, err := c.UserByToken(ctx, token); err != nil {
			t.Fatal(err)
		}
	}
	wantLookups(t, s, 3)
}

func TestTokenCacheBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := jobstest.NewClock(start)
	s := openStore(t, clock)
	u, _, err := s.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	c := accounts.NewTokenCache(s, time.Hour, clock)
	c.SetMaxSize(50)
	var tokens []string
	for i := range 200 {
		tok, err := s.TokenCreate(ctx, u.ID, fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
		if _, err := c.UserByToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if n := c.Len(); n > 50 {
			t.Fatalf("%d entries in a cache of 50", n)
		}
	}
	// Every token still answers, from the cache or the store.
	for _, tok := range tokens {
		if got, err := c.UserByToken(ctx, tok); err != nil || got.ID != u.ID {
			t.Fatalf("token after eviction: %v, %v", got, err)
		}
	}
}

func TestTokenCacheConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := jobstest.NewClock(start)
	s := openStore(t, clock)
	u, _, err := s.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]string, 8)
	for i := range tokens {
		if tokens[i], err = s.TokenCreate(ctx, u.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	c := accounts.NewTokenCache(s, time.Minute, clock)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 100 {
				tok := tokens[(g+i)%len(tokens)]
				if g == 0 && i == 50 {
					if err := c.Revoke(ctx, tokens[0]); err != nil {
						errs <- err
						return
					}
					continue
				}
				if _, err := c.UserByToken(ctx, tok); err != nil && !(tok == tokens[0] && jobs.IsCode(err, jobs.ErrNotFound)) {
					errs <- err
					return
				}
				if i%10 == 0 {
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := c.UserByToken(ctx, tokens[0]); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("revoked token after the race: %v", err)
	}
}

// BenchmarkUserByToken compares authenticating a request through the
// cache with going to the SQLite store each time.
func BenchmarkUserByToken(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, nil)
	u, _, err := s.UserCreate(ctx, accounts.NewUser{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, 100)
	for i := range tokens {
		if tokens[i], err = s.TokenCreate(ctx, u.ID, ""); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Minute}, {"uncached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			c := accounts.NewTokenCache(s, bc.ttl, nil)
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1))
				for pb.Next() {
					if _, err := c.UserByToken(ctx, tokens[i%len(tokens)]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}
