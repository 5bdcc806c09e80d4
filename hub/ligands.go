package hub

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"omtx/api"
	"omtx/chem"
	"omtx/chem/ligands"
	"omtx/gpu"
	"omtx/jobs"
)

// ligandValidator is implemented by model adapters with rules of their own
// for a ligand (Boltz-2's size limit, for one).
type ligandValidator interface {
	ValidateLigand(gpu.Ligand) error
}

// CodeModelRejected is the problem code of a ligand that parses but that
// the chosen model cannot take.
const CodeModelRejected = "rejected_by_model"

// checked is one ligand that passed every check.
type checked struct {
	index     int // 0-based position in the input (all rows, valid or not)
	row, line int // 1-based; line only for files
	name      string
	smiles    string // as given, trimmed
	canonical string // written by chem from the parsed molecule
	props     chem.Properties
}

// cleanName applies the library readers' name policy (see package
// chem/ligands): trimmed, control characters made spaces, invalid UTF-8
// replaced, at most ligands.DefaultMaxNameLength runes, and an empty name
// replaced by "ligand_<row>".
func cleanName(row int, raw string) string {
	name := strings.TrimSpace(raw)
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "\uFFFD")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		name = strings.TrimSpace(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, name))
	}
	if name == "" {
		return fmt.Sprintf("ligand_%d", row)
	}
	if utf8.RuneCountInString(name) > ligands.DefaultMaxNameLength {
		name = strings.TrimSpace(string([]rune(name)[:ligands.DefaultMaxNameLength]))
	}
	return name
}

