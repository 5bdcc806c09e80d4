package webhook_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"omtx/jobs/jobstest"
	"omtx/webhook"
)

const secret = "0123456789abcdef-secret"

func TestSignVerify(t *testing.T) {
	t.Parallel()
	at := time.Unix(1767225600, 0)
	body := []byte(`{"event":"batch.completed"}`)
	sig := webhook.Sign(secret, at, body)
	if !strings.HasPrefix(sig, "t=1767225600,v1=") || len(sig) != len("t=1767225600,v1=")+64 {
		t.Fatalf("signature %q", sig)
	}
	cases := []struct {
		name   string
		secret string
		header string
		body   string
		now    time.Time
		want   error
	}{
		{"valid", secret, sig, string(body), at.Add(time.Minute), nil},
		{"valid with another scheme and a rotated signature", secret, "t=1767225600,v0=abc,v1=" + strings.Repeat("00", 32) + "," + sig[len("t=1767225600,"):], string(body), at, nil},
		{"other body", secret, sig, `{"event":"batch.failed"}`, at, webhook.ErrMismatch},
		{"other secret", "another-secret-of-16", sig, string(body), at, webhook.ErrMismatch},
		{"stale", secret, sig, string(body), at.Add(6 * time.Minute), webhook.ErrStale},
		{"from the future", secret, sig, string(body), at.Add(-6 * time.Minute), webhook.ErrStale},
		{"empty", secret, "", string(body), at, webhook.ErrMalformed},
		{"no signature", secret, "t=1767225600", string(body), at, webhook.ErrMalformed},
		{"no time", secret, sig[len("t=1767225600,"):], string(body), at, webhook.ErrMalformed},
		{"bad time", secret, "t=soon," + sig[len("t=1767225600,"):], string(body), at, webhook.ErrMalformed},
		{"bad hex", secret, "t=1767225600,v1=zz", string(body), at, webhook.ErrMalformed},
		{"short digest", secret, "t=1767225600,v1=abcd", string(body), at, webhook.ErrMalformed},
		{"no key", secret, "t=1767225600,junk", string(body), at, webhook.ErrMalformed},
	}
	for _, c := range cases {
		err := webhook.Verify(c.secret, c.header, []byte(c.body), c.now, 5*time.Minute)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}

// receiver is a webhook endpoint that answers from a script of status
// codes (then 200) and keeps what it received.
type receiver struct {
	clock  *jobstest.Clock
	mu     sync.Mutex
	script []int
	header http.Header // extra headers for scripted answers
	got    []*http.Request
	bodies []string
	checks []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, r)
	rc.bodies = append(rc.bodies, string(body))
	rc.checks = append(rc.checks, webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, rc.clock.Now(), time.Minute))
	status := http.StatusOK
	if len(rc.script) > 0 {
		status, rc.script = rc.script[0], rc.script[1:]
		for k, v := range rc.header {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(status)
}

type harness struct {
	clock    *jobstest.Clock
	recv     *receiver
	srv      *httptest.Server
	mu       sync.Mutex
	waits    []time.Duration
	outcomes []string
}

func newHarness(t *testing.T, script ...int) *harness {
	t.Helper()
	clock := jobstest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	h := &harness{clock: clock, recv: &receiver{clock: clock, script: script}}
	h.srv = httptest.NewServer(h.recv)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) sender(mod func(*webhook.SenderConfig)) *webhook.Sender {
	cfg := webhook.SenderConfig{Clock: h.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Wait: func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			h.waits = append(h.waits, d)
			h.mu.Unlock()
			h.clock.Advance(d)
			return ctx.Err()
		},
		Observe: func(o string) {
			h.mu.Lock()
			h.outcomes = append(h.outcomes, o)
			h.mu.Unlock()
		}}
	if mod != nil {
		mod(&cfg)
	}
	return webhook.NewSender(cfg)
}

type event struct {
	Event   string `json:"event"`
	BatchID string `json:"batch_id"`
}

func TestSendDeliversSigned(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if err := h.sender(nil).Send(context.Background(), h.srv.URL+"/hook", secret, event{"batch.completed", "b1"}); err != nil {
		t.Fatal(err)
	}
	if len(h.recv.got) != 1 {
		t.Fatalf("%d requests", len(h.recv.got))
	}
	r := h.recv.got[0]
	if err := h.recv.checks[0]; err != nil {
		t.Fatalf("signature: %v", err)
	}
	if h.recv.bodies[0] != `{"event":"batch.completed","batch_id":"b1"}` {
		t.Fatalf("body %s", h.recv.bodies[0])
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "omtx-webhook/1", "X-OMTX-Event": "batch.completed"} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if id := r.Header.Get("X-OMTX-Delivery"); len(id) != 36 {
		t.Errorf("delivery id %q", id)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/hook" {
		t.Errorf("%s %s", r.Method, r.URL.Path)
	}
	if strings.Join(h.outcomes, ",") != "delivered" {
		t.Errorf("outcomes %v", h.outcomes)
	}
}

