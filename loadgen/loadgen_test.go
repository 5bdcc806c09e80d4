package loadgen

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{0, 1, 63, 64, 127, 128, 129, 255, 256, 1000, 123456, 1 << 30, maxValue} {
		i := bucketOf(v)
		low, width := bucketRange(i)
		if v < low || v >= low+width {
			t.Errorf("value %d in bucket %d = [%d, %d)", v, i, low, low+width)
		}
		if low >= 128 && float64(width)/float64(low) > 1.0/64 {
			t.Errorf("bucket %d width %d too wide for %d", i, width, low)
		}
	}
	if got := bucketOf(maxValue); got != nBuckets-1 {
		t.Errorf("bucketOf(max) = %d, want %d", got, nBuckets-1)
	}
	if got := bucketOf(1 << 50); got != nBuckets-1 {
		t.Errorf("huge value in bucket %d, want the last", got)
	}
	// Buckets tile the range: each starts where the previous ended.
	for i := 1; i < nBuckets; i++ {
		pl, pw := bucketRange(i - 1)
		l, _ := bucketRange(i)
		if pl+pw != l {
			t.Fatalf("gap between bucket %d and %d: %d+%d != %d", i-1, i, pl, pw, l)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		gen  func() time.Duration
	}{
		{"uniform 0-100ms", func() time.Duration { return time.Duration(rng.Int64N(int64(100 * time.Millisecond))) }},
		{"lognormal around 2ms", func() time.Duration {
			return time.Duration(float64(2*time.Millisecond) * math.Exp(0.8*rng.NormFloat64()))
		}},
		{"bimodal 200us and 40ms", func() time.Duration {
			if rng.IntN(10) == 0 {
				return 40*time.Millisecond + time.Duration(rng.Int64N(int64(5*time.Millisecond)))
			}
			return 200*time.Microsecond + time.Duration(rng.Int64N(int64(50*time.Microsecond)))
		}},
		{"exponential 5ms", func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond)) }},
	}
	for _, tt := range tests {
		// Not parallel: the cases share one random source.
		t.Run(tt.name, func(t *testing.T) {
			// Split across two histograms to exercise merge.
			var a, b histogram
			vals := make([]time.Duration, 100_000)
			for i := range vals {
				vals[i] = tt.gen()
				if i%2 == 0 {
					a.record(vals[i])
				} else {
					b.record(vals[i])
				}
			}
			a.merge(&b)
			slices.Sort(vals)
			for _, q := range []float64{0.01, 0.25, 0.5, 0.9, 0.99, 0.999} {
				exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
				got := a.quantile(q)
				if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.02 {
					t.Errorf("q%.3f = %v, exact %v (error %.2f%%)", q, got, exact, rel*100)
				}
			}
			if got := a.quantile(1); got != vals[len(vals)-1] {
				t.Errorf("max = %v, want %v", got, vals[len(vals)-1])
			}
		})
	}
	var empty histogram
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty histogram p50 = %v", got)
	}
}

