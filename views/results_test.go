package views

import (
	"slices"
	"testing"

	"omtx/api"
)

func vinaResults() ResultsView {
	aff := api.Metric{Name: "affinity", Label: "Best affinity", Unit: "kcal/mol", Better: "lower", Primary: true}
	le := api.Metric{Name: "ligand_efficiency", Label: "Ligand efficiency", Unit: "kcal/mol per heavy atom", Better: "higher"}
	return ResultsView{
		Batch: api.Batch{BatchID: "b1", JobName: "screen", ModelName: "vina", ProteinName: "ABL1 kinase", Target: "ABL1"},
		Results: api.ResultsPage{
			Affinity: aff, Metrics: []api.Metric{aff, le}, Sort: "affinity", Order: "asc",
			Page: 2, PageSize: 2, Total: 5, TotalPages: 3,
			Rows: []api.ResultRow{{JobID: "j3", Index: 2}, {JobID: "j4", Index: 3}},
		},
		Query: api.ResultsQuery{Page: 2, PageSize: 2, Q: "ab", Status: "completed"},
	}
}

func TestResultsColumns(t *testing.T) {
	v := vinaResults()
	var headers, keys []string
	for _, c := range v.Columns() {
		headers, keys = append(headers, c.Header), append(keys, c.Key)
	}
	want := []string{"#", "Ligand", "SMILES", "Status", "Best affinity (kcal/mol, lower is better)", "Ligand efficiency (kcal/mol per heavy atom, higher is better)"}
	if !slices.Equal(headers, want) {
		t.Errorf("headers %q", headers)
	}
	if !slices.Equal(keys, []string{"index", "ligand_name", "", "status", "affinity", "ligand_efficiency"}) {
		t.Errorf("keys %q", keys)
	}
	cols := v.MetricColumns()
	x, le := -7.14, 0.2381
	r := api.ResultRow{Affinity: &x, Metrics: map[string]float64{"affinity": x, "ligand_efficiency": le}}
	if cols[0].Cell(r) != "-7.14" || cols[1].Cell(r) != "0.238" {
		t.Errorf("cells %q %q", cols[0].Cell(r), cols[1].Cell(r))
	}
	if got := cols[0].Cell(api.ResultRow{}); got != "–" {
		t.Errorf("pending cell %q", got)
	}
}

func TestResultsSortURLs(t *testing.T) {
	v := vinaResults()
	cols := v.Columns()
	aff, le, name := cols[4], cols[5], cols[1]
	if v.AriaSort(aff) != "ascending" || v.AriaSort(le) != "none" || v.AriaSort(cols[2]) != "none" {
		t.Errorf("aria-sort %q %q", v.AriaSort(aff), v.AriaSort(le))
	}
	// The current column flips; the search, filter and page size stay;
	// the page starts over.
	if got := v.SortURL(aff); got != "/batch-results/b1?order=desc&page_size=2&q=ab&sort=affinity&status=completed" {
		t.Errorf("flip %q", got)
	}
	// Another column starts with the hub's default order (best first).
	if got := v.SortURL(le); got != "/batch-results/b1?page_size=2&q=ab&sort=ligand_efficiency&status=completed" {
		t.Errorf("other %q", got)
	}
	v.Results.Sort, v.Results.Order = "ligand_name", "desc"
	if v.AriaSort(name) != "descending" || v.AriaSort(aff) != "none" {
		t.Error("aria-sort follows the hub's sort")
	}
	if got := v.SortURL(name); got != "/batch-results/b1?order=asc&page_size=2&q=ab&sort=ligand_name&status=completed" {
		t.Errorf("flip back %q", got)
	}
}

func TestResultsPaging(t *testing.T) {
	v := vinaResults()
	if got := v.PrevURL(); got != "/batch-results/b1?page_size=2&q=ab&status=completed" {
		t.Errorf("prev %q", got)
	}
	if got := v.NextURL(); got != "/batch-results/b1?page=3&page_size=2&q=ab&status=completed" {
		t.Errorf("next %q", got)
	}
	if got := v.Summary(); got != "Rows 3–4 of 5" {
		t.Errorf("summary %q", got)
	}
	if got := v.PageText(); got != "Page 2 of 3" {
		t.Errorf("page %q", got)
	}
	v.Results.Page = 3
	if v.NextURL() != "" {
		t.Error("the last page links further")
	}
	if got := (ResultsView{}).Summary(); got != "No rows" {
		t.Errorf("empty %q", got)
	}
}

func TestResultsRanking(t *testing.T) {
	v := vinaResults()
	if got := v.Ranking(); got != "Best first: lowest Best affinity first (lower is better)." {
		t.Errorf("vina %q", got)
	}
	v.Results.Affinity = api.Metric{Name: "aggregate_score", Label: "Aggregate score", Better: "higher"}
	if got := v.Ranking(); got != "Best first: highest Aggregate score first (higher is better)." {
		t.Errorf("chai %q", got)
	}
	x := -9.2
	v.Top = &api.Analytics{Affinity: api.Metric{Name: "affinity", Label: "Best affinity", Unit: "kcal/mol", Better: "lower"}}
	if got := v.TopHeading(); got != "Top performers by Best affinity (kcal/mol, lower is better)" {
		t.Errorf("top %q", got)
	}
	if got := v.TopAffinity(api.ResultRow{Affinity: &x}); got != "-9.2 kcal/mol" {
		t.Errorf("top affinity %q", got)
	}
}

func TestResultsDownloads(t *testing.T) {
	v := vinaResults()
	if d := v.Downloads(api.ResultRow{JobID: "j1", Status: "running"}); d != nil {
		t.Errorf("running row offers %v", d)
	}
	d := v.Downloads(api.ResultRow{JobID: "j1", Status: "completed"})
	if len(d) != 2 || d[0].URL != "/api/v3/batches/b1/jobs/j1/download/cif" || d[1].URL != "/api/v3/batches/b1/jobs/j1/files/poses.sdf" {
		t.Errorf("downloads %+v", d)
	}
	v.Batch.ModelName = "boltz2"
	if d := v.Downloads(api.ResultRow{JobID: "j1", Status: "completed"}); len(d) != 1 {
		t.Errorf("boltz2 offers poses: %+v", d)
	}
	if got := v.Exports()[2].URL; got != "/api/v3/batches/b1/export/zip" {
		t.Errorf("zip %q", got)
	}
	if got := v.Target(); got != "ABL1 kinase (ABL1)" {
		t.Errorf("target %q", got)
	}
	up := ResultsView{Batch: api.Batch{ProteinName: "my kinase", Receptor: &api.Receptor{Name: "abl.pdb", Residues: 277, Chains: []string{"A"}}}}
	if got := up.Target(); got != "my kinase: uploaded receptor abl.pdb (277 residues, chains A)" {
		t.Errorf("uploaded receptor %q", got)
	}
}
