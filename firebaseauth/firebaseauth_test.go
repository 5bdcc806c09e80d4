package firebaseauth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"omtx/firebaseauth"
	"omtx/firebaseauth/firebaseauthtest"
)

func TestMain(m *testing.M) { os.Exit(firebaseauthtest.Main(m)) }

var seq atomic.Int64

// newUser signs a new account up on the emulator.
func newUser(t *testing.T, host string) *firebaseauthtest.User {
	t.Helper()
	email := fmt.Sprintf("user%d-%d@example.com", time.Now().UnixNano(), seq.Add(1))
	u, err := firebaseauthtest.SignUp(context.Background(), host, email, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func signIn(t *testing.T, host string, u *firebaseauthtest.User) string {
	t.Helper()
	tok, err := firebaseauthtest.SignIn(context.Background(), host, u)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newClient(t *testing.T, tweak ...func(*firebaseauth.Config)) *firebaseauth.Client {
	t.Helper()
	cfg := firebaseauth.Config{ProjectID: firebaseauthtest.Project, AllowEmulator: true}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := firebaseauth.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The server refuses the emulator's unsigned tokens unless told it is a
// development or test run.
func TestEmulatorRefused(t *testing.T) {
	t.Setenv(firebaseauth.EmulatorEnv, "127.0.0.1:9")
	_, err := firebaseauth.New(context.Background(), firebaseauth.Config{ProjectID: firebaseauthtest.Project})
	if !errors.Is(err, firebaseauth.ErrEmulatorRefused) {
		t.Fatalf("New with the emulator set: %v, want refused", err)
	}
	for _, want := range []string{"FIREBASE_AUTH_EMULATOR_HOST", "does not sign", "OMTX_DEV=true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	c, err := firebaseauth.New(context.Background(), firebaseauth.Config{ProjectID: firebaseauthtest.Project, AllowEmulator: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Emulator() != "127.0.0.1:9" {
		t.Fatalf("Emulator() = %q", c.Emulator())
	}
}

func TestConfig(t *testing.T) {
	firebaseauthtest.Need(t)
	ctx := context.Background()
	if _, err := firebaseauth.New(ctx, firebaseauth.Config{AllowEmulator: true}); err == nil {
		t.Error("New without a project succeeded")
	}
	for _, ttl := range []time.Duration{time.Minute, 15 * 24 * time.Hour} {
		if _, err := firebaseauth.New(ctx, firebaseauth.Config{ProjectID: "p", AllowEmulator: true, SessionTTL: ttl}); err == nil {
			t.Errorf("New with a session of %v succeeded", ttl)
		}
	}
	if got := newClient(t).SessionTTL(); got != firebaseauth.DefaultSessionTTL {
		t.Errorf("SessionTTL() = %v", got)
	}
}

func TestSession(t *testing.T) {
	t.Parallel()
	host := firebaseauthtest.Need(t)
	ctx := context.Background()
	c := newClient(t)
	u := newUser(t, host)
	start := time.Now()
	s, err := c.SessionCreate(ctx, signIn(t, host, u))
	if err != nil {
		t.Fatal(err)
	}
	if s.Cookie == "" || s.Identity.UID != u.UID || s.Identity.Email != u.Email || s.Identity.Provider != "password" {
		t.Fatalf("session %+v", s)
	}
	if d := s.ExpiresAt.Sub(start); d < firebaseauth.DefaultSessionTTL-time.Minute || d > firebaseauth.DefaultSessionTTL+time.Minute {
		t.Errorf("expires in %v", d)
	}
	if age := time.Since(s.Identity.AuthTime); age < -time.Minute || age > time.Minute {
		t.Errorf("auth time %v", s.Identity.AuthTime)
	}
	for _, check := range []bool{false, true} {
		id, err := c.SessionVerify(ctx, s.Cookie, check)
		if err != nil {
			t.Fatalf("verify (revocation %v): %v", check, err)
		}
		if id.UID != u.UID || id.Email != u.Email {
			t.Fatalf("verify: %+v", id)
		}
	}
	// An ID token is no session cookie, nor the other way round.
	if _, err := c.SessionVerify(ctx, signIn(t, host, u), false); !errors.Is(err, firebaseauth.ErrInvalid) {
		t.Errorf("ID token as a cookie: %v", err)
	}
	if _, err := c.SessionCreate(ctx, s.Cookie); !errors.Is(err, firebaseauth.ErrInvalid) {
		t.Errorf("cookie as an ID token: %v", err)
	}
	// (The emulator's tokens are unsigned, so a changed signature is no
	// test here.)
	for _, bad := range []string{"", "garbage", "a.b.c", "x" + s.Cookie} {
		if _, err := c.SessionCreate(ctx, bad); !errors.Is(err, firebaseauth.ErrInvalid) {
			t.Errorf("SessionCreate(%.20q): %v, want invalid", bad, err)
		}
		if _, err := c.SessionVerify(ctx, bad, true); !errors.Is(err, firebaseauth.ErrInvalid) {
			t.Errorf("SessionVerify(%.20q): %v, want invalid", bad, err)
		}
	}
	// Another project's client takes none of it.
	other := newClient(t, func(c *firebaseauth.Config) { c.ProjectID = "demo-other" })
	if _, err := other.SessionVerify(ctx, s.Cookie, false); !errors.Is(err, firebaseauth.ErrInvalid) {
		t.Errorf("another project's cookie: %v", err)
	}
}

// A session needs a recent sign-in.
func TestStale(t *testing.T) {
	t.Parallel()
	host := firebaseauthtest.Need(t)
	later := newClient(t, func(c *firebaseauth.Config) {
		c.Now = func() time.Time { return time.Now().Add(firebaseauth.DefaultMaxAuthAge + time.Minute) }
	})
	_, err := later.SessionCreate(context.Background(), signIn(t, host, newUser(t, host)))
	if !errors.Is(err, firebaseauth.ErrStale) {
		t.Fatalf("sign-in 6 minutes old: %v, want stale", err)
	}
}

// Signing out revokes every session of the user, for the checks that ask
// Firebase. (Against Firebase the local check alone still passes until the
// cookie expires; against the emulator the SDK always asks.)
func TestSignOut(t *testing.T) {
	t.Parallel()
	host := firebaseauthtest.Need(t)
	ctx := context.Background()
	c := newClient(t)
	u := newUser(t, host)
	idToken := signIn(t, host, u)
	s, err := c.SessionCreate(ctx, idToken)
	if err != nil {
		t.Fatal(err)
	}
	firebaseauthtest.NextSecond()
	if err := c.SignOut(ctx, u.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SessionVerify(ctx, s.Cookie, true); !errors.Is(err, firebaseauth.ErrRevoked) {
		t.Fatalf("revoked session, checked: %v, want revoked", err)
	}
	if _, err := c.SessionCreate(ctx, idToken); !errors.Is(err, firebaseauth.ErrRevoked) {
		t.Fatalf("revoked ID token: %v, want revoked", err)
	}
	// Signing in again works.
	if _, err := c.SessionCreate(ctx, signIn(t, host, u)); err != nil {
		t.Fatalf("sign in again: %v", err)
	}
	// Signing out a user Firebase no longer knows does nothing.
	if err := c.SignOut(ctx, "no-such-uid"); err != nil {
		t.Fatalf("sign out an unknown user: %v", err)
	}
}
