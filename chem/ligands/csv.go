package ligands

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"omtx/chem"
)

// Column names recognised in a header row, compared after lower-casing and
// turning spaces, hyphens and dots into underscores. Earlier names win when
// several columns match.
var (
	smilesColumns = []string{"smiles", "canonical_smiles", "isomeric_smiles", "smiles_string", "canonicalsmiles", "isomericsmiles", "smi"}
	nameColumns   = []string{"name", "id", "compound", "compound_id", "compound_name", "title", "drug_name", "drug",
		"molecule", "molecule_name", "mol_name", "molecule_id", "mol_id", "ligand", "ligand_name", "ligand_id",
		"identifier", "_name", "chembl_id", "zinc_id", "catalog_id", "cid"}
)

// headerKey normalises a header cell for matching.
func headerKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.':
			return '_'
		}
		return r
	}, s)
}

// findColumn returns the index of the first header cell matching a
// candidate, trying candidates in order, or -1.
func findColumn(header []string, candidates []string) int {
	for _, c := range candidates {
		for i, h := range header {
			if headerKey(h) == c {
				return i
			}
		}
	}
	return -1
}

// sampleRows is how many leading rows of a headerless table are parsed to
// decide which column holds the SMILES, and sampleCols how many of the
// leftmost columns are candidates.
const (
	sampleRows = 50
	sampleCols = 16
)

// ReadCSV reads a comma-separated library (RFC 4180).
//
// The first row is a header when one of its cells is a known SMILES column
// name (smiles, canonical_smiles, isomeric_smiles, ...; case-insensitive)
// or when Options.SMILESField is set. The name column is then the first
// known name column (name, id, compound, compound_id, title, drug_name,
// ...) or Options.NameField; without one, names are generated. Other
// columns are ignored, in any order.
//
// Without a header, a one-column table is SMILES only (names generated as
// ligand_1, ligand_2, ... by row); with two or more columns, the column in
// which most of the first 50 rows parse as SMILES (among the first 16
// columns) holds the SMILES (the leftmost on a tie) and the first other column the names, so both
// "name,smiles" and "smiles,name" work.
//
// A leading BOM, CRLF line endings, surrounding whitespace in cells, blank
// lines and rows whose cells are all empty are tolerated.
func ReadCSV(r io.Reader, opts Options) (*Library, error) {
	return readTable(r, ',', FormatCSV, opts)
}

// ReadTSV reads a tab-separated library, with the same rules as ReadCSV
// except that quoting is lenient: a double quote inside an unquoted cell is
// kept as written.
func ReadTSV(r io.Reader, opts Options) (*Library, error) {
	return readTable(r, '\t', FormatTSV, opts)
}

type tableRow struct {
	cells []string
	line  int
}