func TestSendRetriesThenDelivers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 500, 503, 502)
	if err := h.sender(nil).Send(context.Background(), h.srv.URL, secret, event{"batch.completed", "b1"}); err != nil {
		t.Fatal(err)
	}
	if len(h.recv.got) != 4 {
		t.Fatalf("%d attempts, want 4", len(h.recv.got))
	}
	id := h.recv.got[0].Header.Get("X-OMTX-Delivery")
	for i, r := range h.recv.got {
		if r.Header.Get("X-OMTX-Delivery") != id {
			t.Errorf("attempt %d: delivery id changed", i+1)
		}
		// Each attempt is signed at its own time, which the clock moved.
		if err := h.recv.checks[i]; err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	if sig0, sig3 := h.recv.got[0].Header.Get("X-OMTX-Signature"), h.recv.got[3].Header.Get("X-OMTX-Signature"); sig0 == sig3 {
		t.Error("the signature was not made afresh")
	}
	if want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}; !slices.Equal(h.waits, want) {
		t.Errorf("waits %v, want %v", h.waits, want)
	}
	if got := strings.Join(h.outcomes, ","); got != "retry,retry,retry,delivered" {
		t.Errorf("outcomes %s", got)
	}
}

func TestSendGivesUp(t *testing.T) {
	t.Parallel()
	t.Run("gone at once", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, 410)
		err := h.sender(nil).Send(context.Background(), h.srv.URL, secret, event{"batch.completed", "b1"})
		if err == nil || !strings.Contains(err.Error(), "410") {
			t.Fatalf("err %v", err)
		}
		if len(h.recv.got) != 1 || len(h.waits) != 0 || strings.Join(h.outcomes, ",") != "gave_up" {
			t.Fatalf("%d attempts, waits %v, outcomes %v", len(h.recv.got), h.waits, h.outcomes)
		}
	})
	t.Run("after every attempt", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, 500, 500, 500, 503)
		err := h.sender(func(c *webhook.SenderConfig) { c.Attempts = 4 }).Send(context.Background(), h.srv.URL, secret, event{})
		if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "4 attempts") {
			t.Fatalf("err %v", err)
		}
		if len(h.recv.got) != 4 || strings.Join(h.outcomes, ",") != "retry,retry,retry,gave_up" {
			t.Fatalf("%d attempts, outcomes %v", len(h.recv.got), h.outcomes)
		}
	})
	t.Run("bad URL", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		err := h.sender(nil).Send(context.Background(), "http://[::1", secret, event{})
		if err == nil || len(h.waits) != 0 || strings.Join(h.outcomes, ",") != "gave_up" {
			t.Fatalf("err %v, waits %v, outcomes %v", err, h.waits, h.outcomes)
		}
	})
	t.Run("transport errors", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.Close()
		err := h.sender(func(c *webhook.SenderConfig) { c.Attempts = 3 }).Send(context.Background(), h.srv.URL+"/x?token=hidden", secret, event{})
		if err == nil || !strings.Contains(err.Error(), "3 attempts") || strings.Contains(err.Error(), "hidden") {
			t.Fatalf("err %v", err)
		}
		if len(h.waits) != 2 {
			t.Fatalf("waits %v", h.waits)
		}
	})
}

func TestSendHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 429)
	h.recv.header = http.Header{"Retry-After": {"42"}}
	if err := h.sender(nil).Send(context.Background(), h.srv.URL, secret, event{}); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{42 * time.Second}; !slices.Equal(h.waits, want) || len(h.recv.got) != 2 {
		t.Fatalf("waits %v, want %v; %d attempts", h.waits, want, len(h.recv.got))
	}
}

func TestSendStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 500, 500, 500, 500, 500)
	ctx, cancel := context.WithCancel(context.Background())
	s := h.sender(func(c *webhook.SenderConfig) {
		c.Wait = func(ctx context.Context, d time.Duration) error {
			cancel() // the process shuts down during the first backoff
			<-ctx.Done()
			return ctx.Err()
		}
	})
	err := s.Send(ctx, h.srv.URL, secret, event{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if len(h.recv.got) != 1 {
		t.Fatalf("%d attempts after cancel", len(h.recv.got))
	}
	if got := strings.Join(h.outcomes, ","); got != "retry,gave_up" {
		t.Fatalf("outcomes %s", got)
	}
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 64 * time.Second,
		128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := webhook.DefaultBackoff(i + 1); got != w {
			t.Errorf("attempt %d: %s, want %s", i+1, got, w)
		}
	}
	if got := webhook.DefaultBackoff(100); got != 5*time.Minute {
		t.Errorf("attempt 100: %s", got)
	}
}
