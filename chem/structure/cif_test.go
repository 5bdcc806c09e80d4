package structure

import (
	"slices"
	"testing"
)

// tokens returns the tokens of s, failing the test on an error.
func tokens(t *testing.T, s string) []token {
	t.Helper()
	tz := newTokenizer(s)
	var out []token
	for {
		tok, ok, err := tz.next()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if !ok {
			return out
		}
		out = append(out, tok)
	}
}

// TestTokenizerQuotes checks CIF 1.1 quoting: a quote closes only when a
// blank or the line end follows it.
func TestTokenizerQuotes(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`'O5'' C`, []string{"O5'", "C"}},
		{`"O5'" C`, []string{"O5'", "C"}},
		{`'it's' x`, []string{"it's", "x"}},
		{`"a "quoted" b" c`, []string{`a "quoted`, `b"`, "c"}}, // a quote before a blank closes
		{`"a"b" c`, []string{`a"b`, "c"}},
		{`'' ""`, []string{"", ""}},
		{`O5' C`, []string{"O5'", "C"}},
		{"'a b'\t'c'", []string{"a b", "c"}},
		{"'end of input'", []string{"end of input"}},
		{"'x'\r\n'y'", []string{"x", "y"}},
	}
	for _, c := range cases {
		var got []string
		for _, tok := range tokens(t, c.in) {
			got = append(got, tok.Text)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// TestTokenizerTextFieldsAndComments checks ;-fields, # comments, line
// numbers and what counts as a tag or a keyword.
func TestTokenizerTextFieldsAndComments(t *testing.T) {
	in := "data_x # comment 'not a value\n" +
		"_a.b   # another\n" +
		";first line\n" +
		"second; line\n" +
		";\n" +
		"a#b ; '?' ? . LOOP_ _c.d\r\n" +
		"'_e.f' \"loop_\"\n"
	toks := tokens(t, in)
	want := []token{
		{Kind: tokData, Text: "data_x", Line: 1, EndLine: 1},
		{Kind: tokTag, Text: "_a.b", Line: 2, EndLine: 2},
		{Kind: tokValue, Text: "first line\nsecond; line", Quoted: true, Field: true, Line: 3, EndLine: 5},
		{Kind: tokValue, Text: "a#b", Line: 6, EndLine: 6},
		{Kind: tokValue, Text: ";", Line: 6, EndLine: 6},
		{Kind: tokValue, Text: "?", Quoted: true, Line: 6, EndLine: 6},
		{Kind: tokValue, Text: "?", Line: 6, EndLine: 6},
		{Kind: tokValue, Text: ".", Line: 6, EndLine: 6},
		{Kind: tokLoop, Text: "LOOP_", Line: 6, EndLine: 6},
		{Kind: tokTag, Text: "_c.d", Line: 6, EndLine: 6},
		{Kind: tokValue, Text: "_e.f", Quoted: true, Line: 7, EndLine: 7},
		{Kind: tokValue, Text: "loop_", Quoted: true, Line: 7, EndLine: 7},
	}
	if !slices.Equal(toks, want) {
		t.Errorf("got\n%+v\nwant\n%+v", toks, want)
	}
	if !toks[6].missing() || !toks[7].missing() || toks[5].missing() {
		t.Error("? and . are missing only when not quoted")
	}
}

// TestTokenizerErrors checks unterminated quotes and text fields.
func TestTokenizerErrors(t *testing.T) {
	for in, line := range map[string]int{
		"a\n'open quote\nb":     2,
		"a\nb \"x\"y\n":         2,
		"a\n\n;text\nno end\n":  3,
		"'it's":                 1,
		"x\r\n\r\n'bad' 'worse": 3,
	} {
		tz := newTokenizer(in)
		var err error
		for {
			var ok bool
			if _, ok, err = tz.next(); err != nil || !ok {
				break
			}
		}
		le, isLine := err.(*LineError)
		if !isLine || le.Line != line {
			t.Errorf("%q: error %v, want one at line %d", in, err, line)
		}
	}
}

// cifHeader is an _atom_site loop header of the usual wwPDB columns.
const cifHeader = `data_TEST
#
loop_
_atom_site.group_PDB
_atom_site.id
_atom_site.type_symbol
_atom_site.label_atom_id
_atom_site.label_alt_id
_atom_site.label_comp_id
_atom_site.label_asym_id
_atom_site.label_seq_id
_atom_site.pdbx_PDB_ins_code
_atom_site.Cartn_x
_atom_site.Cartn_y
_atom_site.Cartn_z
_atom_site.occupancy
_atom_site.B_iso_or_equiv
_atom_site.pdbx_formal_charge
_atom_site.auth_seq_id
_atom_site.auth_asym_id
_atom_site.pdbx_PDB_model_num
`

// TestReadCIFValues checks quoted names, text fields, comments, ? and .,
// fallbacks to label_* columns and the first model only.
func TestReadCIFValues(t *testing.T) {
	in := cifHeader +
		"ATOM 1 C \"C5'\" . DG B 1 ? 1.000 2.000 3.000 1.00 10.00 ? 7 A 1 # a comment\n" +
		"ATOM 2 O 'O5'' A DG B 1 ? 1.5 2.5 3.5 0.5 . . 7 A 1\n" +
		"HETATM 3 FE FE . HEM C . A -1 -2 -3 ? ? 2 ? ? 1\n" +
		";N\n;\n" + // a text field as a value: the atom name of row 4
		" 4 N N . ALA B 2 . 0 0 0 1 0 -1 8 A 1\n" +
		"#\n" +
		"ATOM 5 N N . ALA B 2 . 9 9 9 1 0 0 8 A 2\n" +
		"#\n_other.item 'x y'\n" +
		"data_SECOND\n_atom_site.id 9\n"
	s, err := Read([]byte(in), MMCIF, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Atom{
		{Serial: 1, Name: "C5'", ResName: "DG", Chain: "A", ResSeq: 7, X: 1, Y: 2, Z: 3, Occupancy: 1, BFactor: 10, Element: "C", Line: 22},
		{Serial: 2, Name: "O5'", AltLoc: "A", ResName: "DG", Chain: "A", ResSeq: 7, X: 1.5, Y: 2.5, Z: 3.5, Occupancy: 0.5, Element: "O", Line: 23},
		{Het: true, Serial: 3, Name: "FE", ResName: "HEM", Chain: "C", ICode: "A", X: -1, Y: -2, Z: -3, Occupancy: 1, Element: "Fe", Charge: 2, Line: 24},
		{Serial: 4, Name: "N", ResName: "ALA", Chain: "A", ResSeq: 8, Occupancy: 1, Element: "N", Charge: -1, Line: 25},
	}
	if !slices.Equal(s.Atoms, want) {
		t.Errorf("got\n%+v\nwant\n%+v", s.Atoms, want)
	}
}

// TestReadCIFSingleRow checks the non-loop form of _atom_site (one atom)
// and auth_* columns standing in for label_* ones.
func TestReadCIFSingleRow(t *testing.T) {
	in := "data_one\n_atom_site.group_PDB HETATM\n_atom_site.id 1\n_atom_site.type_symbol ZN\n" +
		"_atom_site.auth_atom_id ZN\n_atom_site.auth_comp_id ZN\n_atom_site.label_asym_id B\n" +
		"_atom_site.label_seq_id .\n_atom_site.auth_seq_id 301\n" +
		"_atom_site.Cartn_x 1.25\n_atom_site.Cartn_y ' -2.5'\n_atom_site.Cartn_z\n;3\n;\n"
	s, err := Read([]byte(in), MMCIF, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Atom{{Het: true, Serial: 1, Name: "ZN", ResName: "ZN", Chain: "B", ResSeq: 301,
		X: 1.25, Y: -2.5, Z: 3, Occupancy: 1, Element: "Zn", Line: 2}}
	if !slices.Equal(s.Atoms, want) {
		t.Errorf("got %+v, want %+v", s.Atoms, want)
	}
}

// TestReadCIFOtherLoopsFirst checks that loops before _atom_site, with
// quoted and multi-line values, are skipped, and that data names are
// matched without regard to case.
func TestReadCIFOtherLoopsFirst(t *testing.T) {
	in := "data_x\nloop_\n_entity.id\n_entity.pdbx_description\n1 'PROTEIN KINASE'\n2\n;multi\nline\n;\n" +
		"LOOP_\n_ATOM_SITE.ID\n_ATOM_SITE.LABEL_ATOM_ID\n_atom_site.CARTN_X\n_atom_site.cartn_y\n_atom_site.Cartn_Z\n" +
		"1 CA 1 2 3\n2 CB 4 5 6\n"
	s, err := Read([]byte(in), MMCIF, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Atoms) != 2 || s.Atoms[1].Name != "CB" || s.Atoms[1].Z != 6 || s.Atoms[1].Element != "C" || s.Atoms[1].Line != 17 {
		t.Errorf("got %+v", s.Atoms)
	}
}
