package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"omtx/api"
)

// Sort keys of the results table besides metric names (the hub's).
const (
	SortAffinity   = "affinity"
	SortLigandName = "ligand_name"
	SortIndex      = "index"
	SortStatus     = "status"
)

// DefaultResultsPageSize is the results table's page size when none is
// asked for; ResultsPageSizes are the sizes offered.
const DefaultResultsPageSize = 50

var ResultsPageSizes = []int{25, 50, 100, 250}

// ResultsView is the view model of a batch's results page: the batch, one
// page of its results table as the hub sorted and filtered it, the query
// that asked for it, and the top performers.
type ResultsView struct {
	Batch   api.Batch
	Results api.ResultsPage
	// Query is what the request asked for (empty fields: the defaults);
	// links keep it.
	Query api.ResultsQuery
	// Top is the batch's analytics; nil on a fragment, which has no top
	// performers section.
	Top *api.Analytics
	Now time.Time
	// Error, when set, is shown instead of the table: the query could not
	// be answered. It is safe to show.
	Error string
	// Tab is the tab shown: TabTable ("" too), TabTop or TabDashboard.
	Tab string
	// Dashboard is the dashboard tab's data; nil on the other tabs.
	Dashboard *Dashboard
	// Structures is the Structures tab's data; nil on the other tabs.
	Structures *StructuresView
	// Live is the page's live channel.
	Live Live
}

// Column is a column of the results table.
type Column struct {
	// Key is the sort key; "" for a column that does not sort.
	Key    string
	Header string
	// Numeric columns are right-aligned.
	Numeric bool
	// metric is the metric the column shows; nil for the others.
	metric  *api.Metric
	primary bool
}

// Path is the page's own path.
func (v ResultsView) Path() string { return BatchResultsPath(v.Batch.BatchID) }

// Columns are the table's columns: the ligand's position, name, SMILES
// and status, the primary score, then the model's other metrics, each
// metric with its unit and direction.
func (v ResultsView) Columns() []Column {
	cols := []Column{
		{Key: SortIndex, Header: "#", Numeric: true},
		{Key: SortLigandName, Header: "Ligand"},
		{Header: "SMILES"},
		{Key: SortStatus, Header: "Status"},
	}
	aff := v.Results.Affinity
	if aff.Name != "" {
		cols = append(cols, Column{Key: SortAffinity, Header: MetricHeader(aff), Numeric: true, metric: &aff, primary: true})
	}
	for i := range v.Results.Metrics {
		m := v.Results.Metrics[i]
		if m.Name == aff.Name {
			continue
		}
		cols = append(cols, Column{Key: m.Name, Header: MetricHeader(m), Numeric: true, metric: &m})
	}
	return cols
}

// MetricColumns are the columns that show a metric.
func (v ResultsView) MetricColumns() []Column {
	var out []Column
	for _, c := range v.Columns() {
		if c.metric != nil {
			out = append(out, c)
		}
	}
	return out
}

// Cell is a row's formatted value in a metric column; "–" when missing.
func (c Column) Cell(r api.ResultRow) string {
	if c.metric == nil {
		return ""
	}
	if c.primary {
		return FormatOptional(r.Affinity)
	}
	if x, ok := r.Metrics[c.metric.Name]; ok {
		return FormatValue(x)
	}
	return "–"
}

// sortedBy reports whether the table is sorted by the column.
func (v ResultsView) sortedBy(c Column) bool {
	if c.Key == "" {
		return false
	}
	if c.primary {
		return v.Results.Sort == v.Results.Affinity.Name || v.Results.Sort == SortAffinity
	}
	return v.Results.Sort == c.Key
}

// AriaSort is the column's aria-sort: how the table is sorted by it.
func (v ResultsView) AriaSort(c Column) string {
	if !v.sortedBy(c) {
		return "none"
	}
	if v.Results.Order == "desc" {
		return "descending"
	}
	return "ascending"
}

