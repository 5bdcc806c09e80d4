package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"omtx/api"
	"omtx/tracing"
)

// With tracing configured, a submission's server span is named by its
// route, continues the caller's traceparent, and its context is stored
// with the jobs for the runner (gpu's tests follow it from there).
func TestSubmitTrace(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // never reached: the recorder replaces the exporter
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	if _, err := tracing.Setup(context.Background(), "omtx-test", "0"); err != nil {
		t.Fatal(err)
	}
	otel.SetTracerProvider(tp) // Setup installed its own exporting provider
	a := newAPIBench(t)
	srv := httptest.NewServer(withTracing(a.srv.Config.Handler))
	t.Cleanup(srv.Close)

	body, _ := json.Marshal(api.SubmitBatchRequest{JobName: "traced", ModelName: "vina", Target: "ABL1",
		Ligands: []api.Ligand{{Name: "ethanol", SMILES: "CCO"}}})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v3/batches/submit", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit: %d %s", resp.StatusCode, data)
	}
	var sub api.SubmitBatchResponse
	json.Unmarshal(data, &sub)

	var server trace.SpanContext
	for _, s := range rec.Ended() {
		if s.Name() == "POST /api/v3/batches/submit" && s.SpanKind() == trace.SpanKindServer {
			server = s.SpanContext()
			if s.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
				t.Errorf("server span's parent %s/%s is not the caller's", s.Parent().TraceID(), s.Parent().SpanID())
			}
		}
	}
	if !server.IsValid() {
		var names []string
		for _, s := range rec.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("no server span named by the route; spans: %q", names)
	}
	b, err := a.b.store.BatchGet(context.Background(), a.user.ID, sub.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	stored := trace.SpanContextFromContext(tracing.Extract(context.Background(), b.TraceContext))
	if stored.TraceID() != server.TraceID() || stored.SpanID() != server.SpanID() {
		t.Fatalf("stored trace context %q, want the server span %s/%s", b.TraceContext, server.TraceID(), server.SpanID())
	}
}
