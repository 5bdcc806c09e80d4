package structure

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// atomSitePrefix starts the data names of the _atom_site category
// (compared in lower case: CIF data names are case-insensitive).
const atomSitePrefix = "_atom_site."

// Column indexes of the _atom_site items read, in a row.
const (
	colGroup = iota
	colID
	colType
	colLabelAtom
	colAuthAtom
	colAlt
	colLabelComp
	colAuthComp
	colAuthAsym
	colLabelAsym
	colAuthSeq
	colLabelSeq
	colInsCode
	colX
	colY
	colZ
	colOcc
	colB
	colCharge
	colModel
	numCols
)

// columnTags are the _atom_site items, by column index (lower case).
var columnTags = [numCols]string{
	colGroup: "group_pdb", colID: "id", colType: "type_symbol",
	colLabelAtom: "label_atom_id", colAuthAtom: "auth_atom_id", colAlt: "label_alt_id",
	colLabelComp: "label_comp_id", colAuthComp: "auth_comp_id",
	colAuthAsym: "auth_asym_id", colLabelAsym: "label_asym_id",
	colAuthSeq: "auth_seq_id", colLabelSeq: "label_seq_id", colInsCode: "pdbx_pdb_ins_code",
	colX: "cartn_x", colY: "cartn_y", colZ: "cartn_z", colOcc: "occupancy", colB: "b_iso_or_equiv",
	colCharge: "pdbx_formal_charge", colModel: "pdbx_pdb_model_num",
}

// atomSite describes the _atom_site table of a block: its data names in
// file order and where the columns read sit among them.
type atomSite struct {
	tags  []string // as written, e.g. "_atom_site.Cartn_x"
	index [numCols]int
	line  int // the line of the first data name
}

// readCIF reads the _atom_site rows of the first data block, first model.
func readCIF(data []byte, maxAtoms int) ([]Atom, error) {
	p := &cifParser{tz: newTokenizer(string(data)), maxAtoms: maxAtoms}
	if err := p.run(); err != nil {
		return nil, err
	}
	if !p.found {
		return nil, fmt.Errorf("%w: no _atom_site records in the first data block", ErrNoAtoms)
	}
	if len(p.atoms) == 0 {
		return nil, &LineError{Line: p.site.line, Err: fmt.Errorf("%w: the _atom_site table has no rows", ErrNoAtoms)}
	}
	return p.atoms, nil
}

// cifParser walks the tokens of the first data block looking for the
// _atom_site table.
type cifParser struct {
	tz       *tokenizer
	maxAtoms int
	peeked   *token
	found    bool
	site     atomSite
	single   []token // values of the non-loop form, by site.tags
	rows     rowReader
	atoms    []Atom
}

// take returns the next token (ok false at the end).
func (p *cifParser) take() (token, bool, error) {
	if p.peeked != nil {
		t := *p.peeked
		p.peeked = nil
		return t, true, nil
	}
	return p.tz.next()
}

// unread pushes t back, to be returned by the next take.
func (p *cifParser) unread(t token) { p.peeked = &t }

// run reads up to the end of the first data block, or the end of the
// _atom_site loop.
func (p *cifParser) run() error {
	blocks := 0
	for {
		t, ok, err := p.take()
		if err != nil {
			return err
		}
		if !ok {
			return p.finishSingle()
		}
		switch t.Kind {
		case tokData:
			if blocks++; blocks > 1 {
				return p.finishSingle()
			}
		case tokLoop:
			done, err := p.loop(t)
			if err != nil || done {
				return err
			}
		case tokTag:
			if err := p.item(t); err != nil {
				return err
			}
		case tokValue:
			return lineErrorf(t.Line, "value %s has no data name before it", quoteText(t.Text))
		}
	}
}

// finishSingle builds the atom of a non-loop _atom_site, if any.
func (p *cifParser) finishSingle() error {
	if len(p.single) > 0 {
		return p.singleRow()
	}
	return nil
}

// item reads one "_name value" pair outside a loop.
func (p *cifParser) item(tag token) error {
	v, ok, err := p.take()
	if err != nil {
		return err
	}
	if !ok || v.Kind != tokValue {
		return lineErrorf(tag.Line, "data name %s has no value", tag.Text)
	}
	if !hasPrefixFold(tag.Text, atomSitePrefix) {
		return nil
	}
	if p.found && len(p.single) == 0 {
		return lineErrorf(tag.Line, "%s outside the _atom_site loop", tag.Text)
	}
	if !p.found {
		p.found = true
		p.site.line = tag.Line
	}
	p.site.tags = append(p.site.tags, tag.Text)
	p.single = append(p.single, v)
	return nil
}

