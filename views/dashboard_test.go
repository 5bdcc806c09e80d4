package views

import (
	"math"
	"slices"
	"strings"
	"testing"

	"omtx/api"
)

var (
	vinaAffinity = api.Metric{Name: "affinity", Label: "Best affinity", Unit: "kcal/mol", Better: "lower", Primary: true}
	vinaLE       = api.Metric{Name: "ligand_efficiency", Label: "Ligand efficiency", Unit: "kcal/mol per heavy atom", Better: "higher"}
	vinaHeavy    = api.Metric{Name: "heavy_atoms", Label: "Heavy atoms", Better: "lower"}
	chaiScore    = api.Metric{Name: "aggregate_score", Label: "Aggregate score", Unit: "score", Better: "higher", Primary: true}
)

func f(v float64) *float64 { return &v }

func TestTriageVina(t *testing.T) {
	tr, ok := TriageFor("vina", vinaAffinity)
	if !ok {
		t.Fatal("vina has a rule")
	}
	for _, c := range []struct {
		v    *float64
		want string
	}{
		{f(-10.2), TriageStrong}, {f(-9), TriageStrong}, {f(-8.99), TriageModerate}, {f(-7), TriageModerate},
		{f(-6.9), TriageWeak}, {f(1.5), TriageWeak}, {nil, ""}, {f(math.NaN()), ""},
	} {
		if got := tr.Class(c.v); got != c.want {
			t.Errorf("%v: %q, want %q", c.v, got, c.want)
		}
	}
	if got := tr.Rule(); got != "Vina Best affinity: strong ≤ -9 kcal/mol, moderate ≤ -7 kcal/mol, weak otherwise (lower is better)." {
		t.Errorf("rule %q", got)
	}
	if _, ok := TriageFor("vina", vinaLE); ok {
		t.Error("a rule for another metric than the rule's")
	}
	if _, ok := TriageFor("unknown", vinaAffinity); ok {
		t.Error("a rule for a model without one")
	}
}

// TestTriageHigherIsBetter: for a higher-is-better score the thresholds
// are lower bounds.
func TestTriageHigherIsBetter(t *testing.T) {
	tr, ok := TriageFor("chai1", chaiScore)
	if !ok {
		t.Fatal("chai1 has a rule")
	}
	for v, want := range map[float64]string{0.95: TriageStrong, 0.8: TriageStrong, 0.79: TriageModerate, 0.6: TriageModerate, 0.3: TriageWeak, -50: TriageWeak} {
		if got := tr.Class(f(v)); got != want {
			t.Errorf("%v: %q, want %q", v, got, want)
		}
	}
	if got := tr.Rule(); !strings.Contains(got, "strong ≥ 0.8 score, moderate ≥ 0.6 score") || !strings.Contains(got, "higher is better") {
		t.Errorf("rule %q", got)
	}
	v := ResultsView{Batch: api.Batch{ModelName: "chai1"}, Results: api.ResultsPage{Affinity: chaiScore}}
	if got := v.RowClass(api.ResultRow{Affinity: f(0.9)}); got != "triage-strong" {
		t.Errorf("row class %q", got)
	}
	if got := v.RowClass(api.ResultRow{}); got != "" {
		t.Errorf("pending row class %q", got)
	}
	if !strings.HasPrefix(v.TriageRule(), "Row colours: Chai-1") {
		t.Errorf("triage rule %q", v.TriageRule())
	}
}

