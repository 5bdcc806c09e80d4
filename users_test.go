package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"omtx/accounts"
	"omtx/jobs"
)

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// TestUsersCommand adds tenants, lists them, issues another token and
// changes a tier, and checks that the tokens it printed sign in.
func TestUsersCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	var out bytes.Buffer
	users := func(args ...string) error {
		out.Reset()
		return run(ctx, append(append([]string{"users"}, args...), "--data", dir), &out, quietLog())
	}
	if err := users("add", "alice", "--tier", "premium"); err != nil {
		t.Fatal(err)
	}
	token := lastLine(out.String())
	if !strings.HasPrefix(token, accounts.TokenPrefix) {
		t.Fatalf("last line is not a token: %q", out.String())
	}
	if err := users("add", "--tier", "enterprise", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := users("token", "alice"); err != nil {
		t.Fatal(err)
	}
	second := lastLine(out.String())
	if err := users("tier", "alice", "enterprise"); err != nil || !strings.Contains(out.String(), "alice is now enterprise") {
		t.Fatalf("tier: %v %q", err, out.String())
	}
	if err := users("list"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"alice", "bob", "enterprise"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list lacks %q:\n%s", want, out.String())
		}
	}
	for name, args := range map[string][]string{
		"duplicate name":     {"add", "Alice"},
		"bad tier":           {"add", "carol", "--tier", "gold"},
		"bad name":           {"add", "carol smith"},
		"unknown subcommand": {"remove", "alice"},
		"missing argument":   {"token"},
		"unknown user":       {"token", "dave"},
	} {
		if err := users(args...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	s, err := openAccounts(ctx, "sqlite://"+filepath.Join(dir, "omtx.db"), jobs.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tok := range []string{token, second} {
		u, err := s.UserByToken(ctx, tok)
		if err != nil || u.Name != "alice" || u.Tier != accounts.TierEnterprise {
			t.Errorf("token %q: %+v, %v", tok, u, err)
		}
	}
}

// TestLocalUser: the first start creates the local user and its token
// file; later starts keep a valid token and replace a bad one.
func TestLocalUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := openAccounts(ctx, "sqlite://"+filepath.Join(dir, "omtx.db"), jobs.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	file := filepath.Join(dir, "local-token")
	u, token, err := ensureLocalUser(ctx, s, file)
	if err != nil || u.Name != "local" {
		t.Fatalf("%+v %v", u, err)
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", info, err)
	}
	again, token2, err := ensureLocalUser(ctx, s, file)
	if err != nil || again.ID != u.ID || token2 != token {
		t.Fatalf("second start: %+v %q %v", again, token2, err)
	}
	if err := os.WriteFile(file, []byte("omtx_not-a-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, token3, err := ensureLocalUser(ctx, s, file)
	if err != nil || token3 == token {
		t.Fatalf("bad token file not replaced: %q %v", token3, err)
	}
	b, _ := os.ReadFile(file)
	if owner, err := s.UserByToken(ctx, strings.TrimSpace(string(b))); err != nil || owner.ID != u.ID {
		t.Fatalf("token file: %v %v", owner, err)
	}
}
