// Package handlers is the hub's HTTP face: the JSON API v3, its OpenAPI
// document, the browser sign-in, health, readiness and metrics for
// operators. Every route is one entry of one table (routes.go): New
// registers the routes from it and builds the OpenAPI document from the
// same entries, so the document cannot miss a route.
//
// Handlers are thin: they parse, call the application service and render.
// Errors are mapped to HTTP statuses in one place (errors.go).
package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"omtx/accounts"
	"omtx/api"
	"omtx/hub"
	"omtx/jobs"
	"omtx/openapi"
	"omtx/ratelimit"
	"omtx/static"
	"omtx/views"
)

// Service is what the handlers need from the application service
// (hub.Service implements it).
type Service interface {
	SubmitBatch(ctx context.Context, c hub.Caller, req api.SubmitBatchRequest) (*api.SubmitBatchResponse, error)
	SubmitLibrary(ctx context.Context, c hub.Caller, req api.SubmitBatchRequest, file io.Reader, filename string) (*api.SubmitBatchResponse, error)
	Predict(ctx context.Context, c hub.Caller, req api.PredictRequest) (*api.PredictResponse, error)
	ValidateLigands(ctx context.Context, userID string, req api.ValidateLigandsRequest) (*api.ValidateLigandsResponse, error)
	ValidateLibrary(ctx context.Context, userID string, file io.Reader, filename, modelName string) (*api.ValidateLigandsResponse, error)

	BatchList(ctx context.Context, userID string, q api.ListQuery) (*api.BatchList, error)
	BatchGet(ctx context.Context, userID, batchID string) (*api.Batch, error)
	BatchControl(ctx context.Context, userID, batchID, action string) (*api.ControlResponse, error)
	BatchDelete(ctx context.Context, userID, batchID string) error
	Results(ctx context.Context, userID, batchID string, q api.ResultsQuery) (*api.ResultsPage, error)
	Analytics(ctx context.Context, userID, batchID string) (*api.Analytics, error)
	Export(ctx context.Context, userID, batchID, format string) (*hub.Download, error)

	JobGet(ctx context.Context, userID, jobID string) (*api.Job, error)
	BatchJobGet(ctx context.Context, userID, batchID, jobID string) (*api.Job, error)
	// JobEntry is an individual job as an entry of the batch list.
	JobEntry(ctx context.Context, userID, jobID string) (*api.Batch, error)
	JobDelete(ctx context.Context, userID, jobID string) error
	JobCancel(ctx context.Context, userID, jobID string) (*api.Job, error)
	// JobFile opens a file of a job's folder; batchID is "" for an
	// individual job, name "cif" means the job's structure.
	JobFile(ctx context.Context, userID, batchID, jobID, name string) (*hub.Download, error)

	Models(ctx context.Context) *api.ModelList
	SystemStatus(ctx context.Context) (*api.SystemStatus, error)
	SystemHealth(ctx context.Context, checks []hub.Check) *api.SystemHealth
	ActiveBatches(ctx context.Context, userID string) (*api.ActiveBatches, error)
	BatchProgress(ctx context.Context, userID, batchID string) (*api.BatchProgress, error)
}

// Sessions keeps browser sessions (accounts.Store implements it).
type Sessions interface {
	SessionCreate(ctx context.Context, userID string, ttl time.Duration) (string, *accounts.Session, error)
	SessionGet(ctx context.Context, secret string) (*accounts.Session, *accounts.User, error)
	SessionDelete(ctx context.Context, secret string) error
}

// Tokens finds the owner of an API token (accounts.TokenCache implements
// it). An unknown or revoked token is a jobs.ErrNotFound error.
type Tokens interface {
	UserByToken(ctx context.Context, token string) (*accounts.User, error)
}

// Metrics records requests and serves the Prometheus page
// (*metrics.Metrics implements it).
type Metrics interface {
	ObserveRequest(method, route string, status int, d time.Duration)
	Handler() http.Handler
}

// Check is a readiness probe of one dependency.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Defaults of Deps.
const (
	DefaultSessionTTL = 7 * 24 * time.Hour
	DefaultMaxBody    = 32 << 20 // JSON request bodies
	DefaultMaxUpload  = 64 << 20 // multipart uploads
)

