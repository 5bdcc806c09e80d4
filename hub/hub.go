// Package hub is the application service behind the API and the pages:
// submitting batches and single predictions, checking ligand libraries,
// reading batches, jobs and their files, the results table with its
// sorting and paging, analytics, exports, batch controls and the system's
// status. Handlers parse a request, call one method here and render what
// it returns; every rule of the product lives in this package.
//
// Every method that reads or changes a user's records takes that user and
// answers a jobs.ErrNotFound error for another user's batch or job, exactly
// as for one that does not exist. Errors are *jobs.Error values (with the
// input field for the caller's mistakes, e.g. "ligands", "model_name",
// "parameters.exhaustiveness") or, for ligand problems, a *ligands.Error
// listing every row's problem. Any other error is internal.
package hub

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"omtx/gpu"
	"omtx/jobs"
	"omtx/results"
)

// Config is what the service needs from the composition root.
type Config struct {
	Store   jobs.Store
	Results *results.Store
	Models  *gpu.Registry
	// Accept names the models this deployment takes submissions for; nil
	// accepts every model of the registry. A model outside it answers a
	// field error on model_name saying why it cannot run here.
	Accept []string
	Clock  jobs.Clock
	Log    *slog.Logger
}

// Caller is who submits, with their tier's limits.
type Caller struct {
	UserID string
	// MaxLigandsPerBatch caps a batch's ligands (0: no cap).
	MaxLigandsPerBatch int
	// MaxRunning caps how many of the user's jobs run at once (0: no cap).
	MaxRunning int
	// RequestID is kept on the jobs so that runner logs join the request.
	RequestID string
	// IdempotencyKey, when set, makes a submission that repeats an earlier
	// one under the same key answer the earlier one instead of submitting
	// the work again (see jobs.Store.Submit).
	IdempotencyKey string
}

// Download is a file to send. Everything that can fail before the first
// byte (not found, a bad format) fails in the method that returns it;
// Write streams the content and may fail only on the way.
type Download struct {
	// Name is the suggested file name, not yet sanitized for a header.
	Name        string
	ContentType string
	Write       func(w io.Writer) error
	// URL, when set, is a short-lived signed URL of the file in the bucket:
	// the client fetches a large file there instead of through the server.
	URL string
}

// Check is one dependency SystemHealth pings.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Service is the hub's application service. It is safe for concurrent use.
type Service struct {
	store   jobs.Store
	results *results.Store
	models  *gpu.Registry
	accept  map[string]bool // nil: all
	clock   jobs.Clock
	log     *slog.Logger

	rows *rowCache

	checkMu   sync.Mutex
	checkedAt time.Time
	checked   []gpu.Availability
}

// New checks the configuration and returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Results == nil || cfg.Models == nil {
		return nil, errors.New("hub: store, results and models are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = jobs.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Service{store: cfg.Store, results: cfg.Results, models: cfg.Models, clock: cfg.Clock, log: cfg.Log,
		rows: newRowCache(rowCacheSize)}
	if cfg.Accept != nil {
		s.accept = map[string]bool{}
		for _, name := range cfg.Accept {
			if _, ok := cfg.Models.Get(name); !ok {
				return nil, errors.New("hub: accepted model " + name + " is not in the registry")
			}
			s.accept[name] = true
		}
	}
	return s, nil
}

// accepts reports whether this deployment takes submissions for model.
func (s *Service) accepts(model string) bool { return s.accept == nil || s.accept[model] }

// modelNames lists the registry's model names, sorted.
func (s *Service) modelNames() []string {
	var names []string
	for _, m := range s.models.All() {
		names = append(names, m.Info().Name)
	}
	slices.Sort(names)
	return names
}
