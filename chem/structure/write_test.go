package structure

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var fixtures = []string{"1A8O.pdb", "1iep_receptorH.pdb", "1m17.pdb", "h-NbBCII10_HLT_framework.pdb", "1GBT.cif", "4CUP.cif"}

// writePDB writes s, failing the test on an error.
func writePDB(t testing.TB, s *Structure) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WritePDB(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameAtoms compares atoms but their line numbers.
func sameAtoms(a, b []Atom) (int, bool) {
	if len(a) != len(b) {
		return -1, false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Line, y.Line = 0, 0
		if x != y {
			return i, false
		}
	}
	return 0, true
}

// TestRoundTrip checks Read -> WritePDB -> Read on every fixture.
func TestRoundTrip(t *testing.T) {
	for _, file := range fixtures {
		t.Run(file, func(t *testing.T) {
			_, s := readFixture(t, file)
			out := writePDB(t, s)
			back, err := Read(out, PDB, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if i, ok := sameAtoms(s.Atoms, back.Atoms); !ok {
				if i < 0 {
					t.Fatalf("%d atoms, %d after the round trip", len(s.Atoms), len(back.Atoms))
				}
				t.Fatalf("atom %d: %+v, after the round trip %+v", i, s.Atoms[i], back.Atoms[i])
			}
			if !equalSummaries(s.Summarize(), back.Summarize()) {
				t.Errorf("summaries differ")
			}
		})
	}
}

// TestWrittenColumns reads the written records back column by column, as
// the PDB format defines them (vina_test.go reads them with gpu/vina).
func TestWrittenColumns(t *testing.T) {
	for _, file := range fixtures {
		t.Run(file, func(t *testing.T) {
			_, s := readFixture(t, file)
			out := writePDB(t, s)
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			i := 0
			for n, l := range lines {
				if l == "TER" || l == "END" {
					continue
				}
				if len(l) != 80 {
					t.Fatalf("line %d is %d columns: %q", n+1, len(l), l)
				}
				checkColumns(t, l, s.Atoms[i])
				i++
			}
			if i != len(s.Atoms) || lines[len(lines)-1] != "END" || lines[len(lines)-2] != "TER" {
				t.Errorf("%d atom records for %d atoms; ends %q", i, len(s.Atoms), lines[len(lines)-2:])
			}
		})
	}
}

// checkColumns checks each field of a written record at its columns
// (1-based, inclusive, as the PDB format documents them).
func checkColumns(t *testing.T, l string, a Atom) {
	t.Helper()
	col := func(from, to int) string { return l[from-1 : to] }
	record := "ATOM  "
	if a.Het {
		record = "HETATM"
	}
	f3 := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	want := []struct {
		from, to int
		text     string
	}{
		{1, 6, record}, {7, 11, pad5(strconv.Itoa(a.Serial))}, {12, 12, " "},
		{17, 17, orBlank(a.AltLoc)}, {18, 20, padL(a.ResName, 3)}, {21, 21, " "}, {22, 22, orBlank(a.Chain)},
		{23, 26, padL(strconv.Itoa(a.ResSeq), 4)}, {27, 27, orBlank(a.ICode)}, {28, 30, "   "},
		{31, 38, padL(f3(a.X), 8)}, {39, 46, padL(f3(a.Y), 8)}, {47, 54, padL(f3(a.Z), 8)},
		{55, 60, padL(f2(a.Occupancy), 6)}, {61, 66, padL(f2(a.BFactor), 6)}, {67, 76, strings.Repeat(" ", 10)},
		{77, 78, padL(a.Element, 2)}, {79, 80, chargeCols(a.Charge)},
	}
	for _, w := range want {
		if got := col(w.from, w.to); got != w.text {
			t.Fatalf("%q: columns %d-%d are %q, want %q", l, w.from, w.to, got, w.text)
		}
	}
	name := col(13, 16)
	if strings.TrimSpace(name) != a.Name {
		t.Fatalf("%q: name columns %q, want %q", l, name, a.Name)
	}
	// Names of 1-3 characters with a one-letter element start in column 14.
	if wantShift := len(a.Name) < 4 && len(a.Element) == 1; (name[0] == ' ') != wantShift {
		t.Fatalf("%q: name %q misaligned for element %q", l, name, a.Element)
	}
}

func pad5(s string) string { return padL(s, 5) }

func padL(s string, n int) string { return strings.Repeat(" ", n-len(s)) + s }

func orBlank(s string) string {
	if s == "" {
		return " "
	}
	return s
}

func chargeCols(c int) string {
	switch {
	case c > 0:
		return strconv.Itoa(c) + "+"
	case c < 0:
		return strconv.Itoa(-c) + "-"
	}
	return "  "
}

// TestWriteTER checks TER records between chains.
func TestWriteTER(t *testing.T) {
	s := &Structure{Atoms: []Atom{
		{Serial: 1, Name: "CA", ResName: "ALA", Chain: "A", Element: "C"},
		{Serial: 2, Name: "CA", ResName: "ALA", Chain: "A", Element: "C"},
		{Serial: 3, Name: "CA", ResName: "GLY", Chain: "B", Element: "C"},
		{Het: true, Serial: 4, Name: "ZN", ResName: "ZN", Chain: "B", Element: "Zn", Charge: 2},
	}}
	var kinds []string
	for _, l := range strings.Split(string(writePDB(t, s)), "\n") {
		kinds = append(kinds, strings.TrimSpace(l[:min(6, len(l))]))
	}
	if got := strings.Join(kinds, ","); got != "ATOM,ATOM,TER,ATOM,HETATM,TER,END," {
		t.Errorf("records %s", got)
	}
	empty := &Structure{}
	if got := string(writePDB(t, empty)); got != "END\n" {
		t.Errorf("no atoms: %q", got)
	}
}

// TestWriteErrors checks values that do not fit the PDB columns.
func TestWriteErrors(t *testing.T) {
	ok := Atom{Serial: 1, Name: "CA", ResName: "ALA", Chain: "A", ResSeq: 1, Element: "C", Occupancy: 1, Line: 40}
	cases := []struct {
		change func(*Atom)
		want   string
	}{
		{func(a *Atom) { a.Chain = "AB" }, `chain id "AB" is longer than 1 character`},
		{func(a *Atom) { a.ResName = "ABCD" }, `residue name "ABCD"`},
		{func(a *Atom) { a.Name = "CA123" }, `atom name "CA123"`},
		{func(a *Atom) { a.Serial = 100000 }, `atom serial "100000"`},
		{func(a *Atom) { a.ResSeq = -1000 }, `residue number "-1000"`},
		{func(a *Atom) { a.X = 10000 }, `x coordinate "10000.000"`},
		{func(a *Atom) { a.Z = -1000 }, `z coordinate "-1000.000"`},
		{func(a *Atom) { a.BFactor = 1000 }, `B-factor "1000.00"`},
		{func(a *Atom) { a.Element = "FE2" }, `element "FE2"`},
		{func(a *Atom) { a.Charge = 10 }, "formal charge 10"},
		{func(a *Atom) { a.AltLoc = "\n" }, "line break"},
	}
	for _, c := range cases {
		a := ok
		c.change(&a)
		s := &Structure{Atoms: []Atom{ok, a}}
		var buf bytes.Buffer
		err := s.WritePDB(&buf)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "atom 2 (serial") ||
			!strings.Contains(err.Error(), "line 40") {
			t.Errorf("error %v, want %q", err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%q: wrote %d bytes despite the error", c.want, buf.Len())
		}
	}
	if err := (&Structure{Atoms: []Atom{ok}}).WritePDB(failWriter{}); err == nil {
		t.Error("a failing writer gives no error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriteMultiCharChain checks that an mmCIF chain of two characters
// is refused by name.
func TestWriteMultiCharChain(t *testing.T) {
	in := cifHeader + strings.Replace(cifRow, " 1 A 1\n", " 1 AA 1\n", 1)
	s, err := Read([]byte(in), MMCIF, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.WritePDB(&bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `chain id "AA"`) {
		t.Errorf("error %v", err)
	}
}

// TestTestdataSources checks that every testdata file is listed in SOURCES.md.
func TestTestdataSources(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "SOURCES.md" {
			continue
		}
		if !bytes.Contains(src, []byte(e.Name())) {
			t.Errorf("%s is not in testdata/SOURCES.md", e.Name())
		}
	}
}
