// Package firebaseauth signs browsers in with Firebase Authentication. It
// wraps the Firebase Admin SDK (firebase.google.com/go/v4/auth) behind the
// few calls the web server needs, so that nothing else imports the SDK:
//
//   - SessionCreate turns the ID token a page got from the Firebase JS SDK
//     into a Firebase session cookie, after checking the token (signature,
//     project, expiry, revocation, a disabled user) and that the user
//     signed in recently (auth_time within MaxAuthAge);
//   - SessionVerify checks a session cookie on each request: locally
//     (signature, project, expiry) and, with checkRevoked, also against
//     Firebase (revoked, disabled or deleted user) for requests that
//     change something;
//   - SignOut revokes the user's refresh tokens and so every session
//     cookie issued before.
//
// Against the Auth emulator (FIREBASE_AUTH_EMULATOR_HOST set) tokens are
// unsigned, so anyone could sign in as anyone: New refuses unless
// Config.AllowEmulator says this is a development or test run.
package firebaseauth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/auth"
	"firebase.google.com/go/v4/errorutils"
)

// EmulatorEnv names the Auth emulator's host:port; the SDK talks to the
// emulator, and accepts its unsigned tokens, when it is set.
const EmulatorEnv = "FIREBASE_AUTH_EMULATOR_HOST"

// Defaults of Config.
const (
	DefaultSessionTTL = 5 * 24 * time.Hour
	DefaultMaxAuthAge = 5 * time.Minute
)

// Errors of the calls, for errors.Is; they answer 401. Any other error is
// the server's (Firebase unreachable, say).
var (
	// ErrInvalid: the token or cookie is malformed, not signed by
	// Firebase for this project, or expired.
	ErrInvalid = errors.New("firebaseauth: the token is not valid or has expired")
	// ErrRevoked: the user signed out everywhere (refresh tokens revoked)
	// since the token was issued, or was disabled or deleted.
	ErrRevoked = errors.New("firebaseauth: the user has signed out or been disabled")
	// ErrStale: the ID token comes from a sign-in older than MaxAuthAge; a
	// session needs a fresh one.
	ErrStale = errors.New("firebaseauth: the sign-in is too old to start a session")
)

// Identity is a verified Firebase user.
type Identity struct {
	UID           string
	Email         string
	EmailVerified bool
	// Name is the user's display name, often empty for email sign-in.
	Name string
	// Provider is how the user signed in: "password", "google.com", ...
	Provider string
	AuthTime time.Time
}

// Session is a new Firebase session cookie and whom it signs in.
type Session struct {
	Cookie    string
	ExpiresAt time.Time
	Identity  Identity
}

// Config is what New needs.
type Config struct {
	// ProjectID is the Firebase (Google Cloud) project; required.
	ProjectID string
	// SessionTTL is a session cookie's lifetime, 5 minutes to 14 days
	// (DefaultSessionTTL when zero).
	SessionTTL time.Duration
	// MaxAuthAge is how long after signing in an ID token may start a
	// session (DefaultMaxAuthAge when zero).
	MaxAuthAge time.Duration
	// AllowEmulator lets New run against the Auth emulator when
	// EmulatorEnv is set: development and tests only.
	AllowEmulator bool
	// Now tells the time for the auth_time check (time.Now when nil). The
	// SDK checks expiry on its own clock.
	Now func() time.Time
}

// Client verifies Firebase ID tokens and session cookies.
type Client struct {
	auth     *auth.Client
	cfg      Config
	emulator string
}

// ErrEmulatorRefused is New's error when EmulatorEnv is set without
// AllowEmulator.
var ErrEmulatorRefused = errors.New(EmulatorEnv + " is set, so Firebase tokens would come from the Auth emulator, " +
	"which does not sign them: anyone could sign in as anyone. Unset it, or turn on development mode " +
	"(OMTX_DEV=true) for local development and tests only")

// New builds a client for a project. It takes Google's application
// default credentials (a service account on the cluster), and none
// against the emulator.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.ProjectID == "" {
		return nil, errors.New("firebaseauth: no Firebase project id given")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.SessionTTL < 5*time.Minute || cfg.SessionTTL > 14*24*time.Hour {
		return nil, fmt.Errorf("firebaseauth: a session lasts 5 minutes to 14 days, not %v", cfg.SessionTTL)
	}
	if cfg.MaxAuthAge <= 0 {
		cfg.MaxAuthAge = DefaultMaxAuthAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	emulator := os.Getenv(EmulatorEnv)
	if emulator != "" && !cfg.AllowEmulator {
		return nil, ErrEmulatorRefused
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.ProjectID})
	if err != nil {
		return nil, fmt.Errorf("firebaseauth: %w", err)
	}
	a, err := app.Auth(ctx)
	if err != nil {
		return nil, fmt.Errorf("firebaseauth: %w", err)
	}
	return &Client{auth: a, cfg: cfg, emulator: emulator}, nil
}

