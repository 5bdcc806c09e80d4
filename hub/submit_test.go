package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"omtx/api"
	"omtx/chem/ligands"
	"omtx/gpu"
	"omtx/jobs"
	"omtx/results"
)

func TestSubmitBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	req := vinaBatch(library...)
	req.Target = "abl1"
	req.Ligands = append(req.Ligands, api.Ligand{Name: "  ", SMILES: " CCO "}) // no name: ligand_6
	resp := e.submit(caller, req)
	if resp.TotalJobs != 6 || resp.StatusURL != "/api/v3/batches/"+resp.BatchID ||
		resp.ResultsURL != "/api/v3/batches/"+resp.BatchID+"/results" || len(resp.Dropped) != 0 {
		t.Fatalf("response %+v", resp)
	}
	b, err := e.store.BatchGet(ctx, "alice", resp.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	var in gpu.Input
	if err := json.Unmarshal(b.Input, &in); err != nil {
		t.Fatal(err)
	}
	if in.Target != "ABL1" || in.ProteinName != "ABL1 kinase" || string(in.Parameters) != `{"exhaustiveness":4}` {
		t.Fatalf("parent input %s", b.Input)
	}
	if b.Name != "kinase screen" || b.Model != "vina" || b.ModelVersion != vina_version() || b.RequestID != "req-1" {
		t.Fatalf("parent %+v", b.Job)
	}
	kids, err := e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: resp.BatchID})
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 6 {
		t.Fatalf("%d children", len(kids))
	}
	var last gpu.Ligand
	json.Unmarshal(kids[5].Input, &last)
	if last.Name != "ligand_6" || last.SMILES != "CCO" || kids[5].Name != "ligand_6" {
		t.Fatalf("unnamed ligand stored as %+v (%s)", last, kids[5].Name)
	}
	for _, k := range kids {
		if k.ContentKey == "" {
			t.Fatalf("child %d has no content key", k.Index)
		}
	}
	// The batch's files are written at submission.
	for _, name := range []string{results.FileBatchIndex, results.FileBatchMetadata} {
		r, err := e.res.Get(ctx, results.BatchDir(resp.BatchID)+"/"+name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r.Close()
	}

	// The same work again, with the parameters written another way and the
	// protein named otherwise, reuses the completed children.
	e.work("vina", vinaDecide)
	again := vinaBatch(library[:2]...)
	again.Parameters = json.RawMessage(`{ "exhaustiveness" : 4 }`)
	again.ProteinName = "c-Abl"
	again.Ligands[0].Name = "Gleevec"
	r2 := e.submit(caller, again)
	kids2, _ := e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: r2.BatchID})
	for _, k := range kids2 {
		if k.Status != jobs.StatusCompleted || k.ReusedFrom == "" {
			t.Fatalf("identical work not reused: %s %q", k.Status, k.ReusedFrom)
		}
	}
	// Other parameters are other work.
	other := vinaBatch(library[:1]...)
	other.Parameters = json.RawMessage(`{"exhaustiveness": 5}`)
	r3 := e.submit(caller, other)
	kids3, _ := e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: r3.BatchID})
	if kids3[0].Status != jobs.StatusPending || kids3[0].ReusedFrom != "" {
		t.Fatalf("different parameters reused: %s", kids3[0].Status)
	}
}

func vina_version() string { return "1.0.0" }

func TestSubmitBadRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	ligs := []api.Ligand{
		library[0],
		{Name: "ring", SMILES: "C1CC"},
		library[1],
		{Name: "empty", SMILES: ""},
		{Name: "valence", SMILES: "C(C)(C)(C)(C)C"},
	}
	_, err := e.svc.SubmitBatch(ctx, caller, vinaBatch(ligs...))
	ps := wantProblems(t, err)
	if len(ps) != 3 || ps[0].Row != 2 || ps[1].Row != 4 || ps[2].Row != 5 {
		t.Fatalf("problems %+v", ps)
	}
	if ps[0].Field != "smiles" || ps[0].Name != "ring" || ps[0].Code != ligands.CodeInvalidSMILES || !strings.Contains(ps[0].Message, "position") {
		t.Fatalf("problem %+v", ps[0])
	}
	if ps[1].Code != ligands.CodeMissingSMILES {
		t.Fatalf("problem %+v", ps[1])
	}
	if list, _ := e.store.BatchList(ctx, jobs.BatchFilter{UserID: "alice"}); len(list) != 0 {
		t.Fatalf("a refused batch was recorded")
	}

	// drop_invalid submits the rest and lists what it left out.
	req := vinaBatch(ligs...)
	req.DropInvalid = true
	resp := e.submit(caller, req)
	if resp.TotalJobs != 2 || len(resp.Dropped) != 3 {
		t.Fatalf("response %+v", resp)
	}
	d := resp.Dropped[0]
	if d.Index != 1 || d.Name != "ring" || d.SMILES != "C1CC" || d.Valid || d.Error == nil || d.Error.Field != "smiles" || d.Error.Code != "invalid" {
		t.Fatalf("dropped %+v", d)
	}
	kids, _ := e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: resp.BatchID})
	if len(kids) != 2 || kids[0].Name != "imatinib" || kids[1].Name != "aspirin" {
		t.Fatalf("children %q %q", kids[0].Name, kids[1].Name)
	}

	// Nothing valid is refused even with drop_invalid.
	req = vinaBatch(ligs[1], ligs[3])
	req.DropInvalid = true
	_, err = e.svc.SubmitBatch(ctx, caller, req)
	if ps := wantProblems(t, err); ps[0].Code != ligands.CodeNoValid || len(ps) != 3 {
		t.Fatalf("problems %+v", ps)
	}

	// A model's own ligand rules: Boltz-2 takes at most 128 heavy atoms.
	big := api.Ligand{Name: "big", SMILES: strings.Repeat("C", 130)}
	_, err = e.svc.SubmitBatch(ctx, caller, api.SubmitBatchRequest{ModelName: "boltz2",
		ProteinSequence: "MKTAYIAKQRQISFVKSHFSRQ", Ligands: []api.Ligand{library[1], big}})
	ps = wantProblems(t, err)
	if len(ps) != 1 || ps[0].Row != 2 || ps[0].Code != CodeModelRejected || !strings.Contains(ps[0].Message, "128") {
		t.Fatalf("boltz problems %+v", ps)
	}
}

func TestSubmitFieldErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	many := make([]api.Ligand, 101)
	for i := range many {
		many[i] = api.Ligand{Name: "l", SMILES: "CCO"}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*api.SubmitBatchRequest)
		field string
		msg   string
	}{
		{"unknown model", func(r *api.SubmitBatchRequest) { r.ModelName = "alphafold" }, "model_name", "boltz2, chai1, rfantibody, vina"},
		{"no model", func(r *api.SubmitBatchRequest) { r.ModelName = "" }, "model_name", "required"},
		{"not accepted", func(r *api.SubmitBatchRequest) { r.ModelName = "chai1" }, "model_name", "cannot run here"},
		{"no target", func(r *api.SubmitBatchRequest) { r.Target = "" }, "target", "ABL1"},
		{"unknown target", func(r *api.SubmitBatchRequest) { r.Target = "KRAS" }, "target", "unknown target"},
		{"parameter out of range", func(r *api.SubmitBatchRequest) { r.Parameters = json.RawMessage(`{"exhaustiveness": 99}`) },
			"parameters.exhaustiveness", "between 1 and 32"},
		{"unknown parameter", func(r *api.SubmitBatchRequest) { r.Parameters = json.RawMessage(`{"speed": 1}`) }, "parameters", "unknown parameter"},
		{"parameters not an object", func(r *api.SubmitBatchRequest) { r.Parameters = json.RawMessage(`[1]`) }, "parameters", "JSON object"},
		{"no ligands", func(r *api.SubmitBatchRequest) { r.Ligands = nil }, "ligands", "at least one"},
		{"tier cap", func(r *api.SubmitBatchRequest) { r.Ligands = many }, "ligands", "limit of 100"},
		{"webhook scheme", func(r *api.SubmitBatchRequest) {
			r.Webhook = &api.Webhook{URL: "ftp://example.org/hook", Secret: "0123456789abcdef"}
		}, "webhook.url", "http or https"},
		{"webhook host", func(r *api.SubmitBatchRequest) {
			r.Webhook = &api.Webhook{URL: "https:///hook", Secret: "0123456789abcdef"}
		}, "webhook.url", "host"},
		{"webhook secret", func(r *api.SubmitBatchRequest) {
			r.Webhook = &api.Webhook{URL: "https://example.org/hook", Secret: "short"}
		}, "webhook.secret", "16"},
		{"job name", func(r *api.SubmitBatchRequest) { r.JobName = strings.Repeat("x", 201) }, "job_name", "200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := vinaBatch(library[:2]...)
			tc.edit(&req)
			_, err := e.svc.SubmitBatch(ctx, caller, req)
			je := wantCode(t, err, jobs.ErrInvalid, tc.field)
			if !strings.Contains(je.Message, tc.msg) {
				t.Fatalf("message %q lacks %q", je.Message, tc.msg)
			}
		})
	}
	// Boltz-2 needs a protein sequence, checked by the model.
	_, err := e.svc.SubmitBatch(ctx, caller, api.SubmitBatchRequest{ModelName: "boltz2", Ligands: library[:1]})
	wantCode(t, err, jobs.ErrInvalid, "protein_sequence")
	_, err = e.svc.SubmitBatch(ctx, caller, api.SubmitBatchRequest{ModelName: "boltz2", ProteinSequence: "MKTAYIAKQRQISFVKSHFSRQ",
		Ligands: library[:1], Parameters: json.RawMessage(`{"recycling_steps": 0}`)})
	wantCode(t, err, jobs.ErrInvalid, "parameters.recycling_steps")

	// A good webhook is kept on the batch; a sequence is stored cleaned.
	req := api.SubmitBatchRequest{ModelName: "boltz2", ProteinSequence: " mktayiakqr\nqisfvkshfsrq* ", Ligands: library[:1],
		Webhook: &api.Webhook{URL: "https://example.org/hook", Secret: "0123456789abcdef"}}
	resp := e.submit(Caller{UserID: "alice"}, req)
	b, _ := e.store.BatchGet(ctx, "alice", resp.BatchID)
	if b.Webhook == nil || b.Webhook.URL != "https://example.org/hook" || b.Webhook.Secret != "0123456789abcdef" {
		t.Fatalf("webhook %+v", b.Webhook)
	}
	var in gpu.Input
	json.Unmarshal(b.Input, &in)
	if in.ProteinSequence != "MKTAYIAKQRQISFVKSHFSRQ" {
		t.Fatalf("sequence stored as %q", in.ProteinSequence)
	}
	if b.Name != "boltz2 screen of 1 ligands" {
		t.Fatalf("default name %q", b.Name)
	}
}

