package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"omtx/accounts"
	"omtx/api"
	"omtx/handlers"
	"omtx/jobs"
	"omtx/static"
)

// browser is a signed-in browser: its session cookie and CSRF token.
type browser struct {
	cookie *http.Cookie
	csrf   string
}

func (e *env) browser(user string) browser {
	e.t.Helper()
	c, tok := e.signIn(user)
	return browser{cookie: c, csrf: tok}
}

// get fetches a page as the browser (nil: anonymous); fragment sends
// HX-Request as htmx does.
func (e *env) get(b *browser, path string, fragment bool) *httptest.ResponseRecorder {
	e.t.Helper()
	r := req{method: http.MethodGet, path: path}
	if b != nil {
		r.cookie = b.cookie
	}
	if fragment {
		r.header = map[string]string{"HX-Request": "true"}
	}
	return e.do(r)
}

// html parses a page of the wanted status.
func html(t *testing.T, rec *httptest.ResponseRecorder, status int) *goquery.Document {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("content type %q", ct)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// testid selects elements by data-testid.
func testid(id string) string { return `[data-testid="` + id + `"]` }

// texts are the trimmed texts of the elements of a selection.
func texts(s *goquery.Selection) []string {
	var out []string
	s.Each(func(_ int, el *goquery.Selection) { out = append(out, strings.Join(strings.Fields(el.Text()), " ")) })
	return out
}

// isFullPage reports whether a document is a whole page rather than a
// fragment: goquery adds <html> around a fragment, but not a <header>.
func isFullPage(doc *goquery.Document) bool {
	return doc.Find(testid("site-header")).Length() == 1 && doc.Find("head title").Length() == 1
}

// stateOf is what the API says about a batch, to check that pages change
// nothing.
func (e *env) stateOf(user, batchID string) string {
	e.t.Helper()
	b := decode[api.Batch](e.t, e.do(req{method: http.MethodGet, path: api.Prefix + "/batches/" + batchID, user: user}), http.StatusOK)
	return fmt.Sprintf("%s paused=%v %+v", b.Status, b.Paused, b.Progress)
}

// TestMyBatchesPage: the owner sees their batches with status, progress
// and actions; htmx gets the table alone; another user sees only their
// own (here: the empty state); an anonymous visitor is sent to sign in;
// and looking changes nothing.
func TestMyBatchesPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	done := e.submit(alice, dockingBatch("kinase screen", imatinib, aspirin))
	e.runAll(done)
	open := e.submit(alice, dockingBatch("still queued", ibuprofen, paracetamol))
	a, b := e.browser(alice), e.browser(bob)
	before := e.stateOf(alice, open)

	rec := e.get(&a, "/my-batches", false)
	doc := html(t, rec, http.StatusOK)
	if !isFullPage(doc) {
		t.Fatalf("a plain request gets the whole page:\n%s", rec.Body)
	}
	if got, _ := doc.Find(`meta[name="csrf-token"]`).Attr("content"); got != a.csrf {
		t.Errorf("csrf meta %q, want the session's %q", got, a.csrf)
	}
	if got, _ := doc.Find(`form[action="/signout"] input[name="csrf_token"]`).Attr("value"); got != a.csrf {
		t.Errorf("sign-out form token %q", got)
	}
	if got := doc.Find(testid("user-name")).Text(); got != alice {
		t.Errorf("header user %q", got)
	}
	if got, _ := doc.Find(testid("nav-batches")).Attr("aria-current"); got != "page" {
		t.Errorf("nav marks %q", got)
	}
	if doc.Find(`a.skip-link[href="#main"]`).Length() != 1 || doc.Find("main#main").Length() != 1 {
		t.Error("no skip link to main")
	}
	rows := doc.Find(testid("batch-row"))
	if rows.Length() != 2 {
		t.Fatalf("%d rows, want 2:\n%s", rows.Length(), rec.Body)
	}
	// Newest first: the queued batch, then the finished one.
	if got := texts(rows.Find(testid("batch-name"))); strings.Join(got, "|") != "still queued|kinase screen" {
		t.Errorf("names %q", got)
	}
	first, second := rows.Eq(0), rows.Eq(1)
	if got := first.Find(testid("batch-status")).Text(); got != "Pending" {
		t.Errorf("queued status %q", got)
	}
	if cls, _ := second.Find(testid("batch-status")).Attr("class"); cls != "badge status-completed" || second.Find(testid("batch-status")).Text() != "Completed" {
		t.Errorf("finished badge %q %q", cls, second.Find(testid("batch-status")).Text())
	}
	if got := texts(second.Find(testid("batch-progress-text"))); got[0] != "2 of 2 done (100%)" {
		t.Errorf("progress %q", got)
	}
	if v, _ := second.Find("progress").Attr("value"); v != "100" {
		t.Errorf("progress bar value %q", v)
	}
	if got := texts(first.Find(testid("batch-progress-text"))); got[0] != "0 of 2 done (0%)" {
		t.Errorf("queued progress %q", got)
	}
	if href, _ := second.Find(testid("batch-open")).Attr("href"); href != "/batch-results/"+done {
		t.Errorf("results link %q", href)
	}
	if post, _ := first.Find(testid("batch-cancel")).Attr("hx-post"); post != api.Prefix+"/batches/"+open+"/control/cancel" {
		t.Errorf("cancel posts to %q", post)
	}
	if second.Find(testid("batch-cancel")).Length() != 0 {
		t.Error("a finished batch offers cancel")
	}
	if got := first.Find(testid("batch-model")).Text(); !strings.HasPrefix(got, "vina") {
		t.Errorf("model %q", got)
	}

	// htmx gets the table alone, from the same component.
	frag := e.get(&a, "/my-batches", true)
	fdoc := html(t, frag, http.StatusOK)
	if isFullPage(fdoc) || strings.Contains(frag.Body.String(), "<html") {
		t.Errorf("htmx got the whole page:\n%s", frag.Body)
	}
	if fdoc.Find(testid("batch-row")).Length() != 2 || fdoc.Find("#batches").Length() != 1 {
		t.Errorf("fragment lacks the rows:\n%s", frag.Body)
	}
	if !strings.Contains(frag.Header().Get("Vary"), "HX-Request") {
		t.Errorf("Vary %q", frag.Header().Get("Vary"))
	}

	// The status filter and paging.
	fdoc = html(t, e.get(&a, "/my-batches?status=completed", true), http.StatusOK)
	if got := texts(fdoc.Find(testid("batch-name"))); len(got) != 1 || got[0] != "kinase screen" {
		t.Errorf("completed filter %q", got)
	}
	pdoc := html(t, e.get(&a, "/my-batches?page_size=1", false), http.StatusOK)
	if got := texts(pdoc.Find(testid("batch-name"))); len(got) != 1 || got[0] != "still queued" {
		t.Errorf("first page %q", got)
	}
	next, _ := pdoc.Find(testid("batches-next")).Attr("href")
	if next != "/my-batches?page=2&page_size=1" {
		t.Fatalf("next %q", next)
	}
	pdoc = html(t, e.get(&a, next, false), http.StatusOK)
	if got := texts(pdoc.Find(testid("batch-name"))); len(got) != 1 || got[0] != "kinase screen" {
		t.Errorf("second page %q", got)
	}
	if prev, _ := pdoc.Find(testid("batches-prev")).Attr("href"); prev != "/my-batches?page_size=1" {
		t.Errorf("prev %q", prev)
	}
	if pdoc.Find(testid("batches-next")).Length() != 0 {
		t.Error("the last page links further")
	}
	fdoc = html(t, e.get(&a, "/my-batches?status=failed", false), http.StatusOK)
	if fdoc.Find(testid("batches-none")).Length() != 1 || fdoc.Find(testid("batches-empty")).Length() != 0 {
		t.Error("a filter without matches is not the empty state")
	}

	// The error state: a status the hub refuses.
	bad := html(t, e.get(&a, "/my-batches?status=sleeping", false), http.StatusBadRequest)
	if msg := bad.Find(testid("batches-error")).Text(); !strings.Contains(msg, "status") {
		t.Errorf("error state %q", msg)
	}

	// bob sees none of alice's batches: the empty state.
	rec = e.get(&b, "/my-batches", false)
	bdoc := html(t, rec, http.StatusOK)
	if bdoc.Find(testid("batch-row")).Length() != 0 || strings.Contains(rec.Body.String(), done) || strings.Contains(rec.Body.String(), open) {
		t.Errorf("bob sees alice's batches:\n%s", rec.Body)
	}
	if empty := bdoc.Find(testid("batches-empty")).Text(); !strings.Contains(empty, "Nothing here yet") || !strings.Contains(empty, "omtx demo") {
		t.Errorf("empty state %q", empty)
	}

	// Anonymous: sent to sign in.
	anon := e.get(nil, "/my-batches", false)
	if anon.Code != http.StatusSeeOther || anon.Header().Get("Location") != "/signin" {
		t.Errorf("anonymous: %d %q", anon.Code, anon.Header().Get("Location"))
	}

	if after := e.stateOf(alice, open); after != before {
		t.Errorf("looking changed the batch: %s -> %s", before, after)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("a page set cookies: %v", rec.Result().Cookies())
	}
}

