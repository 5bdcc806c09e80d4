package gpu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"omtx/jobs"
	"omtx/results"
	"omtx/tracing"
)

// JobInput is the stored input of an individual job: the shared input and
// the ligand together. A batch keeps Input on its parent and each child's
// Ligand on the child.
type JobInput struct {
	Input
	Ligand *Ligand `json:"ligand,omitempty"`
}

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Store    jobs.Store
	Results  *results.Store
	Registry *Registry
	Clock    jobs.Clock
	Log      *slog.Logger
	// Owner names this worker in leases; unique per process.
	Owner string
	// Models are the models this runner leases; default: all runnable.
	Models []string
	// WorkDir holds each attempt's scratch folder and the preparation cache.
	WorkDir string
	// LeaseTTL is the lease term (default 2 min); heartbeats every third
	// of it.
	LeaseTTL time.Duration
	// JobTimeout bounds one attempt (default 2 h).
	JobTimeout time.Duration
	// Idle is how long to wait before asking again when there was no work
	// (default 1 s).
	Idle time.Duration
	// NoFinalize keeps this runner from taking batch finalize tasks.
	NoFinalize bool
	// BatchSize is how many children of one batch an engine that runs many
	// inputs per process (BatchModel) takes at once (default 8).
	BatchSize int
	// Metrics, when set, is told of every job attempt this runner finishes.
	Metrics EngineMetrics
	// Webhooks, when set, announces finalized batches that asked for a
	// webhook. Delivery is best effort: it runs in the background under
	// the context given to Run (or Once), and a process that stops while a
	// delivery is still being retried loses it.
	Webhooks WebhookSender
}

// EngineMetrics records finished job attempts: the engine's time and the
// attempt's error, nil when it completed.
type EngineMetrics interface {
	EngineRun(model string, d time.Duration, err error)
}

// WebhookSender delivers event, as JSON signed under secret, to url.
type WebhookSender interface {
	Send(ctx context.Context, url, secret string, event any) error
}

// Runner leases jobs and runs them, one at a time.
type Runner struct {
	cfg   RunnerConfig
	cache *Cache

	mu      sync.Mutex
	batches map[string]Input // shared input by batch, read once per batch

	deliveries sync.WaitGroup // webhook deliveries in flight
}

// NewRunner checks the configuration and prepares the work folder.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if cfg.Store == nil || cfg.Results == nil || cfg.Registry == nil {
		return nil, errors.New("runner: store, results and registry are required")
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Clock == nil {
		cfg.Clock = jobs.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 2 * time.Minute
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 2 * time.Hour
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 8
	}
	if cfg.Idle <= 0 {
		cfg.Idle = time.Second
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = filepath.Join(os.TempDir(), "omtx-work")
	}
	cache, err := NewCache(filepath.Join(cfg.WorkDir, "cache"))
	if err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, cache: cache, batches: map[string]Input{}}, nil
}

// Run leases and runs jobs until ctx ends, then waits for the webhook
// deliveries it started (which end with ctx too).
func (r *Runner) Run(ctx context.Context) error {
	defer r.deliveries.Wait()
	if r.cfg.Models == nil {
		r.cfg.Models = r.cfg.Registry.Runnable(ctx)
	}
	r.cfg.Log.Info("runner started", "owner", r.cfg.Owner, "models", r.cfg.Models)
	for ctx.Err() == nil {
		worked, err := r.Once(ctx)
		if err != nil && ctx.Err() == nil {
			r.cfg.Log.Error("runner", "err", err)
		}
		if worked && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.Idle):
		}
	}
	return nil
}

// Once leases one job or finalize task and carries it out. It reports
// whether there was anything to do.
func (r *Runner) Once(ctx context.Context) (bool, error) {
	models := r.cfg.Models
	if models == nil {
		models = r.cfg.Registry.Runnable(ctx)
	}
	j, err := r.cfg.Store.JobLease(ctx, jobs.LeaseParams{Owner: r.cfg.Owner, Models: models, TTL: r.cfg.LeaseTTL, Finalize: !r.cfg.NoFinalize})
	if jobs.IsCode(err, jobs.ErrNoWork) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The job's span continues the trace of the request that submitted
	// it (a no-op unless tracing is configured).
	ctx, span := otel.Tracer(tracing.Name).Start(tracing.Extract(ctx, j.TraceContext), spanName(j),
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.String("omtx.job_id", j.ID), attribute.String("omtx.batch_id", j.BatchID),
			attribute.String("omtx.model", j.Model), attribute.Int("omtx.attempt", j.Attempt),
			attribute.String("omtx.request_id", j.RequestID), attribute.String("omtx.worker", r.cfg.Owner)))
	defer span.End()
	err = r.dispatch(ctx, j)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return true, err
}