// query is the page's query with the given changes, sort and filters kept.
func (v ResultsView) query(page int) url.Values {
	q := url.Values{
		"sort":   {v.Query.Sort},
		"order":  {v.Query.Order},
		"q":      {v.Query.Q},
		"status": {v.Query.Status},
	}
	if v.Query.PageSize > 0 && v.Query.PageSize != DefaultResultsPageSize {
		q.Set("page_size", strconv.Itoa(v.Query.PageSize))
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	return q
}

// SortURL sorts by the column from the first page, keeping the search,
// filter and page size: the current column flips its order, another
// column starts with the hub's default (best first for scores).
func (v ResultsView) SortURL(c Column) string {
	q := v.query(1)
	q.Set("sort", c.Key)
	q.Del("order")
	if v.sortedBy(c) {
		if v.Results.Order == "desc" {
			q.Set("order", "asc")
		} else {
			q.Set("order", "desc")
		}
	}
	return pageURL(v.Path(), q)
}

// PageURL is page n of the same query.
func (v ResultsView) PageURL(n int) string { return pageURL(v.Path(), v.query(n)) }

// PrevURL is the previous page, "" on the first.
func (v ResultsView) PrevURL() string {
	if v.Results.Page <= 1 {
		return ""
	}
	return v.PageURL(v.Results.Page - 1)
}

// NextURL is the next page, "" on the last.
func (v ResultsView) NextURL() string {
	if v.Results.Page >= v.Results.TotalPages {
		return ""
	}
	return v.PageURL(v.Results.Page + 1)
}

// PageSize is the page size in effect.
func (v ResultsView) PageSize() int {
	if v.Results.PageSize > 0 {
		return v.Results.PageSize
	}
	return DefaultResultsPageSize
}

// Summary says which rows the page shows: "Rows 1–50 of 1,128".
func (v ResultsView) Summary() string {
	r := v.Results
	if r.Total == 0 {
		return "No rows"
	}
	from := (max(r.Page, 1)-1)*v.PageSize() + 1
	to := from + len(r.Rows) - 1
	return "Rows " + strconv.Itoa(from) + "–" + strconv.Itoa(to) + " of " + strconv.Itoa(r.Total)
}

// PageText is "Page 2 of 7".
func (v ResultsView) PageText() string {
	return "Page " + strconv.Itoa(max(v.Results.Page, 1)) + " of " + strconv.Itoa(max(v.Results.TotalPages, 1))
}

// Ranking states how the table is ranked by default: the primary score
// and its direction.
func (v ResultsView) Ranking() string {
	aff := v.Results.Affinity
	if aff.Name == "" {
		return ""
	}
	if aff.Better == "higher" {
		return "Best first: highest " + labelOf(aff) + " first (" + Direction(aff) + ")."
	}
	return "Best first: lowest " + labelOf(aff) + " first (" + Direction(aff) + ")."
}

func labelOf(m api.Metric) string {
	if m.Label != "" {
		return m.Label
	}
	return m.Name
}

// TopHeading titles the top performers with the score and its direction.
func (v ResultsView) TopHeading() string {
	if v.Top == nil || v.Top.Affinity.Name == "" {
		return "Top performers"
	}
	return "Top performers by " + MetricHeader(v.Top.Affinity)
}

// TopAffinity formats a top performer's score with its unit.
func (v ResultsView) TopAffinity(r api.ResultRow) string {
	s := FormatOptional(r.Affinity)
	if v.Top != nil && v.Top.Affinity.Unit != "" && r.Affinity != nil {
		s += " " + v.Top.Affinity.Unit
	}
	return s
}

// Rank is a top performer's 1-based rank, as text.
func Rank(i int) string { return strconv.Itoa(i + 1) }

// Position is a row's 1-based position in the submitted library.
func Position(r api.ResultRow) string { return strconv.Itoa(r.Index + 1) }

// Target names what the batch ran against: the protein's name, the
// bundled target, or both.
func (v ResultsView) Target() string {
	b := v.Batch
	if r := b.Receptor; r != nil {
		s := "uploaded receptor " + r.Name + " (" + strconv.Itoa(r.Residues) + " residues, chains " + strings.Join(r.Chains, ", ") + ")"
		if b.ProteinName != "" {
			s = b.ProteinName + ": " + s
		}
		return s
	}
	switch {
	case b.ProteinName != "" && b.Target != "" && b.ProteinName != b.Target:
		return b.ProteinName + " (" + b.Target + ")"
	case b.ProteinName != "":
		return b.ProteinName
	}
	return b.Target
}

// Export is a download of the whole batch.
type Export struct {
	Label, URL, TestID string
}

// Exports are the batch's downloads.
func (v ResultsView) Exports() []Export {
	base := api.Prefix + "/batches/" + url.PathEscape(v.Batch.BatchID) + "/export/"
	return []Export{
		{Label: "Results table (CSV)", URL: base + "csv", TestID: "export-csv"},
		{Label: "Aggregated results (JSON)", URL: base + "json", TestID: "export-json"},
		{Label: "Every job's files (ZIP)", URL: base + "zip", TestID: "export-zip"},
	}
}

// jobBase is the API prefix of a batch job's routes.
func (v ResultsView) jobBase(r api.ResultRow) string {
	return api.Prefix + "/batches/" + url.PathEscape(v.Batch.BatchID) + "/jobs/" + url.PathEscape(r.JobID)
}

// Downloads are a row's files: the complex structure and, for docking,
// the poses. None until the job completed.
func (v ResultsView) Downloads(r api.ResultRow) []Export {
	if r.Status != "completed" {
		return nil
	}
	out := []Export{{Label: "structure.cif", URL: v.jobBase(r) + "/download/cif", TestID: "download-cif"}}
	if v.Batch.ModelName == "vina" {
		out = append(out, Export{Label: "poses.sdf", URL: v.jobBase(r) + "/files/poses.sdf", TestID: "download-sdf"})
	}
	return out
}

// StatusSelected reports whether the status filter is st.
func (v ResultsView) StatusSelected(st string) bool { return v.Query.Status == st }

// PageSizeSelected reports whether n is the page size in effect.
func (v ResultsView) PageSizeSelected(n int) bool { return v.PageSize() == n }