// TestPagesAssets: with the assets, every page links the hashed
// stylesheet and scripts, which the server serves; pages allow scripts
// from this site only.
func TestPagesAssets(t *testing.T) {
	t.Parallel()
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(d *handlers.Deps) { d.Assets = assets })
	a := e.browser(alice)
	for _, path := range []string{"/", "/signin", "/my-batches"} {
		rec := e.get(&a, path, false)
		doc := html(t, rec, http.StatusOK)
		if href, _ := doc.Find(`link[rel="stylesheet"]`).Attr("href"); href != assets.URL("css/app.css") {
			t.Errorf("%s: stylesheet %q", path, href)
		}
		var scripts []string
		doc.Find("script[src]").Each(func(_ int, s *goquery.Selection) { scripts = append(scripts, s.AttrOr("src", "")) })
		if strings.Join(scripts, " ") != assets.URL("vendor/htmx/htmx.min.js")+" "+assets.URL("js/app.js") {
			t.Errorf("%s: scripts %q", path, scripts)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	for _, name := range []string{"css/app.css", "vendor/htmx/htmx.min.js", "js/app.js"} {
		if rec := e.get(nil, assets.URL(name), false); rec.Code != http.StatusOK {
			t.Errorf("%s: %d", name, rec.Code)
		}
	}
}

// affinities parses the affinity cells of a page's result rows.
func affinities(t *testing.T, doc *goquery.Document) []float64 {
	t.Helper()
	var out []float64
	doc.Find(testid("result-row")).Each(func(_ int, r *goquery.Selection) {
		v, err := strconv.ParseFloat(strings.TrimSpace(r.Find(testid("result-affinity")).Text()), 64)
		if err != nil {
			t.Fatalf("affinity cell: %v", err)
		}
		out = append(out, v)
	})
	return out
}

// TestBatchResultsPage: the owner sees the Vina results best first
// (lowest affinity), every metric's unit and direction in its header,
// the top performers and the downloads; sorting, searching, filtering
// and paging keep the other parameters; htmx gets the table alone;
// another user's batch is the 404 page; anonymous visitors sign in.
func TestBatchResultsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.submit(alice, dockingBatch("kinase screen", imatinib, aspirin, caffeine, ibuprofen, paracetamol))
	e.runAll(id)
	a, b := e.browser(alice), e.browser(bob)
	before := e.stateOf(alice, id)
	path := "/batch-results/" + id

	rec := e.get(&a, path, false)
	doc := html(t, rec, http.StatusOK)
	if !isFullPage(doc) {
		t.Fatal("a plain request gets the whole page")
	}
	if got := doc.Find("h1" + testid("batch-name")).Text(); got != "kinase screen" {
		t.Errorf("title %q", got)
	}
	if got := doc.Find(testid("batch-target")).Text(); got != "ABL1 kinase (ABL1)" {
		t.Errorf("target %q", got)
	}
	if got := doc.Find(testid("batch-status")).Text(); got != "Completed" {
		t.Errorf("status %q", got)
	}
	if got := doc.Find(testid("batch-progress-text")).Text(); got != "5 of 5 done (100%)" {
		t.Errorf("progress %q", got)
	}
	headers := texts(doc.Find(testid("results-header")))
	for _, want := range []string{"Best affinity (kcal/mol, lower is better)", "Ligand efficiency (kcal/mol per heavy atom, higher is better)", "Ligand", "SMILES", "Status"} {
		if !slices.Contains(headers, want) {
			t.Errorf("headers %q lack %q", headers, want)
		}
	}
	aff := doc.Find(testid("results-header") + `[data-sort="affinity"]`)
	if s, _ := aff.Attr("aria-sort"); s != "ascending" {
		t.Errorf("affinity column aria-sort %q", s)
	}
	vals := affinities(t, doc)
	if len(vals) != 5 || !slices.IsSorted(vals) || vals[0] >= vals[4] {
		t.Errorf("affinities not best (lowest) first: %v", vals)
	}
	for _, cell := range texts(doc.Find(testid("result-affinity"))) {
		if !strings.HasPrefix(cell, "-") {
			t.Errorf("affinity %q lost its sign", cell)
		}
	}
	if got := doc.Find(testid("ranking")).Text(); !strings.Contains(got, "lowest Best affinity first (lower is better)") {
		t.Errorf("ranking %q", got)
	}

	// Top performers, on their tab: best first, direction stated.
	if doc.Find(testid("top")).Length() != 0 || doc.Find(testid("tab-table")).AttrOr("aria-current", "") != "page" {
		t.Error("the table is not the default tab")
	}
	tdoc := html(t, e.get(&a, path+"?tab=top", false), http.StatusOK)
	if got := tdoc.Find(testid("top-heading")).Text(); got != "Top performers by Best affinity (kcal/mol, lower is better)" {
		t.Errorf("top heading %q", got)
	}
	if tdoc.Find(testid("results")).Length() != 0 || tdoc.Find(testid("tab-top")).AttrOr("aria-current", "") != "page" {
		t.Error("the top tab shows the table")
	}
	top := texts(tdoc.Find(testid("top-affinity")))
	if len(top) != 5 || top[0] != doc.Find(testid("result-affinity")).First().Text()+" kcal/mol" {
		t.Errorf("top %q", top)
	}

	// Downloads: the batch's exports and each row's files, which answer.
	for format, tid := range map[string]string{"csv": "export-csv", "json": "export-json", "zip": "export-zip"} {
		if href, _ := doc.Find(testid(tid)).Attr("href"); href != api.Prefix+"/batches/"+id+"/export/"+format {
			t.Errorf("%s export %q", format, href)
		}
	}
	first := doc.Find(testid("result-row")).First()
	job, _ := first.Attr("data-job-id")
	for tid, want := range map[string]string{"download-cif": "data_complex", "download-sdf": "$$$$"} {
		href, _ := first.Find(testid(tid)).Attr("href")
		got := e.do(req{method: http.MethodGet, path: href, cookie: a.cookie})
		if got.Code != http.StatusOK || !strings.Contains(got.Body.String(), want) {
			t.Errorf("%s %s: %d %.80s", tid, href, got.Code, got.Body)
		}
	}
	if href, _ := first.Find(testid("result-ligand") + " a").Attr("href"); href != "/jobs/"+job {
		t.Errorf("job link %q", href)
	}

	// Sorting: the current column flips, in a fragment for htmx.
	flip, _ := aff.Find("a").Attr("href")
	if hx, _ := aff.Find("a").Attr("hx-get"); hx != flip || !strings.Contains(flip, "order=desc") {
		t.Errorf("affinity header links %q / %q", flip, hx)
	}
	frag := e.get(&a, flip, true)
	fdoc := html(t, frag, http.StatusOK)
	if isFullPage(fdoc) || fdoc.Find(testid("top")).Length() != 0 || fdoc.Find("#results").Length() != 1 {
		t.Errorf("htmx got more than the table:\n%s", frag.Body)
	}
	if desc := affinities(t, fdoc); len(desc) != 5 || !slices.IsSortedFunc(desc, func(x, y float64) int { return -cmpFloat(x, y) }) {
		t.Errorf("descending affinities %v", desc)
	}
	// The filter form keeps the new sort: its hidden fields are in the
	// fragment.
	if v, _ := fdoc.Find(testid("results-order")).Attr("value"); v != "desc" || fdoc.Find(testid("results-sort")).AttrOr("form", "") != "results-filter" {
		t.Errorf("sort fields of the filter form: order %q\n%s", v, frag.Body)
	}
	// The full page of the same URL: a reload works.
	if full := html(t, e.get(&a, flip, false), http.StatusOK); !isFullPage(full) {
		t.Error("the sorted URL without htmx is not a whole page")
	}

	// Search keeps the sort; a header keeps the search.
	fdoc = html(t, e.get(&a, path+"?q=CAF&sort=ligand_name", true), http.StatusOK)
	if got := texts(fdoc.Find(testid("result-ligand"))); len(got) != 1 || got[0] != "caffeine" {
		t.Errorf("search %q", got)
	}
	href, _ := fdoc.Find(testid("results-header") + `[data-sort="affinity"] a`).Attr("href")
	if !strings.Contains(href, "q=CAF") || !strings.Contains(href, "sort=affinity") {
		t.Errorf("sort link drops the search: %q", href)
	}
	fdoc = html(t, e.get(&a, path+"?status=failed", true), http.StatusOK)
	if fdoc.Find(testid("result-row")).Length() != 0 || fdoc.Find(testid("results-none")).Length() != 1 {
		t.Error("status filter")
	}

	// Paging with a page size.
	fdoc = html(t, e.get(&a, path+"?page_size=2&q=a", true), http.StatusOK)
	if fdoc.Find(testid("result-row")).Length() != 2 {
		t.Errorf("page size 2: %d rows", fdoc.Find(testid("result-row")).Length())
	}
	next, _ := fdoc.Find(testid("results-next")).Attr("href")
	if !strings.Contains(next, "page=2") || !strings.Contains(next, "page_size=2") || !strings.Contains(next, "q=a") {
		t.Errorf("next %q", next)
	}
	fdoc = html(t, e.get(&a, next, true), http.StatusOK)
	if got := fdoc.Find(testid("results-page")).Text(); !strings.HasPrefix(got, "Page 2 of") {
		t.Errorf("page %q", got)
	}

	// A query the hub refuses: the error state, not a crash.
	bad := html(t, e.get(&a, path+"?sort=nonsense", false), http.StatusBadRequest)
	if msg := bad.Find(testid("results-error")).Text(); !strings.Contains(msg, "sort") {
		t.Errorf("error state %q", msg)
	}

	// bob: the 404 page, as a page and as a fragment; no trace of alice's.
	for _, fragment := range []bool{false, true} {
		rec := e.get(&b, path, fragment)
		nf := html(t, rec, http.StatusNotFound)
		if nf.Find(testid("error")).Length() != 1 || strings.Contains(rec.Body.String(), "imatinib") || strings.Contains(rec.Body.String(), "kinase screen") {
			t.Errorf("bob's answer:\n%s", rec.Body)
		}
		if isFullPage(nf) == fragment {
			t.Errorf("fragment=%v: full page %v", fragment, isFullPage(nf))
		}
	}
	html(t, e.get(&a, "/batch-results/no-such-batch", false), http.StatusNotFound)
	if anon := e.get(nil, path, false); anon.Code != http.StatusSeeOther || anon.Header().Get("Location") != "/signin" {
		t.Errorf("anonymous: %d %q", anon.Code, anon.Header().Get("Location"))
	}
	if after := e.stateOf(alice, id); after != before {
		t.Errorf("looking changed the batch: %s -> %s", before, after)
	}
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// failNext leases the next job there is and fails it for good.
func (e *env) failNext(msg string) string {
	e.t.Helper()
	ctx := context.Background()
	j, err := e.store.JobLease(ctx, jobs.LeaseParams{Owner: "test-runner", Models: e.modelNs, TTL: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.JobFail(ctx, *j.Lease, jobs.Failure{Error: msg}); err != nil {
		e.t.Fatal(err)
	}
	return j.ID
}

// TestJobPage: a completed job shows its inputs, every metric with its
// unit and direction, its files and their links; a batch's child links
// its batch; a failed job shows why; another user's job is the 404 page.
func TestJobPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	single := e.predict(alice, imatinib)
	id := e.submit(alice, dockingBatch("kinase screen", aspirin))
	e.runAll(single, id)
	child := e.childIDs(alice, id)[0]
	failed := e.predict(alice, ibuprofen)
	if got := e.failNext("vina: the ligand has no 3D coordinates"); got != failed {
		t.Fatalf("failed %s, want %s", got, failed)
	}
	a, b := e.browser(alice), e.browser(bob)

	rec := e.get(&a, "/jobs/"+single, false)
	doc := html(t, rec, http.StatusOK)
	if !isFullPage(doc) {
		t.Fatal("not a whole page")
	}
	if got := doc.Find(testid("job-title")).Text(); got != "imatinib" {
		t.Errorf("title %q", got)
	}
	if got := doc.Find(testid("job-status")).Text(); got != "Completed" {
		t.Errorf("status %q", got)
	}
	if got := doc.Find(testid("input-smiles")).Text(); got != imatinib.SMILES {
		t.Errorf("SMILES %q", got)
	}
	if got := doc.Find(testid("input-model")).Text(); !strings.HasPrefix(got, "vina") {
		t.Errorf("model %q", got)
	}
	if doc.Find(testid("job-error")).Length() != 0 || doc.Find(testid("job-batch")).Length() != 0 {
		t.Error("a completed individual job shows an error or a batch")
	}
	metrics := map[string][2]string{}
	doc.Find(testid("metric-row")).Each(func(_ int, r *goquery.Selection) {
		metrics[r.AttrOr("data-metric", "")] = [2]string{r.Find(testid("metric-value")).Text(), r.Find(testid("metric-meaning")).Text()}
	})
	if m := metrics["affinity"]; !strings.HasPrefix(m[0], "-7") || m[1] != "kcal/mol, lower is better, the model's ranking score" {
		t.Errorf("affinity %q", m)
	}
	if m := metrics["ligand_efficiency"]; m[1] != "kcal/mol per heavy atom, higher is better" {
		t.Errorf("ligand efficiency %q", m)
	}
	var files []string
	doc.Find(testid("file")).Each(func(_ int, f *goquery.Selection) {
		href := f.AttrOr("href", "")
		files = append(files, f.Text())
		if got := e.do(req{method: http.MethodGet, path: href, cookie: a.cookie}); got.Code != http.StatusOK {
			t.Errorf("file %s: %d", href, got.Code)
		}
	})
	slices.Sort(files)
	if strings.Join(files, " ") != "poses.sdf results.json structure.cif" {
		t.Errorf("files %q", files)
	}
	if href := doc.Find(testid("file")).First().AttrOr("href", ""); !strings.HasPrefix(href, api.Prefix+"/jobs/"+single+"/files/") {
		t.Errorf("file link %q", href)
	}
	if doc.Find(testid("logs-none")).Length() != 1 {
		t.Error("a job without a log links one")
	}

	// A batch's child links its batch and its target; files under the batch.
	doc = html(t, e.get(&a, "/jobs/"+child, false), http.StatusOK)
	if href := doc.Find(testid("job-batch")).AttrOr("href", ""); href != "/batch-results/"+id {
		t.Errorf("batch link %q", href)
	}
	if got := doc.Find(testid("input-target")).Text(); got != "ABL1 kinase (ABL1)" {
		t.Errorf("target %q", got)
	}
	if href := doc.Find(testid("file")).First().AttrOr("href", ""); !strings.HasPrefix(href, api.Prefix+"/batches/"+id+"/jobs/"+child+"/files/") {
		t.Errorf("child file link %q", href)
	}

	// A failed job says why.
	doc = html(t, e.get(&a, "/jobs/"+failed, false), http.StatusOK)
	if got := doc.Find(testid("job-status")).Text(); got != "Failed" {
		t.Errorf("status %q", got)
	}
	if got := doc.Find(testid("job-error")).Text(); !strings.Contains(got, "no 3D coordinates") {
		t.Errorf("error %q", got)
	}
	if doc.Find(testid("metrics-none")).Length() != 1 || doc.Find(testid("files-none")).Length() != 1 {
		t.Error("a failed job shows metrics or files")
	}

	// bob: 404 page; anonymous: sign in; a fragment request gets the page.
	rec = e.get(&b, "/jobs/"+single, false)
	if nf := html(t, rec, http.StatusNotFound); nf.Find(testid("error")).Length() != 1 || strings.Contains(rec.Body.String(), "imatinib") {
		t.Errorf("bob:\n%s", rec.Body)
	}
	html(t, e.get(&a, "/jobs/"+id, false), http.StatusNotFound) // a batch is not a job page
	if anon := e.get(nil, "/jobs/"+single, false); anon.Code != http.StatusSeeOther || anon.Header().Get("Location") != "/signin" {
		t.Errorf("anonymous: %d", anon.Code)
	}
	if doc := html(t, e.get(&a, "/jobs/"+single, true), http.StatusOK); !isFullPage(doc) {
		t.Error("the job page has no fragment: htmx gets the whole page")
	}
}

// TestPageInternalError: a failing dependency shows the error page
// without detail, logged once with the request's id.
func TestPageInternalError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.browser(alice)
	e.store.Close()
	rec := e.do(req{method: http.MethodGet, path: "/my-batches", cookie: a.cookie, header: map[string]string{"X-Request-ID": "broken-page"}})
	doc := html(t, rec, http.StatusInternalServerError)
	if got := doc.Find(testid("error-message")).Text(); got != "The page could not be built. Try again in a moment." || strings.Contains(rec.Body.String(), "closed") {
		t.Errorf("error page says %q:\n%s", got, rec.Body)
	}
	var failed int
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `"request_id":"broken-page"`) && strings.Contains(l, `"level":"ERROR"`) {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d error lines, want 1:\n%s", failed, e.logs)
	}
}

