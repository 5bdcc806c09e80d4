package gpu_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"omtx/api"
	"omtx/gpu"
	"omtx/jobs"
	"omtx/webhook"
)

// submitWith submits a batch of the script model with extra fields set by
// mod.
func (e *env) submitWith(t *testing.T, mod func(*jobs.Submission), smiles ...string) *jobs.Job {
	t.Helper()
	s := jobs.Submission{UserID: "alice", Model: "script", ModelVersion: "1", Name: "screen",
		Input: json.RawMessage(`{"protein_name":"ABL1","target":"ABL1"}`)}
	for i, sm := range smiles {
		in, _ := json.Marshal(gpu.Ligand{Name: fmt.Sprintf("lig%d", i), SMILES: sm})
		s.Children = append(s.Children, jobs.ChildSubmission{Name: fmt.Sprintf("lig%d", i), Input: in})
	}
	mod(&s)
	p, err := e.store.Submit(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type delivery struct {
	header http.Header
	body   []byte
}

func TestFinalizeSendsSignedWebhook(t *testing.T) {
	e := newEnv(t)
	const secret = "a-secret-of-at-least-16"
	got := make(chan delivery, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Clone(), body}
	}))
	defer srv.Close()
	p := e.submitWith(t, func(s *jobs.Submission) {
		s.Webhook = &jobs.Webhook{URL: srv.URL + "/hooks/omtx", Secret: secret}
	}, "CCO", "c1ccccc1")
	sender := webhook.NewSender(webhook.SenderConfig{Clock: e.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r := e.runner(t, &scriptModel{script: scoreScript}, func(cfg *gpu.RunnerConfig) { cfg.Webhooks = sender })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var d delivery
	select {
	case d = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook arrived")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(got); n != 0 {
		t.Fatalf("%d more deliveries", n)
	}
	if err := webhook.Verify(secret, d.header.Get("X-OMTX-Signature"), d.body, e.clock.Now(), time.Minute); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if ev := d.header.Get("X-OMTX-Event"); ev != "batch.completed" {
		t.Fatalf("event header %q", ev)
	}
	var ev api.WebhookEvent
	if err := json.Unmarshal(d.body, &ev); err != nil {
		t.Fatal(err)
	}
	want := api.WebhookEvent{Event: "batch.completed", BatchID: p.ID, JobName: "screen", Status: "completed",
		Progress:   api.Progress{Total: 2, Completed: 2, Percent: 100},
		ResultsURL: "/api/v3/batches/" + p.ID + "/results", FinishedAt: ev.FinishedAt}
	if ev != want || ev.FinishedAt.IsZero() {
		t.Fatalf("event %+v\nwant  %+v", ev, want)
	}
}

// engineRuns records what the runner reports of finished attempts.
type engineRuns struct {
	mu   sync.Mutex
	runs []engineRun
}

type engineRun struct {
	model   string
	d       time.Duration
	outcome string
}

func (m *engineRuns) EngineRun(model string, d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	m.runs = append(m.runs, engineRun{model, d, outcome})
}

func TestRunnerReportsEngineRuns(t *testing.T) {
	for _, c := range []struct {
		name, script, outcome string
	}{
		{"failed", `echo boom >&2; exit 3`, "failed"},
		{"ok", scoreScript, "ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.submit(t, "script", "CCO")
			m := &engineRuns{}
			r := e.runner(t, &scriptModel{script: c.script}, func(cfg *gpu.RunnerConfig) { cfg.Metrics = m })
			if _, err := r.Once(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(m.runs) != 1 {
				t.Fatalf("reported %d runs, want 1: %+v", len(m.runs), m.runs)
			}
			if run := m.runs[0]; run.model != "script" || run.outcome != c.outcome || run.d <= 0 {
				t.Fatalf("reported %+v, want script %s with the engine's time", run, c.outcome)
			}
		})
	}
}

// lockedBuffer is a log destination the runner's goroutines may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestRunnerLogsRequestID(t *testing.T) {
	e := newEnv(t)
	p := e.submitWith(t, func(s *jobs.Submission) { s.RequestID = "req-7f3a" }, "CCO", "permanent")
	var logs lockedBuffer
	drain(t, e.runner(t, &scriptModel{script: scoreScript + `; case "$SMILES" in permanent) exit 1;; esac`}, func(cfg *gpu.RunnerConfig) {
		cfg.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	}))
	seen := map[string]bool{}
	for _, l := range logs.lines(t) {
		msg, _ := l["msg"].(string)
		if l["job"] == nil && l["batch"] != p.ID {
			continue // not about a job
		}
		if l["request_id"] != "req-7f3a" {
			t.Errorf("log line without the request id: %v", l)
		}
		seen[msg] = true
	}
	for _, msg := range []string{"job completed", "job attempt failed", "batch finalized"} {
		if !seen[msg] {
			t.Errorf("no %q line with the request id; saw %v", msg, seen)
		}
	}
}

// rescues passes each rescue pass on.
type rescues chan jobs.Rescued

func (c rescues) Rescued(r jobs.Rescued) { c <- r }

func TestRescueReportsPasses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in, _ := json.Marshal(gpu.JobInput{Input: gpu.Input{ProteinName: "ABL1", Target: "ABL1"}, Ligand: &gpu.Ligand{Name: "ethanol", SMILES: "CCO"}})
	if _, err := e.store.Submit(ctx, jobs.Submission{UserID: "alice", Model: "script", ModelVersion: "1", Name: "one", Input: in}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.JobLease(ctx, jobs.LeaseParams{Owner: "gone", Models: []string{"script"}, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour) // the worker is gone; its lease expired
	passes := make(rescues, 10)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		gpu.Rescue(ctx, gpu.RescueConfig{Store: e.store, Every: time.Hour, Metrics: passes,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	select {
	case r := <-passes:
		if r != (jobs.Rescued{Retried: 1}) {
			t.Fatalf("first pass %+v, want one retried", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no rescue pass reported")
	}
	cancel()
	<-done
}
