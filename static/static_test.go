package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	testOnce   sync.Once
	testAssets *Assets
	testErr    error
)

// assets builds the set once per test binary: New gzips ~5 MB.
func assets(t *testing.T) *Assets {
	t.Helper()
	testOnce.Do(func() { testAssets, testErr = New() })
	if testErr != nil {
		t.Fatal(testErr)
	}
	return testAssets
}

func get(t *testing.T, h http.Handler, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.URL.Path = target // set directly so odd paths are not cleaned by a parser
	req.RequestURI = target
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:12]
}

// diskAssets lists the servable files as they are in the source tree.
func diskAssets(t *testing.T) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(os.DirFS("."), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, ok := contentTypes[path.Ext(p)]; ok && !strings.HasSuffix(p, "_test.go") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestEveryFileEmbeddedAndReachable(t *testing.T) {
	a := assets(t)
	disk := diskAssets(t)
	if !slices.Equal(disk, a.Names()) {
		t.Fatalf("embedded names differ from files on disk:\n disk %v\n embedded %v", disk, a.Names())
	}
	for _, want := range []string{
		"css/app.css", "js/app.js",
		"vendor/htmx/htmx.min.js", "vendor/htmx-ext-ws/ws.min.js",
		"vendor/molstar/molstar.js", "vendor/molstar/molstar.css",
		"vendor/smiles-drawer/smiles-drawer.min.js",
		"vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css",
	} {
		if !slices.Contains(a.Names(), want) {
			t.Errorf("%s not embedded", want)
		}
	}
	h := a.Handler()
	for _, name := range a.Names() {
		orig, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		u := a.URL(name)
		ext := path.Ext(name)
		wantURL := "/static/" + strings.TrimSuffix(name, ext) + "." + hashOf(orig) + ext
		if u != wantURL {
			t.Errorf("URL(%q) = %q, want %q", name, u, wantURL)
		}
		if a.Hash(name) != hashOf(orig) {
			t.Errorf("Hash(%q) = %q, want %q", name, a.Hash(name), hashOf(orig))
		}
		rec := get(t, h, u, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d", u, rec.Code)
			continue
		}
		if !bytes.Equal(rec.Body.Bytes(), orig) {
			t.Errorf("GET %s: body differs from %s", u, name)
		}
		if got := hashOf(rec.Body.Bytes()); !strings.Contains(u, "."+got+".") {
			t.Errorf("GET %s: served content hashes to %s", u, got)
		}
	}
}

func TestURLPanicsOnUnknownName(t *testing.T) {
	a := assets(t)
	for _, name := range []string{"vendor/htmx/htmx.js", "", "vendor/VERSIONS.md", "vendor/htmx/LICENSE"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("URL(%q) did not panic", name)
				}
			}()
			a.URL(name)
		}()
	}
}

func TestNamesIsACopy(t *testing.T) {
	a := assets(t)
	n := a.Names()
	n[0] = "changed"
	if a.Names()[0] == "changed" {
		t.Fatal("Names exposes internal slice")
	}
}

func TestHeaders(t *testing.T) {
	a := assets(t)
	h := a.Handler()
	cases := map[string]string{
		"vendor/htmx/htmx.min.js":    "text/javascript; charset=utf-8",
		"vendor/molstar/molstar.js":  "text/javascript; charset=utf-8",
		"css/app.css":                "text/css; charset=utf-8",
		"vendor/uplot/uPlot.min.css": "text/css; charset=utf-8",
		"js/app.js":                  "text/javascript; charset=utf-8",
	}
	for name, ct := range cases {
		rec := get(t, h, a.URL(name), nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", name, rec.Code)
		}
		hd := rec.Header()
		if got := hd.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", name, got)
		}
		if got := hd.Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", name, got, ct)
		}
		if got := hd.Get("ETag"); got != `"`+a.Hash(name)+`"` {
			t.Errorf("%s: ETag %q", name, got)
		}
		if got := hd.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", name, got)
		}
		if hd.Get("Content-Encoding") != "" {
			t.Errorf("%s: encoded without Accept-Encoding", name)
		}
		if got := hd.Get("Content-Length"); got != "" && got != strconv.Itoa(rec.Body.Len()) {
			t.Errorf("%s: Content-Length %s for %d bytes", name, got, rec.Body.Len())
		}
	}
}

