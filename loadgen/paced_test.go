package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWeightedOrder(t *testing.T) {
	t.Parallel()
	order := weightedOrder([]Target{{Weight: 5}, {Weight: 1}, {Weight: 2}})
	count := make([]int, 3)
	for _, i := range order {
		count[i]++
	}
	if !slices.Equal(count, []int{5, 1, 2}) {
		t.Fatalf("order %v: counts %v", order, count)
	}
	// Spread out: the heavy target never runs more than twice in a row.
	for i := 2; i < len(order); i++ {
		if order[i] == 0 && order[i-1] == 0 && order[i-2] == 0 {
			t.Errorf("order %v bunches the heavy target", order)
		}
	}
}

// TestRunPaced: the schedule's rate is what the server sees whatever its
// speed, the mix follows the weights, bodies and methods arrive, failures
// are counted apart, and latencies count from the scheduled start.
func TestRunPaced(t *testing.T) {
	t.Parallel()
	var gets, posts, bodies, fails, turnsB atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/fail":
			fails.Add(1)
			w.WriteHeader(http.StatusTeapot)
		case r.Method == http.MethodPost:
			posts.Add(1)
			if b, _ := io.ReadAll(r.Body); string(b) == "payload" && r.Header.Get("X-Test") == "yes" {
				bodies.Add(1)
			}
		case strings.HasPrefix(r.URL.Path, "/turns"):
			if r.Header.Get("X-User") == "b" && r.URL.Path == "/turns/b" {
				turnsB.Add(1)
			}
		default:
			gets.Add(1)
			time.Sleep(20 * time.Millisecond) // slower than the schedule's interval
		}
	}))
	defer srv.Close()
	res, err := RunPaced(context.Background(), PacedConfig{
		Rate: 240, Duration: time.Second,
		Targets: []Target{
			{Name: "get", URL: srv.URL + "/get", Weight: 6},
			{Name: "post", Method: http.MethodPost, URL: srv.URL + "/post", Body: []byte("payload"), Header: http.Header{"X-Test": {"yes"}}, Weight: 3},
			{Name: "fail", URL: srv.URL + "/fail", Weight: 1},
			{Name: "turns", URL: srv.URL + "/turns", Weight: 2, Turns: []Turn{
				{Header: http.Header{"X-User": {"a"}}},
				{URL: srv.URL + "/turns/b", Header: http.Header{"X-User": {"b"}}}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Total.Requests != 240 || gets.Load() != 120 || posts.Load() != 60 || fails.Load() != 20 || res.ByTarget["turns"].Requests != 40 {
		t.Errorf("requests %d: get %d, post %d, fail %d; want 240: 120, 60, 20 and 40 turns", res.Total.Requests, gets.Load(), posts.Load(), fails.Load())
	}
	if turnsB.Load() != 20 {
		t.Errorf("%d of 40 requests took the second turn's URL and header, want 20", turnsB.Load())
	}
	if bodies.Load() != posts.Load() {
		t.Errorf("%d of %d posts carried their body and header", bodies.Load(), posts.Load())
	}
	if res.Total.Non2xx != 20 || res.ByTarget["fail"].Non2xx != 20 || res.ByTarget["get"].Non2xx != 0 || res.Total.Errors != 0 {
		t.Errorf("failures: %+v", res)
	}
	if get := res.ByTarget["get"]; get.P50 < 20*time.Millisecond || get.Requests != 120 {
		t.Errorf("slow target: %+v", get)
	}
	if res.Total.ReqPerSec < 180 || res.Total.ReqPerSec > 260 {
		t.Errorf("achieved %.0f req/s, scheduled 240", res.Total.ReqPerSec)
	}
}

func TestRunPacedStops(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := RunPaced(ctx, PacedConfig{Rate: 100, Duration: time.Hour, Targets: []Target{{Name: "a", URL: srv.URL, Weight: 1}}})
	if err != nil || time.Since(start) > 5*time.Second || res.Total.Requests < 5 || res.Total.Requests > 30 {
		t.Fatalf("after ctx ended: %v %+v in %v", err, res.Total, time.Since(start))
	}
	for _, bad := range []PacedConfig{
		{Rate: 1, Duration: time.Second},
		{Rate: 0, Duration: time.Second, Targets: []Target{{Name: "a", URL: srv.URL, Weight: 1}}},
		{Rate: 1, Duration: time.Second, Targets: []Target{{Name: "a", URL: srv.URL, Weight: 0}}},
		{Rate: 1, Duration: time.Second, Targets: []Target{{Name: "a", URL: srv.URL, Weight: 1}, {Name: "a", URL: srv.URL, Weight: 1}}},
		{Rate: 1, Duration: time.Second, Targets: []Target{{Name: "a", URL: "ftp://x", Weight: 1}}},
	} {
		if _, err := RunPaced(context.Background(), bad); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}