func TestSubmitLibrary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f, err := os.Open("testdata/kinase_inhibitors.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resp, err := e.svc.SubmitLibrary(ctx, caller, vinaBatch(), f, "kinase_inhibitors.csv")
	if err != nil {
		t.Fatal(err)
	}
	if resp.TotalJobs != 6 {
		t.Fatalf("total %d", resp.TotalJobs)
	}
	kids, _ := e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: resp.BatchID})
	if kids[0].Name != "imatinib" || kids[5].Name != "aspirin" {
		t.Fatalf("children %s ... %s", kids[0].Name, kids[5].Name)
	}

	bad := "name,smiles\nok,CCO\nbroken,C1CC\n,CC(=O)O\nalso broken,c1ccc\n"
	_, err = e.svc.SubmitLibrary(ctx, caller, vinaBatch(), strings.NewReader(bad), "lib.csv")
	ps := wantProblems(t, err)
	if len(ps) != 2 || ps[0].Row != 2 || ps[0].Line != 3 || ps[1].Row != 4 || ps[1].Line != 5 {
		t.Fatalf("problems %+v", ps)
	}
	req := vinaBatch()
	req.DropInvalid = true
	resp, err = e.svc.SubmitLibrary(ctx, caller, req, strings.NewReader(bad), "lib.csv")
	if err != nil {
		t.Fatal(err)
	}
	if resp.TotalJobs != 2 || len(resp.Dropped) != 2 || resp.Dropped[0].Row != 2 || resp.Dropped[0].Line != 3 {
		t.Fatalf("response %+v", resp)
	}
	kids, _ = e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: resp.BatchID})
	if kids[1].Name != "ligand_3" {
		t.Fatalf("unnamed row stored as %q", kids[1].Name)
	}

	// The tier cap bounds the file too.
	small := caller
	small.MaxLigandsPerBatch = 3
	f.Seek(0, 0)
	_, err = e.svc.SubmitLibrary(ctx, small, vinaBatch(), f, "kinase_inhibitors.csv")
	wantCode(t, err, jobs.ErrInvalid, "ligands")
	_, err = e.svc.SubmitLibrary(ctx, caller, vinaBatch(), strings.NewReader(""), "empty.smi")
	if ps := wantProblems(t, err); ps[0].Code != ligands.CodeEmpty {
		t.Fatalf("empty file: %+v", ps)
	}
}