func TestETagNotModified(t *testing.T) {
	a := assets(t)
	h := a.Handler()
	name := "vendor/htmx/htmx.min.js"
	u := a.URL(name)
	etag := get(t, h, u, nil).Header().Get("ETag")
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		rec := get(t, h, u, map[string]string{"If-None-Match": inm})
		if rec.Code != http.StatusNotModified {
			t.Errorf("If-None-Match %s: %d, want 304", inm, rec.Code)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: 304 with a body", inm)
		}
		if rec.Header().Get("ETag") == "" || rec.Header().Get("Cache-Control") == "" {
			t.Errorf("If-None-Match %s: 304 without ETag/Cache-Control", inm)
		}
	}
	// The gzip representation's tag validates too.
	gzTag := get(t, h, u, map[string]string{"Accept-Encoding": "gzip"}).Header().Get("ETag")
	if gzTag == etag || !strings.Contains(gzTag, a.Hash(name)) {
		t.Errorf("gzip ETag %q (identity %q)", gzTag, etag)
	}
	if rec := get(t, h, u, map[string]string{"If-None-Match": gzTag, "Accept-Encoding": "gzip"}); rec.Code != http.StatusNotModified {
		t.Errorf("gzip If-None-Match: %d", rec.Code)
	}
	// Another file's hash does not.
	other := `"` + a.Hash("css/app.css") + `"`
	if rec := get(t, h, u, map[string]string{"If-None-Match": other}); rec.Code != http.StatusOK {
		t.Errorf("If-None-Match with another file's tag: %d, want 200", rec.Code)
	}
}

func TestGzipRoundTrip(t *testing.T) {
	a := assets(t)
	h := a.Handler()
	for _, name := range a.Names() {
		orig, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		rec := get(t, h, a.URL(name), map[string]string{"Accept-Encoding": "br;q=1.0, gzip;q=0.8, *;q=0.1"})
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", name, rec.Code)
		}
		if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			// Only files too small to be worth compressing go without.
			if len(orig) > 4096 {
				t.Errorf("%s: no Vary: Accept-Encoding", name)
			}
			continue
		}
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: not gzipped", name)
			continue
		}
		if rec.Body.Len() >= len(orig) {
			t.Errorf("%s: gzip body %d >= %d", name, rec.Body.Len(), len(orig))
		}
		zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, orig) {
			t.Errorf("%s: gunzipped body differs from the file", name)
		}
	}
	// Large text assets must be compressed.
	for _, name := range []string{"vendor/molstar/molstar.js", "vendor/htmx/htmx.min.js"} {
		rec := get(t, h, a.URL(name), map[string]string{"Accept-Encoding": "gzip, deflate"})
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: not gzipped", name)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for ae, want := range map[string]bool{
		"":                        false,
		"gzip":                    true,
		"GZIP":                    true,
		"gzip, deflate, br, zstd": true,
		"deflate, br":             false,
		"gzip;q=0":                false,
		"gzip; q=0.5":             true,
		"*":                       true,
		"*;q=0":                   false,
		"gzip;q=0, *":             false,
		"br, *;q=0.2":             true,
		"x-gzip":                  true,
		"identity":                false,
	} {
		if got := acceptsGzip(ae); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", ae, got, want)
		}
	}
}