// Deps is what the handlers need.
type Deps struct {
	Log      *slog.Logger // slog.Default() when nil
	Service  Service
	Accounts Sessions
	Tokens   Tokens
	// Limits are each tier's limits; accounts.DefaultLimits() when nil.
	Limits  map[accounts.Tier]accounts.Limits
	Limiter *ratelimit.Limiter // nil: no rate limits
	Metrics Metrics            // nil: /metrics answers 404
	// HideMetrics answers 404 on /metrics while still recording requests:
	// the page is served on another, internal listener.
	HideMetrics bool
	// Ready lists the dependencies /ready and the system-health route check
	// (store, blob store).
	Ready []Check
	Clock jobs.Clock // the system clock when nil
	// SessionTTL is a browser session's lifetime (DefaultSessionTTL when
	// zero).
	SessionTTL time.Duration
	// TrustProxy believes X-Forwarded-Proto from a reverse proxy when
	// deciding whether the request came over TLS (the cookie's Secure flag,
	// the CSRF origin check). Only set it behind a proxy that sets it.
	TrustProxy bool
	// MaxBody bounds JSON request bodies, MaxUpload multipart uploads, in
	// bytes (DefaultMaxBody, DefaultMaxUpload when zero).
	MaxBody   int64
	MaxUpload int64
	// Assets are the pages' stylesheet and scripts, served under
	// static.Prefix; nil serves none and the pages go without them.
	Assets *static.Assets
	// Live is the pages' WebSocket at /ws (a live.Hub's handler, which
	// finds the signed-in user with RequestUser); nil: /ws answers 404.
	// Its hub renders with LiveRenderer and LiveNotice for the pages.
	Live http.Handler
	// LiveHead is the user's latest change seq (live.Hub.Head): the live
	// pages read it before what they show and connect to Live since it.
	// nil: the pages are not live and update on reload.
	LiveHead func(ctx context.Context, userID string) (int64, error)
	// Firebase, when set, signs browsers in with Firebase Authentication
	// (firebase.go) instead of API tokens, which programs keep using.
	Firebase *FirebaseConfig
	// Targets are the bundled docking targets the New prediction form
	// describes, with their pictures; nil: described from vina.Targets()
	// without pictures.
	Targets []views.Target
}

// server holds the dependencies the handlers share.
type server struct {
	Deps
	// The OpenAPI document, rendered once.
	docJSON []byte
	docHTML []byte
	// docCSP is the document page's Content-Security-Policy.
	docCSP string
}

// Title and version of the API document.
const (
	apiTitle   = "OMTX-Hub API"
	apiVersion = "3.0.0"
)

// New builds the HTTP server's router. It panics if the route table cannot
// be documented, a programming error that every test run catches.
func New(d Deps) *echo.Echo {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Limits == nil {
		d.Limits = accounts.DefaultLimits()
	}
	if d.Clock == nil {
		d.Clock = jobs.SystemClock{}
	}
	if d.SessionTTL <= 0 {
		d.SessionTTL = DefaultSessionTTL
	}
	if d.MaxBody <= 0 {
		d.MaxBody = DefaultMaxBody
	}
	if d.MaxUpload <= 0 {
		d.MaxUpload = DefaultMaxUpload
	}
	if d.Firebase != nil && len(d.Firebase.CSRFKey) == 0 {
		f := *d.Firebase
		f.CSRFKey = newCSRFKey()
		d.Firebase = &f
	}
	s := &server{Deps: d}
	table := s.routes()
	doc, err := document(table)
	if err == nil {
		s.docJSON, err = doc.JSON()
	}
	if err == nil {
		s.docHTML, err = doc.HTML()
		s.docCSP = docsCSP(s.docHTML)
	}
	if err != nil {
		panic(err)
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.observe, s.secure, s.recover, s.limitBody)
	for _, r := range table {
		mw := s.routeMiddleware(r)
		if r.page {
			mw = append([]echo.MiddlewareFunc{s.pageErrors}, mw...)
		}
		e.Add(r.Method, r.Path, r.handle, mw...)
	}
	if d.Assets != nil {
		e.Match([]string{http.MethodGet, http.MethodHead}, static.Prefix+"*", echo.WrapHandler(d.Assets.Handler()),
			func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					c.Set(keyRoute, static.Prefix+"*")
					return next(c)
				}
			})
	}
	return e
}

// OpenAPI returns the API's OpenAPI document, built from the route table
// New registers.
func OpenAPI() (*openapi.Document, error) {
	return document((&server{}).routes())
}

// document builds the OpenAPI document of a route table.
func document(table []route) (*openapi.Document, error) {
	ops := make([]openapi.Operation, 0, len(table))
	for _, r := range table {
		if r.page {
			continue
		}
		if r.Operation.Auth != (r.access == accessUser) {
			return nil, fmt.Errorf("handlers: route %s %s: Auth and access disagree", r.Method, r.Path)
		}
		if r.access == accessUser && !slices.Contains(r.Errors, http.StatusUnauthorized) {
			return nil, fmt.Errorf("handlers: route %s %s needs a user but does not document 401", r.Method, r.Path)
		}
		ops = append(ops, r.Operation)
	}
	return openapi.Build(openapi.Info{
		Title:   apiTitle,
		Version: apiVersion,
		Description: "The hub's JSON API. Programs send Authorization: Bearer TOKEN; browsers use the " +
			"session cookie set by /signin and echo its CSRF token in X-CSRF-Token on POST and DELETE. " +
			"Every error answers {\"error\": {\"code\", \"message\", \"field\"}} with a 4xx status for the " +
			"caller's mistakes; another user's batch or job answers 404.",
		SessionCookie: sessionCookie,
	}, ops, api.ErrorBody{})
}