func TestPredict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	resp, err := e.svc.Predict(ctx, caller, api.PredictRequest{ModelName: "vina", Target: "EGFR", LigandName: "erlotinib",
		LigandSMILES: library[2].SMILES})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != "pending" || resp.StatusURL != "/api/v3/jobs/"+resp.JobID {
		t.Fatalf("response %+v", resp)
	}
	j, err := e.store.JobGet(ctx, "alice", resp.JobID)
	if err != nil {
		t.Fatal(err)
	}
	var in gpu.JobInput
	if err := json.Unmarshal(j.Input, &in); err != nil || in.Ligand == nil || in.Ligand.Name != "erlotinib" || in.Target != "EGFR" {
		t.Fatalf("input %s", j.Input)
	}
	if j.Type != jobs.TypeIndividual || j.ContentKey == "" || j.Name != "vina erlotinib" {
		t.Fatalf("job %+v", j)
	}
	_, err = e.svc.Predict(ctx, caller, api.PredictRequest{ModelName: "vina", Target: "EGFR", LigandSMILES: "C1CC"})
	wantCode(t, err, jobs.ErrInvalid, "ligand_smiles")
	_, err = e.svc.Predict(ctx, caller, api.PredictRequest{ModelName: "vina", Target: "EGFR"})
	wantCode(t, err, jobs.ErrInvalid, "ligand_smiles")
	_, err = e.svc.Predict(ctx, caller, api.PredictRequest{ModelName: "rfantibody"})
	wantCode(t, err, jobs.ErrInvalid, "model_name")
}

func TestValidateLigands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	resp, err := e.svc.ValidateLigands(ctx, "alice", api.ValidateLigandsRequest{Ligands: []api.Ligand{
		library[1], {Name: "bad", SMILES: "CC(C"}, {Name: "", SMILES: "O"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Valid != 2 || resp.Invalid != 1 || len(resp.Results) != 3 {
		t.Fatalf("counts %+v", resp)
	}
	a := resp.Results[0]
	if !a.Valid || a.Index != 0 || a.Formula != "C9H8O4" || a.MolecularWeight == nil || *a.MolecularWeight < 180.15 || *a.MolecularWeight > 180.17 ||
		*a.HeavyAtoms != 13 || a.HBondDonors == nil || *a.HBondDonors != 1 || a.HBondAcceptors == nil {
		t.Fatalf("aspirin %+v", a)
	}
	b := resp.Results[1]
	if b.Valid || b.Index != 1 || b.SMILES != "CC(C" || b.Error == nil || b.Error.Code != "invalid" || b.Error.Field != "smiles" ||
		!strings.Contains(b.Error.Message, "position") || b.MolecularWeight != nil {
		t.Fatalf("bad %+v %+v", b, b.Error)
	}
	if w := resp.Results[2]; !w.Valid || w.Name != "ligand_3" || w.Formula != "H2O" {
		t.Fatalf("water %+v", w)
	}
	_, err = e.svc.ValidateLigands(ctx, "alice", api.ValidateLigandsRequest{Ligands: library[:1], ModelName: "nope"})
	wantCode(t, err, jobs.ErrInvalid, "model_name")
	_, err = e.svc.ValidateLigands(ctx, "alice", api.ValidateLigandsRequest{})
	wantCode(t, err, jobs.ErrInvalid, "ligands")
}

func TestValidateLibrary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	csv := "name,smiles\naspirin,CC(=O)Oc1ccccc1C(=O)O\nbroken,C1CC\nethanol,CCO\n"
	resp, err := e.svc.ValidateLibrary(ctx, "alice", strings.NewReader(csv), "lib.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Valid != 2 || resp.Invalid != 1 {
		t.Fatalf("counts %+v", resp)
	}
	for i, r := range resp.Results {
		if r.Index != i || r.Row != i+1 || r.Line != i+2 {
			t.Fatalf("result %d at index %d row %d line %d", i, r.Index, r.Row, r.Line)
		}
	}
	if r := resp.Results[1]; r.Valid || r.Name != "broken" || !strings.Contains(r.Error.Message, "row 2 (line 3)") {
		t.Fatalf("broken %+v %+v", r, r.Error)
	}

	sdf, err := os.ReadFile("testdata/fda_approved_drugs.sdf")
	if err != nil {
		t.Fatal(err)
	}
	resp, err = e.svc.ValidateLibrary(ctx, "alice", bytes.NewReader(sdf), "drugs.sdf", "vina")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := ligands.Read(bytes.NewReader(sdf), ligands.FormatSDF, ligands.Options{DropInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Valid != len(lib.Entries) || resp.Invalid != len(lib.Dropped) || resp.Valid < 5 {
		t.Fatalf("sdf: %d valid, %d invalid; reader: %d, %d", resp.Valid, resp.Invalid, len(lib.Entries), len(lib.Dropped))
	}
	first := resp.Results[0]
	if first.Name != lib.Entries[0].Name || first.Line != 1 || first.Formula != lib.Entries[0].Formula || first.HeavyAtoms == nil {
		t.Fatalf("first record %+v", first)
	}
}
