package handlers_test

// Security checks that the hub keeps its protections: each test here
// fails if the protection it names is removed. Points already covered
// elsewhere are not repeated: TestCSRF (api_test.go: a cookie POST
// without or with a wrong token, another Origin, bearer needs no token),
// TestSignIn (api_test.go: cookie flags, Secure under r.TLS and behind a
// trusted proxy only), TestLiveSocket (live_test.go: JSON feed isolation,
// bearer cross-origin and anonymous handshakes), TestCallerMistakes
// (api_test.go: oversized JSON and multipart API bodies answer 413
// too_large), TestDownloadNames and TestContentDisposition (injectionNames
// download names), TestPagesAssets (pages.go's CSP on three pages).

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gorilla/websocket"

	"omtx/api"
	"omtx/handlers"
	"omtx/static"
)

// thisOrigin is the origin of the test requests (httptest.NewRequest's host).
const thisOrigin = "http://example.com"

// cspPolicy is a parsed Content-Security-Policy: each directive's sources.
type cspPolicy map[string][]string

func parseCSP(h string) cspPolicy {
	p := cspPolicy{}
	for _, d := range strings.Split(h, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			p[strings.ToLower(f[0])] = f[1:]
		}
	}
	return p
}

// sources are a fetch directive's sources, default-src's when it is
// absent.
func (p cspPolicy) sources(dir string) []string {
	if s, ok := p[dir]; ok {
		return s
	}
	return p["default-src"]
}

func (p cspPolicy) has(dir, source string) bool { return slices.Contains(p.sources(dir), source) }

// allowsURL reports whether the directive lets the page load raw.
func (p cspPolicy) allowsURL(dir, raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return false
	}
	for _, s := range p.sources(dir) {
		switch {
		case s == "*" && u.Scheme != "data" && u.Scheme != "blob":
			return true
		case s == "'self'" && (u.Scheme == "" && u.Host == "" || u.Scheme+"://"+u.Host == thisOrigin):
			return true
		case strings.HasSuffix(s, ":") && !strings.Contains(s, "/") && u.Scheme+":" == s:
			return true
		case strings.Contains(s, "://") && u.Host != "" && strings.HasPrefix(u.Scheme+"://"+u.Host+u.Path, s):
			return true
		}
	}
	return false
}

// allowsInline reports whether the directive lets an inline script or
// style with this content run: by its hash, or 'unsafe-inline' when the
// directive lists no hash or nonce (which would disable it).
func (p cspPolicy) allowsInline(dir, content string) bool {
	sum := sha256.Sum256([]byte(content))
	if p.has(dir, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		return true
	}
	for _, s := range p.sources(dir) {
		if strings.HasPrefix(s, "'sha") || strings.HasPrefix(s, "'nonce-") {
			return false
		}
	}
	return p.has(dir, "'unsafe-inline'")
}

// cspViolations lists what of an HTML document the cspPolicy would block: an
// inline script or handler, a style attribute, a script, stylesheet,
// image or frame from elsewhere, a javascript: URL, a form posting
// elsewhere, a <base>, and the htmx attributes that evaluate code.
func cspViolations(p cspPolicy, body string) []string {
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	eval := p.has("script-src", "'unsafe-eval'")
	doc.Find("*").Each(func(_ int, el *goquery.Selection) {
		tag := goquery.NodeName(el)
		for _, a := range el.Nodes[0].Attr {
			name, val := strings.ToLower(a.Key), strings.TrimSpace(a.Val)
			lower := strings.ToLower(val)
			switch {
			case strings.HasPrefix(name, "on"):
				bad("<%s %s=%q>: inline event handler", tag, name, val)
			case name == "style" && !p.allowsInline("style-src", val):
				bad("<%s style=%q>: inline style", tag, val)
			case strings.HasPrefix(name, "hx-on") && !eval:
				bad("<%s %s>: htmx evaluates it as code", tag, name)
			case (name == "hx-vals" || name == "hx-headers") && (strings.HasPrefix(lower, "js:") || strings.HasPrefix(lower, "javascript:")) && !eval:
				bad("<%s %s=%q>: htmx evaluates it as code", tag, name, val)
			case name == "hx-trigger" && strings.Contains(val, "[") && !eval:
				bad("<%s hx-trigger=%q>: an event filter is evaluated as code", tag, val)
			case (name == "href" || name == "src" || name == "action" || name == "formaction" || strings.HasPrefix(name, "hx-get") ||
				strings.HasPrefix(name, "hx-post")) && strings.HasPrefix(strings.Join(strings.Fields(lower), ""), "javascript:"):
				bad("<%s %s=%q>: javascript: URL", tag, name, val)
			}
		}
		attr := func(n string) string { return el.AttrOr(n, "") }
		switch tag {
		case "script":
			switch t := strings.ToLower(attr("type")); {
			case t != "" && t != "module" && !strings.Contains(t, "javascript") && !strings.Contains(t, "ecmascript"):
				// a data block (application/json, ...), never run
			case attr("src") != "":
				if !p.allowsURL("script-src", attr("src")) {
					bad("<script src=%q>: not allowed by script-src", attr("src"))
				}
			case !p.allowsInline("script-src", el.Text()):
				bad("inline <script>: %.60q", el.Text())
			}
		case "style":
			if !p.allowsInline("style-src", el.Text()) {
				bad("inline <style>: %.60q", el.Text())
			}
		case "link":
			rel := strings.Fields(strings.ToLower(attr("rel")))
			switch {
			case slices.Contains(rel, "stylesheet") && !p.allowsURL("style-src", attr("href")):
				bad("<link rel=stylesheet href=%q>: not allowed by style-src", attr("href"))
			case (slices.Contains(rel, "modulepreload") || slices.Contains(rel, "preload") && attr("as") == "script") && !p.allowsURL("script-src", attr("href")):
				bad("<link rel=%s href=%q>: not allowed by script-src", attr("rel"), attr("href"))
			case slices.Contains(rel, "icon") && !p.allowsURL("img-src", attr("href")):
				bad("<link rel=icon href=%q>: not allowed by img-src", attr("href"))
			}
		case "img":
			if attr("src") != "" && !p.allowsURL("img-src", attr("src")) {
				bad("<img src=%q>: not allowed by img-src", attr("src"))
			}
		case "form":
			if a := attr("action"); a != "" && !cspPolicy(map[string][]string{"form-action": p["form-action"]}).allowsURL("form-action", a) {
				bad("<form action=%q>: not allowed by form-action", a)
			}
		case "iframe", "frame", "object", "embed":
			bad("<%s>: the pages embed nothing", tag)
		case "base":
			bad("<base>: base-uri")
		}
	})
	return out
}

