package structure

import (
	"fmt"
	"strings"
)

// tokenKind is what a CIF token is.
type tokenKind int

const (
	tokValue tokenKind = iota // a value, bare, quoted or a text field
	tokTag                    // a data name, "_atom_site.id"
	tokLoop                   // loop_
	tokData                   // data_NAME
	tokOther                  // save_, global_, stop_ (not used by mmCIF)
)

// token is one CIF token. Line and EndLine are 1-based; they differ only
// for text fields.
type token struct {
	Kind    tokenKind
	Text    string // the value without its quotes or semicolons
	Quoted  bool   // quoted or a text field: "?" and "." are then plain text
	Field   bool   // a ;-delimited text field
	Line    int
	EndLine int
}

// missing reports whether a value is CIF's unknown (?) or inapplicable (.).
func (t token) missing() bool {
	return !t.Quoted && (t.Text == "?" || t.Text == ".")
}

// tokenizer splits CIF 1.1 text into tokens. Values are substrings of
// the input (no copies).
type tokenizer struct {
	s    string
	pos  int
	line int
}

func newTokenizer(s string) *tokenizer { return &tokenizer{s: s, line: 1} }

// next returns the next token; ok is false at the end of the input.
func (t *tokenizer) next() (tok token, ok bool, err error) {
	t.skipSpaceAndComments()
	if t.pos >= len(t.s) {
		return token{}, false, nil
	}
	c := t.s[t.pos]
	switch {
	case c == ';' && t.atLineStart():
		tok, err = t.textField()
	case c == '\'' || c == '"':
		tok, err = t.quoted(c)
	default:
		tok = t.bare()
	}
	return tok, err == nil, err
}

// atLineStart reports whether pos is the first byte of a line.
func (t *tokenizer) atLineStart() bool {
	return t.pos == 0 || t.s[t.pos-1] == '\n' || t.s[t.pos-1] == '\r'
}

// newline advances over one line end at pos (LF, CRLF or CR).
func (t *tokenizer) newline() {
	if t.s[t.pos] == '\r' && t.pos+1 < len(t.s) && t.s[t.pos+1] == '\n' {
		t.pos++
	}
	t.pos++
	t.line++
}

// skipSpaceAndComments skips blanks, line ends and # comments.
func (t *tokenizer) skipSpaceAndComments() {
	for t.pos < len(t.s) {
		switch t.s[t.pos] {
		case ' ', '\t', '\v', '\f':
			t.pos++
		case '\n', '\r':
			t.newline()
		case '#':
			for t.pos < len(t.s) && t.s[t.pos] != '\n' && t.s[t.pos] != '\r' {
				t.pos++
			}
		default:
			return
		}
	}
}

// isSpace reports whether c ends a bare value or follows a closing quote.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// bare reads an unquoted token: a value, a tag or a reserved word.
func (t *tokenizer) bare() token {
	start := t.pos
	for t.pos < len(t.s) && !isSpace(t.s[t.pos]) {
		t.pos++
	}
	text := t.s[start:t.pos]
	tok := token{Kind: tokValue, Text: text, Line: t.line, EndLine: t.line}
	switch c := text[0] | 0x20; {
	case text[0] == '_':
		tok.Kind = tokTag
	case c != 'd' && c != 'l' && c != 's' && c != 'g':
		// Not a reserved word: the common case, kept cheap.
	case hasPrefixFold(text, "data_"):
		tok.Kind = tokData
	case strings.EqualFold(text, "loop_"):
		tok.Kind = tokLoop
	case hasPrefixFold(text, "save_"), strings.EqualFold(text, "global_"), strings.EqualFold(text, "stop_"):
		tok.Kind = tokOther
	}
	return tok
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// quoted reads a 'single' or "double" quoted value. Per CIF 1.1 the quote
// closes only where it is followed by whitespace or the end of the input,
// so 'O5” ... reads as O5' when the second quote is followed by a blank.
func (t *tokenizer) quoted(q byte) (token, error) {
	line := t.line
	start := t.pos + 1
	for i := start; i < len(t.s); i++ {
		c := t.s[i]
		if c == '\n' || c == '\r' {
			break
		}
		if c == q && (i+1 == len(t.s) || isSpace(t.s[i+1])) {
			t.pos = i + 1
			return token{Kind: tokValue, Text: t.s[start:i], Quoted: true, Line: line, EndLine: line}, nil
		}
	}
	return token{}, lineErrorf(line, "quoted value %s has no closing %c on its line", snippet(t.s[t.pos:]), q)
}

// textField reads a ;-delimited text field: from the ; that starts a line
// to the next line that starts with ;. The value is the text between,
// without the line end before the closing ;.
func (t *tokenizer) textField() (token, error) {
	line := t.line
	t.pos++ // the opening ;
	start := t.pos
	for t.pos < len(t.s) {
		c := t.s[t.pos]
		if c != '\n' && c != '\r' {
			t.pos++
			continue
		}
		end := t.pos
		t.newline()
		if t.pos < len(t.s) && t.s[t.pos] == ';' {
			t.pos++
			return token{Kind: tokValue, Text: t.s[start:end], Quoted: true, Field: true, Line: line, EndLine: t.line}, nil
		}
	}
	return token{}, lineErrorf(line, "text field that starts with ; has no closing ; line")
}

// snippet is the start of s up to its line end, shortened for messages.
func snippet(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%q", s)
}
