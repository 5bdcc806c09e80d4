package vina

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"omtx/chem"
	"omtx/gpu"
	"omtx/jobs"
)

const imatinib = "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"

func newModel(t testing.TB, cfg Config) *Model {
	t.Helper()
	cfg.Targets = os.DirFS("../../testdata")
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// needPrograms returns a checked model, skipping the test when Vina, Open
// Babel or RDKit is missing (failing instead when CI=true).
func needPrograms(t testing.TB, cfg Config) *Model {
	t.Helper()
	m := newModel(t, cfg)
	if err := m.Check(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the docking programs are missing: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	return m
}

// testLog writes program output to the test log when -v is given.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	if testing.Verbose() && strings.Trim(string(p), "*\n") != "" {
		l.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func runTask(t testing.TB, m *Model, target, name, smiles string, params any) (*gpu.Output, gpu.Task) {
	t.Helper()
	raw, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := gpu.NewCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	task := gpu.Task{
		JobID:  "job-" + name,
		Input:  gpu.Input{Target: target, Parameters: raw},
		Ligand: gpu.Ligand{Name: name, SMILES: smiles},
		Dir:    t.TempDir(),
		Cache:  cache,
		Exec:   gpu.ProcessExecutor{Log: testLog{t}},
		Log:    testLog{t},
	}
	start := time.Now()
	out, err := m.Run(context.Background(), task)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%s docked into %s in %.1f s", name, target, time.Since(start).Seconds())
	return out, task
}

func TestInfo(t *testing.T) {
	m := newModel(t, Config{})
	info := m.Info()
	p, ok := info.Primary()
	if !ok || p.Name != "affinity" || p.Unit != "kcal/mol" || !p.Less(-10, -5) {
		t.Errorf("primary %+v", p)
	}
	for _, mt := range info.Metrics {
		if mt.Name == "ligand_efficiency" && !mt.Less(0.5, 0.3) {
			t.Error("ligand efficiency must rank higher first")
		}
	}
	if !info.Ligands || info.Resource != gpu.CPU {
		t.Errorf("info %+v", info)
	}
	if tg, ok := m.Target("abl1"); !ok || tg.PDBID != "1IEP" {
		t.Errorf("Target(abl1) = %+v, %v", tg, ok)
	}
	if _, ok := m.Target("nope"); ok {
		t.Error("unknown target found")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without Targets: no error")
	}
	if _, err := New(Config{Targets: os.DirFS(t.TempDir())}); err == nil {
		t.Error("New with empty Targets: no error")
	}
}

func TestValidate(t *testing.T) {
	m := newModel(t, Config{})
	for _, tc := range []struct {
		name, target, params, field string
	}{
		{"defaults", "ABL1", ``, ""},
		{"null", "egfr", `null`, ""},
		{"all", "MPRO", `{"exhaustiveness": 32, "num_poses": 20, "seed": 7, "energy_range": 4.5}`, ""},
		{"box", "ABL1", `{"box": {"center_x": 1, "center_y": 2, "center_z": 3, "size_x": 30, "size_y": 30, "size_z": 30}}`, ""},
		{"no target", "", ``, "target"},
		{"unknown target", "KRAS", ``, "target"},
		{"exhaustiveness 0", "ABL1", `{"exhaustiveness": 0}`, "exhaustiveness"},
		{"exhaustiveness 33", "ABL1", `{"exhaustiveness": 33}`, "exhaustiveness"},
		{"exhaustiveness text", "ABL1", `{"exhaustiveness": "8"}`, "exhaustiveness"},
		{"exhaustiveness fraction", "ABL1", `{"exhaustiveness": 8.5}`, "exhaustiveness"},
		{"num_poses 0", "ABL1", `{"num_poses": 0}`, "num_poses"},
		{"num_poses 21", "ABL1", `{"num_poses": 21}`, "num_poses"},
		{"energy_range 0", "ABL1", `{"energy_range": 0}`, "energy_range"},
		{"energy_range 11", "ABL1", `{"energy_range": 11}`, "energy_range"},
		{"seed text", "ABL1", `{"seed": "x"}`, "seed"},
		{"seed negative", "ABL1", `{"seed": -1}`, "seed"},
		{"seed too big", "ABL1", `{"seed": 2147483648}`, "seed"},
		{"unknown", "ABL1", `{"exhaustivness": 8}`, "parameters"},
		{"not object", "ABL1", `[1]`, "parameters"},
		{"two objects", "ABL1", `{} {}`, "parameters"},
		{"bad json", "ABL1", `{`, "parameters"},
		{"box partial", "ABL1", `{"box": {"center_x": 1, "center_y": 2, "center_z": 3, "size_x": 30}}`, "box"},
		{"box size 0", "ABL1", `{"box": {"center_x": 1, "center_y": 2, "center_z": 3, "size_x": 0, "size_y": 30, "size_z": 30}}`, "box"},
		{"box too big", "ABL1", `{"box": {"center_x": 1, "center_y": 2, "center_z": 3, "size_x": 50, "size_y": 50, "size_z": 50}}`, "box"},
		{"box text", "ABL1", `{"box": {"center_x": "a"}}`, "box"},
		{"box unknown", "ABL1", `{"box": {"centre_x": 1}}`, "parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Validate(gpu.Input{Target: tc.target, Parameters: json.RawMessage(tc.params)})
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var je *jobs.Error
			if !errors.As(err, &je) || je.Field != tc.field || je.Code != jobs.ErrInvalid {
				t.Fatalf("error %v (%#v), want a field error on %s", err, err, tc.field)
			}
		})
	}
	// An uploaded receptor instead of a target needs a box.
	up := &gpu.Receptor{Name: "mine.pdb", Format: "pdb", SHA256: strings.Repeat("a", 64)}
	box := `{"box": {"center_x": 1, "center_y": 2, "center_z": 3, "size_x": 20, "size_y": 20, "size_z": 20}}`
	for _, tc := range []struct {
		name, target, params, field string
	}{
		{"receptor and box", "", box, ""},
		{"receptor without box", "", ``, "box"},
		{"receptor and target", "ABL1", box, "target"},
	} {
		err := m.Validate(gpu.Input{Target: tc.target, Receptor: up, Parameters: json.RawMessage(tc.params)})
		var je *jobs.Error
		if tc.field == "" && err != nil || tc.field != "" && (!errors.As(err, &je) || je.Field != tc.field) {
			t.Errorf("%s: error %v, want field %q", tc.name, err, tc.field)
		}
	}
	// Limits come from the configuration.
	small := newModel(t, Config{MaxExhaustiveness: 4, MaxPoses: 3})
	if err := small.Validate(gpu.Input{Target: "ABL1", Parameters: json.RawMessage(`{"exhaustiveness": 5}`)}); err == nil {
		t.Error("exhaustiveness above the configured cap accepted")
	}
	if err := small.Validate(gpu.Input{Target: "ABL1", Parameters: json.RawMessage(`{"num_poses": 4}`)}); err == nil {
		t.Error("num_poses above the configured cap accepted")
	}
	if err := ValidateLigand(gpu.Ligand{SMILES: "C1CC"}); err == nil {
		t.Error("bad SMILES accepted")
	}
}

func TestCheck(t *testing.T) {
	m := needPrograms(t, Config{})
	v := m.Versions()
	if !strings.Contains(v.Vina, "Vina") || !strings.Contains(v.OpenBabel, "Open Babel") || v.RDKit == "" {
		t.Errorf("versions %+v", v)
	}
	bad := newModel(t, Config{Vina: "/nonexistent/vina", Python: "/nonexistent/python3"})
	err := bad.Check(context.Background())
	if err == nil {
		t.Fatal("missing programs: no error")
	}
	for _, want := range []string{"autodock-vina", "python3-rdkit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "package openbabel") {
		t.Errorf("error %q names Open Babel, which is present", err)
	}
}

// TestRunBadLigand: a SMILES RDKit cannot embed is a permanent error.
func TestRunBadLigand(t *testing.T) {
	m := needPrograms(t, Config{Conformers: 1})
	task := gpu.Task{
		Input: gpu.Input{Target: "ABL1"}, Ligand: gpu.Ligand{Name: "bad", SMILES: "C1=CC=CC=C1C(C)(C)(C)(C)C"},
		Dir: t.TempDir(), Exec: gpu.ProcessExecutor{Log: io.Discard},
	}
	_, err := m.Run(context.Background(), task)
	if err == nil || !gpu.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	task.Ligand.SMILES = "[Na+].[Cl-]" // parses, but nothing to embed
	task.Dir = t.TempDir()
	if _, err = m.Run(context.Background(), task); err == nil || !gpu.IsPermanent(err) {
		t.Fatalf("salt: err = %v, want permanent", err)
	}
}

// TestDockAspirin docks aspirin at exhaustiveness 1 and checks every file.
func TestDockAspirin(t *testing.T) {
	m := needPrograms(t, Config{Conformers: 2})
	smiles := "CC(=O)Oc1ccccc1C(=O)O"
	out, _ := runTask(t, m, "ABL1", "aspirin", smiles, map[string]any{"exhaustiveness": 1, "seed": 1})
	in, _ := chem.ParseSMILES(smiles)

	aff := out.Metrics["affinity"]
	if aff > -3 || aff < -12 {
		t.Errorf("affinity %v kcal/mol", aff)
	}
	if out.Metrics["heavy_atoms"] != 13 || out.Metrics["ligand_efficiency"] != float64(int(-aff/13*10000+0.5))/10000 {
		t.Errorf("metrics %v", out.Metrics)
	}
	if mw := out.Metrics["molecular_weight"]; mw < 180.1 || mw > 180.2 {
		t.Errorf("molecular weight %v", mw)
	}
	d := out.Details.(Details)
	if d.Target.ID != "ABL1" || d.Parameters.Exhaustiveness != 1 || d.Parameters.NumPoses != 9 ||
		d.Box != d.Target.Box || len(d.Conformers) < 1 || d.Versions.Vina == "" {
		t.Errorf("details %+v", d)
	}
	if _, err := json.Marshal(out.Details); err != nil {
		t.Error(err)
	}

	raw, err := os.ReadFile(out.Files["poses.sdf"])
	if err != nil {
		t.Fatal(err)
	}
	recs := SplitSDF(string(raw))
	if len(recs) == 0 || len(recs) != len(d.Poses) {
		t.Fatalf("%d records for %d poses", len(recs), len(d.Poses))
	}
	prev := -1e9
	for i, r := range recs {
		mol, err := chem.ParseMolfile(r.Molfile)
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		if mol.Formula() != in.Formula() {
			t.Errorf("record %d formula %s, SMILES %s", i+1, mol.Formula(), in.Formula())
		}
		if r.Title() != "aspirin" || r.Data["rank"] != strconv.Itoa(i+1) {
			t.Errorf("record %d title %q rank %q", i+1, r.Title(), r.Data["rank"])
		}
		a, err := strconv.ParseFloat(r.Data["affinity"], 64)
		if err != nil || a < prev || a != d.Poses[i].Affinity {
			t.Errorf("record %d affinity %q after %v (details %v)", i+1, r.Data["affinity"], prev, d.Poses[i].Affinity)
		}
		prev = a
		for _, k := range []string{"rmsd_lb", "rmsd_ub", "conformer"} {
			if _, ok := r.Data[k]; !ok {
				t.Errorf("record %d lacks %s", i+1, k)
			}
		}
	}
	if d.Poses[0].Affinity != aff {
		t.Errorf("metric %v, first pose %v", aff, d.Poses[0].Affinity)
	}

	cif, err := os.ReadFile(out.Files["structure.cif"])
	if err != nil {
		t.Fatal(err)
	}
	rows := readAtomSite(t, string(cif), "atom_site")
	lig, _ := MolfileAtoms(recs[0].Molfile)
	if len(rows) != 4412+len(lig) || len(lig) != 21 {
		t.Fatalf("%d atom_site rows, %d ligand atoms", len(rows), len(lig))
	}
	for i, a := range lig {
		r := rows[4412+i]
		if r["label_comp_id"] != "LIG" || r["type_symbol"] != a.Element || r["Cartn_x"] != strconv.FormatFloat(a.X, 'f', 3, 64) {
			t.Errorf("ligand row %d %v, atom %+v", i+1, r, a)
		}
	}
	if !strings.HasPrefix(string(cif), "data_job-aspirin\n") {
		t.Errorf("cif starts %.40q", cif)
	}
	// Open Babel reads the file back with every atom.
	ob, err := exec.Command("obabel", "-icif", out.Files["structure.cif"], "-oxyz").Output()
	if err != nil {
		t.Fatalf("obabel -icif: %v", err)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(ob), "\n", 2)[0])); n != len(rows) {
		t.Errorf("obabel reads %d atoms of %d", n, len(rows))
	}
}