// checkSecurityHeaders checks the headers every HTML answer carries and
// returns its cspPolicy.
func checkSecurityHeaders(t *testing.T, h http.Header) cspPolicy {
	t.Helper()
	raw := h.Get("Content-Security-Policy")
	if raw == "" {
		t.Fatalf("no Content-Security-Policy: %v", h)
	}
	p := parseCSP(raw)
	if d := p["default-src"]; !slices.Equal(d, []string{"'none'"}) && !slices.Equal(d, []string{"'self'"}) {
		t.Errorf("default-src %q, want 'none' or 'self'", d)
	}
	for _, dir := range []string{"script-src", "style-src"} {
		for _, s := range p.sources(dir) {
			if s == "'unsafe-inline'" || s == "*" || s == "http:" || s == "https:" || s == "data:" || s == "blob:" {
				t.Errorf("%s allows %s: %s", dir, s, raw)
			}
		}
	}
	if src := p.sources("script-src"); !slices.Contains(src, "'self'") && !slices.Equal(src, []string{"'none'"}) {
		t.Errorf("script-src %q: want 'self'", src)
	}
	if !p.has("object-src", "'none'") {
		t.Errorf("object-src is not 'none': %s", raw)
	}
	if !slices.Equal(p["frame-ancestors"], []string{"'none'"}) && h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("pages can be framed: CSP %q, X-Frame-Options %q", raw, h.Get("X-Frame-Options"))
	}
	if b := p["base-uri"]; !slices.Equal(b, []string{"'none'"}) && !slices.Equal(b, []string{"'self'"}) {
		t.Errorf("base-uri %q", b)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", h.Get("X-Content-Type-Options"))
	}
	if rp := h.Get("Referrer-Policy"); !slices.Contains([]string{"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}, rp) {
		t.Errorf("Referrer-Policy %q", rp)
	}
	return p
}

// injectionNames are ligand names built to break out of the HTML they are shown
// in.
var injectionNames = []api.Ligand{
	{Name: `<script>alert("name")</script>`, SMILES: "CCO"},
	{Name: `"><img src=x onerror=alert(1)>`, SMILES: "CCN"},
	{Name: `' style='x' onmouseover='alert(1)`, SMILES: "CCC"},
	{Name: `javascript:alert(1)`, SMILES: "CCCl"},
}

