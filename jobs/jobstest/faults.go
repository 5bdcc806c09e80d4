package jobstest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
)

// Fault is what an injected fault does to one call.
type Fault int

// Faults, from harmless to treacherous.
const (
	// NoFault lets the call through.
	NoFault Fault = iota
	// Fail returns an error without making the call: nothing happened.
	Fail
	// Timeout makes the call with a context that has already ended (the
	// callee may give up at any point, or finish if it never looks) and
	// returns context.DeadlineExceeded whatever it did.
	Timeout
	// Lost makes the call and, if it succeeded, returns an error anyway:
	// the write happened but the caller saw it fail (a reply lost on the
	// network).
	Lost
)

func (f Fault) String() string {
	switch f {
	case Fail:
		return "fail"
	case Timeout:
		return "timeout"
	case Lost:
		return "lost reply"
	}
	return "none"
}

// InjectedError is the error of an injected fault.
type InjectedError struct {
	Op    string
	Fault Fault
}

func (e *InjectedError) Error() string { return fmt.Sprintf("%s: injected fault (%s)", e.Op, e.Fault) }

// Unwrap makes an injected timeout a context.DeadlineExceeded.
func (e *InjectedError) Unwrap() error {
	if e.Fault == Timeout {
		return context.DeadlineExceeded
	}
	return nil
}

// IsInjected reports whether err is, or wraps, an injected fault.
func IsInjected(err error) bool {
	var ie *InjectedError
	return errors.As(err, &ie)
}

// Faults decides, call by call, whether to inject a fault: each call of
// an operation it covers gets one with probability Rate, Fail, Timeout
// and Lost equally often, from a seeded random source, so that a run can
// be replayed (the order of calls permitting). It counts what it
// injected. Safe for concurrent use.
type Faults struct {
	mu       sync.Mutex
	rng      *rand.Rand
	rate     float64
	only     map[string]bool
	off      bool
	injected map[string]int // "op fault" -> count
	calls    map[string]int
	landed   map[string]int // calls through Do whose callee succeeded
	hidden   map[string]int // ... while the caller was told it failed
}

// NewFaults injects faults at rate (0 to 1) into every operation, or only
// into the ones named in ops.
func NewFaults(seed uint64, rate float64, ops ...string) *Faults {
	f := &Faults{rng: rand.New(rand.NewPCG(seed, 0x0fa17)), rate: rate, injected: map[string]int{}, calls: map[string]int{},
		landed: map[string]int{}, hidden: map[string]int{}}
	if len(ops) > 0 {
		f.only = map[string]bool{}
		for _, op := range ops {
			f.only[op] = true
		}
	}
	return f
}

// Next chooses the fault for one call of op.
func (f *Faults) Next(op string) Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if f.off || f.only != nil && !f.only[op] || f.rng.Float64() >= f.rate {
		return NoFault
	}
	k := Fault(1 + f.rng.IntN(3))
	f.injected[op+" "+k.String()]++
	return k
}

// SetEnabled turns injection on or off (to let a test check its outcome
// through the same wrappers).
func (f *Faults) SetEnabled(on bool) {
	f.mu.Lock()
	f.off = !on
	f.mu.Unlock()
}

// Injected is how many faults were injected in all.
func (f *Faults) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.injected {
		n += c
	}
	return n
}

// String summarizes the calls seen and the faults injected, by operation.
func (f *Faults) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	injected := 0
	for k, c := range f.injected {
		parts = append(parts, fmt.Sprintf("%s: %d", k, c))
		injected += c
	}
	sort.Strings(parts)
	calls := 0
	for _, c := range f.calls {
		calls += c
	}
	return fmt.Sprintf("%d calls, %d faults (%s)", calls, injected, strings.Join(parts, ", "))
}

// Calls is how many calls of op were seen.
func (f *Faults) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Landed is how many calls of op made through Do succeeded in the callee,
// whatever their callers were told.
func (f *Faults) Landed(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.landed[op]
}

// Hidden is how many calls of op made through Do succeeded in the callee
// while their callers were told they failed.
func (f *Faults) Hidden(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hidden[op]
}

func (f *Faults) record(op string, err error, hidden bool) {
	if err != nil {
		return
	}
	f.mu.Lock()
	f.landed[op]++
	if hidden {
		f.hidden[op]++
	}
	f.mu.Unlock()
}

// Do runs call under the fault chosen for op: see Fault.
func Do[T any](ctx context.Context, f *Faults, op string, call func(context.Context) (T, error)) (T, error) {
	var zero T
	switch k := f.Next(op); k {
	case Fail:
		return zero, &InjectedError{Op: op, Fault: k}
	case Timeout:
		dead, cancel := context.WithCancel(ctx)
		cancel()
		_, err := call(dead)
		f.record(op, err, true)
		return zero, &InjectedError{Op: op, Fault: k}
	case Lost:
		_, err := call(ctx)
		f.record(op, err, true)
		if err != nil {
			return zero, err
		}
		return zero, &InjectedError{Op: op, Fault: k}
	}
	v, err := call(ctx)
	f.record(op, err, false)
	return v, err
}
