package jobs

import "time"

// RetryPolicy decides how long a job waits before its next attempt.
type RetryPolicy interface {
	// Backoff is the wait after the given attempt (1 = the first) failed.
	Backoff(attempt int) time.Duration
}

// ExponentialRetry doubles the wait after each attempt: Base, 2*Base,
// 4*Base, ... capped at Max.
type ExponentialRetry struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultRetry waits 10 s, 20 s, 40 s, ... up to 10 minutes.
var DefaultRetry = ExponentialRetry{Base: 10 * time.Second, Max: 10 * time.Minute}

// Backoff implements RetryPolicy.
func (r ExponentialRetry) Backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := r.Base
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	if r.Max > 0 && d > r.Max {
		d = r.Max
	}
	return d
}

// DefaultMaxAttempts is how many leases a job gets before it fails for good.
const DefaultMaxAttempts = 3