// TestPagesSatisfyTheirCSP: every HTML answer of the route table (each
// route the table lists as a page or as producing text/html, as a full
// page and as the htmx fragment, signed in and not, with the error
// pages and ligand names built to inject markup) carries the security
// headers, and its HTML satisfies the Content-Security-Policy it is
// served with: no inline script or handler, no style attribute, every
// script and stylesheet from this origin.
func TestPagesSatisfyTheirCSP(t *testing.T) {
	t.Parallel()
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := newLiveEnv(t, func(d *handlers.Deps) { d.Assets = assets })
	done := e.submit(alice, dockingBatch("kinase screen", append([]api.Ligand{imatinib, {Name: evilName, SMILES: aspirin.SMILES}}, injectionNames...)...))
	single := e.predict(alice, imatinib)
	e.runAll(done, single)
	open := e.submit(alice, dockingBatch(`<script>alert("batch")</script>`, ibuprofen, paracetamol))
	child := e.childIDs(alice, done)[0]
	a := e.browser(alice)
	csrfHeader := map[string]string{"X-CSRF-Token": a.csrf}
	form := func(v url.Values) string { v.Set("csrf_token", a.csrf); return v.Encode() }
	const formType = "application/x-www-form-urlencoded"
	hx := map[string]string{"HX-Request": "true"}
	var pasted strings.Builder
	for _, l := range injectionNames {
		pasted.WriteString(l.Name + "," + l.SMILES + "\n")
	}
	pasted.WriteString(`<b onclick=x>,C1CC` + "\n")

	type page struct {
		route  string // "METHOD pattern" of the route table
		r      req
		status int
	}
	pages := []page{
		{"GET /", req{method: "GET", path: "/"}, 200},
		{"GET /", req{method: "GET", path: "/", cookie: a.cookie}, 200},
		{"GET /", req{method: "GET", path: "/?model=boltz2", cookie: a.cookie, header: hx}, 200},
		{"POST /", req{method: "POST", path: "/", cookie: a.cookie, ctype: formType,
			body: form(url.Values{"model": {"vina"}, "target": {"ABL1"}, "ligands": {pasted.String()}})}, 400},
		{"POST /ligands/check", req{method: "POST", path: "/ligands/check", cookie: a.cookie, ctype: formType,
			body: form(url.Values{"model": {"vina"}, "ligands": {pasted.String()}})}, 200},
		{"POST /ligands/check", req{method: "POST", path: "/ligands/check", cookie: a.cookie, ctype: formType, header: hx,
			body: form(url.Values{"model": {"vina"}, "ligands": {pasted.String()}})}, 200},
		{"GET /signin", req{method: "GET", path: "/signin?token=" + url.QueryEscape(`"><script>alert(1)</script>`)}, 200},
		{"POST /signin", req{method: "POST", path: "/signin", ctype: formType, body: "token=omtx_wrong"}, 401},
		{"GET /my-batches", req{method: "GET", path: "/my-batches", cookie: a.cookie}, 200},
		{"GET /my-batches", req{method: "GET", path: "/my-batches?q=%3Cscript%3E", cookie: a.cookie, header: hx}, 200},
		{"POST /my-batches/delete", req{method: "POST", path: "/my-batches/delete", cookie: a.cookie, ctype: formType,
			body: form(url.Values{"id": {done, open}})}, 200},
		{"GET /batch-results/:batch_id", req{method: "GET", path: "/batch-results/" + done, cookie: a.cookie}, 200},
		{"GET /batch-results/:batch_id", req{method: "GET", path: "/batch-results/" + done + "?job=" + child, cookie: a.cookie}, 200},
		{"GET /batch-results/:batch_id", req{method: "GET", path: "/batch-results/" + done + "?sort=affinity&q=%3Cscript%3E", cookie: a.cookie, header: hx}, 200},
		{"GET /batch-results/:batch_id", req{method: "GET", path: "/batch-results/" + open, cookie: a.cookie}, 200},
		{"GET /batch-results/:batch_id", req{method: "GET", path: "/batch-results/nope", cookie: a.cookie}, 404},
		{"GET /jobs/:job_id", req{method: "GET", path: "/jobs/" + single, cookie: a.cookie}, 200},
		{"GET /jobs/:job_id", req{method: "GET", path: "/jobs/" + child, cookie: a.cookie}, 200},
		{"GET /api/docs", req{method: "GET", path: "/api/docs"}, 200},
	}
	var covered []string
	for _, p := range pages {
		covered = append(covered, p.route)
	}
	htmlRoutes := handlers.HTMLRoutes()
	for _, r := range htmlRoutes {
		if !slices.Contains(covered, r) {
			t.Errorf("HTML route %s is not checked", r)
		}
	}
	for _, p := range pages {
		if !slices.Contains(e.routes, p.route) {
			t.Errorf("%s is not a route of the table", p.route)
		}
		t.Run(p.r.method+" "+p.r.path, func(t *testing.T) {
			if p.r.header == nil && p.r.cookie != nil && p.r.method == "POST" {
				p.r.header = csrfHeader
			}
			rec := e.do(p.r)
			if rec.Code != p.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, p.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("content type %q", ct)
			}
			pol := checkSecurityHeaders(t, rec.Header())
			for _, v := range cspViolations(pol, rec.Body.String()) {
				t.Errorf("%s", v)
			}
			if strings.Contains(rec.Body.String(), `<script>alert(`) {
				t.Errorf("a injectionNames name reached the page unescaped")
			}
		})
	}
}

// TestLiveFragmentsSatisfyCSP: the HTML the WebSocket sends into My
// batches and into a batch's results page (its rows, with names built
// to inject markup) satisfies the pages' policy.
func TestLiveFragmentsSatisfyCSP(t *testing.T) {
	t.Parallel()
	e, _ := newLiveEnv(t)
	srv := newTestServer(t, e)
	a := e.browser(alice)
	id := e.submit(alice, dockingBatch(`<script>alert("live")</script>`, injectionNames...))
	rec := e.get(&a, "/my-batches", false)
	pol := checkSecurityHeaders(t, rec.Header())
	list := dialPage(t, srv, "/ws", a)
	rows := dialPage(t, srv, "/ws?batch="+id, a)
	for _, c := range []*websocket.Conn{list, rows} {
		readUntil(t, c, `data-state="live"`, time.Now().Add(5*time.Second))
	}
	job := e.completeOne(id, -8.2)
	for name, c := range map[string]*websocket.Conn{"My batches": list, "results page": rows} {
		msg := readUntil(t, c, "1 of 4 done", time.Now().Add(5*time.Second))
		if name == "results page" && !strings.Contains(string(msg), "row-"+job) {
			t.Errorf("the results page's message has no row: %s", msg)
		}
		for _, v := range cspViolations(pol, string(msg)) {
			t.Errorf("%s: %s", name, v)
		}
		if strings.Contains(string(msg), `<script>alert(`) {
			t.Errorf("%s: a hostile name unescaped: %s", name, msg)
		}
	}
}

