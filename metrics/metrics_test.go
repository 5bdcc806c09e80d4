package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"omtx/jobs"
	"omtx/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	return string(body)
}

func contains(t *testing.T, exposition string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(exposition, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("missing line %q", l)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", exposition)
	}
}

func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	m := metrics.New(nil)
	m.ObserveRequest("GET", "/api/v3/batches/:id", 200, 30*time.Millisecond)
	m.ObserveRequest("GET", "/api/v3/batches/:id", 200, 70*time.Millisecond)
	m.ObserveRequest("POST", "/api/v3/batches/submit", 422, time.Second)
	m.ObserveRequest("GET", "", 404, time.Millisecond)
	m.Rescued(jobs.Rescued{Retried: 3, Failed: 1, Cancelled: 1})
	m.Rescued(jobs.Rescued{Finalize: 2})
	m.EngineRun("vina", 90*time.Second, nil)
	m.EngineRun("vina", 3*time.Second, errors.New("exited with status 1"))
	m.EngineRun("boltz2", 40*time.Minute, nil)
	m.Webhook(metrics.WebhookRetry)
	m.Webhook(metrics.WebhookDelivered)

	out := scrape(t, m)
	contains(t, out,
		`omtx_http_request_duration_seconds_count{method="GET",route="/api/v3/batches/:id",status="200"} 2`,
		`omtx_http_request_duration_seconds_sum{method="GET",route="/api/v3/batches/:id",status="200"} 0.1`,
		`omtx_http_request_duration_seconds_count{method="POST",route="/api/v3/batches/submit",status="422"} 1`,
		`omtx_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1`,
		`omtx_lease_expiries_total 7`,
		`omtx_rescues_total{outcome="retried"} 3`,
		`omtx_rescues_total{outcome="failed"} 1`,
		`omtx_rescues_total{outcome="cancelled"} 1`,
		`omtx_rescues_total{outcome="finalize"} 2`,
		`omtx_engine_run_seconds_count{model="vina",outcome="ok"} 1`,
		`omtx_engine_run_seconds_bucket{model="vina",outcome="ok",le="60"} 0`,
		`omtx_engine_run_seconds_bucket{model="vina",outcome="ok",le="120"} 1`,
		`omtx_engine_run_seconds_count{model="vina",outcome="failed"} 1`,
		`omtx_engine_run_seconds_bucket{model="boltz2",outcome="ok",le="7200"} 1`,
		`omtx_engine_run_seconds_bucket{model="boltz2",outcome="ok",le="1800"} 0`,
		`omtx_jobs_completed_total{model="vina"} 1`,
		`omtx_jobs_completed_total{model="boltz2"} 1`,
		`omtx_jobs_failed_total{model="vina"} 1`,
		`omtx_webhook_deliveries_total{outcome="delivered"} 1`,
		`omtx_webhook_deliveries_total{outcome="retry"} 1`,
		`omtx_webhook_deliveries_total{outcome="gave_up"} 0`,
	)
	for _, want := range []string{"go_goroutines ", "process_start_time_seconds "} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s metric", strings.TrimSpace(want))
		}
	}
	if strings.Contains(out, "omtx_stats_up") {
		t.Error("stats exported without a stats function")
	}
}

func TestStatsCollector(t *testing.T) {
	t.Parallel()
	calls := 0
	m := metrics.New(func(ctx context.Context) (jobs.Stats, error) {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("stats called without a deadline")
		}
		return jobs.Stats{
			Jobs: []jobs.StatsCount{
				{Model: "vina", Status: jobs.StatusPending, N: 120},
				{Model: "vina", Status: jobs.StatusRunning, N: 4},
				{Model: "boltz2", Status: jobs.StatusCompleted, N: 9},
			},
			Queued: 100, QueuedByModel: map[string]int{"vina": 100}, Delayed: 20, ActiveBatches: 3, PausedBatches: 1, Finalizing: 2,
		}, nil
	})
	contains(t, scrape(t, m),
		`omtx_stats_up 1`,
		`omtx_jobs{model="vina",status="pending"} 120`,
		`omtx_jobs{model="vina",status="running"} 4`,
		`omtx_jobs{model="boltz2",status="completed"} 9`,
		`omtx_queue_depth 100`,
		`omtx_queue_model_depth{model="vina"} 100`,
		`omtx_queue_model_depth{model="boltz2"} 0`,
		`omtx_queue_delayed 20`,
		`omtx_batches_active 3`,
		`omtx_batches_paused 1`,
		`omtx_batches_finalizing 2`,
	)
	if calls != 1 {
		t.Errorf("stats called %d times for one scrape", calls)
	}
}

func TestStatsCollectorStoreDown(t *testing.T) {
	t.Parallel()
	m := metrics.New(func(context.Context) (jobs.Stats, error) {
		return jobs.Stats{}, errors.New("stats: not implemented")
	})
	m.EngineRun("vina", time.Second, nil)
	out := scrape(t, m)
	contains(t, out, `omtx_stats_up 0`, `omtx_jobs_completed_total{model="vina"} 1`)
	for _, gone := range []string{"omtx_queue_depth ", "omtx_queue_model_depth", "omtx_jobs{"} {
		if strings.Contains(out, gone) {
			t.Errorf("%s exported while the store is down", gone)
		}
	}
}

func TestNilMetrics(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.ObserveRequest("GET", "/", 200, time.Millisecond)
	m.Rescued(jobs.Rescued{Retried: 1})
	m.EngineRun("vina", time.Second, nil)
	m.Webhook(metrics.WebhookDelivered)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("nil handler: %d", rec.Code)
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := metrics.New(nil), metrics.New(nil)
	a.Webhook(metrics.WebhookGaveUp)
	contains(t, scrape(t, b), `omtx_webhook_deliveries_total{outcome="gave_up"} 0`)
}
