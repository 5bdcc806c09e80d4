package views

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"omtx/api"
)

// BatchesPage is the view model of My batches: one page of the user's
// work (batches and single jobs), with the filters and order it was asked
// for.
type BatchesPage struct {
	Batches  []api.Batch
	Page     int
	PageSize int
	HasMore  bool
	Filter   BatchFilter
	// Models are the models the model filter offers.
	Models []string
	// Now is the time relative times count from.
	Now time.Time
	// Error, when set, is shown instead of the table (the list could not
	// be read); it is safe to show.
	Error string
	// Deleted is the number of entries the last bulk delete removed, shown
	// once after it.
	Deleted int
	// CSRF is the session's token, posted by the bulk delete form.
	CSRF string
	// Live is the page's live channel.
	Live Live
}

// BatchFilter is what My batches is filtered and sorted by.
type BatchFilter struct {
	Status string // "" for all
	Model  string // "" for all
	Query  string // name search
	Sort   string // one of SortOrders' values; "" is newest first
}

// Active reports whether any filter narrows the list.
func (f BatchFilter) Active() bool { return f.Status != "" || f.Model != "" || f.Query != "" }

// SortOrders are My batches' orders: the API's sort value and its label.
var SortOrders = []Option{
	{Value: "", Label: "Newest first"},
	{Value: "oldest", Label: "Oldest first"},
	{Value: "name", Label: "Name, A to Z"},
	{Value: "name_desc", Label: "Name, Z to A"},
}

// Option is one choice of a select.
type Option struct{ Value, Label string }

// SortLabel is the label of an order, for the table's caption.
func SortLabel(sort string) string {
	for _, o := range SortOrders {
		if o.Value == sort {
			return o.Label
		}
	}
	return sort
}

// ListQuery is the filter as the API's list query.
func (f BatchFilter) ListQuery() api.ListQuery {
	return api.ListQuery{Status: f.Status, Model: f.Model, Q: f.Query, Sort: f.Sort, IncludeJobs: true}
}

// Empty reports whether there is nothing to list and no error: the first
// page, unfiltered, with no work.
func (p BatchesPage) Empty() bool {
	return p.Error == "" && len(p.Batches) == 0 && !p.Filter.Active() && p.Page <= 1
}

// NoMatch reports whether a filtered or later page came back empty.
func (p BatchesPage) NoMatch() bool {
	return p.Error == "" && len(p.Batches) == 0 && !p.Empty()
}

// url is this page with another page number and filter.
func (p BatchesPage) url(page int, f BatchFilter) string {
	q := url.Values{"status": {f.Status}, "model": {f.Model}, "q": {f.Query}, "sort": {f.Sort}}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if p.PageSize > 0 && p.PageSize != DefaultBatchPageSize {
		q.Set("page_size", strconv.Itoa(p.PageSize))
	}
	return pageURL(PathBatches, q)
}

// DefaultBatchPageSize is the page size of My batches when none is asked
// for.
const DefaultBatchPageSize = 25

// SelfURL is the URL of this very page, which the table reloads from.
func (p BatchesPage) SelfURL() string { return p.url(p.Page, p.Filter) }

// PrevURL is the previous page's URL, "" on the first page.
func (p BatchesPage) PrevURL() string {
	if p.Page <= 1 {
		return ""
	}
	return p.url(p.Page-1, p.Filter)
}

// NextURL is the next page's URL, "" on the last page.
func (p BatchesPage) NextURL() string {
	if !p.HasMore {
		return ""
	}
	return p.url(max(p.Page, 1)+1, p.Filter)
}

// AllURL is the first page with no filter, in the same order.
func (p BatchesPage) AllURL() string { return p.url(1, BatchFilter{Sort: p.Filter.Sort}) }

// Caption describes the list for screen readers and the eye.
func (p BatchesPage) Caption() string {
	s := "Your batches and single jobs, " + strings.ToLower(SortLabel(p.Filter.Sort))
	if p.Filter.Active() {
		s += ", filtered"
	}
	return s
}

// Created is when a batch was made, relative to now.
func (p BatchesPage) Created(b api.Batch) string { return RelativeTime(b.CreatedAt, p.Now) }

// CancelURL is the API route that cancels the batch (the page's script
// sends the CSRF token with it).
func (p BatchesPage) CancelURL(b api.Batch) string { return CancelURL(b) }