// TestFirebaseSigninPageCSP: the Firebase sign-in page, which alone
// talks to Google's sign-in service, satisfies its own cspPolicy: its
// scripts come from this origin (the Firebase SDK is served by the hub)
// and nothing runs inline.
func TestFirebaseSigninPageCSP(t *testing.T) {
	t.Parallel()
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := newFakeFirebaseEnv(t, nil)
	e2 := newEnv(t, func(d *handlers.Deps) {
		d.Assets = assets
		d.Firebase = &handlers.FirebaseConfig{Auth: &fakeFirebase{revoked: map[string]bool{}}, Users: d.Accounts.(handlers.ExternalUsers),
			APIKey: "k", ProjectID: "p"}
	})
	for _, fe := range []*env{e, e2} {
		rec := fe.do(req{method: "GET", path: "/signin"})
		if rec.Code != 200 {
			t.Fatalf("sign-in page: %d %s", rec.Code, rec.Body)
		}
		pol := checkSecurityHeaders(t, rec.Header())
		for _, v := range cspViolations(pol, rec.Body.String()) {
			t.Errorf("%s", v)
		}
	}
}

// TestAPISecurityHeaders: every answer that is not a page (JSON, errors,
// downloads, operator endpoints) is no document a browser may sniff,
// run or frame: nosniff, a cspPolicy that loads nothing and no framing.
func TestAPISecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	done := e.submit(alice, dockingBatch("headers", aspirin))
	e.runAll()
	child := e.childIDs(alice, done)[0]
	validate := `{"ligands": [{"name": "ethanol", "smiles": "CCO"}]}`
	for _, r := range []req{
		{method: "GET", path: api.Prefix + "/me", user: alice},
		{method: "GET", path: api.Prefix + "/me"},
		{method: "GET", path: api.Prefix + "/batches/" + done, user: alice},
		{method: "GET", path: api.Prefix + "/batches/" + done, user: bob},
		{method: "GET", path: api.Prefix + "/batches/" + done + "/export.csv", user: alice},
		{method: "GET", path: api.Prefix + "/batches/" + done + "/jobs/" + child + "/download/cif", user: alice},
		{method: "POST", path: api.Prefix + "/ligands/validate", user: alice, body: validate, ctype: "application/json"},
		{method: "GET", path: api.Prefix + "/no/such/route"},
		{method: "GET", path: api.Prefix + "/openapi.json"},
		{method: "GET", path: "/health"},
		{method: "GET", path: "/metrics"},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			rec := e.do(r)
			h := rec.Header()
			if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Fatalf("not a page, yet HTML")
			}
			if h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%d without X-Content-Type-Options: nosniff: %v", rec.Code, h)
			}
			p := parseCSP(h.Get("Content-Security-Policy"))
			if !slices.Equal(p["default-src"], []string{"'none'"}) {
				t.Errorf("%d: Content-Security-Policy %q, want default-src 'none'", rec.Code, h.Get("Content-Security-Policy"))
			}
			if !slices.Equal(p["frame-ancestors"], []string{"'none'"}) && h.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%d can be framed: %v", rec.Code, h)
			}
		})
	}
}

