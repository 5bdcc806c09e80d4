package chem

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
)

func BenchmarkParseSMILES(b *testing.B) {
	smiles := csvColumn(b, filepath.Join("..", "testdata", "smiles", "delaney-processed.csv"), "smiles")
	b.ResetTimer()
	for b.Loop() {
		for _, s := range smiles {
			if _, err := ParseSMILES(s); err != nil {
				b.Fatalf("%s: %v", s, err)
			}
		}
	}
	b.ReportMetric(float64(len(smiles)*b.N)/b.Elapsed().Seconds(), "smiles/s")
}

func FuzzParseSMILES(f *testing.F) {
	for _, s := range []string{
		"CCO", "c1ccccc1", "c1cc[nH]c1", "C[C@H](N)C(=O)O", "F/C=C/F", "C%10CC%10", "C%(123)CC%(123)",
		"[13CH3:7]O", "[NH4+].[Cl-]", "CN(=O)=O", "*c1ccccc1", "c1ccc2ccccc2c1", "[O-][n+]1ccccc1",
		"OCl(=O)(=O)=O", "C1CC2CCC1C2", "[Fe@OH1](C)(C)(C)(C)(C)C", "c1cc[se]c1", "C=1CC1", "[H][H]",
		"CC(=O)Oc1ccccc1C(=O)O", "c1ccnc1", "C1CCC", "CC)C", "[C@SP4]",
	} {
		f.Add(s)
	}
	for _, s := range edgeSMILES {
		f.Add(s)
	}
	// A few of every real library's SMILES, spread over the file.
	for _, src := range []struct{ file, column string }{
		{"delaney-processed.csv", "smiles"}, {"BBBP.csv", "smiles"}, {"fda_approved_drugs.csv", "SMILES"},
	} {
		all := csvColumn(f, filepath.Join("..", "testdata", "smiles", src.file), src.column)
		for i := 0; i < len(all); i += max(len(all)/8, 1) {
			f.Add(all[i])
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseSMILES(s)
		if err != nil {
			var se *SMILESError
			if !errors.As(err, &se) {
				t.Fatalf("%q: error %T %v is not a *SMILESError", s, err, err)
			}
			if se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("%q: error position %d outside the input", s, se.Pos)
			}
			return
		}
		out := m.SMILES()
		m2, err := ParseSMILES(out)
		if err != nil {
			t.Fatalf("%q -> %q does not re-parse: %v", s, out, err)
		}
		if m2.Formula() != m.Formula() || math.Abs(m2.MolecularWeight()-m.MolecularWeight()) > 1e-6 || m2.HeavyAtoms() != m.HeavyAtoms() {
			t.Fatalf("%q -> %q: %s then %s", s, out, m.Formula(), m2.Formula())
		}
	})
}
