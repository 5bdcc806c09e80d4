package structure

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// minAtomColumns is the shortest ATOM/HETATM record that still holds the
// coordinates (columns 31-54).
const minAtomColumns = 54

// readPDB reads the ATOM and HETATM records of the first model: it stops
// at the first ENDMDL or END record.
func readPDB(data []byte, maxAtoms int) ([]Atom, error) {
	var atoms []Atom
	line := 0
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte("\n"))
		line++
		s := string(bytes.TrimSuffix(raw, []byte("\r")))
		if isEndOfModel(s) {
			break
		}
		if !isAtomRecord(s) {
			continue
		}
		if len(atoms) == maxAtoms {
			return nil, tooManyAtoms(line, maxAtoms)
		}
		a, err := parseAtomRecord(s)
		if err != nil {
			return nil, &LineError{Line: line, Err: err}
		}
		a.Line = line
		atoms = append(atoms, a)
	}
	if len(atoms) == 0 {
		return nil, fmt.Errorf("%w: no ATOM or HETATM records", ErrNoAtoms)
	}
	return atoms, nil
}

// isEndOfModel reports whether s ends the first model (ENDMDL) or the file (END).
func isEndOfModel(s string) bool {
	return strings.HasPrefix(s, "ENDMDL") || strings.TrimRight(s, " \t") == "END"
}

// isAtomRecord reports whether s is an ATOM or HETATM record. "ATOM"
// followed by a digit is accepted too: some programs run serials of six
// digits into the record name.
func isAtomRecord(s string) bool {
	if strings.HasPrefix(s, "HETATM") {
		return true
	}
	if !strings.HasPrefix(s, "ATOM") {
		return false
	}
	return len(s) == 4 || s[4] == ' ' || s[4] >= '0' && s[4] <= '9'
}

// column returns the trimmed text of the 0-based half-open byte range
// [from, to) of s, or "" past the end of s.
func column(s string, from, to int) string {
	if from >= len(s) {
		return ""
	}
	return strings.TrimSpace(s[from:min(to, len(s))])
}

// parseAtomRecord reads the fixed columns of an ATOM or HETATM record.
func parseAtomRecord(s string) (Atom, error) {
	if len(s) < minAtomColumns {
		return Atom{}, fmt.Errorf("%s record is %d characters long; the coordinates need %d (columns 31-54)",
			recordName(s), len(s), minAtomColumns)
	}
	a := Atom{
		Het: strings.HasPrefix(s, "HETATM"), Name: column(s, 12, 16), AltLoc: column(s, 16, 17),
		ResName: column(s, 17, 20), Chain: column(s, 21, 22), ICode: column(s, 26, 27),
	}
	var err error
	if a.Serial, err = parseInt(column(s, 6, 11), "atom serial", "columns 7-11"); err != nil {
		return a, err
	}
	if a.ResSeq, err = parseInt(column(s, 22, 26), "residue number", "columns 23-26"); err != nil {
		return a, err
	}
	for i, p := range []*float64{&a.X, &a.Y, &a.Z} {
		cols := fmt.Sprintf("columns %d-%d", 31+8*i, 38+8*i)
		if *p, err = parseFloat(column(s, 30+8*i, 38+8*i), axes[i]+" coordinate", cols); err != nil {
			return a, err
		}
	}
	if a.Occupancy, err = parseOptionalFloat(column(s, 54, 60), "occupancy", "columns 55-60", 1); err != nil {
		return a, err
	}
	if a.BFactor, err = parseOptionalFloat(column(s, 60, 66), "B-factor", "columns 61-66", 0); err != nil {
		return a, err
	}
	if a.Element = normalizeElement(column(s, 76, 78)); a.Element == "" {
		a.Element = elementFromName(a.Name, a.Het)
	}
	a.Charge, err = parseCharge(column(s, 78, 80))
	return a, err
}

// recordName is the record name of an atom line, for messages.
func recordName(s string) string {
	if strings.HasPrefix(s, "HETATM") {
		return "HETATM"
	}
	return "ATOM"
}

// axes name the coordinates in messages.
var axes = [3]string{"x", "y", "z"}

// parseInt reads an integer field; what names it in a message and where
// says where it is (columns, or "" for none).
func parseInt(v, what, where string) (int, error) {
	n, err := strconv.Atoi(v)
	switch {
	case v == "":
		return 0, fmt.Errorf("%s is missing%s", what, paren(where))
	case err != nil:
		return 0, fmt.Errorf("%s %q is not a number%s", what, v, paren(where))
	}
	return n, nil
}

// parseFloat reads a finite number, like parseInt.
func parseFloat(v, what, where string) (float64, error) {
	x, err := strconv.ParseFloat(v, 64)
	switch {
	case v == "":
		return 0, fmt.Errorf("%s is missing%s", what, paren(where))
	case err != nil && errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%s %q is out of range%s", what, v, paren(where))
	case err != nil || math.IsNaN(x) || math.IsInf(x, 0):
		return 0, fmt.Errorf("%s %q is not a number%s", what, v, paren(where))
	}
	return x, nil
}

// parseOptionalFloat reads a number that may be blank (then def).
func parseOptionalFloat(v, what, where string, def float64) (float64, error) {
	if v == "" {
		return def, nil
	}
	return parseFloat(v, what, where)
}

// paren returns " (where)", or "" for an empty where.
func paren(where string) string {
	if where == "" {
		return ""
	}
	return " (" + where + ")"
}

// parseCharge reads the charge columns 79-80: "2+", "1-"; "+2", "-1" and a
// bare digit are accepted too; blank is 0.
func parseCharge(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	switch {
	case len(v) == 1 && digit(v[0]):
		return int(v[0] - '0'), nil
	case len(v) == 2 && digit(v[0]) && (v[1] == '+' || v[1] == '-'):
		return chargeSign(v[1]) * int(v[0]-'0'), nil
	case len(v) == 2 && digit(v[1]) && (v[0] == '+' || v[0] == '-'):
		return chargeSign(v[0]) * int(v[1]-'0'), nil
	}
	return 0, fmt.Errorf("charge %q is not like \"2+\" or \"1-\" (columns 79-80)", v)
}

func chargeSign(c byte) int {
	if c == '-' {
		return -1
	}
	return 1
}