// dispatch carries out a leased job: a finalize task, a batch of children
// for an engine that runs many at once, or one job.
func (r *Runner) dispatch(ctx context.Context, j *jobs.Job) error {
	if j.Type == jobs.TypeBatchParent {
		return r.finalize(ctx, j)
	}
	if m, ok := r.cfg.Registry.Get(j.Model); ok && j.Type == jobs.TypeBatchChild {
		if bm, ok := m.(BatchModel); ok && r.cfg.BatchSize > 1 {
			return r.runMany(ctx, bm, j)
		}
	}
	return r.runJob(ctx, j)
}

// spanName names a leased job's span.
func spanName(j *jobs.Job) string {
	if j.Type == jobs.TypeBatchParent {
		return "finalize batch"
	}
	return "run " + j.Model
}

// jobLog is the logger for lines about job j: its ids and, when the job
// knows it, the id of the request that submitted it.
func (r *Runner) jobLog(j *jobs.Job) *slog.Logger {
	log := r.cfg.Log.With("job", j.ID, "batch", j.BatchID, "model", j.Model, "attempt", j.Attempt)
	if j.RequestID != "" {
		log = log.With("request_id", j.RequestID)
	}
	return log
}

// observe reports a finished attempt of j to the metrics.
func (r *Runner) observe(j *jobs.Job, engine time.Duration, err error) {
	if r.cfg.Metrics != nil {
		r.cfg.Metrics.EngineRun(j.Model, engine, err)
	}
}

// hold keeps a lease alive while work goes on. The returned context ends
// when the lease is lost or the job cancelled (with that as its cause);
// stop ends the heartbeats and returns the current lease.
func (r *Runner) hold(ctx context.Context, l jobs.Lease) (context.Context, func() jobs.Lease) {
	return r.holdLogged(ctx, l, r.cfg.Log.With("job", l.JobID))
}

// holdLogged is hold with the logger for the job's heartbeat warnings.
func (r *Runner) holdLogged(ctx context.Context, l jobs.Lease, log *slog.Logger) (context.Context, func() jobs.Lease) {
	ctx, cancel := context.WithCancelCause(ctx)
	var mu sync.Mutex
	lease := l
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(r.cfg.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			mu.Lock()
			cur := lease
			mu.Unlock()
			next, err := r.cfg.Store.JobHeartbeat(ctx, cur, r.cfg.LeaseTTL)
			if err != nil {
				if jobs.IsCode(err, jobs.ErrLeaseLost) || jobs.IsCode(err, jobs.ErrCancelled) {
					cancel(err)
					return
				}
				log.Warn("heartbeat", "err", err)
				continue
			}
			mu.Lock()
			lease = next
			mu.Unlock()
		}
	}()
	var once sync.Once
	return ctx, func() jobs.Lease {
		once.Do(func() {
			close(done)
			<-stopped
			cancel(nil)
		})
		mu.Lock()
		defer mu.Unlock()
		return lease
	}
}

// lost reports whether ctx ended because the lease was lost or the job
// cancelled.
func lost(ctx context.Context) bool {
	cause := context.Cause(ctx)
	return jobs.IsCode(cause, jobs.ErrLeaseLost) || jobs.IsCode(cause, jobs.ErrCancelled)
}

func (r *Runner) sharedInput(ctx context.Context, j *jobs.Job) (Input, *Ligand, error) {
	if j.Type == jobs.TypeIndividual {
		var in JobInput
		if err := json.Unmarshal(j.Input, &in); err != nil {
			return Input{}, nil, Permanentf("job input: %v", err)
		}
		return in.Input, in.Ligand, nil
	}
	var lig Ligand
	if len(j.Input) > 0 {
		if err := json.Unmarshal(j.Input, &lig); err != nil {
			return Input{}, nil, Permanentf("ligand input: %v", err)
		}
	}
	r.mu.Lock()
	in, ok := r.batches[j.BatchID]
	r.mu.Unlock()
	if !ok {
		b, err := r.cfg.Store.BatchGet(ctx, j.UserID, j.BatchID)
		if err != nil {
			return Input{}, nil, fmt.Errorf("batch %s: %w", j.BatchID, err)
		}
		if err := json.Unmarshal(b.Input, &in); err != nil {
			return Input{}, nil, Permanentf("batch input: %v", err)
		}
		r.mu.Lock()
		r.batches[j.BatchID] = in
		r.mu.Unlock()
	}
	return in, &lig, nil
}

