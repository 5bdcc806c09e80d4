package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"omtx/accounts"
	"omtx/jobs"
	"omtx/origin"
	"omtx/ratelimit"
)

// Keys of the values a request carries in its echo context.
const (
	keyRoute = "omtx.route"
	keyUser  = "omtx.user"
	keyLog   = "omtx.log"
)

// Headers and the session cookie.
const (
	headerRequestID = "X-Request-ID"
	headerCSRF      = "X-CSRF-Token"
	fieldCSRF       = "csrf_token"
	sessionCookie   = "omtx_session"
)

// routeUnmatched labels requests no route matched, in metrics and logs.
const routeUnmatched = "unmatched"

type ctxKey int

const ctxRequestID ctxKey = iota

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

// principal is who sent a request.
type principal struct {
	user *accounts.User
	// session is set when the session cookie authenticated the request;
	// secret is that cookie's value.
	session *accounts.Session
	secret  string
	// firebaseUID is the Firebase user of a Firebase session cookie.
	firebaseUID string
}

func userOf(c echo.Context) *principal {
	p, _ := c.Get(keyUser).(*principal)
	return p
}

func logOf(c echo.Context) *slog.Logger {
	if l, ok := c.Get(keyLog).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// observe is the outermost middleware: it gives the request its id and
// logger, renders the error of the chain, and then writes the access log
// line and the request's metrics with the final status.
func (s *server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		id := req.Header.Get(headerRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(headerRequestID, id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), ctxRequestID, id)))
		log := s.Log.With("request_id", id)
		c.Set(keyLog, log)

		if err := next(c); err != nil {
			c.Error(err)
		}

		d := time.Since(start)
		route, _ := c.Get(keyRoute).(string)
		if route == "" {
			route = routeUnmatched
		}
		status := c.Response().Status
		if s.Metrics != nil {
			s.Metrics.ObserveRequest(req.Method, route, status, d)
		}
		// The server span (when tracing is on) is named by the route, and
		// carries the request id that logs and job records hold.
		if span := trace.SpanFromContext(req.Context()); span.IsRecording() {
			span.SetName(req.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route), attribute.String("omtx.request_id", id))
		}
		userID := ""
		if p := userOf(c); p != nil {
			userID = p.user.ID
		}
		log.LogAttrs(req.Context(), slog.LevelInfo, "request",
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int64("bytes", c.Response().Size),
			slog.String("user_id", userID),
		)
		return nil
	}
}

// maxRequestIDLen bounds an incoming X-Request-ID.
const maxRequestIDLen = 64

// validRequestID accepts 1 to 64 of [A-Za-z0-9._-].
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// recover turns a panic into an internal error, logged once by the
// error handler with its stack.
func (s *server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r) // the server's own way to end a response
			}
			buf := make([]byte, 8<<10)
			buf = buf[:runtime.Stack(buf, false)]
			err = fmt.Errorf("panic: %v\n%s", r, buf)
		}()
		return next(c)
	}
}

// limitBody bounds the request body: MaxUpload for multipart uploads,
// MaxBody for everything else; a compressed body (Content-Encoding) is
// refused with 415. Reading past it fails with
// *http.MaxBytesError, which the error handler answers with 413.
func (s *server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Body == nil || req.Body == http.NoBody {
			return next(c)
		}
		// A compressed body would pass the limit as a few bytes and expand
		// past it; none is decompressed, so every one is refused.
		if ce := strings.TrimSpace(req.Header.Get(echo.HeaderContentEncoding)); ce != "" && !strings.EqualFold(ce, "identity") {
			return &jobs.Error{Code: codeUnsupportedMedia, Message: fmt.Sprintf("Content-Encoding %q is not accepted: send the body uncompressed", ce)}
		}
		limit := s.MaxBody
		if mt, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); mt == echo.MIMEMultipartForm {
			limit = s.MaxUpload
		}
		if req.ContentLength > limit {
			return &http.MaxBytesError{Limit: limit}
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		return next(c)
	}
}

// routeMiddleware is the chain of one route: its label for logs and
// metrics, authentication, CSRF protection and its rate limit.
func (s *server) routeMiddleware(r route) []echo.MiddlewareFunc {
	label := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(keyRoute, r.Path)
			return next(c)
		}
	}
	mw := []echo.MiddlewareFunc{label}
	if r.access != accessPublic {
		mw = append(mw, s.authenticate(r.access == accessUser))
	}
	mw = append(mw, s.csrf(r.sameOrigin))
	if r.rate != rateNone {
		mw = append(mw, s.rateLimit(r.rate))
	}
	return mw
}

