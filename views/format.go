package views

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"omtx/api"
)

// Shell is what every page's frame needs: the signed-in user, the CSRF
// token the page's scripts send back, and the hashed asset URLs.
type Shell struct {
	Title string
	// SignedIn is false for an anonymous visitor; UserName is then empty.
	SignedIn bool
	UserName string
	CSRF     string
	Assets   AssetURLs
	// Section is the nav entry of the current page: SectionHome,
	// SectionBatches or "".
	Section string
	// NewPredictionURL is the page that starts a prediction; "" while
	// there is none, and the nav then shows the entry as plain text.
	NewPredictionURL string
}

// AssetURLs are the content-hashed URLs of the pages' stylesheet and
// scripts; an empty URL leaves its tag out.
type AssetURLs struct {
	CSS  string
	HTMX string
	// WS is htmx's WebSocket extension, given to live pages only.
	WS string
	JS string
	// Depict draws the ligands' 2D depictions: smiles-drawer, then
	// depict.js.
	Depict []string
	// Viewer is the Mol* structure viewer (molstar.js, then viewer.js) and
	// ViewerCSS its stylesheet, given to the pages that show a structure.
	Viewer    []string
	ViewerCSS string
}

// Nav sections.
const (
	SectionHome    = "home"
	SectionBatches = "batches"
)

// Page paths.
const (
	PathHome    = "/"
	PathBatches = "/my-batches"
	// PathBatchesDelete is where My batches' bulk delete posts.
	PathBatchesDelete = "/my-batches/delete"
	PathSignin        = "/signin"
	PathSignout       = "/signout"
)

// BatchResultsPath is the results page of a batch.
func BatchResultsPath(batchID string) string {
	return "/batch-results/" + url.PathEscape(batchID)
}

// JobPath is the page of a job.
func JobPath(jobID string) string { return "/jobs/" + url.PathEscape(jobID) }

// DocumentTitle is the <title>: the page's own title, then the site's.
func (s Shell) DocumentTitle() string {
	if s.Title == "" {
		return "OMTX-Hub"
	}
	return s.Title + " · OMTX-Hub"
}

// Current is the aria-current value of a nav entry: "page" for the
// current section.
func (s Shell) Current(section string) string {
	if s.Section == section {
		return "page"
	}
	return "false"
}

// statusLabels are the words shown for job and batch statuses.
var statusLabels = map[string]string{
	"pending":   "Pending",
	"running":   "Running",
	"completed": "Completed",
	"failed":    "Failed",
	"cancelled": "Cancelled",
}

// Statuses are the statuses a page may filter by, in lifecycle order.
var Statuses = []string{"pending", "running", "completed", "failed", "cancelled"}

// StatusLabel is the text of a status badge.
func StatusLabel(status string) string {
	if l, ok := statusLabels[status]; ok {
		return l
	}
	if status == "" {
		return "Unknown"
	}
	return status
}

// BadgeClass is the CSS class of a status badge; an unknown status gets
// the neutral badge.
func BadgeClass(status string) string {
	if _, ok := statusLabels[status]; ok {
		return "badge status-" + status
	}
	return "badge"
}

// FormatPercent formats 0 to 100 with at most one decimal: "0%", "33.3%",
// "100%".
func FormatPercent(p float64) string {
	if math.IsNaN(p) {
		return "–"
	}
	p = math.Max(0, math.Min(100, p))
	s := strconv.FormatFloat(math.Round(p*10)/10, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// FormatTime is an absolute time in UTC to the minute.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// MachineTime is the datetime attribute of a <time> element.
func MachineTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// RelativeTime says how long before now t was: "just now", "5 minutes
// ago", "3 hours ago", "2 days ago"; past a month, the date.
func RelativeTime(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	}
	return t.UTC().Format("2006-01-02")
}

// Direction says which way a metric is better, in words.
func Direction(m api.Metric) string {
	if m.Better == "higher" {
		return "higher is better"
	}
	return "lower is better"
}

// MetricHeader is a column header: the label with the unit and direction,
// e.g. "Best affinity (kcal/mol, lower is better)".
func MetricHeader(m api.Metric) string {
	label := m.Label
	if label == "" {
		label = m.Name
	}
	if m.Unit == "" {
		return label + " (" + Direction(m) + ")"
	}
	return label + " (" + m.Unit + ", " + Direction(m) + ")"
}

// FormatValue formats a metric's value for a table cell, keeping its
// sign: two decimals with a trailing zero dropped ("-7.1", "-7.14",
// "-9.0"), three for values under one in size ("0.873"), and whole
// numbers for counts.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v == math.Trunc(v) && math.Abs(v) >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) < 1 && v != 0:
		s := strconv.FormatFloat(v, 'f', 3, 64)
		if s == "-0.000" || s == "0.000" {
			return strconv.FormatFloat(v, 'g', 3, 64)
		}
		return s
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if strings.HasSuffix(s, "0") {
		s = s[:len(s)-1]
	}
	if s == "-0.0" {
		s = "0.0"
	}
	return s
}

// FormatOptional formats a value that may be missing.
func FormatOptional(v *float64) string {
	if v == nil {
		return "–"
	}
	return FormatValue(*v)
}

// pageURL is path with the query values, dropping empty ones; the keys are
// sorted, so equal queries give equal URLs.
func pageURL(path string, q url.Values) string {
	clean := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if v != "" {
				clean.Add(k, v)
			}
		}
	}
	if len(clean) == 0 {
		return path
	}
	return path + "?" + clean.Encode()
}
