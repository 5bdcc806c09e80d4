package ligands

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// MaxLineLength bounds one line of a .smi or SDF file, in bytes (1 MiB).
const MaxLineLength = 1 << 20

// lineReader reads lines with their 1-based numbers, without line endings
// (LF or CRLF) and without a leading BOM.
type lineReader struct {
	br   *bufio.Reader
	line int
	sb   strings.Builder
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: skipBOM(r)}
}

// next returns the next line, or io.EOF at the end. A line longer than
// MaxLineLength is an *Error.
func (lr *lineReader) next() (string, error) {
	lr.sb.Reset()
	for {
		chunk, isPrefix, err := lr.br.ReadLine()
		if err != nil {
			if err == io.EOF {
				return "", io.EOF
			}
			return "", ioError(err)
		}
		lr.sb.Write(chunk)
		if lr.sb.Len() > MaxLineLength {
			return "", &Error{Problems: []Problem{{Line: lr.line + 1, Code: CodeSyntax,
				Message: fmt.Sprintf("line longer than %d bytes", MaxLineLength)}}}
		}
		if !isPrefix {
			lr.line++
			return lr.sb.String(), nil
		}
	}
}

// ReadSMI reads a .smi library: one molecule per line, the SMILES, then
// optionally whitespace and a name that runs to the end of the line (and
// may contain spaces). Blank lines and lines starting with '#' are skipped,
// and so is a first line whose first word is a SMILES column name
// ("SMILES Name", as RDKit writes). Lines without a name get "ligand_<row>".
func ReadSMI(r io.Reader, opts Options) (*Library, error) {
	lr := newLineReader(r)
	b := newBuilder(FormatSMI, opts)
	rowNo := 0
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		smiles, name := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			smiles, name = line[:i], line[i+1:]
		}
		if rowNo == 0 && findColumn([]string{smiles}, smilesColumns) == 0 {
			continue // header line
		}
		rowNo++
		if err := b.count(rowNo, lr.line); err != nil {
			return nil, err
		}
		b.add(rowNo, lr.line, name, smiles)
	}
	return b.finish()
}