// TestLiveSocketTenancyRendered: with the pages' renderers, a change of
// alice's batch reaches alice's page as HTML and nothing reaches bob's
// sockets within a deadline, not even the one that names alice's batch
// in its query; bob's sockets are live (his own changes arrive, and
// nothing of alice's with them). A handshake with
// alice's session cookie from another origin or without an Origin (a
// cross-site WebSocket hijack) is refused, as is an anonymous one.
func TestLiveSocketTenancyRendered(t *testing.T) {
	t.Parallel()
	e, _ := newLiveEnv(t)
	srv := newTestServer(t, e)
	wsURL := "ws" + strings.TrimPrefix(srv, "http") + "/ws"
	a, b := e.browser(alice), e.browser(bob)
	for _, c := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"alice's cookie from another origin", http.Header{"Cookie": {a.cookie.String()}, "Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"alice's cookie from an opaque origin", http.Header{"Cookie": {a.cookie.String()}, "Origin": {"null"}}, http.StatusForbidden},
		{"alice's cookie without an Origin", http.Header{"Cookie": {a.cookie.String()}}, http.StatusForbidden},
		{"alice's cookie over http from the https site", http.Header{"Cookie": {a.cookie.String()}, "Origin": {"https" + strings.TrimPrefix(srv, "http")}}, http.StatusForbidden},
		{"anonymous, same origin", http.Header{"Origin": {srv}}, http.StatusUnauthorized},
		{"a forged cookie, same origin", http.Header{"Cookie": {"omtx_session=forged"}, "Origin": {srv}}, http.StatusUnauthorized},
	} {
		conn, resp, err := websocket.DefaultDialer.Dial(wsURL, c.header)
		if err == nil {
			conn.Close()
			t.Errorf("%s: handshake accepted", c.name)
			continue
		}
		if resp == nil || resp.StatusCode != c.status {
			t.Errorf("%s: %v %v, want %d", c.name, resp, err, c.status)
		}
	}

	secret := e.submit(alice, dockingBatch("alice's secret screen", aspirin, caffeine, ibuprofen))
	wa := dialPage(t, srv, "/ws?batch="+secret, a)
	spy := dialPage(t, srv, "/ws?batch="+secret, b)
	mine := dialPage(t, srv, "/ws", b)
	for _, c := range []*websocket.Conn{wa, spy, mine} {
		readUntil(t, c, `data-state="live"`, time.Now().Add(5*time.Second))
	}
	job := e.completeOne(secret, -9.4)
	got := readUntil(t, wa, "1 of 3 done", time.Now().Add(5*time.Second))
	if !strings.Contains(string(got), job) {
		t.Errorf("alice's page lacks her row: %s", got)
	}
	// Nothing at all reaches bob's sockets on alice's change: not her
	// batch, not even a new seq of the live indicator.
	for name, c := range map[string]*websocket.Conn{"bob's socket naming alice's batch": spy, "bob's My batches socket": mine} {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, msg, err := c.ReadMessage(); err == nil {
			t.Fatalf("%s received a message on alice's change: %s", name, msg)
		} else if ne, ok := err.(interface{ Timeout() bool }); !ok || !ne.Timeout() {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// A read that timed out leaves the connection unusable: bob opens his
	// pages again. His own changes come after alice's: once they have
	// arrived, alice's would have too.
	spy = dialPage(t, srv, "/ws?batch="+secret, b)
	mine = dialPage(t, srv, "/ws", b)
	for _, c := range []*websocket.Conn{spy, mine} {
		readUntil(t, c, `data-state="live"`, time.Now().Add(5*time.Second))
	}
	bobs := e.submit(bob, dockingBatch("bob's screen", paracetamol))
	cancel := e.do(req{method: "POST", path: api.Prefix + "/batches/" + bobs + "/cancel", user: bob})
	if cancel.Code != 200 {
		t.Fatalf("bob's cancel: %d %s", cancel.Code, cancel.Body)
	}
	bobChanges := e.changesOf(bob)
	marker := `data-live-seq="` + itoa(bobChanges[len(bobChanges)-1].Seq) + `"`
	for name, c := range map[string]*websocket.Conn{"bob's socket naming alice's batch": spy, "bob's My batches socket": mine} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("%s: bob's own change did not arrive: %v", name, err)
			}
			for _, leak := range []string{secret, job, "secret screen", "1 of 3 done"} {
				if strings.Contains(string(msg), leak) {
					t.Fatalf("%s received alice's %q: %s", name, leak, msg)
				}
			}
			if strings.Contains(string(msg), marker) {
				break
			}
		}
		// And nothing more within a deadline.
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, msg, err := c.ReadMessage(); err == nil {
			t.Errorf("%s received more: %s", name, msg)
		}
	}
}

