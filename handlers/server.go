// Package handlers is the hub's HTTP face: health and readiness for
// operators, and (as the product grows) the JSON API and the pages. Handlers
// are thin: they parse, call the domain and render; errors are mapped to
// HTTP statuses in one place (errors.go).
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Check is a readiness probe of one dependency.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Deps is what the handlers need.
type Deps struct {
	Log *slog.Logger
	// Ready lists the dependencies /ready checks (store, blob store).
	Ready []Check
}

// New builds the HTTP server's router.
func New(d Deps) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Log)
	e.GET("/health", health)
	e.GET("/ready", ready(d.Ready))
	return e
}

type healthBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func health(c echo.Context) error {
	return c.JSON(http.StatusOK, healthBody{Status: "ok"})
}

func ready(checks []Check) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
		defer cancel()
		body := healthBody{Status: "ok", Checks: map[string]string{}}
		status := http.StatusOK
		for _, ch := range checks {
			if err := ch.Ping(ctx); err != nil {
				body.Checks[ch.Name] = err.Error()
				body.Status, status = "unavailable", http.StatusServiceUnavailable
				continue
			}
			body.Checks[ch.Name] = "ok"
		}
		return c.JSON(status, body)
	}
}
