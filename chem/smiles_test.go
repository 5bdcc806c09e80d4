package chem

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSMILESErrors(t *testing.T) {
	tests := []struct {
		in     string
		pos    int // 0-based
		reason string
	}{
		{"", 0, "empty SMILES"},
		{"  ", 0, "empty SMILES"},
		{"C1CCC", 5, "unclosed ring 1 opened at position 2"},
		{"C%12CCC", 7, "unclosed ring 12 opened at position 2"},
		{"CC)C", 2, "unexpected ')'"},
		{"C(C", 3, "unclosed branch '(' opened at position 2"},
		{"CXx", 1, "unknown element 'Xx'"},
		{"X", 0, "unknown element 'X'"},
		{"C[Xx]", 2, "unknown element 'Xx'"},
		{"Na", 0, "element 'Na' must be written in brackets"},
		{"[cl]1ccccc1", 1, "unknown aromatic element 'cl'"},
		{"CC(C)(C)(C)C", 1, "C with valence 5 (at most 4)"},
		{"C=C(C)(C)C", 2, "C with valence 5 (at most 4)"},
		{"Cl(C)C", 0, "Cl with valence 2 (at most 1)"},
		{"[NH4]", 0, "N with valence 4 (at most 3)"},
		{"[O+](C)(C)(C)C", 0, "O+ with valence 4 (at most 3)"},
		{"CS(=O)(=O)(=O)C", 1, "S with valence 8 (at most 6)"},
		// RDKit's clean-up charges nitro-like N and perhalate groups; an
		// error must still describe the atoms as written (uncharged).
		{"OCl(=O)(=O)=OC", 12, "O with valence 3 (at most 2)"},
		{"C=N#NC", 4, "N with valence 4 (at most 3)"},
		{"C=N#N=C", 4, "N with valence 5 (at most 3)"},
		{"CN(=O)(=O)=O", 1, "N with valence 7 (at most 3)"},
		{"c1ccnc1", 5, "can't kekulize: no double bond can be placed at aromatic 'c' (should an aromatic n be [nH]?)"},
		{"c1cccc1", 5, "can't kekulize: no double bond can be placed at aromatic 'c'"},
		{"c", 0, "aromatic atom 'c' is not in a ring"},
		{"Cc1ccccc1:c", 10, "aromatic atom 'c' is not in a ring"},
		{"C1CC1C11", 7, "ring 1 closes on the atom that opened it"},
		{"C1CC1.C1C1", 9, "duplicate bond between the atoms at positions 7 and 9"},
		{"C=1CC#1", 6, "ring 1 closed with bond '#' but opened with '='"},
		{"C==C", 2, "two bonds in a row"},
		{"C=", 1, "bond '=' not followed by an atom"},
		{"=C", 0, "bond '=' without a preceding atom"},
		{"C(=)C", 2, "bond '=' not followed by an atom"},
		{"C..C", 2, "unexpected '.'"},
		{".C", 0, "unexpected '.'"},
		{"C.", 1, "SMILES ends with '.'"},
		{"(C)C", 0, "branch '(' without a preceding atom"},
		{"C()C", 2, "empty branch '()'"},
		{"C((C))C", 2, "branch '(' opens right after another '('"},
		{"C(1)C", 2, "ring closure inside a branch before its first atom"},
		{"1CC1", 0, "ring closure without a preceding atom"},
		{"[CH4+", 0, "unclosed '['"},
		{"[C@X]", 3, "unexpected 'X' in bracket atom"},
		{"[]", 1, "missing element symbol in brackets"},
		{"[2]", 2, "missing element symbol in brackets"},
		{"C%1CC%1", 1, "'%' must be followed by two digits"},
		{"C%(1CC", 1, "bad ring number after '%('"},
		{"C?C", 1, "unexpected character '?'"},
		{"CC O", 2, "unexpected character ' '"},
		{"[C@SP4](F)(Cl)(Br)I", 2, "bad chirality '@SP': number must be 1 to 3"},
		{"[C@OH31]", 2, "bad chirality '@OH': number must be 1 to 30"},
		{"[C:]", 3, "atom class ':' must be followed by digits"},
		{"[C+99]", 4, "charge too large"},
	}
	for _, tc := range tests {
		_, err := ParseSMILES(tc.in)
		var se *SMILESError
		if !errors.As(err, &se) {
			t.Errorf("ParseSMILES(%q) = %v, want a *SMILESError", tc.in, err)
			continue
		}
		if se.Pos != tc.pos || se.Reason != tc.reason {
			t.Errorf("ParseSMILES(%q): Pos %d %q, want Pos %d %q", tc.in, se.Pos, se.Reason, tc.pos, tc.reason)
		}
	}
	err := &SMILESError{Pos: 6, Reason: "unclosed ring 1 opened at position 3"}
	if got, want := err.Error(), "position 7: unclosed ring 1 opened at position 3"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseSMILESAtoms(t *testing.T) {
	tests := []struct {
		in   string
		atom int
		want Atom // Pos is not compared
	}{
		{"[NH4+]", 0, Atom{Element: "N", HCount: 4, Charge: 1, Bracket: true}},
		{"[Fe++]", 0, Atom{Element: "Fe", Charge: 2, Bracket: true}},
		{"[Fe+2]", 0, Atom{Element: "Fe", Charge: 2, Bracket: true}},
		{"[O--]", 0, Atom{Element: "O", Charge: -2, Bracket: true}},
		{"[O-2]", 0, Atom{Element: "O", Charge: -2, Bracket: true}},
		{"[Cl-]", 0, Atom{Element: "Cl", Charge: -1, Bracket: true}},
		{"[13CH4]", 0, Atom{Element: "C", Isotope: 13, HCount: 4, Bracket: true}},
		{"[2H]C", 0, Atom{Element: "H", Isotope: 2, Bracket: true}},
		{"[2H]C", 1, Atom{Element: "C", HCount: 3}},
		{"N[C@@H](C)C(=O)O", 1, Atom{Element: "C", HCount: 1, Bracket: true, Chirality: "@@"}},
		{"F[C@](Cl)(Br)I", 1, Atom{Element: "C", Bracket: true, Chirality: "@"}},
		{"F[C@TH2](Cl)(Br)I", 1, Atom{Element: "C", Bracket: true, Chirality: "@TH2"}},
		{"F[C@AL1](Cl)=C=C", 1, Atom{Element: "C", Bracket: true, Chirality: "@AL1"}},
		{"F[Pt@SP3](Cl)(Br)I", 1, Atom{Element: "Pt", Bracket: true, Chirality: "@SP3"}},
		{"[Co@OH25](C)(C)(C)(C)(C)C", 0, Atom{Element: "Co", Bracket: true, Chirality: "@OH25"}},
		{"[As@TB12](F)(F)(F)(F)F", 0, Atom{Element: "As", Bracket: true, Chirality: "@TB12"}},
		{"[CH3:12]O", 0, Atom{Element: "C", HCount: 3, Bracket: true, Class: 12}},
		{"[13C@@H:2](F)(Cl)Br", 0, Atom{Element: "C", Isotope: 13, HCount: 1, Bracket: true, Chirality: "@@", Class: 2}},
		{"c1cc[se]c1", 3, Atom{Element: "Se", Aromatic: true, Bracket: true}},
		{"c1ccccc1", 0, Atom{Element: "C", Aromatic: true, HCount: 1}},
		{"c1cc[nH]c1", 3, Atom{Element: "N", Aromatic: true, HCount: 1, Bracket: true}},
		{"*C", 0, Atom{Element: "*"}},
		{"CN(=O)=O", 1, Atom{Element: "N", Charge: 1}},
		{"ClC", 0, Atom{Element: "Cl"}},
		{"BrC", 0, Atom{Element: "Br"}},
		{"OB(O)O", 1, Atom{Element: "B"}},
	}
	for _, tc := range tests {
		m, err := ParseSMILES(tc.in)
		if err != nil {
			t.Errorf("ParseSMILES(%q): %v", tc.in, err)
			continue
		}
		got := m.Atoms[tc.atom]
		got.Pos = 0
		if got != tc.want {
			t.Errorf("ParseSMILES(%q).Atoms[%d] = %+v, want %+v", tc.in, tc.atom, got, tc.want)
		}
	}
}

func TestParseSMILESBonds(t *testing.T) {
	tests := []struct {
		in    string
		bonds int
		rings int // bonds that close rings, counted by order
	}{
		{"C%10CC%10", 3, 0},
		{"C%(123)CC%(123)", 3, 0},
		{"C1CC=1", 3, 0},
		{"C=1CC1", 3, 0},
		{"C=1CC=1", 3, 0},
		{"C12CC1C2", 5, 0},
		{"C1CC1.C1CC1", 6, 0},
		{"F/C=C/F", 3, 0},
		{"C$C", 1, 0},
	}
	for _, tc := range tests {
		m, err := ParseSMILES(tc.in)
		if err != nil {
			t.Errorf("ParseSMILES(%q): %v", tc.in, err)
			continue
		}
		if len(m.Bonds) != tc.bonds {
			t.Errorf("ParseSMILES(%q): %d bonds, want %d", tc.in, len(m.Bonds), tc.bonds)
		}
	}
	m, _ := ParseSMILES("C=1CC1")
	if m.Bonds[2].Order != BondDouble {
		t.Errorf("C=1CC1: ring bond order %d, want double", m.Bonds[2].Order)
	}
	m, _ = ParseSMILES("F/C=C\\F")
	if m.Bonds[0].Stereo != '/' || m.Bonds[2].Stereo != '\\' {
		t.Errorf("F/C=C\\F: stereo marks %q %q", m.Bonds[0].Stereo, m.Bonds[2].Stereo)
	}
	m, _ = ParseSMILES("c1ccccc1")
	doubles := 0
	for _, b := range m.Bonds {
		if !b.Aromatic {
			t.Errorf("benzene bond %+v not marked aromatic", b)
		}
		if b.Order == BondDouble {
			doubles++
		}
	}
	if doubles != 3 {
		t.Errorf("benzene kekulized with %d double bonds, want 3", doubles)
	}
}

func TestProperties(t *testing.T) {
	// Values from RDKit 2022.09.
	tests := []struct {
		in        string
		formula   string
		mw        float64
		heavy     int
		donors    int
		acceptors int
	}{
		{"CC(=O)Oc1ccccc1C(=O)O", "C9H8O4", 180.159, 13, 1, 3},
		{"[13CH3]C(=O)[O-].c1cc[nH+]cc1", "C7H9NO2", 140.146, 10, 0, 2},
		{"CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "C8H10N4O2", 194.194, 14, 0, 6},
		{"[NH4+].[Cl-]", "H4ClN", 53.492, 2, 1, 0},
		{"c1ccc2[nH]ccc2c1", "C8H7N", 117.151, 9, 1, 0},
		{"C*", "CH3*", 15.035, 1, 0, 0},
		{"[2H]C", "CH4", 17.049, 1, 0, 0},
		{"CC[NH3+]", "C2H8N+", 46.093, 3, 1, 0},
		{"OC(=O)CCC(=O)[O-].[O-]C(=O)C", "C6H8O6-2", 176.124, 12, 1, 5},
	}
	for _, tc := range tests {
		m, err := ParseSMILES(tc.in)
		if err != nil {
			t.Errorf("ParseSMILES(%q): %v", tc.in, err)
			continue
		}
		if got := m.Formula(); got != tc.formula {
			t.Errorf("%s: formula %s, want %s", tc.in, got, tc.formula)
		}
		if got := m.MolecularWeight(); math.Abs(got-tc.mw) > 0.001 {
			t.Errorf("%s: MW %.3f, want %.3f", tc.in, got, tc.mw)
		}
		if got := m.HeavyAtoms(); got != tc.heavy {
			t.Errorf("%s: heavy atoms %d, want %d", tc.in, got, tc.heavy)
		}
		if got := m.HBondDonors(); got != tc.donors {
			t.Errorf("%s: donors %d, want %d", tc.in, got, tc.donors)
		}
		if got := m.HBondAcceptors(); got != tc.acceptors {
			t.Errorf("%s: acceptors %d, want %d", tc.in, got, tc.acceptors)
		}
	}
}

func TestParseMolfileImatinib(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "vina", "1iep_ligand.sdf"))
	if err != nil {
		t.Fatal(err)
	}
	block, _, _ := strings.Cut(string(data), "M  END")
	m, err := ParseMolfile(block)
	if err != nil {
		t.Fatal(err)
	}
	// The crystal ligand carries the proton on the methylpiperazine N, so
	// RDKit reads it as C29H32N7O+ (imatinib itself is C29H31N7O).
	if got, want := m.Formula(), "C29H32N7O+"; got != want {
		t.Errorf("formula %s, want %s", got, want)
	}
	if got := m.HeavyAtoms(); got != 37 {
		t.Errorf("heavy atoms %d, want 37", got)
	}
	m2, err := ParseSMILES(m.SMILES())
	if err != nil {
		t.Fatalf("SMILES %s: %v", m.SMILES(), err)
	}
	if m2.Formula() != m.Formula() || math.Abs(m2.MolecularWeight()-m.MolecularWeight()) > 1e-9 {
		t.Errorf("SMILES %s gives %s, want %s", m.SMILES(), m2.Formula(), m.Formula())
	}
}

