package metrics

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"omtx/jobs"
)

// statsCollector reads the store's counts at scrape time. A failing or
// slow store does not fail the scrape: omtx_stats_up says 0 and the
// queue gauges are left out.
type statsCollector struct {
	stats   func(context.Context) (jobs.Stats, error)
	timeout time.Duration

	up, jobs, queued, queuedModel, delayed, active, paused, finalizing *prometheus.Desc
}

func newStatsCollector(stats func(context.Context) (jobs.Stats, error), timeout time.Duration) *statsCollector {
	return &statsCollector{
		stats:   stats,
		timeout: timeout,
		up:      prometheus.NewDesc("omtx_stats_up", "Whether the store answered the scrape's count (1) or not (0).", nil, nil),
		jobs:    prometheus.NewDesc("omtx_jobs", "Jobs (individual and batch children) by model and status.", []string{"model", "status"}, nil),
		queued:  prometheus.NewDesc("omtx_queue_depth", "Pending jobs that may be leased now.", nil, nil),
		queuedModel: prometheus.NewDesc("omtx_queue_model_depth",
			"Pending jobs of a model that may be leased now (0 for a model with jobs but none queued): what its runners scale on.",
			[]string{"model"}, nil),
		delayed:    prometheus.NewDesc("omtx_queue_delayed", "Pending jobs waiting for a retry backoff.", nil, nil),
		active:     prometheus.NewDesc("omtx_batches_active", "Batches pending or running.", nil, nil),
		paused:     prometheus.NewDesc("omtx_batches_paused", "Active batches that are paused.", nil, nil),
		finalizing: prometheus.NewDesc("omtx_batches_finalizing", "Batches whose finalize task is pending or leased.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.jobs, c.queued, c.queuedModel, c.delayed, c.active, c.paused, c.finalizing} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	// One series per (model, status); a store that repeats a pair is summed
	// rather than failing the scrape with a duplicate.
	type key struct{ model, status string }
	counts := map[key]int{}
	var order []key
	for _, n := range s.Jobs {
		k := key{n.Model, string(n.Status)}
		if _, ok := counts[k]; !ok {
			order = append(order, k)
		}
		counts[k] += n.N
	}
	for _, k := range order {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(counts[k]), k.model, k.status)
	}
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(s.Queued))
	// Every model with jobs gets a series, 0 when none is queued, so that a
	// scaler sees the queue empty rather than the series gone.
	models := map[string]bool{}
	for _, k := range order {
		models[k.model] = true
	}
	for m := range s.QueuedByModel {
		models[m] = true
	}
	for _, m := range slices.Sorted(maps.Keys(models)) {
		ch <- prometheus.MustNewConstMetric(c.queuedModel, prometheus.GaugeValue, float64(s.QueuedByModel[m]), m)
	}
	ch <- prometheus.MustNewConstMetric(c.delayed, prometheus.GaugeValue, float64(s.Delayed))
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(s.ActiveBatches))
	ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, float64(s.PausedBatches))
	ch <- prometheus.MustNewConstMetric(c.finalizing, prometheus.GaugeValue, float64(s.Finalizing))
}