// checkLigand checks one ligand given as name and SMILES: the SMILES is
// parsed by chem and, when v is not nil, checked by the model. row is the
// 1-based row for messages and generated names.
func checkLigand(v ligandValidator, index, row int, name, smiles string) (checked, *ligands.Problem) {
	name = cleanName(row, name)
	smiles = strings.TrimSpace(smiles)
	bad := func(code, format string, args ...any) (checked, *ligands.Problem) {
		return checked{}, &ligands.Problem{Row: row, Field: "smiles", Name: name, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case smiles == "":
		return bad(ligands.CodeMissingSMILES, "empty SMILES")
	case len(smiles) > ligands.DefaultMaxSMILESLength:
		return bad(ligands.CodeSMILESTooLong, "the SMILES is %d characters long; the limit is %d", len(smiles), ligands.DefaultMaxSMILESLength)
	}
	mol, err := chem.ParseSMILES(smiles)
	if err != nil {
		return bad(ligands.CodeInvalidSMILES, "%v", err)
	}
	if v != nil {
		if err := v.ValidateLigand(gpu.Ligand{Name: name, SMILES: smiles}); err != nil {
			return bad(CodeModelRejected, "%s", problemMessage(err))
		}
	}
	return checked{index: index, row: row, name: name, smiles: smiles, canonical: mol.SMILES(), props: mol.Properties()}, nil
}

// problemMessage is an error's message without its field prefix.
func problemMessage(err error) string {
	var je *jobs.Error
	if errors.As(err, &je) {
		return je.Message
	}
	return err.Error()
}

// validatorOf returns the model's ligand check, if it has one.
func validatorOf(m gpu.Model) ligandValidator {
	if m == nil {
		return nil
	}
	v, _ := m.(ligandValidator)
	return v
}

// checkList checks a list of ligands in input order.
func checkList(v ligandValidator, in []api.Ligand) (valid []checked, problems []ligands.Problem) {
	for i, l := range in {
		c, p := checkLigand(v, i, i+1, l.Name, l.SMILES)
		if p != nil {
			problems = append(problems, *p)
			continue
		}
		valid = append(valid, c)
	}
	return valid, problems
}

// readLibrary reads an uploaded library with every row reported: the
// reader's valid entries (checked again by the model when v is set) and
// the problems of the others, in file order. maxLigands bounds the rows
// read (0: the reader's default); more answers a field error on ligands.
func readLibrary(r io.Reader, filename string, v ligandValidator, maxLigands int) ([]checked, []ligands.Problem, error) {
	if r == nil {
		return nil, nil, jobs.FieldError("file", "is required")
	}
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(4096)
	if kind := archiveKind(head); kind != "" {
		return nil, nil, jobs.FieldError("file", "is a %s: upload the library itself (CSV, TSV, .smi or SDF), not an archive or a compressed file", kind)
	}
	format := ligands.DetectFormat(filename, head)
	opts := ligands.Options{DropInvalid: true, MaxLigands: maxLigands}
	lib, err := ligands.Read(br, format, opts)
	if err != nil {
		var le *ligands.Error
		if errors.As(err, &le) {
			for _, p := range le.Problems {
				if p.Code == ligands.CodeTooMany && maxLigands > 0 {
					return nil, nil, jobs.FieldError("ligands", "the library has more than %d ligands; your tier's limit is %d per batch", maxLigands, maxLigands)
				}
			}
			return nil, nil, le
		}
		return nil, nil, fmt.Errorf("read library: %w", err)
	}
	problems := slices.Clone(lib.Dropped)
	var valid []checked
	for _, e := range lib.Entries {
		c := checked{index: e.Row - 1, row: e.Row, line: e.Line, name: e.Name, smiles: e.SMILES,
			canonical: e.Molecule.SMILES(),
			props: chem.Properties{Formula: e.Formula, MolecularWeight: e.MolecularWeight, HeavyAtoms: e.HeavyAtoms,
				HBondDonors: e.HBondDonors, HBondAcceptors: e.HBondAcceptors}}
		if v != nil {
			if err := v.ValidateLigand(gpu.Ligand{Name: e.Name, SMILES: e.SMILES}); err != nil {
				problems = append(problems, ligands.Problem{Row: e.Row, Line: e.Line, Field: "smiles", Name: e.Name,
					Code: CodeModelRejected, Message: problemMessage(err)})
				continue
			}
		}
		valid = append(valid, c)
	}
	slices.SortStableFunc(problems, func(a, b ligands.Problem) int { return a.Row - b.Row })
	return valid, problems, nil
}

// archives are the leading bytes of archives and compressed files, which
// are refused as libraries rather than read as rows of garbage (and never
// expanded).
var archives = []struct{ magic, kind string }{
	{"PK\x03\x04", "ZIP archive"}, {"PK\x05\x06", "ZIP archive"}, {"PK\x07\x08", "ZIP archive"},
	{"\x1f\x8b", "gzip file"}, {"\xfd7zXZ\x00", "xz file"},
	{"7z\xbc\xaf\x27\x1c", "7-Zip archive"}, {"\x28\xb5\x2f\xfd", "Zstandard file"},
	{"Rar!\x1a\x07", "RAR archive"},
}

// archiveKind names the archive or compression format head starts with,
// or "".
func archiveKind(head []byte) string {
	for _, a := range archives {
		if bytes.HasPrefix(head, []byte(a.magic)) {
			return a.kind
		}
	}
	if len(head) > 3 && bytes.HasPrefix(head, []byte("BZh")) && '1' <= head[3] && head[3] <= '9' {
		return "bzip2 file"
	}
	return ""
}

// verdicts lists every ligand in input order: the valid ones with their
// properties, the others with their problem.
func verdicts(valid []checked, problems []ligands.Problem) *api.ValidateLigandsResponse {
	out := &api.ValidateLigandsResponse{Results: make([]api.LigandCheck, 0, len(valid)+len(problems))}
	for _, c := range valid {
		out.Results = append(out.Results, goodCheck(c))
	}
	for _, p := range problems {
		out.Results = append(out.Results, badCheck(p))
	}
	slices.SortStableFunc(out.Results, func(a, b api.LigandCheck) int { return a.Index - b.Index })
	out.Valid, out.Invalid = len(valid), len(problems)
	return out
}

func goodCheck(c checked) api.LigandCheck {
	mw, heavy, donors, acceptors := c.props.MolecularWeight, c.props.HeavyAtoms, c.props.HBondDonors, c.props.HBondAcceptors
	lc := api.LigandCheck{Index: c.index, Name: c.name, SMILES: c.smiles, Valid: true, Formula: c.props.Formula,
		MolecularWeight: &mw, HeavyAtoms: &heavy, HBondDonors: &donors, HBondAcceptors: &acceptors}
	if c.line > 0 {
		lc.Row, lc.Line = c.row, c.line
	}
	return lc
}

func badCheck(p ligands.Problem) api.LigandCheck {
	field := p.Field
	if field == "" {
		field = "smiles"
	}
	return api.LigandCheck{Index: max(p.Row-1, 0), Row: p.Row, Line: p.Line, Name: p.Name, Valid: false,
		Error: &api.ErrorDetail{Code: jobs.ErrInvalid, Message: p.String(), Field: field}}
}

// ValidateLigands checks a list of ligands, as a submission would (with
// the named model's own rules when model_name is given), and reports every
// one in input order.
func (s *Service) ValidateLigands(ctx context.Context, userID string, req api.ValidateLigandsRequest) (*api.ValidateLigandsResponse, error) {
	v, err := s.optionalValidator(req.ModelName)
	if err != nil {
		return nil, err
	}
	if len(req.Ligands) == 0 {
		return nil, jobs.FieldError("ligands", "at least one ligand is required")
	}
	valid, problems := checkList(v, req.Ligands)
	out := verdicts(valid, problems)
	// The SMILES of an invalid ligand is the caller's, as given.
	for i := range out.Results {
		if !out.Results[i].Valid {
			out.Results[i].SMILES = req.Ligands[out.Results[i].Index].SMILES
			out.Results[i].Row = 0
		}
	}
	return out, nil
}

// ValidateLibrary checks an uploaded library file (CSV, TSV, .smi or SDF,
// by its name or content) and reports every row with its row and line.
func (s *Service) ValidateLibrary(ctx context.Context, userID string, file io.Reader, filename, modelName string) (*api.ValidateLigandsResponse, error) {
	v, err := s.optionalValidator(modelName)
	if err != nil {
		return nil, err
	}
	valid, problems, err := readLibrary(file, filename, v, 0)
	if err != nil {
		return nil, err
	}
	return verdicts(valid, problems), nil
}

// optionalValidator is the named model's ligand check; no name, no check.
func (s *Service) optionalValidator(name string) (ligandValidator, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, nil
	}
	m, ok := s.models.Get(name)
	if !ok {
		return nil, jobs.FieldError("model_name", "unknown model %q (one of %s)", name, strings.Join(s.modelNames(), ", "))
	}
	return validatorOf(m), nil
}
