package boltz2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"omtx/gpu"
	"omtx/gpu/standin/standintest"
	"omtx/jobs"
	"omtx/results"
)

const (
	fixtures = "../../testdata/boltz/output_boltz2_cdk2/"
	// cdk2 is the protein of the bundled real Boltz-2 run (1ckp_cdk2.yaml).
	cdk2       = "MENFQKVEKIGEGTYGVVYKARNKLTGEVVALKKIRLDTETEGVPSTAIREISLLKELNHPNIVKLLDVIHTENKLYLVFEFLHQDLKKFMDASALTGIPLPLIKSYLFQLLQGLAFCHSHRVLHRDLKPQNLLINTEGAIKLADFGLARAFGVPVRTYTHEVVTLWYRAPEILLGCKYYSTAVDIWSLGCIFAEMVTRRALFPGDSEIDQLFRIFRTLGTPDEVVWPGVTSMPDYKPSFPKWARQDFSKVVPPLDEDGRSLLSQMLHYDPNKRISAKAALAHPFFQDVTKPVPHLRL"
	ligand1ckp = "CC(C)[C@H](CO)Nc1nc(Nc2ccc(C(=O)O)c(Cl)c2)c2ncn(C(C)C)c2n1"
)

// Values of the bundled real run (affinity_1ckp_cdk2.json,
// confidence_1ckp_cdk2_model_0.json).
const (
	wantAffinity    = -1.075978398323059
	wantProbability = 0.579107403755188
	wantConfidence  = 0.9600597620010376
	wantPLDDT       = 0.9542674422264099
)

func TestMetricDirections(t *testing.T) {
	t.Parallel()
	want := map[string]struct {
		better results.Direction
		unit   string
	}{
		MetricAffinity:      {results.LowerIsBetter, "log10(IC50/uM)"},
		MetricAffinity1:     {results.LowerIsBetter, "log10(IC50/uM)"},
		MetricAffinity2:     {results.LowerIsBetter, "log10(IC50/uM)"},
		MetricProbability:   {results.HigherIsBetter, "probability (0-1)"},
		MetricProbability1:  {results.HigherIsBetter, "probability (0-1)"},
		MetricProbability2:  {results.HigherIsBetter, "probability (0-1)"},
		MetricPIC50:         {results.HigherIsBetter, "-log10(IC50/M)"},
		MetricDeltaG:        {results.LowerIsBetter, "kcal/mol"},
		MetricConfidence:    {results.HigherIsBetter, "score (0-1)"},
		MetricPTM:           {results.HigherIsBetter, "score (0-1)"},
		MetricIPTM:          {results.HigherIsBetter, "score (0-1)"},
		MetricLigandIPTM:    {results.HigherIsBetter, "score (0-1)"},
		MetricProteinIPTM:   {results.HigherIsBetter, "score (0-1)"},
		MetricComplexPLDDT:  {results.HigherIsBetter, "score (0-1)"},
		MetricComplexIPLDDT: {results.HigherIsBetter, "score (0-1)"},
		MetricComplexPDE:    {results.LowerIsBetter, "Angstrom"},
		MetricComplexIPDE:   {results.LowerIsBetter, "Angstrom"},
		MetricProteinPTM:    {results.HigherIsBetter, "score (0-1)"},
		MetricPairIPTM:      {results.HigherIsBetter, "score (0-1)"},
	}
	info := New(Config{}).Info()
	if len(info.Metrics) != len(want) {
		t.Errorf("%d metrics, want %d", len(info.Metrics), len(want))
	}
	for _, m := range info.Metrics {
		w, ok := want[m.Name]
		if !ok {
			t.Errorf("unexpected metric %s", m.Name)
			continue
		}
		if m.Better != w.better || m.Unit != w.unit {
			t.Errorf("%s: %s %q, want %s %q", m.Name, m.Better, m.Unit, w.better, w.unit)
		}
	}
	p, ok := info.Primary()
	if !ok || p.Name != MetricAffinity || p.Better != results.LowerIsBetter {
		t.Errorf("primary = %+v, want affinity_pred_value, lower is better", p)
	}
	if info.Name != "boltz2" || info.Resource != gpu.GPU || !info.Ligands {
		t.Errorf("info = %s %s ligands=%v", info.Name, info.Resource, info.Ligands)
	}
	// Every metric the adapter reports is declared, and the reverse.
	c, a := fixtureOutputs(t)
	got := Metrics(c, a)
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("Metrics lacks %s", name)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Metrics has %d values, want %d", len(got), len(want))
	}
}

