package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"omtx/jobs"
)

// Delivery outcomes passed to SenderConfig.Observe, one per attempt:
// delivered; retry (failed, another attempt follows); gave_up (the
// delivery ended undelivered: a receiver's refusal, the last attempt, or
// ctx ending).
const (
	Delivered = "delivered"
	Retry     = "retry"
	GaveUp    = "gave_up"
)

// Headers of a delivery besides SignatureHeader.
const (
	EventHeader    = "X-OMTX-Event"
	DeliveryHeader = "X-OMTX-Delivery"
	UserAgent      = "omtx-webhook/1"
)

// AttemptTimeout bounds one delivery attempt.
const AttemptTimeout = 10 * time.Second

// maxBackoff caps the default backoff and a receiver's Retry-After.
const maxBackoff = 5 * time.Minute

// SenderConfig configures a Sender. Every field is optional.
type SenderConfig struct {
	// Client sends the requests; default: a client that does not follow
	// redirects (a redirect is answered like any other refusal).
	Client *http.Client
	// Clock dates the signatures; default: the system clock.
	Clock jobs.Clock
	// Attempts is how many times one delivery is tried (default 6).
	Attempts int
	// Backoff is the wait after failed attempt n (1-based); default 2 s
	// doubling, at most 5 min.
	Backoff func(attempt int) time.Duration
	// Wait waits d or until ctx ends; default: a timer.
	Wait func(ctx context.Context, d time.Duration) error
	Log  *slog.Logger
	// Observe, when set, is told each attempt's outcome (Delivered, Retry,
	// GaveUp).
	Observe func(outcome string)
}

// Sender delivers signed events with retries. It is safe for concurrent
// use.
type Sender struct {
	cfg SenderConfig
}

// NewSender fills in the defaults of cfg.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Clock == nil {
		cfg.Clock = jobs.SystemClock{}
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 6
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Wait == nil {
		cfg.Wait = wait
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string) {}
	}
	return &Sender{cfg: cfg}
}

// DefaultBackoff waits 2 s after the first failed attempt, doubling each
// time up to 5 min.
func DefaultBackoff(attempt int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Send posts event as JSON to url, signed under secret. A 2xx answer
// delivers it. 5xx, 429 and transport errors are retried with backoff (a
// Retry-After in seconds on those answers is honoured, up to 5 min); any
// other answer gives up at once. Every attempt carries the same
// X-OMTX-Delivery id, so receivers can drop duplicates, and a signature
// made afresh with the clock's time. Send returns nil once delivered, or
// an error naming the last answer.
func (s *Sender) Send(ctx context.Context, url, secret string, event any) error {
	body, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("webhook: encode event: %w", err)
	}
	var head struct {
		Event string `json:"event"`
	}
	_ = json.Unmarshal(body, &head) // events without a name send none
	id := uuid.NewString()
	log := s.cfg.Log.With("delivery", id, "event", head.Event, "url", redact(url))
	for attempt := 1; ; attempt++ {
		retryAfter, err := s.attempt(ctx, url, secret, id, head.Event, body)
		if err == nil {
			s.cfg.Observe(Delivered)
			return nil
		}
		var final *finalError
		if errors.As(err, &final) {
			s.cfg.Observe(GaveUp)
			return fmt.Errorf("webhook %s: %w", id, err)
		}
		if ctx.Err() != nil {
			s.cfg.Observe(GaveUp)
			return fmt.Errorf("webhook %s: stopped after %d attempts: %w (last: %v)", id, attempt, context.Cause(ctx), err)
		}
		if attempt >= s.cfg.Attempts {
			s.cfg.Observe(GaveUp)
			return fmt.Errorf("webhook %s: gave up after %d attempts: %w", id, attempt, err)
		}
		s.cfg.Observe(Retry)
		d := s.cfg.Backoff(attempt)
		if retryAfter > 0 {
			d = min(retryAfter, maxBackoff)
		}
		log.Warn("webhook attempt failed; retrying", "attempt", attempt, "in", d, "err", err)
		if werr := s.cfg.Wait(ctx, d); werr != nil {
			s.cfg.Observe(GaveUp)
			return fmt.Errorf("webhook %s: stopped after %d attempts: %w (last: %v)", id, attempt, werr, err)
		}
	}
}

// finalError is a failure that retrying will not change.
type finalError struct{ msg string }

func (e *finalError) Error() string { return e.msg }

// attempt makes one request. It returns the receiver's Retry-After, if
// any, with a retryable error, or a *finalError.
func (s *Sender) attempt(ctx context.Context, url, secret, id, event string, body []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, &finalError{msg: "bad request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	if event != "" {
		req.Header.Set(EventHeader, event)
	}
	req.Header.Set(DeliveryHeader, id)
	req.Header.Set(SignatureHeader, Sign(secret, s.cfg.Clock.Now(), body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		var uerr *neturl.Error
		if errors.As(err, &uerr) {
			err = fmt.Errorf("post %s: %w", redact(uerr.URL), uerr.Err)
		}
		return 0, err
	}
	// Drained so that the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return 0, nil
	case c >= 500 || c == http.StatusTooManyRequests:
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return 0, &finalError{msg: "the receiver refused it: " + resp.Status}
	}
}

// retryAfter reads a Retry-After header given in seconds.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// redact keeps a URL's scheme, host and path for logs: its query may hold
// a token.
func redact(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}
