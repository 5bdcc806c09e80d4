package boltz2

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"omtx/chem"
	"omtx/chem/protein"
	"omtx/gpu"
	"omtx/jobs"
)

// Params are a job's Boltz-2 settings, from Input.Parameters. Each maps to
// one `boltz predict` flag.
type Params struct {
	RecyclingSteps           int  `json:"recycling_steps"`
	SamplingSteps            int  `json:"sampling_steps"`
	DiffusionSamples         int  `json:"diffusion_samples"`
	SamplingStepsAffinity    int  `json:"sampling_steps_affinity"`
	DiffusionSamplesAffinity int  `json:"diffusion_samples_affinity"`
	AffinityMWCorrection     bool `json:"affinity_mw_correction"`
	UsePotentials            bool `json:"use_potentials"`
	WriteFullPAE             bool `json:"write_full_pae"`
	// Seed is --seed; nil leaves boltz unseeded.
	Seed *int `json:"seed,omitempty"`
	// MSA is a user-provided alignment of the protein in A3M format (the
	// query first); empty means compute one (or single-sequence mode).
	MSA string `json:"msa,omitempty"`
}

// intLimit is one integer parameter's default and bounds.
type intLimit struct {
	name, label, help string
	def, min, max     int
	get               func(*Params) *int
}

var intLimits = []intLimit{
	{"recycling_steps", "Recycling steps", "--recycling_steps: trunk recycles (boltz default 3).", 3, 1, 10,
		func(p *Params) *int { return &p.RecyclingSteps }},
	{"sampling_steps", "Sampling steps", "--sampling_steps: diffusion steps per structure (boltz default 200).", 200, 10, 1000,
		func(p *Params) *int { return &p.SamplingSteps }},
	{"diffusion_samples", "Structures per ligand", "--diffusion_samples: structures sampled, ranked by confidence (boltz default 1).", 1, 1, 10,
		func(p *Params) *int { return &p.DiffusionSamples }},
	{"sampling_steps_affinity", "Affinity sampling steps", "--sampling_steps_affinity (boltz default 200).", 200, 10, 1000,
		func(p *Params) *int { return &p.SamplingStepsAffinity }},
	{"diffusion_samples_affinity", "Affinity samples", "--diffusion_samples_affinity (boltz default 5).", 5, 1, 10,
		func(p *Params) *int { return &p.DiffusionSamplesAffinity }},
}

func fptr(v float64) *float64 { return &v }

func (m *Model) fields() []gpu.Field {
	fs := []gpu.Field{
		{Name: "protein_sequence", Label: "Protein sequence", Type: gpu.FieldSequence, Required: true, Top: true,
			Min: fptr(DefaultMinResidues), Max: fptr(float64(m.cfg.MaxResidues)),
			Help: fmt.Sprintf("One protein chain, %d to %d residues (one GPU).", DefaultMinResidues, m.cfg.MaxResidues)},
	}
	for _, l := range intLimits {
		fs = append(fs, gpu.Field{Name: l.name, Label: l.label, Type: gpu.FieldInteger, Default: l.def,
			Min: fptr(float64(l.min)), Max: fptr(float64(l.max)), Help: l.help})
	}
	fs = append(fs,
		gpu.Field{Name: "affinity_mw_correction", Label: "Molecular-weight correction", Type: gpu.FieldBoolean, Default: false,
			Help: "--affinity_mw_correction: correct the affinity for molecular weight."},
		gpu.Field{Name: "use_potentials", Label: "Steering potentials", Type: gpu.FieldBoolean, Default: false,
			Help: "--use_potentials: physical steering potentials at inference (slower, fewer clashes)."},
		gpu.Field{Name: "write_full_pae", Label: "Write full PAE", Type: gpu.FieldBoolean, Default: true,
			Help: "--write_full_pae: keep the full PAE matrix (pae_*.npz) for viewers."},
		gpu.Field{Name: "seed", Label: "Seed", Type: gpu.FieldInteger, Min: fptr(0), Max: fptr(1<<31 - 1),
			Help: "--seed: for reproducible sampling; empty leaves it random."},
		gpu.Field{Name: "msa", Label: "MSA (A3M)", Type: gpu.FieldText,
			Help: "Optional alignment of the protein in A3M format, query first. Without it the MSA is computed once per protein on the MSA server when this hub enables it, otherwise the protein runs in single-sequence mode."},
	)
	return fs
}

