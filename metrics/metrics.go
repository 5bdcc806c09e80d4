// Package metrics exports the hub's Prometheus metrics: HTTP request
// durations, the queue as the store counts it at scrape time, lease
// expiries and rescues, engine run times and webhook deliveries. Every
// metric lives in the package's own registry, never the global one, so
// that several hubs (or tests) in one process do not collide.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"omtx/jobs"
)

// StatsTimeout bounds the store's Stats call during a scrape.
const StatsTimeout = 2 * time.Second

// Webhook delivery outcomes.
const (
	WebhookDelivered = "delivered"
	WebhookRetry     = "retry"
	WebhookGaveUp    = "gave_up"
)

// Metrics holds the hub's collectors. A nil *Metrics is valid and records
// nothing, so code under test may pass nil.
type Metrics struct {
	reg *prometheus.Registry

	requests   *prometheus.HistogramVec
	expiries   prometheus.Counter
	rescues    *prometheus.CounterVec
	engine     *prometheus.HistogramVec
	completed  *prometheus.CounterVec
	failed     *prometheus.CounterVec
	deliveries *prometheus.CounterVec
}

// New registers every metric in a fresh registry. stats is called at each
// scrape (with a timeout of StatsTimeout) for the queue gauges; nil leaves
// them out.
func New(stats func(context.Context) (jobs.Stats, error)) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "omtx_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method, route pattern and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route", "status"}),
		expiries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "omtx_lease_expiries_total",
			Help: "Leases that expired and were returned by the rescuer.",
		}),
		rescues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omtx_rescues_total",
			Help: "Expired leases returned by the rescuer, by what became of the job.",
		}, []string{"outcome"}),
		engine: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "omtx_engine_run_seconds",
			Help: "Engine time of finished job attempts, by model and outcome.",
			// 1 s to 2 h.
			Buckets: []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}, []string{"model", "outcome"}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omtx_jobs_completed_total",
			Help: "Job attempts that completed, by model.",
		}, []string{"model"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omtx_jobs_failed_total",
			Help: "Job attempts that failed, by model.",
		}, []string{"model"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omtx_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by outcome: delivered, retry or gave_up.",
		}, []string{"outcome"}),
	}
	for _, o := range []string{"retried", "failed", "cancelled", "finalize"} {
		m.rescues.WithLabelValues(o)
	}
	for _, o := range []string{WebhookDelivered, WebhookRetry, WebhookGaveUp} {
		m.deliveries.WithLabelValues(o)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.expiries, m.rescues, m.engine, m.completed, m.failed, m.deliveries,
	)
	if stats != nil {
		m.reg.MustRegister(newStatsCollector(stats, StatsTimeout))
	}
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveRequest records one HTTP request. route is the router's pattern
// (e.g. /api/v3/batches/:id), never the raw path, so that the number of
// series stays bounded; requests that matched no route pass "" and are
// counted under "unmatched".
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
}

// Rescued records one rescue pass.
func (m *Metrics) Rescued(r jobs.Rescued) {
	if m == nil {
		return
	}
	m.expiries.Add(float64(r.Retried + r.Failed + r.Cancelled + r.Finalize))
	m.rescues.WithLabelValues("retried").Add(float64(r.Retried))
	m.rescues.WithLabelValues("failed").Add(float64(r.Failed))
	m.rescues.WithLabelValues("cancelled").Add(float64(r.Cancelled))
	m.rescues.WithLabelValues("finalize").Add(float64(r.Finalize))
}

// EngineRun records a finished job attempt: its engine time and whether it
// failed.
func (m *Metrics) EngineRun(model string, d time.Duration, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "failed"
		m.failed.WithLabelValues(model).Inc()
	} else {
		m.completed.WithLabelValues(model).Inc()
	}
	m.engine.WithLabelValues(model, outcome).Observe(d.Seconds())
}

// Webhook records one webhook delivery attempt's outcome: WebhookDelivered,
// WebhookRetry or WebhookGaveUp.
func (m *Metrics) Webhook(outcome string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(outcome).Inc()
}