// runJob runs one leased job to completion, failure or loss of its lease.
func (r *Runner) runJob(ctx context.Context, j *jobs.Job) error {
	log := r.jobLog(j)
	work, stop := r.holdLogged(ctx, *j.Lease, log)
	lease := *j.Lease
	defer func() { stop() }()

	dir := filepath.Join(r.cfg.WorkDir, "jobs", fmt.Sprintf("%s-%d", j.ID, j.Attempt))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	defer os.RemoveAll(dir)
	var logBuf syncBuffer
	var engine time.Duration
	var engineMu sync.Mutex
	exec := ProcessExecutor{Log: &logBuf, Elapsed: func(d time.Duration) {
		engineMu.Lock()
		engine += d
		engineMu.Unlock()
	}}
	started := r.cfg.Clock.Now()
	out, err := r.execute(work, j, dir, exec, &logBuf)
	lease = stop()
	if lost(work) {
		log.Info("job stopped: lease lost or cancelled; nothing written", "cause", context.Cause(work))
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	engineMu.Lock()
	elapsed := engine
	engineMu.Unlock()
	if err != nil {
		r.observe(j, elapsed, err)
		return r.fail(ctx, j, lease, err, &logBuf, log)
	}
	summary, err := r.store(ctx, j, lease, out, &logBuf, started, elapsed)
	if err != nil {
		if !jobs.IsCode(err, jobs.ErrLeaseLost) && !jobs.IsCode(err, jobs.ErrCancelled) {
			r.observe(j, elapsed, err)
		}
		return r.fail(ctx, j, lease, err, &logBuf, log)
	}
	err = r.cfg.Store.JobComplete(ctx, lease, summary)
	if jobs.IsCode(err, jobs.ErrLeaseLost) {
		log.Info("completed after losing the lease; the result was not recorded", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("complete %s: %w", j.ID, err)
	}
	r.observe(j, elapsed, nil)
	log.Info("job completed", "engine_seconds", elapsed.Seconds())
	return nil
}

func (r *Runner) execute(ctx context.Context, j *jobs.Job, dir string, exec Executor, logw *syncBuffer) (*Output, error) {
	model, ok := r.cfg.Registry.Get(j.Model)
	if !ok {
		return nil, Permanentf("model %q is not known to this runner", j.Model)
	}
	in, lig, err := r.sharedInput(ctx, j)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, r.cfg.JobTimeout, fmt.Errorf("job exceeded its time limit of %s", r.cfg.JobTimeout))
	defer cancel()
	t := Task{JobID: j.ID, Input: in, Dir: dir, Cache: r.cache, Exec: exec, Log: logw}
	if lig != nil {
		t.Ligand = *lig
	}
	if t.Receptor, err = r.receptor(ctx, in, dir); err != nil {
		return nil, err
	}
	return model.Run(ctx, t)
}

// receptor fetches an input's uploaded receptor into the runner's cache
// (once per digest) or, without a cache, into dir, and returns its path;
// "" when the input has none. A stored receptor whose content does not
// match its digest is a permanent failure.
func (r *Runner) receptor(ctx context.Context, in Input, dir string) (string, error) {
	if in.Receptor == nil {
		return "", nil
	}
	sum := in.Receptor.SHA256
	if len(sum) != sha256.Size*2 || strings.Trim(sum, "0123456789abcdef") != "" {
		return "", Permanentf("receptor: bad digest %q", sum)
	}
	fetch := func(into string) error {
		rc, err := r.cfg.Results.Get(ctx, ReceptorKey(sum))
		if err != nil {
			return fmt.Errorf("receptor %s: %w", in.Receptor.Name, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			return fmt.Errorf("receptor %s: %w", in.Receptor.Name, err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			return Permanentf("receptor %s: stored content does not match its digest", in.Receptor.Name)
		}
		return os.WriteFile(filepath.Join(into, "receptor.pdb"), data, 0o644)
	}
	if r.cache == nil {
		d := filepath.Join(dir, "uploaded-receptor")
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		if err := fetch(d); err != nil {
			return "", err
		}
		return filepath.Join(d, "receptor.pdb"), nil
	}
	d, err := r.cache.Get("uploaded-receptor", sum, fetch)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "receptor.pdb"), nil
}

// store writes a finished job's files into the hierarchy and returns its
// summary. The lease is checked first with a heartbeat, so a worker that
// lost it writes nothing; objects are written atomically, so an attempt
// running at the same time can only replace whole files.
func (r *Runner) store(ctx context.Context, j *jobs.Job, lease jobs.Lease, out *Output, logw *syncBuffer, started time.Time, engine time.Duration) (json.RawMessage, error) {
	if _, err := r.cfg.Store.JobHeartbeat(ctx, lease, r.cfg.LeaseTTL); err != nil {
		return nil, err
	}
	model, _ := r.cfg.Registry.Get(j.Model)
	info := model.Info()
	prefix := results.JobDir(batchOf(j), j.ID)
	var names []string
	for name, path := range out.Files {
		if err := r.cfg.Results.PutFile(ctx, prefix+"/"+name, path); err != nil {
			return nil, fmt.Errorf("store %s: %w", name, err)
		}
		names = append(names, name)
	}
	names = append(names, "results.json", "metadata.json", "logs.txt")
	sort.Strings(names)
	in, lig, _ := r.sharedInput(ctx, j)
	res := jobResults{JobID: j.ID, BatchID: batchOf(j), Model: info.Name, ModelVersion: info.Version,
		Ligand: lig, Metrics: metricValues(info.Metrics, out.Metrics), Details: out.Details}
	if err := r.cfg.Results.PutJSON(ctx, prefix+"/results.json", res); err != nil {
		return nil, err
	}
	meta := jobMetadata{JobID: j.ID, BatchID: batchOf(j), UserID: j.UserID, Type: j.Type, Name: j.Name,
		Model: info.Name, ModelVersion: info.Version, Input: in, Ligand: lig, Attempt: j.Attempt,
		Worker: r.cfg.Owner, StartedAt: started, FinishedAt: r.cfg.Clock.Now(), EngineSeconds: engine.Seconds()}
	if err := r.cfg.Results.PutJSON(ctx, prefix+"/metadata.json", meta); err != nil {
		return nil, err
	}
	if err := r.cfg.Results.Put(ctx, prefix+"/logs.txt", bytes.NewReader(logw.Bytes()), "text/plain; charset=utf-8"); err != nil {
		return nil, err
	}
	primary, _ := info.Primary()
	return json.Marshal(results.JobSummary{Metrics: out.Metrics, Primary: primary.Name, Files: names, ElapsedSeconds: engine.Seconds()})
}

// fail records a failed attempt and keeps its log.
func (r *Runner) fail(ctx context.Context, j *jobs.Job, lease jobs.Lease, cause error, logw *syncBuffer, log *slog.Logger) error {
	fmt.Fprintf(logw, "\nattempt %d failed: %v\n", j.Attempt, cause)
	if err := r.cfg.Results.Put(ctx, results.JobDir(batchOf(j), j.ID)+"/logs.txt", bytes.NewReader(logw.Bytes()), "text/plain; charset=utf-8"); err != nil {
		log.Warn("keep log of failed attempt", "err", err)
	}
	err := r.cfg.Store.JobFail(ctx, lease, jobs.Failure{Error: cause.Error(), Retryable: !IsPermanent(cause)})
	if jobs.IsCode(err, jobs.ErrLeaseLost) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record failure of %s: %w", j.ID, err)
	}
	log.Warn("job attempt failed", "err", cause, "retry", !IsPermanent(cause))
	return nil
}

func batchOf(j *jobs.Job) string {
	if j.Type == jobs.TypeBatchChild {
		return j.BatchID
	}
	return ""
}

// MetricValue is a number with its unit and ranking direction, as
// results.json states it.
type MetricValue struct {
	results.Metric
	Value float64 `json:"value"`
}

func metricValues(defs []results.Metric, values map[string]float64) []MetricValue {
	var out []MetricValue
	for _, d := range defs {
		if v, ok := values[d.Name]; ok {
			out = append(out, MetricValue{Metric: d, Value: v})
		}
	}
	return out
}

type jobResults struct {
	JobID        string        `json:"job_id"`
	BatchID      string        `json:"batch_id,omitempty"`
	Model        string        `json:"model"`
	ModelVersion string        `json:"model_version"`
	Ligand       *Ligand       `json:"ligand,omitempty"`
	Metrics      []MetricValue `json:"metrics"`
	Details      any           `json:"details,omitempty"`
}

type jobMetadata struct {
	JobID         string    `json:"job_id"`
	BatchID       string    `json:"batch_id,omitempty"`
	UserID        string    `json:"user_id"`
	Type          jobs.Type `json:"job_type"`
	Name          string    `json:"name"`
	Model         string    `json:"model"`
	ModelVersion  string    `json:"model_version"`
	Input         Input     `json:"input"`
	Ligand        *Ligand   `json:"ligand,omitempty"`
	Attempt       int       `json:"attempt"`
	Worker        string    `json:"worker"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	EngineSeconds float64   `json:"engine_seconds"`
}

// syncBuffer is a log buffer that several goroutines may write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}
