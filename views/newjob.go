package views

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"omtx/api"
)

// Paths of the New prediction page's routes.
const (
	// PathNewJob is the page itself: GET shows the form (?model= picks
	// the model; htmx gets the model's fieldset alone), POST submits it.
	PathNewJob = PathHome
	// PathLigandCheck checks the ligands as they are typed.
	PathLigandCheck = "/ligands/check"
)

// Form field names of the New prediction form besides the model's own.
const (
	FieldModel   = "model"
	FieldJobName = "job_name"
	FieldLigands = "ligands"
	FieldFile    = "file"
	FieldDrop    = "drop_invalid"
	// FieldSubmission carries the form's submission key: a form sent twice
	// (a double click, a resend after a lost answer) submits once.
	FieldSubmission = "submission_key"
	// FieldReceptor is a model's uploaded structure (a Top field).
	FieldReceptor = "receptor"
	// paramPrefix prefixes the form names of a model's parameters, so that
	// they never collide with the form's own fields.
	paramPrefix = "parameters."
)

// MaxCheckRows is how many valid ligands the check table lists, and
// MaxCheckProblems how many problems the check lists.
const (
	MaxCheckRows     = 50
	MaxCheckProblems = 100
)

// NewPredictionHref is the nav's New prediction link: NewPredictionURL
// when set, the form at / for a signed-in user, and "" for an anonymous
// visitor (the nav shows the entry as text).
func (s Shell) NewPredictionHref() string {
	switch {
	case s.NewPredictionURL != "":
		return s.NewPredictionURL
	case s.SignedIn:
		return PathNewJob
	}
	return ""
}

// Target is a bundled docking target as the form describes it.
type Target struct {
	ID          string
	Name        string
	PDBID       string
	Description string
	// Box is the binding-site box: center and size in Å.
	Center, Size [3]float64
	// Picture is the target's Cα trace with its box; nil when unknown.
	Picture *TargetPicture
}

// PictureLabel describes the picture for screen readers.
func (t Target) PictureLabel() string {
	if t.Picture == nil {
		return ""
	}
	return fmt.Sprintf("%s: Cα trace of %d residues along its two principal axes, the docking box as a wireframe, "+
		"the %d residues inside the box highlighted", t.Label(), t.Picture.Residues, t.Picture.PocketResidues)
}

// Label is the target's option text: "ABL1: ABL1 kinase domain (PDB 1IEP)".
func (t Target) Label() string {
	s := t.ID
	if t.Name != "" {
		s += ": " + t.Name
	}
	if t.PDBID != "" {
		s += " (PDB " + t.PDBID + ")"
	}
	return s
}

