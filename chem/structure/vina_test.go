package structure_test

// These tests compare the package with gpu/vina, the docking adapter that
// consumes its PDB output. They live in the external test package so that
// gpu/vina may one day import chem/structure without an import cycle.

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"omtx/chem/structure"
	"omtx/gpu/vina"
)

var vinaFixtures = []string{"1A8O.pdb", "1iep_receptorH.pdb", "1m17.pdb", "h-NbBCII10_HLT_framework.pdb", "1GBT.cif", "4CUP.cif"}

// read reads testdata/name in the format its name says.
func read(t *testing.T, name string) ([]byte, *structure.Structure) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := structure.DetectFormat(name, nil)
	s, err := structure.Read(data, f, structure.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return data, s
}

// atomLines returns the ATOM/HETATM lines of a PDB file's first model.
func atomLines(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(s, "ENDMDL") {
			break
		}
		if strings.HasPrefix(s, "ATOM  ") || strings.HasPrefix(s, "HETATM") {
			out = append(out, s)
		}
	}
	return out
}

// fromVina converts vina's atom to this package's, with line.
func fromVina(v vina.PDBAtom, line int) structure.Atom {
	return structure.Atom{Het: v.Het, Serial: v.Serial, Name: v.Name, AltLoc: v.AltLoc, ResName: v.ResName,
		Chain: v.Chain, ResSeq: v.ResSeq, ICode: v.ICode, X: v.X, Y: v.Y, Z: v.Z,
		Occupancy: v.Occupancy, BFactor: v.BFactor, Element: v.Element, Charge: v.Charge, Line: line}
}

// TestReadMatchesVinaParsePDBAtom compares every atom of the PDB fixtures
// with gpu/vina.ParsePDBAtom's reading of its line.
func TestReadMatchesVinaParsePDBAtom(t *testing.T) {
	for _, file := range vinaFixtures[:4] {
		t.Run(file, func(t *testing.T) {
			data, s := read(t, file)
			lines := atomLines(data)
			if len(lines) != len(s.Atoms) {
				t.Fatalf("%d atom lines, %d atoms", len(lines), len(s.Atoms))
			}
			for i, l := range lines {
				v, err := vina.ParsePDBAtom(l)
				if err != nil {
					t.Fatalf("vina: %q: %v", l, err)
				}
				if a := s.Atoms[i]; a != fromVina(v, a.Line) {
					t.Fatalf("%q: read %+v, vina %+v", l, a, v)
				}
			}
		})
	}
}

// TestWrittenPDBParsesWithVina reads WritePDB's records of every fixture
// with gpu/vina.ParsePDBAtom.
func TestWrittenPDBParsesWithVina(t *testing.T) {
	for _, file := range vinaFixtures {
		t.Run(file, func(t *testing.T) {
			_, s := read(t, file)
			var buf bytes.Buffer
			if err := s.WritePDB(&buf); err != nil {
				t.Fatal(err)
			}
			lines := atomLines(buf.Bytes())
			if len(lines) != len(s.Atoms) {
				t.Fatalf("%d records for %d atoms", len(lines), len(s.Atoms))
			}
			for i, l := range lines {
				v, err := vina.ParsePDBAtom(l)
				if err != nil {
					t.Fatalf("vina: %q: %v", l, err)
				}
				if a := s.Atoms[i]; a != fromVina(v, a.Line) {
					t.Fatalf("vina reads %q as %+v, want %+v", l, v, a)
				}
			}
		})
	}
}

// TestCIFAgreesWithPDB writes PDB fixtures as mmCIF with gpu/vina's own
// writer (WriteComplex, from vina's own PDB reading) and checks that the
// mmCIF reader gives the atoms and summary that the PDB reader gives.
func TestCIFAgreesWithPDB(t *testing.T) {
	for _, file := range []string{"1iep_receptorH.pdb", "1m17.pdb", "1A8O.pdb"} {
		t.Run(file, func(t *testing.T) {
			data, s := read(t, file)
			var rec []vina.PDBAtom
			for _, l := range atomLines(data) {
				v, err := vina.ParsePDBAtom(l)
				if err != nil {
					t.Fatal(err)
				}
				rec = append(rec, v)
			}
			var cif bytes.Buffer
			if err := vina.WriteComplex(&cif, "TEST", "", rec, nil); err != nil {
				t.Fatal(err)
			}
			c, err := structure.Read(cif.Bytes(), structure.MMCIF, structure.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Atoms) != len(s.Atoms) {
				t.Fatalf("mmCIF %d atoms, PDB %d", len(c.Atoms), len(s.Atoms))
			}
			for i := range s.Atoms {
				p, q := s.Atoms[i], c.Atoms[i]
				// WriteComplex renumbers atoms and drops alternate locations.
				p.Serial, p.AltLoc, p.Line = i+1, "", 0
				q.Line = 0
				if p != q {
					t.Fatalf("atom %d: PDB %+v, mmCIF %+v", i, p, q)
				}
			}
			ps, cs := s.Summarize(), c.Summarize()
			if ps.Atoms != cs.Atoms || ps.ProteinAtoms != cs.ProteinAtoms || ps.Residues != cs.Residues ||
				strings.Join(ps.Chains, ",") != strings.Join(cs.Chains, ",") ||
				strings.Join(ps.HetGroups, ",") != strings.Join(cs.HetGroups, ",") || ps.Hydrogens != cs.Hydrogens {
				t.Errorf("summaries differ: PDB %+v, mmCIF %+v", ps, cs)
			}
		})
	}
}
