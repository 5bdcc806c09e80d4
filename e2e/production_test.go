package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/playwright-community/playwright-go"

	"omtx/firebaseauth/firebaseauthtest"
	"omtx/jobs/firestore/firestoretest"
)

// TestProductionShape runs the hub as it runs on Google Cloud, each part
// for real but on loopback: omtx serve with its records in the Firestore
// emulator, its files in a GCS server and Firebase sign-in against the
// Auth emulator, and a separate omtx worker --models vina docking with
// real Vina. A scientist signs in through the Firebase sign-in page in
// Chromium, submits a library through the New prediction form and watches
// My batches follow the batch to the end with no reload: the progress
// reaches the browser through Firestore's snapshot listeners.
func TestProductionShape(t *testing.T) {
	h := require(t)
	fsHost := firestoretest.Host(t)
	authHost := firebaseauthtest.Need(t)
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0, PublicHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "omtx-production"})

	backends := []string{
		"FIRESTORE_EMULATOR_HOST=" + fsHost, "OMTX_STORE=firestore://" + firestoretest.Project(t),
		"STORAGE_EMULATOR_HOST=" + gcs.URL(), "OMTX_BLOB=gs://omtx-production",
	}
	web := append([]string{
		"OMTX_AUTH=firebase", "OMTX_DEV=true", "FIREBASE_AUTH_EMULATOR_HOST=" + authHost,
		"OMTX_FIREBASE_PROJECT=" + firebaseauthtest.Project, "OMTX_FIREBASE_API_KEY=" + firebaseauthtest.APIKey,
		"OMTX_CSRF_KEY=" + strings.Repeat("k", 32),
	}, backends...)
	base := startProcess(t, h, "prod-serve", web, "serve", "--addr", "127.0.0.1:0", "--workers", "0", "--data", filepath.Join(h.tmp, "prod-web"))
	startProcess(t, h, "prod-worker", append([]string{"OMTX_WORKER_MODELS=vina"}, backends...),
		"worker", "--data", filepath.Join(h.tmp, "prod-worker"))

	const email, password = "ada@example.org", "correct horse battery"
	signUp(t, authHost, email, password)
	prod := &harness{base: base, browser: h.browser, expect: h.expect, artifacts: h.artifacts, tmp: h.tmp}
	s := prod.newSession(t, "ada")
	s.shotOnFailure(t)

	// Sign in through the Firebase page: the SDK talks to the emulator.
	if code := s.goTo(t, "/signin"); code != 200 {
		t.Fatalf("GET /signin: %d", code)
	}
	s.expect(t, h.expect.Locator(s.page.GetByTestId("firebase-signin")).ToBeVisible(), "the Firebase sign-in form")
	for id, v := range map[string]string{"#signin-email": email, "#signin-password": password} {
		if err := s.page.Locator(id).Fill(v); err != nil {
			t.Fatal(err)
		}
	}
	s.shot(t, "production-signin")
	if err := s.page.GetByTestId("signin").Click(); err != nil {
		t.Fatal(err)
	}
	s.expect(t, h.expect.Locator(s.page.GetByTestId("user-name")).ToHaveText("ada"), "the header names the Firebase user")

	// Submit through the form; follow it on My batches.
	if code := s.goTo(t, "/"); code != 200 {
		t.Fatalf("GET /: %d", code)
	}
	batchID := submitThroughForm(t, s)
	if code := s.goTo(t, "/my-batches"); code != 200 {
		t.Fatalf("GET /my-batches: %d", code)
	}
	row := s.page.Locator(fmt.Sprintf(`[data-testid="batch-row"][data-batch-id="%s"]`, batchID))
	s.expect(t, h.expect.Locator(row).ToBeVisible(), "the batch is listed")
	if _, err := s.page.Evaluate(progressProbe, batchID); err != nil {
		t.Fatal(err)
	}
	s.expect(t, h.expect.Locator(s.page.GetByTestId("live-status")).ToHaveAttribute("data-state", "live"), "My batches goes live")
	err = h.expect.Locator(row.Locator("progress")).ToHaveAttribute("value", "100",
		playwright.LocatorAssertionsToHaveAttributeOptions{Timeout: playwright.Float(240_000)})
	var seen progressSeen
	if v, perr := s.page.Evaluate(`() => window.__e2eProgress`); perr == nil {
		raw, _ := json.Marshal(v)
		json.Unmarshal(raw, &seen)
	}
	var steps []string
	for _, p := range seen.Seen {
		if p.V != nil {
			steps = append(steps, fmt.Sprint(*p.V))
		}
	}
	if err != nil {
		t.Fatalf("the progress bar did not reach 100%% (went %s): %v", strings.Join(steps, " → "), err)
	}
	if !seen.Marker {
		t.Error("My batches was reloaded while watching the progress")
	}
	s.expect(t, h.expect.Locator(row.GetByTestId("batch-status")).ToHaveText("Completed"), "the batch's status")
	s.shot(t, "production-done")
	t.Logf("production shape: progress %s%% pushed live through the Firestore change feed", strings.Join(steps, " → "))

	// The results are in the bucket, in the hierarchy.
	for _, key := range []string{"batches/" + batchID + "/results/batch_results.csv", "batches/" + batchID + "/batch_index.json"} {
		if obj, err := gcs.GetObject("omtx-production", key); err != nil || len(obj.Content) == 0 {
			t.Errorf("bucket object %s: %v", key, err)
		}
	}

	// Signing out ends the session.
	if err := s.page.GetByTestId("signout").Click(); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if code := s.goTo(t, "/my-batches"); code != 200 || !strings.Contains(s.page.URL(), "/signin") {
		t.Errorf("after signing out My batches answers %d at %s, not the sign-in page", code, s.page.URL())
	}
}

// startProcess runs the omtx binary with args and env added to the
// environment, logging into artifacts/NAME.log, and stops it with
// SIGTERM when the test ends. For serve it returns the address printed.
func startProcess(t *testing.T, h *harness, name string, env []string, args ...string) string {
	t.Helper()
	logf, err := os.Create(filepath.Join(h.artifacts, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("%s did not stop within 30 s of SIGTERM", name)
		}
		logf.Close()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if rest, ok := strings.CutPrefix(sc.Text(), "OMTX-Hub serving on "); ok {
				addr <- strings.TrimSuffix(strings.Fields(rest)[0], "/")
			}
		}
		io.Copy(logf, out)
	}()
	if args[0] != "serve" {
		return ""
	}
	select {
	case a := <-addr:
		return a
	case <-exited:
		t.Fatalf("%s exited before serving (see %s)", name, logf.Name())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s printed no address in 60 s (see %s)", name, logf.Name())
	}
	return ""
}

// signUp creates an email and password account in the Auth emulator.
func signUp(t *testing.T, host, email, password string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"email": email, "password": password, "returnSecureToken": true})
	resp, err := http.Post("http://"+host+"/identitytoolkit.googleapis.com/v1/accounts:signUp?key="+firebaseauthtest.APIKey,
		"application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("sign up %s in the Auth emulator: %s %s", email, resp.Status, msg)
	}
}
