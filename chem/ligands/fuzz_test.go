package ligands

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"omtx/chem"
)

// rowCodes are the problems of one record, which must name its row and
// line.
var rowCodes = map[string]bool{CodeInvalidSMILES: true, CodeMissingSMILES: true, CodeSMILESTooLong: true,
	CodeInvalidMolfile: true, CodeDuplicateName: true}

// checkProblems asserts that every problem says what is wrong and, for a
// record's problem, where: its row and line.
func checkProblems(t *testing.T, problems []Problem) {
	t.Helper()
	for _, p := range problems {
		if p.Code == "" || p.Message == "" {
			t.Fatalf("problem without code or message: %+v", p)
		}
		if rowCodes[p.Code] && (p.Row < 1 || p.Line < 1) {
			t.Fatalf("a record's problem names no row and line: %+v", p)
		}
		if p.Code == CodeSyntax && p.Line < 1 {
			t.Fatalf("a syntax error names no line: %+v", p)
		}
	}
}

// checkMolecules asserts that every entry's SMILES parses again to the
// molecule and properties the reader reported.
func checkMolecules(t *testing.T, lib *Library) {
	t.Helper()
	for _, e := range lib.Entries {
		m, err := chem.ParseSMILES(e.SMILES)
		if err != nil {
			t.Fatalf("entry %d: SMILES %q does not parse again: %v", e.Index, e.SMILES, err)
		}
		if m.Formula() != e.Formula || math.Abs(m.MolecularWeight()-e.MolecularWeight) > 1e-6 || m.HeavyAtoms() != e.HeavyAtoms {
			t.Fatalf("entry %d: %q parses to %s, the reader said %s", e.Index, e.SMILES, m.Formula(), e.Formula)
		}
	}
}

// sameEntries asserts that a library read back has the entries written.
func sameEntries(t *testing.T, written string, want, got *Library, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("written library does not read back: %v\n%s", err, written)
	}
	if len(got.Entries) != len(want.Entries) {
		t.Fatalf("%d entries, %d read back:\n%s", len(want.Entries), len(got.Entries), written)
	}
	for i := range want.Entries {
		w, g := want.Entries[i], got.Entries[i]
		if w.Name != g.Name || w.SMILES != g.SMILES || w.Formula != g.Formula {
			t.Fatalf("entry %d: %q %q, read back %q %q:\n%s", i, w.Name, w.SMILES, g.Name, g.SMILES, written)
		}
	}
}

// writeCSV writes a library's entries as a name,smiles CSV.
func writeCSV(lib *Library) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"name", "smiles"})
	for _, e := range lib.Entries {
		w.Write([]string{e.Name, e.SMILES})
	}
	w.Flush()
	return b.String()
}

// seedLines returns the first n lines of a testdata file.
func seedLines(f *testing.F, path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	return strings.Join(lines[:min(n, len(lines))], "")
}

// checkResult asserts the invariants every reader keeps, whatever the
// input: an *Error or a non-empty library with consistent entries.
func checkResult(t *testing.T, lib *Library, err error) {
	t.Helper()
	if err != nil {
		var le *Error
		if !errors.As(err, &le) || len(le.Problems) == 0 {
			t.Fatalf("error %T %v, want *Error with problems", err, err)
		}
		if lib != nil {
			t.Fatal("library returned with an error")
		}
		checkProblems(t, le.Problems)
		return
	}
	checkProblems(t, lib.Dropped)
	checkMolecules(t, lib)
	if lib == nil || len(lib.Entries) == 0 {
		t.Fatal("no library and no error")
	}
	prev := 0
	for i, e := range lib.Entries {
		if e.Index != i || e.Row <= prev || e.Line < 1 || e.Name == "" || e.SMILES == "" || e.Molecule == nil {
			t.Fatalf("entry %d: %+v", i, e)
		}
		prev = e.Row
	}
}