// CancelURL is the API route that cancels the batch or the single job.
func CancelURL(b api.Batch) string {
	if IsJob(b) {
		return api.Prefix + "/jobs/" + url.PathEscape(b.BatchID) + "/cancel"
	}
	return api.Prefix + "/batches/" + url.PathEscape(b.BatchID) + "/control/cancel"
}

// DeleteURL is the API route that deletes the batch or the single job.
func DeleteURL(b api.Batch) string {
	if IsJob(b) {
		return api.Prefix + "/jobs/" + url.PathEscape(b.BatchID)
	}
	return api.Prefix + "/batches/" + url.PathEscape(b.BatchID)
}

// IsJob reports whether a list entry is a single job.
func IsJob(b api.Batch) bool { return b.Kind == api.KindJob }

// KindLabel names an entry's kind.
func KindLabel(b api.Batch) string {
	if IsJob(b) {
		return "Single job"
	}
	return "Batch"
}

// EntryPath is the page of a list entry: a batch's results or a job's page.
func EntryPath(b api.Batch) string {
	if IsJob(b) {
		return JobPath(b.BatchID)
	}
	return BatchResultsPath(b.BatchID)
}

// Cancellable reports whether a batch still has work to stop.
func Cancellable(b api.Batch) bool { return b.Status == "pending" || b.Status == "running" }

// Deletable reports whether an entry has ended and may be deleted. A
// batch still being finalized answers 409 when deleted, which the page
// shows.
func Deletable(b api.Batch) bool { return !Cancellable(b) }

// DeleteConfirm is the question asked before one entry is deleted.
func DeleteConfirm(b api.Batch) string {
	return "Delete " + strings.ToLower(KindLabel(b)) + " " + b.JobName + " and all its result files? This cannot be undone."
}

// ProgressValue is the value of the progress bar: ended jobs, as a whole
// percent.
func ProgressValue(p api.Progress) string {
	return strconv.Itoa(int(p.Percent + 0.5))
}

// ProgressText counts a batch's jobs in words: "2 of 3 done (66.7%)",
// with failures and cancellations named when there are any.
func ProgressText(p api.Progress) string {
	done := p.Completed + p.Failed + p.Cancelled
	s := fmt.Sprintf("%d of %d done (%s)", done, p.Total, FormatPercent(p.Percent))
	if p.Running > 0 {
		s += fmt.Sprintf(", %d running", p.Running)
	}
	if p.Failed > 0 {
		s += fmt.Sprintf(", %d failed", p.Failed)
	}
	if p.Cancelled > 0 {
		s += fmt.Sprintf(", %d cancelled", p.Cancelled)
	}
	return s
}

// ModelLabel is a batch's model with its version when known.
func ModelLabel(name, version string) string {
	if version == "" {
		return name
	}
	return name + " " + version
}

// PageNumber is the current page's number, as text.
func (p BatchesPage) PageNumber() string { return strconv.Itoa(max(p.Page, 1)) }

// DeletedText says how many entries a bulk delete removed.
func DeletedText(n int) string {
	if n == 1 {
		return "Deleted 1 entry and its result files."
	}
	return fmt.Sprintf("Deleted %d entries and their result files.", n)
}

// MaxBulkDelete is the most entries one bulk delete takes.
const MaxBulkDelete = 500

// DeletePage is the view model of the bulk delete's confirmation, and of
// its outcome when some entries could not be deleted.
type DeletePage struct {
	CSRF string
	// Entries are the selected entries that will be (or, after the
	// confirmation, were) deleted.
	Entries []api.Batch
	// Problems are the selected entries that cannot be deleted, and why.
	Problems []DeleteProblem
	// Done is set after the confirmation: Entries were deleted.
	Done bool
}

// DeleteProblem is an entry a bulk delete left, with the reason.
type DeleteProblem struct {
	ID, Name, Reason string
}

// Title is the page's heading.
func (p DeletePage) Title() string {
	switch {
	case p.Done:
		return "Some entries were not deleted"
	case len(p.Entries) == 1:
		return "Delete 1 entry?"
	default:
		return fmt.Sprintf("Delete %d entries?", len(p.Entries))
	}
}

// ConfirmLabel is the confirmation button's label.
func (p DeletePage) ConfirmLabel() string {
	if len(p.Entries) == 1 {
		return "Delete 1 entry"
	}
	return fmt.Sprintf("Delete %d entries", len(p.Entries))
}
