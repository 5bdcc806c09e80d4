package rfantibody

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"omtx/gpu"
	"omtx/gpu/standin/standintest"
	"omtx/jobs"
	"omtx/results"
)

const fixtures = "../../testdata/rfantibody/"

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(fixtures + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseScoresRealRF2Output(t *testing.T) {
	t.Parallel()
	scores, err := ParseScores(strings.NewReader(readFixture(t, "rf2_ab_proteinmpnn_output_best.pdb")))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"interaction_pae": 19.38, "pae": 10.64, "pred_lddt": 0.89,
		"target_aligned_antibody_rmsd": 30.82, "target_aligned_cdr_rmsd": 24.64,
		"framework_aligned_antibody_rmsd": 1.25, "framework_aligned_cdr_rmsd": 2.25,
		"framework_aligned_H1_rmsd": 0.90, "framework_aligned_H3_rmsd": 3.75, "framework_aligned_L3_rmsd": 1.23,
	}
	for k, v := range want {
		if scores[k] != v {
			t.Errorf("%s = %v, want %v", k, scores[k], v)
		}
	}
	if len(scores) != 13 {
		t.Errorf("%d scores, want 13", len(scores))
	}
	if _, err := ParseScores(strings.NewReader("ATOM\nSCORE pae: nan\n")); err == nil {
		t.Error("accepted a NaN score")
	}
	if _, err := ParseScores(strings.NewReader("ATOM      1  N\n")); err == nil {
		t.Error("accepted a file without scores")
	}
}

func TestParseQuiverRealDesigns(t *testing.T) {
	t.Parallel()
	qv, err := ParseQuiver(strings.NewReader(readFixture(t, "rfdiffusion_nb_designs.qv")))
	if err != nil {
		t.Fatal(err)
	}
	if len(qv) != 2 || qv[0].Tag != "samples_design_0" || qv[1].Tag != "samples_design_1" {
		t.Fatalf("entries %d: %+v", len(qv), qv)
	}
	if qv[0].Scores["mindist"] != 7.16 || qv[0].Scores["averagemin"] != 7.27 || qv[1].Scores["mindist"] != 6.18 {
		t.Errorf("scores %v %v", qv[0].Scores, qv[1].Scores)
	}
	for _, e := range qv {
		if strings.Contains(e.PDB, "QV_") || !strings.HasPrefix(e.PDB, "ATOM      1  N   GLN H   1") || !strings.Contains(e.PDB, "REMARK PDBinfo-LABEL:") {
			t.Errorf("%s: PDB text %.80q", e.Tag, e.PDB)
		}
	}
	bad := []string{"ATOM 1\nQV_TAG x\n", "QV_TAG x\nQV_SCORE y a=1\n", "QV_TAG x\nQV_SCORE x a\n", ""}
	for _, b := range bad {
		if _, err := ParseQuiver(strings.NewReader(b)); err == nil {
			t.Errorf("accepted %q", b)
		}
	}
}

func TestMetricDirections(t *testing.T) {
	t.Parallel()
	info := New(Config{}).Info()
	want := map[string]results.Direction{
		MetricInteractionPAE:   results.LowerIsBetter,
		MetricPAE:              results.LowerIsBetter,
		MetricPredLDDT:         results.HigherIsBetter,
		MetricTargetAlignedRMS: results.LowerIsBetter,
		MetricFrameworkCDRRMS:  results.LowerIsBetter,
		MetricPassing:          results.HigherIsBetter,
	}
	if len(info.Metrics) != len(want) {
		t.Errorf("%d metrics", len(info.Metrics))
	}
	for _, m := range info.Metrics {
		if want[m.Name] != m.Better {
			t.Errorf("%s: %s, want %s", m.Name, m.Better, want[m.Name])
		}
	}
	if p, _ := info.Primary(); p.Name != MetricInteractionPAE || !p.Less(8, 19) {
		t.Errorf("primary %+v", p)
	}
	if info.Ligands || info.Resource != gpu.GPU || info.Name != "rfantibody" {
		t.Errorf("info %+v", info)
	}
}