func TestParseMolfileV3000(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "acetate_pyridinium_v3000.mol"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMolfile(string(data))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParseSMILES("[13CH3]C(=O)[O-].c1cc[nH+]cc1")
	if m.Formula() != want.Formula() || math.Abs(m.MolecularWeight()-want.MolecularWeight()) > 1e-9 ||
		m.HBondAcceptors() != want.HBondAcceptors() {
		t.Errorf("V3000 gives %s %.3f, want %s %.3f", m.Formula(), m.MolecularWeight(), want.Formula(), want.MolecularWeight())
	}
}

func TestParseMolfileErrors(t *testing.T) {
	header := "name\n  prog\n\n"
	tests := []struct {
		block string
		line  int
		want  string
	}{
		{"x\n", 2, "too short for a molfile header and counts line"},
		{header + "  x  0  0  0  0  0  0  0  0  0999 V2000\n", 4, "bad counts line"},
		{header + "  2  1  0  0  0  0  0  0  0  0999 V2000\n" +
			"    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n", 6, "block ends before its 2 atoms and 1 bonds"},
		{header + "  1  0  0  0  0  0  0  0  0  0999 V2000\n" +
			"    0.0000    0.0000    0.0000 Xx  0  0  0  0  0  0  0  0  0  0  0  0\n", 5, "unknown element \"Xx\""},
		{header + "  2  1  0  0  0  0  0  0  0  0999 V2000\n" +
			"    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n" +
			"    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n" +
			"  1  3  1  0\n", 7, "bond between atoms 1 and 3 of 2"},
		{header + "  2  1  0  0  0  0  0  0  0  0999 V2000\n" +
			"    0.0000    0.0000    0.0000 F   0  0  0  0  0  0  0  0  0  0  0  0\n" +
			"    0.0000    0.0000    0.0000 F   0  0  0  0  0  0  0  0  0  0  0  0\n" +
			"  1  2  2  0\n", 5, "F with valence 2 (at most 1)"},
		{header + "  1  0  0  0  0  0  0  0  0  0999 V2000\n" +
			"    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n" +
			"M  CHG  1   2   1\n", 6, "bad M  CHG entry"},
	}
	for _, tc := range tests {
		_, err := ParseMolfile(tc.block)
		var me *MolfileError
		if !errors.As(err, &me) {
			t.Errorf("%q: error %v, want a *MolfileError", tc.block, err)
			continue
		}
		if me.Line != tc.line || !strings.HasPrefix(me.Reason, tc.want) {
			t.Errorf("%q: line %d %q, want line %d %q", tc.block, me.Line, me.Reason, tc.line, tc.want)
		}
	}
	// Charges and isotopes from the properties block.
	m, err := ParseMolfile(header + "  2  1  0  0  0  0  0  0  0  0999 V2000\n" +
		"    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n" +
		"    0.0000    0.0000    0.0000 N   0  0  0  0  0  0  0  0  0  0  0  0\n" +
		"  1  2  1  0\n" +
		"M  CHG  1   2   1\n" +
		"M  ISO  1   1  13\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.SMILES(); got != "[13CH3][NH3+]" {
		t.Errorf("SMILES %s, want [13CH3][NH3+]", got)
	}
}
