package views

import (
	"strings"
	"testing"

	"omtx/api"
)

func fptr(v float64) *float64 { return &v }

// vinaModel is a model shaped like the Vina adapter's.
func vinaModel() api.Model {
	return api.Model{Name: "vina", Description: "Docking.", Resource: "cpu", Available: true, Ligands: true, Fields: []api.Field{
		{Name: "target", Label: "Target", Type: "target", Required: true, Enum: []string{"ABL1", "EGFR"}, Top: true, Help: "Bundled receptor."},
		{Name: "exhaustiveness", Label: "Exhaustiveness", Type: "integer", Default: 8, Min: fptr(1), Max: fptr(32), Help: "Search effort"},
		{Name: "energy_range", Label: "Energy range", Type: "number", Default: 3.0, Min: fptr(0)},
		{Name: "fast", Label: "Fast", Type: "boolean", Default: true},
	}}
}

func boltzModel() api.Model {
	return api.Model{Name: "boltz2", Resource: "gpu", Reason: "boltz is not installed", Ligands: true, Fields: []api.Field{
		{Name: "protein_sequence", Label: "Protein sequence", Type: "sequence", Required: true, Top: true, Min: fptr(10), Max: fptr(2000)},
		{Name: "method", Label: "Method", Type: "enum", Enum: []string{"a", "b"}},
	}}
}

func TestNewPredictionHref(t *testing.T) {
	if got := (Shell{}).NewPredictionHref(); got != "" {
		t.Errorf("anonymous %q", got)
	}
	if got := (Shell{SignedIn: true}).NewPredictionHref(); got != "/" {
		t.Errorf("signed in %q", got)
	}
	if got := (Shell{NewPredictionURL: "/new"}).NewPredictionHref(); got != "/new" {
		t.Errorf("set %q", got)
	}
}

func TestModelHelpers(t *testing.T) {
	if got := Unavailable(boltzModel()); got != "cannot run here: boltz is not installed" {
		t.Errorf("%q", got)
	}
	if Unavailable(vinaModel()) != "" || ResourceLabel(vinaModel()) != "CPU" || ResourceLabel(boltzModel()) != "GPU" {
		t.Error("available model or resources")
	}
	if got := ModelURL("a b&c"); got != "/?model=a+b%26c" {
		t.Errorf("%q", got)
	}
	v := NewJobView{Models: []api.Model{boltzModel(), vinaModel()}, Model: "boltz2"}
	if v.CanSubmit() {
		t.Error("an unavailable model can be submitted")
	}
	v.Model = "vina"
	if !v.CanSubmit() {
		t.Error("vina cannot be submitted")
	}
	if (NewJobView{Models: v.Models, Model: "nope"}).CanSubmit() {
		t.Error("an unknown model can be submitted")
	}
}

