package hub

import (
	"context"
	"math"
	"slices"

	"omtx/api"
	"omtx/jobs"
	"omtx/results"
)

// Analytics sizes.
const (
	topN    = 10
	maxBins = 20
)

// bestFirst is the order resolveSort gives a metric by default: best
// first by the metric's direction.
const bestFirst = ""

// Analytics returns a batch's statistics: per metric over its completed
// children (count, min, max, mean, median, population standard deviation
// and the best child by the metric's direction), the ten best children by
// the primary score, and the primary score's histogram.
func (s *Service) Analytics(ctx context.Context, userID, batchID string) (*api.Analytics, error) {
	b, err := s.batch(ctx, userID, batchID)
	if err != nil {
		return nil, err
	}
	t, err := s.tableFor(ctx, b)
	if err != nil {
		return nil, err
	}
	out := &api.Analytics{BatchID: b.ID, Status: string(b.Status), Progress: apiProgress(b.Progress),
		Metrics: make([]api.MetricStats, 0, len(t.metrics)), Top: []api.ResultRow{}, Histogram: []api.HistogramBin{}}
	if b.Progress.Total > 0 {
		out.SuccessRate = float64(b.Progress.Completed) / float64(b.Progress.Total)
	}
	for _, m := range t.metrics {
		out.Metrics = append(out.Metrics, t.stats(m))
	}
	if !t.hasPrimary {
		return out, nil
	}
	out.Affinity = apiMetric(t.primary)
	key, order, _ := t.resolveSort(t.primary.Name, bestFirst)
	for _, i := range t.sorted(key, order) {
		if len(out.Top) == topN || t.rows[i].Affinity == nil {
			break
		}
		out.Top = append(out.Top, t.rows[i])
	}
	out.Histogram = histogram(t.values(t.primary.Name))
	return out, nil
}

// values are the completed rows' values of metric name, in input order.
func (t *table) values(name string) []float64 {
	var vs []float64
	for i := range t.rows {
		r := &t.rows[i]
		if r.Status != string(jobs.StatusCompleted) {
			continue
		}
		if v, ok := r.Metrics[name]; ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// stats computes one metric's statistics over the completed rows.
func (t *table) stats(m results.Metric) api.MetricStats {
	st := api.MetricStats{Metric: apiMetric(m)}
	vs := t.values(m.Name)
	st.Count = len(vs)
	if st.Count == 0 {
		return st
	}
	d := results.Describe(vs)
	st.Min, st.Max, st.Mean, st.Median, st.Std = &d.Min, &d.Max, &d.Mean, &d.Median, &d.Std
	key, order, _ := t.resolveSort(m.Name, bestFirst)
	if o := t.sorted(key, order); len(o) > 0 {
		best := t.rows[o[0]]
		st.Best = &best
	}
	return st
}

// histogram bins values into equal-width bins [Low, High), the last one
// closed so that it holds the maximum: about the square root of the count
// of bins, at most maxBins. All-equal values make one bin.
func histogram(vs []float64) []api.HistogramBin {
	if len(vs) == 0 {
		return []api.HistogramBin{}
	}
	lo, hi := slices.Min(vs), slices.Max(vs)
	if lo == hi {
		return []api.HistogramBin{{Low: lo, High: hi, Count: len(vs)}}
	}
	n := min(max(int(math.Ceil(math.Sqrt(float64(len(vs))))), 1), maxBins)
	width := (hi - lo) / float64(n)
	bins := make([]api.HistogramBin, n)
	for i := range bins {
		bins[i].Low = lo + float64(i)*width
		bins[i].High = lo + float64(i+1)*width
	}
	bins[n-1].High = hi
	for _, v := range vs {
		i := min(int((v-lo)/width), n-1)
		bins[i].Count++
	}
	return bins
}
