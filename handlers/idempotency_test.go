package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"omtx/api"
	"omtx/jobs"
)

// TestIdempotentSubmit retries submissions under an Idempotency-Key, as a
// client does after a lost answer: the repeat answers the first batch or
// job and stores nothing; the key with other work is a 409; a malformed
// key is a 400 naming the header.
func TestIdempotentSubmit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body, err := json.Marshal(dockingBatch("retried screen", imatinib, aspirin))
	if err != nil {
		t.Fatal(err)
	}
	submit := func(user, key, body string) *httptest.ResponseRecorder {
		return e.do(req{method: http.MethodPost, path: api.Prefix + "/batches/submit", user: user, body: body,
			ctype: "application/json", header: map[string]string{"Idempotency-Key": key}})
	}
	count := func(user string) int {
		bs, err := e.store.BatchList(t.Context(), jobs.BatchFilter{UserID: e.users[user].ID, Individual: true})
		if err != nil {
			t.Fatal(err)
		}
		return len(bs)
	}

	first := submit(alice, "7f3c1a9e-screen", string(body))
	r1 := decode[api.SubmitBatchResponse](t, first, http.StatusAccepted)
	if r1.Replayed || first.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("first submission marked as a replay: %s", first.Body)
	}
	again := submit(alice, "7f3c1a9e-screen", string(body))
	r2 := decode[api.SubmitBatchResponse](t, again, http.StatusAccepted)
	if r2.BatchID != r1.BatchID || !r2.Replayed || r2.TotalJobs != 2 || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat answered %+v (header %q), want batch %s replayed", r2, again.Header().Get("Idempotent-Replayed"), r1.BatchID)
	}
	if n := count(alice); n != 1 {
		t.Fatalf("%d batches after a repeat, want 1", n)
	}

	// Other work under the same key.
	other, _ := json.Marshal(dockingBatch("retried screen", imatinib, caffeine))
	ae := apiError(t, submit(alice, "7f3c1a9e-screen", string(other)), http.StatusConflict)
	if ae.Field != "Idempotency-Key" || !strings.Contains(ae.Message, r1.BatchID) {
		t.Fatalf("conflict %+v", ae)
	}
	// The same key is bob's own.
	if rb := decode[api.SubmitBatchResponse](t, submit(bob, "7f3c1a9e-screen", string(body)), http.StatusAccepted); rb.BatchID == r1.BatchID || rb.Replayed {
		t.Fatalf("bob's submission answered alice's batch: %+v", rb)
	}

	// A library upload and a prediction replay too.
	lib, ctype := multipartBody(t, map[string]string{"model_name": "vina", "target": "ABL1", "job_name": "library"},
		"file", "lib.smi", imatinib.SMILES+" imatinib\n"+aspirin.SMILES+" aspirin\n")
	up := func() api.SubmitBatchResponse {
		return decode[api.SubmitBatchResponse](t, e.do(req{method: http.MethodPost, path: api.Prefix + "/batches/submit", user: alice,
			body: lib, ctype: ctype, header: map[string]string{"Idempotency-Key": "library-1"}}), http.StatusAccepted)
	}
	if u1, u2 := up(), up(); u1.BatchID != u2.BatchID || u1.Replayed || !u2.Replayed {
		t.Fatalf("library upload twice: %+v then %+v", u1, u2)
	}
	pred := `{"model_name":"vina","target":"ABL1","ligand_name":"aspirin","ligand_smiles":"` + aspirin.SMILES + `"}`
	predict := func() api.PredictResponse {
		return decode[api.PredictResponse](t, e.do(req{method: http.MethodPost, path: api.Prefix + "/predict", user: alice,
			body: pred, ctype: "application/json", header: map[string]string{"Idempotency-Key": "one-aspirin"}}), http.StatusAccepted)
	}
	if p1, p2 := predict(), predict(); p1.JobID != p2.JobID || p1.Replayed || !p2.Replayed {
		t.Fatalf("prediction twice: %+v then %+v", p1, p2)
	}
	if n := count(alice); n != 3 {
		t.Fatalf("alice has %d entries, want 3 (a batch, a library, a job)", n)
	}

	// Malformed keys name the header and store nothing.
	for _, bad := range []string{"has space", strings.Repeat("k", 256), "ünïcode", "tab\there"} {
		ae := apiError(t, submit(alice, bad, string(other)), http.StatusBadRequest)
		if ae.Field != "Idempotency-Key" {
			t.Errorf("key %q: error %+v does not name the header", bad, ae)
		}
	}
	hr := e.do(req{method: http.MethodPost, path: api.Prefix + "/predict", user: alice, body: pred, ctype: "application/json",
		header: map[string]string{"Idempotency-Key": "   "}})
	if ae := apiError(t, hr, http.StatusBadRequest); ae.Field != "Idempotency-Key" {
		t.Errorf("blank key: %+v", ae)
	}
	if n := count(alice); n != 3 {
		t.Fatalf("alice has %d entries after refused submissions, want 3", n)
	}
}