func TestFormFields(t *testing.T) {
	v := NewJobView{Models: []api.Model{vinaModel()}, Model: "vina",
		Targets: []Target{{ID: "ABL1", Name: "ABL1 kinase domain", PDBID: "1IEP", Description: "imatinib site",
			Center: [3]float64{15.19, 53.903, 16.917}, Size: [3]float64{20, 20, 20}}},
		Values: map[string]string{"exhaustiveness": "eight"}, Errors: map[string]string{"exhaustiveness": "must be a whole number"}}
	fs := v.Fields()
	if len(fs) != 4 {
		t.Fatalf("%d fields", len(fs))
	}
	target, ex, er, fast := fs[0], fs[1], fs[2], fs[3]

	if target.Control() != "select" || target.InputName() != "target" || target.Value != "" || len(target.Options) != 2 {
		t.Errorf("target: %+v", target)
	}
	if got := target.Options[0].Label(); got != "ABL1: ABL1 kinase domain (PDB 1IEP)" {
		t.Errorf("label %q", got)
	}
	if got := target.Options[1].Label(); got != "EGFR" {
		t.Errorf("an unknown target is its id: %q", got)
	}
	if got := target.Options[0].BoxText(); got != "center (15.19, 53.903, 16.917) Å, size 20 × 20 × 20 Å" {
		t.Errorf("box %q", got)
	}
	if target.Options[1].BoxText() != "" {
		t.Error("a box for an unknown target")
	}

	if ex.Control() != "input" || ex.InputType() != "number" || ex.Step() != "1" || ex.MinAttr() != "1" || ex.MaxAttr() != "32" {
		t.Errorf("exhaustiveness: %s %s %s %s", ex.InputType(), ex.Step(), ex.MinAttr(), ex.MaxAttr())
	}
	if ex.Value != "eight" || !ex.Typed || ex.InputName() != "parameters.exhaustiveness" {
		t.Errorf("the typed value is kept: %+v", ex)
	}
	if got := ex.HelpText(); got != "Search effort. Whole number from 1 to 32; default 8." {
		t.Errorf("help %q", got)
	}
	if got := ex.DescribedBy(); got != "field-exhaustiveness-help field-exhaustiveness-error" {
		t.Errorf("described by %q", got)
	}

	if er.Value != "3" || er.Step() != "any" || er.MaxAttr() != "" || er.HelpText() != "Number of at least 0; default 3." {
		t.Errorf("energy range: %q %q %q", er.Value, er.MaxAttr(), er.HelpText())
	}
	if er.DescribedBy() != "field-energy_range-help" {
		t.Errorf("described by %q", er.DescribedBy())
	}
	if fast.Control() != "checkbox" || !fast.Checked() || fast.HelpText() != "" || fast.DescribedBy() != "" {
		t.Errorf("boolean: %+v", fast)
	}

	b := NewJobView{Models: []api.Model{boltzModel()}, Model: "boltz2"}.Fields()
	if b[0].Control() != "textarea" || b[0].MinAttr() != "" || b[0].MaxAttr() != "" {
		t.Errorf("a sequence's length bounds are no value bounds: %+v", b[0])
	}
	if b[1].Control() != "select" || len(b[1].Options) != 2 || !(FormField{Value: "B"}).Selected("b") {
		t.Errorf("enum: %+v", b[1])
	}
	if (NewJobView{Model: "none"}).Fields() != nil {
		t.Error("fields without a model")
	}
}

func TestNewJobErrors(t *testing.T) {
	v := NewJobView{Errors: map[string]string{"job_name": "too long"}}
	if !v.HasErrors() || v.ErrorCount() != "1 problem" || v.Invalid("job_name") != "true" || v.Invalid("ligands") != "false" {
		t.Errorf("%v %q", v.HasErrors(), v.ErrorCount())
	}
	v.Problems = []api.Problem{{Row: 1}, {Row: 2}}
	v.Problem = "refused"
	if v.ErrorCount() != "4 problems" {
		t.Errorf("%q", v.ErrorCount())
	}
	if (NewJobView{}).HasErrors() {
		t.Error("an empty form has errors")
	}
	if describedBy("h", "e", "") != "h" || describedBy("h", "e", "bad") != "h e" {
		t.Error("describedBy")
	}
}

func TestProblemText(t *testing.T) {
	cases := []struct {
		p    api.Problem
		want string
	}{
		{api.Problem{Row: 3, Name: "benzene?", Field: "smiles", Message: "position 4: unclosed ring 1"}, "row 3 (benzene?) smiles: position 4: unclosed ring 1"},
		{api.Problem{Row: 3, Line: 4, Name: "x", Field: "smiles", Message: "bad"}, "row 3, line 4 (x) smiles: bad"},
		{api.Problem{Row: 2, Line: 2, Field: "smiles", Message: "bad"}, "row 2 smiles: bad"},
		{api.Problem{Line: 7, Message: "malformed"}, "line 7: malformed"},
		{api.Problem{Message: "no SMILES column"}, "no SMILES column"},
	}
	for _, c := range cases {
		if got := ProblemText(c.p); got != c.want {
			t.Errorf("%+v: %q, want %q", c.p, got, c.want)
		}
	}
}