// TestLigprepPrepare checks the helper's protonation and conformer
// selection on small molecules.
func TestLigprepPrepare(t *testing.T) {
	m := needPrograms(t, Config{})
	dir := t.TempDir()
	script := filepath.Join(dir, "ligprep.py")
	if err := os.WriteFile(script, ligprepScript, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		smiles, formula string
		charge, frozen  int
	}{
		{"NCCN", "C2H9N2+", 1, 0},                       // ethylenediamine: one N protonated
		{"CN1CCOCC1", "C5H12NO+", 1, 0},                 // N-methylmorpholine
		{"CC(=O)Nc1ccccc1", "C8H9NO", 0, 1},             // acetanilide: amide, aniline
		{"CNc1ncccn1", "C5H7N3", 0, 1},                  // 2-(methylamino)pyrimidine
		{"[Na+].OC(=O)c1ccccc1", "C7H6O2", 0, 0},        // the salt's largest fragment
		{"CCN(CC)CCNC(=O)c1ccccc1", "C13H21N2O+", 1, 1}, // tertiary amine, not the amide N
	} {
		sdf, js := filepath.Join(dir, "c.sdf"), filepath.Join(dir, "p.json")
		if err := exec.Command(m.cfg.Python, script, "prepare", tc.smiles, "2", "1", "1", sdf, js).Run(); err != nil {
			t.Fatalf("%s: %v", tc.smiles, err)
		}
		raw, _ := os.ReadFile(js)
		var p prepInfo
		if err := json.Unmarshal(raw, &p); err != nil || p.Error != "" {
			t.Fatalf("%s: %s %v", tc.smiles, raw, err)
		}
		if p.Formula != tc.formula || p.Charge != tc.charge || p.Frozen != tc.frozen || p.Conformers < 1 {
			t.Errorf("%s: %s", tc.smiles, raw)
		}
		recs, _ := os.ReadFile(sdf)
		if n := len(SplitSDF(string(recs))); n != p.Conformers {
			t.Errorf("%s: %d records for %d conformers", tc.smiles, n, p.Conformers)
		}
	}
}

