package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// TestBatchResultsDashboard: the dashboard tab over the real hub: KPI
// cards from the batch's analytics, the histogram and the scatter of
// affinity against ligand efficiency as inline SVG, the triage rule; the
// table tab colours its rows by the same rule; bob's request is the 404
// page.
func TestBatchResultsDashboard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.submit(alice, dockingBatch("kinase screen", imatinib, aspirin, caffeine, ibuprofen, paracetamol))
	e.runAll(id)
	a, b := e.browser(alice), e.browser(bob)
	path := "/batch-results/" + id

	doc := html(t, e.get(&a, path+"?tab=dashboard", false), http.StatusOK)
	if doc.Find(testid("dashboard")).Length() != 1 || doc.Find(testid("results")).Length() != 0 {
		t.Fatal("the dashboard tab shows the table")
	}
	kpi := func(id string) string { return doc.Find(testid(id) + " " + testid("kpi-value")).Text() }
	// runAll's affinities: -7.1 - 0.4*(n%5) for the nth lease (the parent's
	// finalize comes last): the best is -8.7.
	if kpi("kpi-total") != "5" || kpi("kpi-completed") != "5" || kpi("kpi-failed") != "0" || kpi("kpi-success") != "100%" {
		t.Errorf("KPIs %q %q %q %q", kpi("kpi-total"), kpi("kpi-completed"), kpi("kpi-failed"), kpi("kpi-success"))
	}
	if got := kpi("kpi-best"); got != "-8.7 kcal/mol" {
		t.Errorf("best %q", got)
	}
	if got := kpi("kpi-median"); got != "-7.9 kcal/mol" {
		t.Errorf("median %q", got)
	}
	hist := doc.Find(testid("chart-histogram") + " svg")
	if hist.Find(testid("hist-bar")).Length() == 0 || hist.Find("title").First().Text() != "Distribution of Best affinity" {
		t.Errorf("histogram: %d bars", hist.Find(testid("hist-bar")).Length())
	}
	total := 0
	hist.Find(testid("hist-bar")).Each(func(_ int, s *goquery.Selection) {
		n, _ := strconv.Atoi(s.AttrOr("data-count", ""))
		total += n
	})
	if total != 5 {
		t.Errorf("histogram counts %d ligands", total)
	}
	sc := doc.Find(testid("chart-scatter") + " svg")
	if sc.Find(testid("scatter-point")).Length() != 5 || !strings.HasPrefix(sc.Find(testid("x-label")).Text(), "Ligand efficiency") {
		t.Errorf("scatter: %d points, x %q", sc.Find(testid("scatter-point")).Length(), sc.Find(testid("x-label")).Text())
	}
	if got := doc.Find(testid("triage-rule")).Text(); !strings.Contains(got, "strong ≤ -9 kcal/mol, moderate ≤ -7 kcal/mol, weak otherwise") {
		t.Errorf("rule %q", got)
	}

	// The table: rows coloured by the rule, stated above it.
	table := html(t, e.get(&a, path, false), http.StatusOK)
	if got := table.Find(testid("triage-rule")).Text(); !strings.Contains(got, "strong ≤ -9 kcal/mol") {
		t.Errorf("table rule %q", got)
	}
	table.Find(testid("result-row")).Each(func(_ int, r *goquery.Selection) {
		if !r.HasClass("triage-moderate") {
			t.Errorf("row %s (%s) class %q", r.AttrOr("data-job-id", ""), r.Find(testid("result-affinity")).Text(), r.AttrOr("class", ""))
		}
	})

	rec := e.get(&b, path+"?tab=dashboard", false)
	if html(t, rec, http.StatusNotFound); strings.Contains(rec.Body.String(), "kinase screen") {
		t.Error("bob sees alice's dashboard")
	}
}
