package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestInjectExtract(t *testing.T) {
	if got := Inject(context.Background()); got != "" {
		t.Fatalf("no span: %q", got)
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, _ := trace.ParseTraceState("congo=t61rcWkgMzE")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
	stored := Inject(ctx)
	if stored != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\ncongo=t61rcWkgMzE" {
		t.Fatalf("stored %q", stored)
	}
	back := trace.SpanContextFromContext(Extract(context.Background(), stored))
	if back.TraceID() != tid || back.SpanID() != sid || !back.IsSampled() || back.TraceState().Get("congo") != "t61rcWkgMzE" || !back.IsRemote() {
		t.Fatalf("extracted %+v", back)
	}
	for _, bad := range []string{"", "garbage", "00-xyz-00f067aa0ba902b7-01"} {
		if sc := trace.SpanContextFromContext(Extract(context.Background(), bad)); sc.IsValid() {
			t.Errorf("%q extracted a span context", bad)
		}
	}
}

// With an endpoint, Setup builds an exporting provider (nothing is sent
// until spans end) and shuts it down cleanly.
func TestSetupOn(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	shutdown, err := Setup(context.Background(), "omtx-test", "0")
	if err != nil {
		t.Fatal(err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestSetupOff(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	if Enabled() {
		t.Fatal("enabled without an endpoint")
	}
	shutdown, err := Setup(context.Background(), "omtx-test", "0")
	if err != nil || shutdown(context.Background()) != nil {
		t.Fatalf("setup without an endpoint: %v", err)
	}
}
