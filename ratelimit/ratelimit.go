// Package ratelimit keeps one token bucket per key (a user and an action,
// say) over golang.org/x/time/rate. It reads the time from an injected
// clock, so tests move the clock instead of sleeping, and it forgets idle
// buckets so that memory stays bounded by the keys active in the last few
// minutes.
package ratelimit

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"omtx/jobs"
)

// Rule is a bucket's shape: PerMinute tokens flow in each minute, and at
// most Burst of them can be saved up.
type Rule struct {
	// PerMinute is the sustained rate; zero or less means unlimited.
	PerMinute int
	// Burst is the bucket's size; zero means PerMinute/6 (ten seconds'
	// worth), at least 1.
	Burst int
}

// Unlimited reports whether the rule lets everything through.
func (r Rule) Unlimited() bool { return r.PerMinute <= 0 }

func (r Rule) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, r.PerMinute/6)
}

func (r Rule) limit() rate.Limit { return rate.Limit(float64(r.PerMinute) / 60) }

const (
	// idleAfter is how long a bucket must go unused before it may be
	// forgotten.
	idleAfter = 10 * time.Minute
	// sweepEvery is how often the Limiter looks for idle buckets.
	sweepEvery = time.Minute
	nShards    = 32
)

// Limiter holds the buckets. It is safe for concurrent use and starts no
// goroutines: idle buckets are swept on access.
type Limiter struct {
	clock     jobs.Clock
	seed      maphash.Seed
	nextSweep atomic.Int64 // Unix nanoseconds
	shards    [nShards]shard
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	_       [48]byte // one cache line per shard
}

type bucket struct {
	lim      *rate.Limiter
	rule     Rule
	lastUsed time.Time
}

// New returns a Limiter that tells time by clock (the system clock if nil).
func New(clock jobs.Clock) *Limiter {
	if clock == nil {
		clock = jobs.SystemClock{}
	}
	l := &Limiter{clock: clock, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*bucket{}
	}
	return l
}

// Allow takes one token from key's bucket, shaped by r. When the bucket is
// empty it returns false and how long until a token will be there. A
// bucket whose rule changes (a tier upgrade) keeps its tokens and takes
// the new rate and size from now on.
func (l *Limiter) Allow(key string, r Rule) (ok bool, retryAfter time.Duration) {
	if r.Unlimited() {
		return true, 0
	}
	now := l.clock.Now()
	if next := l.nextSweep.Load(); now.UnixNano() >= next && l.nextSweep.CompareAndSwap(next, now.Add(sweepEvery).UnixNano()) {
		l.sweep(now)
	}
	sh := &l.shards[maphash.String(l.seed, key)%nShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.buckets[key]
	switch {
	case b == nil:
		b = &bucket{lim: rate.NewLimiter(r.limit(), r.burst()), rule: r}
		sh.buckets[key] = b
	case b.rule != r:
		b.lim.SetLimitAt(now, r.limit())
		b.lim.SetBurstAt(now, r.burst())
		b.rule = r
	}
	if now.After(b.lastUsed) {
		b.lastUsed = now
	}
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	// The shard's lock keeps the bucket still between AllowN and here.
	missing := 1 - b.lim.TokensAt(now)
	wait := time.Duration(math.Ceil(missing / float64(r.limit()) * float64(time.Second)))
	return false, max(wait, 1)
}

// sweep forgets buckets unused for idleAfter that have filled up again:
// a new bucket would start full, so forgetting one changes nothing. One
// caller a minute pays for it, one shard at a time.
func (l *Limiter) sweep(now time.Time) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for key, b := range sh.buckets {
			if now.Sub(b.lastUsed) > idleAfter && b.lim.TokensAt(now) >= float64(b.lim.Burst()) {
				delete(sh.buckets, key)
			}
		}
		sh.mu.Unlock()
	}
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.buckets)
		sh.mu.Unlock()
	}
	return n
}
