package results

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"math"
	"slices"
	"time"

	"omtx/jobs"
)

// TopN is how many children the summary's top list holds.
const TopN = 10

// FinalizeInput is what Finalize needs: the batch, all its children, and
// the model's metrics (the first with Primary set ranks the top list; the
// first metric when none is marked).
type FinalizeInput struct {
	Batch        *jobs.Batch
	Children     []*jobs.Job
	Model        string
	ModelVersion string
	Metrics      []Metric
	Meta         BatchMetadata
}

// ChildResult is one child in aggregated.json.
type ChildResult struct {
	JobID      string             `json:"job_id"`
	Index      int                `json:"index"`
	LigandName string             `json:"ligand_name"`
	Smiles     string             `json:"smiles"`
	Status     jobs.Status        `json:"status"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
	Error      string             `json:"error,omitempty"`
	ReusedFrom string             `json:"reused_from,omitempty"`
	Folder     string             `json:"folder"`
}

// Aggregated is aggregated.json: every child of a batch in input order.
type Aggregated struct {
	BatchID       string        `json:"batch_id"`
	Model         string        `json:"model"`
	ModelVersion  string        `json:"model_version,omitempty"`
	PrimaryMetric string        `json:"primary_metric,omitempty"`
	Metrics       []Metric      `json:"metrics"`
	TotalJobs     int           `json:"total_jobs"`
	Jobs          []ChildResult `json:"jobs"`
}

// Counts counts a batch's children by status.
type Counts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
	Pending   int `json:"pending"`
	Running   int `json:"running"`
}

// StdPopulation names the standard deviation the summary reports: the
// population one (divide by n), as numpy.std does by default.
const StdPopulation = "population"

// MetricStats are one metric's statistics over the completed children
// that reported it. The numbers are null when Count is 0.
type MetricStats struct {
	Metric
	Count  int      `json:"count"`
	Min    *float64 `json:"min"`
	Max    *float64 `json:"max"`
	Mean   *float64 `json:"mean"`
	Median *float64 `json:"median"`
	// Std is the population standard deviation (see StdPopulation).
	Std  *float64 `json:"std"`
	Best *Ranked  `json:"best"`
}

// Ranked is a child in a ranking: the top list or a metric's best.
type Ranked struct {
	Rank       int                `json:"rank"`
	JobID      string             `json:"job_id"`
	Index      int                `json:"index"`
	LigandName string             `json:"ligand_name"`
	Smiles     string             `json:"smiles"`
	Value      float64            `json:"value"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
}

