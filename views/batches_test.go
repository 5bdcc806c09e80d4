package views

import (
	"testing"
	"time"

	"omtx/api"
)

func TestBatchesPageURLs(t *testing.T) {
	p := BatchesPage{Page: 2, PageSize: DefaultBatchPageSize, Filter: BatchFilter{Status: "running"}, HasMore: true}
	if got := p.PrevURL(); got != "/my-batches?status=running" {
		t.Errorf("prev %q", got)
	}
	if got := p.NextURL(); got != "/my-batches?page=3&status=running" {
		t.Errorf("next %q", got)
	}
	if got := p.SelfURL(); got != "/my-batches?page=2&status=running" {
		t.Errorf("self %q", got)
	}
	if got := p.AllURL(); got != "/my-batches" {
		t.Errorf("all %q", got)
	}
	first := BatchesPage{Page: 1, PageSize: 10}
	if first.PrevURL() != "" || first.NextURL() != "" {
		t.Errorf("a lone first page links elsewhere: %q %q", first.PrevURL(), first.NextURL())
	}
	if got := (BatchesPage{Page: 1, PageSize: 10, HasMore: true}).NextURL(); got != "/my-batches?page=2&page_size=10" {
		t.Errorf("next keeps the page size: %q", got)
	}
	// Every filter and the order survive paging; "show all" keeps the order.
	f := BatchFilter{Status: "completed", Model: "vina", Query: "kinase & co", Sort: "name"}
	p = BatchesPage{Page: 1, PageSize: DefaultBatchPageSize, Filter: f, HasMore: true}
	if got := p.NextURL(); got != "/my-batches?model=vina&page=2&q=kinase+%26+co&sort=name&status=completed" {
		t.Errorf("next with filters %q", got)
	}
	if got := p.AllURL(); got != "/my-batches?sort=name" {
		t.Errorf("all keeps the order: %q", got)
	}
	if q := f.ListQuery(); q.Model != "vina" || q.Q != "kinase & co" || q.Sort != "name" || !q.IncludeJobs {
		t.Errorf("list query %+v", q)
	}
	if got := p.Caption(); got != "Your batches and single jobs, name, a to z, filtered" {
		t.Errorf("caption %q", got)
	}
}

func TestBatchesPageStates(t *testing.T) {
	if !(BatchesPage{Page: 1}).Empty() {
		t.Error("no batches on the first page is the empty state")
	}
	for _, f := range []BatchFilter{{Status: "failed"}, {Model: "boltz2"}, {Query: "x"}} {
		if (BatchesPage{Page: 1, Filter: f}).Empty() || !(BatchesPage{Page: 1, Filter: f}).NoMatch() {
			t.Errorf("filter %+v that matches nothing is not the empty state", f)
		}
	}
	if (BatchesPage{Page: 1, Filter: BatchFilter{Sort: "name"}}).NoMatch() {
		t.Error("an order alone is no filter")
	}
	if (BatchesPage{Page: 1, Error: "broken"}).Empty() {
		t.Error("an error is not the empty state")
	}
}

func TestEntryKinds(t *testing.T) {
	batch := api.Batch{BatchID: "b1", Kind: api.KindBatch, JobName: "screen", Status: "completed"}
	job := api.Batch{BatchID: "j1", Kind: api.KindJob, JobName: "imatinib", Status: "running"}
	for _, c := range []struct {
		got, want string
	}{
		{EntryPath(batch), "/batch-results/b1"},
		{EntryPath(job), "/jobs/j1"},
		{DeleteURL(batch), "/api/v3/batches/b1"},
		{DeleteURL(job), "/api/v3/jobs/j1"},
		{CancelURL(job), "/api/v3/jobs/j1/cancel"},
		{KindLabel(job), "Single job"},
		{DeleteConfirm(batch), "Delete batch screen and all its result files? This cannot be undone."},
		{DeletedText(1), "Deleted 1 entry and its result files."},
		{DeletedText(3), "Deleted 3 entries and their result files."},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
	if !Deletable(batch) || Deletable(job) {
		t.Error("only ended entries can be deleted")
	}
	d := DeletePage{Entries: []api.Batch{batch, job}}
	if d.Title() != "Delete 2 entries?" || d.ConfirmLabel() != "Delete 2 entries" {
		t.Errorf("%q %q", d.Title(), d.ConfirmLabel())
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
