// Package static embeds the web pages' CSS and JavaScript (our own plus the
// vendored front-end packages, see vendor/VERSIONS.md) and serves them under
// content-hashed URLs, so that browsers may cache them for a year: a changed
// file gets a new URL.
//
// Names are slash paths relative to this directory, such as
// "vendor/htmx/htmx.min.js" or "css/app.css". Templates ask for
// a.URL(name) and get "/static/vendor/htmx/htmx.min.<hash>.js", where <hash>
// is the first 12 hex digits of the file's SHA-256.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Prefix is the URL path under which Handler serves the assets.
const Prefix = "/static/"

// CacheControl is sent with every asset: a hashed URL never changes content.
const CacheControl = "public, max-age=31536000, immutable"

// The licence files and VERSIONS.md are embedded so the notices ship with the
// binary; only files with a type in contentTypes are served.
//
//go:embed css/*.css js/*.js vendor
var files embed.FS

// contentTypes lists the extensions that are served, and their types.
var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".wasm": "application/wasm",
}

// compressible extensions get a gzip copy made once, in New.
var compressible = map[string]bool{".js": true, ".css": true}

type asset struct {
	name        string // "vendor/htmx/htmx.min.js"
	url         string // "/static/vendor/htmx/htmx.min.0123456789ab.js"
	hash        string // 12 hex digits
	contentType string
	body        []byte
	gz          []byte // nil when not worth compressing
}

// Assets is the set of embedded files, indexed by name and by hashed URL.
// It is safe for concurrent use.
type Assets struct {
	byName map[string]*asset
	byURL  map[string]*asset
	names  []string
}

// New reads the embedded files, hashes them and precompresses the text ones.
func New() (*Assets, error) {
	a := &Assets{byName: map[string]*asset{}, byURL: map[string]*asset{}}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := path.Ext(name)
		ct, ok := contentTypes[ext]
		if !ok {
			return nil
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])[:12]
		as := &asset{
			name:        name,
			url:         Prefix + strings.TrimSuffix(name, ext) + "." + h + ext,
			hash:        h,
			contentType: ct,
			body:        body,
		}
		a.byName[name] = as
		a.byURL[as.url] = as
		a.names = append(a.names, name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	slices.Sort(a.names)

	// Compress in parallel: molstar.js alone is ~5 MB.
	var wg sync.WaitGroup
	errs := make(chan error, len(a.names))
	for _, as := range a.byName {
		if !compressible[path.Ext(as.name)] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			gz, err := gzipBytes(as.body)
			if err != nil {
				errs <- fmt.Errorf("static: gzip %s: %w", as.name, err)
				return
			}
			// Keep the compressed copy only where it saves something worth it.
			if len(gz) < len(as.body)*9/10 {
				as.gz = gz
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return a, nil
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// URL returns the hashed URL of a known asset, e.g.
// URL("vendor/htmx/htmx.min.js") = "/static/vendor/htmx/htmx.min.<hash>.js".
// An unknown name is a programming error and panics.
func (a *Assets) URL(name string) string {
	as, ok := a.byName[name]
	if !ok {
		panic(fmt.Sprintf("static: unknown asset %q", name))
	}
	return as.url
}

// Hash returns the content hash of a known asset (the ETag it is served
// with); it panics on an unknown name, like URL.
func (a *Assets) Hash(name string) string {
	as, ok := a.byName[name]
	if !ok {
		panic(fmt.Sprintf("static: unknown asset %q", name))
	}
	return as.hash
}

// Names returns the names of all served assets, sorted.
func (a *Assets) Names() []string {
	return slices.Clone(a.names)
}

// Handler serves the assets at their hashed URLs (full request path, starting
// with Prefix; mount it at "/static/*"). Anything else, including an old hash
// of a file, a path without hash, a directory or a path with "..", is 404: the
// request path is looked up as a whole in the table of hashed URLs, never
// mapped onto a file system.
func (a *Assets) Handler() http.Handler {
	return http.HandlerFunc(a.serve)
}

func (a *Assets) serve(w http.ResponseWriter, r *http.Request) {
	as, ok := a.byURL[r.URL.Path]
	if !ok || r.URL.RawPath != "" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}

	h := w.Header()
	h.Set("Cache-Control", CacheControl)
	h.Set("Content-Type", as.contentType)
	h.Set("X-Content-Type-Options", "nosniff")

	body := as.body
	etag := `"` + as.hash + `"`
	if as.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body = as.gz
			// A distinct strong validator per representation (RFC 9110 8.8.3).
			etag = `"` + as.hash + `-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)

	if inm := r.Header.Get("If-None-Match"); inm != "" && matchesHash(inm, as.hash) {
		h.Del("Content-Type")
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}

	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body) //nolint:errcheck // the client went away; nothing to do
	}
}

// matchesHash reports whether an If-None-Match list names this content, in
// either representation: content under a hashed URL never changes, so any
// tag carrying the hash means the client has it.
func matchesHash(inm, hash string) bool {
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		t = strings.Trim(t, `"`)
		if t == hash || t == hash+"-gzip" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (q > 0),
// explicitly or through "*".
func acceptsGzip(ae string) bool {
	gz, star := -1.0, -1.0
	for _, part := range strings.Split(ae, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gz = q
		case "*":
			star = q
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}
