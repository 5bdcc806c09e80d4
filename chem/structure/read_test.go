package structure

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readFixture reads testdata/name and parses it in the format its name says.
func readFixture(t testing.TB, name string) ([]byte, *Structure) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := DetectFormat(name, data)
	if !ok {
		t.Fatalf("%s: format not detected", name)
	}
	s, err := Read(data, f, Limits{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return data, s
}

// pdbAtomLines returns the ATOM/HETATM lines of the first model with their
// line numbers, found by a plain scan.
func pdbAtomLines(data []byte) (lines []string, nums []int) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(s, "ENDMDL") {
			break
		}
		if strings.HasPrefix(s, "ATOM  ") || strings.HasPrefix(s, "HETATM") {
			lines = append(lines, s)
			nums = append(nums, n)
		}
	}
	return lines, nums
}

// TestReadPDBFixtures checks every PDB fixture against a plain line scan
// and known numbers (vina_test.go compares the values with gpu/vina).
func TestReadPDBFixtures(t *testing.T) {
	cases := []struct {
		file          string
		atoms, hetero int
		chains        []string
		het           []string
		hydrogens     bool
	}{
		{"1A8O.pdb", 644, 120, []string{"A"}, []string{"HOH", "MSE"}, false},
		{"1iep_receptorH.pdb", 4412, 0, []string{"A"}, []string{}, true},
		{"1m17.pdb", 2560, 49, []string{"A"}, []string{"AQ4", "HOH"}, false},
		{"h-NbBCII10_HLT_framework.pdb", 946, 0, []string{"H"}, []string{}, false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, s := readFixture(t, c.file)
			lines, nums := pdbAtomLines(data)
			if len(s.Atoms) != c.atoms || len(lines) != c.atoms {
				t.Fatalf("atoms: read %d, scan %d, want %d", len(s.Atoms), len(lines), c.atoms)
			}
			het := 0
			for i, a := range s.Atoms {
				if a.Het {
					het++
				}
				if a.Line != nums[i] {
					t.Fatalf("atom %d: line %d, want %d", i, a.Line, nums[i])
				}
			}
			if het != c.hetero {
				t.Errorf("HETATM: %d, want %d", het, c.hetero)
			}
			sum := s.Summarize()
			if !slices.Equal(sum.Chains, c.chains) || !slices.Equal(sum.HetGroups, c.het) || sum.Hydrogens != c.hydrogens {
				t.Errorf("summary %+v, want chains %v het %v hydrogens %v", sum, c.chains, c.het, c.hydrogens)
			}
		})
	}
}

// TestReadPDBSummary checks the summary of 1A8O, whose selenomethionines
// are HETATM records, and of 1M17 (EGFR with erlotinib, AQ4).
func TestReadPDBSummary(t *testing.T) {
	_, s := readFixture(t, "1A8O.pdb")
	sum := s.Summarize()
	// 1A8O: residues 151-220 are modelled (TER 557 GLY A 220); MSE 151,
	// 185, 214, 215 are HETATM; 120 HETATM lines of which 32 are MSE atoms.
	if sum.Residues != 70 || sum.ProteinAtoms != 524+32 || sum.Atoms != 644 {
		t.Errorf("1A8O summary %+v", sum)
	}
	_, s = readFixture(t, "1m17.pdb")
	sum = s.Summarize()
	if sum.ProteinAtoms != 2511 || sum.Atoms != 2560 {
		t.Errorf("1M17 summary %+v", sum)
	}
}

// cifTable is the _atom_site loop of a file read by splitting lines on
// blanks: enough for the wwPDB fixtures, whose atom rows hold no quotes.
type cifTable struct {
	col  map[string]int
	rows [][]string
	nums []int
}

func scanCIFTable(t *testing.T, data []byte) cifTable {
	t.Helper()
	tab := cifTable{col: map[string]int{}}
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && strings.HasPrefix(f[0], "_atom_site."):
			tab.col[strings.TrimPrefix(f[0], "_atom_site.")] = len(tab.col)
		case len(f) > 0 && (f[0] == "ATOM" || f[0] == "HETATM"):
			if len(f) != len(tab.col) {
				t.Fatalf("line %d: %d fields for %d columns", i+1, len(f), len(tab.col))
			}
			tab.rows = append(tab.rows, f)
			tab.nums = append(tab.nums, i+1)
		}
	}
	return tab
}

// get returns a row's value of a column, "" for ? and .
func (c cifTable) get(row int, tag string) string {
	v := c.rows[row][c.col[tag]]
	if v == "?" || v == "." {
		return ""
	}
	return v
}

// TestReadCIFFixtures checks the mmCIF fixtures against a plain
// line-splitting scan, value by value.
func TestReadCIFFixtures(t *testing.T) {
	cases := []struct {
		file   string
		atoms  int
		het    []string
		altLoc int
	}{
		{"1GBT.cif", 1761, []string{"CA", "GBS", "HOH", "SO4"}, 0},
		{"4CUP.cif", 1107, []string{"HOH", "MOH", "ZYB"}, 26},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, s := readFixture(t, c.file)
			tab := scanCIFTable(t, data)
			if len(s.Atoms) != c.atoms || len(tab.rows) != c.atoms {
				t.Fatalf("atoms: read %d, scan %d, want %d", len(s.Atoms), len(tab.rows), c.atoms)
			}
			alt := 0
			for i, a := range s.Atoms {
				if a.AltLoc != "" {
					alt++
				}
				if a.Line != tab.nums[i] {
					t.Fatalf("atom %d: line %d, want %d", i, a.Line, tab.nums[i])
				}
				want := atomFromTable(t, tab, i)
				want.Line = a.Line
				if a != want {
					t.Fatalf("line %d: read %+v, scan %+v", a.Line, a, want)
				}
			}
			if alt != c.altLoc {
				t.Errorf("atoms with an alternate location: %d, want %d", alt, c.altLoc)
			}
			sum := s.Summarize()
			if !slices.Equal(sum.Chains, []string{"A"}) || !slices.Equal(sum.HetGroups, c.het) {
				t.Errorf("summary %+v", sum)
			}
		})
	}
}

