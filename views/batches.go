package views

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"omtx/api"
)

// BatchesPage is the view model of My batches: one page of the user's
// batches, newest first, with the status filter it was asked for.
type BatchesPage struct {
	Batches  []api.Batch
	Page     int
	PageSize int
	HasMore  bool
	// Status is the status filter; "" for all.
	Status string
	// Now is the time relative times count from.
	Now time.Time
	// Error, when set, is shown instead of the table (the list could not
	// be read); it is safe to show.
	Error string
	// Live is the page's live channel.
	Live Live
}

// Empty reports whether there is nothing to list and no error: the first
// page, unfiltered, with no batches.
func (p BatchesPage) Empty() bool {
	return p.Error == "" && len(p.Batches) == 0 && p.Status == "" && p.Page <= 1
}

// NoMatch reports whether a filtered or later page came back empty.
func (p BatchesPage) NoMatch() bool {
	return p.Error == "" && len(p.Batches) == 0 && !p.Empty()
}

// url is this page with changed query values.
func (p BatchesPage) url(page int, status string) string {
	q := url.Values{"status": {status}}
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
func (p BatchesPage) SelfURL() string { return p.url(p.Page, p.Status) }

// PrevURL is the previous page's URL, "" on the first page.
func (p BatchesPage) PrevURL() string {
	if p.Page <= 1 {
		return ""
	}
	return p.url(p.Page-1, p.Status)
}

// NextURL is the next page's URL, "" on the last page.
func (p BatchesPage) NextURL() string {
	if !p.HasMore {
		return ""
	}
	return p.url(max(p.Page, 1)+1, p.Status)
}

// StatusURL is the first page filtered by status ("" for all).
func (p BatchesPage) StatusURL(status string) string { return p.url(1, status) }

// Created is when a batch was made, relative to now.
func (p BatchesPage) Created(b api.Batch) string { return RelativeTime(b.CreatedAt, p.Now) }

// CancelURL is the API route that cancels the batch (the page's script
// sends the CSRF token with it).
func (p BatchesPage) CancelURL(b api.Batch) string { return CancelURL(b) }

// CancelURL is the API route that cancels the batch.
func CancelURL(b api.Batch) string {
	return api.Prefix + "/batches/" + url.PathEscape(b.BatchID) + "/control/cancel"
}

// Cancellable reports whether a batch still has work to stop.
func Cancellable(b api.Batch) bool { return b.Status == "pending" || b.Status == "running" }

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
