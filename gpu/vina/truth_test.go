package vina

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"omtx/chem"
)

// Settings of the truth test, the fastest measured to recover the crystal
// pose with seeds 42, 7 and 2024 (one of the two cis conformers found it
// for each seed; about 85 s on 2 idle cores).
const (
	truthConformers     = 3
	truthExhaustiveness = 4
)

// obrmsHeavy returns the symmetry-aware heavy-atom RMSD (Å) of the first
// record of pose to the first record of ref, computed by Open Babel's obrms.
func obrmsHeavy(t testing.TB, ref, pose string) float64 {
	t.Helper()
	out, err := exec.Command("obrms", ref, pose).Output()
	if err != nil {
		t.Fatalf("obrms: %v", err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(first)
	if len(f) == 0 {
		t.Fatalf("obrms printed %q", out)
	}
	v, err := strconv.ParseFloat(f[len(f)-1], 64)
	if err != nil {
		t.Fatalf("obrms printed %q", out)
	}
	return v
}

// TestTruthImatinibABL1 is the acceptance test: imatinib docked from
// its SMILES into ABL1 (1IEP) lands within 2 Å heavy-atom RMSD of the
// crystal pose with a best affinity near the tutorial's -13 kcal/mol.
// For checks by hand, VINA_TRUTH_SEED changes the seed (default 42) and
// VINA_TRUTH_CONFORMERS and VINA_TRUTH_EXHAUSTIVENESS the settings.
func TestTruthImatinibABL1(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the imatinib docking in -short mode")
	}
	env := func(name string, def int) int {
		s := os.Getenv(name)
		if s == "" {
			return def
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	seed := env("VINA_TRUTH_SEED", 42)
	exh := env("VINA_TRUTH_EXHAUSTIVENESS", truthExhaustiveness)
	m := needPrograms(t, Config{Conformers: env("VINA_TRUTH_CONFORMERS", truthConformers)})
	start := time.Now()
	out, task := runTask(t, m, "ABL1", "imatinib", imatinib, map[string]any{"exhaustiveness": exh, "seed": seed})
	elapsed := time.Since(start)
	d := out.Details.(Details)

	poses := out.Files["poses.sdf"]
	raw, err := os.ReadFile(poses)
	if err != nil {
		t.Fatal(err)
	}
	recs := SplitSDF(string(raw))
	best := filepath.Join(t.TempDir(), "best.sdf")
	if err := os.WriteFile(best, []byte(recs[0].Molfile+"$$$$\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rmsd := obrmsHeavy(t, "../../testdata/vina/1iep_ligand.sdf", best)
	aff := out.Metrics["affinity"]
	t.Logf("seed %d, %d conformers, exhaustiveness %d: best affinity %.3f kcal/mol (conformer %d of %d), heavy-atom RMSD to the crystal %.2f Å, %.1f s",
		seed, len(d.Conformers), exh, aff, d.BestConformer, len(d.Conformers), rmsd, elapsed.Seconds())
	for _, c := range d.Conformers {
		// The RMSD of each conformer's best pose, for the record.
		sdf := filepath.Join(t.TempDir(), "c.sdf")
		cr := "?"
		err := exec.Command("/usr/bin/python3", filepath.Join(task.Dir, "ligprep.py"), "poses",
			filepath.Join(task.Dir, "conformers.sdf"),
			filepath.Join(task.Dir, "docked", "conformer"+strconv.Itoa(c.Conformer)+"_out.pdbqt"),
			"x", "0", sdf).Run()
		if err == nil {
			cr = strconv.FormatFloat(obrmsHeavy(t, "../../testdata/vina/1iep_ligand.sdf", sdf), 'f', 2, 64)
		}
		t.Logf("  conformer %d (%s, MMFF %.1f): %.3f kcal/mol, RMSD %s Å", c.Conformer, c.FrozenStates, c.MMFFEnergy, c.Affinity, cr)
	}
	if rmsd > 2 {
		t.Errorf("best pose is %.2f Å from the crystal ligand, want <= 2", rmsd)
	}
	if aff > -11 || aff < -16 {
		t.Errorf("best affinity %.3f kcal/mol, want between -16 and -11 (tutorial: about -13)", aff)
	}

	// Every pose keeps the SMILES' heavy atoms; the piperazine is protonated
	// (one more H, charge +1), as in the crystal.
	in, _ := chem.ParseSMILES(imatinib)
	for i, r := range recs {
		pm, err := chem.ParseMolfile(r.Molfile)
		if err != nil {
			t.Fatalf("pose %d: %v", i+1, err)
		}
		if pm.Formula() != "C29H32N7O+" || in.Formula() != "C29H31N7O" || pm.HeavyAtoms() != in.HeavyAtoms() {
			t.Errorf("pose %d formula %s (SMILES %s)", i+1, pm.Formula(), in.Formula())
		}
	}
}

// BenchmarkDock docks imatinib-sized gefitinib into EGFR at the default
// settings and reports seconds per ligand.
func BenchmarkDock(b *testing.B) {
	m := needPrograms(b, Config{})
	const gefitinib = "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1"
	for b.Loop() {
		runTask(b, m, "EGFR", "gefitinib", gefitinib, map[string]any{})
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/ligand")
}