// TestCSRFEveryUnsafeRoute: every route of the table that can change
// state refuses a session-cookie request without the session's CSRF
// token, with another session's token (in the header or the form), and
// with the right token from another or an opaque Origin; the same
// request from this origin with the right token then goes through.
// The sign-in form, which no session protects, refuses other origins.
func TestCSRFEveryUnsafeRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	done := e.submit(alice, dockingBatch("ended", aspirin))
	doneJob := e.predict(alice, caffeine)
	e.runAll(done, doneJob)
	open := e.submit(alice, dockingBatch("queued", ibuprofen))
	toCancel := e.submit(alice, dockingBatch("to cancel", paracetamol))
	openJob := e.predict(alice, api.Ligand{Name: "ethanol", SMILES: "CCO"})
	cookie, token := e.signIn(alice)
	_, bobToken := e.signIn(bob)
	const js, formType = "application/json", "application/x-www-form-urlencoded"
	batchJSON := `{"job_name":"x","model_name":"vina","target":"ABL1","ligands":[{"name":"m","smiles":"CCCO"}]}`
	b := api.Prefix + "/batches/"
	type route struct {
		route, path, ctype, body string
		ok                       int // the status with the right token from this origin
	}
	routes := []route{
		{"POST /api/v3/batches/submit", b + "submit", js, batchJSON, 202},
		{"POST /api/v3/ligands/validate", api.Prefix + "/ligands/validate", js, `{"ligands":[{"name":"e","smiles":"CCO"}]}`, 200},
		{"POST /api/v3/predict", api.Prefix + "/predict", js, `{"job_name":"x","model_name":"vina","target":"ABL1","ligand_name":"p","ligand_smiles":"CCCN"}`, 202},
		{"DELETE /api/v3/batches/:batch_id", b + done, "", "", 204},
		{"POST /api/v3/batches/:batch_id/cancel", b + toCancel + "/cancel", "", "", 200},
		{"POST /api/v3/batches/:batch_id/control/:action", b + open + "/control/pause", "", "", 200},
		{"POST /api/v3/jobs/:job_id/cancel", api.Prefix + "/jobs/" + openJob + "/cancel", "", "", 200},
		{"DELETE /api/v3/jobs/:job_id", api.Prefix + "/jobs/" + doneJob, "", "", 204},
		{"POST /", "/", formType, "model=vina&target=ABL1&ligands=", 400},
		{"POST /ligands/check", "/ligands/check", formType, "model=vina&ligands=e,CCO", 200},
		{"POST /my-batches/delete", "/my-batches/delete", formType, "id=" + open, 200},
		{"POST /signout", "/signout", formType, "", 303},
	}
	// The sign-in routes read no session: only their Origin is checked.
	signin := []string{"POST /signin", "POST /signin/firebase"}
	var covered []string
	for _, r := range routes {
		covered = append(covered, r.route)
	}
	for _, r := range e.routes {
		method, _, _ := strings.Cut(r, " ")
		if method != "GET" && method != "HEAD" && !slices.Contains(covered, r) && !slices.Contains(signin, r) {
			t.Errorf("unsafe route %s is not checked", r)
		}
	}
	for _, r := range routes {
		t.Run(r.route, func(t *testing.T) {
			method, _, _ := strings.Cut(r.route, " ")
			send := func(header map[string]string, field string) int {
				body := r.body
				if field != "" {
					body += "&csrf_token=" + url.QueryEscape(field)
				}
				return e.do(req{method: method, path: r.path, cookie: cookie, ctype: r.ctype, body: body, header: header}).Code
			}
			refused := []struct {
				name   string
				header map[string]string
				field  string
			}{
				{"no token", nil, ""},
				{"bob's token", map[string]string{"X-CSRF-Token": bobToken}, ""},
				{"the right token, another origin", map[string]string{"X-CSRF-Token": token, "Origin": "https://evil.example"}, ""},
				{"the right token, an opaque origin", map[string]string{"X-CSRF-Token": token, "Origin": "null"}, ""},
			}
			if r.ctype == formType {
				refused = append(refused,
					struct {
						name   string
						header map[string]string
						field  string
					}{"bob's token in the form", nil, bobToken},
					struct {
						name   string
						header map[string]string
						field  string
					}{"the right token in the form, another origin", map[string]string{"Origin": "https://evil.example"}, token})
			}
			for _, c := range refused {
				if got := send(c.header, c.field); got != http.StatusForbidden {
					t.Errorf("%s: %d, want 403", c.name, got)
				}
			}
			if got := send(map[string]string{"X-CSRF-Token": token, "Origin": thisOrigin}, ""); got != r.ok {
				t.Errorf("the right token from this origin: %d, want %d", got, r.ok)
			}
		})
	}
	t.Run("sign-in from another origin", func(t *testing.T) {
		for _, origin := range []string{"https://evil.example", "null"} {
			rec := e.do(req{method: "POST", path: "/signin", ctype: formType, body: "token=" + e.tok[alice], header: map[string]string{"Origin": origin}})
			if rec.Code != http.StatusForbidden || rec.Header().Get("Set-Cookie") != "" {
				t.Errorf("Origin %s: %d, cookie %q", origin, rec.Code, rec.Header().Get("Set-Cookie"))
			}
		}
	})
}