func TestHEAD(t *testing.T) {
	a := assets(t)
	u := a.URL("css/app.css")
	req := httptest.NewRequest(http.MethodHead, u, nil)
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Fatalf("HEAD: %d, body %d, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
	req = httptest.NewRequest(http.MethodPost, u, nil)
	rec = httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

func TestStaleOrMissingHashIs404(t *testing.T) {
	a := assets(t)
	h := a.Handler()
	u := a.URL("vendor/htmx/htmx.min.js")
	hash := a.Hash("vendor/htmx/htmx.min.js")
	otherHash := a.Hash("css/app.css")
	for _, p := range []string{
		strings.Replace(u, hash, "000000000000", 1),        // stale
		strings.Replace(u, hash, otherHash, 1),             // another file's hash
		strings.Replace(u, hash, strings.ToUpper(hash), 1), // case variant
		strings.Replace(u, "."+hash, "", 1),                // unhashed
		strings.Replace(u, hash, hash[:11], 1),             // truncated
		u + "x",
		u + "/",
		strings.TrimPrefix(u, "/static"), // without prefix
		"/static/", "/static", "/static/vendor/", "/static/vendor/htmx/",
		"/static/vendor/VERSIONS.md", "/static/vendor/htmx/LICENSE",
		"/static/static.go", "/static/static_test.go",
	} {
		if rec := get(t, h, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
}

func TestPathTraversalIs404(t *testing.T) {
	a := assets(t)
	h := a.Handler()
	// Through the raw-path field (as a server would see the request line).
	for _, p := range []string{
		"/static/../go.mod",
		"/static/../../go.mod",
		"/static/%2e%2e/go.mod",
		"/static/%2E%2E/go.mod",
		"/static/..%2fgo.mod",
		"/static/..%2Fgo.mod",
		"/static/%2e%2e%2fgo.mod",
		"/static/..%5cgo.mod",
		"/static/..\\go.mod",
		"/static/%252e%252e/go.mod",
		"/static/vendor/../../go.mod",
		"/static//etc/passwd",
		"/static/./css/app.css",
		"/static/css/../static.go",
		"/static/%00",
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RequestURI = p
		if u, err := req.URL.Parse(p); err == nil {
			req.URL = u
		} else {
			req.URL.Path = p
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "module omtx") {
			t.Errorf("GET %s leaked go.mod", p)
		}
	}
	// Through a real server and client, which do their own cleaning.
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, p := range []string{"/static/../go.mod", "/static/%2e%2e/go.mod", "/static/..%2fgo.mod", "/static/%2e%2e%2f%2e%2e%2fgo.mod"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = p // send the path as written, no client-side cleaning
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("module omtx")) {
			t.Errorf("server GET %s: %d", p, resp.StatusCode)
		}
	}
}

func TestOurJSDoesNotLoadByPDBID(t *testing.T) {
	// loadPdb('1abc') makes Mol* fetch from RCSB; pages must load structures
	// from our own URLs. Checked in our scripts only, not in the molstar bundle.
	ents, err := os.ReadDir("js")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`loadPdb\s*\(|loadPdbDev\s*\(|loadEmdb\s*\(`)
	for _, e := range ents {
		b, err := os.ReadFile(path.Join("js", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if re.Match(b) {
			t.Errorf("js/%s calls a Mol* load-by-ID function", e.Name())
		}
	}
}

func TestAppJSSendsCSRFHeader(t *testing.T) {
	b, err := os.ReadFile("js/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"htmx:configRequest"`,
		`meta[name="csrf-token"]`,
		`"X-CSRF-Token"`,
		"evt.detail.headers",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("js/app.js lacks %s", want)
		}
	}
}

func TestAppCSSCoversStatuses(t *testing.T) {
	b, err := os.ReadFile("css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		".status-pending", ".status-running", ".status-completed", ".status-failed", ".status-cancelled",
		"tabular-nums", ":focus-visible", "prefers-reduced-motion", "progress",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("css/app.css lacks %s", want)
		}
	}
	if bytes.Contains(b, []byte("outline: none;\n}")) && !bytes.Contains(b, []byte(":focus:not(:focus-visible)")) {
		t.Error("focus outlines removed for keyboard users")
	}
}

// vendorEntries parses the PACKAGES table of scripts/vendor.sh.
func vendorEntries(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../scripts/vendor.sh")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s*"([^"|]+)\|([^"|]+)\|([^"|]+)\|(sha512-[A-Za-z0-9+/=]+)\|([^"|]+)\|([^"|]+)\|([^"|]+)"\s*$`)
	out := map[string][]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2:]
	}
	if len(out) == 0 {
		t.Fatal("no packages found in scripts/vendor.sh")
	}
	return out
}

