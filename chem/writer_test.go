package chem

import (
	"math"
	"testing"
)

func TestSMILESWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"CCO", "CCO"},
		{"c1ccccc1", "c1ccccc1"},
		{"c1cc[nH]c1", "c1cc[nH]c1"},
		{"C[C@H](N)C(=O)O", "C[C@H](N)C(=O)O"},
		{"[C@@H]1(F)CCC1", "[C@@H]1(F)CCC1"},
		{"F[C@H]1CC[C@@H](Cl)CC1", "F[C@H]1CC[C@@H](Cl)CC1"},
		{"F/C=C\\F", "F/C=C\\F"},
		{"C/1=C/CCCCCC1", "C/1=C/CCCCCC1"},
		{"[2H]C([2H])([2H])Cl", "[2H]C([2H])([2H])Cl"},
		{"[NH4+].[Cl-]", "[NH4+].[Cl-]"},
		{"CN(=O)=O", "C[N+]([O-])=O"},
		{"OCl(=O)(=O)=O", "O[Cl+3]([O-])([O-])[O-]"},
		{"[O-][n+]1ccccc1", "[O-][n+]1ccccc1"},
		{"C%10CC%10", "C1CC1"},
		{"*c1ccccc1", "*-c1ccccc1"},
		{"c1ccccc1c1ccccc1", "c1ccccc1-c1ccccc1"},
		{"C:C", "C:C"},
		{"[13CH3:7]O", "[13CH3:7]O"},
		{"[H][H]", "[H][H]"},
		{"C1.C1", "CC"},
	}
	for _, tc := range tests {
		m, err := ParseSMILES(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		out := m.SMILES()
		if out != tc.want {
			t.Errorf("%s: SMILES() = %s, want %s", tc.in, out, tc.want)
		}
		m2, err := ParseSMILES(out)
		if err != nil {
			t.Errorf("%s -> %s: %v", tc.in, out, err)
			continue
		}
		if m.Formula() != m2.Formula() || math.Abs(m.MolecularWeight()-m2.MolecularWeight()) > 1e-9 || m.HeavyAtoms() != m2.HeavyAtoms() {
			t.Errorf("%s -> %s: %s then %s", tc.in, out, m.Formula(), m2.Formula())
		}
	}
}

// TestSMILESKekuleForm covers molecules whose aromatic atoms SMILES cannot
// write in lower case (here an aromatic Si, as a molfile may give): they are
// written in Kekulé form.
func TestSMILESKekuleForm(t *testing.T) {
	m, err := ParseSMILES("c1ccccc1")
	if err != nil {
		t.Fatal(err)
	}
	m.Atoms[0].Element = "Si"
	out := m.SMILES()
	if out != "[SiH]1=CC=CC=C1" && out != "[SiH]1C=CC=CC=1" && out != "[SiH]=1C=CC=CC=1" {
		t.Logf("Kekulé form %s", out)
	}
	m2, err := ParseSMILES(out)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if got, want := m2.Formula(), "C5H6Si"; got != want || m.Formula() != want {
		t.Errorf("%s: formula %s (before %s), want %s", out, got, m.Formula(), want)
	}
}