// TestSessionCookieOverTLS: through a real TLS server, the session
// cookie is Secure, HttpOnly, SameSite=Lax and Path=/, and so is the
// cookie that signs out; a state change whose Origin is this site over
// plain http is refused.
func TestSessionCookieOverTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := httptest.NewTLSServer(e.h)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	do := func(method, path, ctype, body string, header map[string]string) *http.Response {
		t.Helper()
		r, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		for k, v := range header {
			r.Header.Set(k, v)
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	flags := func(set string) {
		t.Helper()
		for _, want := range []string{"omtx_session=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
			if !strings.Contains(set, want) {
				t.Errorf("cookie %q lacks %s", set, want)
			}
		}
	}
	resp := do("POST", "/signin", "application/x-www-form-urlencoded", "token="+e.tok[alice], map[string]string{"Origin": srv.URL})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	flags(resp.Header.Get("Set-Cookie"))
	cookie := "omtx_session=" + resp.Cookies()[0].Value
	home := do("GET", "/", "", "", map[string]string{"Cookie": cookie})
	page, err := io.ReadAll(home.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(string(page))
	if m == nil {
		t.Fatal("no CSRF token on the home page")
	}
	validate := `{"ligands":[{"name":"e","smiles":"CCO"}]}`
	plain := "http" + strings.TrimPrefix(srv.URL, "https")
	if got := do("POST", api.Prefix+"/ligands/validate", "application/json", validate,
		map[string]string{"Cookie": cookie, "X-CSRF-Token": m[1], "Origin": plain}).StatusCode; got != http.StatusForbidden {
		t.Errorf("Origin %s over TLS: %d, want 403", plain, got)
	}
	if got := do("POST", api.Prefix+"/ligands/validate", "application/json", validate,
		map[string]string{"Cookie": cookie, "X-CSRF-Token": m[1], "Origin": srv.URL}).StatusCode; got != http.StatusOK {
		t.Errorf("Origin %s over TLS: %d, want 200", srv.URL, got)
	}
	out := do("POST", "/signout", "application/x-www-form-urlencoded", "csrf_token="+url.QueryEscape(m[1]), map[string]string{"Cookie": cookie, "Origin": srv.URL})
	if out.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", out.StatusCode)
	}
	set := out.Header.Get("Set-Cookie")
	flags(set)
	if !strings.Contains(set, "Max-Age=0") {
		t.Errorf("sign-out cookie %q does not expire", set)
	}
	if got := do("GET", api.Prefix+"/me", "", "", map[string]string{"Cookie": cookie}).StatusCode; got != http.StatusUnauthorized {
		t.Errorf("the signed-out session still works: %d", got)
	}
}

// TestPageUploadLimits: the browser's forms have the API's limits, with
// the token sent as the forms send it: an oversized paste or library
// upload answers 413, whether its length is declared (refused before
// the body is read) or it is streamed (refused when the form is read, as
// the page's error).
func TestPageUploadLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *handlers.Deps) { d.MaxBody = 4 << 10; d.MaxUpload = 8 << 10 })
	a := e.browser(alice)
	lines := strings.Repeat("CCO ethanol\n", 1000)
	upload, uploadType := multipartBody(t, map[string]string{"model": "vina", "target": "ABL1", "csrf_token": a.csrf}, "library", "lib.smi", lines)
	paste := url.Values{"model": {"vina"}, "target": {"ABL1"}, "ligands": {lines}, "csrf_token": {a.csrf}}.Encode()
	token := map[string]string{"X-CSRF-Token": a.csrf}
	const formType = "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name string
		r    req
		page bool // the page's own error, not the edge's JSON
	}{
		{"upload on the form, token in the form", req{method: "POST", path: "/", cookie: a.cookie, ctype: uploadType, body: upload}, false},
		{"upload on the form, token in the header", req{method: "POST", path: "/", cookie: a.cookie, ctype: uploadType, body: upload, header: token}, false},
		{"paste on the form", req{method: "POST", path: "/", cookie: a.cookie, ctype: formType, body: paste, header: token}, false},
		{"upload on the form, streamed", req{method: "POST", path: "/", cookie: a.cookie, ctype: uploadType, body: upload, header: token, chunked: true}, true},
		{"paste on the form, streamed", req{method: "POST", path: "/", cookie: a.cookie, ctype: formType, body: paste, header: token, chunked: true}, true},
		{"paste to the check, streamed", req{method: "POST", path: "/ligands/check", cookie: a.cookie, ctype: formType, body: paste, header: token, chunked: true}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := e.do(c.r)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413: %.300s", rec.Code, rec.Body)
			}
			if c.page && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
				t.Errorf("the page's 413 answers %q", rec.Header().Get("Content-Type"))
			}
		})
	}
	if list := decode[api.BatchList](t, e.do(req{method: "GET", path: api.Prefix + "/batches", user: alice}), 200); len(list.Batches) != 0 {
		t.Errorf("an oversized form submitted %d batches", len(list.Batches))
	}
}

// TestExportFormulaInjection: names that a spreadsheet would run as
// formulas (= + - @, and tab or CR, which become spaces and are trimmed
// before the guard) come out of both CSV exports as text; numbers,
// negative ones included, stay numbers.
func TestExportFormulaInjection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := []string{`=HYPERLINK("http://evil.example","x")`, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=2+2", " =3+3"}
	smiles := []string{"CCO", "CCN", "CCC", "CCCl", "CCCO", "CCCN", "CCCC"}
	var ligs []api.Ligand
	for i, n := range names {
		ligs = append(ligs, api.Ligand{Name: n, SMILES: smiles[i]})
	}
	id := e.submit(alice, dockingBatch("=cmd()", ligs...))
	e.runAll(id)
	for _, path := range []string{"/export.csv", "/export/csv"} {
		rec := e.do(req{method: "GET", path: api.Prefix + "/batches/" + id + path, user: alice})
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		recs, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(names)+1 {
			t.Fatalf("%s: %d records", path, len(recs))
		}
		text := map[string]bool{"job_id": true, "ligand_name": true, "smiles": true, "status": true, "error": true}
		if recs[0][2] != "ligand_name" {
			t.Fatalf("%s: header %q", path, recs[0])
		}
		for i, rec := range recs[1:] {
			for j, cell := range rec {
				col := recs[0][j]
				switch {
				case cell == "":
				case !text[col]:
					if !regexp.MustCompile(`^-?[0-9.e+-]+$`).MatchString(cell) {
						t.Errorf("%s row %d %s: %q is not a number", path, i, col, cell)
					}
				case strings.ContainsRune("=+-@\t\r", rune(cell[0])):
					t.Errorf("%s row %d %s: %q would run as a formula", path, i, col, cell)
				}
			}
			if !strings.HasPrefix(rec[2], "'") {
				t.Errorf("%s: ligand name %q is not guarded", path, rec[2])
			}
		}
	}
}

