// Package ligands reads the ligand libraries scientists upload to screen
// against a protein: CSV and TSV tables, .smi files and SDF files. Every
// entry is validated with chem.ParseSMILES and carries its formula,
// molecular weight, heavy-atom count and H-bond donors and acceptors.
//
// # Policies
//
//   - All or nothing (the default): if any row is invalid, Read returns no
//     library and an *Error listing every problem (row, line, field,
//     message). With Options.DropInvalid the invalid rows are dropped and
//     listed in Library.Dropped; if no valid row is left Read fails.
//   - Rows: Row is the 1-based number of the record among the data records
//     (a CSV header row, blank lines, all-empty CSV rows and comment lines
//     are not counted); Line is the 1-based line of the file where the
//     record starts, counting every line.
//   - Names are trimmed; control characters (tabs, line breaks inside
//     quoted CSV cells) become spaces and invalid UTF-8 becomes U+FFFD.
//     Names longer than Options.MaxNameLength runes are truncated with a
//     warning. An empty or missing name is replaced by "ligand_<row>"
//     (Entry.GeneratedName is set), the same scheme as for files with no
//     name column.
//   - Duplicate names (exact match after cleaning) are a warning in
//     Library.Warnings naming both rows, because real libraries often list
//     one compound twice (salt forms, vendors); Entry.Index is the unique
//     key. With Options.RejectDuplicateNames every repeat is a problem
//     instead, handled like an invalid row.
//   - Size: at most Options.MaxLigands records (default 100,000) are read;
//     one more is an error naming the limit. Read consumes r to the end or
//     to the limit; callers bound the byte size (http.MaxBytesReader).
//   - A file with no ligand at all is an error.
//
// Every error about the content of the file is an *Error whose Problems can
// be rendered as JSON; errors reading r are returned wrapped as they come.
package ligands

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"omtx/chem"
)

// Format is a ligand library file format.
type Format int

// The formats Read understands.
const (
	FormatUnknown Format = iota
	FormatCSV            // comma-separated, RFC 4180
	FormatTSV            // tab-separated
	FormatSMI            // one "SMILES name" per line
	FormatSDF            // MDL SD file, records separated by "$$$$"
)

var formatNames = [...]string{"unknown", "csv", "tsv", "smi", "sdf"}

// String returns the lower-case name of f: "csv", "tsv", "smi", "sdf" or
// "unknown".
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// MarshalText encodes f as its String, so that JSON shows "csv".
func (f Format) MarshalText() ([]byte, error) {
	return []byte(f.String()), nil
}

// UnmarshalText decodes a format name as ParseFormat does.
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// ParseFormat returns the Format named s ("csv", "tsv", "smi", "sdf", case
// insensitive, an optional leading dot allowed).
func ParseFormat(s string) (Format, error) {
	s = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "."))
	for i, n := range formatNames {
		if i > 0 && n == s {
			return Format(i), nil
		}
	}
	return FormatUnknown, fmt.Errorf("ligands: unknown library format %q (want csv, tsv, smi or sdf)", s)
}

// Defaults used when the corresponding Options field is zero.
const (
	DefaultMaxLigands    = 100_000
	DefaultMaxNameLength = 128
	// DefaultMaxSMILESLength is generous for drug-like molecules and
	// macrocycles, and bounds the parser's work per row.
	DefaultMaxSMILESLength = 4000
)

// Options controls how a library is read. The zero value is the default
// policy (all or nothing, 100,000 ligands, names up to 128 runes).
type Options struct {
	// DropInvalid drops invalid rows (listing them in Library.Dropped)
	// instead of failing the whole library.
	DropInvalid bool
	// MaxLigands is the most records a library may have; zero means
	// DefaultMaxLigands and a negative value means no limit.
	MaxLigands int
	// MaxNameLength is the longest name kept, in runes; longer names are
	// truncated with a warning. Zero means DefaultMaxNameLength.
	MaxNameLength int
	// MaxSMILESLength is the longest SMILES accepted, in bytes; a longer
	// one is an invalid row. Zero means DefaultMaxSMILESLength.
	MaxSMILESLength int
	// RejectDuplicateNames makes a repeated name a problem of the later
	// row instead of a warning.
	RejectDuplicateNames bool
	// NameField names the column (CSV, TSV; matched case-insensitively) or
	// the SDF data item to take names from, overriding the automatic
	// choice. A CSV without that column is an error; an SDF record without
	// that item falls back to its title line, with a warning.
	NameField string
	// SMILESField names the CSV or TSV column holding the SMILES (matched
	// case-insensitively); a file without it is an error.
	SMILESField string
}