func readTable(r io.Reader, comma rune, format Format, opts Options) (*Library, error) {
	cr := csv.NewReader(skipBOM(r))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = comma != '\t'
	cr.LazyQuotes = comma == '\t'
	cr.ReuseRecord = false

	next := func() (tableRow, error) {
		for {
			rec, err := cr.Read()
			if err != nil {
				return tableRow{}, err
			}
			line, _ := cr.FieldPos(0)
			for i := range rec {
				rec[i] = strings.TrimSpace(rec[i])
			}
			if allEmpty(rec) {
				continue
			}
			return tableRow{rec, line}, nil
		}
	}
	syntaxError := func(err error) error {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return &Error{Problems: []Problem{{Line: pe.Line, Code: CodeSyntax,
				Message: fmt.Sprintf("malformed %s: %v", strings.ToUpper(format.String()), pe.Err)}}}
		}
		return ioError(err)
	}

	b := newBuilder(format, opts)
	first, err := next()
	if err == io.EOF {
		return b.finish()
	}
	if err != nil {
		return nil, syntaxError(err)
	}

	// Decide the layout from the first row (and, without a header, a sample).
	smilesCol, nameCol := -1, -1
	var pending []tableRow
	header := opts.SMILESField != "" || findColumn(first.cells, smilesColumns) >= 0
	if header {
		if opts.SMILESField != "" {
			smilesCol = findColumn(first.cells, []string{headerKey(opts.SMILESField)})
		} else {
			smilesCol = findColumn(first.cells, smilesColumns)
		}
		if smilesCol < 0 {
			return nil, &Error{Problems: []Problem{{Line: first.line, Code: CodeNoSMILESColumn,
				Message: fmt.Sprintf("the header row has no column %q (columns: %s)", opts.SMILESField, strings.Join(first.cells, ", "))}}}
		}
		if opts.NameField != "" {
			nameCol = findColumn(first.cells, []string{headerKey(opts.NameField)})
			if nameCol < 0 {
				return nil, &Error{Problems: []Problem{{Line: first.line, Code: CodeNoNameColumn,
					Message: fmt.Sprintf("the header row has no column %q (columns: %s)", opts.NameField, strings.Join(first.cells, ", "))}}}
			}
		} else {
			nameCol = findColumn(first.cells, nameColumns)
		}
	} else {
		if opts.NameField != "" {
			return nil, &Error{Problems: []Problem{{Line: first.line, Code: CodeNoNameColumn,
				Message: fmt.Sprintf("a name column %q was asked for but the file has no header row with a SMILES column", opts.NameField)}}}
		}
		pending = append(pending, first)
		for len(pending) < sampleRows {
			row, err := next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, syntaxError(err)
			}
			pending = append(pending, row)
		}
		smilesCol, nameCol = guessColumns(pending, opts.maxSMILESLength())
		// A first row with a known name column whose SMILES cell does not
		// parse is a header without a recognisable SMILES column.
		if nc := findColumn(first.cells, nameColumns); nc >= 0 && nc != smilesCol && smilesCol < len(first.cells) {
			if _, err := chem.ParseSMILES(first.cells[smilesCol]); err != nil {
				return nil, &Error{Problems: []Problem{{Line: first.line, Code: CodeNoSMILESColumn,
					Message: fmt.Sprintf("the first row looks like a header (it has a %q column) but no column is named smiles (columns: %s); rename the SMILES column or set SMILESField",
						first.cells[nc], strings.Join(first.cells, ", "))}}}
			}
		}
	}

	rowNo := 0
	process := func(row tableRow) error {
		rowNo++
		if err := b.count(rowNo, row.line); err != nil {
			return err
		}
		name := ""
		if nameCol >= 0 && nameCol < len(row.cells) {
			name = row.cells[nameCol]
		}
		smiles := ""
		if smilesCol < len(row.cells) {
			smiles = row.cells[smilesCol]
		}
		b.add(rowNo, row.line, name, smiles)
		return nil
	}
	for _, row := range pending {
		if err := process(row); err != nil {
			return nil, err
		}
	}
	for {
		row, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, syntaxError(err)
		}
		if err := process(row); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

func allEmpty(cells []string) bool {
	for _, c := range cells {
		if c != "" {
			return false
		}
	}
	return true
}

// guessColumns picks the SMILES and name columns of a headerless table
// from a sample of its rows.
func guessColumns(rows []tableRow, maxLen int) (smilesCol, nameCol int) {
	ncols := 0
	for _, r := range rows {
		ncols = max(ncols, len(r.cells))
	}
	ncols = min(ncols, sampleCols)
	if ncols <= 1 {
		return 0, -1
	}
	best, bestCount := 0, -1
	for c := 0; c < ncols; c++ {
		n := 0
		for _, r := range rows {
			if c < len(r.cells) && r.cells[c] != "" && len(r.cells[c]) <= maxLen {
				if _, err := chem.ParseSMILES(r.cells[c]); err == nil {
					n++
				}
			}
		}
		if n > bestCount {
			best, bestCount = c, n
		}
	}
	if best == 0 {
		return 0, 1
	}
	return best, 0
}