// singleRow turns the non-loop _atom_site items into one atom.
func (p *cifParser) singleRow() error {
	if err := p.indexColumns(); err != nil {
		return err
	}
	p.rows = rowReader{p: p}
	return p.rows.row(p.single)
}

// loop reads a loop_: its data names, then its values. It reports done
// once the _atom_site loop has been read.
func (p *cifParser) loop(start token) (done bool, err error) {
	var tags []token
	for {
		t, ok, err := p.take()
		if err != nil {
			return false, err
		}
		if !ok || t.Kind != tokTag {
			if ok {
				p.unread(t)
			}
			break
		}
		tags = append(tags, t)
	}
	if len(tags) == 0 {
		return false, lineErrorf(start.Line, "loop_ has no data names")
	}
	isSite := hasPrefixFold(tags[0].Text, atomSitePrefix)
	if isSite {
		if p.found {
			return false, lineErrorf(start.Line, "a second _atom_site table")
		}
		p.found = true
		p.site.line = tags[0].Line
		for _, t := range tags {
			if !hasPrefixFold(t.Text, atomSitePrefix) {
				return false, lineErrorf(t.Line, "%s in the _atom_site loop", t.Text)
			}
			p.site.tags = append(p.site.tags, t.Text)
		}
		if err := p.indexColumns(); err != nil {
			return false, err
		}
	}
	return isSite, p.loopValues(len(tags), isSite)
}

// loopValues reads the values of a loop with n data names, turning them
// into atoms when keep is set.
func (p *cifParser) loopValues(n int, keep bool) error {
	p.rows = rowReader{p: p}
	row := make([]token, 0, n)
	for {
		t, ok, err := p.take()
		if err != nil {
			return err
		}
		if !ok || t.Kind != tokValue {
			if ok {
				p.unread(t)
			}
			break
		}
		if !keep {
			continue
		}
		row = append(row, t)
		if err := p.rows.checkLayout(row, n); err != nil {
			return err
		}
		if len(row) == n {
			if err := p.rows.row(row); err != nil {
				return err
			}
			row = row[:0]
		}
	}
	if keep && len(row) > 0 {
		return lineErrorf(row[0].Line, "_atom_site row has %d values; the loop has %d data names", len(row), n)
	}
	return nil
}

// indexColumns finds the columns read among the table's data names.
func (p *cifParser) indexColumns() error {
	for i := range p.site.index {
		p.site.index[i] = -1
	}
	for i, tag := range p.site.tags {
		name := strings.ToLower(tag[len(atomSitePrefix):])
		for c, want := range columnTags {
			if name == want {
				if p.site.index[c] >= 0 {
					return lineErrorf(p.site.line, "data name %s appears twice", tag)
				}
				p.site.index[c] = i
			}
		}
	}
	for _, c := range []int{colX, colY, colZ} {
		if p.site.index[c] < 0 {
			return lineErrorf(p.site.line, "the _atom_site table has no _atom_site.%s", canonicalTag(c))
		}
	}
	if p.site.index[colLabelAtom] < 0 && p.site.index[colAuthAtom] < 0 {
		return lineErrorf(p.site.line, "the _atom_site table has no _atom_site.label_atom_id or auth_atom_id")
	}
	return nil
}

// canonicalTag is the usual spelling of a column's data name (after "_atom_site.").
func canonicalTag(c int) string {
	switch c {
	case colX, colY, colZ:
		return "Cartn_" + columnTags[c][len("cartn_"):]
	case colGroup:
		return "group_PDB"
	case colB:
		return "B_iso_or_equiv"
	case colInsCode:
		return "pdbx_PDB_ins_code"
	case colModel:
		return "pdbx_PDB_model_num"
	}
	return columnTags[c]
}

// quoteText quotes a value for a message, shortened.
func quoteText(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)
}

// rowReader turns _atom_site rows into atoms, keeping the first model,
// and checks that rows written one a line have the right number of values.
type rowReader struct {
	p         *cifParser
	started   bool
	model     string // the first model's number
	oneALine  bool   // the first row was on one line: every row must be
	checked   bool   // the layout of the first row is known
	lastRowTo int    // the line where the last row ended
	lastField bool   // the last row ended with a text field
}