func TestNewLigandCheck(t *testing.T) {
	mw, heavy := 180.1574, 13
	r := &api.ValidateLigandsResponse{Valid: 2, Invalid: 2, Results: []api.LigandCheck{
		{Index: 0, Name: "aspirin", SMILES: "CC(=O)Oc1ccccc1C(=O)O", Valid: true, Formula: "C9H8O4", MolecularWeight: &mw, HeavyAtoms: &heavy},
		{Index: 1, Name: "bad", Error: &api.ErrorDetail{Field: "smiles", Message: "row 2, field smiles: position 4: unclosed ring 1"}},
		{Index: 2, Name: "ethanol", SMILES: "CCO", Valid: true},
		{Index: 3, Row: 4, Line: 9, Name: "worse", Error: &api.ErrorDetail{Field: "smiles", Message: "row 4 (line 9), field smiles: empty SMILES"}},
	}}
	c := NewLigandCheck("Pasted ligands", r, []int{1, 3, 4, 5})
	if c.Summary() != "2 valid, 2 invalid" || len(c.Rows) != 2 || len(c.Problems) != 2 {
		t.Fatalf("%+v", c)
	}
	if got := ProblemText(c.Problems[0]); got != "row 2, line 3 (bad) smiles: position 4: unclosed ring 1" {
		t.Errorf("%q", got)
	}
	if got := ProblemText(c.Problems[1]); got != "row 4, line 9 (worse) smiles: empty SMILES" {
		t.Errorf("%q", got)
	}
	if c.Rows[0].Weight() != "180.16" || c.Rows[0].Heavy() != "13" || c.Rows[1].Weight() != "–" || c.Rows[1].RowText() != "3" {
		t.Errorf("rows %+v", c.Rows)
	}
	if c.MoreRows() != "" || c.MoreProblems() != "" {
		t.Error("nothing was left out")
	}

	// Only the first rows are listed.
	big := &api.ValidateLigandsResponse{Valid: MaxCheckRows + 5}
	for i := range MaxCheckRows + 5 {
		big.Results = append(big.Results, api.LigandCheck{Index: i, Valid: true})
	}
	bc := NewLigandCheck("lib.csv", big, nil)
	if len(bc.Rows) != MaxCheckRows || bc.MoreRows() != "and 5 more valid ligands" || captionMore(len(bc.Rows), bc.Valid) != " (the first 50 of 55)" {
		t.Errorf("%d rows, %q", len(bc.Rows), bc.MoreRows())
	}
}

func TestNewJobRender(t *testing.T) {
	v := NewJobView{Models: []api.Model{boltzModel(), vinaModel()}, Model: "vina", Values: map[string]string{}, Errors: map[string]string{}}
	frag := renderDoc(t, ModelFields(v))
	if frag.Find(`[data-testid="site-header"]`).Length() != 0 || frag.Find("fieldset#model-fields legend").Text() != "vina inputs" {
		t.Error("the fields fragment")
	}
	if frag.Find(`select#field-target[required]`).Length() != 1 || frag.Find(`input#field-fast[type="checkbox"][checked]`).Length() != 1 ||
		frag.Find(`input[type="hidden"][name="parameters.fast"][value="false"]`).Length() != 1 {
		t.Error("generated controls")
	}
	empty := renderDoc(t, LigandCheck(nil))
	if empty.Find(`[data-testid="check-empty"]`).Length() != 1 {
		t.Error("no empty state")
	}
	failed := renderDoc(t, LigandCheck(&LigandCheckView{Error: "no SMILES column", Problems: []api.Problem{{Line: 1, Message: "x"}}}))
	if failed.Find(`[data-testid="check-error"]`).Text() != "no SMILES column" || failed.Find(`[data-testid="check-problem"]`).Text() != "line 1: x" {
		t.Error("error state")
	}
	page := renderDoc(t, NewJobPage(Shell{SignedIn: true, CSRF: "tok"}, v))
	if page.Find(`#newjob-form input[name="csrf_token"]`).AttrOr("value", "") != "tok" || page.Find(`#model-boltz2[disabled]`).Length() != 1 {
		t.Error("page")
	}
	if !strings.Contains(page.Find(`[data-model="boltz2"]`).Text(), "cannot run here: boltz is not installed") {
		t.Error("the reason boltz2 cannot run")
	}
	none := renderDoc(t, NewJobPage(Shell{SignedIn: true}, NewJobView{}))
	if none.Find(`[data-testid="newjob-no-models"]`).Length() != 1 || none.Find("form#newjob-form").Length() != 0 {
		t.Error("no models state")
	}
}