// Summary is summary.json: counts, statistics and top predictions.
type Summary struct {
	BatchID      string      `json:"batch_id"`
	Model        string      `json:"model"`
	ModelVersion string      `json:"model_version,omitempty"`
	Status       jobs.Status `json:"status"`
	Counts       Counts      `json:"counts"`
	// SuccessRate is completed / total, from 0 to 1.
	SuccessRate   float64       `json:"success_rate"`
	PrimaryMetric string        `json:"primary_metric,omitempty"`
	StdKind       string        `json:"std_kind"` // always StdPopulation
	Metrics       []MetricStats `json:"metrics"`
	// Top is up to TopN completed children by the primary metric, best
	// first, ties broken by input index.
	Top        []Ranked  `json:"top"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Finalize writes a batch's aggregates from its children, whatever their
// statuses (a cancelled or failed batch is finalized with what completed):
//
//	batches/{b}/results/aggregated.json, summary.json, job_index.json,
//	batch_metadata.json, batch_results.csv
//	batches/{b}/summary.json, batch_metadata.json, batch_index.json
//	archive/{b}/batch_metadata.json
//
// It reads no clock: the same input gives the same bytes, so a finalize
// that crashed can run again. batch_index.json is written last.
func (s *Store) Finalize(ctx context.Context, in FinalizeInput) (*Summary, error) {
	if in.Batch == nil {
		return nil, jobs.FieldError("batch", "is required")
	}
	b := in.Batch.ID
	if err := validateBatch(b, in.Children); err != nil {
		return nil, err
	}
	ordered := inputOrder(in.Children)
	metrics := in.Metrics
	rows, summaries := childRows(b, ordered)
	if len(metrics) == 0 {
		metrics = deriveMetrics(summaries)
	}
	sum := summarize(in, ordered, rows, metrics)

	agg := Aggregated{
		BatchID:       b,
		Model:         sum.Model,
		ModelVersion:  sum.ModelVersion,
		PrimaryMetric: sum.PrimaryMetric,
		Metrics:       metrics,
		TotalJobs:     len(rows),
	}
	if err := s.write(ctx, batchResultsKey(b, FileAggregated), "application/json", func(w io.Writer) error {
		return writeAggregated(w, agg, rows)
	}); err != nil {
		return nil, err
	}
	if err := s.write(ctx, batchResultsKey(b, FileBatchCSV), "text/csv; charset=utf-8", func(w io.Writer) error {
		return writeCSV(w, metrics, rows)
	}); err != nil {
		return nil, err
	}
	if err := s.PutJSON(ctx, batchResultsKey(b, FileJobIndex), jobIndex(b, rows)); err != nil {
		return nil, err
	}
	for _, key := range []string{batchResultsKey(b, FileSummary), BatchDir(b) + "/" + FileSummary} {
		if err := s.PutJSON(ctx, key, sum); err != nil {
			return nil, err
		}
	}
	meta := in.Meta
	meta.Model, meta.ModelVersion, meta.Status = sum.Model, sum.ModelVersion, sum.Status
	meta.FinishedAt = sum.FinishedAt
	if meta.Metrics == nil {
		meta.Metrics = metrics
	}
	meta = meta.fill(&in.Batch.Job, len(rows))
	for _, key := range []string{
		batchResultsKey(b, FileBatchMetadata),
		archiveKey(b, FileBatchMetadata),
		BatchDir(b) + "/" + FileBatchMetadata,
	} {
		if err := s.PutJSON(ctx, key, meta); err != nil {
			return nil, err
		}
	}
	if err := s.PutJSON(ctx, BatchDir(b)+"/"+FileBatchIndex, batchIndex(&in.Batch.Job, sum.Status, ordered)); err != nil {
		return nil, err
	}
	return sum, nil
}

// inputOrder returns children sorted by index (then ID), leaving the
// caller's slice alone.
func inputOrder(children []*jobs.Job) []*jobs.Job {
	out := slices.Clone(children)
	slices.SortStableFunc(out, func(a, b *jobs.Job) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// childRows reads each child's ligand and, for completed children, its
// JobSummary. Non-finite metric values are dropped (JSON cannot hold them).
func childRows(batchID string, ordered []*jobs.Job) ([]ChildResult, []JobSummary) {
	rows := make([]ChildResult, len(ordered))
	var summaries []JobSummary
	for i, c := range ordered {
		l := ligandOf(c)
		r := ChildResult{
			JobID:      c.ID,
			Index:      c.Index,
			LigandName: l.Name,
			Smiles:     l.Smiles,
			Status:     c.Status,
			Error:      c.Error,
			ReusedFrom: c.ReusedFrom,
			Folder:     JobDir(batchID, c.ID),
		}
		if c.Status == jobs.StatusCompleted && len(c.Result) > 0 {
			var js JobSummary
			if err := json.Unmarshal(c.Result, &js); err != nil {
				if r.Error == "" {
					r.Error = "result summary unreadable"
				}
			} else {
				for k, v := range js.Metrics {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						delete(js.Metrics, k)
					}
				}
				if len(js.Metrics) > 0 {
					r.Metrics = js.Metrics
				}
				summaries = append(summaries, js)
			}
		}
		rows[i] = r
	}
	return rows, summaries
}

// deriveMetrics names the metrics the children reported, sorted, when the
// caller gave none: lower is better, primary as the first summary says.
func deriveMetrics(summaries []JobSummary) []Metric {
	seen := map[string]bool{}
	primary := ""
	for _, js := range summaries {
		if primary == "" {
			primary = js.Primary
		}
		for k := range js.Metrics {
			seen[k] = true
		}
	}
	names := make([]string, 0, len(seen))
	for k := range seen {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]Metric, len(names))
	for i, n := range names {
		out[i] = Metric{Name: n, Label: n, Better: LowerIsBetter, Primary: n == primary}
	}
	return out
}

// primaryMetric is the first metric marked primary, else the first one.
func primaryMetric(metrics []Metric) (Metric, bool) {
	for _, m := range metrics {
		if m.Primary {
			return m, true
		}
	}
	if len(metrics) > 0 {
		return metrics[0], true
	}
	return Metric{}, false
}

func summarize(in FinalizeInput, ordered []*jobs.Job, rows []ChildResult, metrics []Metric) *Summary {
	sum := &Summary{
		BatchID:      in.Batch.ID,
		Model:        cmp.Or(in.Model, in.Batch.Model),
		ModelVersion: cmp.Or(in.ModelVersion, in.Batch.ModelVersion),
		StdKind:      StdPopulation,
		Metrics:      make([]MetricStats, len(metrics)),
		Top:          []Ranked{},
		FinishedAt:   utc(cmp.Or(in.Meta.FinishedAt, in.Batch.FinishedAt)),
	}
	var p jobs.Progress
	last := time.Time{}
	for _, c := range ordered {
		sum.Counts.Total++
		switch c.Status {
		case jobs.StatusCompleted:
			sum.Counts.Completed++
		case jobs.StatusFailed:
			sum.Counts.Failed++
		case jobs.StatusCancelled:
			sum.Counts.Cancelled++
		case jobs.StatusRunning:
			sum.Counts.Running++
		default:
			sum.Counts.Pending++
		}
		if c.FinishedAt.After(last) {
			last = c.FinishedAt
		}
	}
	if sum.FinishedAt.IsZero() {
		sum.FinishedAt = utc(last)
	}
	if sum.Counts.Total > 0 {
		sum.SuccessRate = float64(sum.Counts.Completed) / float64(sum.Counts.Total)
	}
	sum.Status = in.Batch.Status
	if !sum.Status.Final() {
		p.Total, p.Completed, p.Failed, p.Cancelled = sum.Counts.Total, sum.Counts.Completed, sum.Counts.Failed, sum.Counts.Cancelled
		sum.Status = jobs.FinalStatus(p, in.Batch.CancelRequested)
	}
	for i, m := range metrics {
		sum.Metrics[i] = metricStats(m, rows)
	}
	if pm, ok := primaryMetric(metrics); ok {
		sum.PrimaryMetric = pm.Name
		sum.Top = rank(rows, pm, TopN)
	}
	return sum
}

// Description summarizes a non-empty set of values. Std is the population
// standard deviation (see StdPopulation).
type Description struct {
	Min, Max, Mean, Median, Std float64
}

// Describe summarizes vals (at least one), sorting them in place.
func Describe(vals []float64) Description {
	slices.Sort(vals)
	n := float64(len(vals))
	var sum float64
	for _, v := range vals {
		sum += v
	}
	mean := sum / n
	var ss float64
	for _, v := range vals {
		ss += (v - mean) * (v - mean)
	}
	median := vals[len(vals)/2]
	if len(vals)%2 == 0 {
		median = (vals[len(vals)/2-1] + median) / 2
	}
	return Description{Min: vals[0], Max: vals[len(vals)-1], Mean: mean, Median: median, Std: math.Sqrt(ss / n)}
}

// metricStats computes one metric's statistics over completed rows.
func metricStats(m Metric, rows []ChildResult) MetricStats {
	st := MetricStats{Metric: m}
	var vals []float64
	for _, r := range rows {
		if v, ok := value(r, m.Name); ok {
			vals = append(vals, v)
		}
	}
	st.Count = len(vals)
	if st.Count == 0 {
		return st
	}
	d := Describe(vals)
	st.Min, st.Max, st.Mean, st.Median, st.Std = &d.Min, &d.Max, &d.Mean, &d.Median, &d.Std
	if best := rank(rows, m, 1); len(best) == 1 {
		st.Best = &best[0]
	}
	return st
}

// value is a completed row's value of metric name.
func value(r ChildResult, name string) (float64, bool) {
	if r.Status != jobs.StatusCompleted {
		return 0, false
	}
	v, ok := r.Metrics[name]
	return v, ok
}

// rank returns up to n completed rows with metric m, best first by m's
// direction, ties broken by input index. It keeps a sorted list of at most
// n candidates while scanning, so it is linear in len(rows) for small n.
func rank(rows []ChildResult, m Metric, n int) []Ranked {
	type cand struct {
		v   float64
		row int
	}
	before := func(a, b cand) bool {
		switch {
		case m.Less(a.v, b.v):
			return true
		case m.Less(b.v, a.v):
			return false
		}
		return cmp.Or(cmp.Compare(rows[a.row].Index, rows[b.row].Index), cmp.Compare(a.row, b.row)) < 0
	}
	if n <= 0 {
		return nil
	}
	top := make([]cand, 0, n+1)
	for i, r := range rows {
		v, ok := value(r, m.Name)
		if !ok {
			continue
		}
		c := cand{v, i}
		if len(top) == n && !before(c, top[n-1]) {
			continue
		}
		pos := len(top)
		for pos > 0 && before(c, top[pos-1]) {
			pos--
		}
		top = slices.Insert(top, pos, c)
		if len(top) > n {
			top = top[:n]
		}
	}
	out := make([]Ranked, len(top))
	for i, c := range top {
		r := rows[c.row]
		out[i] = Ranked{
			Rank:       i + 1,
			JobID:      r.JobID,
			Index:      r.Index,
			LigandName: r.LigandName,
			Smiles:     r.Smiles,
			Value:      c.v,
			Metrics:    r.Metrics,
		}
	}
	return out
}

// JobIndex is job_index.json: each child by job ID.
type JobIndex struct {
	BatchID string                `json:"batch_id"`
	Jobs    map[string]IndexEntry `json:"jobs"`
}

func jobIndex(batchID string, rows []ChildResult) JobIndex {
	ji := JobIndex{BatchID: batchID, Jobs: make(map[string]IndexEntry, len(rows))}
	for _, r := range rows {
		ji.Jobs[r.JobID] = IndexEntry{
			Index:      r.Index,
			Name:       r.LigandName,
			Status:     r.Status,
			Folder:     r.Folder,
			ReusedFrom: r.ReusedFrom,
		}
	}
	return ji
}

// writeAggregated streams agg with rows as its jobs, one row at a time,
// giving exactly the bytes marshalJSON would give for the whole document.
func writeAggregated(w io.Writer, agg Aggregated, rows []ChildResult) error {
	agg.Jobs = []ChildResult{}
	head, err := marshalJSON(agg)
	if err != nil {
		return err
	}
	head = bytes.TrimSuffix(head, []byte("[]\n}\n"))
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head)
	if len(rows) == 0 {
		bw.WriteString("[]\n}\n")
		return bw.Flush()
	}
	bw.WriteString("[")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("    ", "  ")
	for i := range rows {
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		buf.Reset()
		if err := enc.Encode(&rows[i]); err != nil {
			return err
		}
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	bw.WriteString("\n  ]\n}\n")
	return bw.Flush()
}