func TestHistogramRecordDoesNotAllocate(t *testing.T) {
	var h histogram
	if n := testing.AllocsPerRun(1000, func() { h.record(1234567) }); n != 0 {
		t.Errorf("record allocates %v times", n)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	vals := make([]time.Duration, 1024)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range vals {
		vals[i] = time.Duration(rng.Int64N(int64(time.Second)))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.record(vals[i&1023])
		i++
	}
}

// counter is a test server that counts the requests it handles.
type counter struct {
	n      atomic.Int64
	failed atomic.Int64
}

func TestRunCountsEveryRequest(t *testing.T) {
	t.Parallel()
	var c counter
	conns := map[string]bool{}
	connCh := make(chan string, 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		select {
		case connCh <- r.RemoteAddr:
		default:
		}
		if r.Header.Get("Authorization") != "Bearer t" {
			w.WriteHeader(http.StatusUnauthorized)
		}
		w.Write([]byte(strings.Repeat("x", 4096)))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{
		URL:         srv.URL,
		Header:      http.Header{"Authorization": {"Bearer t"}},
		Connections: 4,
		Duration:    300 * time.Millisecond,
		Warmup:      100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	close(connCh)
	for a := range connCh {
		conns[a] = true
	}
	t.Log(res)
	if res.Requests == 0 || res.Warmup == 0 {
		t.Fatalf("requests %d, warmup %d: want both > 0", res.Requests, res.Warmup)
	}
	if got, want := c.n.Load(), res.Requests+res.Warmup; got != want {
		t.Errorf("server handled %d requests, Requests+Warmup = %d", got, want)
	}
	if res.Errors != 0 || res.Non2xx != 0 || res.Aborted != 0 {
		t.Errorf("errors %d, non-2xx %d, aborted %d: want none", res.Errors, res.Non2xx, res.Aborted)
	}
	// Keep-alive: the connections seen are the configured ones, reused.
	if len(conns) > 4 {
		t.Errorf("server saw %d client connections, want at most 4", len(conns))
	}
	if res.P50 <= 0 || res.P50 > res.P90 || res.P90 > res.P99 || res.P99 > res.Max {
		t.Errorf("percentiles out of order: %v", res)
	}
	if res.Duration < 300*time.Millisecond || res.ReqPerSec <= 0 {
		t.Errorf("duration %v, rate %v", res.Duration, res.ReqPerSec)
	}
	if s := res.String(); !strings.Contains(s, "req/s") || !strings.Contains(s, "p99") || strings.Contains(s, "\n") {
		t.Errorf("String() = %q", s)
	}
}

func TestRunCountsNon2xx(t *testing.T) {
	t.Parallel()
	var c counter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.n.Add(1)%3 == 0 {
			c.failed.Add(1)
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL, Method: http.MethodPost, Body: []byte(`{"a":1}`), Connections: 3, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != c.n.Load() || res.Non2xx != c.failed.Load() {
		t.Errorf("client counted %d requests, %d non-2xx; server %d and %d", res.Requests, res.Non2xx, c.n.Load(), c.failed.Load())
	}
	if res.Non2xx == 0 || res.Errors != 0 {
		t.Errorf("non-2xx %d, errors %d", res.Non2xx, res.Errors)
	}
}

func TestRunCountsTransportErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close() // no response at all
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL, Connections: 2, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || res.Errors != res.Requests || res.Non2xx != 0 {
		t.Errorf("requests %d, errors %d, non-2xx %d: want every request an error", res.Requests, res.Errors, res.Non2xx)
	}
	if res.P50 != 0 {
		t.Errorf("failed requests recorded latency %v", res.P50)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c counter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.n.Add(1) == 50 {
			cancel()
		}
	}))
	defer srv.Close()
	begin := time.Now()
	res, err := Run(ctx, Config{URL: srv.URL, Connections: 2, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > time.Minute {
		t.Fatalf("Run took %v after ctx ended", time.Since(begin))
	}
	// An aborted request may or may not have reached the handler yet; a
	// counted one has.
	if res.Requests+res.Aborted < 50 || res.Requests > c.n.Load() {
		t.Errorf("requests %d + aborted %d, server handled %d", res.Requests, res.Aborted, c.n.Load())
	}
}

func TestRunConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"no url", Config{Duration: time.Second}, "no URL"},
		{"no duration", Config{URL: "http://127.0.0.1:1"}, "duration"},
		{"negative warmup", Config{URL: "http://127.0.0.1:1", Duration: time.Second, Warmup: -1}, "warmup"},
		{"negative connections", Config{URL: "http://127.0.0.1:1", Duration: time.Second, Connections: -1}, "connections"},
		{"bad scheme", Config{URL: "ftp://example", Duration: time.Second}, "not http"},
		{"bad method", Config{URL: "http://127.0.0.1:1", Method: "BAD METHOD", Duration: time.Second}, "request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Run(context.Background(), tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
