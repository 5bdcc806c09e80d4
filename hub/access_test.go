package hub

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"omtx/api"
	"omtx/jobs"
	"omtx/results"
)

// TestOtherUserSeesNothing: every method answers not found for another
// user's batch or job, exactly as for one that does not exist.
func TestOtherUserSeesNothing(t *testing.T) {
	t.Parallel()
	e, id := screened(t)
	ctx := context.Background()
	page, _ := e.svc.Results(ctx, "alice", id, api.ResultsQuery{})
	job := page.Rows[0].JobID
	pr, err := e.svc.Predict(ctx, caller, api.PredictRequest{ModelName: "vina", Target: "ABL1", LigandSMILES: "CCO"})
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"bob", ""} {
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"BatchGet", func() error { _, err := e.svc.BatchGet(ctx, user, id); return err }},
			{"Results", func() error { _, err := e.svc.Results(ctx, user, id, api.ResultsQuery{}); return err }},
			{"Analytics", func() error { _, err := e.svc.Analytics(ctx, user, id); return err }},
			{"Export", func() error { _, err := e.svc.Export(ctx, user, id, "csv"); return err }},
			{"BatchProgress", func() error { _, err := e.svc.BatchProgress(ctx, user, id); return err }},
			{"BatchControl", func() error { _, err := e.svc.BatchControl(ctx, user, id, "cancel"); return err }},
			{"BatchDelete", func() error { return e.svc.BatchDelete(ctx, user, id) }},
			{"JobGet child", func() error { _, err := e.svc.JobGet(ctx, user, job); return err }},
			{"JobGet individual", func() error { _, err := e.svc.JobGet(ctx, user, pr.JobID); return err }},
			{"BatchJobGet", func() error { _, err := e.svc.BatchJobGet(ctx, user, id, job); return err }},
			{"JobFile child", func() error { _, err := e.svc.JobFile(ctx, user, id, job, "results.json"); return err }},
			{"JobFile individual", func() error { _, err := e.svc.JobFile(ctx, user, "", pr.JobID, "logs.txt"); return err }},
		} {
			if err := tc.call(); !jobs.IsCode(err, jobs.ErrNotFound) {
				t.Errorf("%s as %q: %v, want not found", tc.name, user, err)
			}
		}
	}
	list, err := e.svc.BatchList(ctx, "bob", api.ListQuery{})
	if err != nil || len(list.Batches) != 0 {
		t.Fatalf("bob's list: %v %+v", err, list)
	}
	act, err := e.svc.ActiveBatches(ctx, "bob")
	if err != nil || len(act.Batches) != 0 {
		t.Fatalf("bob's active batches: %v %+v", err, act)
	}
	// Made-up and unsafe ids are simply not found.
	for _, bad := range []string{"nope", "../etc", "a/b"} {
		if _, err := e.svc.BatchGet(ctx, "alice", bad); !jobs.IsCode(err, jobs.ErrNotFound) {
			t.Errorf("BatchGet %q: %v", bad, err)
		}
		if _, err := e.svc.JobFile(ctx, "alice", bad, job, "results.json"); !jobs.IsCode(err, jobs.ErrNotFound) {
			t.Errorf("JobFile in %q: %v", bad, err)
		}
	}
	// Alice still has everything.
	if _, err := e.svc.BatchGet(ctx, "alice", id); err != nil {
		t.Fatal(err)
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	list := e.svc.Models(ctx)
	if len(list.Models) != 4 {
		t.Fatalf("%d models", len(list.Models))
	}
	byName := map[string]api.Model{}
	for _, m := range list.Models {
		byName[m.Name] = m
	}
	if m := byName["chai1"]; m.Available || m.Reason != notAccepted {
		t.Fatalf("chai1 %+v", m)
	}
	// Without a boltz program on this host, boltz2 is accepted but not
	// available here, and says why.
	if m := byName["boltz2"]; !m.Ligands || m.Resource != "gpu" {
		t.Fatalf("boltz2 %+v", m)
	}
	if _, err := exec.LookPath("boltz"); err != nil {
		if m := byName["boltz2"]; m.Available || !strings.Contains(m.Reason, "boltz") {
			t.Fatalf("boltz2 without its program: %+v", m)
		}
	}
	v := byName["vina"]
	if len(v.Metrics) != 4 || !v.Metrics[0].Primary || v.Metrics[0].Better != "lower" || v.Metrics[0].Unit != "kcal/mol" {
		t.Fatalf("vina metrics %+v", v.Metrics)
	}
	var target *api.Field
	for i := range v.Fields {
		if v.Fields[i].Name == "target" {
			target = &v.Fields[i]
		}
	}
	// The target is optional: an uploaded receptor with a box may stand in.
	if target == nil || !target.Top || target.Required || len(target.Enum) != 3 {
		t.Fatalf("vina target field %+v", target)
	}
	kinds := map[string]string{}
	for _, f := range v.Fields {
		kinds[f.Name] = f.Type
	}
	if kinds["receptor"] != "structure" || kinds["box"] != "box" {
		t.Fatalf("vina fields %v", kinds)
	}
	// The check is kept for a minute of the clock.
	first := e.svc.checkedAt
	e.clock.Advance(30 * time.Second)
	e.svc.Models(ctx)
	if e.svc.checkedAt != first {
		t.Fatal("checked again within a minute")
	}
	e.clock.Advance(31 * time.Second)
	e.svc.Models(ctx)
	if e.svc.checkedAt == first {
		t.Fatal("not checked again after a minute")
	}
	if _, err := New(Config{Store: e.store, Results: e.res, Models: newRegistry(t), Accept: []string{"alphafold"}}); err == nil {
		t.Fatal("an accepted model outside the registry was taken")
	}
}

func TestSystemHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	ok := Check{Name: "store", Ping: e.store.Ping}
	down := Check{Name: "blob", Ping: func(context.Context) error { return errors.New("bucket unreachable") }}
	h := e.svc.SystemHealth(ctx, []Check{ok, down})
	if h.Status != "degraded" || len(h.Checks) != 3 || h.Checks[1].Status != "unavailable" || h.Checks[1].Error != "bucket unreachable" ||
		h.Checks[0].Status != "ok" {
		t.Fatalf("health %+v", h)
	}
	h = e.svc.SystemHealth(ctx, []Check{ok, {Name: "blob", Ping: e.res.Ping}})
	if h.Status != "healthy" {
		t.Fatalf("health %+v (the store's Stats must work)", h)
	}
}

func TestSystemStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.submit(caller, vinaBatch(library...))
	e.workN("vina", 1, vinaDecide)
	st, err := e.svc.SystemStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Queue.ActiveBatches != 1 || st.Queue.Queued != 4 || len(st.Models) != 4 || !st.Time.Equal(e.clock.Now()) {
		t.Fatalf("status %+v", st)
	}
}

// TestControls needs the store's pause, resume, retry and delete.
func TestControls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	resp := e.submit(caller, vinaBatch(library...))
	id := resp.BatchID

	c, err := e.svc.BatchControl(ctx, "alice", id, "pause")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Batch.Paused || c.Affected != 5 || c.Action != "pause" {
		t.Fatalf("pause %+v", c)
	}
	if n := e.work("vina", vinaDecide); n != 0 {
		t.Fatalf("a paused batch handed out %d jobs", n)
	}
	c, err = e.svc.BatchControl(ctx, "alice", id, "resume")
	if err != nil {
		t.Fatal(err)
	}
	if c.Batch.Paused || c.Affected != 5 {
		t.Fatalf("resume %+v", c)
	}
	e.work("vina", vinaDecide) // caffeine fails
	page, _ := e.svc.Results(ctx, "alice", id, api.ResultsQuery{Status: "failed"})
	if page.Total != 1 {
		t.Fatalf("%d failed", page.Total)
	}
	c, err = e.svc.BatchControl(ctx, "alice", id, "retry_failed")
	if err != nil {
		t.Fatal(err)
	}
	if c.Affected != 1 || c.Batch.Progress.Pending != 1 {
		t.Fatalf("retry %+v", c)
	}
	// The results table follows the retry.
	page, _ = e.svc.Results(ctx, "alice", id, api.ResultsQuery{Status: "failed"})
	if page.Total != 0 {
		t.Fatalf("%d failed after retry", page.Total)
	}
	// A batch with work left cannot be deleted.
	err = e.svc.BatchDelete(ctx, "alice", id)
	wantCode(t, err, jobs.ErrConflict, "")
	e.work("vina", func(string) outcome { return outcome{metrics: map[string]float64{"affinity": -5}} })
	// Finalize writes the batch's aggregates.
	fin, err := e.store.JobLease(ctx, jobs.LeaseParams{Owner: "finalizer", TTL: time.Minute, Finalize: true})
	if err == nil {
		if err := e.store.JobComplete(ctx, *fin.Lease, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.res.PutJSON(ctx, "archive/"+id+"/"+results.FileBatchMetadata, map[string]string{"batch_id": id}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.BatchDelete(ctx, "alice", id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.BatchGet(ctx, "alice", id); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("deleted batch: %v", err)
	}
	for _, prefix := range []string{results.BatchDir(id) + "/", "archive/" + id + "/"} {
		if keys, _ := e.res.List(ctx, prefix); len(keys) != 0 {
			t.Fatalf("files left under %s: %q", prefix, keys)
		}
	}
	if _, err := e.svc.BatchControl(ctx, "alice", id, "pause"); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("pause of a deleted batch: %v", err)
	}
}
