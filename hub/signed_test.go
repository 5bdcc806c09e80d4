package hub

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"omtx/api"
	"omtx/jobs"
	"omtx/jobs/jobstest"
	"omtx/jobs/sqlite"
	"omtx/results"
)

// On a Cloud Storage bucket that can sign, a large job file is handed out
// as a short-lived V4 signed URL; a small one is streamed, and so is any
// file of a bucket that cannot sign.
func TestLargeFilesAsSignedURLs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0, PublicHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "results"})
	client, err := storage.NewClient(ctx, option.WithEndpoint(srv.URL()+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	res, err := results.OpenGCS(ctx, "results", client, &results.GCSOptions{
		GoogleAccessID: "omtx-web@demo.iam.gserviceaccount.com", SignedURLEndpoint: srv.URL(),
		PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})})
	if err != nil {
		t.Fatal(err)
	}
	clock := jobstest.NewClock(t0)
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jobs.db"), jobs.Config{Clock: clock}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := New(Config{Store: store, Results: res, Models: newRegistry(t), Clock: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, svc: svc, store: store, res: res, clock: clock}

	pr, err := svc.Predict(ctx, caller, api.PredictRequest{ModelName: "vina", Target: "ABL1", LigandName: "ethanol", LigandSMILES: "CCO"})
	if err != nil {
		t.Fatal(err)
	}
	e.work("vina", func(string) outcome { return outcome{metrics: map[string]float64{"affinity": -3.2}} })
	big := bytes.Repeat([]byte("0123456789abcdef"), signedDownloadMin/16+1)
	if err := res.Put(ctx, results.JobDir("", pr.JobID)+"/pae.npz", bytes.NewReader(big), "application/octet-stream"); err != nil {
		t.Fatal(err)
	}

	d, err := svc.JobFile(ctx, "alice", "", pr.JobID, "pae.npz")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(d.URL)
	if err != nil || d.Write != nil || u.Query().Get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256" ||
		u.Query().Get("X-Goog-Expires") != "900" || !strings.HasSuffix(u.Path, "/results/jobs/"+pr.JobID+"/pae.npz") {
		t.Fatalf("large file: URL %q (%v), streamed %v", d.URL, err, d.Write != nil)
	}
	small, err := svc.JobFile(ctx, "alice", "", pr.JobID, "results.json")
	if err != nil || small.URL != "" || small.Write == nil {
		t.Fatalf("small file: %+v %v", small, err)
	}
	if _, err := svc.JobFile(ctx, "bob", "", pr.JobID, "pae.npz"); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("another user's large file: %v", err)
	}
}
