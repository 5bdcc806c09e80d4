package jobs

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to a status in one place.
const (
	ErrInvalid   = "invalid"    // the caller's input is wrong
	ErrNotFound  = "not_found"  // no such record for this user
	ErrConflict  = "conflict"   // the record's state does not allow it
	ErrLeaseLost = "lease_lost" // the worker no longer holds the lease
	ErrCancelled = "cancelled"  // the job was cancelled; the worker must stop
	ErrNoWork    = "no_work"    // nothing to lease right now
	ErrInternal  = "internal"
)

// Error is the hub's error: a code, a message safe to show the user, and
// the input field it concerns, if any.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an ErrInvalid error about one input field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: ErrInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// ErrInternal for any other non-nil error, or "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternal
}

// IsCode reports whether err carries code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }
