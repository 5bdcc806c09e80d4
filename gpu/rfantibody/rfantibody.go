// Package rfantibody is the adapter for RFantibody's three-stage antibody
// and nanobody design pipeline against a protein target:
//
//	rfdiffusion -t target.pdb -f framework_HLT.pdb -o prefix -n N -l "H1:7,H2:6,H3:5-13" -h "T305,T456"
//	proteinmpnn -i dir -o dir -n seqs
//	rf2 -i dir -o dir -r 10
//
// The command lines are the ones recorded in the hub's domain notes
// (DOMAIN.md), the only source we have for them; RFantibody's own scripts
// take Hydra-style overrides (antibody.target_pdb=..., ppi.hotspot_res=[...]),
// so a GPU node image provides these three commands as wrappers.
//
// RF2 writes <tag>_best.pdb with trailing "SCORE key: value" lines (or
// Quiver .qv files with "QV_SCORE tag k=v|k=v"); designs are ranked by
// interaction_pae (A, lower is better). RFantibody designs proteins and
// takes no small molecules.
package rfantibody

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"omtx/gpu"
	"omtx/jobs"
	"omtx/results"
)

// Version names the RFantibody pipeline the adapter follows.
const Version = "RFantibody (rfdiffusion, proteinmpnn, rf2)"

// Config is how this host runs the three stages.
type Config struct {
	// RFdiffusion, ProteinMPNN and RF2 are the stage executables: paths,
	// or names looked up on PATH. Defaults "rfdiffusion", "proteinmpnn"
	// and "rf2".
	RFdiffusion string
	ProteinMPNN string
	RF2         string
}

// Model is the RFantibody adapter.
type Model struct{ cfg Config }

var _ gpu.Model = (*Model)(nil)

// New returns the adapter with cfg's defaults filled in.
func New(cfg Config) *Model {
	if cfg.RFdiffusion == "" {
		cfg.RFdiffusion = "rfdiffusion"
	}
	if cfg.ProteinMPNN == "" {
		cfg.ProteinMPNN = "proteinmpnn"
	}
	if cfg.RF2 == "" {
		cfg.RF2 = "rf2"
	}
	return &Model{cfg: cfg}
}

// Metric names, as RF2's SCORE keys, plus the count of designs passing the
// suggested filter.
const (
	MetricInteractionPAE   = "interaction_pae"
	MetricPAE              = "pae"
	MetricPredLDDT         = "pred_lddt"
	MetricTargetAlignedRMS = "target_aligned_antibody_rmsd"
	MetricFrameworkCDRRMS  = "framework_aligned_cdr_rmsd"
	MetricPassing          = "designs_passing_filter"
)

// The authors' suggested filter.
const (
	FilterMaxInteractionPAE = 10.0
	FilterMaxRMSD           = 2.0
)

// Info implements gpu.Model.
func (m *Model) Info() gpu.Info {
	f := func(v float64) *float64 { return &v }
	return gpu.Info{
		Name:    "rfantibody",
		Version: Version,
		Description: "RFantibody: designs antibody or nanobody CDR loops against a target (RFdiffusion), " +
			"their sequences (ProteinMPNN) and checks them by refolding (RF2). Ranked by interaction_pae (A): lower is better.",
		Resource: gpu.GPU,
		Ligands:  false,
		Fields: []gpu.Field{
			{Name: "target_pdb", Label: "Target PDB", Type: gpu.FieldText, Required: true,
				Help: "The target structure as PDB text, target chain named T (hotspots are T<residue number>)."},
			{Name: "framework_pdb", Label: "Framework (HLT PDB)", Type: gpu.FieldText, Required: true,
				Help: "Antibody framework in HLT format: chain H (and L for an antibody), CDRs marked by REMARK PDBinfo-LABEL lines."},
			{Name: "hotspots", Label: "Hotspots", Type: gpu.FieldString, Required: true,
				Help: "Target residues to bind, e.g. T305,T456."},
			{Name: "loops", Label: "CDR loop lengths", Type: gpu.FieldString, Default: "H1:7,H2:6,H3:5-13",
				Help: "Lengths or ranges per CDR to design, e.g. H1:7,H2:6,H3:5-13 (L1, L2, L3 for an antibody)."},
			{Name: "num_designs", Label: "Backbones", Type: gpu.FieldInteger, Default: 10, Min: f(1), Max: f(200),
				Help: "rfdiffusion -n: backbones to design."},
			{Name: "num_sequences", Label: "Sequences per backbone", Type: gpu.FieldInteger, Default: 2, Min: f(1), Max: f(10),
				Help: "proteinmpnn -n: sequences per backbone."},
			{Name: "recycles", Label: "RF2 recycles", Type: gpu.FieldInteger, Default: 10, Min: f(1), Max: f(20),
				Help: "rf2 -r: recycles when refolding each design."},
		},
		Metrics: []results.Metric{
			{Name: MetricInteractionPAE, Label: "Interaction pAE", Unit: "Angstrom", Better: results.LowerIsBetter, Primary: true,
				Description: "RF2's predicted aligned error between antibody and target for the best design. Lower is better; the authors suggest < 10."},
			{Name: MetricPAE, Label: "pAE", Unit: "Angstrom", Better: results.LowerIsBetter},
			{Name: MetricPredLDDT, Label: "Predicted lDDT", Unit: "score (0-1)", Better: results.HigherIsBetter},
			{Name: MetricTargetAlignedRMS, Label: "Target-aligned antibody RMSD", Unit: "Angstrom", Better: results.LowerIsBetter,
				Description: "RMSD between the RF2 prediction and the design, aligned on the target. Lower is better; the authors suggest < 2."},
			{Name: MetricFrameworkCDRRMS, Label: "Framework-aligned CDR RMSD", Unit: "Angstrom", Better: results.LowerIsBetter},
			{Name: MetricPassing, Label: "Designs passing filter", Unit: "designs", Better: results.HigherIsBetter,
				Description: "Designs with interaction_pae < 10 and target_aligned_antibody_rmsd < 2 A."},
		},
	}
}