func fuzzOptions(dropInvalid bool) Options {
	return Options{DropInvalid: dropInvalid, MaxLigands: 50, MaxNameLength: 16}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"name,smiles\nethanol,CCO\n",
		"\uFEFFCompound ID,x,smiles\r\nA, 1 ,c1ccccc1 \r\n\r\n,,\r\n",
		"CCO,ethanol\nC1CC,bad\n",
		"CCO\nCC(\n",
		"BBBP,smiles\n1,[Cl].CC(C)NCC(O)COc1cccc2ccccc12\n",
		"id,smiles\n\"a,b\nc\",C\n\"x,C\n",
		"name\tsmiles\nx\tC\n",
		"",
		"name,smiles\n=HYPERLINK(\"http://x\"),CCO\n\"<script>\",C\n",
		seedLines(f, "../../testdata/smiles/BBBP.csv", 8),
		seedLines(f, "../../testdata/smiles/delaney-processed.csv", 8),
		seedLines(f, "../../testdata/smiles/fda_approved_drugs.csv", 8),
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	// An accepted library, written back as name,smiles, reads back to the
	// same names and SMILES.
	f.Fuzz(func(t *testing.T, s string, drop bool) {
		lib, err := ReadCSV(strings.NewReader(s), fuzzOptions(drop))
		checkResult(t, lib, err)
		if err == nil {
			out := writeCSV(lib)
			back, err := ReadCSV(strings.NewReader(out), fuzzOptions(false))
			sameEntries(t, out, lib, back, err)
		}
		lib, err = ReadTSV(strings.NewReader(s), fuzzOptions(drop))
		checkResult(t, lib, err)
		if err == nil {
			out := writeCSV(lib)
			back, err := ReadCSV(strings.NewReader(out), fuzzOptions(false))
			sameEntries(t, out, lib, back, err)
		}
	})
}

func FuzzReadSMI(f *testing.F) {
	for _, s := range []string{
		"CCO ethanol\n",
		"\uFEFFSMILES Name\r\n# c\r\nc1ccccc1\tbenzene ring\r\n\r\nC\r\n",
		"C1CC bad\nCCO good\n",
		"[Na+].[Cl-] salt\n",
		"",
		"CCO =cmd|' /C calc'!A0\nC @SUM(1+1)\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	// An accepted library, written back as "SMILES name" lines, reads back
	// to the same names and SMILES.
	f.Fuzz(func(t *testing.T, s string, drop bool) {
		lib, err := ReadSMI(strings.NewReader(s), fuzzOptions(drop))
		checkResult(t, lib, err)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, e := range lib.Entries {
			b.WriteString(e.SMILES + " " + e.Name + "\n")
		}
		back, err := ReadSMI(strings.NewReader(b.String()), fuzzOptions(false))
		sameEntries(t, b.String(), lib, back, err)
	})
}

const tinySDF = `ethanol
     RDKit          2D

  3  2  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    1.2990    0.7500    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    2.5981   -0.0000    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  2  3  1  0
M  END
>  <ID>  (1)
E-1

$$$$
`

func FuzzReadSDF(f *testing.F) {
	for _, s := range []string{
		tinySDF,
		tinySDF + strings.Replace(tinySDF, "ethanol", "", 1),
		strings.ReplaceAll(tinySDF, "\n", "\r\n"),
		strings.Replace(tinySDF, "  3  2", "  3  5", 1),
		strings.Replace(tinySDF, "M  END\n", "", 1),
		"\n\n$$$$\n",
		"",
		seedRecords(f, "testdata/fda_approved_drugs.sdf", 2),
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, drop bool) {
		lib, err := ReadSDF(strings.NewReader(s), fuzzOptions(drop))
		checkResult(t, lib, err)
		if err == nil {
			// The records' names and SMILES, as a CSV, read back the same.
			out := writeCSV(lib)
			back, err := ReadCSV(strings.NewReader(out), fuzzOptions(false))
			sameEntries(t, out, lib, back, err)
		}
	})
}

// seedRecords returns the first n records of an SD file.
func seedRecords(f *testing.F, path string, n int) string {
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		f.Fatal(err)
	}
	recs := strings.SplitAfter(string(data), "$$$$\n")
	return strings.Join(recs[:min(n, len(recs))], "")
}