func fixtureOutputs(t *testing.T) (Confidence, Affinity) {
	t.Helper()
	cb, err := os.ReadFile(fixtures + "confidence_1ckp_cdk2_model_0.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseConfidence(cb)
	if err != nil {
		t.Fatal(err)
	}
	a, err := readAffinity(fixtures + "affinity_1ckp_cdk2.json")
	if err != nil {
		t.Fatal(err)
	}
	return c, a
}

func TestParseRealOutput(t *testing.T) {
	t.Parallel()
	c, a := fixtureOutputs(t)
	m := Metrics(c, a)
	tests := []struct {
		name string
		want float64
	}{
		{MetricAffinity, wantAffinity},
		{MetricProbability, wantProbability},
		{MetricAffinity1, -1.0481351613998413},
		{MetricProbability1, 0.6532450914382935},
		{MetricAffinity2, -1.1038216352462769},
		{MetricProbability2, 0.5049697756767273},
		{MetricPIC50, 6 + 1.075978398323059},
		{MetricDeltaG, -1.364 * (6 + 1.075978398323059)},
		{MetricConfidence, wantConfidence},
		{MetricPTM, 0.9778453707695007},
		{MetricIPTM, 0.9832287430763245},
		{MetricLigandIPTM, 0.9832287430763245},
		{MetricProteinIPTM, 0},
		{MetricComplexPLDDT, wantPLDDT},
		{MetricComplexIPLDDT, 0.9411542415618896},
		{MetricComplexPDE, 0.3201996684074402},
		{MetricComplexIPDE, 0.399920791387558},
		{MetricProteinPTM, 0.978345513343811},
		{MetricPairIPTM, 0.6996849775314331},
	}
	for _, tc := range tests {
		if got := m[tc.name]; math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	if c.ChainsPTM["1"] != 0.9270649552345276 || c.PairChainsIPTM["0"]["1"] != 0.6996849775314331 {
		t.Errorf("chains: %v %v", c.ChainsPTM, c.PairChainsIPTM)
	}
	// pIC50 7.08 is about 83 nM; the free energy is negative (favourable).
	if m[MetricDeltaG] > -9.6 || m[MetricDeltaG] < -9.7 {
		t.Errorf("delta G = %v kcal/mol, want about -9.65", m[MetricDeltaG])
	}
}

func TestParseRejectsIncompleteOutput(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, affinity string }{
		{"truncated", `{"affinity_pred_value": -1.0, "affinity_probability_binary": 0.5,`},
		{"missing key", `{"affinity_pred_value": -1.0, "affinity_probability_binary": 0.5}`},
		{"null", `{"affinity_pred_value": null, "affinity_probability_binary": 0.5, "affinity_pred_value1": 1, "affinity_probability_binary1": 0.5, "affinity_pred_value2": 1, "affinity_probability_binary2": 0.5}`},
		{"probability above 1", `{"affinity_pred_value": -1.0, "affinity_probability_binary": 1.5, "affinity_pred_value1": 1, "affinity_probability_binary1": 0.5, "affinity_pred_value2": 1, "affinity_probability_binary2": 0.5}`},
	}
	for _, tc := range tests {
		if _, err := parseAffinity([]byte(tc.affinity)); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := parseConfidence([]byte(`{"confidence_score": 0.9}`)); err == nil {
		t.Error("accepted a confidence JSON without ptm, iptm, ...")
	}
}

// TestRankingDirection ranks two Boltz outputs the way the results table
// does (results.Metric.Less): the lower affinity_pred_value first, the
// higher binding probability first. A wrong sign is a wrong product.
func TestRankingDirection(t *testing.T) {
	t.Parallel()
	c, a := fixtureOutputs(t)
	tight := a // -1.08: IC50 about 84 nM
	weak := a
	weak.PredValue, weak.ProbabilityBinary = 1.5, 0.2 // IC50 about 32 uM
	outs := []map[string]float64{Metrics(c, weak), Metrics(c, tight)}
	info := New(Config{}).Info()
	byName := map[string]results.Metric{}
	for _, m := range info.Metrics {
		byName[m.Name] = m
	}
	tests := []struct {
		metric string
		first  float64
	}{
		{MetricAffinity, tight.PredValue},
		{MetricProbability, tight.ProbabilityBinary},
		{MetricPIC50, 6 - tight.PredValue},
		{MetricDeltaG, -1.364 * (6 - tight.PredValue)},
	}
	for _, tc := range tests {
		m := byName[tc.metric]
		ranked := append([]map[string]float64(nil), outs...)
		sort.SliceStable(ranked, func(i, j int) bool { return m.Less(ranked[i][tc.metric], ranked[j][tc.metric]) })
		if got := ranked[0][tc.metric]; math.Abs(got-tc.first) > 1e-12 {
			t.Errorf("ranked by %s: first is %v, want the tighter binder's %v", tc.metric, got, tc.first)
		}
	}
	// The primary metric puts the tight binder first too.
	p, _ := info.Primary()
	if !p.Less(tight.PredValue, weak.PredValue) {
		t.Error("primary metric ranks the weaker binder first")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	m := New(Config{})
	params := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name  string
		in    gpu.Input
		field string // "" for valid
	}{
		{"valid defaults", gpu.Input{ProteinSequence: cdk2}, ""},
		{"valid lower case with spaces", gpu.Input{ProteinSequence: strings.ToLower(cdk2[:60]) + "\n" + cdk2[60:]}, ""},
		{"valid parameters", gpu.Input{ProteinSequence: cdk2, Parameters: params(`{"diffusion_samples": 5, "seed": 7, "use_potentials": true}`)}, ""},
		{"missing protein", gpu.Input{}, "protein_sequence"},
		{"too short", gpu.Input{ProteinSequence: "MKV"}, "protein_sequence"},
		{"unknown residue", gpu.Input{ProteinSequence: cdk2[:50] + "X" + cdk2[50:]}, "protein_sequence"},
		{"digits", gpu.Input{ProteinSequence: "1 " + cdk2}, "protein_sequence"},
		{"too long", gpu.Input{ProteinSequence: strings.Repeat("A", 2001)}, "protein_sequence"},
		{"recycling out of range", gpu.Input{ProteinSequence: cdk2, Parameters: params(`{"recycling_steps": 50}`)}, "recycling_steps"},
		{"samples zero", gpu.Input{ProteinSequence: cdk2, Parameters: params(`{"diffusion_samples": 0}`)}, "diffusion_samples"},
		{"wrong type", gpu.Input{ProteinSequence: cdk2, Parameters: params(`{"sampling_steps": "many"}`)}, "sampling_steps"},
		{"unknown parameter", gpu.Input{ProteinSequence: cdk2, Parameters: params(`{"num_samples": 3}`)}, "parameters"},
		{"negative seed", gpu.Input{ProteinSequence: cdk2, Parameters: params(`{"seed": -1}`)}, "seed"},
		{"msa of another protein", gpu.Input{ProteinSequence: cdk2, Parameters: params(`{"msa": ">q\nMKVLAAGIVGLLLAAAS\n"}`)}, "msa"},
		{"msa not a3m", gpu.Input{ProteinSequence: cdk2, Parameters: params(`{"msa": "MENFQ"}`)}, "msa"},
		{"msa of the protein", gpu.Input{ProteinSequence: cdk2, Parameters: mustJSON(t, map[string]string{"msa": ">101\n" + cdk2 + "\n>hit\n" + strings.ToLower(cdk2[:3]) + "-" + cdk2[4:] + "\n"})}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Validate(tc.in)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var je *jobs.Error
			if !errors.As(err, &je) || je.Code != jobs.ErrInvalid || je.Field != tc.field {
				t.Fatalf("err = %#v, want an invalid error on %q", err, tc.field)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateLigand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		smiles  string
		heavy   int
		warn    bool
		wantErr bool
	}{
		{"1ckp ligand", ligand1ckp, 30, false, false},
		{"imatinib", "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1", 37, false, false},
		{"60 carbons warns", strings.Repeat("C", 60), 60, true, false},
		{"128 carbons allowed", strings.Repeat("C", 128), 128, true, false},
		{"129 carbons rejected", strings.Repeat("C", 129), 129, false, true},
		{"bad valence", "C(C)(C)(C)(C)C", 0, false, true},
		{"unclosed ring", "c1ccccc", 0, false, true},
		{"empty", " ", 0, false, true},
		{"embedded newline", "CC\nO", 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ValidateLigand(gpu.Ligand{SMILES: tc.smiles})
			if tc.wantErr {
				var je *jobs.Error
				if !errors.As(err, &je) || je.Field != "smiles" {
					t.Fatalf("err = %v, want a smiles field error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.HeavyAtoms != tc.heavy || (c.Warning != "") != tc.warn {
				t.Errorf("got %d heavy atoms, warning %q; want %d, warn=%v", c.HeavyAtoms, c.Warning, tc.heavy, tc.warn)
			}
		})
	}
}

func TestInputYAML(t *testing.T) {
	t.Parallel()
	got, err := inputYAML("MKTAYIAKQR", "/cache/msa/x.csv", "N[C@@H](Cc1ccc(O)cc1)C(=O)O")
	if err != nil {
		t.Fatal(err)
	}
	// The layout of boltz's examples/affinity.yaml.
	want := `version: 1
sequences:
  - protein:
      id: A
      sequence: MKTAYIAKQR
      msa: '/cache/msa/x.csv'
  - ligand:
      id: B
      smiles: 'N[C@@H](Cc1ccc(O)cc1)C(=O)O'
properties:
  - affinity:
      binder: B
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	tests := []struct{ in, want string }{
		{"CC(=O)O", "'CC(=O)O'"},
		{"C#N", "'C#N'"}, // '#' would start a comment in a plain scalar
		{"[O-]C(=O)C: x", "'[O-]C(=O)C: x'"},
		{"it's", "'it''s'"},
		{"/path with space/msa.a3m", "'/path with space/msa.a3m'"},
	}
	for _, tc := range tests {
		if q, err := quoteYAML(tc.in); err != nil || q != tc.want {
			t.Errorf("quoteYAML(%q) = %q, %v; want %q", tc.in, q, err, tc.want)
		}
	}
	if _, err := quoteYAML("C\nC"); err == nil {
		t.Error("quoteYAML accepted a newline")
	}
	empty, _ := inputYAML("MKTAYIAKQR", "empty", "CCO")
	if !strings.Contains(empty, "      msa: empty\n") {
		t.Errorf("single-sequence input lacks msa: empty:\n%s", empty)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	err := New(Config{Program: "boltz-not-installed-here"}).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "boltz-not-installed-here") || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("Check = %v, want a not-installed error naming the program", err)
	}
	err = New(Config{Program: filepath.Join(t.TempDir(), "boltz")}).Check(context.Background())
	if err == nil {
		t.Error("Check passed for a missing absolute path")
	}
	dir := standintest.Build(t, "boltz")
	if err := New(Config{Program: filepath.Join(dir, "boltz")}).Check(context.Background()); err != nil {
		t.Errorf("Check with an installed program: %v", err)
	}
	err = New(Config{Program: filepath.Join(dir, "boltz"), CacheDir: filepath.Join(dir, "no-weights")}).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no-weights") {
		t.Errorf("Check = %v, want a missing weights error", err)
	}
}

// result is one done() call.
type result struct {
	out *gpu.Output
	err error
}

type collector struct {
	mu  sync.Mutex
	got map[int][]result
}

func (c *collector) done(i int, out *gpu.Output, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got == nil {
		c.got = map[int][]result{}
	}
	c.got[i] = append(c.got[i], result{out, err})
}

func newTasks(t *testing.T, cache *gpu.Cache, log *bytes.Buffer, in gpu.Input, ligands ...gpu.Ligand) []gpu.Task {
	t.Helper()
	exec := gpu.ProcessExecutor{Log: log}
	var tasks []gpu.Task
	for i, l := range ligands {
		tasks = append(tasks, gpu.Task{JobID: "job-" + string(rune('a'+i)), Input: in, Ligand: l,
			Dir: t.TempDir(), Cache: cache, Exec: exec, Log: log})
	}
	return tasks
}

func predictCalls(calls [][]string) (predict, msa int) {
	for _, c := range calls {
		if containsArg(c, "--use_msa_server") {
			msa++
		} else {
			predict++
		}
	}
	return
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// TestRunManyEndToEnd runs three ligands against one protein through the
// process executor and the stand-in: the MSA is computed once, ONE boltz
// process predicts all three, and each task's real output files are parsed
// and kept.
func TestRunManyEndToEnd(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "boltz")
	prog := filepath.Join(dir, "boltz")
	cache, err := gpu.NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := New(Config{Program: prog, MSAServer: true, PollInterval: 5 * time.Millisecond})
	var log bytes.Buffer
	in := gpu.Input{ProteinSequence: cdk2, Parameters: json.RawMessage(`{"diffusion_samples": 2, "seed": 42}`)}
	ligands := []gpu.Ligand{
		{Name: "1ckp", SMILES: ligand1ckp},
		{Name: "imatinib", SMILES: "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"},
		{Name: "aspirin", SMILES: "CC(=O)Oc1ccccc1C(=O)O"},
	}
	tasks := newTasks(t, cache, &log, in, ligands...)
	var c collector
	if err := m.RunMany(context.Background(), tasks, c.done); err != nil {
		t.Fatalf("RunMany: %v\n%s", err, log.String())
	}
	calls := standintest.Calls(t, prog)
	predict, msa := predictCalls(calls)
	if predict != 1 || msa != 1 {
		t.Fatalf("boltz ran %d prediction and %d MSA processes, want 1 and 1: %q", predict, msa, calls)
	}
	pred := calls[len(calls)-1]
	for _, f := range []string{"--out_dir", "--accelerator", "--devices", "--output_format", "--override", "--diffusion_samples", "--seed", "--write_full_pae"} {
		if !containsArg(pred, f) {
			t.Errorf("prediction command lacks %s: %q", f, pred)
		}
	}
	for i, task := range tasks {
		rs := c.got[i]
		if len(rs) != 1 {
			t.Fatalf("task %d: done called %d times", i, len(rs))
		}
		if rs[0].err != nil {
			t.Fatalf("task %d: %v\n%s", i, rs[0].err, log.String())
		}
		out := rs[0].out
		if out.Metrics[MetricAffinity] != wantAffinity || out.Metrics[MetricProbability] != wantProbability || out.Metrics[MetricConfidence] != wantConfidence {
			t.Errorf("task %d metrics = %v", i, out.Metrics)
		}
		stem := strings.ReplaceAll(task.JobID, "/", "")
		for _, name := range []string{"structure.cif", "affinity_" + stem + ".json",
			"confidence_" + stem + "_model_0.json", "confidence_" + stem + "_model_1.json",
			"plddt_" + stem + "_model_0.npz", "pae_" + stem + "_model_0.npz", stem + "_model_1.cif"} {
			path, ok := out.Files[name]
			if !ok {
				t.Errorf("task %d: no file %s in %v", i, name, out.Files)
				continue
			}
			if !strings.HasPrefix(path, task.Dir+string(filepath.Separator)) {
				t.Errorf("task %d: %s at %s, not in the task's folder", i, name, path)
			}
			if _, err := os.Stat(path); err != nil {
				t.Error(err)
			}
		}
		cif, _ := os.ReadFile(out.Files["structure.cif"])
		if !bytes.Contains(cif, []byte("LIG1")) {
			t.Errorf("task %d: structure.cif is not the model_0 mmCIF", i)
		}
		d := out.Details.(*Details)
		if d.MSA.Mode != MSAServer || len(d.Models) != 2 || d.Ligand.SMILES != ligands[i].SMILES {
			t.Errorf("task %d details: msa %s, %d models, ligand %q", i, d.MSA.Mode, len(d.Models), d.Ligand.SMILES)
		}
		if len(d.PLDDT) != 328 || math.Abs(d.PLDDTMean-wantPLDDT) > 1e-4 {
			t.Errorf("task %d: %d pLDDT values, mean %v; want 328, mean %v (complex_plddt)", i, len(d.PLDDT), d.PLDDTMean, wantPLDDT)
		}
		// The stand-in writes the CDK2 run's files for every ligand: only
		// for the 1ckp ligand do the pLDDT tokens match residues + atoms.
		if tokenWarning := strings.Contains(strings.Join(d.Warnings, ";"), "pLDDT has 328 tokens"); tokenWarning != (i != 0) {
			t.Errorf("task %d: warnings %q", i, d.Warnings)
		}
		if _, err := json.Marshal(out.Details); err != nil {
			t.Errorf("details do not encode: %v", err)
		}
	}
	// Every input YAML used the cached MSA.
	inputs, _ := filepath.Glob(filepath.Join(tasks[0].Dir, "boltz-batch-*", "in", "*.yaml"))
	if len(inputs) != 3 {
		t.Fatalf("%d input files, want 3", len(inputs))
	}
	for _, p := range inputs {
		b, _ := os.ReadFile(p)
		if !strings.Contains(string(b), "msa.csv'") || !strings.Contains(string(b), "binder: B") {
			t.Errorf("%s:\n%s", p, b)
		}
	}

	// A second batch for the same protein reuses the cached MSA: no new
	// MSA run, one more prediction run.
	tasks2 := newTasks(t, cache, &log, in, gpu.Ligand{Name: "ethanol", SMILES: "CCO"})
	out, err := m.Run(context.Background(), tasks2[0])
	if err != nil {
		t.Fatal(err)
	}
	if out.Metrics[MetricAffinity] != wantAffinity {
		t.Errorf("single run metrics = %v", out.Metrics)
	}
	predict, msa = predictCalls(standintest.Calls(t, prog))
	if predict != 2 || msa != 1 {
		t.Errorf("after a second batch: %d prediction and %d MSA runs, want 2 and 1", predict, msa)
	}
}

func TestRunManyModes(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "boltz")
	prog := filepath.Join(dir, "boltz")
	a3m := ">101\n" + cdk2 + "\n>hit\n" + cdk2 + "\n"
	tests := []struct {
		name     string
		server   bool
		params   string
		wantMode string
		wantMSA  string // in the YAML
		warn     bool
	}{
		{"server disabled: single sequence", false, `{}`, MSASingleSequence, "msa: empty", true},
		{"user MSA", true, string(mustJSON(t, map[string]string{"msa": a3m})), MSAUser, "msa.a3m'", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cache, _ := gpu.NewCache(t.TempDir())
			m := New(Config{Program: prog, MSAServer: tc.server, PollInterval: time.Hour})
			var log bytes.Buffer
			in := gpu.Input{ProteinSequence: cdk2, Parameters: json.RawMessage(tc.params)}
			tasks := newTasks(t, cache, &log, in, gpu.Ligand{SMILES: ligand1ckp})
			out, err := m.Run(context.Background(), tasks[0])
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			d := out.Details.(*Details)
			if d.MSA.Mode != tc.wantMode || (len(d.Warnings) > 0) != tc.warn {
				t.Errorf("mode %s warnings %q", d.MSA.Mode, d.Warnings)
			}
			inputs, _ := filepath.Glob(filepath.Join(tasks[0].Dir, "boltz-batch-*", "in", "*.yaml"))
			b, _ := os.ReadFile(inputs[0])
			if !strings.Contains(string(b), tc.wantMSA) {
				t.Errorf("input lacks %q:\n%s", tc.wantMSA, b)
			}
		})
	}
	// The runs above share the stand-in: none of them used the MSA server.
	if _, msa := predictCalls(standintest.Calls(t, prog)); msa != 0 {
		t.Errorf("%d MSA server runs, want 0", msa)
	}
}

// TestRunManyBadLigand: a ligand that fails validation is reported as a
// permanent failure and never reaches boltz; the others still run.
func TestRunManyBadLigand(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "boltz")
	prog := filepath.Join(dir, "boltz")
	m := New(Config{Program: prog, PollInterval: time.Hour})
	var log bytes.Buffer
	tasks := newTasks(t, nil, &log, gpu.Input{ProteinSequence: cdk2},
		gpu.Ligand{SMILES: "CCO"}, gpu.Ligand{SMILES: "C1CC"}, gpu.Ligand{SMILES: strings.Repeat("C", 200)})
	var c collector
	if err := m.RunMany(context.Background(), tasks, c.done); err != nil {
		t.Fatal(err)
	}
	if r := c.got[0]; len(r) != 1 || r[0].err != nil {
		t.Errorf("good ligand: %+v", r)
	}
	for _, i := range []int{1, 2} {
		if r := c.got[i]; len(r) != 1 || !gpu.IsPermanent(r[0].err) || r[0].out != nil {
			t.Errorf("bad ligand %d: %+v", i, r)
		}
	}
	calls := standintest.Calls(t, prog)
	if len(calls) != 1 {
		t.Fatalf("%d boltz runs, want 1", len(calls))
	}
	inputs, _ := os.ReadDir(calls[0][1])
	if len(inputs) != 1 {
		t.Errorf("boltz got %d inputs, want only the valid one", len(inputs))
	}
}

// TestRunManyEngineFailure: when boltz exits with an error and writes
// nothing, RunMany returns the error and reports no task.
func TestRunManyEngineFailure(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "boltz")
	m := New(Config{Program: filepath.Join(dir, "boltz"), Accelerator: "quantum", PollInterval: time.Hour})
	var log bytes.Buffer
	tasks := newTasks(t, nil, &log, gpu.Input{ProteinSequence: cdk2}, gpu.Ligand{SMILES: "CCO"})
	var c collector
	err := m.RunMany(context.Background(), tasks, c.done)
	if err == nil || len(c.got) != 0 {
		t.Fatalf("err = %v, done calls %v", err, c.got)
	}
	if !strings.Contains(log.String(), "--accelerator") {
		t.Errorf("the engine's message is not in the log:\n%s", log.String())
	}
}

// TestStandinRejectsUnknownFlags: the stand-in refuses flags boltz does
// not have (the system this replaces called some and got constants back).
func TestStandinRejectsUnknownFlags(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "boltz")
	in := filepath.Join(t.TempDir(), "x.yaml")
	y, _ := inputYAML(cdk2, "empty", "CCO")
	os.WriteFile(in, []byte(y), 0o644)
	tests := []struct {
		args []string
		ok   bool
	}{
		{[]string{"predict", in, "--out_dir", t.TempDir()}, true},
		{[]string{"predict", in, "--out_dir", t.TempDir(), "--num_samples", "3"}, false},
		{[]string{"predict", in, "--out_dir", t.TempDir(), "--predict_affinity"}, false},
		{[]string{"predict", in, "--recycling_steps", "three"}, false},
		{[]string{"predict", filepath.Join(t.TempDir(), "missing.yaml")}, false},
		{[]string{"fold", in}, false},
	}
	for _, tc := range tests {
		out, err := exec.Command(filepath.Join(dir, "boltz"), tc.args...).CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("boltz %q: err %v, want ok=%v\n%s", tc.args, err, tc.ok, out)
		}
	}
}

// TestRunManyReportsBeforeExit: each task is reported as soon as its
// affinity JSON is complete, while boltz is still running (the stand-in
// holds after writing until the test lets it go).
func TestRunManyReportsBeforeExit(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "boltz")
	hold := filepath.Join(dir, "boltz.hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(Config{Program: filepath.Join(dir, "boltz"), PollInterval: 5 * time.Millisecond})
	var log bytes.Buffer
	tasks := newTasks(t, nil, &log, gpu.Input{ProteinSequence: cdk2},
		gpu.Ligand{SMILES: "CCO"}, gpu.Ligand{SMILES: "c1ccccc1O"}, gpu.Ligand{SMILES: "CC(=O)O"})
	reported := make(chan int, len(tasks))
	finished := make(chan error, 1)
	go func() {
		finished <- m.RunMany(context.Background(), tasks, func(i int, out *gpu.Output, err error) {
			if err != nil || out == nil {
				t.Errorf("task %d: %v", i, err)
			}
			reported <- i
		})
	}()
	for range tasks {
		select {
		case <-reported:
		case err := <-finished:
			t.Fatalf("RunMany returned (%v) before reporting every task while boltz was held", err)
		}
	}
	select {
	case err := <-finished:
		t.Fatalf("RunMany returned (%v) while boltz was still running", err)
	default:
	}
	os.Remove(hold)
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	if len(reported) != 0 {
		t.Errorf("%d extra reports", len(reported))
	}
}

// TestRunManyCancelled: cancelling the context kills boltz and RunMany
// returns the cause without reporting unfinished tasks as done.
func TestRunManyCancelled(t *testing.T) {
	t.Parallel()
	dir := standintest.Build(t, "boltz")
	hold := filepath.Join(dir, "boltz.hold")
	os.WriteFile(hold, nil, 0o644)
	defer os.Remove(hold)
	m := New(Config{Program: filepath.Join(dir, "boltz"), PollInterval: time.Hour})
	var log bytes.Buffer
	tasks := newTasks(t, nil, &log, gpu.Input{ProteinSequence: cdk2}, gpu.Ligand{SMILES: "CCO"})
	ctx, cancel := context.WithCancelCause(context.Background())
	lost := errors.New("lease lost")
	var c collector
	finished := make(chan error, 1)
	go func() { finished <- m.RunMany(ctx, tasks, c.done) }()
	// Wait until boltz has written its outputs and is holding.
	affinity := filepath.Join(tasks[0].Dir, "boltz-batch-*", "out", "boltz_results_in", "predictions", "*", "affinity_*.json")
	for {
		if files, _ := filepath.Glob(affinity); len(files) == 1 {
			break
		}
		select {
		case err := <-finished:
			t.Fatalf("RunMany returned early: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel(lost)
	err := <-finished
	if !errors.Is(err, lost) {
		t.Errorf("err = %v, want the cancellation cause", err)
	}
	if len(c.got) != 0 {
		t.Errorf("done called for %v", c.got)
	}
}
