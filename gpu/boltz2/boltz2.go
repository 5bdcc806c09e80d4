// Package boltz2 is the adapter for Boltz-2 (`boltz predict`, v2.2): the
// structure of a protein with one small molecule and the predicted binding
// affinity of that molecule.
//
// It writes one input YAML per ligand, computes each protein's MSA once (a
// user-provided alignment, or one run of `boltz predict --use_msa_server`
// on a protein-only input, kept in the gpu.Cache by sequence), runs ONE
// boltz process over a folder of inputs so the weights load once (RunMany),
// and parses the files boltz writes under
// OUT/boltz_results_<input>/predictions/<stem>/.
//
// Directions: affinity_pred_value is log10(IC50 in uM) and LOWER binds
// tighter (the primary metric); affinity_probability_binary is the
// probability (0-1) that the molecule binds and HIGHER is better;
// confidence scores are 0-1 and higher is better, except complex_pde and
// complex_ipde (Angstrom, lower is better).
package boltz2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"omtx/gpu"
	"omtx/results"
)

// Version is the Boltz release the adapter's command lines and file
// layouts follow.
const Version = "2.2"

// Limits of the affinity module on the ligand, in heavy atoms.
const (
	// MaxAffinityHeavyAtoms is the largest ligand Boltz-2 predicts an
	// affinity for.
	MaxAffinityHeavyAtoms = 128
	// WarnAffinityHeavyAtoms is the size above which the maintainers say
	// affinity predictions are less reliable (the training ligands were
	// mostly smaller).
	WarnAffinityHeavyAtoms = 56
)

// Default protein length limits for one GPU (about 1,300 residues fit in
// 24 GB, about 2,400 in 80 GB).
const (
	DefaultMinResidues = 10
	DefaultMaxResidues = 2000
)

// Config is how this host runs boltz.
type Config struct {
	// Program is the boltz executable: a path, or a name looked up on
	// PATH. Default "boltz".
	Program string
	// CacheDir is boltz's --cache folder (weights, CCD); empty leaves
	// boltz's default (~/.boltz).
	CacheDir string
	// Accelerator is --accelerator (gpu, cpu or tpu); default "gpu".
	Accelerator string
	// Devices is --devices; default 1.
	Devices int
	// NumWorkers is --num_workers; zero leaves boltz's default.
	NumWorkers int
	// MSAServer lets the adapter compute MSAs with --use_msa_server for
	// proteins the user gave no MSA for. When false such proteins run in
	// single-sequence mode (msa: empty), which the job's details say.
	MSAServer bool
	// MSAServerURL is --msa_server_url; empty leaves boltz's default
	// (the public ColabFold server).
	MSAServerURL string
	// MaxResidues bounds the protein length; default DefaultMaxResidues.
	MaxResidues int
	// PollInterval is how often RunMany looks for finished predictions
	// while boltz runs; default 2 s.
	PollInterval time.Duration
}

// Model is the Boltz-2 adapter. It implements gpu.BatchModel.
type Model struct {
	cfg Config
}

var _ gpu.BatchModel = (*Model)(nil)

