package protein

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Record is one FASTA record. The reader does not validate Sequence: a
// Chai-1 ">ligand|name=X" record carries a SMILES string, a Boltz
// ">C|ccd" record a CCD code; the caller decides what each body is and
// validates it (Normalize for proteins).
type Record struct {
	// Header is the header line without the leading '>' and without
	// surrounding whitespace, e.g. "protein|name=X" or "sp|P0CG48|UBC_HUMAN Polyubiquitin-C".
	Header string
	// ID is the first word of the header; Description the rest, trimmed.
	ID          string
	Description string
	// Sequence is the body: all body lines joined with every whitespace
	// character removed and case kept as written (SMILES bodies are case
	// sensitive).
	Sequence string
	// Line is the 1-based line number of the header line.
	Line int
}

// FASTAError is a FASTA syntax error at a 1-based line number.
type FASTAError struct {
	Line   int
	Reason string
}

// Error returns "line N: reason".
func (e *FASTAError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// MaxFASTALine bounds the length of one line, in bytes, that ReadFASTA
// accepts (1 MiB); longer lines are an error rather than unbounded memory.
const MaxFASTALine = 1 << 20

// ReadFASTA reads all records of a FASTA file. It accepts a leading UTF-8
// byte order mark, LF or CRLF line endings, blank lines anywhere, comment
// lines starting with ';', and bodies over any number of lines. It fails
// with a *FASTAError naming the line on sequence data before the first
// header, an empty header ('>' alone), a record with no sequence, and a
// file with no records; errors from r are returned as they are.
func ReadFASTA(r io.Reader) ([]Record, error) {
	br := bufio.NewReader(r)
	var (
		records []Record
		cur     *Record
		body    strings.Builder
		lineNo  int
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		cur.Sequence = body.String()
		body.Reset()
		if cur.Sequence == "" {
			return &FASTAError{Line: cur.Line, Reason: fmt.Sprintf("record %q has no sequence", cur.ID)}
		}
		records = append(records, *cur)
		cur = nil
		return nil
	}
	for {
		line, err := readLine(br)
		if err == io.EOF && line == "" {
			break
		}
		lineNo++
		if err != nil && err != io.EOF {
			if errors.Is(err, errLongLine) {
				return nil, &FASTAError{Line: lineNo, Reason: fmt.Sprintf("line longer than %d bytes", MaxFASTALine)}
			}
			return nil, err
		}
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
		case trimmed[0] == ';':
		case trimmed[0] == '>':
			if err := finish(); err != nil {
				return nil, err
			}
			header := strings.TrimSpace(trimmed[1:])
			if header == "" {
				return nil, &FASTAError{Line: lineNo, Reason: "empty header: '>' must be followed by an identifier"}
			}
			id, desc := header, ""
			if i := strings.IndexFunc(header, unicode.IsSpace); i >= 0 {
				id, desc = header[:i], strings.TrimSpace(header[i:])
			}
			cur = &Record{Header: header, ID: id, Description: desc, Line: lineNo}
		default:
			if cur == nil {
				return nil, &FASTAError{Line: lineNo, Reason: "sequence data before the first '>' header"}
			}
			for _, r := range trimmed {
				if !unicode.IsSpace(r) {
					body.WriteRune(r)
				}
			}
		}
		if err == io.EOF {
			break
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, &FASTAError{Line: max(lineNo, 1), Reason: "no FASTA records: expected a '>' header line"}
	}
	return records, nil
}

var errLongLine = errors.New("line too long")

// readLine returns the next line without its line ending ("\n" or "\r\n").
// At the end of input it returns the last partial line with io.EOF, or ""
// and io.EOF when nothing is left.
func readLine(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		chunk, isPrefix, err := br.ReadLine()
		sb.Write(chunk)
		if sb.Len() > MaxFASTALine {
			return "", errLongLine
		}
		if err != nil {
			if err == io.EOF && sb.Len() > 0 {
				return sb.String(), nil
			}
			return sb.String(), err
		}
		if !isPrefix {
			return sb.String(), nil
		}
	}
}
