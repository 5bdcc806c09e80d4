package vina

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"omtx/chem"
	"omtx/gpu"
)

// Details is what a Vina job adds to its results.json.
type Details struct {
	Target Target `json:"target"`
	// Receptor describes an uploaded receptor (Target.ID is then
	// UploadedTarget).
	Receptor   *gpu.Receptor `json:"uploaded_receptor,omitempty"`
	Box        Box           `json:"box"`
	Parameters Params        `json:"parameters"`
	Ligand     LigandInfo    `json:"ligand"`
	// Poses are the poses of the best conformer's run, best first.
	Poses []PoseSummary `json:"poses"`
	// Conformers are the per-conformer runs.
	Conformers []ConformerRun `json:"conformers"`
	// BestConformer is the conformer whose poses are in poses.sdf.
	BestConformer int      `json:"best_conformer"`
	ReceptorKey   string   `json:"receptor_key"`
	Versions      Versions `json:"versions"`
	CPUs          int      `json:"cpus"`
}

// LigandInfo describes the docked ligand.
type LigandInfo struct {
	Name   string `json:"name"`
	SMILES string `json:"smiles"`
	// DockedSMILES is the form docked (largest fragment, protonation).
	DockedSMILES    string  `json:"docked_smiles"`
	Formula         string  `json:"formula"`
	DockedFormula   string  `json:"docked_formula"`
	MolecularWeight float64 `json:"molecular_weight"`
	HeavyAtoms      int     `json:"heavy_atoms"`
	// ProtonatedAmines is the number of amines protonated for docking.
	ProtonatedAmines int `json:"protonated_amines"`
	// RigidTorsions is the number of amide-like bonds Vina keeps rigid.
	RigidTorsions int `json:"rigid_torsions"`
}

// PoseSummary is one pose in results.json.
type PoseSummary struct {
	Rank      int     `json:"rank"`
	Affinity  float64 `json:"affinity"`
	RMSDLB    float64 `json:"rmsd_lb"`
	RMSDUB    float64 `json:"rmsd_ub"`
	Conformer int     `json:"conformer"`
}

// ConformerRun is the outcome of docking one conformer.
type ConformerRun struct {
	Conformer int     `json:"conformer"`
	Affinity  float64 `json:"affinity"`
	Poses     int     `json:"poses"`
	// MMFFEnergy is the conformer's force-field energy (kcal/mol).
	MMFFEnergy float64 `json:"mmff_energy"`
	// FrozenStates gives, per torsion Vina keeps rigid (amide-like bonds),
	// c (cis, dihedral under 90 degrees) or t (trans).
	FrozenStates string `json:"frozen_states,omitempty"`
}

// prepInfo is what ligprep.py prepare writes.
type prepInfo struct {
	Error      string `json:"error"`
	SMILES     string `json:"smiles"`
	Formula    string `json:"formula"`
	Charge     int    `json:"charge"`
	Conformers int    `json:"conformers"`
	Embedded   int    `json:"embedded"`
	Frozen     int    `json:"frozen_torsions"`
	Flipped    int    `json:"flipped_torsions"`
	Protonated int    `json:"protonated_amines"`
	RDKit      string `json:"rdkit"`
}