// withScores is the real RF2 output with its scores replaced.
func withScores(t *testing.T, ipae, rmsd, lddt string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(readFixture(t, "rf2_ab_proteinmpnn_output_best.pdb"), "\n") {
		switch {
		case strings.HasPrefix(line, "SCORE interaction_pae:"):
			line = "SCORE interaction_pae: " + ipae + "\n"
		case strings.HasPrefix(line, "SCORE target_aligned_antibody_rmsd:"):
			line = "SCORE target_aligned_antibody_rmsd: " + rmsd + "\n"
		case strings.HasPrefix(line, "SCORE pred_lddt:"):
			line = "SCORE pred_lddt: " + lddt + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}

// TestRankingAndFilter: designs rank by interaction_pae, lower first, and
// only those with pAE < 10 and RMSD < 2 A pass the suggested filter.
func TestRankingAndFilter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, s := range map[string][3]string{
		"a_best.pdb": {"19.38", "30.82", "0.89"},
		"b_best.pdb": {"8.10", "1.40", "0.91"},
		"c_best.pdb": {"9.50", "2.50", "0.93"},
	} {
		os.WriteFile(filepath.Join(dir, name), []byte(withScores(t, s[0], s[1], s[2])), 0o644)
	}
	d, err := ReadDesigns(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d[0].Tag != "b" || d[1].Tag != "c" || d[2].Tag != "a" {
		t.Fatalf("order %s %s %s, want b c a", d[0].Tag, d[1].Tag, d[2].Tag)
	}
	if !d[0].PassesFilter || d[1].PassesFilter || d[2].PassesFilter {
		t.Errorf("filter: %v %v %v, want only b", d[0].PassesFilter, d[1].PassesFilter, d[2].PassesFilter)
	}
	task := gpu.Task{Dir: filepath.Dir(dir)}
	os.Rename(dir, filepath.Join(task.Dir, "rf2"))
	out, err := output(task, Params{}, d)
	if err != nil {
		t.Fatal(err)
	}
	if out.Metrics[MetricInteractionPAE] != 8.10 || out.Metrics[MetricPassing] != 1 || out.Metrics[MetricPredLDDT] != 0.91 {
		t.Errorf("metrics %v", out.Metrics)
	}
	if !strings.HasSuffix(out.Files["structure.pdb"], "b_best.pdb") {
		t.Errorf("structure.pdb is %s", out.Files["structure.pdb"])
	}
}

func validParams(t *testing.T) map[string]any {
	return map[string]any{
		"target_pdb":    readFixture(t, "rsv_site3_target.pdb"),
		"framework_pdb": readFixture(t, "h-NbBCII10_HLT_framework.pdb"),
		"hotspots":      "T305,T456",
		"loops":         "H1:7,H2:6,H3:5-13",
		"num_designs":   2,
		"num_sequences": 2,
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	fw := readFixture(t, "h-NbBCII10_HLT_framework.pdb")
	var noLabels strings.Builder
	for _, l := range strings.SplitAfter(fw, "\n") {
		if !strings.HasPrefix(l, "REMARK PDBinfo-LABEL") {
			noLabels.WriteString(l)
		}
	}
	chainA := strings.ReplaceAll(fw, " H ", " A ")
	tests := []struct {
		name  string
		edit  func(p map[string]any)
		field string
	}{
		{"valid nanobody", func(map[string]any) {}, ""},
		{"framework with chain A", func(p map[string]any) { p["framework_pdb"] = chainA }, "framework_pdb"},
		{"framework without CDR labels", func(p map[string]any) { p["framework_pdb"] = noLabels.String() }, "framework_pdb"},
		{"framework missing", func(p map[string]any) { delete(p, "framework_pdb") }, "framework_pdb"},
		{"target not chain T", func(p map[string]any) { p["target_pdb"] = fw }, "target_pdb"},
		{"hotspot not in target", func(p map[string]any) { p["hotspots"] = "T305,T9999" }, "hotspots"},
		{"hotspot on chain A", func(p map[string]any) { p["hotspots"] = "A305" }, "hotspots"},
		{"no hotspots", func(p map[string]any) { p["hotspots"] = "" }, "hotspots"},
		{"light-chain loop on a nanobody", func(p map[string]any) { p["loops"] = "H3:5-13,L1:8" }, "loops"},
		{"bad loop", func(p map[string]any) { p["loops"] = "H3:13-5" }, "loops"},
		{"too many designs", func(p map[string]any) { p["num_designs"] = 1000 }, "num_designs"},
		{"unknown parameter", func(p map[string]any) { p["smiles"] = "CCO" }, "parameters"},
	}
	m := New(Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validParams(t)
			tc.edit(p)
			raw, _ := json.Marshal(p)
			err := m.Validate(gpu.Input{Parameters: raw})
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var je *jobs.Error
			if !errors.As(err, &je) || je.Field != tc.field {
				t.Fatalf("err = %v, want an error on %s", err, tc.field)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "rfdiffusion", "proteinmpnn", "rf2")
	err := New(Config{RFdiffusion: filepath.Join(dir, "rfdiffusion"), ProteinMPNN: "proteinmpnn-not-here", RF2: filepath.Join(dir, "rf2")}).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "proteinmpnn-not-here") || strings.Contains(err.Error(), "rfdiffusion\"") {
		t.Errorf("Check = %v", err)
	}
	if err := New(Config{RFdiffusion: filepath.Join(dir, "rfdiffusion"), ProteinMPNN: filepath.Join(dir, "proteinmpnn"), RF2: filepath.Join(dir, "rf2")}).Check(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestRunEndToEnd runs the three stages through the process executor
// against the stand-in, which checks each command line and writes the real
// reference outputs.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "rfdiffusion", "proteinmpnn", "rf2")
	m := New(Config{RFdiffusion: filepath.Join(dir, "rfdiffusion"), ProteinMPNN: filepath.Join(dir, "proteinmpnn"), RF2: filepath.Join(dir, "rf2")})
	raw, _ := json.Marshal(validParams(t))
	var log bytes.Buffer
	task := gpu.Task{JobID: "ab1", Input: gpu.Input{Parameters: raw}, Dir: t.TempDir(), Exec: gpu.ProcessExecutor{Log: &log}, Log: &log}
	out, err := m.Run(context.Background(), task)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if out.Metrics[MetricInteractionPAE] != 19.38 || out.Metrics[MetricPredLDDT] != 0.89 || out.Metrics[MetricFrameworkCDRRMS] != 2.25 || out.Metrics[MetricPassing] != 0 {
		t.Errorf("metrics %v", out.Metrics)
	}
	d := out.Details.(*Details)
	if len(d.Designs) != 4 || d.Designs[0].Tag != "design_0_dldesign_0" {
		t.Errorf("%d designs, first %+v", len(d.Designs), d.Designs[0])
	}
	if _, err := os.Stat(out.Files["structure.pdb"]); err != nil {
		t.Error(err)
	}
	for _, prog := range []string{"rfdiffusion", "proteinmpnn", "rf2"} {
		calls := standintest.Calls(t, filepath.Join(dir, prog))
		if len(calls) != 1 {
			t.Errorf("%s ran %d times", prog, len(calls))
		}
	}
	args := strings.Join(standintest.Calls(t, filepath.Join(dir, "rfdiffusion"))[0], " ")
	for _, want := range []string{"-n 2", "-l H1:7,H2:6,H3:5-13", "-h T305,T456", "framework_HLT.pdb"} {
		if !strings.Contains(args, want) {
			t.Errorf("rfdiffusion command lacks %q: %s", want, args)
		}
	}
	// The backbones are the real RFdiffusion designs.
	b, _ := os.ReadFile(filepath.Join(task.Dir, "rfdiffusion", "design_1.pdb"))
	if !strings.HasPrefix(string(b), "ATOM      1  N   GLN H   1      11.449") {
		t.Errorf("design_1.pdb is not samples_design_1: %.60q", b)
	}
}

// TestStandinChecks: the stand-in refuses unknown flags and bad inputs.
func TestStandinChecks(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "rfdiffusion", "rf2")
	work := t.TempDir()
	target, fw := fixtures+"rsv_site3_target.pdb", fixtures+"h-NbBCII10_HLT_framework.pdb"
	tests := []struct {
		prog string
		args []string
		ok   bool
	}{
		{"rfdiffusion", []string{"-t", target, "-f", fw, "-o", work + "/a/d", "-n", "1", "-l", "H3:5-13", "-h", "T305"}, true},
		{"rfdiffusion", []string{"-t", target, "-f", fw, "-o", work + "/b/d", "-n", "1", "-l", "H3:5-13", "-h", "T1"}, false},
		{"rfdiffusion", []string{"-t", fw, "-f", fw, "-o", work + "/c/d", "-n", "1", "-l", "H3:5-13", "-h", "T305"}, false},
		{"rfdiffusion", []string{"-t", target, "-f", target, "-o", work + "/d/d", "-n", "1", "-l", "H3:5-13", "-h", "T305"}, false},
		{"rfdiffusion", []string{"-t", target, "-f", fw, "-o", work + "/e/d", "-n", "1", "-l", "H3:5-13", "-h", "T305", "--num_designs", "3"}, false},
		{"rf2", []string{"-i", work + "/a", "-o", work + "/out", "-r", "10"}, true},
		{"rf2", []string{"-i", work + "/a", "-o", work + "/out2"}, false},
		{"rf2", []string{"-i", work + "/empty", "-o", work + "/out3", "-r", "10"}, false},
	}
	for _, tc := range tests {
		out, err := exec.Command(filepath.Join(dir, tc.prog), tc.args...).CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("%s %q: err %v, want ok=%v\n%s", tc.prog, tc.args, err, tc.ok, out)
		}
	}
}
