package ligands

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	bbbpPath    = "../../testdata/smiles/BBBP.csv"
	delaneyPath = "../../testdata/smiles/delaney-processed.csv"
	fdaPath     = "../../testdata/smiles/fda_approved_drugs.csv"
)

// bbbpRDKitRejects are the data rows of BBBP.csv (1-based, header not
// counted) that RDKit 2022.09 rejects (Chem.MolFromSmiles returns None):
// hypervalent uncharged nitrogens such as "[NH]=" with three bonds and
// "O=N([O-])C" written without the N+.
var bbbpRDKitRejects = []int{60, 62, 392, 615, 643, 646, 647, 648, 649, 650, 686}

func openFixture(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// libError asserts that err is an *Error and returns it.
func libError(t *testing.T, err error) *Error {
	t.Helper()
	var le *Error
	if !errors.As(err, &le) {
		t.Fatalf("error %T (%v), want *ligands.Error", err, err)
	}
	return le
}

type entrySummary struct {
	Row  int
	Line int
	Name string
	Gen  bool
	SMI  string
}

func summarize(lib *Library) []entrySummary {
	var s []entrySummary
	for _, e := range lib.Entries {
		s = append(s, entrySummary{e.Row, e.Line, e.Name, e.GeneratedName, e.SMILES})
	}
	return s
}

func TestReadTables(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		opts   Options
		want   []entrySummary
	}{
		{
			name: "header name,smiles",
			in:   "name,smiles\nethanol,CCO\nbenzene,c1ccccc1\n",
			want: []entrySummary{{1, 2, "ethanol", false, "CCO"}, {2, 3, "benzene", false, "c1ccccc1"}},
		},
		{
			name: "header any order, any case, extra columns",
			in:   "MW,Canonical_SMILES,Title,notes\n46,CCO,ethanol,x\n78,c1ccccc1,benzene,y\n",
			want: []entrySummary{{1, 2, "ethanol", false, "CCO"}, {2, 3, "benzene", false, "c1ccccc1"}},
		},
		{
			name: "header without a name column",
			in:   "BBBP,smiles\n1,CCO\n0,CCN\n",
			want: []entrySummary{{1, 2, "ligand_1", true, "CCO"}, {2, 3, "ligand_2", true, "CCN"}},
		},
		{
			name: "BOM, CRLF, blank lines, trailing spaces, all-empty rows",
			in:   "\uFEFFCompound ID,smiles\r\n\r\n aspirin ,CC(=O)Oc1ccccc1C(=O)O \r\n,,\r\nphenol,Oc1ccccc1\r\n",
			want: []entrySummary{{1, 3, "aspirin", false, "CC(=O)Oc1ccccc1C(=O)O"}, {2, 5, "phenol", false, "Oc1ccccc1"}},
		},
		{
			name: "quoted name with comma and line break",
			in:   "id,smiles\n\"2,4-D\nacid\",OC(=O)COc1ccc(Cl)cc1Cl\nnext,C\n",
			want: []entrySummary{{1, 2, "2,4-D acid", false, "OC(=O)COc1ccc(Cl)cc1Cl"}, {2, 4, "next", false, "C"}},
		},
		{
			name: "headerless name,smiles",
			in:   "ethanol,CCO\nbenzene,c1ccccc1\nphenol,Oc1ccccc1\n",
			want: []entrySummary{{1, 1, "ethanol", false, "CCO"}, {2, 2, "benzene", false, "c1ccccc1"}, {3, 3, "phenol", false, "Oc1ccccc1"}},
		},
		{
			name: "headerless smiles,name",
			in:   "CCO,ethanol\nc1ccccc1,benzene\n",
			want: []entrySummary{{1, 1, "ethanol", false, "CCO"}, {2, 2, "benzene", false, "c1ccccc1"}},
		},
		{
			name: "headerless smiles only",
			in:   "CCO\n\nc1ccccc1\n",
			want: []entrySummary{{1, 1, "ligand_1", true, "CCO"}, {2, 3, "ligand_2", true, "c1ccccc1"}},
		},
		{
			name: "empty name cell generated",
			in:   "name,smiles\n,CCO\nx,C\n",
			want: []entrySummary{{1, 2, "ligand_1", true, "CCO"}, {2, 3, "x", false, "C"}},
		},
		{
			name: "SMILESField and NameField",
			in:   "structure,label,id\nCCO,ethanol,E1\n",
			opts: Options{SMILESField: "Structure", NameField: "LABEL"},
			want: []entrySummary{{1, 2, "ethanol", false, "CCO"}},
		},
		{
			name:   "TSV with header",
			format: FormatTSV,
			in:     "smiles\tname\nCCO\tethyl \"alcohol\"\n",
			want:   []entrySummary{{1, 2, "ethyl \"alcohol\"", false, "CCO"}},
		},
		{
			name:   "TSV headerless",
			format: FormatTSV,
			in:     "CCO\tethanol\nCCN\tethylamine\n",
			want:   []entrySummary{{1, 1, "ethanol", false, "CCO"}, {2, 2, "ethylamine", false, "CCN"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format := tt.format
			if format == FormatUnknown {
				format = FormatCSV
			}
			lib, err := Read(strings.NewReader(tt.in), format, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(lib); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			for i, e := range lib.Entries {
				if e.Index != i || e.Formula == "" || e.MolecularWeight <= 0 || e.HeavyAtoms <= 0 || e.Molecule == nil {
					t.Errorf("entry %d: %+v", i, e)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		opts   Options
		want   []Problem
	}{
		{
			name: "invalid and empty SMILES listed together",
			in:   "name,smiles\na,CCO\nb,C1CCCCC\nc,\nd,CC(C\n",
			want: []Problem{
				{Row: 2, Line: 3, Field: "smiles", Name: "b", Code: CodeInvalidSMILES, Message: "position 8: unclosed ring 1 opened at position 2"},
				{Row: 3, Line: 4, Field: "smiles", Name: "c", Code: CodeMissingSMILES, Message: "empty SMILES"},
				{Row: 4, Line: 5, Field: "smiles", Name: "d", Code: CodeInvalidSMILES, Message: "position 5: unclosed branch '(' opened at position 3"},
			},
		},
		{
			name: "SMILES too long",
			in:   "name,smiles\na,CCCCCC\n",
			opts: Options{MaxSMILESLength: 5},
			want: []Problem{{Row: 1, Line: 2, Field: "smiles", Name: "a", Code: CodeSMILESTooLong, Message: "the SMILES is 6 characters long; the limit is 5"}},
		},
		{
			name: "missing SMILES cell",
			in:   "name,smiles\na\n",
			want: []Problem{{Row: 1, Line: 2, Field: "smiles", Name: "a", Code: CodeMissingSMILES, Message: "empty SMILES"}},
		},
		{
			name: "empty file",
			in:   "",
			want: []Problem{{Code: CodeEmpty, Message: "the file has no ligands"}},
		},
		{
			name: "header only",
			in:   "\uFEFFname,smiles\r\n\r\n",
			want: []Problem{{Code: CodeEmpty, Message: "the file has no ligands"}},
		},
		{
			name: "too many",
			in:   "smiles\nC\nCC\nCCC\nCCCC\n",
			opts: Options{MaxLigands: 3},
			want: []Problem{{Row: 4, Line: 5, Code: CodeTooMany, Message: "the library has more than 3 ligands; the limit is 3"}},
		},
		{
			name: "SMILESField absent",
			in:   "name,smiles\na,C\n",
			opts: Options{SMILESField: "structure"},
			want: []Problem{{Line: 1, Code: CodeNoSMILESColumn, Message: `the header row has no column "structure" (columns: name, smiles)`}},
		},
		{
			name: "header with a name column but no known SMILES column",
			in:   "Name,Structure\naspirin,CC(=O)Oc1ccccc1C(=O)O\n",
			want: []Problem{{Line: 1, Code: CodeNoSMILESColumn, Message: `the first row looks like a header (it has a "Name" column) but no column is named smiles (columns: Name, Structure); rename the SMILES column or set SMILESField`}},
		},
		{
			name: "NameField absent",
			in:   "name,smiles\na,C\n",
			opts: Options{NameField: "label"},
			want: []Problem{{Line: 1, Code: CodeNoNameColumn, Message: `the header row has no column "label" (columns: name, smiles)`}},
		},
		{
			name: "CSV syntax",
			in:   "name,smiles\na,C\n\"b,CC\n",
			want: []Problem{{Line: 3, Code: CodeSyntax, Message: "malformed CSV: extraneous or missing \" in quoted-field"}},
		},
		{
			name: "duplicates rejected on request",
			in:   "name,smiles\na,C\nb,CC\na,CCC\n",
			opts: Options{RejectDuplicateNames: true},
			want: []Problem{{Row: 3, Line: 4, Field: "name", Name: "a", Code: CodeDuplicateName, Message: `name "a" is also used by row 1`}},
		},
		{
			name:   "SMI invalid line",
			format: FormatSMI,
			in:     "# comment\nCCO ethanol\nC1CCCCC cyclohexane?\n",
			want:   []Problem{{Row: 2, Line: 3, Field: "smiles", Name: "cyclohexane?", Code: CodeInvalidSMILES, Message: "position 8: unclosed ring 1 opened at position 2"}},
		},
		{
			name:   "DropInvalid with nothing valid",
			format: FormatSMI,
			in:     "C1 a\nX b\n",
			opts:   Options{DropInvalid: true},
			want: []Problem{
				{Code: CodeNoValid, Message: "none of the 2 ligands is valid"},
				{Row: 1, Line: 1, Field: "smiles", Name: "a", Code: CodeInvalidSMILES, Message: "position 3: unclosed ring 1 opened at position 2"},
				{Row: 2, Line: 2, Field: "smiles", Name: "b", Code: CodeInvalidSMILES, Message: "position 1: unknown element 'X'"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format := tt.format
			if format == FormatUnknown {
				format = FormatCSV
			}
			lib, err := Read(strings.NewReader(tt.in), format, tt.opts)
			if err == nil {
				t.Fatalf("Read = %+v, want error", summarize(lib))
			}
			if lib != nil {
				t.Error("Read returned a library with an error")
			}
			le := libError(t, err)
			if !reflect.DeepEqual(le.Problems, tt.want) {
				t.Errorf("problems:\n got  %+v\n want %+v", le.Problems, tt.want)
			}
		})
	}
}

func TestNamePolicy(t *testing.T) {
	long := strings.Repeat("é", 130)
	in := "name,smiles\n" +
		"a,C\n" +
		"\"tab\there\",CC\n" +
		long + ",CCC\n" +
		"a,CCCC\n" +
		"ligand_6,CCCCC\n" +
		",CCCCCC\n"
	lib, err := ReadCSV(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range lib.Entries {
		names = append(names, e.Name)
	}
	want := []string{"a", "tab here", strings.Repeat("é", 128), "a", "ligand_6", "ligand_6"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	wantWarnings := []Problem{
		{Row: 3, Line: 4, Field: "name", Name: strings.Repeat("é", 128), Code: CodeNameTruncated, Message: "name truncated to 128 characters"},
		{Row: 4, Line: 5, Field: "name", Name: "a", Code: CodeDuplicateName, Message: `name "a" is also used by row 1`},
		{Row: 6, Line: 7, Field: "name", Name: "ligand_6", Code: CodeDuplicateName, Message: `name "ligand_6" is also used by row 5`},
	}
	if !reflect.DeepEqual(lib.Warnings, wantWarnings) {
		t.Errorf("warnings:\n got  %+v\n want %+v", lib.Warnings, wantWarnings)
	}
	lib, err = ReadCSV(strings.NewReader("name,smiles\nabcdef,C\n"), Options{MaxNameLength: 3})
	if err != nil || lib.Entries[0].Name != "abc" {
		t.Errorf("MaxNameLength 3: %v %+v", err, lib)
	}
}

func TestReadSMI(t *testing.T) {
	in := "\uFEFFSMILES Name\r\n# comment\r\n\r\nCCO ethanol\r\nc1ccccc1\tbenzene ring  \r\nCC(=O)O   acetic acid, glacial\r\nC\r\n"
	lib, err := ReadSMI(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []entrySummary{
		{1, 4, "ethanol", false, "CCO"},
		{2, 5, "benzene ring", false, "c1ccccc1"},
		{3, 6, "acetic acid, glacial", false, "CC(=O)O"},
		{4, 7, "ligand_4", true, "C"},
	}
	if got := summarize(lib); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestFixtureFDA(t *testing.T) {
	lib, err := Read(openFixture(t, fdaPath), FormatCSV, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lib.Entries) != 10 || lib.Entries[0].Name != "Aspirin" || lib.Entries[9].Name != "Sertraline" {
		t.Fatalf("entries: %+v", summarize(lib))
	}
	if e := lib.Entries[0]; e.Formula != "C9H8O4" || e.HeavyAtoms != 13 || e.MolecularWeight < 180.1 || e.MolecularWeight > 180.2 {
		t.Errorf("aspirin: %s %.3f %d", e.Formula, e.MolecularWeight, e.HeavyAtoms)
	}
}

func TestFixtureDelaney(t *testing.T) {
	lib, err := Read(openFixture(t, delaneyPath), FormatCSV, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lib.Entries) != 1128 || len(lib.Dropped) != 0 {
		t.Fatalf("%d entries, %d dropped; want 1128, 0", len(lib.Entries), len(lib.Dropped))
	}
	first, last := lib.Entries[0], lib.Entries[1127]
	if first.Name != "Amigdalin" || first.GeneratedName || first.Line != 2 ||
		first.SMILES != "OCC3OC(OCC2OC(OC(C#N)c1ccccc1)C(O)C(O)C2O)C(O)C(O)C3O" {
		t.Errorf("first entry %+v", first)
	}
	if last.Row != 1128 || last.Line != 1129 || last.Name != "Stirofos" {
		t.Errorf("last entry %+v", last)
	}
	// delaney lists a few compounds twice: warned about, not rejected.
	for _, w := range lib.Warnings {
		if w.Code != CodeDuplicateName {
			t.Errorf("unexpected warning %v", w)
		}
	}
}

func TestFixtureBBBP(t *testing.T) {
	_, err := Read(openFixture(t, bbbpPath), FormatCSV, Options{})
	if err == nil {
		t.Fatal("BBBP read all-or-nothing: want error")
	}
	le := libError(t, err)
	var rows []int
	for _, p := range le.Problems {
		if p.Field != "smiles" || p.Code != CodeInvalidSMILES || p.Line != p.Row+1 || p.Name != fmt.Sprintf("ligand_%d", p.Row) {
			t.Errorf("problem %+v", p)
		}
		rows = append(rows, p.Row)
	}
	if !reflect.DeepEqual(rows, bbbpRDKitRejects) {
		t.Errorf("rejected rows %v, want RDKit's %v", rows, bbbpRDKitRejects)
	}
	if !strings.Contains(err.Error(), "row 60 (line 61), field smiles: ") {
		t.Errorf("message %q", err)
	}

	lib, err := Read(openFixture(t, bbbpPath), FormatCSV, Options{DropInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(lib.Entries)+len(lib.Dropped) != 2050 {
		t.Errorf("%d entries + %d dropped, want 2050", len(lib.Entries), len(lib.Dropped))
	}
	if !reflect.DeepEqual(lib.Dropped, le.Problems) {
		t.Errorf("dropped %+v\nwant %+v", lib.Dropped, le.Problems)
	}
	for _, e := range lib.Entries {
		for _, r := range rows {
			if e.Row == r {
				t.Errorf("dropped row %d is in the library", r)
			}
		}
	}
}

func TestInvalidRowInLargeLibrary(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("name,smiles\n")
	for i := 1; i <= 10000; i++ {
		smiles := "C" + strings.Repeat("C", i%20) + "O"
		if i == 9999 {
			smiles = "CCCCCC1CC"
		}
		fmt.Fprintf(&sb, "cpd-%05d,%s\n", i, smiles)
	}
	_, err := ReadCSV(strings.NewReader(sb.String()), Options{})
	le := libError(t, err)
	want := []Problem{{Row: 9999, Line: 10000, Field: "smiles", Name: "cpd-09999", Code: CodeInvalidSMILES,
		Message: "position 10: unclosed ring 1 opened at position 7"}}
	if !reflect.DeepEqual(le.Problems, want) {
		t.Fatalf("problems %+v, want %+v", le.Problems, want)
	}
	if got := err.Error(); got != "ligand library rejected: row 9999 (line 10000), field smiles: position 10: unclosed ring 1 opened at position 7" {
		t.Errorf("message %q", got)
	}
	lib, err := ReadCSV(strings.NewReader(sb.String()), Options{DropInvalid: true})
	if err != nil || len(lib.Entries) != 9999 || len(lib.Dropped) != 1 || lib.Dropped[0].Row != 9999 {
		t.Fatalf("DropInvalid: %v", err)
	}
	if _, err := ReadCSV(strings.NewReader(sb.String()), Options{MaxLigands: 5000}); err == nil ||
		err.Error() != "ligand library rejected: row 5001 (line 5002): the library has more than 5000 ligands; the limit is 5000" {
		t.Errorf("limit: %v", err)
	}
}

func TestErrorJSON(t *testing.T) {
	_, err := ReadCSV(strings.NewReader("name,smiles\na,C1\n"), Options{})
	b, jerr := json.Marshal(err)
	if jerr != nil {
		t.Fatal(jerr)
	}
	want := `{"problems":[{"row":1,"line":2,"field":"smiles","name":"a","code":"invalid_smiles","message":"position 3: unclosed ring 1 opened at position 2"}]}`
	if string(b) != want {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
}

func TestLibraryJSON(t *testing.T) {
	lib, err := ReadSMI(strings.NewReader("CCO ethanol\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(lib)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":"smi","entries":[{"index":0,"row":1,"line":1,"name":"ethanol","smiles":"CCO","formula":"C2H6O","molecular_weight":46.069,"hbond_donors":1,"hbond_acceptors":1,"heavy_atoms":3}]}`
	var got, w any
	json.Unmarshal(b, &got)
	json.Unmarshal([]byte(want), &w)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
	var f Format
	if err := json.Unmarshal([]byte(`"sdf"`), &f); err != nil || f != FormatSDF {
		t.Errorf("unmarshal format: %v %v", f, err)
	}
}

func TestErrorMessageTruncated(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 15; i++ {
		sb.WriteString("C1\n")
	}
	_, err := ReadSMI(strings.NewReader(sb.String()), Options{})
	le := libError(t, err)
	if len(le.Problems) != 15 || !strings.HasSuffix(err.Error(), "; and 5 more") || !strings.HasPrefix(err.Error(), "ligand library rejected (15 problems): row 1 (line 1), field smiles") {
		t.Errorf("message %q", err)
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		file string
		head string
		want Format
	}{
		{"lib.CSV", "", FormatCSV},
		{"lib.tsv", "", FormatTSV},
		{"lib.smi", "CCO,x", FormatSMI},
		{"x.sdf", "", FormatSDF},
		{"x.mol", "", FormatSDF},
		{"upload.txt", "\uFEFFname,smiles\nx,C", FormatCSV},
		{"", "# c\n\nCCO\tethanol\n", FormatTSV},
		{"", "CCO ethanol\n", FormatSMI},
		{"", "STI\n     RDKit          3D\n\n 69 73  0  0  0  0  0  0  0  0999 V2000\n", FormatSDF},
		{"", "", FormatUnknown},
		{"noext", "\n\n", FormatUnknown},
	}
	for _, tt := range tests {
		if got := DetectFormat(tt.file, []byte(tt.head)); got != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %v, want %v", tt.file, tt.head, got, tt.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]Format{"csv": FormatCSV, ".SDF": FormatSDF, " smi ": FormatSMI, "tsv": FormatTSV} {
		if got, err := ParseFormat(s); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseFormat("xlsx"); err == nil {
		t.Error("ParseFormat(xlsx): want error")
	}
	if _, err := ParseFormat("unknown"); err == nil {
		t.Error("ParseFormat(unknown): want error")
	}
}

func TestReadDetects(t *testing.T) {
	lib, err := Read(strings.NewReader("CCO ethanol\nCCN ethylamine\n"), FormatUnknown, Options{})
	if err != nil || lib.Format != FormatSMI || len(lib.Entries) != 2 || lib.Entries[1].Name != "ethylamine" {
		t.Fatalf("Read: %v %+v", err, lib)
	}
	_, err = Read(strings.NewReader(" \n\n"), FormatUnknown, Options{})
	if le := libError(t, err); le.Problems[0].Code != CodeEmpty {
		t.Errorf("blank upload: %v", err)
	}
	lib, err = Read(openFixture(t, iepPath), FormatUnknown, Options{})
	if err != nil || lib.Format != FormatSDF {
		t.Errorf("1iep detected as %v: %v", lib, err)
	}
	if _, err := Read(strings.NewReader("x"), Format(42), Options{}); err == nil {
		t.Error("Read with a bad format: want error")
	}
}

func BenchmarkReadCSV(b *testing.B) {
	data, err := os.ReadFile(delaneyPath)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	n := 0
	for b.Loop() {
		lib, err := ReadCSV(strings.NewReader(string(data)), Options{})
		if err != nil {
			b.Fatal(err)
		}
		n += len(lib.Entries)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "ligands/s")
}