// checkLayout is called after each value added to row. When the first row
// sits on one line, each row must too: a row that runs onto the next line
// lacks values, and a row that starts where the last one ended has too
// many. Text fields, which take lines of their own, are let be.
func (r *rowReader) checkLayout(row []token, n int) error {
	k := len(row)
	t := row[k-1]
	switch {
	case !r.checked:
		if k == n {
			r.checked = true
			r.oneALine = row[0].Line == t.EndLine
		}
	case !r.oneALine:
	case k == 1 && t.Line == r.lastRowTo && !r.lastField && !t.Field:
		return lineErrorf(t.Line, "_atom_site row has more than %d values", n)
	case k > 1 && t.Line != row[k-2].EndLine && !row[k-2].Field && !t.Field:
		return lineErrorf(row[0].Line, "_atom_site row has %d values; the loop has %d data names", k-1, n)
	}
	if k == n {
		r.lastRowTo, r.lastField = t.EndLine, t.Field
	}
	return nil
}

// row reads one row into an atom, unless it belongs to a later model.
func (r *rowReader) row(vals []token) error {
	site := &r.p.site
	get := func(c int) (token, bool) {
		if i := site.index[c]; i >= 0 && !vals[i].missing() {
			return vals[i], true
		}
		return token{}, false
	}
	if m, ok := get(colModel); ok {
		if !r.started {
			r.model = m.Text
		} else if m.Text != r.model && r.model != "" {
			return nil
		}
	}
	r.started = true
	if len(r.p.atoms) == r.p.maxAtoms {
		return tooManyAtoms(vals[0].Line, r.p.maxAtoms)
	}
	a, err := buildAtom(get, len(r.p.atoms)+1)
	if err != nil {
		var ve *valueError
		if errors.As(err, &ve) {
			return &LineError{Line: ve.tok.Line, Err: err}
		}
		return &LineError{Line: vals[0].Line, Err: err}
	}
	a.Line = vals[0].Line
	r.p.atoms = append(r.p.atoms, a)
	return nil
}

// valueError is a bad value in a column.
type valueError struct {
	tok token
	tag string
	msg string
}

func (e *valueError) Error() string {
	return fmt.Sprintf("_atom_site.%s %s %s", e.tag, quoteText(e.tok.Text), e.msg)
}

// getter returns a column's value, ok false when the column is absent or
// the value is ? or .
type getter func(c int) (token, bool)

// text returns the first present column's value, trimmed, or "".
func (g getter) text(cols ...int) string {
	for _, c := range cols {
		if t, ok := g(c); ok {
			return strings.TrimSpace(t.Text)
		}
	}
	return ""
}

// float reads a number column, def when absent.
func (g getter) float(c int, def float64, required bool) (float64, error) {
	t, ok := g(c)
	if !ok {
		if required {
			return 0, fmt.Errorf("_atom_site.%s has no value", canonicalTag(c))
		}
		return def, nil
	}
	x, err := parseFloat(strings.TrimSpace(t.Text), "", "")
	if err != nil {
		return 0, &valueError{tok: t, tag: canonicalTag(c), msg: "is not a number"}
	}
	return x, nil
}

// int reads an integer column from the first present of cols, def when absent.
func (g getter) int(def int, cols ...int) (int, error) {
	for _, c := range cols {
		t, ok := g(c)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(t.Text))
		if err != nil {
			return 0, &valueError{tok: t, tag: canonicalTag(c), msg: "is not a whole number"}
		}
		return n, nil
	}
	return def, nil
}

// buildAtom reads an atom from a row's columns; serial is used when the
// row has no id.
func buildAtom(g getter, serial int) (Atom, error) {
	a := Atom{
		Het:     strings.EqualFold(g.text(colGroup), "HETATM"),
		Name:    g.text(colLabelAtom, colAuthAtom),
		AltLoc:  g.text(colAlt),
		ResName: g.text(colLabelComp, colAuthComp),
		Chain:   g.text(colAuthAsym, colLabelAsym),
		ICode:   g.text(colInsCode),
		Element: normalizeElement(g.text(colType)),
	}
	var err error
	if a.Serial, err = g.int(serial, colID); err != nil {
		return a, err
	}
	if a.ResSeq, err = g.int(0, colAuthSeq, colLabelSeq); err != nil {
		return a, err
	}
	for i, p := range []*float64{&a.X, &a.Y, &a.Z} {
		if *p, err = g.float(colX+i, 0, true); err != nil {
			return a, err
		}
	}
	if a.Occupancy, err = g.float(colOcc, 1, false); err != nil {
		return a, err
	}
	if a.BFactor, err = g.float(colB, 0, false); err != nil {
		return a, err
	}
	if a.Charge, err = g.int(0, colCharge); err != nil {
		return a, err
	}
	if a.Element == "" {
		a.Element = elementFromName(a.Name, a.Het)
	}
	return a, nil
}
