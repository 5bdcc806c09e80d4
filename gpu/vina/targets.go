package vina

import (
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
)

// Box is a Vina search box in Å, in the receptor's coordinates.
type Box struct {
	CenterX float64 `json:"center_x"`
	CenterY float64 `json:"center_y"`
	CenterZ float64 `json:"center_z"`
	SizeX   float64 `json:"size_x"`
	SizeY   float64 `json:"size_y"`
	SizeZ   float64 `json:"size_z"`
}

// Volume returns the box volume in Å³.
func (b Box) Volume() float64 { return b.SizeX * b.SizeY * b.SizeZ }

// args returns the box as Vina flags.
func (b Box) args() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	return []string{
		"--center_x", f(b.CenterX), "--center_y", f(b.CenterY), "--center_z", f(b.CenterZ),
		"--size_x", f(b.SizeX), "--size_y", f(b.SizeY), "--size_z", f(b.SizeZ),
	}
}

// ParseBox reads a box in the format of Vina's tutorial box files
// ("center_x = 15.190" lines, one per key; all six keys required).
func ParseBox(text string) (Box, error) {
	var b Box
	vals := map[string]*float64{
		"center_x": &b.CenterX, "center_y": &b.CenterY, "center_z": &b.CenterZ,
		"size_x": &b.SizeX, "size_y": &b.SizeY, "size_z": &b.SizeZ,
	}
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Box{}, fmt.Errorf("box line %d: want key = value", i+1)
		}
		k = strings.TrimSpace(k)
		p, known := vals[k]
		if !known {
			return Box{}, fmt.Errorf("box line %d: unknown key %q", i+1, k)
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return Box{}, fmt.Errorf("box line %d: %s is not a number", i+1, k)
		}
		*p = x
		seen[k] = true
	}
	for k := range vals {
		if !seen[k] {
			return Box{}, fmt.Errorf("box: %s is missing", k)
		}
	}
	return b, nil
}

// Target is a bundled receptor with its binding-site box.
type Target struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	PDBID       string `json:"pdb_id"`
	Description string `json:"description"`
	// Receptor is the PDB file in Config.Targets.
	Receptor string `json:"receptor"`
	// BoxFile is the box file in Config.Targets that Box was read from.
	BoxFile string `json:"box_file"`
	Box     Box    `json:"box"`
	// Ligand names the crystal ligand the box surrounds.
	Ligand string `json:"ligand"`
	// LigandSMILES is the crystal ligand's SMILES, for demonstrations and
	// tests.
	LigandSMILES string `json:"ligand_smiles"`
	// Chains lists the chains of Receptor kept as the receptor; empty
	// means all.
	Chains []string `json:"chains,omitempty"`
	// Redocking says how well this adapter reproduces the crystal ligand's
	// pose from its SMILES (measured; heavy-atom RMSD).
	Redocking string `json:"redocking"`
}

// Targets returns the bundled targets, with the boxes of their box files
// (the box files in Config.Targets are checked against these by New).
func Targets() []Target {
	return []Target{
		{
			ID: "ABL1", Name: "ABL1 kinase domain", PDBID: "1IEP",
			Description: "Abelson tyrosine kinase (c-Abl) bound to imatinib (Gleevec); AutoDock Vina's tutorial system.",
			Receptor:    "vina/1iep_receptorH.pdb", BoxFile: "vina/1iep_receptor.box.txt",
			Box:          Box{15.190, 53.903, 16.917, 20, 20, 20},
			Ligand:       "imatinib (STI)",
			LigandSMILES: "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1",
			Redocking: "imatinib: 0.6-0.9 Å from the crystal pose at -12.8 to -14.8 kcal/mol " +
				"(3 conformers, exhaustiveness 4, seeds 42, 7, 2024).",
		},
		{
			ID: "EGFR", Name: "EGFR kinase domain", PDBID: "1M17",
			Description: "Epidermal growth factor receptor tyrosine kinase bound to erlotinib (Tarceva).",
			Receptor:    "targets/1m17.pdb", BoxFile: "targets/1m17.box.txt",
			Box:          Box{22.014, 0.253, 52.794, 25.709, 20, 20},
			Ligand:       "erlotinib (AQ4)",
			LigandSMILES: "COCCOc1cc2ncnc(Nc3cccc(C#C)c3)c2cc1OCCOC",
			Redocking: "erlotinib is not reproduced: best pose -7.4 kcal/mol, 7.9 Å from the crystal pose " +
				"(default settings); the crystal pose itself scores -6.1 kcal/mol (-6.9 locally optimised), " +
				"so Vina's scoring, not the search, prefers another pose in this 2.6 Å structure.",
		},
		{
			ID: "MPRO", Name: "SARS-CoV-2 main protease", PDBID: "6LU7",
			Description: "SARS-CoV-2 main protease (3CLpro, Mpro), chain A; the crystal holds the covalent peptidomimetic inhibitor N3.",
			Receptor:    "targets/6lu7.pdb", BoxFile: "targets/6lu7.box.txt",
			Box:          Box{-10.729, 12.418, 68.816, 20, 29.956, 21.343},
			Ligand:       "N3 (covalent peptidomimetic, chain C)",
			LigandSMILES: "Cc1cc(C(=O)N[C@@H](C)C(=O)N[C@@H](C(C)C)C(=O)N[C@@H](CC(C)C)C(=O)N[C@H](C[C@@H]2CCNC2=O)/C=C/C(=O)OCc2ccccc2)no1",
			Chains:       []string{"A"},
			Redocking: "N3 docked non-covalently: best pose -8.3 kcal/mol, 2.5 Å from the crystal pose " +
				"(2 conformers, exhaustiveness 4); its four amide bonds stay rigid and it is slow (about 7 min on 2 cores).",
		},
	}
}