func (o Options) maxLigands() int {
	switch {
	case o.MaxLigands == 0:
		return DefaultMaxLigands
	case o.MaxLigands < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxLigands
}

func (o Options) maxSMILESLength() int {
	if o.MaxSMILESLength <= 0 {
		return DefaultMaxSMILESLength
	}
	return o.MaxSMILESLength
}

func (o Options) maxNameLength() int {
	if o.MaxNameLength <= 0 {
		return DefaultMaxNameLength
	}
	return o.MaxNameLength
}

// Entry is one valid ligand of a library.
type Entry struct {
	Index int    `json:"index"` // 0-based position in Library.Entries
	Row   int    `json:"row"`   // 1-based record number in the file (see the package doc)
	Line  int    `json:"line"`  // 1-based line of the file where the record starts
	Name  string `json:"name"`
	// GeneratedName is set when the file gave no name and Name is "ligand_<row>".
	GeneratedName bool `json:"generated_name,omitempty"`
	// SMILES is the SMILES as given, trimmed; for SDF records, the SMILES
	// written from the connection table by chem.
	SMILES          string  `json:"smiles"`
	Formula         string  `json:"formula"`
	MolecularWeight float64 `json:"molecular_weight"`
	HeavyAtoms      int     `json:"heavy_atoms"`
	HBondDonors     int     `json:"hbond_donors"`
	HBondAcceptors  int     `json:"hbond_acceptors"`
	// Molecule is the parsed molecule.
	Molecule *chem.Molecule `json:"-"`
}

// Library is a validated ligand library.
type Library struct {
	Format  Format  `json:"format"`
	Entries []Entry `json:"entries"`
	// Dropped lists the invalid rows left out under Options.DropInvalid,
	// one problem per dropped row, in file order.
	Dropped []Problem `json:"dropped,omitempty"`
	// Warnings lists what was accepted but changed or worth a look:
	// duplicate names, truncated names, a missing SDF name item.
	Warnings []Problem `json:"warnings,omitempty"`
}

// Problem codes, stable for API clients.
const (
	CodeInvalidSMILES   = "invalid_smiles"    // the SMILES does not parse
	CodeMissingSMILES   = "missing_smiles"    // the SMILES cell is empty or missing
	CodeSMILESTooLong   = "smiles_too_long"   // longer than MaxSMILESLength
	CodeInvalidMolfile  = "invalid_molfile"   // an SDF connection table does not parse
	CodeDuplicateName   = "duplicate_name"    // a name seen on an earlier row
	CodeNameTruncated   = "name_truncated"    // warning: name cut to MaxNameLength
	CodeNameFieldAbsent = "name_field_absent" // warning: SDF record lacks Options.NameField
	CodeTooMany         = "too_many_ligands"  // more records than MaxLigands
	CodeEmpty           = "empty_library"     // no records at all
	CodeNoValid         = "no_valid_ligands"  // DropInvalid left nothing
	CodeSyntax          = "syntax"            // malformed CSV/TSV
	CodeNoSMILESColumn  = "no_smiles_column"  // no SMILES column found
	CodeNoNameColumn    = "no_name_column"    // Options.NameField not in the header
)

// Problem is one thing wrong with a library: a row-level problem (Row > 0)
// or a file-level one (Row == 0).
type Problem struct {
	Row     int    `json:"row,omitempty"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"` // "smiles", "name", "molfile" or "" for the file
	Name    string `json:"name,omitempty"`  // the ligand's name when known
	Code    string `json:"code"`
	Message string `json:"message"`
}

// String formats p for people: "row 9999 (line 10000), field smiles:
// position 7: unclosed ring 1".
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Row > 0 && p.Line > 0:
		fmt.Fprintf(&b, "row %d (line %d)", p.Row, p.Line)
	case p.Row > 0:
		fmt.Fprintf(&b, "row %d", p.Row)
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d", p.Line)
	}
	if p.Field != "" {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "field %s", p.Field)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is the error Read and the format readers return when a library is