// ParseParams decodes and checks Input.Parameters, filling defaults.
// Errors are *jobs.Error naming the field.
func ParseParams(raw json.RawMessage) (Params, error) {
	p := Params{WriteFullPAE: true}
	for _, l := range intLimits {
		*l.get(&p) = l.def
	}
	if err := gpu.DecodeParams("boltz2", raw, &p); err != nil {
		return p, err
	}
	for _, l := range intLimits {
		if v := *l.get(&p); v < l.min || v > l.max {
			return p, jobs.FieldError(l.name, "must be between %d and %d, got %d", l.min, l.max, v)
		}
	}
	if p.Seed != nil && (*p.Seed < 0 || *p.Seed > 1<<31-1) {
		return p, jobs.FieldError("seed", "must be between 0 and %d", 1<<31-1)
	}
	return p, nil
}

// normalizeProtein applies the model's sequence policy: the 20 standard
// residues plus U and O (Boltz maps unknown codes to UNK; we reject X and
// ambiguity codes rather than let it guess).
func (m *Model) normalizeProtein(seq string) (string, error) {
	s, err := protein.Normalize(seq, protein.Options{MinLength: DefaultMinResidues, MaxLength: m.cfg.MaxResidues})
	if err != nil {
		return "", jobs.FieldError("protein_sequence", "%v", err)
	}
	return s, nil
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
	seq, err := m.normalizeProtein(in.ProteinSequence)
	if err != nil {
		return "", Params{}, err
	}
	p, err := ParseParams(in.Parameters)
	if err != nil {
		return "", Params{}, err
	}
	if strings.TrimSpace(p.MSA) != "" {
		if err := checkA3M(p.MSA, seq); err != nil {
			return "", Params{}, jobs.FieldError("msa", "%v", err)
		}
	}
	return seq, p, nil
}

// checkA3M checks that an A3M alignment's first sequence is the query:
// once gaps ('-') and insertions (lower case) are removed it must equal
// the protein sequence.
func checkA3M(a3m, seq string) error {
	var first strings.Builder
	headers := 0
	for _, line := range strings.Split(a3m, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, ">") {
			headers++
			if headers > 1 {
				break
			}
			continue
		}
		if headers == 0 {
			return errors.New("not A3M: sequence before the first '>' header")
		}
		first.WriteString(line)
	}
	if headers == 0 {
		return errors.New("not A3M: no '>' header")
	}
	var q strings.Builder
	for _, r := range first.String() {
		switch {
		case r == '-' || r == '.' || r >= 'a' && r <= 'z':
		case r >= 'A' && r <= 'Z':
			q.WriteRune(r)
		default:
			return fmt.Errorf("not A3M: character %q in the query row", r)
		}
	}
	if q.String() != seq {
		return errors.New("the first sequence of the MSA is not the protein sequence")
	}
	return nil
}

// LigandCheck is the result of ValidateLigand.
type LigandCheck struct {
	HeavyAtoms int
	// Warning is set when the ligand is larger than the affinity module
	// was trained on (more than WarnAffinityHeavyAtoms heavy atoms).
	Warning string
}

// ValidateLigand checks one ligand for Boltz-2 affinity: a valid SMILES
// of at most MaxAffinityHeavyAtoms heavy atoms. Errors are *jobs.Error on
// the field "smiles".
func ValidateLigand(l gpu.Ligand) (LigandCheck, error) {
	s := strings.TrimSpace(l.SMILES)
	if s == "" {
		return LigandCheck{}, jobs.FieldError("smiles", "is required")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return LigandCheck{}, jobs.FieldError("smiles", "contains whitespace or a non-ASCII character")
	}
	mol, err := chem.ParseSMILES(s)
	if err != nil {
		return LigandCheck{}, jobs.FieldError("smiles", "%v", err)
	}
	c := LigandCheck{HeavyAtoms: mol.HeavyAtoms()}
	switch {
	case c.HeavyAtoms == 0:
		return c, jobs.FieldError("smiles", "has no heavy atoms")
	case c.HeavyAtoms > MaxAffinityHeavyAtoms:
		return c, jobs.FieldError("smiles", "has %d heavy atoms; Boltz-2 predicts affinity for at most %d", c.HeavyAtoms, MaxAffinityHeavyAtoms)
	case c.HeavyAtoms > WarnAffinityHeavyAtoms:
		c.Warning = fmt.Sprintf("ligand has %d heavy atoms, above the %d the Boltz-2 affinity module is most reliable for", c.HeavyAtoms, WarnAffinityHeavyAtoms)
	}
	return c, nil
}

// ValidateLigand checks a ligand for this model (see the package-level
// ValidateLigand; its size warning is not an error), so that callers
// holding a gpu.Model can check ligands without knowing the adapter.
func (m *Model) ValidateLigand(l gpu.Ligand) error {
	_, err := ValidateLigand(l)
	return err
}
