package views

import (
	"net/url"

	"omtx/api"
)

// TabStructures is the results page's 3D viewer tab.
const TabStructures = "structures"

// MaxStructures is how many completed ligands the Structures tab steps
// through.
const MaxStructures = 1000

// StructureFile is the complex structure a completed job writes.
const StructureFile = "structure.cif"

// StructuresView is the Structures tab: the batch's completed ligands in
// the table's order (best first by default) and the one shown.
type StructuresView struct {
	BatchID string
	// Rows are the completed ligands, in order.
	Rows []api.ResultRow
	// Affinity describes the rows' primary score.
	Affinity api.Metric
	// Selected is the index in Rows of the ligand shown.
	Selected int
	// Query keeps the table's sort and search in the tab's links.
	Query api.ResultsQuery
}

// NewStructuresView selects the row of job jobID, the first when it is
// empty or not among the rows.
func NewStructuresView(batchID string, page api.ResultsPage, q api.ResultsQuery, jobID string) StructuresView {
	v := StructuresView{BatchID: batchID, Affinity: page.Affinity, Query: q}
	for _, r := range page.Rows {
		if r.Status == "completed" {
			v.Rows = append(v.Rows, r)
		}
	}
	for i, r := range v.Rows {
		if r.JobID == jobID {
			v.Selected = i
		}
	}
	return v
}

// Empty reports whether no ligand has completed yet.
func (v StructuresView) Empty() bool { return len(v.Rows) == 0 }

// Current is the ligand shown.
func (v StructuresView) Current() api.ResultRow {
	if v.Empty() {
		return api.ResultRow{}
	}
	return v.Rows[min(max(v.Selected, 0), len(v.Rows)-1)]
}

// StructureURL is the complex structure of a batch's job.
func StructureURL(batchID, jobID string) string {
	return api.Prefix + "/batches/" + url.PathEscape(batchID) + "/jobs/" + url.PathEscape(jobID) + "/files/" + StructureFile
}

// ViewerURL is the structure of the ligand shown.
func (v StructuresView) ViewerURL() string {
	return StructureURL(v.BatchID, v.Current().JobID)
}

// url is the tab showing row i.
func (v StructuresView) url(i int) string {
	q := url.Values{"tab": {TabStructures}}
	for k, x := range map[string]string{"sort": v.Query.Sort, "order": v.Query.Order, "q": v.Query.Q} {
		if x != "" {
			q.Set(k, x)
		}
	}
	q.Set("job", v.Rows[i].JobID)
	return BatchResultsPath(v.BatchID) + "?" + q.Encode()
}

// PrevURL is the previous ligand, "" on the first.
func (v StructuresView) PrevURL() string {
	if v.Empty() || v.Selected <= 0 {
		return ""
	}
	return v.url(v.Selected - 1)
}

// NextURL is the next ligand, "" on the last.
func (v StructuresView) NextURL() string {
	if v.Empty() || v.Selected >= len(v.Rows)-1 {
		return ""
	}
	return v.url(v.Selected + 1)
}

// AffinityText is the shown ligand's primary score with its unit.
func (v StructuresView) AffinityText() string {
	r := v.Current()
	s := FormatOptional(r.Affinity)
	if r.Affinity != nil && v.Affinity.Unit != "" {
		s += " " + v.Affinity.Unit
	}
	return s
}

// AffinityLabel names the primary score.
func (v StructuresView) AffinityLabel() string {
	if v.Affinity.Name == "" {
		return "Affinity"
	}
	return labelOf(v.Affinity)
}

// Position is "2 of 7".
func (v StructuresView) Position() string {
	return itoa(v.Selected+1) + " of " + itoa(len(v.Rows))
}

// JobStructureURL is the job page's structure, "" until the job completed
// with one.
func (v JobView) StructureURL() string {
	if v.Job.Status != "completed" || v.Job.FilesURL == "" {
		return ""
	}
	for _, f := range v.Job.Files {
		if f == StructureFile {
			return v.Job.FilesURL + StructureFile
		}
	}
	return ""
}

// ParseResultsTab reads the results page's tab parameter: the Structures
// tab, else ParseTab's.
func ParseResultsTab(s string) string {
	if s == TabStructures {
		return s
	}
	return ParseTab(s)
}

// ResultsTabs are the results page's tabs, the Structures tab included,
// the current one marked.
func (v ResultsView) ResultsTabs() []Tab {
	tabs := append(v.Tabs(), Tab{Key: TabStructures, Label: "Structures", URL: v.Path() + "?tab=" + TabStructures})
	cur := ParseResultsTab(v.Tab)
	for i := range tabs {
		tabs[i].Current = tabs[i].Key == cur
	}
	return tabs
}
