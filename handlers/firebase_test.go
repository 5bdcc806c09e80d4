package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"omtx/accounts"
	"omtx/api"
	"omtx/firebaseauth"
	"omtx/firebaseauth/firebaseauthtest"
	"omtx/handlers"
	"omtx/static"
)

// fbEnv is a real server in Firebase mode, over HTTP, against the Auth
// emulator: the env's stores and hub, Firebase sign-in, the pages' assets.
type fbEnv struct {
	*env
	host   string // the emulator
	srv    *httptest.Server
	client *firebaseauth.Client
	// shift moves the clock of the auth_time check (nanoseconds).
	shift *atomic.Int64
}

func newFirebaseEnv(t *testing.T) *fbEnv {
	t.Helper()
	host := firebaseauthtest.Need(t)
	shift := &atomic.Int64{}
	client, err := firebaseauth.New(context.Background(), firebaseauth.Config{
		ProjectID: firebaseauthtest.Project, AllowEmulator: true,
		Now: func() time.Time { return time.Now().Add(time.Duration(shift.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(d *handlers.Deps) {
		d.Assets = assets
		d.Firebase = &handlers.FirebaseConfig{
			Auth: client, Users: d.Accounts.(handlers.ExternalUsers),
			APIKey: firebaseauthtest.APIKey, AuthDomain: "demo-test.firebaseapp.com", ProjectID: firebaseauthtest.Project,
			EmulatorURL: "http://" + host,
		}
	})
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	return &fbEnv{env: e, host: host, srv: srv, client: client, shift: shift}
}

var fbSeq atomic.Int64

// account signs a new email/password account up on the emulator.
func (f *fbEnv) account(name string) *firebaseauthtest.User {
	f.t.Helper()
	email := fmt.Sprintf("%s.%d.%d@example.com", name, time.Now().UnixNano(), fbSeq.Add(1))
	u, err := firebaseauthtest.SignUp(context.Background(), f.host, email, "correct horse battery")
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// idToken signs the account in as the JS SDK does.
func (f *fbEnv) idToken(u *firebaseauthtest.User) string {
	f.t.Helper()
	tok, err := firebaseauthtest.SignIn(context.Background(), f.host, u)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// fbBrowser is one browser: a cookie jar; it follows no redirects and sends
// Origin on unsafe requests, as browsers do.
type fbBrowser struct {
	f      *fbEnv
	client *http.Client
}

func (f *fbEnv) browser() *fbBrowser {
	jar, _ := cookiejar.New(nil)
	return &fbBrowser{f: f, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (b *fbBrowser) do(method, path, ctype, body string, header map[string]string) answer {
	b.f.t.Helper()
	req, err := http.NewRequest(method, b.f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		b.f.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", b.f.srv.URL)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(out)}
}

func (b *fbBrowser) get(path string) answer { return b.do(http.MethodGet, path, "", "", nil) }

func (b *fbBrowser) form(path string, v url.Values, header map[string]string) answer {
	return b.do(http.MethodPost, path, "application/x-www-form-urlencoded", v.Encode(), header)
}

// cookie is the jar's value of a cookie for the server.
func (b *fbBrowser) cookie(name string) string {
	u, _ := url.Parse(b.f.srv.URL + "/signin")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func parse(t *testing.T, a answer, status int) *goquery.Document {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(a.body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// signinPage opens the sign-in page and returns its CSRF token.
func (b *fbBrowser) signinPage() string {
	b.f.t.Helper()
	doc := parse(b.f.t, b.get("/signin"), http.StatusOK)
	token, _ := doc.Find(testid("firebase-signin")).Attr("data-csrf")
	if token == "" {
		b.f.t.Fatalf("sign-in page without a CSRF token")
	}
	return token
}

// signIn signs the browser in with an account and returns the CSRF token
// of its session (from the start page).
func (b *fbBrowser) signIn(u *firebaseauthtest.User) (string, string) {
	b.f.t.Helper()
	token := b.signinPage()
	a := b.form("/signin/firebase", url.Values{"id_token": {b.f.idToken(u)}, "csrf_token": {token}}, nil)
	if a.status != http.StatusOK {
		b.f.t.Fatalf("sign in: %d %s", a.status, a.body)
	}
	var got struct{ Name, Location string }
	if err := json.Unmarshal([]byte(a.body), &got); err != nil || got.Location != "/" || got.Name == "" {
		b.f.t.Fatalf("sign-in answer %s (%v)", a.body, err)
	}
	doc := parse(b.f.t, b.get("/"), http.StatusOK)
	csrf, _ := doc.Find(`meta[name="csrf-token"]`).Attr("content")
	if csrf == "" {
		b.f.t.Fatalf("start page without a CSRF token: %s", a.body)
	}
	if name := doc.Find(testid("user-name")).Text(); name != got.Name {
		b.f.t.Fatalf("signed in as %q, the sign-in said %q", name, got.Name)
	}
	return got.Name, csrf
}

func (b *fbBrowser) submit(csrf string) answer {
	b.f.t.Helper()
	body, _ := json.Marshal(dockingBatch("firebase screen", aspirin))
	h := map[string]string{}
	if csrf != "" {
		h["X-CSRF-Token"] = csrf
	}
	return b.do(http.MethodPost, api.Prefix+"/batches/submit", "application/json", string(body), h)
}

// The whole flow: the page, the double-submit token, the session cookie,
// a page and a state change with the session's CSRF token, users made on
// first sign-in and kept apart, bearer tokens alongside.
func TestFirebaseSignin(t *testing.T) {
	t.Parallel()
	f := newFirebaseEnv(t)
	ann, bea := f.account("ann"), f.account("bea")

	b := f.browser()
	token := b.signinPage()
	if b.cookie("omtx_signin_csrf") != token {
		t.Fatalf("the page's token %q is not its cookie's %q", token, b.cookie("omtx_signin_csrf"))
	}
	// Reloading the page keeps the token: two tabs agree.
	if again := b.signinPage(); again != token {
		t.Fatalf("token changed on reload: %q, %q", token, again)
	}
	idToken := f.idToken(ann)

	// The double-submit token is required and must match; another
	// site's form is refused; the body must be a form with a token.
	for name, tc := range map[string]struct {
		v      url.Values
		header map[string]string
		status int
	}{
		"no CSRF token":    {url.Values{"id_token": {idToken}}, nil, 403},
		"wrong CSRF token": {url.Values{"id_token": {idToken}, "csrf_token": {strings.Repeat("A", 43)}}, nil, 403},
		"other site":       {url.Values{"id_token": {idToken}, "csrf_token": {token}}, map[string]string{"Origin": "https://evil.example"}, 403},
		"no ID token":      {url.Values{"csrf_token": {token}}, nil, 400},
		"bad ID token":     {url.Values{"id_token": {"garbage"}, "csrf_token": {token}}, nil, 401},
	} {
		a := b.form("/signin/firebase", tc.v, tc.header)
		if a.status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", name, a.status, tc.status, a.body)
		}
	}
	other := f.browser() // has no sign-in cookie
	if a := other.form("/signin/firebase", url.Values{"id_token": {idToken}, "csrf_token": {token}}, nil); a.status != 403 {
		t.Errorf("token without its cookie: %d", a.status)
	}
	// The header works as well as the field.
	a := b.form("/signin/firebase", url.Values{"id_token": {idToken}}, map[string]string{"X-CSRF-Token": token})
	if a.status != http.StatusOK {
		t.Fatalf("sign in: %d %s", a.status, a.body)
	}
	if b.cookie("omtx_signin_csrf") != "" {
		t.Errorf("the sign-in cookie outlived the sign-in")
	}
	var session *http.Cookie
	for _, line := range a.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == "omtx_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.MaxAge < int(4*24*time.Hour.Seconds()) {
		t.Fatalf("session cookie %+v", session)
	}

	annName, annCSRF := b.signIn(ann) // again: the same user
	if !strings.HasPrefix(annName, "ann.") {
		t.Errorf("name %q, want one from the email", annName)
	}
	users, err := f.accts.UserList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(users); n != 4 { // alice, bob, carol and ann
		t.Fatalf("%d users after two sign-ins of one account, want 4", n)
	}

	// A state change by cookie needs the session's CSRF token.
	if a := b.submit(""); a.status != http.StatusForbidden {
		t.Fatalf("submit without CSRF: %d %s", a.status, a.body)
	}
	if a := b.submit("wrong"); a.status != http.StatusForbidden {
		t.Fatalf("submit with a wrong CSRF token: %d %s", a.status, a.body)
	}
	a = b.submit(annCSRF)
	if a.status != http.StatusAccepted {
		t.Fatalf("submit: %d %s", a.status, a.body)
	}
	var annBatch api.SubmitBatchResponse
	json.Unmarshal([]byte(a.body), &annBatch)
	if doc := parse(t, b.get("/my-batches"), http.StatusOK); !strings.Contains(doc.Text(), "firebase screen") {
		t.Errorf("My batches lacks the batch")
	}

	// A second account is a second user and sees only its own batches.
	b2 := f.browser()
	beaName, beaCSRF := b2.signIn(bea)
	if beaName == annName {
		t.Fatalf("two accounts share the name %q", beaName)
	}
	if a := b2.get(api.Prefix + "/batches/" + annBatch.BatchID); a.status != http.StatusNotFound {
		t.Errorf("bea reads ann's batch: %d", a.status)
	}
	if a := b2.get(api.Prefix + "/batches"); a.status != 200 || strings.Contains(a.body, annBatch.BatchID) {
		t.Errorf("bea's list: %d %s", a.status, a.body)
	}
	if a := b2.submit(beaCSRF); a.status != http.StatusAccepted {
		t.Fatalf("bea submits: %d %s", a.status, a.body)
	}
	// Each session's CSRF token is its own.
	if a := b2.submit(annCSRF); a.status != http.StatusForbidden {
		t.Errorf("bea with ann's CSRF token: %d", a.status)
	}
	if a := b.get(api.Prefix + "/me"); !strings.Contains(a.body, `"name":"`+annName+`"`) {
		t.Errorf("ann's /me: %s", a.body)
	}

	// Programs keep their bearer tokens; browsers cannot sign in with one.
	if rec := f.do(req{method: http.MethodGet, path: api.Prefix + "/me", user: alice}); rec.Code != 200 {
		t.Errorf("bearer token: %d %s", rec.Code, rec.Body)
	}
	if rec := f.json(http.MethodPost, api.Prefix+"/batches/submit", alice, dockingBatch("by token", aspirin)); rec.Code != http.StatusAccepted {
		t.Errorf("bearer submit: %d %s", rec.Code, rec.Body)
	}
	if a := b2.form("/signin", url.Values{"token": {f.tok[alice]}}, nil); a.status != http.StatusNotFound {
		t.Errorf("token sign-in on a Firebase server: %d %s", a.status, a.body)
	}
	// A cookie that is not a Firebase session is no one's.
	if rec := f.do(req{method: http.MethodGet, path: api.Prefix + "/me", cookie: &http.Cookie{Name: "omtx_session", Value: "garbage"}}); rec.Code != 401 {
		t.Errorf("garbage cookie: %d", rec.Code)
	}
}

// A session needs a sign-in of the last five minutes.
func TestFirebaseSigninStale(t *testing.T) {
	t.Parallel()
	f := newFirebaseEnv(t)
	b := f.browser()
	token := b.signinPage()
	idToken := f.idToken(f.account("old"))
	f.shift.Store(int64(6 * time.Minute))
	a := b.form("/signin/firebase", url.Values{"id_token": {idToken}, "csrf_token": {token}}, nil)
	if a.status != http.StatusUnauthorized || !strings.Contains(a.body, "sign in again") {
		t.Fatalf("old sign-in: %d %s", a.status, a.body)
	}
	if b.cookie("omtx_session") != "" {
		t.Fatal("a session cookie for an old sign-in")
	}
	f.shift.Store(0)
	if a := b.form("/signin/firebase", url.Values{"id_token": {idToken}, "csrf_token": {token}}, nil); a.status != http.StatusOK {
		t.Fatalf("fresh sign-in: %d %s", a.status, a.body)
	}
}

// Signing out revokes the user's Firebase sessions everywhere; a user
// revoked elsewhere (by an administrator, another device's sign-out) can
// no longer change anything.
func TestFirebaseSignout(t *testing.T) {
	t.Parallel()
	f := newFirebaseEnv(t)
	u := f.account("cy")
	laptop, phone := f.browser(), f.browser()
	_, csrf := laptop.signIn(u)
	_, phoneCSRF := phone.signIn(u)
	old := laptop.cookie("omtx_session")

	firebaseauthtest.NextSecond() // revocations count whole seconds
	a := laptop.form("/signout", url.Values{"csrf_token": {csrf}}, nil)
	if a.status != http.StatusSeeOther || laptop.cookie("omtx_session") != "" {
		t.Fatalf("sign out: %d, cookie %q", a.status, laptop.cookie("omtx_session"))
	}
	if doc := parse(t, laptop.get("/"), http.StatusOK); doc.Find(testid("signin-link")).Length() != 1 {
		t.Errorf("still signed in after signing out")
	}
	// The other device's session is revoked too.
	if a := phone.submit(phoneCSRF); a.status != http.StatusUnauthorized {
		t.Errorf("state change on a revoked session: %d %s", a.status, a.body)
	}
	// So is the old cookie, replayed.
	body, _ := json.Marshal(dockingBatch("replayed", aspirin))
	rec := f.do(req{method: http.MethodPost, path: api.Prefix + "/batches/submit", body: string(body), ctype: "application/json",
		cookie: &http.Cookie{Name: "omtx_session", Value: old}, header: map[string]string{"X-CSRF-Token": csrf}})
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("replayed cookie: %d %s", rec.Code, rec.Body)
	}
	// Signing in again works.
	if _, csrf := laptop.signIn(u); laptop.submit(csrf).status != http.StatusAccepted {
		t.Errorf("submit after signing in again failed")
	}

	// Revoked by an administrator.
	v := f.account("dee")
	bv := f.browser()
	_, vCSRF := bv.signIn(v)
	firebaseauthtest.NextSecond()
	if err := f.client.SignOut(context.Background(), v.UID); err != nil {
		t.Fatal(err)
	}
	if a := bv.submit(vCSRF); a.status != http.StatusUnauthorized {
		t.Errorf("state change after revocation: %d %s", a.status, a.body)
	}
}

// The sign-in page carries the web config and the double-submit token,
// loads the SDK from this site, and its policy lets it reach Firebase Auth
// (here the emulator) and nothing else; other pages keep the strict one.
func TestFirebaseSigninPage(t *testing.T) {
	t.Parallel()
	f := newFirebaseEnv(t)
	b := f.browser()
	a := b.get("/signin")
	doc := parse(t, a, http.StatusOK)
	form := doc.Find(testid("firebase-signin"))
	for attr, want := range map[string]string{
		"data-api-key": firebaseauthtest.APIKey, "data-auth-domain": "demo-test.firebaseapp.com",
		"data-project-id": firebaseauthtest.Project, "data-emulator-url": "http://" + f.host,
		"data-action": "/signin/firebase", "data-next": "/", "data-csrf": b.cookie("omtx_signin_csrf"),
	} {
		if got, _ := form.Attr(attr); got != want || want == "" {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	// The credentials have no name: the form never posts them here.
	form.Find("input").Each(func(_ int, in *goquery.Selection) {
		if typ := in.AttrOr("type", ""); (typ == "email" || typ == "password") && in.AttrOr("name", "") != "" {
			t.Errorf("the %s input has a name", typ)
		}
	})
	var scripts []string
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		src := s.AttrOr("src", "")
		if src == "" {
			t.Errorf("inline script: %s", s.Text())
		}
		scripts = append(scripts, src)
	})
	joined := strings.Join(scripts, " ")
	for _, want := range []string{"/static/vendor/firebase/firebase-app-compat.", "/static/vendor/firebase/firebase-auth-compat.", "/static/js/firebase-signin."} {
		if !strings.Contains(joined, want) {
			t.Errorf("scripts %v lack %s", scripts, want)
		}
	}
	for _, src := range scripts {
		if r := b.get(src); r.status != 200 {
			t.Errorf("%s: %d", src, r.status)
		}
	}
	csp := a.header.Get("Content-Security-Policy")
	want := "connect-src 'self' http://" + f.host + ";"
	if !strings.Contains(csp, want) || strings.Contains(csp, "googleapis") || !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("sign-in page CSP %q, want %q and scripts from here only", csp, want)
	}
	c, _ := http.ParseSetCookie(a.header.Get("Set-Cookie"))
	if c == nil || c.Name != "omtx_signin_csrf" || c.SameSite != http.SameSiteStrictMode || !c.HttpOnly || c.Path != "/signin" {
		t.Errorf("sign-in cookie %+v", c)
	}
	for _, path := range []string{"/", "/api/docs"} {
		if csp := b.get(path).header.Get("Content-Security-Policy"); strings.Contains(csp, f.host) {
			t.Errorf("%s allows the emulator: %q", path, csp)
		}
	}
}

// The policy of a server against Firebase itself names Firebase Auth's
// endpoints. (No emulator needed: the page makes no call.)
func TestFirebaseSigninPageProduction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *handlers.Deps) {
		d.Firebase = &handlers.FirebaseConfig{Auth: nil, Users: d.Accounts.(handlers.ExternalUsers),
			APIKey: "AIza-test", AuthDomain: "omtx.firebaseapp.com", ProjectID: "omtx"}
	})
	rec := e.do(req{method: http.MethodGet, path: "/signin"})
	doc := html(t, rec, http.StatusOK)
	if _, ok := doc.Find(testid("firebase-signin")).Attr("data-emulator-url"); ok || doc.Find(testid("emulator")).Length() != 0 {
		t.Errorf("production page names an emulator")
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://identitytoolkit.googleapis.com https://securetoken.googleapis.com;") {
		t.Errorf("CSP %q", csp)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "omtx_signin_csrf" && c.Secure {
			t.Errorf("secure cookie over plain HTTP")
		}
	}
	// Over TLS (behind a proxy that says so) the cookie is Secure.
	e2 := newEnv(t, func(d *handlers.Deps) {
		d.TrustProxy = true
		d.Firebase = &handlers.FirebaseConfig{Users: d.Accounts.(handlers.ExternalUsers), ProjectID: "omtx"}
	})
	rec = e2.do(req{method: http.MethodGet, path: "/signin", header: map[string]string{"X-Forwarded-Proto": "https"}})
	secure := false
	for _, c := range rec.Result().Cookies() {
		secure = secure || c.Name == "omtx_signin_csrf" && c.Secure
	}
	if !secure {
		t.Errorf("sign-in cookie not Secure over TLS: %v", rec.Header().Values("Set-Cookie"))
	}
}

var _ handlers.ExternalUsers = (accounts.Store)(nil)