// BoxText describes the box: "center (15.19, 53.9, 16.92) Å, size 20 × 20 × 20 Å".
func (t Target) BoxText() string {
	if t.Size == [3]float64{} {
		return ""
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return fmt.Sprintf("center (%s, %s, %s) Å, size %s × %s × %s Å",
		f(t.Center[0]), f(t.Center[1]), f(t.Center[2]), f(t.Size[0]), f(t.Size[1]), f(t.Size[2]))
}

// NewJobView is the view model of the New prediction page: the models to
// pick from, the chosen model's generated fields, and what the user typed,
// with the problems of a refused submission next to their fields.
type NewJobView struct {
	Models []api.Model
	// Model is the chosen model ("" when there is none to choose).
	Model string
	// Targets describe the bundled targets a target field offers, by id.
	Targets []Target
	JobName string
	// Ligands is the pasted text, kept as typed.
	Ligands string
	// FileName is the library file of a refused submission: a browser
	// cannot fill a file input again, so the page names it.
	FileName    string
	DropInvalid bool
	// SubmissionKey is the idempotency key of this form: new for each
	// blank form, kept while the same form is corrected and sent again.
	SubmissionKey string
	// Values are the typed values of the model's fields, by field name;
	// a field without one shows its default.
	Values map[string]string
	// Errors are the problems of the form's fields, by field name (the
	// model's fields, job_name, ligands, file, model).
	Errors map[string]string
	// Problem is a problem of the whole submission; Problems the rows of a
	// refused library.
	Problem  string
	Problems []api.Problem
	// Check is the ligand check shown under the ligands; nil: none yet.
	Check *LigandCheckView
}

// Chosen is the chosen model; ok is false when there is none.
func (v NewJobView) Chosen() (api.Model, bool) {
	for _, m := range v.Models {
		if m.Name == v.Model {
			return m, true
		}
	}
	return api.Model{}, false
}

// ChosenModel is the chosen model, or the zero model.
func (v NewJobView) ChosenModel() api.Model {
	m, _ := v.Chosen()
	return m
}

// ModelID is the id of a model's radio button.
func ModelID(m api.Model) string { return "model-" + m.Name }

// ModelDescID is the id of a model's description.
func ModelDescID(m api.Model) string { return "model-" + m.Name + "-desc" }

// ResourceLabel names the hardware a model runs on.
func ResourceLabel(m api.Model) string {
	switch m.Resource {
	case "gpu":
		return "GPU"
	case "cpu":
		return "CPU"
	}
	return m.Resource
}

// Unavailable says why a model cannot be chosen: "cannot run here:
// REASON"; "" for an available model.
func Unavailable(m api.Model) string {
	if m.Available {
		return ""
	}
	if m.Reason == "" {
		return "cannot run here"
	}
	return "cannot run here: " + m.Reason
}

// ModelURL is the whole page with the model chosen.
func ModelURL(name string) string { return PathNewJob + "?model=" + url.QueryEscape(name) }

// Fields are the chosen model's generated form fields, with the typed
// values (or defaults) and errors.
func (v NewJobView) Fields() []FormField {
	m, ok := v.Chosen()
	if !ok {
		return nil
	}
	out := make([]FormField, 0, len(m.Fields))
	for _, f := range m.Fields {
		ff := FormField{Field: f, Error: v.Errors[f.Name]}
		if val, ok := v.Values[f.Name]; ok {
			ff.Value, ff.Typed = val, true
		} else if f.Default != nil {
			ff.Value = fmt.Sprint(f.Default)
		}
		if f.Type == "target" {
			ff.Options = v.targetOptions(f.Enum)
		} else {
			for _, e := range f.Enum {
				ff.Options = append(ff.Options, Target{ID: e})
			}
		}
		out = append(out, ff)
	}
	return out
}

// targetOptions are the targets with the ids a field offers, described
// when the page knows them.
func (v NewJobView) targetOptions(ids []string) []Target {
	out := make([]Target, 0, len(ids))
	for _, id := range ids {
		t := Target{ID: id}
		for _, known := range v.Targets {
			if strings.EqualFold(known.ID, id) {
				t = known
				t.ID = id
			}
		}
		out = append(out, t)
	}
	return out
}

// Error is the problem of one of the form's own fields.
func (v NewJobView) Error(field string) string { return v.Errors[field] }

// Invalid is the aria-invalid value of a field.
func (v NewJobView) Invalid(field string) string {
	if v.Errors[field] != "" {
		return "true"
	}
	return "false"
}

// HasErrors reports whether a submission was refused.
func (v NewJobView) HasErrors() bool {
	return len(v.Errors) > 0 || v.Problem != "" || len(v.Problems) > 0
}

// ErrorCount says how many problems the form shows.
func (v NewJobView) ErrorCount() string {
	n := len(v.Errors) + len(v.Problems)
	if v.Problem != "" {
		n++
	}
	if n == 1 {
		return "1 problem"
	}
	return strconv.Itoa(n) + " problems"
}

// CanSubmit reports whether the chosen model can take a submission here.
func (v NewJobView) CanSubmit() bool {
	m, ok := v.Chosen()
	return ok && m.Available && m.Ligands
}

// FormField is one generated input of a model.
type FormField struct {
	api.Field
	// Value is the typed value, or the default.
	Value string
	// Typed says Value is what the user typed, not the default.
	Typed bool
	Error string
	// Options are an enum's or a target field's choices.
	Options []Target
}

// InputName is the field's name in the form: parameters are prefixed.
func (f FormField) InputName() string {
	if f.Top {
		return f.Name
	}
	return paramPrefix + f.Name
}

// ParamFormName is the form name of a model's field.
func ParamFormName(f api.Field) string { return FormField{Field: f}.InputName() }

// ID is the input's id.
func (f FormField) ID() string { return "field-" + f.Name }

// HelpID is the id of the field's help text.
func (f FormField) HelpID() string { return f.ID() + "-help" }

// ErrorID is the id of the field's error.
func (f FormField) ErrorID() string { return f.ID() + "-error" }

// DescribedBy lists the ids of the help and the error the field has.
func (f FormField) DescribedBy() string {
	var ids []string
	if f.HelpText() != "" {
		ids = append(ids, f.HelpID())
	}
	if f.Error != "" {
		ids = append(ids, f.ErrorID())
	}
	return strings.Join(ids, " ")
}

// Control is the element a field is: "select" (enum, target), "textarea"
// (sequence, text), "checkbox" (boolean) or "input".
func (f FormField) Control() string {
	switch {
	case f.Type == "enum" || f.Type == "target" || len(f.Enum) > 0:
		return "select"
	case f.Type == "sequence" || f.Type == "text":
		return "textarea"
	case f.Type == "boolean":
		return "checkbox"
	case f.Type == "structure":
		return "file"
	case f.Type == "box":
		return "box"
	}
	return "input"
}

// StructureAccept is the accept attribute of a structure upload.
const StructureAccept = ".pdb,.ent,.cif,.mmcif"

// BoxKeys are a docking box's six numbers, in form and API order.
var BoxKeys = []string{"center_x", "center_y", "center_z", "size_x", "size_y", "size_z"}

// BoxPart is one number of a box field.
type BoxPart struct {
	Key, Label, Name, ID, Value string
}

// BoxParts are a box field's six inputs, with what was typed.
func (f FormField) BoxParts(values map[string]string) []BoxPart {
	out := make([]BoxPart, len(BoxKeys))
	for i, k := range BoxKeys {
		axis := strings.ToUpper(k[len(k)-1:])
		label := "Centre " + axis
		if strings.HasPrefix(k, "size") {
			label = "Size " + axis
		}
		out[i] = BoxPart{Key: k, Label: label, Name: BoxFormName(f.Field, k), ID: f.ID() + "-" + k,
			Value: values[BoxValueKey(f.Name, k)]}
	}
	return out
}

// BoxFormName is the form name of one number of a box field.
func BoxFormName(f api.Field, key string) string { return ParamFormName(f) + "." + key }

// BoxValueKey is where a box number's typed text is kept in the view's
// Values.
func BoxValueKey(field, key string) string { return field + "." + key }

// InputType is an input's type attribute.
func (f FormField) InputType() string {
	switch f.Type {
	case "integer", "number":
		return "number"
	case "boolean":
		return "checkbox"
	}
	return "text"
}

// Numeric reports whether the field takes a number.
func (f FormField) Numeric() bool { return f.Type == "integer" || f.Type == "number" }

// Step is a number input's step: 1 for whole numbers, any otherwise.
func (f FormField) Step() string {
	if f.Type == "integer" {
		return "1"
	}
	return "any"
}

// MinAttr and MaxAttr are a number input's bounds; "" when unbounded or
// when the bounds are not values (a sequence's length).
func (f FormField) MinAttr() string { return f.bound(f.Min) }

// MaxAttr: see MinAttr.
func (f FormField) MaxAttr() string { return f.bound(f.Max) }

func (f FormField) bound(b *float64) string {
	if b == nil || !f.Numeric() {
		return ""
	}
	return strconv.FormatFloat(*b, 'f', -1, 64)
}

// Checked reports whether a boolean field is on.
func (f FormField) Checked() bool {
	b, _ := strconv.ParseBool(f.Value)
	return b
}

// Selected reports whether an option is the field's value.
func (f FormField) Selected(id string) bool { return strings.EqualFold(f.Value, id) }

// HelpText is the field's help with its range and default, e.g.
// "Search effort per conformer. Whole number from 1 to 64; default 8."
func (f FormField) HelpText() string {
	var parts []string
	if h := strings.TrimSpace(f.Help); h != "" {
		parts = append(parts, strings.TrimSuffix(h, ".")+".")
	}
	if f.Numeric() {
		kind := "Number"
		if f.Type == "integer" {
			kind = "Whole number"
		}
		switch lo, hi := f.MinAttr(), f.MaxAttr(); {
		case lo != "" && hi != "":
			kind += " from " + lo + " to " + hi
		case lo != "":
			kind += " of at least " + lo
		case hi != "":
			kind += " of at most " + hi
		}
		if f.Default != nil {
			kind += "; default " + fmt.Sprint(f.Default)
		}
		parts = append(parts, kind+".")
	}
	return strings.Join(parts, " ")
}

// LigandCheckView is the ligand check: counts, the problems by row and
// field, and the valid ligands' formulas and weights.
type LigandCheckView struct {
	// Source is what was checked: "pasted ligands" or the file's name.
	Source  string
	Valid   int
	Invalid int
	// Rows are the first MaxCheckRows valid ligands.
	Rows []LigandRow
	// Problems are the first MaxCheckProblems problems.
	Problems []api.Problem
	// Error is a problem of the whole input (a file that cannot be read).
	Error string
	// Empty is the state before anything was typed.
	Empty bool
}

// LigandRow is a valid ligand.
type LigandRow struct {
	Row             int
	Name            string
	SMILES          string
	Formula         string
	MolecularWeight *float64
	HeavyAtoms      *int
}

// Weight formats the molecular weight in g/mol with two decimals.
func (r LigandRow) Weight() string {
	if r.MolecularWeight == nil {
		return "–"
	}
	return strconv.FormatFloat(*r.MolecularWeight, 'f', 2, 64)
}

// Heavy formats the heavy atom count.
func (r LigandRow) Heavy() string {
	if r.HeavyAtoms == nil {
		return "–"
	}
	return strconv.Itoa(*r.HeavyAtoms)
}

// RowText is the row's number.
func (r LigandRow) RowText() string { return strconv.Itoa(r.Row) }

// Summary counts the ligands: "2 valid, 1 invalid".
func (c LigandCheckView) Summary() string {
	return fmt.Sprintf("%d valid, %d invalid", c.Valid, c.Invalid)
}

// MoreRows says how many valid ligands the table leaves out; "" when none.
func (c LigandCheckView) MoreRows() string {
	if n := c.Valid - len(c.Rows); n > 0 {
		return fmt.Sprintf("and %d more valid ligands", n)
	}
	return ""
}

// MoreProblems says how many problems the list leaves out; "" when none.
func (c LigandCheckView) MoreProblems() string {
	if n := c.Invalid - len(c.Problems); n > 0 && len(c.Problems) > 0 {
		return fmt.Sprintf("and %d more problems", n)
	}
	return ""
}

// rowPrefix is the place that chem's problems put before their message:
// "row 3, field smiles: ", "row 2 (line 3): ", "line 7: ".
var rowPrefix = regexp.MustCompile(`^(row \d+( \(line \d+\))?|line \d+)(, field [a-z_]+)?: `)

// NewLigandCheck builds the check of a validation answer. lines, when
// given, are the pasted text's line of each ligand, by input position.
func NewLigandCheck(source string, r *api.ValidateLigandsResponse, lines []int) *LigandCheckView {
	c := &LigandCheckView{Source: source, Valid: r.Valid, Invalid: r.Invalid}
	for _, lc := range r.Results {
		row, line := lc.Row, lc.Line
		if row == 0 {
			row = lc.Index + 1
		}
		if line == 0 && lc.Index >= 0 && lc.Index < len(lines) {
			line = lines[lc.Index]
		}
		if lc.Valid {
			if len(c.Rows) < MaxCheckRows {
				c.Rows = append(c.Rows, LigandRow{Row: row, Name: lc.Name, SMILES: lc.SMILES, Formula: lc.Formula,
					MolecularWeight: lc.MolecularWeight, HeavyAtoms: lc.HeavyAtoms})
			}
			continue
		}
		if len(c.Problems) >= MaxCheckProblems {
			continue
		}
		p := api.Problem{Row: row, Line: line, Name: lc.Name, Field: "smiles"}
		if lc.Error != nil {
			p.Message = rowPrefix.ReplaceAllString(lc.Error.Message, "")
			if lc.Error.Field != "" {
				p.Field = lc.Error.Field
			}
		}
		c.Problems = append(c.Problems, p)
	}
	return c
}

// ProblemPlace is where a problem is: "row 3 (benzene?)", "row 3, line 4
// (benzene?)"; "" for a problem of the whole input.
func ProblemPlace(p api.Problem) string {
	var s string
	switch {
	case p.Row > 0 && p.Line > 0 && p.Line != p.Row:
		s = fmt.Sprintf("row %d, line %d", p.Row, p.Line)
	case p.Row > 0:
		s = fmt.Sprintf("row %d", p.Row)
	case p.Line > 0:
		s = fmt.Sprintf("line %d", p.Line)
	}
	if s != "" && p.Name != "" {
		s += " (" + p.Name + ")"
	}
	return s
}

// ProblemText is a problem in one line: "row 3 (benzene?) smiles:
// position 4: unclosed ring 1".
func ProblemText(p api.Problem) string {
	place := ProblemPlace(p)
	if p.Field != "" && place != "" {
		place += " " + p.Field
	}
	if place == "" {
		return p.Message
	}
	return place + ": " + p.Message
}

// boolText is "true" or "false", for data- and aria- attributes.
func boolText(b bool) string { return strconv.FormatBool(b) }

// itoa formats a count.
func itoa(n int) string { return strconv.Itoa(n) }

// describedBy is the aria-describedby of one of the form's own fields:
// its help, and its error when it has one.
func describedBy(helpID, errorID, err string) string {
	if err == "" {
		return helpID
	}
	return helpID + " " + errorID
}

// captionMore completes the check table's caption when it lists only the
// first rows: " (the first 50 of 120)".
func captionMore(shown, total int) string {
	if shown >= total {
		return ""
	}
	return fmt.Sprintf(" (the first %d of %d)", shown, total)
}