// rejected. Problems lists every problem found, in file order.
type Error struct {
	Problems []Problem `json:"problems"`
}

// maxListed bounds how many problems Error's message spells out.
const maxListed = 10

// Error summarises the problems: their count and the first ten, formatted
// as Problem.String does.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ligand library rejected")
	if len(e.Problems) != 1 {
		fmt.Fprintf(&b, " (%d problems)", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-maxListed)
			break
		}
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Read reads a library in the given format. FormatUnknown detects the
// format from the first 4 KiB of content (see DetectFormat); content that
// gives no hint (empty, blank, only comments) is read as .smi. See the
// package doc for the validation policy.
func Read(r io.Reader, format Format, opts Options) (*Library, error) {
	if format == FormatUnknown {
		br := bufio.NewReaderSize(r, sniffLen)
		head, _ := br.Peek(sniffLen)
		format = DetectFormat("", head)
		if format == FormatUnknown {
			format = FormatSMI // empty, blank or only comments: reported as empty
		}
		r = br
	}
	switch format {
	case FormatCSV:
		return ReadCSV(r, opts)
	case FormatTSV:
		return ReadTSV(r, opts)
	case FormatSMI:
		return ReadSMI(r, opts)
	case FormatSDF:
		return ReadSDF(r, opts)
	}
	return nil, fmt.Errorf("ligands: cannot read format %v", format)
}

const sniffLen = 4096

// DetectFormat guesses the format of a library from its file name and the
// first bytes of its content. The extension decides when it is known
// (.csv; .tsv, .tab; .smi, .smiles, .ism, .can; .sdf, .sd, .mol); otherwise
// the content: a molfile ("M  END", "V2000", "V3000" or "$$$$") is SDF, a
// first data line with a comma CSV, with a tab TSV, anything else .smi. It
// returns FormatUnknown when head is empty and the name says nothing.
func DetectFormat(filename string, head []byte) Format {
	ext := strings.ToLower(filename)
	if i := strings.LastIndexByte(ext, '.'); i >= 0 {
		ext = ext[i+1:]
	} else {
		ext = ""
	}
	switch ext {
	case "csv":
		return FormatCSV
	case "tsv", "tab":
		return FormatTSV
	case "smi", "smiles", "ism", "can":
		return FormatSMI
	case "sdf", "sd", "mol":
		return FormatSDF
	}
	head = bytes.TrimPrefix(head, bom)
	if bytes.Contains(head, []byte("M  END")) || bytes.Contains(head, []byte("V2000")) ||
		bytes.Contains(head, []byte("V3000")) || bytes.Contains(head, []byte("$$$$")) {
		return FormatSDF
	}
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, []byte("\n"))
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		switch {
		case bytes.IndexByte(line, ',') >= 0:
			return FormatCSV
		case bytes.IndexByte(line, '\t') >= 0:
			return FormatTSV
		}
		return FormatSMI
	}
	return FormatUnknown
}

var bom = []byte("\uFEFF")

// skipBOM returns a reader of r without a leading UTF-8 byte order mark.
func skipBOM(r io.Reader) *bufio.Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	if b, err := br.Peek(len(bom)); err == nil && bytes.Equal(b, bom) {
		br.Discard(len(bom))
	}
	return br
}

// ioError wraps an error from the underlying reader.
func ioError(err error) error {
	return fmt.Errorf("ligands: reading the library: %w", err)
}

// builder accumulates a library record by record and applies the policies.
type builder struct {
	opts     Options
	format   Format
	max      int
	records  int
	entries  []Entry
	problems []Problem // row problems, in order
	warnings []Problem
	seen     map[string]int // name -> row of first occurrence
}

func newBuilder(format Format, opts Options) *builder {
	return &builder{opts: opts, format: format, max: opts.maxLigands(), seen: map[string]int{}}
}

