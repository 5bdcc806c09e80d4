package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestStructuresTab(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.submit(alice, dockingBatch("kinase screen", imatinib, aspirin, caffeine))
	e.runAll(id)
	a, b := e.browser(alice), e.browser(bob)
	path := "/batch-results/" + id + "?tab=structures"

	rec := e.get(&a, path, false)
	doc := html(t, rec, http.StatusOK)
	if tab := doc.Find(testid("tab-structures")); tab.AttrOr("aria-current", "") != "page" {
		t.Errorf("Structures tab not current: %q", tab.AttrOr("aria-current", ""))
	}
	viewer := doc.Find(testid("structure-viewer"))
	if viewer.Length() != 1 {
		t.Fatalf("%d viewers", viewer.Length())
	}
	url := viewer.AttrOr("data-url", "")
	if !strings.HasPrefix(url, "/api/v3/batches/"+id+"/jobs/") || !strings.HasSuffix(url, "/files/structure.cif") {
		t.Errorf("viewer data-url %q", url)
	}
	// The structure is there for the owner's browser session.
	if got := e.do(req{method: http.MethodGet, path: url, cookie: a.cookie}); got.Code != http.StatusOK {
		t.Errorf("structure %s: %d", url, got.Code)
	}
	if doc.Find(testid("structure-prev")).Length() != 0 || doc.Find(testid("structure-next")).Length() != 1 {
		t.Error("the first (best) ligand has a next link and no previous one")
	}
	if !strings.Contains(doc.Find(testid("structure-affinity")).Text(), "kcal/mol") {
		t.Errorf("affinity %q", doc.Find(testid("structure-affinity")).Text())
	}
	if doc.Find(testid("structure-job")).AttrOr("href", "") == "" {
		t.Error("no link to the job page")
	}
	// The viewer's page alone allows what Mol* needs.
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "'unsafe-eval'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}

	// Next goes to the second ligand, whose previous link comes back.
	next := doc.Find(testid("structure-next")).AttrOr("href", "")
	doc2 := html(t, e.get(&a, next, false), http.StatusOK)
	if u := doc2.Find(testid("structure-viewer")).AttrOr("data-url", ""); u == url || u == "" {
		t.Errorf("next shows %q, was %q", u, url)
	}
	if doc2.Find(testid("structure-prev")).Length() != 1 {
		t.Error("the second ligand has no previous link")
	}

	// The table keeps the strict policy.
	table := e.get(&a, "/batch-results/"+id, false)
	if csp := table.Header().Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-eval") {
		t.Errorf("table CSP %q", csp)
	}

	if got := e.get(&b, path, false); got.Code != http.StatusNotFound {
		t.Errorf("bob gets alice's Structures tab: %d", got.Code)
	}
}
