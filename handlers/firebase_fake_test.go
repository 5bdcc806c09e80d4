package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"omtx/api"
	"omtx/firebaseauth"
	"omtx/handlers"
)

// fakeFirebase stands in for Firebase Authentication, a boundary we do
// not own, where the real emulator is not needed: which checks the
// handlers ask for and how they answer Firebase's errors. firebase_test.go
// runs the same flow against the emulator.
type fakeFirebase struct {
	mu        sync.Mutex
	createErr error
	revoked   map[string]bool // uid
	checks    []bool          // checkRevoked of each SessionVerify
}

// An ID token here is "uid|email"; its session cookie "session|uid|email".
func (f *fakeFirebase) SessionCreate(_ context.Context, idToken string) (*firebaseauth.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return nil, f.createErr
	}
	uid, email, ok := strings.Cut(idToken, "|")
	if !ok {
		return nil, firebaseauth.ErrInvalid
	}
	return &firebaseauth.Session{Cookie: "session|" + idToken, ExpiresAt: time.Now().Add(firebaseauth.DefaultSessionTTL),
		Identity: firebaseauth.Identity{UID: uid, Email: email, AuthTime: time.Now()}}, nil
}

func (f *fakeFirebase) SessionVerify(_ context.Context, cookie string, checkRevoked bool) (*firebaseauth.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = append(f.checks, checkRevoked)
	rest, ok := strings.CutPrefix(cookie, "session|")
	uid, email, ok2 := strings.Cut(rest, "|")
	if !ok || !ok2 {
		return nil, firebaseauth.ErrInvalid
	}
	if checkRevoked && f.revoked[uid] {
		return nil, firebaseauth.ErrRevoked
	}
	return &firebaseauth.Identity{UID: uid, Email: email}, nil
}

func (f *fakeFirebase) SignOut(_ context.Context, uid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked[uid] = true
	return nil
}

func (f *fakeFirebase) lastCheck() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks[len(f.checks)-1]
}

func newFakeFirebaseEnv(t *testing.T, key []byte) (*env, *fakeFirebase) {
	t.Helper()
	fake := &fakeFirebase{revoked: map[string]bool{}}
	e := newEnv(t, func(d *handlers.Deps) {
		d.Firebase = &handlers.FirebaseConfig{Auth: fake, Users: d.Accounts.(handlers.ExternalUsers),
			APIKey: "k", ProjectID: "p", CSRFKey: key}
	})
	return e, fake
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)"`)

