package chai1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"omtx/chem/protein"
	"omtx/gpu"
	"omtx/gpu/npy/npytest"
	"omtx/gpu/standin/standintest"
	"omtx/jobs"
	"omtx/results"
)

const cdk2 = "MENFQKVEKIGEGTYGVVYKARNKLTGEVVALKKIRLDTETEGVPSTAIREISLLKELNHPNIVKLLDVIHTENKLYLVFEFLHQDLKKFMDASALTGIPLPLIKSYLFQLLQGLAFCHSHRVLHRDLKPQNLLINTEGAIKLADFGLARAFGVPVRTYTHEVVTLWYRAPEILLGCKYYSTAVDIWSLGCIFAEMVTRRALFPGDSEIDQLFRIFRTLGTPDEVVWPGVTSMPDYKPSFPKWARQDFSKVVPPLDEDGRSLLSQMLHYDPNKRISAKAALAHPFFQDVTKPVPHLRL"

// sampleScores are three samples of a protein + ligand (2 chains). The
// best is sample 1, not sample 0; sample 2 has the highest ipTM but
// clashes, which costs it 100.
var sampleScores = []struct {
	ptm, iptm float32
	clash     bool
}{
	{0.80, 0.70, false}, // 0.72
	{0.85, 0.82, false}, // 0.826
	{0.90, 0.95, true},  // 0.94 - 100
}

