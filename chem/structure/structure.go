// Package structure reads the receptor structures that scientists upload
// (PDB or mmCIF), reports what is wrong with them by line, summarizes them
// and writes them back as fixed-column PDB text, the form the docking
// adapter (gpu/vina) cleans and converts.
//
// Only the first model of a file is read. Coordinates, occupancies and
// B-factors are kept as read; WritePDB rounds them to the PDB columns
// (3 decimals for coordinates, 2 for occupancy and B).
package structure

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Format of a structure file.
type Format string

// The formats Read knows.
const (
	PDB   Format = "pdb"
	MMCIF Format = "cif"
)

// Atom is one ATOM/HETATM record (PDB) or _atom_site row (mmCIF).
type Atom struct {
	Het       bool // HETATM
	Serial    int
	Name      string // atom name, e.g. "CA"
	AltLoc    string
	ResName   string // e.g. "ALA", "HOH", "ZN"
	Chain     string // PDB chain id; for mmCIF the auth_asym_id (falls back to label_asym_id)
	ResSeq    int    // auth_seq_id for mmCIF (falls back to label_seq_id)
	ICode     string
	X, Y, Z   float64
	Occupancy float64
	BFactor   float64
	Element   string // "C", "Fe" (normalized case)
	Charge    int
	Line      int // 1-based line of the record in the file
}

// Structure is the first model of a file.
type Structure struct {
	Format Format
	Atoms  []Atom
}

// Limits bound what Read accepts (zero fields take defaults: MaxBytes
// 10 MiB, MaxAtoms 99,999).
type Limits struct {
	MaxBytes int
	MaxAtoms int
}

// Default limits, used for zero fields of Limits.
const (
	DefaultMaxBytes = 10 << 20
	DefaultMaxAtoms = 99_999
)

// Errors that Read wraps, for callers that tell the user which limit was hit.
var (
	ErrTooLarge     = errors.New("file too large")
	ErrTooManyAtoms = errors.New("too many atoms")
	ErrNoAtoms      = errors.New("no atoms")
)

// LineError is an error at a line of the input file.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// lineErrorf returns a LineError for line with a formatted message.
func lineErrorf(line int, format string, args ...any) error {
	return &LineError{Line: line, Err: fmt.Errorf(format, args...)}
}

// withDefaults fills zero fields with the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxAtoms <= 0 {
		l.MaxAtoms = DefaultMaxAtoms
	}
	return l
}

// DetectFormat picks the format from the file name (.pdb/.ent -> PDB,
// .cif/.mmcif -> MMCIF, case-insensitive) or, when the name says nothing,
// from the content: the first line that starts with "data_", "loop_" or
// "_atom_site." means MMCIF; one that starts an ATOM, HETATM, HEADER,
// MODEL, CRYST1 or REMARK record means PDB. ok is false when neither.
func DetectFormat(name string, head []byte) (Format, bool) {
	if f, ok := formatFromName(name); ok {
		return f, true
	}
	return formatFromContent(head)
}

// formatFromName looks at the file name's extension.
func formatFromName(name string) (Format, bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || strings.ContainsAny(name[i:], `/\`) {
		return "", false
	}
	switch strings.ToLower(name[i+1:]) {
	case "pdb", "ent":
		return PDB, true
	case "cif", "mmcif":
		return MMCIF, true
	}
	return "", false
}

// pdbRecords are the record names that mark PDB content.
var pdbRecords = []string{"ATOM  ", "HETATM", "HEADER", "MODEL ", "CRYST1", "REMARK"}

// formatFromContent decides by the first line that says something.
func formatFromContent(head []byte) (Format, bool) {
	head = bytes.TrimPrefix(head, bom)
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		trimmed := bytes.TrimLeft(line, " \t")
		lower := bytes.ToLower(trimmed)
		if bytes.HasPrefix(lower, []byte("data_")) || bytes.HasPrefix(lower, []byte("loop_")) ||
			bytes.HasPrefix(lower, []byte("_atom_site.")) {
			return MMCIF, true
		}
		for _, r := range pdbRecords {
			if bytes.HasPrefix(line, []byte(r)) || bytes.Equal(line, []byte(strings.TrimSpace(r))) {
				return PDB, true
			}
		}
	}
	return "", false
}

// bom is the UTF-8 byte order mark some editors put at the start of a file.
var bom = []byte{0xEF, 0xBB, 0xBF}

// Read reads the first model of a PDB or mmCIF file.
//
// An error about the content is a *LineError that names the line, e.g.
// `line 12: x coordinate "12.x" is not a number (columns 31-38)` or
// `line 120: _atom_site.Cartn_x "abc" is not a number`. Errors wrap
// ErrTooLarge, ErrTooManyAtoms or ErrNoAtoms where those apply.
func Read(data []byte, f Format, lim Limits) (*Structure, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: the file is %d bytes, the limit is %d bytes", ErrTooLarge, len(data), lim.MaxBytes)
	}
	data = bytes.TrimPrefix(data, bom)
	var atoms []Atom
	var err error
	switch f {
	case PDB:
		atoms, err = readPDB(data, lim.MaxAtoms)
	case MMCIF:
		atoms, err = readCIF(data, lim.MaxAtoms)
	default:
		return nil, fmt.Errorf("unknown structure format %q", f)
	}
	if err != nil {
		return nil, err
	}
	return &Structure{Format: f, Atoms: atoms}, nil
}

// tooManyAtoms is the error for the atom that goes past the limit.
func tooManyAtoms(line, max int) error {
	return &LineError{Line: line, Err: fmt.Errorf("%w: more than %d atoms", ErrTooManyAtoms, max)}
}

// normalizeElement writes an element symbol as "C", "Fe": the first letter
// upper case, the rest lower case (ASCII letters only; other bytes stay).
func normalizeElement(e string) string {
	b := []byte(e)
	for i, c := range b {
		switch {
		case i == 0 && c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case i > 0 && c >= 'A' && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// elementFromName guesses the element of an atom whose file gives none,
// as gpu/vina does: the name without leading digits; for ATOM records its
// first letter; for HETATM records the whole name when it is one or two
// letters (ions such as "ZN"), else its first letter.
func elementFromName(name string, het bool) string {
	n := strings.TrimLeft(name, "0123456789")
	if n == "" || !isLetter(n[0]) {
		return ""
	}
	if het && len(n) <= 2 && (len(n) == 1 || isLetter(n[1])) {
		return normalizeElement(n)
	}
	return normalizeElement(n[:1])
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