// TestPageRateLimited: past the read limit a page answers 429 as a page.
func TestPageRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *handlers.Deps) {
		d.Limits[accounts.TierDefault] = accounts.Limits{SubmitPerMinute: 10, ReadPerMinute: 1, MaxLigandsPerBatch: 5, MaxRunning: 1}
	})
	a := e.browser(alice)
	var last *httptest.ResponseRecorder
	for range 3 {
		last = e.get(&a, "/my-batches", false)
	}
	doc := html(t, last, http.StatusTooManyRequests)
	if doc.Find(testid("error")).Length() != 1 || last.Header().Get("Retry-After") == "" {
		t.Errorf("429 page:\n%v\n%s", last.Header(), last.Body)
	}
}

// TestMyBatchesFilters: My batches lists single jobs beside batches and
// searches, filters and sorts them in the store; the paging links keep it
// all.
func TestMyBatchesFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	screen := e.submit(alice, dockingBatch("ABL1 kinase screen", imatinib, aspirin))
	e.clock.Advance(time.Second)
	hits := e.submit(alice, dockingBatch("egfr hits", caffeine))
	e.clock.Advance(time.Second)
	single := e.predict(alice, imatinib)
	e.runAll(screen, hits, single)
	a := e.browser(alice)

	names := func(path string) []string {
		t.Helper()
		doc := html(t, e.get(&a, path, false), http.StatusOK)
		return texts(doc.Find(testid("batch-name")))
	}
	doc := html(t, e.get(&a, "/my-batches", false), http.StatusOK)
	if got := texts(doc.Find(testid("batch-kind"))); strings.Join(got, "|") != "Single job|Batch|Batch" {
		t.Errorf("kinds %q", got)
	}
	row := doc.Find(`[data-batch-id="` + single + `"]`)
	if href := row.Find(testid("batch-name")+" a").AttrOr("href", ""); href != "/jobs/"+single {
		t.Errorf("single job links to %q", href)
	}
	if doc.Find(`select[name="model"] option[value="vina"]`).Length() != 1 || doc.Find(`select[name="sort"] option[value="name"]`).Length() != 1 {
		t.Error("no model filter or sort")
	}
	for _, c := range []struct {
		path string
		want string
	}{
		{"/my-batches?q=KINASE", "ABL1 kinase screen"},
		{"/my-batches?q=imatinib", "single imatinib"},
		{"/my-batches?sort=name", "ABL1 kinase screen|egfr hits|single imatinib"},
		{"/my-batches?sort=oldest", "ABL1 kinase screen|egfr hits|single imatinib"},
		{"/my-batches?sort=name_desc&page_size=1&page=2", "egfr hits"},
		{"/my-batches?model=boltz2", ""},
	} {
		if got := strings.Join(names(c.path), "|"); got != c.want {
			t.Errorf("%s lists %q, want %q", c.path, got, c.want)
		}
	}
	doc = html(t, e.get(&a, "/my-batches?sort=name&q=e&page_size=1", false), http.StatusOK)
	if next := doc.Find(testid("batches-next")).AttrOr("href", ""); next != "/my-batches?page=2&page_size=1&q=e&sort=name" {
		t.Errorf("next page %q", next)
	}
	if got, _ := doc.Find(testid("batch-search")).Attr("value"); got != "e" {
		t.Errorf("search box keeps %q", got)
	}
	none := html(t, e.get(&a, "/my-batches?model=boltz2", false), http.StatusOK)
	if none.Find(testid("batches-none")).Length() != 1 {
		t.Error("a filter matching nothing does not say so")
	}
	bad := html(t, e.get(&a, "/my-batches?sort=size", false), http.StatusBadRequest)
	if got := bad.Find(testid("batches-error")).Text(); !strings.Contains(got, "sort") {
		t.Errorf("unknown sort: %q", got)
	}
}

