package jobs

import "time"

// Clock tells the time. The engine never calls time.Now directly, so tests
// move a manual clock instead of sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }
