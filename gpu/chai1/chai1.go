// Package chai1 is the adapter for Chai-1 (`chai-lab fold FASTA OUTDIR`,
// chai_lab 0.6): the structure of a protein with one small molecule, ranked
// by Chai's aggregate score.
//
// Each task writes a FASTA with entity headers (">protein|name=A", then
// ">ligand|name=LIG" whose body is the SMILES), runs chai-lab into an empty
// output folder, and parses pred.model_idx_<i>.cif and
// scores.model_idx_<i>.npz. The index i is the diffusion sample, NOT a
// rank: samples are ranked here by aggregate_score (= 0.2 ptm + 0.8 iptm -
// 100 x has_inter_chain_clashes), higher is better.
package chai1

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"omtx/chem"
	"omtx/chem/protein"
	"omtx/gpu"
	"omtx/jobs"
	"omtx/results"
)

// Version is the chai_lab release the adapter follows.
const Version = "0.6"

// Limits. Chai-1 crops at 2,048 tokens: one per residue and one per ligand
// heavy atom.
const (
	MaxTokens          = 2048
	DefaultMinResidues = 10
	DefaultMaxResidues = 2000
)

// Config is how this host runs chai-lab.
type Config struct {
	// Program is the chai-lab executable: a path, or a name looked up on
	// PATH. Default "chai-lab".
	Program string
	// Device is --device (e.g. "cuda:0"); empty leaves chai-lab's default.
	Device string
	// MSAServer passes --use-msa-server. When false proteins run in
	// single-sequence mode, which the job's details say.
	MSAServer bool
	// MaxResidues bounds the protein length; default DefaultMaxResidues.
	MaxResidues int
}

// Model is the Chai-1 adapter.
type Model struct{ cfg Config }

var _ gpu.Model = (*Model)(nil)

// New returns the adapter with cfg's defaults filled in.
func New(cfg Config) *Model {
	if cfg.Program == "" {
		cfg.Program = "chai-lab"
	}
	if cfg.MaxResidues <= 0 {
		cfg.MaxResidues = DefaultMaxResidues
	}
	return &Model{cfg: cfg}
}

// Metric names, as the keys of chai-lab's score archives.
const (
	MetricAggregate = "aggregate_score"
	MetricPTM       = "ptm"
	MetricIPTM      = "iptm"
	MetricClashes   = "has_inter_chain_clashes"
)

// Info implements gpu.Model.
func (m *Model) Info() gpu.Info {
	f := func(v float64) *float64 { return &v }
	return gpu.Info{
		Name:    "chai1",
		Version: Version,
		Description: "Chai-1: co-folds the protein with each ligand. Ranked by aggregate_score " +
			"(0.2 pTM + 0.8 ipTM - 100 if chains clash): higher is better. No affinity prediction.",
		Resource: gpu.GPU,
		Ligands:  true,
		Fields: []gpu.Field{
			{Name: "protein_sequence", Label: "Protein sequence", Type: gpu.FieldSequence, Required: true, Top: true,
				Min: f(DefaultMinResidues), Max: f(float64(m.cfg.MaxResidues)),
				Help: fmt.Sprintf("One protein chain, %d to %d residues; residues plus ligand heavy atoms at most %d.", DefaultMinResidues, m.cfg.MaxResidues, MaxTokens)},
			{Name: "num_trunk_recycles", Label: "Trunk recycles", Type: gpu.FieldInteger, Default: 3, Min: f(1), Max: f(20),
				Help: "--num-trunk-recycles (chai-lab default 3)."},
			{Name: "num_diffn_timesteps", Label: "Diffusion timesteps", Type: gpu.FieldInteger, Default: 200, Min: f(10), Max: f(1000),
				Help: "--num-diffn-timesteps (chai-lab default 200)."},
			{Name: "num_diffn_samples", Label: "Structures per ligand", Type: gpu.FieldInteger, Default: 5, Min: f(1), Max: f(10),
				Help: "--num-diffn-samples: samples, ranked by aggregate score (chai-lab default 5)."},
			{Name: "seed", Label: "Seed", Type: gpu.FieldInteger, Min: f(0), Max: f(1<<31 - 1),
				Help: "--seed: for reproducible sampling; empty leaves it random."},
			{Name: "restraints", Label: "Restraints (CSV)", Type: gpu.FieldText,
				Help: "Optional chai-lab restraints file (--constraint-path): chain A is the protein, chain B the ligand."},
		},
		Metrics: []results.Metric{
			{Name: MetricAggregate, Label: "Aggregate score", Unit: "score", Better: results.HigherIsBetter, Primary: true,
				Description: "Chai-1's ranking score of the best sample: 0.2 pTM + 0.8 ipTM - 100 x inter-chain clashes. Higher is better."},
			{Name: MetricPTM, Label: "pTM", Unit: "score (0-1)", Better: results.HigherIsBetter},
			{Name: MetricIPTM, Label: "ipTM", Unit: "score (0-1)", Better: results.HigherIsBetter},
			{Name: MetricClashes, Label: "Inter-chain clashes", Unit: "0 or 1", Better: results.LowerIsBetter,
				Description: "1 when the best sample has clashing polymer chains. Lower is better."},
		},
	}
}

// Check implements gpu.Model: chai-lab must be installed here.
func (m *Model) Check(ctx context.Context) error {
	if _, err := exec.LookPath(m.cfg.Program); err != nil {
		return fmt.Errorf("chai1: program %q is not installed on this host (not found on PATH); Chai-1 runs on the GPU node pool", m.cfg.Program)
	}
	return nil
}

// Params are a job's Chai-1 settings, from Input.Parameters.
type Params struct {
	NumTrunkRecycles  int    `json:"num_trunk_recycles"`
	NumDiffnTimesteps int    `json:"num_diffn_timesteps"`
	NumDiffnSamples   int    `json:"num_diffn_samples"`
	Seed              *int   `json:"seed,omitempty"`
	Restraints        string `json:"restraints,omitempty"`
}

// restraintsHeader is the header line of chai-lab's restraints CSV.
const restraintsHeader = "chainA,res_idxA,chainB,res_idxB,connection_type,confidence,min_distance_angstrom,max_distance_angstrom,comment,restraint_id"

// ParseParams decodes and checks Input.Parameters, filling defaults.
func ParseParams(raw json.RawMessage) (Params, error) {
	p := Params{NumTrunkRecycles: 3, NumDiffnTimesteps: 200, NumDiffnSamples: 5}
	if err := gpu.DecodeParams("chai1", raw, &p); err != nil {
		return p, err
	}
	for _, c := range []struct {
		name     string
		v        int
		min, max int
	}{
		{"num_trunk_recycles", p.NumTrunkRecycles, 1, 20},
		{"num_diffn_timesteps", p.NumDiffnTimesteps, 10, 1000},
		{"num_diffn_samples", p.NumDiffnSamples, 1, 10},
	} {
		if c.v < c.min || c.v > c.max {
			return p, jobs.FieldError(c.name, "must be between %d and %d, got %d", c.min, c.max, c.v)
		}
	}
	if p.Seed != nil && (*p.Seed < 0 || *p.Seed > 1<<31-1) {
		return p, jobs.FieldError("seed", "must be between 0 and %d", 1<<31-1)
	}
	if strings.TrimSpace(p.Restraints) != "" {
		if err := checkRestraints(p.Restraints); err != nil {
			return p, jobs.FieldError("restraints", "%v", err)
		}
	}
	return p, nil
}

// checkRestraints checks a restraints CSV: chai-lab's header, ten columns,
// chains A (protein) or B (ligand), a known connection type and numbers
// where numbers go.
func checkRestraints(s string) error {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")), "\n")
	if strings.TrimSpace(lines[0]) != restraintsHeader {
		return fmt.Errorf("first line must be the header %s", restraintsHeader)
	}
	if len(lines) < 2 {
		return errors.New("no restraints after the header")
	}
	for i, line := range lines[1:] {
		cols := strings.Split(strings.TrimSpace(line), ",")
		if len(cols) != 10 {
			return fmt.Errorf("line %d: %d columns, want 10", i+2, len(cols))
		}
		for _, c := range []string{cols[0], cols[2]} {
			if c != "A" && c != "B" {
				return fmt.Errorf("line %d: chain %q; chain A is the protein and B the ligand", i+2, c)
			}
		}
		switch cols[4] {
		case "contact", "pocket", "covalent":
		default:
			return fmt.Errorf("line %d: connection_type %q is not contact, pocket or covalent", i+2, cols[4])
		}
		for _, n := range cols[5:8] {
			if _, err := strconv.ParseFloat(n, 64); err != nil {
				return fmt.Errorf("line %d: %q is not a number", i+2, n)
			}
		}
	}
	return nil
}

// Validate implements gpu.Model. Ligands are checked by ValidateLigand.
func (m *Model) Validate(in gpu.Input) error {
	_, _, err := m.prepare(in)
	return err
}

func (m *Model) prepare(in gpu.Input) (string, Params, error) {
	if strings.TrimSpace(in.ProteinSequence) == "" {
		return "", Params{}, jobs.FieldError("protein_sequence", "is required")
	}
	seq, err := protein.Normalize(in.ProteinSequence, protein.Options{MinLength: DefaultMinResidues, MaxLength: m.cfg.MaxResidues})
	if err != nil {
		return "", Params{}, jobs.FieldError("protein_sequence", "%v", err)
	}
	p, err := ParseParams(in.Parameters)
	return seq, p, err
}

// ValidateLigand checks one ligand: a valid SMILES. It returns its heavy
// atom count (tokens). Errors are *jobs.Error on the field "smiles".
func ValidateLigand(l gpu.Ligand) (int, error) {
	s := strings.TrimSpace(l.SMILES)
	if s == "" {
		return 0, jobs.FieldError("smiles", "is required")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return 0, jobs.FieldError("smiles", "contains whitespace or a non-ASCII character")
	}
	mol, err := chem.ParseSMILES(s)
	if err != nil {
		return 0, jobs.FieldError("smiles", "%v", err)
	}
	if mol.HeavyAtoms() == 0 {
		return 0, jobs.FieldError("smiles", "has no heavy atoms")
	}
	return mol.HeavyAtoms(), nil
}

// FASTA is the chai-lab input for one protein and one ligand.
func FASTA(seq, smiles string) string {
	return ">protein|name=A\n" + seq + "\n>ligand|name=LIG\n" + smiles + "\n"
}

// Args is the chai-lab command line for one task.
func (m *Model) Args(fasta, outDir, restraints string, p Params) []string {
	args := []string{"fold"}
	if m.cfg.MSAServer {
		args = append(args, "--use-msa-server")
	}
	if restraints != "" {
		args = append(args, "--constraint-path", restraints)
	}
	args = append(args,
		"--num-trunk-recycles", strconv.Itoa(p.NumTrunkRecycles),
		"--num-diffn-timesteps", strconv.Itoa(p.NumDiffnTimesteps),
		"--num-diffn-samples", strconv.Itoa(p.NumDiffnSamples))
	if p.Seed != nil {
		args = append(args, "--seed", strconv.Itoa(*p.Seed))
	}
	if m.cfg.Device != "" {
		args = append(args, "--device", m.cfg.Device)
	}
	return append(args, fasta, outDir)
}

// Run implements gpu.Model.
func (m *Model) Run(ctx context.Context, t gpu.Task) (*gpu.Output, error) {
	seq, p, err := m.prepare(t.Input)
	if err != nil {
		return nil, gpu.Permanent(err)
	}
	heavy, err := ValidateLigand(t.Ligand)
	if err != nil {
		return nil, gpu.Permanent(err)
	}
	if len(seq)+heavy > MaxTokens {
		return nil, gpu.Permanentf("chai1: %d residues + %d ligand atoms exceed Chai-1's %d tokens", len(seq), heavy, MaxTokens)
	}
	fasta := filepath.Join(t.Dir, "input.fasta")
	if err := os.WriteFile(fasta, []byte(FASTA(seq, strings.TrimSpace(t.Ligand.SMILES))), 0o644); err != nil {
		return nil, err
	}
	restraints := ""
	if strings.TrimSpace(p.Restraints) != "" {
		restraints = filepath.Join(t.Dir, "restraints.csv")
		if err := os.WriteFile(restraints, []byte(strings.TrimSpace(p.Restraints)+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	// chai-lab refuses a non-empty output folder: a fresh one per attempt.
	out := filepath.Join(t.Dir, "chai-out")
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	msa := "single-sequence mode: the MSA server is disabled on this hub; expect lower accuracy"
	if m.cfg.MSAServer {
		msa = "MSA from the MSA server (--use-msa-server), computed by chai-lab for this job"
	}
	logf(t.Log, "chai1: %s", msa)
	if err := t.Exec.Run(ctx, gpu.Cmd{Path: m.cfg.Program, Args: m.Args(fasta, out, restraints, p), Dir: t.Dir}); err != nil {
		return nil, fmt.Errorf("chai1: %w", err)
	}
	samples, err := ReadSamples(out)
	if err != nil {
		return nil, fmt.Errorf("chai1: %w", err)
	}
	if len(samples) != p.NumDiffnSamples {
		return nil, fmt.Errorf("chai1: chai-lab wrote %d samples, asked for %d", len(samples), p.NumDiffnSamples)
	}
	return output(t, samples, msa)
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// ValidateLigand checks a ligand for this model (see the package-level
// ValidateLigand), so that callers holding a gpu.Model can check ligands
// without knowing the adapter.
func (m *Model) ValidateLigand(l gpu.Ligand) error {
	_, err := ValidateLigand(l)
	return err
}
