package structure

import (
	"errors"
	"strings"
	"testing"
)

const goodPDBLine = "ATOM      1  N   ALA A   1      11.104   6.134  -6.504  1.00 20.00           N  "

// cifRow is a good row for cifHeader.
const cifRow = "ATOM 1 N N . ALA A 1 ? 1.0 2.0 3.0 1.00 10.00 ? 1 A 1\n"

// TestBrokenInputs checks that each broken file gives an error that
// names its line and says what is wrong.
func TestBrokenInputs(t *testing.T) {
	header := strings.Count(cifHeader, "\n")
	cases := []struct {
		name   string
		format Format
		in     string
		line   int
		want   string
	}{
		{"pdb bad x", PDB, "HEADER\n" + strings.Replace(goodPDBLine, "11.104", "12.x  ", 1), 2, `x coordinate "12.x" is not a number (columns 31-38)`},
		{"pdb bad z", PDB, goodPDBLine + "\n" + strings.Replace(goodPDBLine, "-6.504", "      ", 1), 2, "z coordinate is missing"},
		{"pdb short", PDB, goodPDBLine + "\n" + goodPDBLine[:50] + "\n", 2, "ATOM record is 50 characters long"},
		{"pdb serial", PDB, strings.Replace(goodPDBLine, "    1", "  1x ", 1), 1, `atom serial "1x" is not a number`},
		{"pdb resseq", PDB, "\n\n" + strings.Replace(goodPDBLine, "A   1", "A  1A", 1), 3, `residue number "1A" is not a number`},
		{"pdb occupancy", PDB, strings.Replace(goodPDBLine, "1.00", "1,00", 1), 1, `occupancy "1,00" is not a number`},
		{"pdb B", PDB, strings.Replace(goodPDBLine, "20.00", "20.0a", 1), 1, `B-factor "20.0a" is not a number`},
		{"pdb charge", PDB, goodPDBLine[:78] + "++", 1, `charge "++"`},
		{"pdb nan", PDB, strings.Replace(goodPDBLine, "  6.134", "    NaN", 1), 1, `y coordinate "NaN" is not a number`},
		{"pdb crlf", PDB, goodPDBLine + "\r\nHETATM    2 ZN    ZN A 401        1.0e     2.0     3.0\r\n", 2, `x coordinate "1.0e"`},
		{"cif bad x", MMCIF, cifHeader + cifRow + strings.Replace(cifRow, "1.0", "abc", 1), header + 2, `_atom_site.Cartn_x "abc" is not a number`},
		{"cif short row", MMCIF, cifHeader + cifRow + strings.Replace(cifRow, " ? 1 A 1", " 1 A", 1) + cifRow, header + 2, "row has 16 values; the loop has 18 data names"},
		{"cif long row", MMCIF, cifHeader + cifRow + strings.Replace(cifRow, "\n", " extra\n", 1) + cifRow, header + 2, "row has more than 18 values"},
		{"cif last row short", MMCIF, cifHeader + cifRow + "ATOM 2 N N\n", header + 2, "row has 4 values"},
		{"cif id", MMCIF, cifHeader + strings.Replace(cifRow, "ATOM 1", "ATOM x1", 1), header + 1, `_atom_site.id "x1" is not a whole number`},
		{"cif seq", MMCIF, cifHeader + strings.Replace(cifRow, "? 1 A 1", "? 1.5 A 1", 1), header + 1, `_atom_site.auth_seq_id "1.5" is not a whole number`},
		{"cif missing z", MMCIF, cifHeader + strings.Replace(cifRow, "3.0", "?", 1), header + 1, "_atom_site.Cartn_z has no value"},
		{"cif quote", MMCIF, cifHeader + strings.Replace(cifRow, "ALA", "'ALA", 1), header + 1, "has no closing '"},
		{"cif text field", MMCIF, cifHeader + cifRow + ";open\nATOM\n", header + 2, "no closing ; line"},
		{"cif no Cartn_z", MMCIF, "data_x\nloop_\n_atom_site.id\n_atom_site.label_atom_id\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n1 CA 1 2\n", 3, "no _atom_site.Cartn_z"},
		{"cif stray value", MMCIF, "data_x\n_entry.id 1ABC extra\n", 2, `value "extra" has no data name`},
		{"cif empty loop", MMCIF, cifHeader + "#\n", 4, "no rows"},
		{"cif tag without value", MMCIF, "data_x\n_entry.id\nloop_\n", 2, "_entry.id has no value"},
		{"cif foreign tag in loop", MMCIF, "data_x\nloop_\n_atom_site.id\n_entity.id\n", 4, "_entity.id in the _atom_site loop"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read([]byte(c.in), c.format, Limits{})
			if err == nil {
				t.Fatal("no error")
			}
			var le *LineError
			if !errors.As(err, &le) || le.Line != c.line {
				t.Fatalf("error %q: want one at line %d", err, c.line)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error %q: want %q", err, c.want)
			}
		})
	}
}

