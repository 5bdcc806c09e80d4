package hub

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"omtx/api"
	"omtx/gpu"
	"omtx/jobs"
)

const ablBox = `{"exhaustiveness": 1, "box": {"center_x": 15.19, "center_y": 53.903, "center_z": 16.917, "size_x": 20, "size_y": 20, "size_z": 20}}`

func uploadBatch(t *testing.T, name, content string) api.SubmitBatchRequest {
	t.Helper()
	return api.SubmitBatchRequest{JobName: "my receptor", ModelName: "vina", ProteinName: "my ABL1",
		Receptor: &api.ReceptorUpload{Name: name, Content: content},
		Ligands:  []api.Ligand{library[1], library[4]}, Parameters: json.RawMessage(ablBox)}
}

// A receptor uploaded as PDB or mmCIF is read, stored once as PDB text
// under its digest, and recorded on the batch; its jobs are different
// work from the bundled target's.
func TestSubmitUploadedReceptor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pdb, err := os.ReadFile("../testdata/vina/1iep_receptorH.pdb")
	if err != nil {
		t.Fatal(err)
	}
	resp := e.submit(caller, uploadBatch(t, `C:\structures\1iep_receptorH.pdb`, string(pdb)))
	b, err := e.store.BatchGet(ctx, "alice", resp.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	var in gpu.Input
	if err := json.Unmarshal(b.Input, &in); err != nil {
		t.Fatal(err)
	}
	r := in.Receptor
	if r == nil || r.Name != "1iep_receptorH.pdb" || r.Format != "pdb" || in.Target != "" || len(r.SHA256) != 64 ||
		strings.Join(r.Chains, ",") != "A" || r.Residues < 250 || r.Atoms < 4000 {
		t.Fatalf("receptor on the batch: %+v (target %q)", r, in.Target)
	}
	rc, err := e.res.Get(ctx, gpu.ReceptorKey(r.SHA256))
	if err != nil {
		t.Fatalf("stored receptor: %v", err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(stored), "ATOM  ") || !strings.HasSuffix(strings.TrimSpace(string(stored)), "END") {
		t.Fatalf("stored receptor is not PDB text:\n%.300s", stored)
	}
	// The same ligands against the bundled target are other work.
	kids, _ := e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: resp.BatchID})
	bundled := e.submit(caller, vinaBatch(library[1], library[4]))
	others, _ := e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: bundled.BatchID})
	if kids[0].ContentKey == "" || kids[0].ContentKey == others[0].ContentKey {
		t.Fatalf("uploaded receptor and bundled target share the work key %q", kids[0].ContentKey)
	}
	// The same upload again: the same stored object, the same work.
	again := e.submit(caller, uploadBatch(t, "copy.pdb", string(pdb)))
	kids2, _ := e.store.JobList(ctx, jobs.JobFilter{UserID: "alice", BatchID: again.BatchID})
	if kids2[0].ContentKey != kids[0].ContentKey {
		t.Errorf("identical uploads are different work")
	}
	keys, err := e.res.List(ctx, "inputs/receptors/")
	if err != nil || len(keys) != 1 {
		t.Errorf("stored receptors %v %v", keys, err)
	}

	// mmCIF uploads are read too.
	cif, err := os.ReadFile("../chem/structure/testdata/4CUP.cif")
	if err != nil {
		t.Fatal(err)
	}
	req := uploadBatch(t, "4cup.cif", string(cif))
	req.Parameters = json.RawMessage(`{"box": {"center_x": 0, "center_y": 0, "center_z": 0, "size_x": 20, "size_y": 20, "size_z": 20}}`)
	if _, err := e.svc.SubmitBatch(ctx, caller, req); err != nil {
		t.Fatalf("mmCIF receptor: %v", err)
	}
}

// A bad upload is refused on the field receptor (or box), naming the
// file and line, and nothing is stored.
func TestSubmitUploadedReceptorErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pdb, err := os.ReadFile("../testdata/vina/1iep_receptorH.pdb")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(pdb), "  15.", "  1x.", 1)
	waterOnly := "HETATM    1  O   HOH A   1      10.000  10.000  10.000  1.00  0.00           O\nEND\n"
	cases := []struct {
		name   string
		req    func() api.SubmitBatchRequest
		field  string
		inText string
	}{
		{"empty", func() api.SubmitBatchRequest { return uploadBatch(t, "x.pdb", " \n") }, "receptor", "x.pdb is empty"},
		{"not a structure", func() api.SubmitBatchRequest { return uploadBatch(t, "notes.txt", "hello\nworld\n") }, "receptor", "neither PDB nor mmCIF"},
		{"bad coordinate", func() api.SubmitBatchRequest { return uploadBatch(t, "bad.pdb", broken) }, "receptor", "line "},
		{"no protein", func() api.SubmitBatchRequest { return uploadBatch(t, "water.pdb", waterOnly) }, "receptor", "no protein atoms"},
		{"too big", func() api.SubmitBatchRequest {
			return uploadBatch(t, "big.pdb", strings.Repeat(string(pdb), MaxReceptorBytes/len(pdb)+1))
		}, "receptor", "the limit is 10 MB"},
		{"bad format", func() api.SubmitBatchRequest {
			r := uploadBatch(t, "x.pdb", string(pdb))
			r.Receptor.Format = "mol2"
			return r
		}, "receptor", "mol2"},
		{"no box", func() api.SubmitBatchRequest {
			r := uploadBatch(t, "x.pdb", string(pdb))
			r.Parameters = nil
			return r
		}, "parameters.box", "required with an uploaded receptor"},
		{"and a target", func() api.SubmitBatchRequest {
			r := uploadBatch(t, "x.pdb", string(pdb))
			r.Target = "ABL1"
			return r
		}, "target", "not both"},
		{"model without structures", func() api.SubmitBatchRequest {
			r := uploadBatch(t, "x.pdb", string(pdb))
			r.ModelName, r.Parameters = "boltz2", nil
			return r
		}, "receptor", "boltz2 takes no uploaded receptor"},
	}
	for _, c := range cases {
		_, err := e.svc.SubmitBatch(ctx, caller, c.req())
		je := wantCode(t, err, jobs.ErrInvalid, c.field)
		if !strings.Contains(je.Message, c.inText) {
			t.Errorf("%s: message %q lacks %q", c.name, je.Message, c.inText)
		}
	}
	if keys, _ := e.res.List(ctx, "inputs/"); len(keys) != 0 {
		t.Errorf("refused uploads stored %v", keys)
	}
	if list, _ := e.store.BatchList(ctx, jobs.BatchFilter{UserID: "alice"}); len(list) != 0 {
		t.Errorf("refused uploads recorded %d batches", len(list))
	}
}
