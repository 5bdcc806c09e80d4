package ratelimit_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"omtx/jobs/jobstest"
	"omtx/ratelimit"
)

var start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newLimiter() (*ratelimit.Limiter, *jobstest.Clock) {
	clock := jobstest.NewClock(start)
	return ratelimit.New(clock), clock
}

// allowN calls Allow n times and fails unless every call is allowed.
func allowN(t *testing.T, l *ratelimit.Limiter, key string, r ratelimit.Rule, n int) {
	t.Helper()
	for i := range n {
		if ok, retry := l.Allow(key, r); !ok {
			t.Fatalf("%s: call %d of %d refused (retry after %v)", key, i+1, n, retry)
		}
	}
}

func wantRefused(t *testing.T, l *ratelimit.Limiter, key string, r ratelimit.Rule, retry time.Duration) {
	t.Helper()
	ok, got := l.Allow(key, r)
	if ok {
		t.Fatalf("%s: allowed, want refused", key)
	}
	// The bucket counts in floating point: allow a nanosecond or so over.
	if got < retry || got > retry+time.Microsecond {
		t.Fatalf("%s: retry after %v, want %v", key, got, retry)
	}
}

func TestBurstThenRefuse(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter()
	r := ratelimit.Rule{PerMinute: 60} // burst 10, one token a second
	allowN(t, l, "alice", r, 10)
	wantRefused(t, l, "alice", r, time.Second)
	wantRefused(t, l, "alice", r, time.Second) // a refusal takes nothing
}

func TestRefill(t *testing.T) {
	t.Parallel()
	l, clock := newLimiter()
	r := ratelimit.Rule{PerMinute: 60, Burst: 3}
	allowN(t, l, "alice", r, 3)
	clock.Advance(400 * time.Millisecond)
	wantRefused(t, l, "alice", r, 600*time.Millisecond)
	clock.Advance(600 * time.Millisecond)
	allowN(t, l, "alice", r, 1)
	wantRefused(t, l, "alice", r, time.Second)

	// A long rest fills the bucket to Burst and no further.
	clock.Advance(time.Hour)
	allowN(t, l, "alice", r, 3)
	wantRefused(t, l, "alice", r, time.Second)
}

func TestDefaultBurst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		perMinute, burst int
	}{{60, 10}, {150, 25}, {3000, 500}, {5, 1}, {1, 1}} {
		l, _ := newLimiter()
		r := ratelimit.Rule{PerMinute: tc.perMinute}
		allowN(t, l, "k", r, tc.burst)
		wantRefused(t, l, "k", r, time.Minute/time.Duration(tc.perMinute))
	}
}

func TestKeysIndependent(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter()
	r := ratelimit.Rule{PerMinute: 60, Burst: 2}
	allowN(t, l, "alice", r, 2)
	wantRefused(t, l, "alice", r, time.Second)
	allowN(t, l, "bob", r, 2)
	wantRefused(t, l, "bob", r, time.Second)
	allowN(t, l, "alice/read", r, 2)
}

func TestUnlimited(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter()
	for _, r := range []ratelimit.Rule{{}, {PerMinute: -1, Burst: 5}} {
		allowN(t, l, "k", r, 10000)
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("unlimited calls made %d buckets", n)
	}
}

func TestRuleChange(t *testing.T) {
	t.Parallel()
	l, clock := newLimiter()
	basic := ratelimit.Rule{PerMinute: 60, Burst: 2}
	allowN(t, l, "alice", basic, 2)
	wantRefused(t, l, "alice", basic, time.Second)

	// An upgrade keeps the (empty) bucket but fills it faster and further.
	better := ratelimit.Rule{PerMinute: 600, Burst: 20}
	wantRefused(t, l, "alice", better, 100*time.Millisecond)
	clock.Advance(time.Minute)
	allowN(t, l, "alice", better, 20)
	wantRefused(t, l, "alice", better, 100*time.Millisecond)

	// A downgrade of a full bucket caps it at the new size.
	clock.Advance(time.Minute)
	allowN(t, l, "alice", basic, 2)
	wantRefused(t, l, "alice", basic, time.Second)
}

func TestEvictIdle(t *testing.T) {
	t.Parallel()
	l, clock := newLimiter()
	r := ratelimit.Rule{PerMinute: 60}
	for i := range 100 {
		allowN(t, l, fmt.Sprintf("user-%d", i), r, 1)
	}
	// Slow to refill: one token a minute, a bucket of 60.
	slow := ratelimit.Rule{PerMinute: 1, Burst: 60}
	allowN(t, l, "slow", slow, 60)
	if n := l.Len(); n != 101 {
		t.Fatalf("%d buckets, want 101", n)
	}

	clock.Advance(9 * time.Minute)
	allowN(t, l, "active", r, 1)
	if n := l.Len(); n != 102 {
		t.Fatalf("after 9 idle minutes: %d buckets, want 102", n)
	}

	clock.Advance(2 * time.Minute)
	allowN(t, l, "active", r, 1)
	// Only the buckets that have filled up again go: forgetting the slow
	// one now would hand it 49 tokens it has not earned.
	if n := l.Len(); n != 2 {
		t.Fatalf("after 11 idle minutes: %d buckets, want 2 (active, slow)", n)
	}
	allowN(t, l, "slow", slow, 11) // all it has earned in 11 minutes
	wantRefused(t, l, "slow", slow, time.Minute)
	clock.Advance(2 * time.Hour)
	allowN(t, l, "other", r, 1)
	if n := l.Len(); n != 1 {
		t.Fatalf("after two hours: %d buckets, want 1", n)
	}
}

func TestConcurrentExactBurst(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter() // the clock stands still
	r := ratelimit.Rule{PerMinute: 600, Burst: 37}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				if ok, _ := l.Allow("shared", r); ok {
					allowed.Add(1)
				}
				l.Allow(fmt.Sprintf("own-%d-%d", g, i%5), r)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 37 {
		t.Fatalf("%d allowed across goroutines, want exactly 37", n)
	}
	if n := l.Len(); n != 1+16*5 {
		t.Fatalf("%d buckets, want %d", n, 1+16*5)
	}
}

// BenchmarkAllow measures Allow from many goroutines over many keys, on the
// system clock.
func BenchmarkAllow(b *testing.B) {
	l := ratelimit.New(nil)
	r := ratelimit.Rule{PerMinute: 1 << 30}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d/submit", i)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 7919
		for pb.Next() {
			l.Allow(keys[i%len(keys)], r)
			i++
		}
	})
}