func TestVendorScriptMatchesVersionsMD(t *testing.T) {
	script := vendorEntries(t)
	md, err := os.ReadFile("vendor/VERSIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| ([^ |]+) \\| ([^ |]+) \\| (.*) \\| (.*) \\| npm package `([^`]+)`, (sha512-[A-Za-z0-9+/=]+) \\|$")
	doc := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(string(md), -1) {
		doc[m[1]] = m[2:]
	}
	if len(doc) != len(script) {
		t.Errorf("VERSIONS.md lists %d packages, vendor.sh %d", len(doc), len(script))
	}
	var vendored []string
	for name, s := range script {
		version, dir, integrity, files, licFile, licence := s[0], s[1], s[2], strings.Fields(s[3]), s[4], s[5]
		d, ok := doc[name]
		if !ok {
			t.Errorf("%s in vendor.sh, not in VERSIONS.md", name)
			continue
		}
		if d[0] != version {
			t.Errorf("%s: vendor.sh %s, VERSIONS.md %s", name, version, d[0])
		}
		if d[3] != name+"@"+version || d[4] != integrity {
			t.Errorf("%s: VERSIONS.md source %s %s", name, d[3], d[4])
		}
		if !strings.HasPrefix(d[2], licence+" ") {
			t.Errorf("%s: VERSIONS.md licence %q, vendor.sh %s", name, d[2], licence)
		}
		if _, err := os.Stat(path.Join("vendor", dir, path.Base(licFile))); err != nil {
			t.Errorf("%s: licence file missing: %v", name, err)
		}
		for _, f := range files {
			local := dir + "/" + path.Base(f)
			if !strings.Contains(d[1], "`"+local+"`") {
				t.Errorf("%s: VERSIONS.md does not list %s", name, local)
			}
			vendored = append(vendored, "vendor/"+local)
		}
	}
	// Every vendored file served is one the script fetches, and vice versa.
	var served []string
	for _, n := range assets(t).Names() {
		if strings.HasPrefix(n, "vendor/") {
			served = append(served, n)
		}
	}
	slices.Sort(vendored)
	if !slices.Equal(vendored, served) {
		t.Errorf("vendor.sh files %v, embedded %v", vendored, served)
	}
}

func TestPinnedVersions(t *testing.T) {
	script := vendorEntries(t)
	want := map[string]string{
		"htmx.org":      "2.0.11",
		"htmx-ext-ws":   "2.0.4",
		"molstar":       "5.11.0",
		"smiles-drawer": "2.4.1",
		"uplot":         "1.6.32",
	}
	for name, v := range want {
		if got := script[name]; got == nil || got[0] != v {
			t.Errorf("%s: pinned %v, want %s", name, got, v)
		}
	}
	if v := script["htmx.org"]; v != nil && !strings.HasPrefix(v[0], "2.") {
		t.Errorf("htmx.org must stay on 2.x (4.x changed the websocket API), got %s", v[0])
	}
}

func TestVendoredSizeReasonable(t *testing.T) {
	var total int64
	for _, n := range assets(t).Names() {
		st, err := os.Stat(n)
		if err != nil {
			t.Fatal(err)
		}
		total += st.Size()
	}
	if total > 8<<20 {
		t.Errorf("served assets total %d bytes; expected under 8 MiB", total)
	}
}