// TestDownloadNamesHostile: job files are named after the ligand; no
// ligand name can add a header, a parameter, a path or a hidden or
// reversed name to the Content-Disposition of any download.
func TestDownloadNamesHostile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := []string{
		"x\r\nSet-Cookie: owned=1", `a"; filename="evil.exe`, "invoice\u202Egpj.exe", `..\..\windows\system32\x`,
		"%0d%0aX-Injected: 1", "nul\x00byte", "\u2028\u2029", ".htaccess", "a/b/c", strings.Repeat("../", 80),
		"\uFEFFbom", "bad\xff\xfeutf8", "semi;colon=1", "tab\tname", "é" + strings.Repeat("Z", 300),
	}
	smiles := []string{"CCO", "CCN", "CCC", "CCCl", "CCCO", "CCCN", "CCCC", "OCCO", "NCCN", "CC(C)O", "CC(C)N", "CC(C)C", "OCCCO", "NCCCN", "CCOC"}
	var ligs []api.Ligand
	for i, n := range names {
		ligs = append(ligs, api.Ligand{Name: n, SMILES: smiles[i]})
	}
	id := e.submit(alice, dockingBatch("names", ligs...))
	e.runAll(id)
	ascii := regexp.MustCompile(`^attachment; filename="([\x20-\x7e]+)"(; filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_` + "`" + `|~%]+)?$`)
	for _, kid := range e.childIDs(alice, id) {
		for _, path := range []string{"/download/cif", "/files/results.json", "/files/poses.sdf"} {
			rec := e.do(req{method: "GET", path: api.Prefix + "/batches/" + id + "/jobs/" + kid + path, user: alice})
			if rec.Code != 200 {
				t.Fatalf("%s: %d", path, rec.Code)
			}
			if len(rec.Header().Values("Set-Cookie")) > 0 || rec.Header().Get("X-Injected") != "" {
				t.Errorf("a name added headers: %v", rec.Header())
			}
			cd := rec.Header().Get("Content-Disposition")
			m := ascii.FindStringSubmatch(cd)
			if m == nil {
				t.Errorf("Content-Disposition %q is not one attachment with a clean name", cd)
				continue
			}
			_, params, err := mime.ParseMediaType(cd)
			if err != nil {
				t.Errorf("Content-Disposition %q: %v", cd, err)
				continue
			}
			for _, name := range []string{m[1], params["filename"]} {
				if strings.ContainsAny(name, "/\\\"\x00\r\n;") || strings.HasPrefix(name, ".") || len(name) > 250 ||
					strings.ContainsAny(name, "\u202E\u202D\u2066\u2067\u2068\u2069\u200E\u200F\uFEFF\u2028\u2029") {
					t.Errorf("unsafe file name %q in %q", name, cd)
				}
			}
			if path == "/download/cif" && !strings.Contains(cd, kid) {
				t.Errorf("Content-Disposition %q lacks the job id", cd)
			}
		}
	}
}

// TestCSPChecker: the checker the page tests use finds what a browser
// would block under the pages' policy, and passes what it would allow.
func TestCSPChecker(t *testing.T) {
	t.Parallel()
	pol := parseCSP("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	ok := `<html><head><link rel="stylesheet" href="/static/app.css"><script src="/static/app.js"></script>
		<script type="application/json">{"a": 1}</script></head><body><img src="data:image/png;base64,AA"><img src="/x.png">
		<form method="post" action="/signin"></form><a href="/my-batches">x</a><div hx-get="/x" hx-trigger="load"></div></body></html>`
	if v := cspViolations(pol, ok); len(v) != 0 {
		t.Errorf("allowed HTML flagged: %q", v)
	}
	for _, bad := range []string{
		`<script>alert(1)</script>`,
		`<script src="https://cdn.example/x.js"></script>`,
		`<script src="//cdn.example/x.js"></script>`,
		`<style>body{}</style>`,
		`<p style="color:red">x</p>`,
		`<button onclick="x()">x</button>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href=" JaVaScRiPt:alert(1)">x</a>`,
		`<link rel="stylesheet" href="https://cdn.example/x.css">`,
		`<img src="https://tracker.example/p.gif">`,
		`<form action="https://evil.example/steal"></form>`,
		`<iframe src="/x"></iframe>`,
		`<base href="https://evil.example/">`,
		`<div hx-on:click="alert(1)"></div>`,
		`<div hx-vals="js:{a: alert(1)}"></div>`,
		`<div hx-trigger="click[alert(1)]"></div>`,
	} {
		if v := cspViolations(pol, bad); len(v) == 0 {
			t.Errorf("not flagged: %s", bad)
		}
	}
	sum := sha256.Sum256([]byte("body{}"))
	hashed := parseCSP("default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "' 'unsafe-inline'")
	if v := cspViolations(hashed, `<style>body{}</style>`); len(v) != 0 {
		t.Errorf("a hashed stylesheet flagged: %q", v)
	}
	if v := cspViolations(hashed, `<style>p{}</style><p style="x">`); len(v) != 2 {
		t.Errorf("with a hash 'unsafe-inline' is ignored: %q", v)
	}
}