// Check implements gpu.Model: all three stage programs must be installed.
func (m *Model) Check(ctx context.Context) error {
	var missing []string
	for _, p := range []string{m.cfg.RFdiffusion, m.cfg.ProteinMPNN, m.cfg.RF2} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, strconv.Quote(p))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("rfantibody: program %s not installed on this host (not found on PATH); RFantibody runs on the GPU node pool", strings.Join(missing, ", "))
	}
	return nil
}

// Params are a job's RFantibody inputs, from Input.Parameters.
type Params struct {
	TargetPDB    string `json:"target_pdb"`
	FrameworkPDB string `json:"framework_pdb"`
	Hotspots     string `json:"hotspots"`
	Loops        string `json:"loops"`
	NumDesigns   int    `json:"num_designs"`
	NumSequences int    `json:"num_sequences"`
	Recycles     int    `json:"recycles"`
}

var (
	hotspotRE = regexp.MustCompile(`^([A-Z])(-?\d+)$`)
	loopRE    = regexp.MustCompile(`^([HL][123]):(\d+)(?:-(\d+))?$`)
)

// ParseParams decodes and checks Input.Parameters: both PDBs, hotspots on
// the target, loops labelled in the framework. Errors are *jobs.Error
// naming the field.
func ParseParams(raw json.RawMessage) (Params, error) {
	p := Params{Loops: "H1:7,H2:6,H3:5-13", NumDesigns: 10, NumSequences: 2, Recycles: 10}
	if err := gpu.DecodeParams("rfantibody", raw, &p); err != nil {
		return p, err
	}
	for _, c := range []struct {
		name        string
		v, min, max int
	}{
		{"num_designs", p.NumDesigns, 1, 200},
		{"num_sequences", p.NumSequences, 1, 10},
		{"recycles", p.Recycles, 1, 20},
	} {
		if c.v < c.min || c.v > c.max {
			return p, jobs.FieldError(c.name, "must be between %d and %d, got %d", c.min, c.max, c.v)
		}
	}
	if strings.TrimSpace(p.TargetPDB) == "" {
		return p, jobs.FieldError("target_pdb", "is required")
	}
	target, err := readPDB(p.TargetPDB)
	if err != nil {
		return p, jobs.FieldError("target_pdb", "%v", err)
	}
	if target.chains['T'] == 0 {
		return p, jobs.FieldError("target_pdb", "has no chain T (chains %s); name the target chain T", target.chainList())
	}
	if strings.TrimSpace(p.FrameworkPDB) == "" {
		return p, jobs.FieldError("framework_pdb", "is required")
	}
	fw, err := readPDB(p.FrameworkPDB)
	if err != nil {
		return p, jobs.FieldError("framework_pdb", "%v", err)
	}
	if err := checkFramework(fw); err != nil {
		return p, jobs.FieldError("framework_pdb", "%v", err)
	}
	p.Hotspots = strings.ReplaceAll(strings.TrimSpace(p.Hotspots), " ", "")
	if p.Hotspots == "" {
		return p, jobs.FieldError("hotspots", "is required, e.g. T305,T456")
	}
	for _, h := range strings.Split(p.Hotspots, ",") {
		mm := hotspotRE.FindStringSubmatch(h)
		if mm == nil || mm[1] != "T" {
			return p, jobs.FieldError("hotspots", "%q is not a target residue like T305", h)
		}
		num, _ := strconv.Atoi(mm[2])
		if !target.residues[residue{'T', num}] {
			return p, jobs.FieldError("hotspots", "%s is not a residue of the target", h)
		}
	}
	p.Loops = strings.ReplaceAll(strings.TrimSpace(p.Loops), " ", "")
	seen := map[string]bool{}
	for _, l := range strings.Split(p.Loops, ",") {
		mm := loopRE.FindStringSubmatch(l)
		if mm == nil {
			return p, jobs.FieldError("loops", "%q is not CDR:length or CDR:min-max (e.g. H3:5-13)", l)
		}
		lo, _ := strconv.Atoi(mm[2])
		hi := lo
		if mm[3] != "" {
			hi, _ = strconv.Atoi(mm[3])
		}
		if lo < 1 || hi < lo || hi > 30 {
			return p, jobs.FieldError("loops", "%s: lengths must be 1 to 30, min no more than max", l)
		}
		if seen[mm[1]] {
			return p, jobs.FieldError("loops", "%s given twice", mm[1])
		}
		seen[mm[1]] = true
		if len(fw.labels[mm[1]]) == 0 {
			return p, jobs.FieldError("loops", "%s is not labelled in the framework (REMARK PDBinfo-LABEL)", mm[1])
		}
	}
	return p, nil
}

