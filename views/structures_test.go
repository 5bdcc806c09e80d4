package views

import (
	"testing"

	"omtx/api"
)

func structuresPage() api.ResultsPage {
	x, y, z := -9.5, -7.25, -6.0
	return api.ResultsPage{
		Affinity: api.Metric{Name: "affinity", Label: "Best affinity", Unit: "kcal/mol", Better: "lower", Primary: true},
		Rows: []api.ResultRow{
			{JobID: "j1", LigandName: "imatinib", SMILES: "CCN", Status: "completed", Affinity: &x},
			{JobID: "jp", LigandName: "pending one", SMILES: "C", Status: "running"},
			{JobID: "j2", LigandName: "aspirin", SMILES: "CC(=O)O", Status: "completed", Affinity: &y},
			{JobID: "j3", LigandName: "caffeine", SMILES: "CO", Status: "completed", Affinity: &z},
		},
	}
}

func TestStructuresView(t *testing.T) {
	q := api.ResultsQuery{Sort: "affinity", Order: "asc"}
	v := NewStructuresView("b1", structuresPage(), q, "j2")
	if len(v.Rows) != 3 || v.Selected != 1 || v.Current().JobID != "j2" {
		t.Fatalf("rows %d selected %d %q", len(v.Rows), v.Selected, v.Current().JobID)
	}
	if got := v.ViewerURL(); got != "/api/v3/batches/b1/jobs/j2/files/structure.cif" {
		t.Errorf("viewer URL %q", got)
	}
	if got := v.PrevURL(); got != "/batch-results/b1?job=j1&order=asc&sort=affinity&tab=structures" {
		t.Errorf("prev %q", got)
	}
	if got := v.NextURL(); got != "/batch-results/b1?job=j3&order=asc&sort=affinity&tab=structures" {
		t.Errorf("next %q", got)
	}
	if got := v.AffinityText(); got != "-7.25 kcal/mol" {
		t.Errorf("affinity %q", got)
	}
	if got := v.Position(); got != "2 of 3" {
		t.Errorf("position %q", got)
	}
	// An unknown job shows the first (best); its ends have no links.
	first := NewStructuresView("b1", structuresPage(), api.ResultsQuery{}, "nope")
	if first.Current().JobID != "j1" || first.PrevURL() != "" || first.NextURL() == "" {
		t.Errorf("first %q prev %q next %q", first.Current().JobID, first.PrevURL(), first.NextURL())
	}
	last := NewStructuresView("b1", structuresPage(), api.ResultsQuery{}, "j3")
	if last.NextURL() != "" {
		t.Errorf("last has next %q", last.NextURL())
	}
	if !NewStructuresView("b1", api.ResultsPage{}, q, "").Empty() {
		t.Error("no rows is not empty")
	}
}

func TestStructuresTabRender(t *testing.T) {
	rv := vinaResults()
	rv.Tab = TabStructures
	sv := NewStructuresView("b1", structuresPage(), api.ResultsQuery{}, "j2")
	rv.Structures = &sv
	doc := renderDoc(t, ResultsPageView(Shell{}, rv))
	viewer := doc.Find(`[data-testid="structure-viewer"]`)
	if viewer.Length() != 1 {
		t.Fatalf("%d viewers", viewer.Length())
	}
	if got := viewer.AttrOr("data-url", ""); got != "/api/v3/batches/b1/jobs/j2/files/structure.cif" {
		t.Errorf("data-url %q", got)
	}
	if got := viewer.AttrOr("data-format", ""); got != "mmcif" {
		t.Errorf("data-format %q", got)
	}
	prev, next := doc.Find(`[data-testid="structure-prev"]`), doc.Find(`[data-testid="structure-next"]`)
	if prev.AttrOr("href", "") != sv.PrevURL() || prev.AttrOr("data-structure-nav", "") != "prev" {
		t.Errorf("prev %q", prev.AttrOr("href", ""))
	}
	if next.AttrOr("href", "") != sv.NextURL() || next.AttrOr("data-structure-nav", "") != "next" {
		t.Errorf("next %q", next.AttrOr("href", ""))
	}
	if got := doc.Find(`[data-testid="structure-ligand"]`).Text(); got != "aspirin" {
		t.Errorf("ligand %q", got)
	}
	if got := doc.Find(`[data-testid="structure-job"]`).AttrOr("href", ""); got != "/jobs/j2" {
		t.Errorf("job link %q", got)
	}
	if got := doc.Find(`[data-testid="structure-affinity"]`).Text(); got != "-7.25 kcal/mol" {
		t.Errorf("affinity %q", got)
	}
	if got := doc.Find(`[data-testid="structure-depiction"]`).AttrOr("data-smiles", ""); got != "CC(=O)O" {
		t.Errorf("depiction %q", got)
	}
	if cur := doc.Find(`[data-testid="tab-structures"]`).AttrOr("aria-current", ""); cur != "page" {
		t.Errorf("tab aria-current %q", cur)
	}
	if doc.Find(`script:not([src])`).Length() != 0 || doc.Find(`[style]`).Length() != 0 {
		t.Error("inline script or style")
	}

	empty := StructuresView{BatchID: "b1"}
	rv.Structures = &empty
	doc = renderDoc(t, ResultsPageView(Shell{}, rv))
	if doc.Find(`[data-testid="structures-empty"]`).Length() != 1 || doc.Find(`[data-testid="structure-viewer"]`).Length() != 0 {
		t.Error("no empty state")
	}
}

func TestResultRowDepiction(t *testing.T) {
	v := vinaResults()
	r := api.ResultRow{JobID: "j9", LigandName: "x", SMILES: "c1ccccc1O", Status: "completed"}
	doc := renderDoc(t, ResultsTable(ResultsView{Batch: v.Batch, Results: api.ResultsPage{Rows: []api.ResultRow{r}}}))
	d := doc.Find(`[data-testid="result-depiction"]`)
	if d.Length() != 1 || d.AttrOr("data-smiles", "") != "c1ccccc1O" {
		t.Errorf("depiction %d %q", d.Length(), d.AttrOr("data-smiles", ""))
	}
	// The SMILES text stays next to the drawing.
	if got := doc.Find(`[data-testid="result-smiles"] .mono`).Text(); got != "c1ccccc1O" {
		t.Errorf("SMILES text %q", got)
	}
}

func TestJobViewerAndDepiction(t *testing.T) {
	v := vinaJob()
	doc := renderDoc(t, JobPageView(Shell{}, v))
	if got := doc.Find(`[data-testid="structure-viewer"]`).AttrOr("data-url", ""); got != "/api/v3/batches/b1/jobs/j1/files/structure.cif" {
		t.Errorf("viewer data-url %q", got)
	}
	if got := doc.Find(`[data-testid="job-depiction"]`).AttrOr("data-smiles", ""); got != "CCO" {
		t.Errorf("depiction %q", got)
	}
	v.Job.Status = "running"
	doc = renderDoc(t, JobPageView(Shell{}, v))
	if doc.Find(`[data-testid="structure-viewer"]`).Length() != 0 {
		t.Error("a running job shows the viewer")
	}
	if doc.Find(`[data-testid="job-depiction"]`).Length() != 1 {
		t.Error("a running job lacks its depiction")
	}
}
