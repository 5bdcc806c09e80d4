package handlers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"omtx/api"
	"omtx/hub"
	"omtx/jobs"
)

func (s *server) systemStatus(c echo.Context) error {
	st, err := s.Service.SystemStatus(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *server) activeBatches(c echo.Context) error {
	a, err := s.Service.ActiveBatches(c.Request().Context(), userID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *server) systemHealth(c echo.Context) error {
	checks := make([]hub.Check, len(s.Ready))
	for i, ch := range s.Ready {
		checks[i] = hub.Check{Name: ch.Name, Ping: ch.Ping}
	}
	return c.JSON(http.StatusOK, s.Service.SystemHealth(c.Request().Context(), checks))
}

func (s *server) batchProgress(c echo.Context) error {
	p, err := s.Service.BatchProgress(c.Request().Context(), userID(c), c.Param("batch_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (s *server) models(c echo.Context) error {
	return c.JSON(http.StatusOK, s.Service.Models(c.Request().Context()))
}

func (s *server) me(c echo.Context) error {
	u := userOf(c).user
	lim := s.limits(u.Tier)
	return c.JSON(http.StatusOK, api.Me{
		UserID: u.ID, Name: u.Name, Tier: string(u.Tier),
		Limits: api.Limits{
			SubmitPerMinute:    lim.SubmitPerMinute,
			ReadPerMinute:      lim.ReadPerMinute,
			MaxLigandsPerBatch: lim.MaxLigandsPerBatch,
			MaxRunning:         lim.MaxRunning,
		},
	})
}

func (s *server) openapiJSON(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.docJSON)
}

func (s *server) apiDocs(c echo.Context) error {
	h := c.Response().Header()
	for k, v := range pageSecurity {
		h.Set(k, v)
	}
	h.Set("Content-Security-Policy", s.docCSP)
	return c.HTMLBlob(http.StatusOK, s.docHTML)
}

// docsCSP is the policy of the API document's page: pageSecurity's
// without scripts or connections, with its one inline stylesheet allowed
// by its hash.
func docsCSP(page []byte) string {
	style := "'none'"
	if i := bytes.Index(page, []byte("<style>")); i >= 0 {
		if j := bytes.Index(page[i:], []byte("</style>")); j >= 0 {
			sum := sha256.Sum256(page[i+len("<style>") : i+j])
			style = "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		}
	}
	return "default-src 'none'; script-src 'none'; style-src " + style + "; img-src 'self' data:; " +
		"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
}

// healthStatus answers /health and /ready.
type healthStatus struct {
	Status string            `json:"status" enum:"ok,unavailable"`
	Checks map[string]string `json:"checks,omitempty" doc:"each dependency: ok or what failed"`
}

func health(c echo.Context) error {
	return c.JSON(http.StatusOK, healthStatus{Status: "ok"})
}

// readyTimeout bounds the readiness checks together.
const readyTimeout = 3 * time.Second

func (s *server) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	body := healthStatus{Status: "ok", Checks: map[string]string{}}
	status := http.StatusOK
	for _, ch := range s.Ready {
		if err := ch.Ping(ctx); err != nil {
			body.Checks[ch.Name] = err.Error()
			body.Status, status = "unavailable", http.StatusServiceUnavailable
			continue
		}
		body.Checks[ch.Name] = "ok"
	}
	return c.JSON(status, body)
}

func (s *server) metrics(c echo.Context) error {
	if s.Metrics == nil || s.HideMetrics {
		return jobs.Errorf(jobs.ErrNotFound, "metrics are not served here")
	}
	s.Metrics.Handler().ServeHTTP(c.Response(), c.Request())
	return nil
}
