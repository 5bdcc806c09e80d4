package views

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"omtx/api"
)

// Tabs of a batch's results page.
const (
	TabTable     = "table"
	TabTop       = "top"
	TabDashboard = "dashboard"
)

// Tab is a tab of the results page.
type Tab struct {
	Key, Label, URL string
	Current         bool
}

// ParseTab reads the tab query parameter: the table unless it names
// another tab.
func ParseTab(s string) string {
	switch s {
	case TabTop, TabDashboard:
		return s
	}
	return TabTable
}

// Triage classes.
const (
	TriageStrong   = "strong"
	TriageModerate = "moderate"
	TriageWeak     = "weak"
)

// Triage sorts completed ligands into strong, moderate and weak by the
// model's primary score, with fixed thresholds per model, direction-aware:
// for a lower-is-better score a value at or below Strong is strong, for
// a higher-is-better one a value at or above it.
type Triage struct {
	// Model is the model's display name in the rule.
	Model  string
	Metric api.Metric
	// Strong and Moderate are the thresholds, in the metric's unit.
	Strong, Moderate float64
}

// triageRule is a model's triage thresholds for its primary score.
type triageRule struct {
	model, metric, label string
	strong, moderate     float64
}

// triageRules are the thresholds the pages colour by: Vina's binding free
// energy, Boltz-2's log10 IC50 in uM (-1 is 100 nM, 1 is 10 uM), Chai-1's
// aggregate score and RFantibody's interaction pAE (its authors suggest
// below 10).
var triageRules = []triageRule{
	{model: "vina", metric: "affinity", label: "Vina", strong: -9, moderate: -7},
	{model: "boltz2", metric: "affinity_pred_value", label: "Boltz-2", strong: -1, moderate: 1},
	{model: "chai1", metric: "aggregate_score", label: "Chai-1", strong: 0.8, moderate: 0.6},
	{model: "rfantibody", metric: "interaction_pae", label: "RFantibody", strong: 10, moderate: 15},
}

// TriageFor is the triage of a model's primary score; ok is false when
// the model has no rule (the rows are then not coloured).
func TriageFor(model string, primary api.Metric) (Triage, bool) {
	for _, r := range triageRules {
		if r.model == model && r.metric == primary.Name {
			return Triage{Model: r.label, Metric: primary, Strong: r.strong, Moderate: r.moderate}, true
		}
	}
	return Triage{}, false
}

// higher reports whether the score is better higher.
func (t Triage) higher() bool { return t.Metric.Better == "higher" }

// Class is a score's triage class; "" without a score.
func (t Triage) Class(v *float64) string {
	if v == nil || math.IsNaN(*v) {
		return ""
	}
	atLeast := func(x, threshold float64) bool {
		if t.higher() {
			return x >= threshold
		}
		return x <= threshold
	}
	switch {
	case atLeast(*v, t.Strong):
		return TriageStrong
	case atLeast(*v, t.Moderate):
		return TriageModerate
	}
	return TriageWeak
}

// Rule states the rule: "Vina: strong ≤ -9 kcal/mol, moderate ≤ -7
// kcal/mol, weak otherwise (lower is better)."
func (t Triage) Rule() string {
	op := "≤"
	if t.higher() {
		op = "≥"
	}
	unit := ""
	if t.Metric.Unit != "" {
		unit = " " + t.Metric.Unit
	}
	return fmt.Sprintf("%s %s: strong %s %s%s, moderate %s %s%s, weak otherwise (%s).", t.Model, labelOf(t.Metric),
		op, threshold(t.Strong), unit, op, threshold(t.Moderate), unit, Direction(t.Metric))
}

