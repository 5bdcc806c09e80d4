package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Target is one kind of request in a paced mix.
type Target struct {
	Name   string // labels its share of the result; unique in the mix
	Method string // GET when empty
	URL    string
	Header http.Header
	Body   []byte
	// Turns, when set, are taken in turn, one per request: each replaces
	// URL (when not empty) and Header. Several users' credentials, say,
	// each with a record of theirs.
	Turns []Turn
	// Weight is the target's share of the mix: Weight out of the sum of
	// every target's weights. At least 1.
	Weight int
}

// Turn is one of a target's alternating URLs and headers.
type Turn struct {
	URL    string
	Header http.Header
}

// PacedConfig describes an open-loop run: requests start at a fixed
// rate whatever the server's pace, cycling through the targets in
// proportion to their weights (smooth weighted round robin, so that
// each target's requests are spread evenly over time).
type PacedConfig struct {
	Targets  []Target
	Rate     float64 // requests started per second
	Duration time.Duration
	// MaxInFlight bounds the requests outstanding at once (1024 when
	// zero). When it is reached the schedule waits, and the lateness shows
	// in the latencies, which are measured from each request's scheduled
	// start so that a slow server cannot hide its queueing (no
	// coordinated omission).
	MaxInFlight int
}

// PacedResult is what a paced run measured: the whole mix and each
// target. Requests counts every request that was started; Aborted
// those cut off by the end of ctx (in no other count).
type PacedResult struct {
	Total    Result
	ByTarget map[string]Result
	// Rate is the schedule's rate; Total.ReqPerSec what was achieved.
	Rate float64
}

// String is the whole mix on one line, then each target on its own.
func (r PacedResult) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "mix at %.0f req/s: %s", r.Rate, r.Total)
	names := make([]string, 0, len(r.ByTarget))
	for n := range r.ByTarget {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %-12s %s", n, r.ByTarget[n])
	}
	return b.String()
}

// tally is one target's counts; guarded by the run's mutex.
type tally struct {
	hist                              histogram
	requests, errors, non2xx, aborted int64
}

// RunPaced starts requests at c.Rate for c.Duration, or until ctx ends,
// waits for the ones in flight and reports them. Ending ctx is a normal
// stop.
func RunPaced(ctx context.Context, c PacedConfig) (PacedResult, error) {
	switch {
	case len(c.Targets) == 0:
		return PacedResult{}, errors.New("loadgen: no targets")
	case c.Rate <= 0:
		return PacedResult{}, fmt.Errorf("loadgen: rate %v is not positive", c.Rate)
	case c.Duration <= 0:
		return PacedResult{}, fmt.Errorf("loadgen: duration %v is not positive", c.Duration)
	case c.MaxInFlight < 0:
		return PacedResult{}, fmt.Errorf("loadgen: %d requests in flight", c.MaxInFlight)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1024
	}
	seen := map[string]bool{}
	for i, t := range c.Targets {
		if t.Weight < 1 {
			return PacedResult{}, fmt.Errorf("loadgen: target %q: weight %d", t.Name, t.Weight)
		}
		if seen[t.Name] {
			return PacedResult{}, fmt.Errorf("loadgen: two targets named %q", t.Name)
		}
		seen[t.Name] = true
		if t.Method == "" {
			c.Targets[i].Method = http.MethodGet
		}
		for _, turn := range append([]Turn{{URL: t.URL, Header: t.Header}}, t.Turns...) {
			if turn.URL == "" {
				turn.URL = t.URL
			}
			if _, err := newRequest(ctx, Config{URL: turn.URL, Method: c.Targets[i].Method, Header: turn.Header}); err != nil {
				return PacedResult{}, err
			}
		}
	}
	order := weightedOrder(c.Targets)

	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        c.MaxInFlight,
		MaxIdleConnsPerHost: c.MaxInFlight,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()

	var (
		mu      sync.Mutex
		tallies = make([]tally, len(c.Targets))
		last    time.Time
		wg      sync.WaitGroup
		slots   = make(chan struct{}, c.MaxInFlight)
		turns   = make([]int, len(c.Targets)) // requests of each target so far
	)
	start := time.Now()
	end := start.Add(c.Duration)
	for n := 0; ; n++ {
		at := start.Add(time.Duration(float64(n) * float64(time.Second) / c.Rate))
		if !at.Before(end) {
			break
		}
		if d := time.Until(at); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-ctx.Done():
				timer.Stop()
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		i := order[n%len(order)]
		target := c.Targets[i]
		if len(target.Turns) > 0 {
			turn := target.Turns[turns[i]%len(target.Turns)]
			turns[i]++
			if turn.URL != "" {
				target.URL = turn.URL
			}
			target.Header = turn.Header
		}
		wg.Go(func() {
			defer func() { <-slots }()
			status, err := send(ctx, tr, target)
			done := time.Now()
			mu.Lock()
			defer mu.Unlock()
			t := &tallies[i]
			if err != nil && ctx.Err() != nil {
				t.aborted++
				return
			}
			t.requests++
			if done.After(last) {
				last = done
			}
			switch {
			case err != nil:
				t.errors++
			case status < 200 || status > 299:
				t.non2xx++
				t.hist.record(done.Sub(at))
			default:
				t.hist.record(done.Sub(at))
			}
		})
	}
	wg.Wait()

	r := PacedResult{Rate: c.Rate, ByTarget: map[string]Result{}}
	var total tally
	window := last.Sub(start)
	for i, t := range tallies {
		r.ByTarget[c.Targets[i].Name] = t.result(window)
		total.hist.merge(&t.hist)
		total.requests += t.requests
		total.errors += t.errors
		total.non2xx += t.non2xx
		total.aborted += t.aborted
	}
	r.Total = total.result(window)
	return r, nil
}

func (t *tally) result(window time.Duration) Result {
	r := Result{
		Requests: t.requests, Errors: t.errors, Non2xx: t.non2xx, Aborted: t.aborted,
		P50: t.hist.quantile(0.50), P90: t.hist.quantile(0.90), P99: t.hist.quantile(0.99), Max: t.hist.quantile(1),
	}
	if window > 0 {
		r.Duration = window
		r.ReqPerSec = float64(r.Requests) / window.Seconds()
	}
	return r
}

// send makes one request of a target and reads its whole answer.
func send(ctx context.Context, rt http.RoundTripper, t Target) (int, error) {
	req, err := newRequest(ctx, Config{URL: t.URL, Method: t.Method, Header: t.Header})
	if err != nil {
		return 0, err
	}
	if t.Body != nil {
		req.Body = io.NopCloser(bytes.NewReader(t.Body))
		req.ContentLength = int64(len(t.Body))
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, err
}

// weightedOrder is one cycle of smooth weighted round robin over the
// targets: each target appears Weight times, spread out.
func weightedOrder(ts []Target) []int {
	total := 0
	for _, t := range ts {
		total += t.Weight
	}
	cur := make([]int, len(ts))
	order := make([]int, 0, total)
	for range total {
		best := 0
		for i, t := range ts {
			cur[i] += t.Weight
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		order = append(order, best)
	}
	return order
}
