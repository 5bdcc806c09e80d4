package ligands

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const (
	iepPath    = "../../testdata/vina/1iep_ligand.sdf"
	fdaSDFPath = "testdata/fda_approved_drugs.sdf"
)

func TestReadSDF1IEP(t *testing.T) {
	lib, err := Read(openFixture(t, iepPath), FormatSDF, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lib.Entries) != 1 {
		t.Fatalf("%d entries, want 1", len(lib.Entries))
	}
	e := lib.Entries[0]
	// Imatinib as bound in 1IEP, protonated on the piperazine N (M  CHG),
	// with explicit hydrogens; RDKit: C29H32N7O+, 494.623, 37 heavy atoms.
	if e.Name != "STI" || e.Row != 1 || e.Line != 1 || e.Formula != "C29H32N7O+" || e.HeavyAtoms != 37 ||
		math.Abs(e.MolecularWeight-494.623) > 0.01 {
		t.Errorf("entry %+v", e)
	}
	if strings.Contains(e.SMILES, "[H]") {
		t.Errorf("SMILES keeps explicit hydrogens: %s", e.SMILES)
	}
}

// sdfItemValues returns the value of data item key in every record of an
// SD file, in order: the oracle values RDKit wrote into the fixture.
func sdfItemValues(t *testing.T, path, key string) []string {
	t.Helper()
	var out []string
	lines := strings.Split(readAll(t, path), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ">") && strings.Contains(l, "<"+key+">") && i+1 < len(lines) {
			out = append(out, strings.TrimSpace(lines[i+1]))
		}
	}
	return out
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	var sb strings.Builder
	f := openFixture(t, path)
	buf := make([]byte, 1<<16)
	for {
		n, err := f.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}

func TestReadSDFFDA(t *testing.T) {
	lib, err := ReadSDF(openFixture(t, fdaSDFPath), Options{})
	if err != nil {
		t.Fatal(err)
	}
	formulas := sdfItemValues(t, fdaSDFPath, "FORMULA")
	weights := sdfItemValues(t, fdaSDFPath, "MW")
	if len(lib.Entries) != 11 || len(formulas) != 11 || len(weights) != 11 {
		t.Fatalf("%d entries, %d formulas, %d weights; want 11", len(lib.Entries), len(formulas), len(weights))
	}
	wantNames := []string{"Aspirin", "Ibuprofen", "Atorvastatin", "Metformin", "Sildenafil", "Lisinopril",
		"Amlodipine", "Omeprazole", "Warfarin", "Sertraline", "Metformin (explicit H)"}
	for i, e := range lib.Entries {
		if e.Name != wantNames[i] || e.Row != i+1 {
			t.Errorf("entry %d: name %q row %d, want %q row %d", i, e.Name, e.Row, wantNames[i], i+1)
		}
		if e.Formula != formulas[i] {
			t.Errorf("%s: formula %s, RDKit %s (SMILES %s)", e.Name, e.Formula, formulas[i], e.SMILES)
		}
		w, _ := strconv.ParseFloat(weights[i], 64)
		if math.Abs(e.MolecularWeight-w) > 0.01 {
			t.Errorf("%s: MW %.3f, RDKit %.3f", e.Name, e.MolecularWeight, w)
		}
	}
	// The SMILES written for each record describes the same molecule as
	// the CSV it came from: same formula as the CSV row.
	csvLib, err := Read(openFixture(t, fdaPath), FormatCSV, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range csvLib.Entries {
		if lib.Entries[i].Formula != e.Formula {
			t.Errorf("%s: SDF formula %s, CSV formula %s", e.Name, lib.Entries[i].Formula, e.Formula)
		}
	}

	lib, err = ReadSDF(openFixture(t, fdaSDFPath), Options{NameField: "id"})
	if err != nil {
		t.Fatal(err)
	}
	if lib.Entries[0].Name != "FDA-01" || lib.Entries[10].Name != "FDA-11" || len(lib.Warnings) != 0 {
		t.Errorf("NameField ID: %q .. %q, warnings %v", lib.Entries[0].Name, lib.Entries[10].Name, lib.Warnings)
	}
}

func TestReadSDFNames(t *testing.T) {
	untitled := strings.Replace(tinySDF, "ethanol\n", "\n", 1)
	noItems := strings.Replace(untitled, ">  <ID>  (1)\nE-1\n\n", "", 1)
	in := tinySDF + untitled + "\n\n$$$$\n" + noItems
	lib, err := ReadSDF(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Row 1 starts at line 1; each tinySDF record is 14 lines; a blank
	// record (lines 29-30) is skipped; the last record has no "$$$$".
	want := []entrySummary{{1, 1, "ethanol", false, "CCO"}, {2, 15, "E-1", false, "CCO"}, {3, 32, "ligand_3", true, "CCO"}}
	got := summarize(lib)
	for i := range got {
		got[i].SMI = want[i].SMI // the writer's spelling is chem's business
		if lib.Entries[i].Formula != "C2H6O" {
			t.Errorf("entry %d formula %s", i, lib.Entries[i].Formula)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	lib, err = ReadSDF(strings.NewReader(strings.ReplaceAll(tinySDF+noItems, "\n", "\r\n")), Options{NameField: "ID"})
	if err != nil {
		t.Fatal(err)
	}
	wantWarn := []Problem{{Row: 2, Line: 15, Field: "name", Code: CodeNameFieldAbsent, Message: `no data item "ID"; using the title line`}}
	if lib.Entries[0].Name != "E-1" || lib.Entries[1].Name != "ligand_2" || !reflect.DeepEqual(lib.Warnings, wantWarn) {
		t.Errorf("names %q, %q; warnings %+v", lib.Entries[0].Name, lib.Entries[1].Name, lib.Warnings)
	}
}

func TestReadSDFErrors(t *testing.T) {
	broken := strings.Replace(tinySDF, "  1  2  1  0\n", "  1  9  1  0\n", 1)
	_, err := ReadSDF(strings.NewReader(tinySDF+broken), Options{})
	le := libError(t, err)
	if len(le.Problems) != 1 {
		t.Fatalf("problems %+v", le.Problems)
	}
	p := le.Problems[0]
	// The bad bond is on line 8 of the second record, line 22 of the file.
	if p.Row != 2 || p.Line != 15 || p.Field != "molfile" || p.Code != CodeInvalidMolfile || p.Name != "ethanol" ||
		!strings.HasPrefix(p.Message, "record line 8 (file line 22): ") {
		t.Errorf("problem %+v", p)
	}

	lib, err := ReadSDF(strings.NewReader(broken+tinySDF), Options{DropInvalid: true})
	if err != nil || len(lib.Entries) != 1 || lib.Entries[0].Row != 2 || len(lib.Dropped) != 1 || lib.Dropped[0].Row != 1 {
		t.Errorf("DropInvalid: %v %+v", err, lib)
	}

	_, err = ReadSDF(strings.NewReader("\n$$$$\n\n"), Options{})
	if le := libError(t, err); le.Problems[0].Code != CodeEmpty {
		t.Errorf("empty SDF: %v", err)
	}
	_, err = ReadSDF(strings.NewReader(tinySDF+tinySDF), Options{MaxLigands: 1})
	if le := libError(t, err); le.Problems[0].Code != CodeTooMany || le.Problems[0].Row != 2 {
		t.Errorf("limit: %v", err)
	}
}