// New returns the adapter with cfg's defaults filled in.
func New(cfg Config) *Model {
	if cfg.Program == "" {
		cfg.Program = "boltz"
	}
	if cfg.Accelerator == "" {
		cfg.Accelerator = "gpu"
	}
	if cfg.Devices <= 0 {
		cfg.Devices = 1
	}
	if cfg.MaxResidues <= 0 {
		cfg.MaxResidues = DefaultMaxResidues
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	return &Model{cfg: cfg}
}

// Metric names, exactly as boltz writes them, plus two derived ones.
const (
	MetricAffinity      = "affinity_pred_value"
	MetricProbability   = "affinity_probability_binary"
	MetricAffinity1     = "affinity_pred_value1"
	MetricProbability1  = "affinity_probability_binary1"
	MetricAffinity2     = "affinity_pred_value2"
	MetricProbability2  = "affinity_probability_binary2"
	MetricPIC50         = "pic50"
	MetricDeltaG        = "delta_g_kcal_mol"
	MetricConfidence    = "confidence_score"
	MetricPTM           = "ptm"
	MetricIPTM          = "iptm"
	MetricLigandIPTM    = "ligand_iptm"
	MetricProteinIPTM   = "protein_iptm"
	MetricComplexPLDDT  = "complex_plddt"
	MetricComplexIPLDDT = "complex_iplddt"
	MetricComplexPDE    = "complex_pde"
	MetricComplexIPDE   = "complex_ipde"
	// MetricProteinPTM is chains_ptm of the protein (chain 0) and
	// MetricPairIPTM pair_chains_iptm of the protein with the ligand
	// (chains 0 and 1): the input lists the protein first, the ligand
	// second.
	MetricProteinPTM          = "protein_chain_ptm"
	MetricPairIPTM            = "protein_ligand_iptm"
	unitLogIC50               = "log10(IC50/uM)"
	unitProbability           = "probability (0-1)"
	unitScore                 = "score (0-1)"
	kcalPerMolPerLog10At298K  = 1.364 // RT ln 10 at 298 K, kcal/mol
	pIC50OffsetFromLog10IC50u = 6     // pIC50 = 6 - log10(IC50 in uM)
)

// Info implements gpu.Model.
func (m *Model) Info() gpu.Info {
	return gpu.Info{
		Name:    "boltz2",
		Version: Version,
		Description: "Boltz-2: co-folds the protein with each ligand and predicts its binding affinity. " +
			"Ranked by affinity_pred_value, log10(IC50 in uM): lower binds tighter.",
		Resource: gpu.GPU,
		Ligands:  true,
		Fields:   m.fields(),
		Metrics: []results.Metric{
			{Name: MetricAffinity, Label: "Predicted affinity", Unit: unitLogIC50, Better: results.LowerIsBetter, Primary: true,
				Description: "log10 of the predicted IC50 in uM: -3 is 1 nM, 0 is 1 uM, 2 is 100 uM. Lower binds tighter. Use it to rank binders (lead optimisation)."},
			{Name: MetricProbability, Label: "Binding probability", Unit: unitProbability, Better: results.HigherIsBetter,
				Description: "Probability that the molecule binds at all; the Boltz maintainers advise it for hit discovery. Higher is better."},
			{Name: MetricPIC50, Label: "pIC50", Unit: "-log10(IC50/M)", Better: results.HigherIsBetter,
				Description: "Derived: 6 - affinity_pred_value. Higher binds tighter."},
			{Name: MetricDeltaG, Label: "Approx. binding free energy", Unit: "kcal/mol", Better: results.LowerIsBetter,
				Description: "Derived and approximate: -1.364 x pIC50 (RT ln 10 at 298 K, treating IC50 as Kd). More negative binds tighter."},
			{Name: MetricAffinity1, Label: "Affinity (ensemble model 1)", Unit: unitLogIC50, Better: results.LowerIsBetter,
				Description: "affinity_pred_value of the first affinity ensemble member. Lower binds tighter."},
			{Name: MetricProbability1, Label: "Binding probability (ensemble model 1)", Unit: unitProbability, Better: results.HigherIsBetter},
			{Name: MetricAffinity2, Label: "Affinity (ensemble model 2)", Unit: unitLogIC50, Better: results.LowerIsBetter,
				Description: "affinity_pred_value of the second affinity ensemble member. Lower binds tighter."},
			{Name: MetricProbability2, Label: "Binding probability (ensemble model 2)", Unit: unitProbability, Better: results.HigherIsBetter},
			{Name: MetricConfidence, Label: "Confidence", Unit: unitScore, Better: results.HigherIsBetter,
				Description: "Boltz's ranking confidence of the best structure: (4 x complex_plddt + iptm) / 5."},
			{Name: MetricPTM, Label: "pTM", Unit: unitScore, Better: results.HigherIsBetter},
			{Name: MetricIPTM, Label: "ipTM", Unit: unitScore, Better: results.HigherIsBetter},
			{Name: MetricLigandIPTM, Label: "Ligand ipTM", Unit: unitScore, Better: results.HigherIsBetter},
			{Name: MetricProteinIPTM, Label: "Protein ipTM", Unit: unitScore, Better: results.HigherIsBetter,
				Description: "ipTM between protein chains; 0 when there is one protein chain."},
			{Name: MetricProteinPTM, Label: "Protein chain pTM", Unit: unitScore, Better: results.HigherIsBetter,
				Description: "chains_ptm of the protein chain: confidence in the protein's own fold."},
			{Name: MetricPairIPTM, Label: "Protein-ligand ipTM", Unit: unitScore, Better: results.HigherIsBetter,
				Description: "pair_chains_iptm of the protein with the ligand: confidence in their interface."},
			{Name: MetricComplexPLDDT, Label: "Complex pLDDT", Unit: unitScore, Better: results.HigherIsBetter},
			{Name: MetricComplexIPLDDT, Label: "Interface pLDDT", Unit: unitScore, Better: results.HigherIsBetter},
			{Name: MetricComplexPDE, Label: "Complex PDE", Unit: "Angstrom", Better: results.LowerIsBetter,
				Description: "Mean predicted distance error. Lower is better."},
			{Name: MetricComplexIPDE, Label: "Interface PDE", Unit: "Angstrom", Better: results.LowerIsBetter,
				Description: "Mean predicted distance error at the interface. Lower is better."},
		},
	}
}

// Check implements gpu.Model: boltz must be installed here.
func (m *Model) Check(ctx context.Context) error {
	path, err := exec.LookPath(m.cfg.Program)
	if err != nil {
		return fmt.Errorf("boltz2: program %q is not installed on this host (not found on PATH); Boltz-2 runs on the GPU node pool", m.cfg.Program)
	}
	if m.cfg.CacheDir != "" {
		if _, err := os.Stat(m.cfg.CacheDir); err != nil {
			return fmt.Errorf("boltz2: weights cache %s is missing (boltz at %s would try to download them)", m.cfg.CacheDir, path)
		}
	}
	return nil
}

// Run implements gpu.Model: RunMany of one task.
func (m *Model) Run(ctx context.Context, t gpu.Task) (*gpu.Output, error) {
	var out *gpu.Output
	var taskErr error
	called := false
	err := m.RunMany(ctx, []gpu.Task{t}, func(_ int, o *gpu.Output, e error) {
		out, taskErr, called = o, e, true
	})
	if called {
		return out, taskErr
	}
	if err == nil {
		err = errors.New("boltz2: no result")
	}
	return nil, err
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