// threshold formats a rule's threshold as written: "-9", "0.8".
func threshold(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// RowClass is the CSS class of a result row: its triage, "" when the
// batch has no rule or the row no score.
func (v ResultsView) RowClass(r api.ResultRow) string {
	t, ok := v.Triage()
	if !ok {
		return ""
	}
	if c := t.Class(r.Affinity); c != "" {
		return "triage-" + c
	}
	return ""
}

// Triage is the batch's triage rule, by its model's primary score.
func (v ResultsView) Triage() (Triage, bool) {
	return TriageFor(v.Batch.ModelName, v.Results.Affinity)
}

// TriageRule states the rule the rows are coloured by; "" when none.
func (v ResultsView) TriageRule() string {
	if t, ok := v.Triage(); ok {
		return "Row colours: " + t.Rule()
	}
	return ""
}

// Tabs are the results page's tabs, the current one marked.
func (v ResultsView) Tabs() []Tab {
	tabs := []Tab{
		{Key: TabTable, Label: "Table"},
		{Key: TabTop, Label: "Top performers"},
		{Key: TabDashboard, Label: "Dashboard"},
	}
	for i := range tabs {
		tabs[i].URL = v.Path() + "?tab=" + tabs[i].Key
		if tabs[i].Key == TabTable {
			tabs[i].URL = v.Path()
		}
		tabs[i].Current = tabs[i].Key == ParseTab(v.Tab)
	}
	return tabs
}

// TabCurrent is a tab's aria-current.
func (t Tab) AriaCurrent() string {
	if t.Current {
		return "page"
	}
	return "false"
}

// KPI is a key figure of the dashboard.
type KPI struct {
	Label, Value, Note, TestID string
}

// MaxScatterPoints bounds the scatter: the best ones by the primary
// score are drawn.
const MaxScatterPoints = 2000

// Dashboard is the dashboard tab's view model: the batch's analytics and
// the completed rows (best first, at most MaxScatterPoints) for the
// scatter.
type Dashboard struct {
	Model     string
	Analytics api.Analytics
	// Rows are completed rows, best first; RowsTotal is how many
	// completed rows there are in all.
	Rows      []api.ResultRow
	RowsTotal int
}

// primaryStats are the primary score's statistics; ok false without.
func (d Dashboard) primaryStats() (api.MetricStats, bool) {
	for _, m := range d.Analytics.Metrics {
		if m.Name == d.Analytics.Affinity.Name && m.Name != "" {
			return m, true
		}
	}
	return api.MetricStats{}, false
}

// withUnit formats a value with the primary score's unit.
func (d Dashboard) withUnit(v *float64) string {
	if v == nil {
		return "–"
	}
	s := FormatValue(*v)
	if u := d.Analytics.Affinity.Unit; u != "" {
		s += " " + u
	}
	return s
}

// KPIs are the dashboard's cards: total, completed, failed, success rate,
// best score (with unit, direction and ligand) and median score.
func (d Dashboard) KPIs() []KPI {
	p := d.Analytics.Progress
	out := []KPI{
		{Label: "Ligands", Value: strconv.Itoa(p.Total), TestID: "kpi-total"},
		{Label: "Completed", Value: strconv.Itoa(p.Completed), TestID: "kpi-completed"},
		{Label: "Failed", Value: strconv.Itoa(p.Failed), TestID: "kpi-failed"},
		{Label: "Success rate", Value: FormatPercent(d.Analytics.SuccessRate * 100), Note: "completed of all ligands", TestID: "kpi-success"},
	}
	st, ok := d.primaryStats()
	if !ok {
		return out
	}
	best := KPI{Label: "Best score", Value: "–", Note: labelOf(st.Metric) + ", " + Direction(st.Metric), TestID: "kpi-best"}
	if st.Best != nil {
		best.Value = d.withUnit(st.Best.Affinity)
		best.Note = st.Best.LigandName + " · " + best.Note
	}
	median := KPI{Label: "Median score", Value: d.withUnit(st.Median),
		Note: labelOf(st.Metric) + " over " + strconv.Itoa(st.Count) + " completed", TestID: "kpi-median"}
	return append(out, best, median)
}

// Chart geometry, in SVG user units.
const (
	chartW      = 640.0
	chartH      = 300.0
	chartLeft   = 64.0
	chartRight  = 16.0
	chartTop    = 16.0
	chartBottom = 56.0
)

// Tick is an axis tick: its position along the axis and its label.
type Tick struct {
	Pos   float64
	Label string
}

// Bar is a histogram bar.
type Bar struct {
	X, Y, W, H float64
	Count      int
	Title      string
}

// Point is a scatter point.
type Point struct {
	X, Y  float64
	Class string
	Title string
}

// Chart is an SVG chart: its size, plot area, axes and marks.
type Chart struct {
	Title, Desc    string
	W, H           float64
	Left, Top      float64
	PlotW, PlotH   float64
	XLabel, YLabel string
	XTicks, YTicks []Tick
	Bars           []Bar
	Points         []Point
	// Note says what the chart leaves out, if anything.
	Note string
}

// Bottom is the plot's lower edge; Right its right edge.
func (c Chart) Bottom() float64 { return c.Top + c.PlotH }
func (c Chart) Right() float64  { return c.Left + c.PlotW }

// newChart is an empty chart of the standard size.
func newChart() Chart {
	return Chart{W: chartW, H: chartH, Left: chartLeft, Top: chartTop,
		PlotW: chartW - chartLeft - chartRight, PlotH: chartH - chartTop - chartBottom}
}

// Scale maps a domain linearly onto a range.
type Scale struct {
	D0, D1, R0, R1 float64
}

// At is v's position.
func (s Scale) At(v float64) float64 {
	if s.D1 == s.D0 {
		return (s.R0 + s.R1) / 2
	}
	return s.R0 + (v-s.D0)/(s.D1-s.D0)*(s.R1-s.R0)
}

// NiceTicks are about n round tick values covering [lo, hi]: steps of 1,
// 2 or 5 times a power of ten. It returns the widened domain too.
func NiceTicks(lo, hi float64, n int) (ticks []float64, dlo, dhi float64) {
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi == lo {
		pad := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-pad, hi+pad
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	dlo, dhi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	for v := dlo; v <= dhi+step/2; v += step {
		ticks = append(ticks, math.Round(v/step)*step)
	}
	return ticks, dlo, dhi
}

// tickLabel formats a tick with as many decimals as its step needs.
func tickLabel(v float64, ticks []float64) string {
	step := 1.0
	if len(ticks) > 1 {
		step = ticks[1] - ticks[0]
	}
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// axisLabel is a metric's axis label: "Best affinity (kcal/mol, lower is
// better)".
func axisLabel(m api.Metric) string { return MetricHeader(m) }

// Histogram draws the hub's histogram of the primary score: one bar per
// bin, its width the bin's range, its height the count.
func (d Dashboard) Histogram() Chart {
	c := newChart()
	a := d.Analytics
	m := a.Affinity
	c.Title = "Distribution of " + labelOf(m)
	c.XLabel, c.YLabel = axisLabel(m), "Ligands"
	bins := a.Histogram
	if len(bins) == 0 {
		c.Desc = "No completed ligands yet."
		return c
	}
	lo, hi := bins[0].Low, bins[len(bins)-1].High
	xt, dlo, dhi := NiceTicks(lo, hi, 6)
	x := Scale{D0: dlo, D1: dhi, R0: c.Left, R1: c.Right()}
	top := 0
	total := 0
	for _, b := range bins {
		top = max(top, b.Count)
		total += b.Count
	}
	yt, _, ymax := NiceTicks(0, float64(top), 4)
	y := Scale{D0: 0, D1: ymax, R0: c.Bottom(), R1: c.Top}
	for _, v := range xt {
		c.XTicks = append(c.XTicks, Tick{Pos: x.At(v), Label: tickLabel(v, xt)})
	}
	for _, v := range yt {
		if v == math.Trunc(v) {
			c.YTicks = append(c.YTicks, Tick{Pos: y.At(v), Label: strconv.Itoa(int(v))})
		}
	}
	unit := ""
	if m.Unit != "" {
		unit = " " + m.Unit
	}
	for _, b := range bins {
		x0, x1 := x.At(b.Low), x.At(b.High)
		if b.High == b.Low { // one bin of equal values: a narrow bar
			x0, x1 = x.At(b.Low)-4, x.At(b.Low)+4
		}
		h := y.At(0) - y.At(float64(b.Count))
		c.Bars = append(c.Bars, Bar{X: x0 + 0.5, W: math.Max(x1-x0-1, 1), Y: y.At(float64(b.Count)), H: h, Count: b.Count,
			Title: fmt.Sprintf("%s to %s%s: %d %s", FormatValue(b.Low), FormatValue(b.High), unit, b.Count, plural(b.Count, "ligand"))})
	}
	c.Desc = fmt.Sprintf("Histogram of %s over %d completed %s, from %s to %s%s, in %d bins; %s.",
		labelOf(m), total, plural(total, "ligand"), FormatValue(lo), FormatValue(hi), unit, len(bins), Direction(m))
	return c
}

// plural is "ligand" or "ligands".
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// scatterPreference lists, per model, the metrics the primary score is
// plotted against, best choice first: for Vina ligand efficiency, else
// heavy atoms; for the others a confidence metric.
var scatterPreference = map[string][]string{
	"vina":       {"ligand_efficiency", "heavy_atoms"},
	"boltz2":     {"confidence_score", "iptm", "affinity_probability_binary"},
	"chai1":      {"iptm", "ptm"},
	"rfantibody": {"pred_lddt", "pae"},
}

// ScatterMetric is the metric the scatter plots the primary score
// against: the model's preferred one that the rows have, else the first
// other metric they have; ok false when there is none.
func (d Dashboard) ScatterMetric() (api.Metric, bool) {
	has := func(name string) bool {
		for _, r := range d.Rows {
			if _, ok := r.Metrics[name]; ok && r.Affinity != nil {
				return true
			}
		}
		return false
	}
	byName := map[string]api.Metric{}
	for _, st := range d.Analytics.Metrics {
		byName[st.Name] = st.Metric
	}
	for _, name := range scatterPreference[d.Model] {
		if m, ok := byName[name]; ok && has(name) {
			return m, true
		}
	}
	for _, st := range d.Analytics.Metrics {
		if st.Name != d.Analytics.Affinity.Name && has(st.Name) {
			return st.Metric, true
		}
	}
	return api.Metric{}, false
}

// Scatter plots each completed ligand's primary score (y) against the
// scatter metric (x), each point coloured by its triage.
func (d Dashboard) Scatter() Chart {
	c := newChart()
	m := d.Analytics.Affinity
	xm, ok := d.ScatterMetric()
	c.Title = labelOf(m) + " against " + labelOf(xm)
	if !ok {
		c.Title = labelOf(m) + " against another metric"
		c.Desc = "No completed ligands with a second metric yet."
		return c
	}
	c.XLabel, c.YLabel = axisLabel(xm), axisLabel(m)
	type xy struct {
		x, y float64
		r    api.ResultRow
	}
	var pts []xy
	for _, r := range d.Rows {
		v, ok := r.Metrics[xm.Name]
		if !ok || r.Affinity == nil || math.IsNaN(v) || math.IsInf(v, 0) || math.IsNaN(*r.Affinity) || math.IsInf(*r.Affinity, 0) {
			continue
		}
		pts = append(pts, xy{v, *r.Affinity, r})
	}
	if len(pts) == 0 {
		c.Desc = "No completed ligands with both values yet."
		return c
	}
	xs := make([]float64, len(pts))
	ys := make([]float64, len(pts))
	for i, p := range pts {
		xs[i], ys[i] = p.x, p.y
	}
	xt, xlo, xhi := NiceTicks(slices.Min(xs), slices.Max(xs), 6)
	yt, ylo, yhi := NiceTicks(slices.Min(ys), slices.Max(ys), 5)
	x := Scale{D0: xlo, D1: xhi, R0: c.Left, R1: c.Right()}
	y := Scale{D0: ylo, D1: yhi, R0: c.Bottom(), R1: c.Top}
	for _, v := range xt {
		c.XTicks = append(c.XTicks, Tick{Pos: x.At(v), Label: tickLabel(v, xt)})
	}
	for _, v := range yt {
		c.YTicks = append(c.YTicks, Tick{Pos: y.At(v), Label: tickLabel(v, yt)})
	}
	tr, triaged := TriageFor(d.Model, m)
	for _, p := range pts {
		pt := Point{X: x.At(p.x), Y: y.At(p.y),
			Title: fmt.Sprintf("%s: %s %s, %s %s", p.r.LigandName, labelOf(m), FormatValue(p.y), labelOf(xm), FormatValue(p.x))}
		if triaged {
			pt.Class = "triage-" + tr.Class(p.r.Affinity)
		}
		c.Points = append(c.Points, pt)
	}
	c.Desc = fmt.Sprintf("Scatter of %s (%s) against %s for %d completed %s.", labelOf(m), Direction(m), labelOf(xm), len(pts), plural(len(pts), "ligand"))
	if d.RowsTotal > len(d.Rows) {
		c.Note = fmt.Sprintf("The best %d of %d completed ligands are drawn.", len(d.Rows), d.RowsTotal)
	}
	return c
}

// Num formats a coordinate for an SVG attribute.
func Num(v float64) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}
