package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"omtx/api"
	"omtx/chem/structure"
	"omtx/gpu"
	"omtx/jobs"
)

// MaxReceptorBytes is the largest receptor structure a submission may
// upload.
const MaxReceptorBytes = 10 << 20

// maxReceptorName bounds an uploaded receptor's file name.
const maxReceptorName = 200

// readReceptor reads an uploaded receptor for a model that takes one: the
// first model of a PDB or mmCIF file, which must hold protein atoms. It
// returns the receptor's description for the job's input and the PDB
// text to store; every problem is an error on the field receptor that
// names the file and, where the reader knows it, the line.
func readReceptor(info gpu.Info, up api.ReceptorUpload) (*gpu.Receptor, []byte, error) {
	if !takesStructure(info) {
		return nil, nil, jobs.FieldError("receptor", "%s takes no uploaded receptor", info.Name)
	}
	name := path.Base(strings.ReplaceAll(strings.TrimSpace(up.Name), `\`, "/"))
	if name == "." || name == "/" || name == "" {
		name = "receptor"
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxReceptorName {
		return nil, nil, jobs.FieldError("receptor", "the file name must be valid UTF-8 of at most %d characters", maxReceptorName)
	}
	if strings.TrimSpace(up.Content) == "" {
		return nil, nil, jobs.FieldError("receptor", "%s is empty", name)
	}
	if len(up.Content) > MaxReceptorBytes {
		return nil, nil, jobs.FieldError("receptor", "%s is %.1f MB; the limit is %d MB", name,
			float64(len(up.Content))/(1<<20), MaxReceptorBytes>>20)
	}
	var format structure.Format
	switch strings.ToLower(strings.TrimSpace(up.Format)) {
	case "":
		f, ok := structure.DetectFormat(name, []byte(up.Content))
		if !ok {
			return nil, nil, jobs.FieldError("receptor", "%s is neither PDB nor mmCIF (no ATOM records, no data_ block)", name)
		}
		format = f
	case "pdb":
		format = structure.PDB
	case "cif", "mmcif":
		format = structure.MMCIF
	default:
		return nil, nil, jobs.FieldError("receptor", "format %q is not pdb or cif", up.Format)
	}
	st, err := structure.Read([]byte(up.Content), format, structure.Limits{MaxBytes: MaxReceptorBytes})
	if err != nil {
		return nil, nil, jobs.FieldError("receptor", "%s: %v", name, err)
	}
	sum := st.Summarize()
	if sum.ProteinAtoms == 0 {
		return nil, nil, jobs.FieldError("receptor", "%s holds no protein atoms (ATOM records of amino acids)", name)
	}
	var buf bytes.Buffer
	if err := st.WritePDB(&buf); err != nil {
		return nil, nil, jobs.FieldError("receptor", "%s: %v", name, err)
	}
	digest := sha256.Sum256(buf.Bytes())
	return &gpu.Receptor{Name: name, Format: string(format), SHA256: hex.EncodeToString(digest[:]),
		Atoms: sum.Atoms, Residues: sum.Residues, Chains: sum.Chains}, buf.Bytes(), nil
}

// takesStructure reports whether a model has an uploaded structure field.
func takesStructure(info gpu.Info) bool {
	for _, f := range info.Fields {
		if f.Type == gpu.FieldStructure {
			return true
		}
	}
	return false
}

// storeReceptor writes a plan's uploaded receptor where runners read it,
// before the jobs that need it are recorded. Identical uploads share one
// object; one left by a submission that failed afterwards is harmless.
func (s *Service) storeReceptor(ctx context.Context, p *plan) error {
	if p.input.Receptor == nil {
		return nil
	}
	if err := s.results.Put(ctx, gpu.ReceptorKey(p.input.Receptor.SHA256), bytes.NewReader(p.receptorPDB), "chemical/x-pdb"); err != nil {
		return fmt.Errorf("store receptor %s: %w", p.input.Receptor.Name, err)
	}
	return nil
}