// atomFromTable builds the atom a scanned row should give.
func atomFromTable(t *testing.T, tab cifTable, i int) Atom {
	num := func(tag string) float64 {
		v, err := strconv.ParseFloat(tab.get(i, tag), 64)
		if err != nil {
			t.Fatalf("row %d %s: %v", i, tag, err)
		}
		return v
	}
	n := func(tag string) int { return int(num(tag)) }
	charge := 0
	if tab.get(i, "pdbx_formal_charge") != "" {
		charge = n("pdbx_formal_charge")
	}
	el := tab.get(i, "type_symbol")
	return Atom{
		Het: tab.get(i, "group_PDB") == "HETATM", Serial: n("id"), Name: tab.get(i, "label_atom_id"),
		AltLoc: tab.get(i, "label_alt_id"), ResName: tab.get(i, "label_comp_id"), Chain: tab.get(i, "auth_asym_id"),
		ResSeq: n("auth_seq_id"), ICode: tab.get(i, "pdbx_PDB_ins_code"),
		X: num("Cartn_x"), Y: num("Cartn_y"), Z: num("Cartn_z"), Occupancy: num("occupancy"), BFactor: num("B_iso_or_equiv"),
		Element: el[:1] + strings.ToLower(el[1:]), Charge: charge,
	}
}

func equalSummaries(a, b Summary) bool {
	return a.Atoms == b.Atoms && a.ProteinAtoms == b.ProteinAtoms && a.Residues == b.Residues &&
		a.Hydrogens == b.Hydrogens && slices.Equal(a.Chains, b.Chains) && slices.Equal(a.HetGroups, b.HetGroups)
}

// TestReadPDBTolerates checks short lines, missing elements, CRLF line
// ends, later models and records after END.
func TestReadPDBTolerates(t *testing.T) {
	in := "HEADER    TEST\r\n" +
		"MODEL        1\r\n" +
		"ATOM      1  N   ALA A   1      11.104   6.134  -6.504\r\n" +
		"ATOM      2 1HB  ALA A   1      11.104   6.134  -6.504  0.50\r\n" +
		"HETATM    3 ZN    ZN B 401      -1.000   2.500   3.250  1.00 20.00\r\n" +
		"HETATM    4 FE   HEM B 402      -1.000   2.500   3.250  1.00 20.00          FE3+\r\n" +
		"HETATM    5  C12 LIG B 403      -1.000   2.500   3.250  1.00 20.00\r\n" +
		"ENDMDL\r\n" +
		"MODEL        2\r\n" +
		"ATOM      1  N   ALA A   1      xx.104   6.134  -6.504\r\n"
	s, err := Read([]byte(in), PDB, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Atom{
		{Serial: 1, Name: "N", ResName: "ALA", Chain: "A", ResSeq: 1, X: 11.104, Y: 6.134, Z: -6.504, Occupancy: 1, Element: "N", Line: 3},
		{Serial: 2, Name: "1HB", ResName: "ALA", Chain: "A", ResSeq: 1, X: 11.104, Y: 6.134, Z: -6.504, Occupancy: 0.5, Element: "H", Line: 4},
		{Het: true, Serial: 3, Name: "ZN", ResName: "ZN", Chain: "B", ResSeq: 401, X: -1, Y: 2.5, Z: 3.25, Occupancy: 1, BFactor: 20, Element: "Zn", Line: 5},
		{Het: true, Serial: 4, Name: "FE", ResName: "HEM", Chain: "B", ResSeq: 402, X: -1, Y: 2.5, Z: 3.25, Occupancy: 1, BFactor: 20, Element: "Fe", Charge: 3, Line: 6},
		{Het: true, Serial: 5, Name: "C12", ResName: "LIG", Chain: "B", ResSeq: 403, X: -1, Y: 2.5, Z: 3.25, Occupancy: 1, BFactor: 20, Element: "C", Line: 7},
	}
	if !slices.Equal(s.Atoms, want) {
		t.Errorf("got\n%+v\nwant\n%+v", s.Atoms, want)
	}
	// Records after END are not read.
	s, err = Read([]byte("ATOM      1  N   ALA A   1      11.104   6.134  -6.504\nEND\nATOM   xx\n"), PDB, Limits{})
	if err != nil || len(s.Atoms) != 1 {
		t.Errorf("after END: %v", err)
	}
}

// TestElementNormalization checks the case of element symbols.
func TestElementNormalization(t *testing.T) {
	for in, want := range map[string]string{"FE": "Fe", "C": "C", "fe": "Fe", "cL": "Cl", "": "", "ZN": "Zn"} {
		if got := normalizeElement(in); got != want {
			t.Errorf("normalizeElement(%q) = %q, want %q", in, got, want)
		}
	}
	for _, c := range []struct {
		name string
		het  bool
		want string
	}{{"CA", false, "C"}, {"CA", true, "Ca"}, {"1HG2", false, "H"}, {"FE", true, "Fe"}, {"C12", true, "C"}, {"O1'", true, "O"}, {"", false, ""}, {"123", true, ""}} {
		if got := elementFromName(c.name, c.het); got != c.want {
			t.Errorf("elementFromName(%q, %v) = %q, want %q", c.name, c.het, got, c.want)
		}
	}
}
