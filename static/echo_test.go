package static

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestMountedOnEcho mounts the handler the way the server will and checks a
// hit, a stale hash and a traversal attempt through a real connection.
func TestMountedOnEcho(t *testing.T) {
	a := assets(t)
	e := echo.New()
	e.Match([]string{http.MethodGet, http.MethodHead}, "/static/*", echo.WrapHandler(a.Handler()))
	srv := httptest.NewServer(e)
	defer srv.Close()

	for p, want := range map[string]int{
		a.URL("vendor/htmx/htmx.min.js"):               http.StatusOK,
		a.URL("css/app.css"):                           http.StatusOK,
		"/static/vendor/htmx/htmx.min.000000000000.js": http.StatusNotFound,
		"/static/vendor/htmx/htmx.min.js":              http.StatusNotFound,
		"/static/../go.mod":                            http.StatusNotFound,
		"/static/%2e%2e/go.mod":                        http.StatusNotFound,
		"/static/..%2fgo.mod":                          http.StatusNotFound,
		"/static/":                                     http.StatusNotFound,
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = p
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", p, resp.StatusCode, want)
		}
		if want == http.StatusOK && resp.Header.Get("Cache-Control") != CacheControl {
			t.Errorf("GET %s: Cache-Control %q", p, resp.Header.Get("Cache-Control"))
		}
	}
}