// Run implements gpu.Model.
func (m *Model) Run(ctx context.Context, t gpu.Task) (*gpu.Output, error) {
	if err := m.Validate(t.Input); err != nil {
		return nil, gpu.Permanent(err)
	}
	tg, _ := findTarget(t.Input.Target)
	if up := t.Input.Receptor; up != nil {
		if t.Receptor == "" {
			return nil, gpu.Permanentf("receptor %s: the runner gave no file", up.Name)
		}
		tg = Target{ID: UploadedTarget, Name: up.Name}
	}
	p, _ := m.parseParams(t.Input.Parameters)
	box := tg.Box
	if p.Box != nil {
		box = *p.Box
	}
	p.Box = &box
	if err := ValidateLigand(t.Ligand); err != nil {
		return nil, gpu.Permanent(err)
	}
	mol, _ := chem.ParseSMILES(t.Ligand.SMILES)
	name := t.Ligand.Name
	if name == "" {
		name = "ligand"
	}
	logf := func(format string, args ...any) {
		if t.Log != nil {
			fmt.Fprintf(t.Log, "vina: "+format+"\n", args...)
		}
	}

	rec, err := m.prepareReceptor(ctx, t, tg)
	if err != nil {
		return nil, err
	}

	// Ligand conformers (RDKit) -> PDBQT (Open Babel, atom order kept).
	script := filepath.Join(t.Dir, "ligprep.py")
	if err := os.WriteFile(script, ligprepScript, 0o644); err != nil {
		return nil, err
	}
	confs := filepath.Join(t.Dir, "conformers.sdf")
	prepJSON := filepath.Join(t.Dir, "ligprep.json")
	protonate := "1"
	if m.cfg.NeutralLigands {
		protonate = "0"
	}
	if err := t.Exec.Run(ctx, gpu.Cmd{Path: m.cfg.Python, Dir: t.Dir, Args: []string{
		script, "prepare", t.Ligand.SMILES, strconv.Itoa(m.cfg.Conformers), strconv.FormatInt(p.Seed, 10),
		protonate, confs, prepJSON}}); err != nil {
		return nil, fmt.Errorf("ligand preparation: %w", err)
	}
	var prep prepInfo
	if raw, err := os.ReadFile(prepJSON); err != nil {
		return nil, fmt.Errorf("ligand preparation: %w", err)
	} else if err := json.Unmarshal(raw, &prep); err != nil {
		return nil, fmt.Errorf("ligand preparation: %s: %w", prepJSON, err)
	}
	if prep.Error != "" {
		return nil, gpu.Permanentf("ligand %s: %s", name, prep.Error)
	}
	if err := t.Exec.Run(ctx, gpu.Cmd{Path: m.cfg.OpenBabel, Dir: t.Dir, Args: []string{
		confs, "-xp", "--partialcharge", "gasteiger", "-opdbqt", "-O", "conformer.pdbqt", "-m"}}); err != nil {
		return nil, fmt.Errorf("ligand to PDBQT: %w", err)
	}
	logf("ligand %s: %d conformers docked of %d embedded; %d torsions rigid in Vina (%d flipped); %d amines protonated",
		name, prep.Conformers, prep.Embedded, prep.Frozen, prep.Flipped, prep.Protonated)
	confRecs := []SDFRecord(nil)
	if raw, err := os.ReadFile(confs); err == nil {
		confRecs = SplitSDF(string(raw))
	}
	ligands := make([]string, prep.Conformers)
	for i := range ligands {
		ligands[i] = fmt.Sprintf("conformer%d.pdbqt", i+1)
		if _, err := os.Stat(filepath.Join(t.Dir, ligands[i])); err != nil {
			return nil, gpu.Permanentf("ligand %s: Open Babel did not convert conformer %d", name, i+1)
		}
	}

	// Dock every conformer in one Vina process (the grid is computed once).
	outDir := filepath.Join(t.Dir, "docked")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	args := []string{"--receptor", rec.PDBQT, "--batch"}
	args = append(args, ligands...)
	args = append(args, "--dir", outDir)
	args = append(args, box.args()...)
	args = append(args,
		"--exhaustiveness", strconv.Itoa(p.Exhaustiveness),
		"--num_modes", strconv.Itoa(p.NumPoses),
		"--energy_range", strconv.FormatFloat(p.EnergyRange, 'g', -1, 64),
		"--seed", strconv.FormatInt(p.Seed, 10),
		"--cpu", strconv.Itoa(m.cfg.CPUs))
	start := time.Now()
	if err := t.Exec.Run(ctx, gpu.Cmd{Path: m.cfg.Vina, Dir: t.Dir, Args: args}); err != nil {
		return nil, fmt.Errorf("vina: %w", err)
	}
	logf("docked %d conformers in %.1f s", len(ligands), time.Since(start).Seconds())

	best, bestPoses := -1, []Pose(nil)
	runs := make([]ConformerRun, len(ligands))
	for i, l := range ligands {
		out := filepath.Join(outDir, strings.TrimSuffix(l, ".pdbqt")+"_out.pdbqt")
		raw, err := os.ReadFile(out)
		if err != nil {
			return nil, fmt.Errorf("vina output of conformer %d: %w", i+1, err)
		}
		poses, err := ParsePoses(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("vina output of conformer %d: %w", i+1, err)
		}
		runs[i] = ConformerRun{Conformer: i + 1, Affinity: poses[0].Affinity, Poses: len(poses)}
		if i < len(confRecs) {
			runs[i].MMFFEnergy, _ = strconv.ParseFloat(confRecs[i].Data["mmff_energy"], 64)
			runs[i].FrozenStates = confRecs[i].Data["frozen_states"]
		}
		logf("conformer %d: best %.3f kcal/mol, %d poses", i+1, poses[0].Affinity, len(poses))
		if best < 0 || poses[0].Affinity < bestPoses[0].Affinity {
			best, bestPoses = i, poses
		}
	}

	// Poses of the best run with the SMILES' bond orders and hydrogens.
	posesSDF := filepath.Join(t.Dir, "poses.sdf")
	bestOut := filepath.Join(outDir, fmt.Sprintf("conformer%d_out.pdbqt", best+1))
	if err := t.Exec.Run(ctx, gpu.Cmd{Path: m.cfg.Python, Dir: t.Dir, Args: []string{
		script, "poses", confs, bestOut, name, strconv.Itoa(best + 1), posesSDF}}); err != nil {
		return nil, fmt.Errorf("poses to SDF: %w", err)
	}
	raw, err := os.ReadFile(posesSDF)
	if err != nil {
		return nil, fmt.Errorf("poses to SDF: %w", err)
	}
	recs := SplitSDF(string(raw))
	if len(recs) != len(bestPoses) {
		return nil, fmt.Errorf("poses.sdf has %d records for %d poses", len(recs), len(bestPoses))
	}
	for i, r := range recs {
		pm, err := chem.ParseMolfile(r.Molfile)
		if err != nil {
			return nil, fmt.Errorf("poses.sdf record %d: %w", i+1, err)
		}
		if pm.Formula() != prep.Formula {
			return nil, fmt.Errorf("poses.sdf record %d: formula %s, docked %s", i+1, pm.Formula(), prep.Formula)
		}
	}
	ligAtoms, err := MolfileAtoms(recs[0].Molfile)
	if err != nil {
		return nil, fmt.Errorf("poses.sdf: %w", err)
	}

	// Receptor + best pose.
	cif := filepath.Join(t.Dir, "structure.cif")
	f, err := os.Create(cif)
	if err != nil {
		return nil, err
	}
	entry := tg.PDBID
	if t.JobID != "" {
		entry = t.JobID
	}
	werr := WriteComplex(f, entry, name, rec.Atoms, ligAtoms)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("structure.cif: %w", werr)
	}

	affinity := bestPoses[0].Affinity
	heavy := mol.HeavyAtoms()
	metrics := map[string]float64{
		"affinity":         affinity,
		"molecular_weight": math.Round(mol.MolecularWeight()*1000) / 1000,
		"heavy_atoms":      float64(heavy),
	}
	if heavy > 0 {
		metrics["ligand_efficiency"] = math.Round(-affinity/float64(heavy)*10000) / 10000
	}
	d := Details{
		Target: tg, Receptor: t.Input.Receptor, Box: box, Parameters: p, BestConformer: best + 1, Conformers: runs,
		ReceptorKey: rec.Key, Versions: m.Versions(), CPUs: m.cfg.CPUs,
		Ligand: LigandInfo{Name: name, SMILES: t.Ligand.SMILES, DockedSMILES: prep.SMILES,
			Formula: mol.Formula(), DockedFormula: prep.Formula,
			MolecularWeight: metrics["molecular_weight"], HeavyAtoms: heavy,
			ProtonatedAmines: prep.Protonated, RigidTorsions: prep.Frozen},
	}
	if d.Versions.RDKit == "" {
		d.Versions.RDKit = prep.RDKit
	}
	for _, ps := range bestPoses {
		d.Poses = append(d.Poses, PoseSummary{Rank: ps.Rank, Affinity: ps.Affinity, RMSDLB: ps.RMSDLB,
			RMSDUB: ps.RMSDUB, Conformer: best + 1})
	}
	return &gpu.Output{
		Metrics: metrics,
		Details: d,
		Files:   map[string]string{"poses.sdf": posesSDF, "structure.cif": cif},
	}, nil
}
