package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestServe starts the real server on a free port with the embedded
// defaults and checks the operator endpoints, then stops it.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--workers", "1"}, pw, quietLog())
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v", err)
	}
	signin, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed no sign-in link: %v", err)
	}
	go io.Copy(io.Discard, pr)
	addr := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	if addr == "" {
		t.Fatalf("no address in %q", line)
	}
	// The one-click sign-in link carries the local user's token, which
	// the API takes.
	link := regexp.MustCompile(`http://\S+/signin\?token=(\S+)`).FindStringSubmatch(signin)
	if link == nil {
		t.Fatalf("no sign-in link in %q", signin)
	}
	token, err := url.QueryUnescape(link[1])
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, addr+"/api/v3/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"local"`) {
		t.Fatalf("/api/v3/me with the sign-in token: %d %s", resp.StatusCode, body)
	}
	if resp, err := http.Get(addr + "/metrics"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics: %v %v", resp, err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `omtx_http_request_duration_seconds_count{method="GET",route="/api/v3/me",status="200"} 1`) {
			t.Errorf("/metrics lacks the request: %.2000s", body)
		}
	}
	for _, path := range []string{"/health", "/ready"} {
		resp, err := http.Get(addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServeMetricsAddr: with --metrics-addr the metrics are served there
// and not on the public address.
func TestServeMetricsAddr(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--data", t.TempDir(), "--workers", "0"}, pw, quietLog())
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	var metricsURL, addr string
	for metricsURL == "" || addr == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("serve output ended: %v", err)
		}
		if m := regexp.MustCompile(`Metrics on (http://\S+)`).FindStringSubmatch(line); m != nil {
			metricsURL = m[1]
		}
		if m := regexp.MustCompile(`serving on (http://[0-9.:]+)`).FindStringSubmatch(line); m != nil {
			addr = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "omtx_queue_depth") {
		t.Fatalf("metrics listener: %d %.300s", resp.StatusCode, body)
	}
	if resp, err := http.Get(addr + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the public address: %v %v", resp, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		nil,
		{"frobnicate"},
		{"serve", "--workers", "-1"},
		{"worker", "--workers", "0"},
		{"serve", "--lease-ttl", "10ms"},
		{"serve", "--data", dir, "--store", "postgres://x"},
	}
	for _, args := range cases {
		if err := run(context.Background(), args, io.Discard, quietLog()); err == nil {
			t.Errorf("omtx %v: no error", args)
		}
	}
}

func TestWorkerModels(t *testing.T) {
	for in, want := range map[string]string{"": "", "vina": "vina", " vina, boltz2 ,": "vina|boltz2"} {
		got, err := workerModels(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := workerModels(" , "); err == nil {
		t.Error("a list of nothing accepted")
	}
	reg, err := newRegistry()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := checkWorkerModels(ctx, reg, "vina,nope"); err == nil || !strings.Contains(err.Error(), `unknown model "nope"`) {
		t.Errorf("unknown model: %v", err)
	}
	// No Boltz-2 here: a runner image without its engine fails at start.
	if err := checkWorkerModels(ctx, reg, "boltz2"); err == nil || !strings.Contains(err.Error(), "cannot run on this host") {
		t.Errorf("boltz2 without boltz: %v", err)
	}
	if err := checkWorkerModels(ctx, reg, ""); err != nil {
		t.Errorf("no list: %v", err)
	}
	if _, err := parseFlags("worker", []string{"--models", ","}, 1); err == nil {
		t.Error("--models , accepted")
	}
}

func TestFirestoreURL(t *testing.T) {
	for raw, want := range map[string]string{
		"firestore://demo-test":                         "demo-test||",
		"firestore://prod-1/omtx/prod":                  "prod-1|omtx/prod|",
		"firestore://prod-1/omtx/prod/?database=hub-db": "prod-1|omtx/prod|hub-db",
	} {
		u, _ := url.Parse(raw)
		p, loc, err := firestoreURL(u)
		if err != nil || p+"|"+loc.root+"|"+loc.database != want {
			t.Errorf("%s: %q %+v %v", raw, p, loc, err)
		}
	}
	u, _ := url.Parse("firestore:///omtx/prod")
	if _, _, err := firestoreURL(u); err == nil {
		t.Error("no project: no error")
	}
	if _, err := openStore(context.Background(), "postgres://x", nil); err == nil || !strings.Contains(err.Error(), "sqlite, firestore") {
		t.Errorf("unknown scheme: %v", err)
	}
}