// TestNoAtoms checks files without atom records.
func TestNoAtoms(t *testing.T) {
	for _, c := range []struct {
		f    Format
		in   string
		want string
	}{
		{PDB, "HEADER    NOTHING\nEND\n", "no ATOM or HETATM records"},
		{PDB, "", "no ATOM or HETATM records"},
		{MMCIF, "data_x\n_entry.id 1ABC\n", "no _atom_site records"},
		{MMCIF, "", "no _atom_site records"},
	} {
		_, err := Read([]byte(c.in), c.f, Limits{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrNoAtoms) {
			t.Errorf("%q: error %v, want %q", c.in, err, c.want)
		}
	}
	if _, err := Read([]byte(goodPDBLine), "xyz", Limits{}); err == nil {
		t.Error("unknown format: no error")
	}
}

// TestLimits checks MaxBytes and MaxAtoms and their defaults.
func TestLimits(t *testing.T) {
	three := strings.Repeat(goodPDBLine+"\n", 3)
	_, err := Read([]byte(three), PDB, Limits{MaxBytes: 100})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "243 bytes") || !strings.Contains(err.Error(), "limit is 100 bytes") {
		t.Errorf("MaxBytes: %v", err)
	}
	_, err = Read([]byte(three), PDB, Limits{MaxAtoms: 2})
	var le *LineError
	if !errors.Is(err, ErrTooManyAtoms) || !errors.As(err, &le) || le.Line != 3 || !strings.Contains(err.Error(), "more than 2 atoms") {
		t.Errorf("MaxAtoms: %v", err)
	}
	if _, err := Read([]byte(three), PDB, Limits{MaxAtoms: 3, MaxBytes: len(three)}); err != nil {
		t.Errorf("at the limits: %v", err)
	}
	cif := cifHeader + strings.Repeat(cifRow, 3)
	if _, err := Read([]byte(cif), MMCIF, Limits{MaxAtoms: 2}); !errors.Is(err, ErrTooManyAtoms) {
		t.Errorf("mmCIF MaxAtoms: %v", err)
	}
	big := make([]byte, DefaultMaxBytes+1)
	if _, err := Read(big, PDB, Limits{}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "10485760") {
		t.Errorf("default MaxBytes: %v", err)
	}
	many := strings.Repeat(goodPDBLine+"\n", DefaultMaxAtoms+1)
	if _, err := Read([]byte(many), PDB, Limits{}); !errors.Is(err, ErrTooManyAtoms) {
		t.Errorf("default MaxAtoms: %v", err)
	}
}

// TestDetectFormat checks detection by name and by content.
func TestDetectFormat(t *testing.T) {
	cases := []struct {
		name, head string
		want       Format
		ok         bool
	}{
		{"1abc.pdb", "", PDB, true},
		{"1ABC.PDB", "data_x", PDB, true},
		{"pdb1abc.ent", "", PDB, true},
		{"1abc.cif", "ATOM", MMCIF, true},
		{"x.mmCIF", "", MMCIF, true},
		{"dir.cif/upload", "HEADER    X\n", PDB, true},
		{"upload.txt", "data_1ABC\n#\n", MMCIF, true},
		{"", "# comment\nloop_\n_atom_site.id\n", MMCIF, true},
		{"", "_atom_site.id 1\n", MMCIF, true},
		{"", "\xEF\xBB\xBFHEADER    PROTEIN\r\n", PDB, true},
		{"", "REMARK   1\nATOM      1  N   ALA A   1", PDB, true},
		{"", "HETATM    1 ZN    ZN A   1", PDB, true},
		{"", "ATOM", PDB, true},
		{"x.sdf", "\n  RDKit\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\n", "", false},
		{"", "", "", false},
		{"", "hello\nworld\n", "", false},
	}
	for _, c := range cases {
		f, ok := DetectFormat(c.name, []byte(c.head))
		if f != c.want || ok != c.ok {
			t.Errorf("DetectFormat(%q, %q) = %q, %v; want %q, %v", c.name, c.head, f, ok, c.want, c.ok)
		}
	}
}
