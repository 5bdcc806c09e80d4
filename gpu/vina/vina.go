// Package vina is the AutoDock Vina adapter: it docks one ligand (a
// SMILES) into a bundled target's binding site on the CPU.
//
// The receptor's PDB is cleaned (protein chains, first alternate location,
// metal ions; no waters or crystal ligands), converted once by Open Babel
// (obabel -xr --partialcharge gasteiger, adding hydrogens at pH 7.4 when
// the file has none) and cached under a key of its content and the recipe.
//
// Ligand preparation (ligprep.py, embedded, run with Config.Python): the
// largest fragment of the SMILES, basic amines protonated, hydrogens
// added, a pool of RDKit ETKDGv3 conformers (fixed seed = the job's seed)
// relaxed with MMFF. Vina keeps rings and the bonds Open Babel's PDBQT
// writer makes rigid (amide-like N-C bonds: amides, amidines,
// aminopyrimidines) as they are given, and Open Babel's own --gen3d
// geometry puts imatinib's NH-pyrimidine bond in the wrong planar state
// (best pose 12 Å from the crystal). So Config.Conformers conformers are
// docked: the first of the pool, the other planar state of each such
// bond that is not a carbonyl amide (built by a 180 degree turn and
// relaxed), then more pool conformers. Each is converted by Open Babel with
// its atom order kept (-xp) and all are docked by one Vina process
// (--batch: the grid maps are computed once). The run with the best top
// pose wins; its poses are written by ligprep.py on the RDKit molecule of
// the SMILES, so bond orders and charges are the SMILES' and hydrogens
// are rebuilt on the docked heavy atoms.
package vina

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"omtx/chem"
	"omtx/gpu"
	"omtx/jobs"
	"omtx/results"
)

//go:embed ligprep.py
var ligprepScript []byte

// Version is the adapter's version; it changes when results would.
const Version = "1.0.0"

// Config configures the adapter. Zero fields take the defaults.
type Config struct {
	// Vina, OpenBabel and Python are the programs run ("vina", "obabel",
	// "/usr/bin/python3"); Python must import RDKit.
	Vina, OpenBabel, Python string
	// Targets holds the bundled targets' files, rooted at the project's
	// testdata folder (vina/1iep_receptorH.pdb, targets/1m17.pdb, ...).
	Targets fs.FS
	// MaxExhaustiveness caps the exhaustiveness parameter (default 32).
	MaxExhaustiveness int
	// MaxBoxVolume caps a box override, in Å³ (default 64000, a 40 Å cube).
	MaxBoxVolume float64
	// MaxPoses caps num_poses (default 20).
	MaxPoses int
	// CPUs is Vina's --cpu (default: all cores).
	CPUs int
	// Conformers is the number of RDKit conformers docked per ligand
	// (default DefaultConformers).
	Conformers int
	// NeutralLigands docks ligands as written. By default basic aliphatic
	// amines are protonated first (their pH 7.4 state, as imatinib's
	// piperazine in 1IEP): Vina ignores charges, but the added N-H makes
	// the nitrogen a hydrogen-bond donor instead of an acceptor.
	NeutralLigands bool
}

// DefaultConformers is the number of ligand conformers docked by default.
const DefaultConformers = 4

// Model is the Vina adapter; it implements gpu.Model.
type Model struct {
	cfg Config

	mu       sync.Mutex
	versions Versions
}

// Versions are the programs' versions, read by Check.
type Versions struct {
	Vina      string `json:"vina,omitempty"`
	OpenBabel string `json:"openbabel,omitempty"`
	RDKit     string `json:"rdkit,omitempty"`
}

var _ gpu.Model = (*Model)(nil)

// New returns the adapter. It checks that cfg.Targets holds every bundled
// target; it does not look for the programs (see Check).
func New(cfg Config) (*Model, error) {
	if cfg.Vina == "" {
		cfg.Vina = "vina"
	}
	if cfg.OpenBabel == "" {
		cfg.OpenBabel = "obabel"
	}
	if cfg.Python == "" {
		cfg.Python = "/usr/bin/python3"
	}
	if cfg.MaxExhaustiveness <= 0 {
		cfg.MaxExhaustiveness = 32
	}
	if cfg.MaxBoxVolume <= 0 {
		cfg.MaxBoxVolume = 64000
	}
	if cfg.MaxPoses <= 0 {
		cfg.MaxPoses = 20
	}
	if cfg.CPUs <= 0 {
		cfg.CPUs = runtime.NumCPU()
	}
	if cfg.Conformers <= 0 {
		cfg.Conformers = DefaultConformers
	}
	if cfg.Targets == nil {
		return nil, errors.New("vina: Config.Targets is required")
	}
	if err := checkTargets(cfg.Targets); err != nil {
		return nil, fmt.Errorf("vina: %w", err)
	}
	return &Model{cfg: cfg}, nil
}

// Target returns the bundled target with id (case-insensitive).
func (m *Model) Target(id string) (Target, bool) { return findTarget(id) }

// Versions returns the versions the last successful Check read.
func (m *Model) Versions() Versions {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.versions
}

func ptr(v float64) *float64 { return &v }

