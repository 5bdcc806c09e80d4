// Package loadgen is an HTTP load generator for benchmarks, in the manner
// of wrk: a fixed number of keep-alive connections, each driven by its
// own goroutine sending one request after another for a fixed time.
//
// Accounting. Time is split into a warmup phase and a measured window of
// Config.Duration. A request belongs to the phase in which it was sent:
//   - sent during warmup: counted only in Result.Warmup;
//   - sent in the window: counted in Result.Requests, whatever its fate;
//     a transport error also counts in Errors, a status outside 2xx in
//     Non2xx, and a complete response has its latency recorded;
//   - cut off because ctx ended: counted only in Result.Aborted.
//
// No new request is sent once the window closes, but the ones in flight
// are awaited, so every request the server handled appears in exactly one
// of Warmup, Requests and Aborted (transport errors aside, a server sees
// Warmup + Requests when ctx does not end early).
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Config describes one run.
type Config struct {
	URL         string
	Method      string // GET when empty
	Header      http.Header
	Body        []byte // sent with every request; none when nil
	Connections int    // concurrent keep-alive connections; 1 when zero
	Duration    time.Duration
	Warmup      time.Duration
}

// Result is what a run measured. Latencies span from sending a request to
// reading the last byte of its response body.
type Result struct {
	Requests int64 // sent in the measured window
	Errors   int64 // transport errors among Requests
	Non2xx   int64 // responses among Requests with a status outside 200-299
	Warmup   int64 // sent during warmup, in no other count
	Aborted  int64 // cut off by the end of ctx, in no other count
	// Duration is the measured window as it really ran: from its start to
	// the last counted request's completion.
	Duration  time.Duration
	ReqPerSec float64
	P50       time.Duration
	P90       time.Duration
	P99       time.Duration
	Max       time.Duration
}

// String is the result on one line.
func (r Result) String() string {
	return fmt.Sprintf("%.0f req/s  p50 %v  p90 %v  p99 %v  max %v  errors %d  non-2xx %d  (%d requests in %v)",
		r.ReqPerSec, round(r.P50), round(r.P90), round(r.P99), round(r.Max), r.Errors, r.Non2xx, r.Requests, r.Duration.Round(time.Millisecond))
}

// round keeps three significant figures or so, for reading.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(10 * time.Nanosecond)
	}
	return d
}

// worker is one connection's goroutine and its own tallies.
type worker struct {
	hist     histogram
	requests int64
	errors   int64
	non2xx   int64
	warmup   int64
	aborted  int64
	last     time.Time // completion of the last counted request
}

// Run sends requests until the warmup and the measured window have
// passed, or ctx ends, and reports the window. Ending ctx is a normal
// stop: the result covers what was measured until then.
func Run(ctx context.Context, c Config) (Result, error) {
	if c.URL == "" {
		return Result{}, errors.New("loadgen: no URL")
	}
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	if c.Connections == 0 {
		c.Connections = 1
	}
	switch {
	case c.Connections < 0:
		return Result{}, fmt.Errorf("loadgen: %d connections", c.Connections)
	case c.Duration <= 0:
		return Result{}, fmt.Errorf("loadgen: duration %v is not positive", c.Duration)
	case c.Warmup < 0:
		return Result{}, fmt.Errorf("loadgen: warmup %v is negative", c.Warmup)
	}
	// Check the request once, so a bad URL is an error and not a run of
	// transport errors.
	if _, err := newRequest(ctx, c); err != nil {
		return Result{}, err
	}
	tr := &http.Transport{
		Proxy:               nil,
		MaxConnsPerHost:     c.Connections,
		MaxIdleConnsPerHost: c.Connections,
		MaxIdleConns:        c.Connections,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	defer tr.CloseIdleConnections()

	start := time.Now()
	windowStart := start.Add(c.Warmup)
	end := windowStart.Add(c.Duration)
	workers := make([]*worker, c.Connections)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{}
		workers[i] = w
		req, _ := newRequest(ctx, c) // checked above
		wg.Go(func() { w.run(ctx, tr, req, c.Body, windowStart, end) })
	}
	wg.Wait()

	var total worker
	for _, w := range workers {
		total.hist.merge(&w.hist)
		total.requests += w.requests
		total.errors += w.errors
		total.non2xx += w.non2xx
		total.warmup += w.warmup
		total.aborted += w.aborted
		if w.last.After(total.last) {
			total.last = w.last
		}
	}
	r := Result{
		Requests: total.requests,
		Errors:   total.errors,
		Non2xx:   total.non2xx,
		Warmup:   total.warmup,
		Aborted:  total.aborted,
		P50:      total.hist.quantile(0.50),
		P90:      total.hist.quantile(0.90),
		P99:      total.hist.quantile(0.99),
		Max:      total.hist.quantile(1),
	}
	if !total.last.IsZero() {
		r.Duration = total.last.Sub(windowStart)
	}
	if r.Duration > 0 {
		r.ReqPerSec = float64(r.Requests) / r.Duration.Seconds()
	}
	return r, nil
}

func newRequest(ctx context.Context, c Config) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("loadgen: request: %w", err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("loadgen: URL %q is not http or https", c.URL)
	}
	req.Header = c.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	return req, nil
}

// run sends requests on one connection until end. The request is reused:
// the transport allows it once the previous response body is closed.
func (w *worker) run(ctx context.Context, rt http.RoundTripper, req *http.Request, body []byte, windowStart, end time.Time) {
	for ctx.Err() == nil {
		sent := time.Now()
		if !sent.Before(end) {
			return
		}
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
		}
		resp, err := rt.RoundTrip(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			_, err = io.Copy(io.Discard, resp.Body)
			if cerr := resp.Body.Close(); err == nil {
				err = cerr
			}
		}
		done := time.Now()
		switch {
		case err != nil && ctx.Err() != nil:
			w.aborted++
		case sent.Before(windowStart):
			w.warmup++
		default:
			w.requests++
			w.last = done
			switch {
			case err != nil:
				w.errors++
			case status < 200 || status > 299:
				w.non2xx++
				w.hist.record(done.Sub(sent))
			default:
				w.hist.record(done.Sub(sent))
			}
		}
	}
}
