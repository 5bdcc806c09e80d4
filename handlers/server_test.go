package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"omtx/handlers"
)

func TestHealthAndReady(t *testing.T) {
	ok := handlers.Check{Name: "store", Ping: func(context.Context) error { return nil }}
	down := handlers.Check{Name: "blob", Ping: func(context.Context) error { return errors.New("bucket unreachable") }}
	cases := []struct {
		name   string
		checks []handlers.Check
		path   string
		status int
		body   []string
	}{
		{"alive", nil, "/health", 200, []string{`"status":"ok"`}},
		{"ready", []handlers.Check{ok}, "/ready", 200, []string{`"store":"ok"`}},
		{"not ready", []handlers.Check{ok, down}, "/ready", 503, []string{`"blob":"bucket unreachable"`, `"status":"unavailable"`}},
		{"unknown route", nil, "/nope", 404, []string{`"code":"not_found"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := handlers.New(handlers.Deps{Ready: c.checks, Log: slog.New(slog.DiscardHandler)})
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("not JSON: %s", rec.Body)
			}
			for _, want := range c.body {
				if !strings.Contains(rec.Body.String(), want) {
					t.Errorf("body %s lacks %s", rec.Body, want)
				}
			}
		})
	}
}
