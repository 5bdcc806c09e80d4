// Package origin tells whether a browser request comes from this site: the
// one check behind the CSRF defence of state changes and the WebSocket
// handshake.
package origin

import (
	"net/http"
	"net/url"
	"strings"
)

// Scheme is "https" when the request came over TLS, directly or, when
// trustProxy is set, as its reverse proxy's X-Forwarded-Proto says.
func Scheme(r *http.Request, trustProxy bool) string {
	if r.TLS != nil {
		return "https"
	}
	if trustProxy && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https") {
		return "https"
	}
	return "http"
}

// Same reports whether the request's Origin header names this site: the
// scheme the request came over and its Host. A missing, opaque ("null")
// or malformed Origin is not the same.
func Same(r *http.Request, trustProxy bool) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, Scheme(r, trustProxy)) && u.Host != "" && strings.EqualFold(u.Host, r.Host) &&
		u.Path == "" && u.User == nil && u.RawQuery == ""
}
