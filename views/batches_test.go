package views

import (
	"testing"
	"time"

	"omtx/api"
)

func TestBatchesPageURLs(t *testing.T) {
	p := BatchesPage{Page: 2, PageSize: DefaultBatchPageSize, Status: "running", HasMore: true}
	if got := p.PrevURL(); got != "/my-batches?status=running" {
		t.Errorf("prev %q", got)
	}
	if got := p.NextURL(); got != "/my-batches?page=3&status=running" {
		t.Errorf("next %q", got)
	}
	if got := p.SelfURL(); got != "/my-batches?page=2&status=running" {
		t.Errorf("self %q", got)
	}
	if got := p.StatusURL(""); got != "/my-batches" {
		t.Errorf("all %q", got)
	}
	first := BatchesPage{Page: 1, PageSize: 10}
	if first.PrevURL() != "" || first.NextURL() != "" {
		t.Errorf("a lone first page links elsewhere: %q %q", first.PrevURL(), first.NextURL())
	}
	if got := (BatchesPage{Page: 1, PageSize: 10, HasMore: true}).NextURL(); got != "/my-batches?page=2&page_size=10" {
		t.Errorf("next keeps the page size: %q", got)
	}
}

func TestBatchesPageStates(t *testing.T) {
	if !(BatchesPage{Page: 1}).Empty() {
		t.Error("no batches on the first page is the empty state")
	}
	if (BatchesPage{Page: 1, Status: "failed"}).Empty() || !(BatchesPage{Page: 1, Status: "failed"}).NoMatch() {
		t.Error("a filter that matches nothing is not the empty state")
	}
	if (BatchesPage{Page: 1, Error: "broken"}).Empty() {
		t.Error("an error is not the empty state")
	}
}

func TestProgressText(t *testing.T) {
	p := api.Progress{Total: 3, Completed: 1, Failed: 1, Running: 1, Percent: 66.666}
	if got := ProgressText(p); got != "2 of 3 done (66.7%), 1 running, 1 failed" {
		t.Errorf("%q", got)
	}
	if got := ProgressValue(p); got != "67" {
		t.Errorf("value %q", got)
	}
	if got := ProgressText(api.Progress{Total: 2, Completed: 2, Percent: 100}); got != "2 of 2 done (100%)" {
		t.Errorf("%q", got)
	}
}

func TestBatchHelpers(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := BatchesPage{Now: now}
	b := api.Batch{BatchID: "b/1", CreatedAt: now.Add(-2 * time.Hour), Status: "running"}
	if got := p.Created(b); got != "2 hours ago" {
		t.Errorf("created %q", got)
	}
	if got := p.CancelURL(b); got != "/api/v3/batches/b%2F1/control/cancel" {
		t.Errorf("cancel %q", got)
	}
	if !Cancellable(b) || Cancellable(api.Batch{Status: "completed"}) {
		t.Error("only pending and running batches can be cancelled")
	}
	if ModelLabel("vina", "1.2.3") != "vina 1.2.3" || ModelLabel("vina", "") != "vina" {
		t.Error("model label")
	}
	if BatchResultsPath("a b") != "/batch-results/a%20b" || JobPath("j1") != "/jobs/j1" {
		t.Error("paths")
	}
}