func TestNiceTicksAndScale(t *testing.T) {
	ticks, lo, hi := NiceTicks(-10.3, -5.2, 5)
	if lo != -12 || hi != -4 || !slices.Equal(ticks, []float64{-12, -10, -8, -6, -4}) {
		t.Errorf("ticks %v [%v, %v]", ticks, lo, hi)
	}
	ticks, lo, hi = NiceTicks(-10.3, -5.2, 10)
	if lo != -11 || hi != -5 || len(ticks) != 7 {
		t.Errorf("finer ticks %v [%v, %v]", ticks, lo, hi)
	}
	ticks, lo, hi = NiceTicks(0, 7, 4)
	if lo != 0 || hi != 8 || !slices.Equal(ticks, []float64{0, 2, 4, 6, 8}) {
		t.Errorf("count ticks %v [%v, %v]", ticks, lo, hi)
	}
	// Equal values get a domain around them.
	if _, lo, hi := NiceTicks(-7, -7, 5); !(lo < -7 && hi > -7) {
		t.Errorf("equal values: [%v, %v]", lo, hi)
	}
	if got := []string{tickLabel(-10, []float64{-12, -10}), tickLabel(0.30000000000000004, []float64{0.2, 0.3}), tickLabel(-0.0, []float64{-0.5, 0})}; !slices.Equal(got, []string{"-10", "0.3", "0.0"}) {
		t.Errorf("tick labels %q", got)
	}
	s := Scale{D0: -11, D1: -5, R0: 64, R1: 624}
	if s.At(-11) != 64 || s.At(-5) != 624 || s.At(-8) != 344 {
		t.Errorf("scale %v %v %v", s.At(-11), s.At(-5), s.At(-8))
	}
	// A y scale runs upwards: larger values nearer the top.
	y := Scale{D0: 0, D1: 8, R0: 244, R1: 16}
	if y.At(0) != 244 || y.At(8) != 16 || y.At(4) != 130 {
		t.Errorf("y scale %v %v %v", y.At(0), y.At(8), y.At(4))
	}
}

func vinaDashboard() Dashboard {
	best := api.ResultRow{LigandName: "imatinib", Affinity: f(-10.2)}
	return Dashboard{
		Model: "vina",
		Analytics: api.Analytics{
			Progress:    api.Progress{Total: 10, Completed: 7, Failed: 2, Pending: 1},
			SuccessRate: 0.7,
			Affinity:    vinaAffinity,
			Metrics: []api.MetricStats{
				{Metric: vinaAffinity, Count: 7, Median: f(-8.1), Best: &best},
				{Metric: vinaLE, Count: 7},
				{Metric: vinaHeavy, Count: 7},
			},
			Histogram: []api.HistogramBin{{Low: -10.2, High: -8.5, Count: 2}, {Low: -8.5, High: -6.8, Count: 4}, {Low: -6.8, High: -5.1, Count: 1}},
		},
		Rows: []api.ResultRow{
			{LigandName: "imatinib", Affinity: f(-10.2), Metrics: map[string]float64{"affinity": -10.2, "ligand_efficiency": 0.28, "heavy_atoms": 37}},
			{LigandName: "aspirin", Affinity: f(-6), Metrics: map[string]float64{"affinity": -6, "ligand_efficiency": 0.46, "heavy_atoms": 13}},
			{LigandName: "pending"},
		},
		RowsTotal: 7,
	}
}

