package structure

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WritePDB writes the atoms as PDB ATOM/HETATM records in the standard
// fixed columns (the columns gpu/vina.ParsePDBAtom reads: serial 7-11,
// name 13-16, altLoc 17, resName 18-20, chain 22, resSeq 23-26, iCode 27,
// x/y/z 31-54 %8.3f, occupancy 55-60 and B 61-66 %6.2f, element 77-78
// right-justified, charge 79-80 like "2+"), a TER record after each chain
// and END. Names of one to three characters whose element has one letter
// start in column 14, others in column 13.
//
// A value that does not fit its columns (a chain id longer than one
// character, a residue name longer than three, a coordinate beyond
// -999.999..9999.999, ...) is an error that names the atom; nothing is
// written then.
func (s *Structure) WritePDB(w io.Writer) error {
	var buf bytes.Buffer
	buf.Grow(81 * (len(s.Atoms) + 2))
	for i := range s.Atoms {
		a := &s.Atoms[i]
		if i > 0 && a.Chain != s.Atoms[i-1].Chain {
			buf.WriteString("TER\n")
		}
		if err := appendAtom(&buf, a); err != nil {
			return fmt.Errorf("atom %d (serial %d%s): %w", i+1, a.Serial, lineNote(a.Line), err)
		}
	}
	if len(s.Atoms) > 0 {
		buf.WriteString("TER\n")
	}
	buf.WriteString("END\n")
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write PDB: %w", err)
	}
	return nil
}

// lineNote is ", line N" when the atom came from line N of a file.
func lineNote(line int) string {
	if line <= 0 {
		return ""
	}
	return ", line " + strconv.Itoa(line)
}

// field is one value of a record, with its columns.
type field struct {
	what  string // names the value in messages
	text  string
	width int
}

// appendAtom appends one ATOM/HETATM record of 80 columns.
func appendAtom(buf *bytes.Buffer, a *Atom) error {
	charge, err := chargeText(a.Charge)
	if err != nil {
		return err
	}
	fields := []field{
		{"atom serial", strconv.Itoa(a.Serial), 5},
		{"atom name", a.Name, 4},
		{"alternate location", a.AltLoc, 1},
		{"residue name", a.ResName, 3},
		{"chain id", a.Chain, 1},
		{"residue number", strconv.Itoa(a.ResSeq), 4},
		{"insertion code", a.ICode, 1},
		{"x coordinate", strconv.FormatFloat(a.X, 'f', 3, 64), 8},
		{"y coordinate", strconv.FormatFloat(a.Y, 'f', 3, 64), 8},
		{"z coordinate", strconv.FormatFloat(a.Z, 'f', 3, 64), 8},
		{"occupancy", strconv.FormatFloat(a.Occupancy, 'f', 2, 64), 6},
		{"B-factor", strconv.FormatFloat(a.BFactor, 'f', 2, 64), 6},
		{"element", a.Element, 2},
	}
	for _, f := range fields {
		if err := f.check(); err != nil {
			return err
		}
	}
	record := "ATOM  "
	if a.Het {
		record = "HETATM"
	}
	// Widths count bytes, not runes as fmt's do, so that every value
	// lands in its columns whatever its bytes.
	buf.WriteString(record)
	right(buf, fields[0].text, 5)
	buf.WriteByte(' ')
	left(buf, alignName(a.Name, a.Element), 4)
	left(buf, a.AltLoc, 1)
	right(buf, a.ResName, 3)
	buf.WriteByte(' ')
	left(buf, a.Chain, 1)
	right(buf, fields[5].text, 4)
	left(buf, a.ICode, 1)
	buf.WriteString("   ")
	for _, f := range fields[7:12] {
		right(buf, f.text, f.width)
	}
	buf.WriteString("          ")
	right(buf, a.Element, 2)
	left(buf, charge, 2)
	buf.WriteByte('\n')
	return nil
}

// left writes s left-justified in width bytes.
func left(buf *bytes.Buffer, s string, width int) {
	buf.WriteString(s)
	pad(buf, width-len(s))
}

// right writes s right-justified in width bytes.
func right(buf *bytes.Buffer, s string, width int) {
	pad(buf, width-len(s))
	buf.WriteString(s)
}

// pad writes n blanks.
func pad(buf *bytes.Buffer, n int) {
	for ; n > 0; n-- {
		buf.WriteByte(' ')
	}
}

// check reports a value that does not fit its columns or that would break
// the line.
func (f field) check() error {
	if len(f.text) > f.width {
		unit := "characters"
		if f.width == 1 {
			unit = "character"
		}
		return fmt.Errorf("%s %q is longer than %d %s and does not fit the PDB columns", f.what, f.text, f.width, unit)
	}
	if strings.ContainsAny(f.text, "\n\r") {
		return fmt.Errorf("%s %q holds a line break", f.what, f.text)
	}
	return nil
}

// alignName places an atom name in columns 13-16: names of one to three
// characters with a one-letter element start in column 14 (" CA "),
// others in column 13 ("FE  ", "HD21").
func alignName(name, element string) string {
	if len(name) < 4 && len(element) <= 1 {
		return " " + name
	}
	return name
}

// chargeText writes a formal charge as "2+" or "1-", "" for 0.
func chargeText(c int) (string, error) {
	switch {
	case c == 0:
		return "", nil
	case c > 0 && c <= 9:
		return strconv.Itoa(c) + "+", nil
	case c < 0 && c >= -9:
		return strconv.Itoa(-c) + "-", nil
	}
	return "", fmt.Errorf("formal charge %d does not fit the PDB columns (-9 to 9)", c)
}