// fakeSignIn posts an ID token with a fresh sign-in page's token and
// returns the answer.
func fakeSignIn(t *testing.T, e *env, idToken string) (int, string, *http.Cookie) {
	t.Helper()
	page := e.do(req{method: http.MethodGet, path: "/signin"})
	var signin *http.Cookie
	for _, c := range page.Result().Cookies() {
		if c.Name == "omtx_signin_csrf" {
			signin = c
		}
	}
	if signin == nil {
		t.Fatalf("sign-in page set no cookie")
	}
	rec := e.do(req{method: http.MethodPost, path: "/signin/firebase", cookie: signin,
		body: url.Values{"id_token": {idToken}, "csrf_token": {signin.Value}}.Encode(), ctype: "application/x-www-form-urlencoded"})
	var session *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "omtx_session" && c.Value != "" {
			session = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	return rec.Code, rec.Body.String(), session
}

// Reads verify the cookie locally; state changes ask for the revocation
// check, and a revoked session cannot change anything.
func TestFirebaseRevocationOnStateChanges(t *testing.T) {
	t.Parallel()
	e, fake := newFakeFirebaseEnv(t, nil)
	code, body, session := fakeSignIn(t, e, "uid-1|ann@example.com")
	if code != http.StatusOK || session == nil || !strings.Contains(body, `"name":"ann"`) {
		t.Fatalf("sign in: %d %s", code, body)
	}
	home := e.do(req{method: http.MethodGet, path: "/", cookie: session})
	m := csrfMeta.FindStringSubmatch(home.Body.String())
	if m == nil {
		t.Fatalf("no CSRF token: %s", home.Body)
	}
	csrf := m[1]
	if fake.lastCheck() {
		t.Errorf("a page asked for the revocation check")
	}
	submit := func() int {
		return e.do(req{method: http.MethodPost, path: api.Prefix + "/batches/submit", cookie: session, ctype: "application/json",
			body:   `{"job_name":"x","model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"CCO"}]}`,
			header: map[string]string{"X-CSRF-Token": csrf}}).Code
	}
	if c := submit(); c != http.StatusAccepted || !fake.lastCheck() {
		t.Fatalf("submit: %d, revocation checked %v", c, fake.lastCheck())
	}
	fake.SignOut(context.Background(), "uid-1")
	if c := submit(); c != http.StatusUnauthorized {
		t.Errorf("submit after revocation: %d", c)
	}
	if c := e.do(req{method: http.MethodGet, path: api.Prefix + "/me", cookie: session}).Code; c != http.StatusOK {
		t.Errorf("a read after revocation (local check): %d", c)
	}
}

// Firebase's answers to a sign-in map to the caller's 401s, with what to
// do; a failure of Firebase itself is the server's.
func TestFirebaseSigninErrors(t *testing.T) {
	t.Parallel()
	e, fake := newFakeFirebaseEnv(t, nil)
	for _, tc := range []struct {
		err    error
		status int
		says   string
	}{
		{firebaseauth.ErrStale, 401, "older than a few minutes"},
		{firebaseauth.ErrRevoked, 401, "signed out everywhere"},
		{firebaseauth.ErrInvalid, 401, "not valid or has expired"},
		{errors.New("firebase unreachable"), 500, "internal error"},
	} {
		fake.mu.Lock()
		fake.createErr = tc.err
		fake.mu.Unlock()
		code, body, session := fakeSignIn(t, e, "uid-2|bo@example.com")
		if code != tc.status || !strings.Contains(body, tc.says) || session != nil {
			t.Errorf("%v: %d %s (cookie %v)", tc.err, code, body, session)
		}
	}
	// Not a form.
	rec := e.do(req{method: http.MethodPost, path: "/signin/firebase", body: `{"id_token":"x"}`, ctype: "application/json"})
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("JSON body: %d", rec.Code)
	}
}

// The CSRF token of a session is an HMAC of its cookie: the same on every
// replica with the same key, refused under another key, different for
// another session.
func TestFirebaseCSRFDerived(t *testing.T) {
	t.Parallel()
	key := []byte(strings.Repeat("k", 32))
	e1, _ := newFakeFirebaseEnv(t, key)
	_, _, s1 := fakeSignIn(t, e1, "uid-3|cy@example.com")
	_, _, s2 := fakeSignIn(t, e1, "uid-4|di@example.com")
	token := func(e *env, s *http.Cookie) string {
		m := csrfMeta.FindStringSubmatch(e.do(req{method: http.MethodGet, path: "/", cookie: s}).Body.String())
		if m == nil {
			t.Fatal("no CSRF token")
		}
		return m[1]
	}
	t1 := token(e1, s1)
	if t1 == token(e1, s2) {
		t.Fatal("two sessions share a CSRF token")
	}
	// Other replicas (the fake's cookies depend on the ID token alone).
	e2, _ := newFakeFirebaseEnv(t, key)
	fakeSignIn(t, e2, "uid-3|cy@example.com")
	if token(e2, s1) != t1 {
		t.Error("replicas with one key derive different tokens")
	}
	e3, _ := newFakeFirebaseEnv(t, []byte(strings.Repeat("x", 32)))
	fakeSignIn(t, e3, "uid-3|cy@example.com")
	if token(e3, s1) == t1 {
		t.Error("another key derives the same token")
	}
	for _, tc := range []struct {
		e    *env
		want int
	}{{e1, http.StatusSeeOther}, {e3, http.StatusForbidden}} {
		rec := tc.e.do(req{method: http.MethodPost, path: "/signout", cookie: s1, header: map[string]string{"X-CSRF-Token": t1}})
		if rec.Code != tc.want {
			t.Errorf("sign out with the token: %d, want %d", rec.Code, tc.want)
		}
	}
}
