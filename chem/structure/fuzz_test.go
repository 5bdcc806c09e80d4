package structure

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics and that whatever it accepts,
// and WritePDB can write, reads back to the same atoms (to the precision
// of the PDB columns). WritePDB may refuse only values that do not fit the
// fixed columns; with one-character chains that are numbers out of range,
// long names, charges beyond ±9 or line breaks inside values.
func FuzzRead(f *testing.F) {
	for _, file := range fixtures {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		format, _ := DetectFormat(file, data)
		// The first atoms of each fixture keep the seeds small.
		f.Add(firstLines(data, 60), format == MMCIF)
	}
	f.Add([]byte(cifHeader+cifRow+";x\n;\n 2 N 'N'' . ALA A 1 ? 1 2 3 1 1 ? 1 A 1\n"), true)
	f.Add([]byte("data_a\n_atom_site.id 1\n_atom_site.label_atom_id CA\n_atom_site.Cartn_x 1\n_atom_site.Cartn_y 2\n_atom_site.Cartn_z 3\n"), true)
	f.Add([]byte(goodPDBLine+"\r\n"+goodPDBLine[:54]+"\nENDMDL\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, cif bool) {
		format := PDB
		if cif {
			format = MMCIF
		}
		s, err := Read(data, format, Limits{MaxAtoms: 5000})
		if err != nil {
			return
		}
		if len(s.Atoms) == 0 {
			t.Fatal("no atoms and no error")
		}
		var buf bytes.Buffer
		if err := s.WritePDB(&buf); err != nil {
			if !writableChains(s) || strings.Contains(err.Error(), "chain id") {
				return
			}
			if !strings.Contains(err.Error(), "does not fit") && !strings.Contains(err.Error(), "line break") {
				t.Fatalf("WritePDB: unexpected error %v", err)
			}
			return
		}
		back, err := Read(buf.Bytes(), PDB, Limits{MaxAtoms: 5000})
		if err != nil {
			t.Fatalf("written PDB does not read back: %v\n%s", err, buf.Bytes())
		}
		if len(back.Atoms) != len(s.Atoms) {
			t.Fatalf("%d atoms, %d after the round trip", len(s.Atoms), len(back.Atoms))
		}
		for i := range s.Atoms {
			if want := rounded(s.Atoms[i]); !sameRounded(want, back.Atoms[i]) {
				t.Fatalf("atom %d: %+v, after the round trip %+v", i, want, back.Atoms[i])
			}
		}
	})
}

// writableChains reports whether every chain id fits the PDB column.
func writableChains(s *Structure) bool {
	for _, a := range s.Atoms {
		if len(a.Chain) > 1 {
			return false
		}
	}
	return true
}

// rounded returns a with its numbers rounded as the PDB columns round
// them, and no line.
func rounded(a Atom) Atom {
	r := func(v float64, d int) float64 {
		x, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', d, 64), 64)
		return x
	}
	a.X, a.Y, a.Z = r(a.X, 3), r(a.Y, 3), r(a.Z, 3)
	a.Occupancy, a.BFactor = r(a.Occupancy, 2), r(a.BFactor, 2)
	a.Line = 0
	return a
}

// sameRounded compares a rounded atom with one read back.
func sameRounded(want, got Atom) bool {
	got.Line = 0
	return want == got
}

// firstLines returns the first n lines of data.
func firstLines(data []byte, n int) []byte {
	end := 0
	for i := 0; i < n && end < len(data); i++ {
		j := bytes.IndexByte(data[end:], '\n')
		if j < 0 {
			return data
		}
		end += j + 1
	}
	return data[:end]
}

// bigCIF builds an mmCIF file of about size bytes from 1GBT's atom rows.
func bigCIF(tb testing.TB, size int) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", "1GBT.cif"))
	if err != nil {
		tb.Fatal(err)
	}
	head, rest, _ := bytes.Cut(data, []byte("\nATOM "))
	rows, _, _ := bytes.Cut(rest, []byte("\n#"))
	rows = append([]byte("ATOM "), rows...)
	out := append([]byte{}, head...)
	out = append(out, '\n')
	for len(out) < size {
		out = append(out, rows...)
		out = append(out, '\n')
	}
	return append(out, "#\n"...)
}

// TestReadLargeCIF checks a file of about 1 MB reads whole.
func TestReadLargeCIF(t *testing.T) {
	data := bigCIF(t, 1<<20)
	s, err := Read(data, MMCIF, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\nATOM ")) + bytes.Count(data, []byte("\nHETATM ")); len(s.Atoms) != n {
		t.Errorf("%d atoms, want %d", len(s.Atoms), n)
	}
}

// BenchmarkReadCIF reads an mmCIF file of about 1 MB.
func BenchmarkReadCIF(b *testing.B) {
	data := bigCIF(b, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read(data, MMCIF, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadPDB reads and writes 1IEP (357 kB).
func BenchmarkReadWritePDB(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "1iep_receptorH.pdb"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s, err := Read(data, PDB, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.WritePDB(&bytes.Buffer{}); err != nil {
			b.Fatal(err)
		}
	}
}
