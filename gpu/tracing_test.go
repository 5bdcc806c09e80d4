package gpu_test

import (
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"omtx/gpu"
	"omtx/jobs"
	"omtx/tracing"
)

// The runner's spans continue the trace of the request that submitted
// the work: a child's run and the batch's finalize are children of the
// request's span (its trace context is stored with the jobs).
func TestRunnerContinuesSubmitTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	if _, err := tracing.Setup(context.Background(), "omtx-test", "0"); err != nil {
		t.Fatal(err)
	}

	e := newEnv(t)
	ctx, request := tp.Tracer("test").Start(context.Background(), "POST /api/v3/batches/submit")
	in, _ := json.Marshal(gpu.Ligand{Name: "ethanol", SMILES: "CCO"})
	p, err := e.store.Submit(ctx, jobs.Submission{UserID: "alice", Model: "script", ModelVersion: "1", Name: "traced",
		Input: json.RawMessage(`{}`), Children: []jobs.ChildSubmission{{Name: "ethanol", Input: in}},
		TraceContext: tracing.Inject(ctx)})
	if err != nil {
		t.Fatal(err)
	}
	request.End()
	if p.TraceContext == "" {
		t.Fatal("no trace context stored")
	}
	drain(t, e.runner(t, &scriptModel{script: scoreScript}, nil))

	want := request.SpanContext()
	var run, finalize bool
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "run script", "finalize batch":
			if s.Parent().TraceID() != want.TraceID() || s.Parent().SpanID() != want.SpanID() {
				t.Errorf("span %q: parent %s/%s, want the request's %s/%s", s.Name(),
					s.Parent().TraceID(), s.Parent().SpanID(), want.TraceID(), want.SpanID())
			}
			attrs := map[string]string{}
			for _, a := range s.Attributes() {
				attrs[string(a.Key)] = a.Value.Emit()
			}
			if attrs["omtx.model"] != "script" || attrs["omtx.batch_id"] != p.ID || attrs["omtx.job_id"] == "" {
				t.Errorf("span %q attributes %v", s.Name(), attrs)
			}
			run = run || s.Name() == "run script"
			finalize = finalize || s.Name() == "finalize batch"
		}
	}
	if !run || !finalize {
		t.Fatalf("spans recorded: run %v, finalize %v (%d in all)", run, finalize, len(rec.Ended()))
	}
}
