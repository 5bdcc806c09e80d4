package accounts

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"omtx/jobs"
)

// DefaultTokenCacheSize is how many tokens a TokenCache holds at most.
const DefaultTokenCacheSize = 10000

// TokenCache answers UserByToken from memory for a while, so that the
// API's authentication does not read the store on every request. It
// caches only users found; unknown tokens always go to the store. A token
// revoked through the cache's Revoke is forgotten at once; one revoked
// elsewhere (or a tier changed) is seen within the cache's ttl. It is safe
// for concurrent use and starts no goroutines.
type TokenCache struct {
	store Store
	ttl   time.Duration
	clock jobs.Clock
	max   int

	mu sync.Mutex
	// entries are keyed by the token's SHA-256, so the process keeps no
	// token it did not have to.
	entries map[[sha256.Size]byte]cacheEntry
	// gen counts forgets; a lookup that raced one does not fill the cache.
	gen uint64
}

type cacheEntry struct {
	user    User
	expires time.Time
}

// NewTokenCache returns a cache in front of s that keeps answers for ttl
// (ttl <= 0 turns caching off) by clock (the system clock if nil).
func NewTokenCache(s Store, ttl time.Duration, clock jobs.Clock) *TokenCache {
	if clock == nil {
		clock = jobs.SystemClock{}
	}
	return &TokenCache{store: s, ttl: ttl, clock: clock, max: DefaultTokenCacheSize, entries: map[[sha256.Size]byte]cacheEntry{}}
}

// UserByToken returns the owner of token, as Store.UserByToken does.
func (c *TokenCache) UserByToken(ctx context.Context, token string) (*User, error) {
	if c.ttl <= 0 {
		return c.store.UserByToken(ctx, token)
	}
	key := sha256.Sum256([]byte(token))
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		u := e.user
		return &u, nil
	}
	u, err := c.store.UserByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return u, nil // a revoke ran meanwhile: the answer may be stale
	}
	if len(c.entries) >= c.max {
		c.shrink(now)
	}
	c.entries[key] = cacheEntry{user: *u, expires: now.Add(c.ttl)}
	return u, nil
}

// shrink makes room: it drops expired entries and, if that is not
// enough, arbitrary ones down to nine tenths of the maximum, so that a
// full cache pays for this once per many inserts.
func (c *TokenCache) shrink(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max*9/10 {
			break
		}
		delete(c.entries, k)
	}
}

// Revoke revokes token in the store and forgets it.
func (c *TokenCache) Revoke(ctx context.Context, token string) error {
	err := c.store.TokenRevoke(ctx, token)
	// A lookup that read the store before the revoke either filled the
	// cache already (dropped here) or will see gen moved and not fill it.
	c.mu.Lock()
	delete(c.entries, sha256.Sum256([]byte(token)))
	c.gen++
	c.mu.Unlock()
	return err
}

// ForgetUser drops every cached token of a user, after a change to the
// user (a new tier) that should show at once.
func (c *TokenCache) ForgetUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.user.ID == userID {
			delete(c.entries, k)
		}
	}
	c.gen++
}

// Len returns the number of tokens cached.
func (c *TokenCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