func TestDashboardKPIs(t *testing.T) {
	got := map[string]string{}
	for _, k := range vinaDashboard().KPIs() {
		got[k.TestID] = k.Value + " | " + k.Note
	}
	want := map[string]string{
		"kpi-total": "10 | ", "kpi-completed": "7 | ", "kpi-failed": "2 | ", "kpi-success": "70% | completed of all ligands",
		"kpi-best": "-10.2 kcal/mol | imatinib · Best affinity, lower is better", "kpi-median": "-8.1 kcal/mol | Best affinity over 7 completed",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
}

// TestHistogramBars: one bar per hub bin, its edges on the x scale and
// its height proportional to its count.
func TestHistogramBars(t *testing.T) {
	c := vinaDashboard().Histogram()
	if len(c.Bars) != 3 {
		t.Fatalf("%d bars", len(c.Bars))
	}
	unit := c.Bars[1].H / 4
	for i, want := range []int{2, 4, 1} {
		b := c.Bars[i]
		if b.Count != want || math.Abs(b.H-unit*float64(want)) > 1e-9 || math.Abs(b.Y+b.H-c.Bottom()) > 1e-9 {
			t.Errorf("bar %d: %+v", i, b)
		}
	}
	// Adjacent bins touch (less a pixel's gap) and run left to right.
	if c.Bars[0].X >= c.Bars[1].X || math.Abs(c.Bars[0].X+c.Bars[0].W+1-c.Bars[1].X) > 1e-9 {
		t.Errorf("bars %+v %+v", c.Bars[0], c.Bars[1])
	}
	if c.Bars[0].X < c.Left || c.Bars[2].X+c.Bars[2].W > c.Right() {
		t.Error("bars outside the plot")
	}
	if c.XLabel != "Best affinity (kcal/mol, lower is better)" || c.YLabel != "Ligands" {
		t.Errorf("labels %q %q", c.XLabel, c.YLabel)
	}
	if c.Bars[1].Title != "-8.5 to -6.8 kcal/mol: 4 ligands" || !strings.Contains(c.Desc, "7 completed ligands") {
		t.Errorf("title %q desc %q", c.Bars[1].Title, c.Desc)
	}
	if empty := (Dashboard{}).Histogram(); len(empty.Bars) != 0 || empty.Desc == "" {
		t.Error("empty histogram")
	}
}

// TestScatter: Vina plots affinity against ligand efficiency (heavy
// atoms when rows lack it), points inside the plot, scaled, coloured by
// triage; rows without both values are left out.
func TestScatter(t *testing.T) {
	d := vinaDashboard()
	if m, _ := d.ScatterMetric(); m.Name != "ligand_efficiency" {
		t.Errorf("x metric %q", m.Name)
	}
	c := d.Scatter()
	if len(c.Points) != 2 {
		t.Fatalf("%d points", len(c.Points))
	}
	imatinib, aspirin := c.Points[0], c.Points[1]
	// Higher LE to the right; lower (better) affinity lower down.
	if !(aspirin.X > imatinib.X && imatinib.Y > aspirin.Y) {
		t.Errorf("points %+v %+v", imatinib, aspirin)
	}
	for _, p := range c.Points {
		if p.X < c.Left || p.X > c.Right() || p.Y < c.Top || p.Y > c.Bottom() {
			t.Errorf("point outside the plot: %+v", p)
		}
	}
	if imatinib.Class != "triage-strong" || aspirin.Class != "triage-weak" {
		t.Errorf("classes %q %q", imatinib.Class, aspirin.Class)
	}
	if c.XLabel != "Ligand efficiency (kcal/mol per heavy atom, higher is better)" || c.YLabel != "Best affinity (kcal/mol, lower is better)" {
		t.Errorf("labels %q %q", c.XLabel, c.YLabel)
	}
	if c.Note != "The best 3 of 7 completed ligands are drawn." {
		t.Errorf("note %q", c.Note)
	}
	for i := range d.Rows {
		delete(d.Rows[i].Metrics, "ligand_efficiency")
	}
	if m, _ := d.ScatterMetric(); m.Name != "heavy_atoms" {
		t.Errorf("fallback x metric %q", m.Name)
	}
	boltz := Dashboard{Model: "boltz2", Analytics: api.Analytics{
		Affinity: api.Metric{Name: "affinity_pred_value", Primary: true},
		Metrics:  []api.MetricStats{{Metric: api.Metric{Name: "affinity_probability_binary"}}, {Metric: api.Metric{Name: "confidence_score", Label: "Confidence"}}},
	}, Rows: []api.ResultRow{{Affinity: f(-1), Metrics: map[string]float64{"affinity_probability_binary": 0.9, "confidence_score": 0.8}}}}
	if m, _ := boltz.ScatterMetric(); m.Name != "confidence_score" {
		t.Errorf("boltz2 x metric %q", m.Name)
	}
}

// TestDashboardTab: the rendered tab by data-testid: KPI cards, the rule,
// and two accessible SVG charts with labelled axes.
func TestDashboardTab(t *testing.T) {
	d := vinaDashboard()
	v := ResultsView{Batch: api.Batch{BatchID: "b1", JobName: "screen", ModelName: "vina"}, Results: api.ResultsPage{Affinity: vinaAffinity},
		Tab: TabDashboard, Dashboard: &d}
	doc := renderDoc(t, ResultsPageView(Shell{}, v))
	if doc.Find(`[data-testid="dashboard"]`).Length() != 1 || doc.Find(`[data-testid="results"]`).Length() != 0 {
		t.Fatal("the dashboard tab")
	}
	if got := doc.Find(`[data-testid="tab-dashboard"]`).AttrOr("aria-current", ""); got != "page" {
		t.Errorf("tab aria-current %q", got)
	}
	if href := doc.Find(`[data-testid="tab-top"]`).AttrOr("href", ""); href != "/batch-results/b1?tab=top" {
		t.Errorf("top tab %q", href)
	}
	if got := doc.Find(`[data-testid="kpi-best"] [data-testid="kpi-value"]`).Text(); got != "-10.2 kcal/mol" {
		t.Errorf("best %q", got)
	}
	if got := doc.Find(`[data-testid="triage-rule"]`).Text(); !strings.Contains(got, "strong ≤ -9 kcal/mol") {
		t.Errorf("rule %q", got)
	}
	hist := doc.Find(`[data-testid="chart-histogram"] svg`)
	if hist.AttrOr("role", "") != "img" || hist.Find("title#histogram-title").Length() != 1 || hist.Find("desc#histogram-desc").Length() != 1 {
		t.Error("histogram is not an accessible image")
	}
	if hist.Find(`[data-testid="hist-bar"]`).Length() != 3 || hist.Find(`[data-testid="x-label"]`).Text() != "Best affinity (kcal/mol, lower is better)" {
		t.Error("histogram bars or axis label")
	}
	sc := doc.Find(`[data-testid="chart-scatter"] svg`)
	if sc.Find(`[data-testid="scatter-point"]`).Length() != 2 || !strings.Contains(sc.Find(`[data-testid="x-label"]`).Text(), "Ligand efficiency") {
		t.Error("scatter points or axis label")
	}
	if sc.Find(`circle.triage-strong`).Length() != 1 {
		t.Error("scatter triage colours")
	}
	// No inline styles: the pages' CSP allows none.
	if doc.Find("[style]").Length() != 0 {
		t.Error("inline style attributes")
	}
}

// TestLiveFragments: the live channel's URL and its out-of-band
// fragments, by id, with the page's components.
func TestLiveFragments(t *testing.T) {
	if got := (Live{On: true, Seq: 42, BatchID: "b 1"}).URL(); got != "/ws?batch=b+1&since=42" {
		t.Errorf("url %q", got)
	}
	if doc := renderDoc(t, LiveConnect(Live{})); doc.Find(`[data-testid="live"]`).Length() != 0 {
		t.Error("no channel, no socket")
	}
	b := api.Batch{BatchID: "b1", JobName: "screen", ModelName: "vina", Status: "running", Progress: api.Progress{Total: 3, Completed: 1, Percent: 100.0 / 3}}
	rv := ResultsView{Batch: b, Results: api.ResultsPage{Affinity: vinaAffinity, Metrics: []api.Metric{vinaAffinity},
		Rows: []api.ResultRow{{JobID: "j1", Status: "completed", Affinity: f(-7.5)}}}}
	doc := renderDoc(t, LiveChanges(LiveMessage{LastSeq: 9, Batches: []LiveBatch{{Batch: b, Results: &rv}}}))
	if got := doc.Find("#live-status").AttrOr("data-live-seq", ""); got != "9" {
		t.Errorf("seq %q", got)
	}
	if got := doc.Find(`#batch-b1-progress[hx-swap-oob="true"] [data-testid="batch-progress-text"]`).Text(); got != "1 of 3 done (33.3%)" {
		t.Errorf("progress %q", got)
	}
	if doc.Find("#batch-b1-actions").Length() != 0 {
		t.Error("actions on a results page")
	}
	reload := renderDoc(t, LiveReload())
	if reload.Find(`#live-status[hx-swap-oob="true"] a[data-testid="live-reload"]`).Length() != 1 || reload.Find("#live-status").AttrOr("data-live-seq", "x") != "x" {
		t.Error("reload notice")
	}
	if hello := renderDoc(t, LiveHello(5)); hello.Find(`#live-status[data-state="live"]`).AttrOr("data-live-seq", "") != "5" {
		t.Error("hello")
	}
}
