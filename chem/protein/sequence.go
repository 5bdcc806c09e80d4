// Package protein validates protein sequences as scientists paste them and
// reads FASTA files.
//
// Sequence policy (see Options): whitespace, including line breaks, is
// removed and letters are upper-cased. The 20 standard residues are always
// accepted. Of the other one-letter codes:
//
//   - U (selenocysteine) and O (pyrrolysine) are real residues and are
//     accepted unless Options.RejectRare is set (for models that cannot
//     represent them);
//   - X (unknown residue) is rejected unless Options.AllowUnknown is set;
//   - B (D or N), Z (E or Q) and J (I or L) are ambiguity codes and are
//     rejected unless Options.AllowAmbiguous is set.
//
// One '*' (stop) at the very end is removed; a '*' anywhere else is an
// error. Digits (sequence numbering pasted from GenBank or UniProt flat
// files), alignment gaps ('-', '.') and any other character are rejected
// with an error naming the 1-based residue position and the character.
// Lengths are checked after cleaning against Options.MinLength and
// Options.MaxLength (defaults 10 and 2,000 residues).
package protein

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Default length limits, in residues, used when Options leaves them zero.
const (
	DefaultMinLength = 10
	DefaultMaxLength = 2000
)

// Options is the sequence policy of one model adapter. The zero value is the
// default policy: 10 to 2,000 residues, U and O accepted, X, B, Z and J
// rejected.
type Options struct {
	// MinLength and MaxLength bound the cleaned sequence length in
	// residues; zero means DefaultMinLength and DefaultMaxLength. A
	// negative MaxLength means no upper limit.
	MinLength int
	MaxLength int
	// AllowUnknown accepts X (unknown residue).
	AllowUnknown bool
	// AllowAmbiguous accepts the ambiguity codes B (D/N), Z (E/Q) and J (I/L).
	AllowAmbiguous bool
	// RejectRare rejects U (selenocysteine) and O (pyrrolysine), which are
	// otherwise accepted.
	RejectRare bool
}

func (o Options) limits() (min, max int) {
	min, max = o.MinLength, o.MaxLength
	if min == 0 {
		min = DefaultMinLength
	}
	if max == 0 {
		max = DefaultMaxLength
	}
	return min, max
}

// SequenceError reports why a sequence was rejected. Position is the 1-based
// residue position (counting residues after whitespace is removed) of the
// offending character, or 0 when the error is about the whole sequence (its
// length). Char is the offending character, 0 for whole-sequence errors.
type SequenceError struct {
	Position int
	Char     rune
	Reason   string
}

// Error returns "position N: reason", or the reason alone when Position is 0.
func (e *SequenceError) Error() string {
	if e.Position == 0 {
		return e.Reason
	}
	return fmt.Sprintf("position %d: %s", e.Position, e.Reason)
}

// standard is the set of the 20 standard one-letter codes.
const standard = "ACDEFGHIKLMNPQRSTVWY"

// Normalize cleans a pasted protein sequence (whitespace removed, upper
// case, one trailing '*' dropped) and checks it against opts. It returns the
// cleaned sequence or a *SequenceError.
func Normalize(s string, opts Options) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	pos := 0 // residues accepted so far
	stop := 0
	for i, r := range s {
		if unicode.IsSpace(r) || r == '\uFEFF' {
			continue
		}
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return "", &SequenceError{Position: pos + 1, Char: r, Reason: "invalid UTF-8 byte in the sequence"}
			}
		}
		if stop != 0 {
			return "", &SequenceError{Position: stop, Char: '*', Reason: "'*' (stop) inside the sequence; only one '*' at the very end is allowed"}
		}
		if r == '*' {
			stop = pos + 1
			continue
		}
		u := unicode.ToUpper(r)
		if err := checkChar(u, r, pos+1, opts); err != nil {
			return "", err
		}
		b.WriteRune(u)
		pos++
	}
	if stop == 1 {
		return "", &SequenceError{Position: 1, Char: '*', Reason: "'*' (stop) with no residues before it"}
	}
	min, max := opts.limits()
	switch {
	case pos == 0:
		return "", &SequenceError{Reason: "the sequence is empty"}
	case pos < min:
		return "", &SequenceError{Reason: fmt.Sprintf("the sequence has %d residues; the minimum is %d", pos, min)}
	case max > 0 && pos > max:
		return "", &SequenceError{Reason: fmt.Sprintf("the sequence has %d residues; the maximum is %d", pos, max)}
	}
	return b.String(), nil
}

// checkChar checks one (upper-cased) character u, written as r, at residue
// position pos.
func checkChar(u, r rune, pos int, opts Options) error {
	bad := func(format string, args ...any) error {
		return &SequenceError{Position: pos, Char: r, Reason: fmt.Sprintf(format, args...)}
	}
	if u < utf8.RuneSelf && strings.IndexByte(standard, byte(u)) >= 0 {
		return nil
	}
	switch u {
	case 'U', 'O':
		if opts.RejectRare {
			name := map[rune]string{'U': "selenocysteine", 'O': "pyrrolysine"}[u]
			return bad("'%c' (%s) is not supported by this model", r, name)
		}
		return nil
	case 'X':
		if !opts.AllowUnknown {
			return bad("'%c' (unknown residue) is not accepted by this model", r)
		}
		return nil
	case 'B', 'Z', 'J':
		if !opts.AllowAmbiguous {
			meaning := map[rune]string{'B': "D or N", 'Z': "E or Q", 'J': "I or L"}[u]
			return bad("'%c' is an ambiguous code (%s), not an amino acid; give the actual residue", r, meaning)
		}
		return nil
	case '-', '.':
		return bad("'%c' is an alignment gap; paste the ungapped sequence", r)
	case '>':
		return bad("'>' starts a FASTA header; paste only the sequence, or upload the FASTA file")
	}
	switch {
	case r >= '0' && r <= '9':
		return bad("'%c' is a digit, not an amino acid; remove the numbering", r)
	case r < utf8.RuneSelf && unicode.IsPrint(r):
		return bad("'%c' is not an amino acid", r)
	case unicode.IsPrint(r):
		return bad("%q (%U) is not an amino acid", r, r)
	default:
		return bad("character %U is not an amino acid", r)
	}
}