// Info implements gpu.Model.
func (m *Model) Info() gpu.Info {
	ids := make([]string, 0, 3)
	for _, t := range Targets() {
		ids = append(ids, t.ID)
	}
	return gpu.Info{
		Name:    "vina",
		Version: Version,
		Description: "AutoDock Vina docking of a small molecule into a bundled target's binding site or an uploaded receptor " +
			"(RDKit conformers, Open Babel preparation); CPU only.",
		Resource: gpu.CPU,
		Ligands:  true,
		Fields: []gpu.Field{
			{Name: "target", Label: "Target", Type: gpu.FieldTarget, Enum: ids, Top: true,
				Help: "Bundled receptor with its binding-site box; or upload your own receptor below."},
			{Name: "receptor", Label: "Or your receptor (PDB or mmCIF)", Type: gpu.FieldStructure, Top: true,
				Help: "Protein chains, their first alternate locations and metal ions are kept; waters and " +
					"ligands go. Give the docking box below."},
			{Name: "box", Label: "Docking box (Å)", Type: gpu.FieldBox,
				Help: "Centre and size in the receptor's coordinates. Required with an uploaded receptor; " +
					"overrides a bundled target's box."},
			{Name: "exhaustiveness", Label: "Exhaustiveness", Type: gpu.FieldInteger, Default: DefaultExhaustiveness,
				Min: ptr(1), Max: ptr(float64(m.cfg.MaxExhaustiveness)),
				Help: "Search effort per conformer; time grows with it."},
			{Name: "num_poses", Label: "Poses", Type: gpu.FieldInteger, Default: DefaultNumPoses,
				Min: ptr(1), Max: ptr(float64(m.cfg.MaxPoses)), Help: "Most poses kept."},
			{Name: "seed", Label: "Random seed", Type: gpu.FieldInteger, Default: DefaultSeed,
				Min: ptr(0), Max: ptr(math.MaxInt32), Help: "The same seed gives the same poses."},
			{Name: "energy_range", Label: "Energy range (kcal/mol)", Type: gpu.FieldNumber, Default: DefaultEnergyRange,
				Min: ptr(0), Max: ptr(maxEnergyRange), Help: "Keep poses at most this far above the best."},
		},
		Metrics: []results.Metric{
			{Name: "affinity", Label: "Best affinity", Unit: "kcal/mol", Better: results.LowerIsBetter, Primary: true,
				Description: "Vina's estimated binding free energy of the best pose."},
			{Name: "ligand_efficiency", Label: "Ligand efficiency", Unit: "kcal/mol per heavy atom", Better: results.HigherIsBetter,
				Description: "-affinity / heavy atoms."},
			{Name: "molecular_weight", Label: "Molecular weight", Unit: "g/mol", Better: results.LowerIsBetter,
				Description: "Average molecular weight of the ligand as submitted."},
			{Name: "heavy_atoms", Label: "Heavy atoms", Unit: "", Better: results.LowerIsBetter,
				Description: "Non-hydrogen atoms of the ligand."},
		},
	}
}

// Check implements gpu.Model: it runs vina --version, obabel -V and
// imports RDKit, and keeps the versions for results.
func (m *Model) Check(ctx context.Context) error {
	var v Versions
	var missing []string
	out, err := exec.CommandContext(ctx, m.cfg.Vina, "--version").CombinedOutput()
	if err != nil {
		missing = append(missing, fmt.Sprintf("AutoDock Vina (%s --version: %v; Debian package autodock-vina)", m.cfg.Vina, err))
	} else {
		v.Vina = firstLine(out)
	}
	out, err = exec.CommandContext(ctx, m.cfg.OpenBabel, "-V").CombinedOutput()
	if err != nil {
		missing = append(missing, fmt.Sprintf("Open Babel (%s -V: %v; Debian package openbabel)", m.cfg.OpenBabel, err))
	} else {
		v.OpenBabel = firstLine(out)
	}
	out, err = exec.CommandContext(ctx, m.cfg.Python, "-c", "import rdkit; print(rdkit.__version__)").CombinedOutput()
	if err != nil {
		missing = append(missing, fmt.Sprintf("RDKit for %s (import rdkit: %v; Debian package python3-rdkit)", m.cfg.Python, err))
	} else {
		v.RDKit = firstLine(out)
	}
	if len(missing) > 0 {
		return fmt.Errorf("vina: missing %s", strings.Join(missing, "; "))
	}
	m.mu.Lock()
	m.versions = v
	m.mu.Unlock()
	return nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(s)
}

// Validate implements gpu.Model. A job docks into a bundled target or
// into an uploaded receptor, which needs a box (parameters.box).
func (m *Model) Validate(in gpu.Input) error {
	target := strings.TrimSpace(in.Target)
	switch {
	case target != "" && in.Receptor != nil:
		return jobs.FieldError("target", "give a bundled target or upload a receptor, not both")
	case target == "" && in.Receptor == nil:
		return jobs.FieldError("target", "is required (one of %s), unless you upload a receptor with a box", strings.Join(m.targetIDs(), ", "))
	case in.Receptor == nil:
		if _, ok := findTarget(target); !ok {
			return jobs.FieldError("target", "unknown target %q (one of %s)", in.Target, strings.Join(m.targetIDs(), ", "))
		}
	}
	p, err := m.parseParams(in.Parameters)
	if err != nil {
		return err
	}
	if in.Receptor != nil && p.Box == nil {
		return jobs.FieldError("box", "is required with an uploaded receptor: give center_x, center_y, center_z, size_x, size_y, size_z in Å, in the receptor's coordinates")
	}
	return nil
}

// ValidateLigand checks a ligand's SMILES with the project's parser.
func ValidateLigand(l gpu.Ligand) error {
	if strings.TrimSpace(l.SMILES) == "" {
		return jobs.FieldError("smiles", "is required")
	}
	if _, err := chem.ParseSMILES(l.SMILES); err != nil {
		return jobs.FieldError("smiles", "%v", err)
	}
	return nil
}

func (m *Model) targetIDs() []string {
	var ids []string
	for _, t := range Targets() {
		ids = append(ids, t.ID)
	}
	return ids
}

// ValidateLigand checks a ligand for this model (see the package-level
// ValidateLigand), so that callers holding a gpu.Model can check ligands
// without knowing the adapter.
func (m *Model) ValidateLigand(l gpu.Ligand) error { return ValidateLigand(l) }
