package ligands

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"omtx/chem"
)

// sdfNameItems are the data items tried, case-insensitively and in order,
// for a record whose title line is empty.
var sdfNameItems = []string{"name", "_name", "id", "title", "compound_id", "compound_name", "molecule_name", "drug_name", "chembl_id", "zinc_id", "idnumber", "catalog_id"}

// ReadSDF reads an SD file: records separated by "$$$$" lines, each an MDL
// molfile (up to "M  END") followed by data items ("> <Name>" and value
// lines up to a blank line). A last record without "$$$$" is accepted and
// records that are only blank lines are skipped.
//
// The name is the data item Options.NameField when set and present;
// otherwise the title line (the record's first line); if that is empty,
// the first data item among Name, ID, Title, Compound_ID, ... (any case);
// otherwise "ligand_<row>". The SMILES is the one chem writes for the
// parsed connection table, and it is then validated like any other.
// Molfile errors are reported with field "molfile" and the file line of
// the record's first line.
func ReadSDF(r io.Reader, opts Options) (*Library, error) {
	lr := newLineReader(r)
	b := newBuilder(FormatSDF, opts)
	var (
		lines []string
		start int
		rowNo int
	)
	flush := func() error {
		defer func() { lines = lines[:0] }()
		blank := true
		for _, l := range lines {
			if strings.TrimSpace(l) != "" {
				blank = false
				break
			}
		}
		if blank {
			return nil
		}
		rowNo++
		if err := b.count(rowNo, start); err != nil {
			return err
		}
		b.addSDFRecord(rowNo, start, lines)
		return nil
	}
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(lines) == 0 {
			start = lr.line
		}
		if strings.TrimRight(line, " \t\r") == "$$$$" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		lines = append(lines, line)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return b.finish()
}

// addSDFRecord handles one record: lines of the record starting at file
// line start.
func (b *builder) addSDFRecord(row, start int, lines []string) {
	// The connection table ends at "M  END", or failing that before the
	// first data item header.
	end := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "M  END") {
			end = i + 1
			break
		}
	}
	if end < 0 {
		end = len(lines)
		for i, l := range lines {
			if i >= 3 && strings.HasPrefix(l, ">") {
				end = i
				break
			}
		}
	}
	items := sdfItems(lines[end:])

	title := strings.TrimSpace(lines[0])
	name := ""
	if f := b.opts.NameField; f != "" {
		if v, ok := lookupItem(items, f); ok && v != "" {
			name = v
		} else {
			b.warnings = append(b.warnings, Problem{Row: row, Line: start, Field: "name", Code: CodeNameFieldAbsent,
				Message: fmt.Sprintf("no data item %q; using the title line", f)})
		}
	}
	if name == "" {
		name = title
	}
	if name == "" {
		for _, k := range sdfNameItems {
			if v, ok := lookupItem(items, k); ok && v != "" {
				name = v
				break
			}
		}
	}
	name, generated := b.cleanName(row, start, name)

	m, err := chem.ParseMolfile(strings.Join(lines[:end], "\n") + "\n")
	if err != nil {
		b.problems = append(b.problems, Problem{Row: row, Line: start, Field: "molfile", Name: name,
			Code: CodeInvalidMolfile, Message: molfileMessage(err, start)})
		return
	}
	smiles := m.SMILES()
	m2, err := chem.ParseSMILES(smiles)
	if err != nil {
		b.problems = append(b.problems, Problem{Row: row, Line: start, Field: "molfile", Name: name,
			Code: CodeInvalidMolfile, Message: fmt.Sprintf("the SMILES written for this record (%s) does not parse: %v", smiles, err)})
		return
	}
	b.addMolecule(row, start, name, generated, smiles, m2)
}

// molfileMessage turns a chem.ParseMolfile error, which counts lines within
// the record, into one that also gives the file line.
func molfileMessage(err error, start int) string {
	var me *chem.MolfileError
	if errors.As(err, &me) && me.Line >= 1 {
		return fmt.Sprintf("record line %d (file line %d): %s", me.Line, start+me.Line-1, me.Reason)
	}
	return err.Error()
}

type sdfItem struct{ key, value string }

// sdfItems parses the data items after a connection table. The value kept
// is the first line of each item, trimmed.
func sdfItems(lines []string) []sdfItem {
	var items []sdfItem
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, ">") {
			continue
		}
		key := ""
		if a := strings.IndexByte(l, '<'); a >= 0 {
			if z := strings.IndexByte(l[a+1:], '>'); z >= 0 {
				key = l[a+1 : a+1+z]
			}
		}
		value := ""
		if i+1 < len(lines) && !strings.HasPrefix(lines[i+1], ">") {
			value = strings.TrimSpace(lines[i+1])
		}
		if key != "" {
			items = append(items, sdfItem{key, value})
		}
	}
	return items
}

// lookupItem finds a data item by exact key, then case-insensitively.
func lookupItem(items []sdfItem, key string) (string, bool) {
	for _, it := range items {
		if it.key == key {
			return it.value, true
		}
	}
	for _, it := range items {
		if strings.EqualFold(it.key, key) || headerKey(it.key) == headerKey(key) {
			return it.value, true
		}
	}
	return "", false
}
