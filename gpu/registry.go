package gpu

import (
	"context"
	"sort"
)

// Registry is the set of model adapters this binary knows.
type Registry struct {
	models map[string]Model
}

// NewRegistry returns a registry of the given adapters.
func NewRegistry(models ...Model) *Registry {
	r := &Registry{models: map[string]Model{}}
	for _, m := range models {
		r.models[m.Info().Name] = m
	}
	return r
}

// Get returns the adapter for a model name.
func (r *Registry) Get(name string) (Model, bool) {
	m, ok := r.models[name]
	return m, ok
}

// All returns every adapter, by name.
func (r *Registry) All() []Model {
	names := make([]string, 0, len(r.models))
	for n := range r.models {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Model, len(names))
	for i, n := range names {
		out[i] = r.models[n]
	}
	return out
}

// Availability is whether this host can run a model, and why not.
type Availability struct {
	Info   Info
	Reason string // empty when the model can run here
}

// Check reports, for every model, whether this host can run it.
func (r *Registry) Check(ctx context.Context) []Availability {
	var out []Availability
	for _, m := range r.All() {
		a := Availability{Info: m.Info()}
		if err := m.Check(ctx); err != nil {
			a.Reason = err.Error()
		}
		out = append(out, a)
	}
	return out
}

// Runnable returns the names of the models this host can run.
func (r *Registry) Runnable(ctx context.Context) []string {
	var names []string
	for _, a := range r.Check(ctx) {
		if a.Reason == "" {
			names = append(names, a.Info.Name)
		}
	}
	return names
}