// findTarget returns the bundled target with id (case-insensitive).
func findTarget(id string) (Target, bool) {
	for _, t := range Targets() {
		if strings.EqualFold(t.ID, strings.TrimSpace(id)) {
			return t, true
		}
	}
	return Target{}, false
}

// checkTargets verifies that every bundled target's files are in fsys and
// that its box file agrees with the registry.
func checkTargets(fsys fs.FS) error {
	for _, t := range Targets() {
		if _, err := fs.Stat(fsys, t.Receptor); err != nil {
			return fmt.Errorf("target %s: receptor: %w", t.ID, err)
		}
		raw, err := fs.ReadFile(fsys, t.BoxFile)
		if err != nil {
			return fmt.Errorf("target %s: box: %w", t.ID, err)
		}
		b, err := ParseBox(string(raw))
		if err != nil {
			return fmt.Errorf("target %s: %s: %w", t.ID, t.BoxFile, err)
		}
		if b != t.Box {
			return fmt.Errorf("target %s: %s holds %+v, the registry %+v", t.ID, t.BoxFile, b, t.Box)
		}
	}
	return nil
}

// Trace is a bundled target's Cα trace, for a picture of the target with
// its box.
type Trace struct {
	// Segments are runs of consecutive Cα positions (Å): a new segment
	// starts at each chain and wherever neighbours are more than
	// maxCAStep apart (a gap in the model).
	Segments [][][3]float64
	Box      Box
}

// maxCAStep is the longest Cα-Cα distance of bonded residues, with slack
// (3.8 Å in trans peptides).
const maxCAStep = 4.2

// TargetTrace reads a bundled target's receptor as docking keeps it and
// returns its Cα trace with the target's box.
func (m *Model) TargetTrace(id string) (Trace, error) {
	tg, ok := findTarget(id)
	if !ok {
		return Trace{}, fmt.Errorf("unknown target %q", id)
	}
	raw, err := fs.ReadFile(m.cfg.Targets, tg.Receptor)
	if err != nil {
		return Trace{}, fmt.Errorf("target %s: %w", tg.ID, err)
	}
	_, atoms, _, err := cleanReceptor(raw, tg.Chains)
	if err != nil {
		return Trace{}, fmt.Errorf("target %s: %w", tg.ID, err)
	}
	tr := Trace{Box: tg.Box}
	var seg [][3]float64
	chain := ""
	for _, a := range atoms {
		if a.Het || a.Name != "CA" {
			continue
		}
		p := [3]float64{a.X, a.Y, a.Z}
		if len(seg) > 0 && (a.Chain != chain || dist(seg[len(seg)-1], p) > maxCAStep) {
			tr.Segments = append(tr.Segments, seg)
			seg = nil
		}
		seg, chain = append(seg, p), a.Chain
	}
	if len(seg) > 0 {
		tr.Segments = append(tr.Segments, seg)
	}
	if len(tr.Segments) == 0 {
		return Trace{}, fmt.Errorf("target %s: no Cα atoms", tg.ID)
	}
	return tr, nil
}

func dist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}