// checkFramework checks an HLT framework: chains H, L and T only, an H
// chain, CDRs H1-H3 (and L1-L3 when there is an L chain) labelled at
// residues of the file.
func checkFramework(fw *pdbInfo) error {
	for c := range fw.chains {
		if c != 'H' && c != 'L' && c != 'T' {
			return fmt.Errorf("is not in HLT format: chain %c (chains %s); antibody chains must be H and L, target T", c, fw.chainList())
		}
	}
	if fw.chains['H'] == 0 {
		return errors.New("has no heavy chain H")
	}
	want := []string{"H1", "H2", "H3"}
	if fw.chains['L'] > 0 {
		want = append(want, "L1", "L2", "L3")
	}
	for _, l := range want {
		if len(fw.labels[l]) == 0 {
			return fmt.Errorf("has no REMARK PDBinfo-LABEL lines for %s", l)
		}
	}
	for l, idx := range fw.labels {
		for _, i := range idx {
			if i > len(fw.order) {
				return fmt.Errorf("PDBinfo-LABEL %s at residue %d, but the file has %d residues", l, i, len(fw.order))
			}
			if want := l[0]; len(l) == 2 && fw.order[i-1].chain != want {
				return fmt.Errorf("PDBinfo-LABEL %s at residue %d, which is in chain %c", l, i, fw.order[i-1].chain)
			}
		}
	}
	return nil
}

// Validate implements gpu.Model.
func (m *Model) Validate(in gpu.Input) error {
	_, err := ParseParams(in.Parameters)
	return err
}

// Run implements gpu.Model: the three stages, then RF2's scores.
func (m *Model) Run(ctx context.Context, t gpu.Task) (*gpu.Output, error) {
	p, err := ParseParams(t.Input.Parameters)
	if err != nil {
		return nil, gpu.Permanent(err)
	}
	dir := func(name string) (string, error) {
		d := filepath.Join(t.Dir, name)
		if err := os.RemoveAll(d); err != nil {
			return "", err
		}
		return d, os.MkdirAll(d, 0o755)
	}
	in, err := dir("inputs")
	if err != nil {
		return nil, err
	}
	target, framework := filepath.Join(in, "target.pdb"), filepath.Join(in, "framework_HLT.pdb")
	if err := os.WriteFile(target, []byte(p.TargetPDB), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(framework, []byte(p.FrameworkPDB), 0o644); err != nil {
		return nil, err
	}
	backbones, err := dir("rfdiffusion")
	if err != nil {
		return nil, err
	}
	seqs, err := dir("proteinmpnn")
	if err != nil {
		return nil, err
	}
	refold, err := dir("rf2")
	if err != nil {
		return nil, err
	}
	stages := []struct {
		name string
		cmd  gpu.Cmd
		out  string
		want int
	}{
		{"rfdiffusion", gpu.Cmd{Path: m.cfg.RFdiffusion, Dir: t.Dir, Args: []string{"-t", target, "-f", framework,
			"-o", filepath.Join(backbones, "design"), "-n", strconv.Itoa(p.NumDesigns), "-l", p.Loops, "-h", p.Hotspots}},
			backbones, p.NumDesigns},
		{"proteinmpnn", gpu.Cmd{Path: m.cfg.ProteinMPNN, Dir: t.Dir, Args: []string{"-i", backbones, "-o", seqs, "-n", strconv.Itoa(p.NumSequences)}},
			seqs, p.NumDesigns * p.NumSequences},
		{"rf2", gpu.Cmd{Path: m.cfg.RF2, Dir: t.Dir, Args: []string{"-i", seqs, "-o", refold, "-r", strconv.Itoa(p.Recycles)}},
			refold, 1},
	}
	for _, s := range stages {
		logf(t.Log, "rfantibody: stage %s", s.name)
		if err := t.Exec.Run(ctx, s.cmd); err != nil {
			return nil, fmt.Errorf("rfantibody %s: %w", s.name, err)
		}
		n, err := countOutputs(s.out)
		if err != nil {
			return nil, err
		}
		if n < s.want {
			return nil, fmt.Errorf("rfantibody %s wrote %d designs, expected %d", s.name, n, s.want)
		}
	}
	designs, err := ReadDesigns(refold)
	if err != nil {
		return nil, fmt.Errorf("rfantibody: %w", err)
	}
	return output(t, p, designs)
}

// countOutputs counts the PDB files and Quiver entries in dir.
func countOutputs(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".pdb":
			n++
		case ".qv":
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return 0, err
			}
			n += bytes.Count(b, []byte("QV_TAG"))
		}
	}
	return n, nil
}

