package vina

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// crystalRMSD returns the symmetry-aware heavy-atom RMSD (Å, no
// superposition) of the first pose of posesSDF to the ligand records of
// pdbLigand, matched through the SMILES (RDKit's CalcRMS).
const crystalRMSDScript = `
import sys
from rdkit import Chem
from rdkit.Chem import AllChem, rdMolAlign
ref = Chem.MolFromPDBFile(sys.argv[1], removeHs=True)
ref = AllChem.AssignBondOrdersFromTemplate(Chem.MolFromSmiles(sys.argv[3]), ref)
pose = Chem.RemoveHs(next(iter(Chem.SDMolSupplier(sys.argv[2]))), sanitize=False)
pose = AllChem.AssignBondOrdersFromTemplate(Chem.MolFromSmiles(sys.argv[3]), Chem.RemoveHs(pose))
print("%.3f" % rdMolAlign.CalcRMS(pose, ref))
`

// TestBundledTargets docks EGFR's and MPRO's crystal ligands at the
// default settings from its SMILES
// (minutes; set VINA_TARGETS=1, or to one target id) and logs the best affinity and the RMSD to
// the crystal ligand.
func TestBundledTargets(t *testing.T) {
	if os.Getenv("VINA_TARGETS") == "" {
		t.Skip("set VINA_TARGETS=1 to dock every bundled target's crystal ligand")
	}
	// VINA_TARGETS_CONFORMERS and VINA_TARGETS_EXHAUSTIVENESS change the
	// settings.
	conformers, _ := strconv.Atoi(os.Getenv("VINA_TARGETS_CONFORMERS"))
	params := map[string]any{}
	if e, err := strconv.Atoi(os.Getenv("VINA_TARGETS_EXHAUSTIVENESS")); err == nil {
		params["exhaustiveness"] = e
	}
	m := needPrograms(t, Config{Conformers: conformers})
	for _, tg := range Targets() {
		if only := os.Getenv("VINA_TARGETS"); tg.ID == "ABL1" || only != "1" && !strings.EqualFold(only, tg.ID) {
			continue // ABL1 is TestTruthImatinibABL1's
		}
		t.Run(tg.ID, func(t *testing.T) {
			out, _ := runTask(t, m, tg.ID, "crystal", tg.LigandSMILES, params)
			d := out.Details.(Details)
			ref := filepath.Join(t.TempDir(), "ref.pdb")
			if err := os.WriteFile(ref, crystalLigand(t, tg), 0o644); err != nil {
				t.Fatal(err)
			}
			rmsd := "n/a"
			cmd := exec.Command("/usr/bin/python3", "-c", crystalRMSDScript, ref, out.Files["poses.sdf"], tg.LigandSMILES)
			if b, err := cmd.Output(); err == nil {
				rmsd = lastLine(b) + " Å"
			} else {
				t.Logf("RMSD not computed: %v", err)
			}
			t.Logf("%s (%s): best %.3f kcal/mol, conformer %d, RMSD to the crystal %s; conformers %+v",
				tg.ID, tg.Ligand, out.Metrics["affinity"], d.BestConformer, rmsd, d.Conformers)
		})
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// crystalLigand returns the PDB records of the target's crystal ligand:
// the HETATM records that are not water (and, for MPRO, chain C).
func crystalLigand(t *testing.T, tg Target) []byte {
	raw, err := os.ReadFile(filepath.Join("../../testdata", tg.Receptor))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		s := sc.Text()
		if len(s) < 54 {
			continue
		}
		het := strings.HasPrefix(s, "HETATM") && !strings.Contains(s[17:20], "HOH")
		chainC := tg.ID == "MPRO" && strings.HasPrefix(s, "ATOM") && s[21] == 'C'
		if het || chainC {
			out.WriteString("HETATM" + s[6:] + "\n")
		}
	}
	out.WriteString("END\n")
	return out.Bytes()
}