// Errors of authentication and of the protections after it.
var (
	errNoCredentials = &jobs.Error{Code: codeUnauthorized, Message: "sign in, or send Authorization: Bearer TOKEN"}
	errBadToken      = &jobs.Error{Code: codeUnauthorized, Message: "the API token is not valid (unknown or revoked)"}
	errBadSession    = &jobs.Error{Code: codeUnauthorized, Message: "the session has expired: sign in again"}
	errBadAuthHeader = &jobs.Error{Code: codeUnauthorized, Message: "the Authorization header must be: Bearer TOKEN"}
	errCSRF          = &jobs.Error{Code: codeForbidden, Message: "missing or wrong CSRF token: send the session's token in X-CSRF-Token"}
	errOrigin        = &jobs.Error{Code: codeForbidden, Message: "cross-site request refused"}
)

// authenticate finds the user of a request: a bearer token first, else
// the session cookie. With required, a request without valid credentials
// answers 401; otherwise it goes on anonymously.
func (s *server) authenticate(required bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := s.principal(c)
			if err != nil && (required || !jobs.IsCode(err, codeUnauthorized)) {
				return err
			}
			if p == nil && required {
				return errNoCredentials
			}
			if p != nil {
				c.Set(keyUser, p)
			}
			return next(c)
		}
	}
}

// principal reads the request's credentials. It answers nil, nil for a
// request that has none.
func (s *server) principal(c echo.Context) (*principal, error) {
	ctx := c.Request().Context()
	if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return nil, errBadAuthHeader
		}
		if s.Tokens == nil {
			return nil, errBadToken
		}
		u, err := s.Tokens.UserByToken(ctx, token)
		if jobs.IsCode(err, jobs.ErrNotFound) {
			return nil, errBadToken
		}
		if err != nil {
			return nil, fmt.Errorf("look up API token: %w", err)
		}
		return &principal{user: u}, nil
	}
	ck, err := c.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	if s.Firebase != nil {
		return s.firebasePrincipal(c, ck.Value)
	}
	if s.Accounts == nil {
		return nil, nil
	}
	sess, u, err := s.Accounts.SessionGet(ctx, ck.Value)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return nil, errBadSession
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	return &principal{user: u, session: sess, secret: ck.Value}, nil
}

// unsafeMethod reports whether a method may change state.
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// csrf protects browsers: a request that a session cookie authenticated
// and that may change state must carry the session's CSRF token (header
// X-CSRF-Token or form field csrf_token) and, if it names its Origin,
// come from this site. Bearer requests need neither: a browser never
// adds that header on its own. With sameOrigin, an unsafe request from
// another site is refused even without a session.
func (s *server) csrf(sameOrigin bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if !unsafeMethod(req.Method) {
				return next(c)
			}
			p := userOf(c)
			cookie := p != nil && p.session != nil
			if (cookie || sameOrigin) && !s.sameOrigin(req) {
				return errOrigin
			}
			if cookie {
				got := req.Header.Get(headerCSRF)
				if got == "" && isForm(req) {
					got = c.FormValue(fieldCSRF)
				}
				if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.session.CSRF)) != 1 {
					return errCSRF
				}
			}
			return next(c)
		}
	}
}

// isForm reports whether the request's body is an HTML form.
func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	return mt == echo.MIMEApplicationForm || mt == echo.MIMEMultipartForm
}

// sameOrigin reports whether the request's Origin header, if any, is this
// site. Browsers send Origin on every unsafe request; a request without it
// is no browser's cross-site request.
func (s *server) sameOrigin(r *http.Request) bool {
	return r.Header.Get(echo.HeaderOrigin) == "" || origin.Same(r, s.TrustProxy)
}

// scheme is "https" when the request came over TLS (see origin.Scheme).
func (s *server) scheme(r *http.Request) string { return origin.Scheme(r, s.TrustProxy) }

// rateLimit counts a signed-in user's request against their tier's limit
// for the class; past it the request answers 429 with Retry-After.
func (s *server) rateLimit(class rateClass) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := userOf(c)
			if s.Limiter == nil || p == nil {
				return next(c)
			}
			lim := s.limits(p.user.Tier)
			rule := ratelimit.Rule{PerMinute: lim.ReadPerMinute}
			if class == rateSubmit {
				rule = ratelimit.Rule{PerMinute: lim.SubmitPerMinute}
			}
			ok, wait := s.Limiter.Allow(class.String()+":"+p.user.ID, rule)
			if !ok {
				secs := int64(math.Ceil(wait.Seconds()))
				c.Response().Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
				return &jobs.Error{Code: codeRateLimited, Message: fmt.Sprintf("too many %s requests: try again in %d s", class, max(secs, 1))}
			}
			return next(c)
		}
	}
}

// limits returns a tier's limits; an unknown tier gets the default
// tier's.
func (s *server) limits(t accounts.Tier) accounts.Limits {
	if l, ok := s.Limits[t]; ok {
		return l
	}
	return s.Limits[accounts.TierDefault]
}
