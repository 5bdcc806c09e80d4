package boltz2

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"omtx/gpu"
)

// MSA modes recorded in a job's details.
const (
	MSAUser           = "user"            // the alignment the user gave
	MSAServer         = "server"          // computed once with --use_msa_server
	MSASingleSequence = "single_sequence" // msa: empty; no alignment
)

// msaChoice is the MSA a protein's inputs will use.
type msaChoice struct {
	Mode string
	Path string // "empty" in single-sequence mode
	Note string
}

// quoteYAML writes s as a single-quoted YAML scalar: a quote is doubled,
// nothing else is special. It refuses control characters, which a
// single-quoted scalar would fold or reject.
func quoteYAML(s string) (string, error) {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("boltz2: cannot write %q into YAML: control character", s)
		}
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}

// inputYAML is the Boltz input for one protein (chain A) and one ligand
// (chain B) with its affinity, in the schema of boltz's examples. smiles
// is empty for a protein-only input (MSA computation); msa is a path,
// "empty", or "" to omit the key (boltz then needs --use_msa_server).
func inputYAML(seq, msa, smiles string) (string, error) {
	var b strings.Builder
	b.WriteString("version: 1\nsequences:\n  - protein:\n      id: A\n")
	b.WriteString("      sequence: " + seq + "\n")
	switch msa {
	case "":
	case "empty":
		b.WriteString("      msa: empty\n")
	default:
		q, err := quoteYAML(msa)
		if err != nil {
			return "", err
		}
		b.WriteString("      msa: " + q + "\n")
	}
	if smiles != "" {
		q, err := quoteYAML(smiles)
		if err != nil {
			return "", err
		}
		b.WriteString("  - ligand:\n      id: B\n      smiles: " + q + "\n")
		b.WriteString("properties:\n  - affinity:\n      binder: B\n")
	}
	return b.String(), nil
}

// msaFor returns the MSA to use for seq: the user's alignment, one
// computed once per sequence with the MSA server, or single-sequence mode.
// Prepared alignments live in the cache (or, without one, in scratch).
func (m *Model) msaFor(ctx context.Context, t gpu.Task, seq string, p Params, scratch string) (msaChoice, error) {
	get := func(kind, key string, build func(dir string) error) (string, error) {
		if t.Cache != nil {
			return t.Cache.Get(kind, key, build)
		}
		dir, err := os.MkdirTemp(scratch, kind+"-")
		if err != nil {
			return "", err
		}
		return dir, build(dir)
	}
	if a3m := strings.TrimSpace(p.MSA); a3m != "" {
		dir, err := get("boltz2-msa-user", gpu.Key(seq, a3m), func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "msa.a3m"), []byte(a3m+"\n"), 0o644)
		})
		if err != nil {
			return msaChoice{}, fmt.Errorf("boltz2: store the user MSA: %w", err)
		}
		return msaChoice{Mode: MSAUser, Path: filepath.Join(dir, "msa.a3m"), Note: "MSA provided by the user"}, nil
	}
	if !m.cfg.MSAServer {
		return msaChoice{Mode: MSASingleSequence, Path: "empty",
			Note: "single-sequence mode (msa: empty): the MSA server is disabled on this hub and no MSA was given; expect lower accuracy"}, nil
	}
	dir, err := get("boltz2-msa-server", gpu.Key(m.cfg.MSAServerURL, seq), func(dir string) error {
		return m.computeMSA(ctx, t, seq, dir)
	})
	if err != nil {
		return msaChoice{}, err
	}
	path, err := findMSA(dir)
	if err != nil {
		return msaChoice{}, err
	}
	return msaChoice{Mode: MSAServer, Path: path, Note: "MSA computed once for this protein with the MSA server and reused for every ligand"}, nil
}

// computeMSA runs boltz once on a protein-only input with --use_msa_server
// and keeps the alignment it writes (boltz_results_<stem>/msa/<stem>_0.csv)
// as dir/msa.csv. The structure boltz also predicts is discarded, so the
// run uses as few steps as the flags allow.
func (m *Model) computeMSA(ctx context.Context, t gpu.Task, seq, dir string) error {
	work := filepath.Join(dir, "work")
	in := filepath.Join(work, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		return err
	}
	y, err := inputYAML(seq, "", "")
	if err != nil {
		return err
	}
	const stem = "msa"
	if err := os.WriteFile(filepath.Join(in, stem+".yaml"), []byte(y), 0o644); err != nil {
		return err
	}
	out := filepath.Join(work, "out")
	args := []string{"predict", filepath.Join(in, stem+".yaml"), "--out_dir", out,
		"--accelerator", m.cfg.Accelerator, "--devices", strconv.Itoa(m.cfg.Devices),
		"--output_format", "mmcif", "--override", "--use_msa_server",
		"--recycling_steps", "1", "--sampling_steps", "10", "--diffusion_samples", "1"}
	if m.cfg.MSAServerURL != "" {
		args = append(args, "--msa_server_url", m.cfg.MSAServerURL)
	}
	if m.cfg.CacheDir != "" {
		args = append(args, "--cache", m.cfg.CacheDir)
	}
	logf(t.Log, "boltz2: computing the MSA of a %d-residue protein once (cached for every ligand)", len(seq))
	if err := t.Exec.Run(ctx, gpu.Cmd{Path: m.cfg.Program, Args: args, Dir: work}); err != nil {
		return fmt.Errorf("boltz2: MSA run: %w", err)
	}
	src, err := findMSA(filepath.Join(out, "boltz_results_"+stem))
	if err != nil {
		return err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	name := "msa" + filepath.Ext(src)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		return err
	}
	return os.RemoveAll(work)
}

// findMSA returns the alignment under dir: the .csv boltz writes in msa/
// (key,sequence rows), else an .a3m, preferring the shallowest and then
// the first by name.
func findMSA(dir string) (string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "work" && path != dir {
			return fs.SkipDir
		}
		ext := filepath.Ext(path)
		if !d.IsDir() && (ext == ".csv" || ext == ".a3m") {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("boltz2: look for the MSA: %w", err)
	}
	if len(found) == 0 {
		return "", errors.New("boltz2: the MSA run wrote no .csv or .a3m alignment")
	}
	sort.Slice(found, func(i, j int) bool {
		ci, cj := strings.HasSuffix(found[i], ".csv"), strings.HasSuffix(found[j], ".csv")
		if ci != cj {
			return ci
		}
		di, dj := strings.Count(found[i], string(filepath.Separator)), strings.Count(found[j], string(filepath.Separator))
		if di != dj {
			return di < dj
		}
		return found[i] < found[j]
	})
	return found[0], nil
}
