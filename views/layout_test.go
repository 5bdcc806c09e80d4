package views

import (
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"omtx/api"
)

// renderDoc renders a component and parses it.
func renderDoc(t *testing.T, c templ.Component) *goquery.Document {
	t.Helper()
	var b strings.Builder
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestLayout(t *testing.T) {
	anon := renderDoc(t, HomePage(Shell{}, HomeView{DocsPath: "/api/docs"}))
	if anon.Find(`[data-testid="signin-link"]`).Length() != 1 || anon.Find(`form[action="/signout"]`).Length() != 0 {
		t.Error("an anonymous page offers sign-out")
	}
	if anon.Find(`meta[name="csrf-token"]`).Length() != 0 || anon.Find("script").Length() != 0 || anon.Find("link[rel=stylesheet]").Length() != 0 {
		t.Error("no token or assets: no tags for them")
	}
	if anon.Find(`[data-testid="nav-new"]`).Is("a") {
		t.Error("New prediction links to a page that does not exist")
	}
	if got := anon.Find("title").Text(); got != "OMTX-Hub" {
		t.Errorf("title %q", got)
	}

	s := Shell{Title: "My batches", SignedIn: true, UserName: "ada <script>", CSRF: "tok", Section: SectionBatches,
		NewPredictionURL: "/", Assets: AssetURLs{CSS: "/static/css/app.1.css", HTMX: "/static/h.2.js", JS: "/static/js/app.3.js"}}
	doc := renderDoc(t, BatchesPageView(s, BatchesPage{Page: 1}))
	if got := doc.Find(`[data-testid="user-name"]`).Text(); got != "ada <script>" {
		t.Errorf("user name %q (escaped text expected)", got)
	}
	if doc.Find(`[data-testid="nav-new"]`).AttrOr("href", "") != "/" || doc.Find(`[data-testid="nav-batches"]`).AttrOr("aria-current", "") != "page" {
		t.Error("nav")
	}
	if doc.Find(`form[action="/signout"] input[name="csrf_token"]`).AttrOr("value", "") != "tok" {
		t.Error("sign-out form lacks the token")
	}
	if doc.Find(`script[src="/static/h.2.js"]`).Length() != 1 || doc.Find(`link[href="/static/css/app.1.css"]`).Length() != 1 {
		t.Error("assets")
	}
	if got := doc.Find("title").Text(); got != "My batches · OMTX-Hub" {
		t.Errorf("title %q", got)
	}
	if doc.Find(`[data-testid="batches-empty"]`).Length() != 1 {
		t.Error("empty state")
	}
}

func TestFragmentsStandAlone(t *testing.T) {
	doc := renderDoc(t, ResultsTable(vinaResults()))
	if doc.Find(`[data-testid="site-header"]`).Length() != 0 || doc.Find("#results").Length() != 1 {
		t.Error("the table fragment carries the layout")
	}
	doc = renderDoc(t, BatchesTable(BatchesPage{Page: 1, Batches: []api.Batch{{BatchID: "b1", JobName: "x", Status: "running"}}}))
	if doc.Find(`[data-testid="batch-cancel"]`).AttrOr("hx-post", "") != "/api/v3/batches/b1/control/cancel" {
		t.Error("cancel")
	}
	if doc.Find(`[data-testid="batch-cancel"]`).AttrOr("hx-confirm", "") == "" {
		t.Error("cancel without confirmation")
	}
}
