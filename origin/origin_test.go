package origin

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

func TestSame(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, origin, proto string
		tls, trust, want    bool
	}{
		{name: "same", origin: "http://hub.test:8080", want: true},
		{name: "host case", origin: "http://HUB.test:8080", want: true},
		{name: "missing", origin: ""},
		{name: "opaque", origin: "null"},
		{name: "other host", origin: "http://evil.test:8080"},
		{name: "other port", origin: "http://hub.test:9090"},
		{name: "other scheme", origin: "https://hub.test:8080"},
		{name: "with path", origin: "http://hub.test:8080/x"},
		{name: "with user", origin: "http://u@hub.test:8080"},
		{name: "malformed", origin: "http://%zz"},
		{name: "tls", origin: "https://hub.test:8080", tls: true, want: true},
		{name: "plain origin over tls", origin: "http://hub.test:8080", tls: true},
		{name: "proxy trusted", origin: "https://hub.test:8080", proto: "https", trust: true, want: true},
		{name: "proxy not trusted", origin: "https://hub.test:8080", proto: "https"},
	} {
		r := httptest.NewRequest("GET", "http://hub.test:8080/ws", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := Same(r, c.trust); got != c.want {
			t.Errorf("%s: Same = %v, want %v", c.name, got, c.want)
		}
	}
}
