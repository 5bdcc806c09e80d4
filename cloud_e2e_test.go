package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/gorilla/websocket"

	"omtx/api"
	"omtx/client"
	"omtx/jobs/firestore/firestoretest"
)

// The production backends, end to end with real processes: `omtx serve`
// on the Firestore emulator (jobs, users, the change feed through snapshot
// listeners) and a GCS server (result files), a separate `omtx worker
// --models vina` docking with real Vina on the same backends, and the
// page's live channel receiving the batch's progress as it happens.
func TestCloudBackends(t *testing.T) {
	requireDocking(t)
	fsHost := firestoretest.Host(t)
	project := firestoretest.Project(t)
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0, PublicHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "omtx-e2e"})

	bin := buildBinary(t)
	env := []string{"FIRESTORE_EMULATOR_HOST=" + fsHost, "STORAGE_EMULATOR_HOST=" + gcs.URL(),
		"OMTX_STORE=firestore://" + project, "OMTX_BLOB=gs://omtx-e2e", "OMTX_WORKER_MODELS=vina"}
	web, runner := t.TempDir(), t.TempDir()
	addr, token := startServer(t, bin, web, env...)
	startWorker(t, bin, runner, "worker", env...)
	hub, err := client.New("http://"+addr, token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// The page's live channel, opened before the work exists.
	h := http.Header{"Origin": {"http://" + addr}, "Authorization": {"Bearer " + token}}
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?since=0", h)
	if err != nil {
		t.Fatalf("live channel: %v (%v)", err, resp)
	}
	defer ws.Close()

	sub, err := hub.SubmitBatch(ctx, api.SubmitBatchRequest{JobName: "cloud screen", ModelName: "vina", Target: "ABL1",
		Ligands:    []api.Ligand{{Name: "aspirin", SMILES: "CC(=O)Oc1ccccc1C(=O)O"}, {Name: "ethanol", SMILES: "CCO"}},
		Parameters: json.RawMessage(`{"exhaustiveness": 1, "num_poses": 1}`)})
	if err != nil {
		t.Fatal(err)
	}
	// Progress pushed through the change feed: each child's end, then the
	// whole batch, as the HTML fragments the pages swap.
	progress := regexp.MustCompile(`id="batch-` + regexp.QuoteMeta(sub.BatchID) + `-progress"[\s\S]*?(\d) of 2 done`)
	seen := map[string]bool{}
	ws.SetReadDeadline(time.Now().Add(4 * time.Minute))
	for !seen["2"] {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("live channel ended before the batch did (progress seen %v): %v", seen, err)
		}
		for _, m := range progress.FindAllStringSubmatch(string(msg), -1) {
			seen[m[1]] = true
		}
	}
	if !seen["1"] {
		t.Errorf("the live channel skipped the first child's end: %v", seen)
	}
	done, err := hub.WaitBatch(ctx, sub.BatchID, 200*time.Millisecond, nil)
	if err != nil || done.Status != "completed" || done.Progress.Completed != 2 {
		t.Fatalf("batch %+v %v", done, err)
	}

	// Results through the API, and the hierarchy in the bucket.
	var csv strings.Builder
	if _, _, err := hub.Download(ctx, "/api/v3/batches/"+sub.BatchID+"/export.csv", &csv); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(strings.TrimSpace(csv.String()), "\n"); lines != 2 || !strings.Contains(csv.String(), "aspirin") {
		t.Errorf("results CSV:\n%s", csv.String())
	}
	for _, key := range []string{"batches/" + sub.BatchID + "/results/batch_results.csv", "batches/" + sub.BatchID + "/batch_index.json"} {
		obj, err := gcs.GetObject("omtx-e2e", key)
		if err != nil || len(obj.Content) == 0 {
			t.Errorf("bucket object %s: %v", key, err)
		}
	}
	// Nothing was written to the local folders but the token and logs.
	for _, dir := range []string{web, runner} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".db") {
				t.Errorf("a local database in %s: %s", dir, p)
			}
			return nil
		})
	}
}
