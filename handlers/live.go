package handlers

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"omtx/jobs"
)

// requestUserKey carries the signed-in user's id in a request's context
// for plain net/http handlers mounted in the route table.
type requestUserKey struct{}

// RequestUser returns the id of the user the auth middleware signed in,
// for a net/http handler mounted by the route table (the WebSocket).
func RequestUser(r *http.Request) (string, bool) {
	id, ok := r.Context().Value(requestUserKey{}).(string)
	return id, ok && id != ""
}

// websocket hands a signed-in page's WebSocket handshake to the live hub,
// which checks its Origin.
func (s *server) websocket(c echo.Context) error {
	if s.Live == nil {
		return echo.ErrNotFound
	}
	p := userOf(c)
	if p == nil {
		return &jobs.Error{Code: codeUnauthorized, Message: "sign in first"}
	}
	r := c.Request()
	ctx := withLiveScope(context.WithValue(r.Context(), requestUserKey{}, p.user.ID), r)
	s.Live.ServeHTTP(c.Response(), r.WithContext(ctx))
	return nil
}
