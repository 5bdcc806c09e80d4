// Package tracing sets up OpenTelemetry tracing for the binary: spans are
// exported with OTLP over HTTP when the standard OTEL_EXPORTER_OTLP_ENDPOINT
// (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) variable names a collector, so
// that Cloud Trace or any collector receives them; otherwise the global
// tracer stays OpenTelemetry's no-op one and tracing costs nothing.
//
// A request's trace reaches the runner through the job record: the hub
// stores the W3C trace context of the submitting request with the jobs
// (Inject), and the runner continues it when it runs them (Extract).
package tracing

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Name is the instrumentation name of the hub's own spans.
const Name = "omtx"

// propagator carries W3C trace context and baggage.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Enabled reports whether the environment asks for span export.
func Enabled() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs the global propagator and, when Enabled, a tracer
// provider exporting to the configured OTLP endpoint (the exporter reads
// the standard OTEL_EXPORTER_OTLP_* variables: endpoint, headers,
// protocol, insecure). shutdown flushes what is buffered; call it before
// exiting. service names the process ("omtx-web", "omtx-worker").
func Setup(ctx context.Context, service, version string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagator)
	if !Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	// Schemaless: the SDK's default resource carries its own schema URL.
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(service), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(5*time.Second)),
		sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Inject returns the trace context of ctx's span as a W3C traceparent
// (with tracestate when there is one, after a newline), or "" when ctx
// carries no recorded span, for storing with work that another process
// picks up.
func Inject(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	tp := c.Get("traceparent")
	if tp == "" {
		return ""
	}
	if ts := c.Get("tracestate"); ts != "" {
		return tp + "\n" + ts
	}
	return tp
}

// Extract returns ctx carrying the remote span context stored by Inject;
// ctx itself when stored is empty or malformed.
func Extract(ctx context.Context, stored string) context.Context {
	if stored == "" {
		return ctx
	}
	c := propagation.MapCarrier{}
	tp, ts, _ := cutLine(stored)
	c.Set("traceparent", tp)
	if ts != "" {
		c.Set("tracestate", ts)
	}
	return propagator.Extract(ctx, c)
}

func cutLine(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