// count registers one more record, at row and line, and fails with an
// *Error naming the limit once there are more than allowed.
func (b *builder) count(row, line int) error {
	b.records++
	if b.records > b.max {
		return &Error{Problems: []Problem{{Row: row, Line: line, Code: CodeTooMany,
			Message: fmt.Sprintf("the library has more than %d ligands; the limit is %d", b.max, b.max)}}}
	}
	return nil
}

// cleanName applies the name policy and returns the name to use.
func (b *builder) cleanName(row, line int, raw string) (name string, generated bool) {
	name = strings.TrimSpace(raw)
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "\uFFFD")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		name = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, name)
		name = strings.TrimSpace(name)
	}
	if name == "" {
		return fmt.Sprintf("ligand_%d", row), true
	}
	if limit := b.opts.maxNameLength(); utf8.RuneCountInString(name) > limit {
		n, cut := 0, len(name)
		for i := range name {
			if n == limit {
				cut = i
				break
			}
			n++
		}
		name = strings.TrimSpace(name[:cut])
		b.warnings = append(b.warnings, Problem{Row: row, Line: line, Field: "name", Name: name, Code: CodeNameTruncated,
			Message: fmt.Sprintf("name truncated to %d characters", limit)})
	}
	return name, false
}

// add validates one record with a SMILES string.
func (b *builder) add(row, line int, rawName, smiles string) {
	name, generated := b.cleanName(row, line, rawName)
	smiles = strings.TrimSpace(smiles)
	if smiles == "" {
		b.problems = append(b.problems, Problem{Row: row, Line: line, Field: "smiles", Name: name,
			Code: CodeMissingSMILES, Message: "empty SMILES"})
		return
	}
	if limit := b.opts.maxSMILESLength(); len(smiles) > limit {
		b.problems = append(b.problems, Problem{Row: row, Line: line, Field: "smiles", Name: name,
			Code: CodeSMILESTooLong, Message: fmt.Sprintf("the SMILES is %d characters long; the limit is %d", len(smiles), limit)})
		return
	}
	m, err := chem.ParseSMILES(smiles)
	if err != nil {
		b.problems = append(b.problems, Problem{Row: row, Line: line, Field: "smiles", Name: name,
			Code: CodeInvalidSMILES, Message: err.Error()})
		return
	}
	b.addMolecule(row, line, name, generated, smiles, m)
}

// addMolecule adds a valid molecule after the duplicate-name check.
func (b *builder) addMolecule(row, line int, name string, generated bool, smiles string, m *chem.Molecule) {
	if first, dup := b.seen[name]; dup {
		p := Problem{Row: row, Line: line, Field: "name", Name: name, Code: CodeDuplicateName,
			Message: fmt.Sprintf("name %q is also used by row %d", name, first)}
		if b.opts.RejectDuplicateNames {
			b.problems = append(b.problems, p)
			return
		}
		b.warnings = append(b.warnings, p)
	} else {
		b.seen[name] = row
	}
	props := m.Properties() // one ring and aromaticity perception for all
	b.entries = append(b.entries, Entry{
		Index:           len(b.entries),
		Row:             row,
		Line:            line,
		Name:            name,
		GeneratedName:   generated,
		SMILES:          smiles,
		Formula:         props.Formula,
		MolecularWeight: props.MolecularWeight,
		HeavyAtoms:      props.HeavyAtoms,
		HBondDonors:     props.HBondDonors,
		HBondAcceptors:  props.HBondAcceptors,
		Molecule:        m,
	})
}

// finish applies the all-or-nothing / drop-invalid policy.
func (b *builder) finish() (*Library, error) {
	if b.records == 0 {
		return nil, &Error{Problems: []Problem{{Code: CodeEmpty, Message: "the file has no ligands"}}}
	}
	if len(b.problems) > 0 && !b.opts.DropInvalid {
		return nil, &Error{Problems: b.problems}
	}
	if len(b.entries) == 0 {
		ps := append([]Problem{{Code: CodeNoValid, Message: fmt.Sprintf("none of the %d ligands is valid", b.records)}}, b.problems...)
		return nil, &Error{Problems: ps}
	}
	return &Library{Format: b.format, Entries: b.entries, Dropped: b.problems, Warnings: b.warnings}, nil
}