// Emulator returns the Auth emulator's host:port, or "" against Firebase.
func (c *Client) Emulator() string { return c.emulator }

// SessionTTL is the lifetime of the session cookies SessionCreate makes.
func (c *Client) SessionTTL() time.Duration { return c.cfg.SessionTTL }

// SessionCreate verifies an ID token, revocation included, checks that
// its sign-in is recent, and exchanges it for a session cookie.
func (c *Client) SessionCreate(ctx context.Context, idToken string) (*Session, error) {
	if idToken == "" {
		return nil, ErrInvalid
	}
	tok, err := c.auth.VerifyIDTokenAndCheckRevoked(ctx, idToken)
	if err != nil {
		return nil, classify("verify ID token", err)
	}
	id := identity(tok)
	if age := c.cfg.Now().Sub(id.AuthTime); age > c.cfg.MaxAuthAge {
		return nil, fmt.Errorf("%w (signed in %v ago, at most %v)", ErrStale, age.Round(time.Second), c.cfg.MaxAuthAge)
	}
	cookie, err := c.auth.SessionCookie(ctx, idToken, c.cfg.SessionTTL)
	if err != nil {
		return nil, classify("create session cookie", err)
	}
	return &Session{Cookie: cookie, ExpiresAt: c.cfg.Now().Add(c.cfg.SessionTTL), Identity: id}, nil
}

// SessionVerify verifies a session cookie: locally (signature against
// Google's cached public keys, project, expiry) and, with checkRevoked,
// also asks Firebase whether the user has since signed out or been
// disabled or deleted.
func (c *Client) SessionVerify(ctx context.Context, cookie string, checkRevoked bool) (*Identity, error) {
	if cookie == "" {
		return nil, ErrInvalid
	}
	verify := c.auth.VerifySessionCookie
	if checkRevoked {
		verify = c.auth.VerifySessionCookieAndCheckRevoked
	}
	tok, err := verify(ctx, cookie)
	if err != nil {
		return nil, classify("verify session cookie", err)
	}
	id := identity(tok)
	return &id, nil
}

// SignOut revokes the user's refresh tokens: every session cookie and ID
// token issued before now fails the revocation check from now on (Firebase
// counts in whole seconds).
func (c *Client) SignOut(ctx context.Context, uid string) error {
	if err := c.auth.RevokeRefreshTokens(ctx, uid); err != nil {
		if auth.IsUserNotFound(err) {
			return nil // a deleted user has no sessions left to end
		}
		return fmt.Errorf("firebaseauth: revoke refresh tokens: %w", err)
	}
	return nil
}

// classify maps the SDK's errors to ErrInvalid and ErrRevoked; others
// (Firebase or its keys unreachable) stay the server's.
func classify(what string, err error) error {
	switch {
	case auth.IsIDTokenRevoked(err), auth.IsSessionCookieRevoked(err), auth.IsUserDisabled(err), auth.IsUserNotFound(err):
		return fmt.Errorf("%w: %v", ErrRevoked, err)
	case auth.IsCertificateFetchFailed(err), auth.IsInsufficientPermission(err), auth.IsProjectNotFound(err),
		errorutils.IsUnavailable(err), errorutils.IsDeadlineExceeded(err), errorutils.IsInternal(err),
		errorutils.IsUnknown(err), errorutils.IsPermissionDenied(err), errorutils.IsUnauthenticated(err),
		errorutils.IsResourceExhausted(err), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("firebaseauth: %s: %w", what, err)
	case auth.IsIDTokenInvalid(err), auth.IsIDTokenExpired(err), auth.IsSessionCookieInvalid(err), auth.IsSessionCookieExpired(err):
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	// The verifiers report a malformed token with a plain error; the
	// cookie endpoint answers INVALID_ID_TOKEN and the like as invalid
	// arguments. Either way it is the caller's token.
	return fmt.Errorf("%w: %s: %v", ErrInvalid, what, err)
}

// identity reads the claims of a verified token.
func identity(t *auth.Token) Identity {
	id := Identity{UID: t.UID, Provider: t.Firebase.SignInProvider, AuthTime: time.Unix(t.AuthTime, 0)}
	id.Email, _ = t.Claims["email"].(string)
	id.EmailVerified, _ = t.Claims["email_verified"].(bool)
	id.Name, _ = t.Claims["name"].(string)
	return id
}