// TestMyBatchesBulkDelete: the bulk delete asks first and changes nothing
// until confirmed; it deletes ended batches and single jobs with their
// files, refuses running work and other users' ids, and needs the CSRF
// token.
func TestMyBatchesBulkDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	done := e.submit(alice, dockingBatch("finished screen", imatinib))
	single := e.predict(alice, aspirin)
	e.runAll(done, single)
	running := e.submit(alice, dockingBatch("still queued", ibuprofen))
	bobs := e.submit(bob, dockingBatch("bob's", caffeine))
	a, b := e.browser(alice), e.browser(bob)
	form := url.Values{"id": {done, single, running}}

	if rec := e.postForm(a, "/my-batches/delete", form, false, false); rec.Code != http.StatusForbidden {
		t.Fatalf("without the CSRF token: %d", rec.Code)
	}
	doc := html(t, e.postForm(a, "/my-batches/delete", form, true, false), http.StatusOK)
	if got := doc.Find("h1").Text(); got != "Delete 2 entries?" {
		t.Errorf("title %q", got)
	}
	if got := doc.Find(testid("delete-entry")).Length(); got != 2 {
		t.Errorf("%d entries to delete", got)
	}
	if got := doc.Find(testid("delete-problem")).Text(); !strings.Contains(got, "still queued") || !strings.Contains(got, "cancel it first") {
		t.Errorf("running batch not refused: %q", got)
	}
	if n := doc.Find(`form input[name="id"]`).Length(); n != 2 || doc.Find(`input[name="confirm"][value="yes"]`).Length() != 1 {
		t.Errorf("confirmation form carries %d ids", n)
	}
	// Asking changed nothing.
	e.stateOf(alice, done)
	if rec := e.do(req{method: http.MethodGet, path: api.Prefix + "/jobs/" + single, user: alice}); rec.Code != http.StatusOK {
		t.Fatalf("single job gone before confirming: %d", rec.Code)
	}

	// bob cannot delete alice's work, nor learn of it.
	bdoc := html(t, e.postForm(b, "/my-batches/delete", url.Values{"id": {done}, "confirm": {"yes"}}, true, false), http.StatusConflict)
	if strings.Contains(bdoc.Text(), "finished screen") || bdoc.Find(testid("delete-problem")).Length() != 1 {
		t.Errorf("bob's delete of alice's batch: %s", bdoc.Text())
	}

	rec := e.postForm(a, "/my-batches/delete", url.Values{"id": {done, single}, "confirm": {"yes"}}, true, false)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/my-batches?deleted=2" {
		t.Fatalf("confirmed delete: %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	for _, path := range []string{api.Prefix + "/batches/" + done, api.Prefix + "/jobs/" + single} {
		if rec := e.do(req{method: http.MethodGet, path: path, user: alice}); rec.Code != http.StatusNotFound {
			t.Errorf("%s after delete: %d", path, rec.Code)
		}
	}
	if keys, err := e.res.List(context.Background(), "jobs/"+single+"/"); err != nil || len(keys) != 0 {
		t.Errorf("single job's files left: %v %v", keys, err)
	}
	after := html(t, e.get(&a, "/my-batches?deleted=2", false), http.StatusOK)
	if got := after.Find(testid("batches-deleted")).Text(); got != "Deleted 2 entries and their result files." {
		t.Errorf("flash %q", got)
	}
	if got := texts(after.Find(testid("batch-name"))); strings.Join(got, "|") != "still queued" {
		t.Errorf("left %q", got)
	}
	e.stateOf(bob, bobs)

	// Confirming with nothing deletable left: the page says why.
	left := html(t, e.postForm(a, "/my-batches/delete", url.Values{"id": {running}, "confirm": {"yes"}}, true, false), http.StatusConflict)
	if left.Find(testid("delete-problem")).Length() != 1 || left.Find(testid("delete-back")).Length() != 1 {
		t.Errorf("nothing deleted: %s", left.Text())
	}
	if rec := e.postForm(a, "/my-batches/delete", url.Values{}, true, false); rec.Code != http.StatusBadRequest {
		t.Errorf("no selection: %d", rec.Code)
	}
}