// ReadDesigns reads RF2's outputs in dir (<tag>_best.pdb files with SCORE
// lines, or .qv files with QV_SCORE lines), best first by interaction_pae
// (lower is better).
func ReadDesigns(dir string) ([]Design, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Design
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), "_best.pdb"):
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			scores, err := ParseScores(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Name(), err)
			}
			out = append(out, Design{Tag: strings.TrimSuffix(e.Name(), "_best.pdb"), Scores: scores, File: e.Name()})
		case strings.HasSuffix(e.Name(), ".qv"):
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			qv, err := ParseQuiver(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Name(), err)
			}
			for _, q := range qv {
				out = append(out, Design{Tag: q.Tag, Scores: q.Scores, File: e.Name()})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("RF2 wrote no scored designs in %s", dir)
	}
	for i, d := range out {
		for _, k := range []string{MetricInteractionPAE, MetricPAE, MetricPredLDDT, MetricTargetAlignedRMS, MetricFrameworkCDRRMS} {
			if _, ok := d.Scores[k]; !ok {
				return nil, fmt.Errorf("design %s has no %s score", d.Tag, k)
			}
		}
		out[i].PassesFilter = d.Scores[MetricInteractionPAE] < FilterMaxInteractionPAE && d.Scores[MetricTargetAlignedRMS] < FilterMaxRMSD
	}
	sort.SliceStable(out, func(a, b int) bool {
		if x, y := out[a].Scores[MetricInteractionPAE], out[b].Scores[MetricInteractionPAE]; x != y {
			return x < y
		}
		return out[a].Tag < out[b].Tag
	})
	for i := range out {
		out[i].Rank = i
	}
	return out, nil
}

// Details is what an RFantibody job adds to its results.json.
type Details struct {
	Pipeline string   `json:"pipeline"`
	Ranking  string   `json:"ranking"`
	Filter   string   `json:"filter"`
	Passing  int      `json:"passing"`
	Designs  []Design `json:"designs"`
	Hotspots string   `json:"hotspots"`
	Loops    string   `json:"loops"`
}

func output(t gpu.Task, p Params, designs []Design) (*gpu.Output, error) {
	best := designs[0]
	d := &Details{
		Pipeline: "rfdiffusion -> proteinmpnn -> rf2",
		Ranking:  "by interaction_pae (Angstrom), lower is better",
		Filter:   "interaction_pae < 10 and target_aligned_antibody_rmsd < 2 Angstrom (the RFantibody authors' suggestion)",
		Designs:  designs, Hotspots: p.Hotspots, Loops: p.Loops,
	}
	for _, x := range designs {
		if x.PassesFilter {
			d.Passing++
		}
	}
	files := map[string]string{}
	refold := filepath.Join(t.Dir, "rf2")
	seen := map[string]bool{}
	for i, x := range designs {
		if seen[x.File] {
			continue
		}
		seen[x.File] = true
		src := filepath.Join(refold, x.File)
		if i == 0 && strings.HasSuffix(x.File, ".pdb") {
			files["structure.pdb"] = src
		}
		files[x.File] = src
	}
	m := map[string]float64{MetricPassing: float64(d.Passing)}
	for _, k := range []string{MetricInteractionPAE, MetricPAE, MetricPredLDDT, MetricTargetAlignedRMS, MetricFrameworkCDRRMS} {
		m[k] = best.Scores[k]
	}
	return &gpu.Output{Metrics: m, Details: d, Files: files}, nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