// writeScores writes scores.model_idx_<i>.npz into dir with the keys,
// dtypes and shapes of chai_lab.ranking.rank.get_scores (v.cpu().numpy() of
// a batch of one: float32 scores, bool has_inter_chain_clashes, int64
// chain_chain_clashes), as numpy.savez writes them.
func writeScores(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range sampleScores {
		clash := float32(0)
		var pairClashes int64
		if s.clash {
			clash, pairClashes = 1, 150
		}
		agg := 0.2*s.ptm + 0.8*s.iptm - 100*clash
		err := npytest.WriteNPZ(filepath.Join(dir, "scores.model_idx_"+string(rune('0'+i))+".npz"),
			npytest.Array{Name: "aggregate_score", Descr: "<f4", Shape: []int{1}, Data: npytest.Float32s(agg)},
			npytest.Array{Name: "ptm", Descr: "<f4", Shape: []int{1}, Data: npytest.Float32s(s.ptm)},
			npytest.Array{Name: "iptm", Descr: "<f4", Shape: []int{1}, Data: npytest.Float32s(s.iptm)},
			npytest.Array{Name: "per_chain_ptm", Descr: "<f4", Shape: []int{1, 2}, Data: npytest.Float32s(s.ptm+0.01, 0.5)},
			npytest.Array{Name: "per_chain_pair_iptm", Descr: "<f4", Shape: []int{1, 2, 2}, Data: npytest.Float32s(s.ptm, s.iptm, s.iptm, 0.5)},
			npytest.Array{Name: "has_inter_chain_clashes", Descr: "|b1", Shape: []int{1}, Data: npytest.Bools(s.clash)},
			npytest.Array{Name: "chain_chain_clashes", Descr: "<i8", Shape: []int{1, 2, 2}, Data: npytest.Int64s(0, pairClashes, pairClashes, 0)},
		)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestMetricDirections(t *testing.T) {
	t.Parallel()
	info := New(Config{}).Info()
	want := map[string]results.Direction{
		MetricAggregate: results.HigherIsBetter,
		MetricPTM:       results.HigherIsBetter,
		MetricIPTM:      results.HigherIsBetter,
		MetricClashes:   results.LowerIsBetter,
	}
	if len(info.Metrics) != len(want) {
		t.Errorf("%d metrics, want %d", len(info.Metrics), len(want))
	}
	for _, m := range info.Metrics {
		if want[m.Name] != m.Better {
			t.Errorf("%s: %s, want %s", m.Name, m.Better, want[m.Name])
		}
	}
	if p, _ := info.Primary(); p.Name != MetricAggregate || !p.Less(0.9, 0.5) {
		t.Errorf("primary %+v does not rank 0.9 ahead of 0.5", p)
	}
	if info.Name != "chai1" || info.Resource != gpu.GPU || !info.Ligands {
		t.Errorf("info %+v", info)
	}
}

// TestRanking: samples are ranked by aggregate_score, higher first, not
// by their file index; a clashing sample ranks last.
func TestRanking(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeScores(t, dir)
	for i := range sampleScores {
		os.WriteFile(filepath.Join(dir, "pred.model_idx_"+string(rune('0'+i))+".cif"), []byte("data_x\n"), 0o644)
	}
	s, err := ReadSamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	order := []int{s[0].Index, s[1].Index, s[2].Index}
	if order[0] != 1 || order[1] != 0 || order[2] != 2 {
		t.Fatalf("ranked sample order %v, want [1 0 2]", order)
	}
	if !s[2].HasInterChainClashes || s[2].ChainChainClashes[0][1] != 150 || s[0].HasInterChainClashes {
		t.Errorf("clashes: %+v", s)
	}
	if s[0].PerChainPairIPTM[0][1] != float64(float32(0.82)) || len(s[0].PerChainPTM) != 2 {
		t.Errorf("per chain: %+v", s[0])
	}
	// The results table's comparison agrees.
	m, _ := New(Config{}).Info().Primary()
	scores := []float64{s[2].AggregateScore, s[0].AggregateScore, s[1].AggregateScore}
	sort.Slice(scores, func(i, j int) bool { return m.Less(scores[i], scores[j]) })
	if scores[0] != s[0].AggregateScore {
		t.Errorf("Less ranks %v first", scores[0])
	}
	// A structure without scores, or scores without a structure, is an error.
	os.Remove(filepath.Join(dir, "pred.model_idx_2.cif"))
	if _, err := ReadSamples(dir); err == nil {
		t.Error("accepted scores without a structure")
	}
	if _, err := ReadSamples(t.TempDir()); err == nil {
		t.Error("accepted an empty output folder")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	m := New(Config{})
	covalent, err := os.ReadFile("../../testdata/chai/8cyo.restraints")
	if err != nil {
		t.Fatal(err)
	}
	pocket, err := os.ReadFile("../../testdata/chai/pocket.restraints")
	if err != nil {
		t.Fatal(err)
	}
	js := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	tests := []struct {
		name  string
		in    gpu.Input
		field string
	}{
		{"valid", gpu.Input{ProteinSequence: cdk2}, ""},
		{"valid parameters", gpu.Input{ProteinSequence: cdk2, Parameters: json.RawMessage(`{"num_diffn_samples": 3, "seed": 1}`)}, ""},
		{"chai example restraints (chains A, B)", gpu.Input{ProteinSequence: cdk2, Parameters: js(map[string]string{"restraints": string(covalent)})}, ""},
		{"restraints naming chain C", gpu.Input{ProteinSequence: cdk2, Parameters: js(map[string]string{"restraints": string(pocket)})}, "restraints"},
		{"restraints without header", gpu.Input{ProteinSequence: cdk2, Parameters: js(map[string]string{"restraints": "A,C217@SG,B,@S1,covalent,1.0,0.0,0.0,x,y"})}, "restraints"},
		{"missing protein", gpu.Input{}, "protein_sequence"},
		{"bad residue", gpu.Input{ProteinSequence: "MKV-LLAAGIVG"}, "protein_sequence"},
		{"samples too many", gpu.Input{ProteinSequence: cdk2, Parameters: json.RawMessage(`{"num_diffn_samples": 50}`)}, "num_diffn_samples"},
		{"unknown parameter", gpu.Input{ProteinSequence: cdk2, Parameters: json.RawMessage(`{"recycling_steps": 3}`)}, "parameters"},
		{"wrong type", gpu.Input{ProteinSequence: cdk2, Parameters: json.RawMessage(`{"seed": "x"}`)}, "seed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Validate(tc.in)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var je *jobs.Error
			if !errors.As(err, &je) || je.Field != tc.field || je.Code != jobs.ErrInvalid {
				t.Fatalf("err = %v, want an invalid error on %s", err, tc.field)
			}
		})
	}
	if _, err := ValidateLigand(gpu.Ligand{SMILES: "c1ccc"}); err == nil {
		t.Error("accepted an unclosed ring")
	}
	if n, err := ValidateLigand(gpu.Ligand{SMILES: "CC(=O)Oc1ccccc1C(=O)O"}); err != nil || n != 13 {
		t.Errorf("aspirin: %d, %v", n, err)
	}
}

func TestFASTA(t *testing.T) {
	t.Parallel()
	f := FASTA("MKTAYIAKQR", "CC(=O)O")
	recs, err := protein.ReadFASTA(strings.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Header != "protein|name=A" || recs[1].Header != "ligand|name=LIG" || recs[1].Sequence != "CC(=O)O" {
		t.Errorf("records %+v", recs)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	err := New(Config{Program: "chai-lab-not-here"}).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "chai-lab-not-here") {
		t.Errorf("Check = %v", err)
	}
}

func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "chai-lab")
	writeScores(t, filepath.Join(dir, "chai-scores"))
	prog := filepath.Join(dir, "chai-lab")
	m := New(Config{Program: prog, MSAServer: true, Device: "cuda:0"})
	var log bytes.Buffer
	covalent, _ := os.ReadFile("../../testdata/chai/8cyo.restraints")
	params, _ := json.Marshal(map[string]any{"num_diffn_samples": 3, "seed": 7, "restraints": string(covalent)})
	task := gpu.Task{JobID: "j1", Input: gpu.Input{ProteinSequence: cdk2, Parameters: params},
		Ligand: gpu.Ligand{Name: "aspirin", SMILES: "CC(=O)Oc1ccccc1C(=O)O"},
		Dir:    t.TempDir(), Exec: gpu.ProcessExecutor{Log: &log}, Log: &log}
	for attempt := range 2 { // a retry in the same folder gets an empty OUTDIR again
		out, err := m.Run(context.Background(), task)
		if err != nil {
			t.Fatalf("attempt %d: %v\n%s", attempt, err, log.String())
		}
		want := float64(float32(0.2*float32(0.85) + 0.8*float32(0.82)))
		if out.Metrics[MetricAggregate] != want || out.Metrics[MetricIPTM] != float64(float32(0.82)) || out.Metrics[MetricClashes] != 0 {
			t.Errorf("metrics %v, want the scores of sample 1 (aggregate %v)", out.Metrics, want)
		}
		d := out.Details.(*Details)
		if d.Samples[0].Index != 1 || len(d.Samples) != 3 || len(d.Warnings) != 0 {
			t.Errorf("details %+v", d)
		}
		for _, name := range []string{"structure.cif", "pred.model_idx_0.cif", "scores.model_idx_1.npz", "scores.model_idx_2.npz"} {
			if _, err := os.Stat(out.Files[name]); err != nil {
				t.Errorf("file %s: %v", name, err)
			}
		}
		if _, err := json.Marshal(d); err != nil {
			t.Error(err)
		}
	}
	calls := standintest.Calls(t, prog)
	if len(calls) != 2 {
		t.Fatalf("%d runs, want 2", len(calls))
	}
	args := strings.Join(calls[0], " ")
	for _, f := range []string{"fold ", "--use-msa-server", "--constraint-path ", "--num-diffn-samples 3", "--seed 7", "--device cuda:0", "--num-trunk-recycles 3", "--num-diffn-timesteps 200"} {
		if !strings.Contains(args, f) {
			t.Errorf("command line lacks %q: %s", f, args)
		}
	}
}

func TestRunPermanentErrors(t *testing.T) {
	t.Parallel()
	m := New(Config{Program: "chai-lab-not-here"})
	task := gpu.Task{Input: gpu.Input{ProteinSequence: strings.Repeat("A", 2000)},
		Ligand: gpu.Ligand{SMILES: strings.Repeat("C", 60)}, Dir: t.TempDir()}
	if _, err := m.Run(context.Background(), task); !gpu.IsPermanent(err) || !strings.Contains(err.Error(), "2048") {
		t.Errorf("over the token limit: %v", err)
	}
	task.Input.ProteinSequence, task.Ligand.SMILES = cdk2, "C1CC"
	if _, err := m.Run(context.Background(), task); !gpu.IsPermanent(err) {
		t.Errorf("bad SMILES: %v", err)
	}
}

// TestStandinChecks: the stand-in refuses what chai-lab refuses.
func TestStandinChecks(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "chai-lab")
	writeScores(t, filepath.Join(dir, "chai-scores"))
	work := t.TempDir()
	fasta := filepath.Join(work, "in.fasta")
	os.WriteFile(fasta, []byte(FASTA(cdk2, "CCO")), 0o644)
	full := filepath.Join(work, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	dup := filepath.Join(work, "dup.fasta")
	os.WriteFile(dup, []byte(">protein|name=A\nMKV\n>ligand|name=A\nCCO\n"), 0o644)
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"ok", []string{"fold", "--num-diffn-samples", "2", fasta, filepath.Join(work, "o1")}, true},
		{"real 8cyo example FASTA", []string{"fold", "--num-diffn-samples", "1", "../../testdata/chai/8cyo.fasta", filepath.Join(work, "o2")}, true},
		{"non-empty OUTDIR", []string{"fold", fasta, full}, false},
		{"unknown flag", []string{"fold", "--num-samples", "2", fasta, filepath.Join(work, "o3")}, false},
		{"boltz flag", []string{"fold", "--use_msa_server", fasta, filepath.Join(work, "o4")}, false},
		{"duplicate names", []string{"fold", dup, filepath.Join(work, "o5")}, false},
		{"missing FASTA", []string{"fold", filepath.Join(work, "none.fasta"), filepath.Join(work, "o6")}, false},
	}
	for _, tc := range tests {
		out, err := exec.Command(filepath.Join(dir, "chai-lab"), tc.args...).CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v\n%s", tc.name, err, tc.ok, out)
		}
	}
}
