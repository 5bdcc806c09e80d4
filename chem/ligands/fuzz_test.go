package ligands

import (
	"errors"
	"strings"
	"testing"
)

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
		return
	}
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
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, drop bool) {
		lib, err := ReadCSV(strings.NewReader(s), fuzzOptions(drop))
		checkResult(t, lib, err)
		lib, err = ReadTSV(strings.NewReader(s), fuzzOptions(drop))
		checkResult(t, lib, err)
	})
}

func FuzzReadSMI(f *testing.F) {
	for _, s := range []string{
		"CCO ethanol\n",
		"\uFEFFSMILES Name\r\n# c\r\nc1ccccc1\tbenzene ring\r\n\r\nC\r\n",
		"C1CC bad\nCCO good\n",
		"[Na+].[Cl-] salt\n",
		"",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, drop bool) {
		lib, err := ReadSMI(strings.NewReader(s), fuzzOptions(drop))
		checkResult(t, lib, err)
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
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, drop bool) {
		lib, err := ReadSDF(strings.NewReader(s), fuzzOptions(drop))
		checkResult(t, lib, err)
	})
}
