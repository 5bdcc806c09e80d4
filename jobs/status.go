package jobs

import "fmt"

// Status is where a job is in its lifecycle:
//
//	pending -> running -> completed | failed
//	pending | running -> cancelled
//	running -> pending   (lease expired or retryable failure, attempts left)
type Status string

// Job statuses.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusPending, StatusRunning, StatusCompleted, StatusFailed, StatusCancelled}

// transitions is the one table of allowed status changes.
var transitions = map[Status][]Status{
	StatusPending: {StatusRunning, StatusCancelled, StatusCompleted, StatusFailed},
	StatusRunning: {StatusCompleted, StatusFailed, StatusCancelled, StatusPending},
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Final reports whether no further transition leaves s.
func (s Status) Final() bool { return len(transitions[s]) == 0 && s.Valid() }

// CanTransition reports whether a job may move from one status to another.
// A pending job may complete directly when it reuses an identical job's
// result, and may fail directly when it can never run (bad input).
func CanTransition(from, to Status) bool {
	for _, t := range transitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

// CheckTransition returns a conflict error when from -> to is not allowed.
func CheckTransition(id string, from, to Status) error {
	if CanTransition(from, to) {
		return nil
	}
	return Errorf(ErrConflict, "job %s is %s and cannot become %s", id, from, to)
}

// From lists the statuses that may move to to, for conditional updates.
func From(to Status) []Status {
	var out []Status
	for _, from := range Statuses {
		if CanTransition(from, to) {
			out = append(out, from)
		}
	}
	return out
}

func (s Status) String() string { return string(s) }

// ParseStatus reads a status name.
func ParseStatus(s string) (Status, error) {
	st := Status(s)
	if !st.Valid() {
		return "", &Error{Code: ErrInvalid, Field: "status", Message: fmt.Sprintf("unknown status %q", s)}
	}
	return st, nil
}
