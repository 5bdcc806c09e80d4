package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestParseFlagsAuth(t *testing.T) {
	for _, auth := range []string{"local", "firebase"} {
		c, err := parseFlags("serve", []string{"--auth", auth, "--data", t.TempDir()}, 1)
		if err != nil || c.auth != auth {
			t.Errorf("--auth %s: %q, %v", auth, c.auth, err)
		}
	}
	if c, err := parseFlags("serve", []string{"--data", t.TempDir()}, 1); err != nil || c.auth != "local" {
		t.Errorf("default: %q, %v", c.auth, err)
	}
	if _, err := parseFlags("serve", []string{"--auth", "ldap"}, 1); err == nil || !strings.Contains(err.Error(), "local") {
		t.Errorf("--auth ldap: %v", err)
	}
}

func TestFirebaseSettings(t *testing.T) {
	t.Parallel()
	vars := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cfg, web, err := firebaseSettings(vars("OMTX_FIREBASE_PROJECT", "omtx-prod", "OMTX_FIREBASE_API_KEY", "AIza-key",
		"OMTX_CSRF_KEY", strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ProjectID != "omtx-prod" || cfg.AllowEmulator || web.ProjectID != "omtx-prod" || web.APIKey != "AIza-key" ||
		web.AuthDomain != "omtx-prod.firebaseapp.com" || web.EmulatorURL != "" || string(web.CSRFKey) != strings.Repeat("k", 32) {
		t.Errorf("settings %+v %+v", cfg, web)
	}
	_, web, err = firebaseSettings(vars("OMTX_FIREBASE_PROJECT", "p", "OMTX_FIREBASE_API_KEY", "k", "OMTX_FIREBASE_AUTH_DOMAIN", "login.example.com"))
	if err != nil || web.AuthDomain != "login.example.com" || web.CSRFKey != nil {
		t.Errorf("auth domain: %+v %v", web, err)
	}
	cfg, web, err = firebaseSettings(vars("OMTX_FIREBASE_PROJECT", "demo-test", "FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099", "OMTX_DEV", "true"))
	if err != nil || !cfg.AllowEmulator || web.EmulatorURL != "http://127.0.0.1:9099" || web.APIKey == "" {
		t.Errorf("emulator: %+v %+v %v", cfg, web, err)
	}
	for name, env := range map[string]func(string) string{
		"no project":     vars("OMTX_FIREBASE_API_KEY", "k"),
		"no API key":     vars("OMTX_FIREBASE_PROJECT", "p"),
		"short CSRF key": vars("OMTX_FIREBASE_PROJECT", "p", "OMTX_FIREBASE_API_KEY", "k", "OMTX_CSRF_KEY", "short"),
	} {
		if _, _, err := firebaseSettings(env); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// serve refuses the Auth emulator's unsigned tokens outside development.
func TestServeRefusesEmulator(t *testing.T) {
	t.Setenv("OMTX_AUTH", "firebase")
	t.Setenv("OMTX_FIREBASE_PROJECT", "demo-test")
	t.Setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
	t.Setenv("OMTX_DEV", "")
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--workers", "0"}, &out,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "refusing to start") || !strings.Contains(err.Error(), "FIREBASE_AUTH_EMULATOR_HOST") ||
		!strings.Contains(err.Error(), "OMTX_DEV=true") {
		t.Fatalf("serve with the emulator outside development: %v", err)
	}
	if strings.Contains(out.String(), "serving") {
		t.Fatalf("the server started: %s", out.String())
	}
}