// An uploaded receptor docks exactly as the bundled target made of the
// same file and box: same receptor preparation, same poses, same scores.
func TestDockUploadedReceptor(t *testing.T) {
	m := needPrograms(t, Config{Conformers: 1})
	smiles := "CC(=O)Oc1ccccc1C(=O)O"
	tg, _ := m.Target("ABL1")
	params := map[string]any{"exhaustiveness": 1, "seed": 3, "box": tg.Box}
	bundled, _ := runTask(t, m, "ABL1", "aspirin", smiles, params)

	pdb, err := os.ReadFile("../../testdata/" + tg.Receptor)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "receptor.pdb")
	if err := os.WriteFile(path, pdb, 0o644); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(params)
	cache, err := gpu.NewCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	up := &gpu.Receptor{Name: "1iep_receptorH.pdb", Format: "pdb", SHA256: strings.Repeat("b", 64)}
	task := gpu.Task{JobID: "job-upload", Input: gpu.Input{Receptor: up, Parameters: raw},
		Ligand: gpu.Ligand{Name: "aspirin", SMILES: smiles}, Receptor: path, Dir: t.TempDir(), Cache: cache,
		Exec: gpu.ProcessExecutor{Log: testLog{t}}, Log: testLog{t}}
	out, err := m.Run(context.Background(), task)
	if err != nil {
		t.Fatalf("Run with an uploaded receptor: %v", err)
	}
	if out.Metrics["affinity"] != bundled.Metrics["affinity"] {
		t.Errorf("uploaded receptor: %v kcal/mol, bundled target: %v", out.Metrics["affinity"], bundled.Metrics["affinity"])
	}
	d := out.Details.(Details)
	if d.Target.ID != UploadedTarget || d.Target.Name != up.Name || d.Receptor != up || d.Box != tg.Box {
		t.Errorf("details target %+v receptor %+v box %+v", d.Target, d.Receptor, d.Box)
	}
	cif, err := os.ReadFile(out.Files["structure.cif"])
	if err != nil || !strings.Contains(string(cif), "_atom_site.") {
		t.Errorf("structure.cif: %v", err)
	}
	// Without the file the runner should have fetched, the job fails for good.
	task.Receptor, task.Dir = "", t.TempDir()
	if _, err := m.Run(context.Background(), task); !gpu.IsPermanent(err) {
		t.Errorf("no receptor file: %v", err)
	}
}
