package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omtx/accounts"
	"omtx/jobs"
	"omtx/openapi"
	"omtx/static"
	"omtx/views"
)

// pageSecurity are the headers of every page: nothing from elsewhere, no
// framing, forms post only here, and no token leaks to other sites
// through Referer (same-origin, not no-referrer: with no-referrer browsers
// send "Origin: null" on the pages' own POSTs).
var pageSecurity = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"Referrer-Policy":        "same-origin",
	"X-Content-Type-Options": "nosniff",
	"Cache-Control":          "no-store",
}

// apiSecurity are the headers of every other answer (the API's JSON,
// errors, downloads, operator endpoints): none may be sniffed as another
// type, run anything if opened in a browser, or be framed. Pages replace
// them with pageSecurity's; the static assets keep their own.
var apiSecurity = map[string]string{
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "same-origin",
}

// secure sets apiSecurity's headers on every answer but the static
// assets'; a page's render replaces them.
func (s *server) secure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !strings.HasPrefix(c.Request().URL.Path, static.Prefix) {
			h := c.Response().Header()
			for k, v := range apiSecurity {
				h.Set(k, v)
			}
		}
		return next(c)
	}
}

// cspKey is the context key under which a page asks render for another
// Content-Security-Policy than pageSecurity's.
const cspKey = "omtx.csp"

// viewerCSP is the policy of the pages that show the Mol* structure
// viewer: pageSecurity's, relaxed only as far as Mol* needs. Mol*'s
// bundle compiles code from strings when it loads (its shader and
// data-structure code generators use new Function), which script-src
// 'self' forbids, so these pages alone allow 'unsafe-eval'; scripts still
// come from this origin only. It also fetches a WebAssembly module it
// carries inline as a data: URL, hence connect-src data: (data: URLs
// never leave the browser).
var viewerCSP = strings.NewReplacer(
	"script-src 'self';", "script-src 'self' 'unsafe-eval';",
	"connect-src 'self';", "connect-src 'self' data:;",
).Replace(pageSecurity["Content-Security-Policy"])

func (s *server) home(c echo.Context) error {
	v := views.HomeView{DocsPath: "/api/docs", SpecPath: openapi.SpecPath, APIPath: "/api/v3/me"}
	return renderPage(c, http.StatusOK, views.HomePage(s.shell(c, "", views.SectionHome), v))
}

// signinView renders the sign-in page.
func (s *server) signinView(c echo.Context, status int, v views.SigninView) error {
	return renderPage(c, status, views.SigninPage(s.shell(c, "Sign in", ""), v))
}

// signinPage shows one button that posts the token; the GET itself
// changes nothing, so a link previewer or a prefetch signs no one in.
func (s *server) signinPage(c echo.Context) error {
	if s.Firebase != nil {
		return s.firebaseSigninPage(c)
	}
	return s.signinView(c, http.StatusOK, views.SigninView{Token: c.QueryParam("token")})
}

// signin checks an API token and starts a browser session.
func (s *server) signin(c echo.Context) error {
	ctx := c.Request().Context()
	if s.Firebase != nil {
		return errTokensOff
	}
	if !isForm(c.Request()) {
		return &jobs.Error{Code: codeUnsupportedMedia, Message: "send the token as a form (application/x-www-form-urlencoded or multipart/form-data)"}
	}
	token := c.FormValue("token")
	if token == "" {
		return s.signinView(c, http.StatusBadRequest, views.SigninView{Problem: "Paste your API token."})
	}
	if s.Tokens == nil || s.Accounts == nil {
		return s.signinView(c, http.StatusUnauthorized, views.SigninView{Problem: "Browser sign-in is not enabled here."})
	}
	u, err := s.Tokens.UserByToken(ctx, token)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="omtx"`)
		return s.signinView(c, http.StatusUnauthorized, views.SigninView{Problem: "That token is not valid (unknown or revoked)."})
	}
	if err != nil {
		return err
	}
	if old, err := c.Cookie(sessionCookie); err == nil && old.Value != "" {
		if err := s.Accounts.SessionDelete(ctx, old.Value); err != nil {
			logOf(c).Warn("end the previous session", "err", err)
		}
	}
	secret, sess, err := s.Accounts.SessionCreate(ctx, u.ID, s.SessionTTL)
	if err != nil {
		return err
	}
	c.SetCookie(s.cookie(c, secret, sess))
	logOf(c).Info("signed in", "user_id", u.ID)
	return c.Redirect(http.StatusSeeOther, "/")
}

// cookie is the session cookie: for this site only, out of scripts'
// reach, sent on top-level navigation from elsewhere but not on their
// POSTs, and only over TLS when the site is served over TLS.
func (s *server) cookie(c echo.Context, secret string, sess *accounts.Session) *http.Cookie {
	maxAge := int(sess.ExpiresAt.Sub(s.Clock.Now()).Seconds())
	return &http.Cookie{
		Name:     sessionCookie,
		Value:    secret,
		Path:     "/",
		Expires:  sess.ExpiresAt,
		MaxAge:   max(maxAge, 1),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   s.scheme(c.Request()) == "https",
	}
}

// signout ends the session (the CSRF middleware has checked the form's
// token) and clears the cookie. A Firebase session ends by revoking the
// user's Firebase refresh tokens: every session of theirs, on every
// device, fails the next state change's check.
func (s *server) signout(c echo.Context) error {
	ctx := c.Request().Context()
	switch p := userOf(c); {
	case p == nil || p.session == nil:
	case p.firebaseUID != "":
		if err := s.Firebase.Auth.SignOut(ctx, p.firebaseUID); err != nil {
			return err
		}
		logOf(c).Info("signed out", "user_id", p.user.ID, "provider", accounts.ProviderFirebase)
	default:
		if err := s.Accounts.SessionDelete(ctx, p.secret); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.scheme(c.Request()) == "https",
	})
	return c.Redirect(http.StatusSeeOther, "/")
}

// renderPage renders a whole page (one that has no fragment) with the
// pages' security headers.
func renderPage(c echo.Context, status int, page templ.Component) error {
	return render(c, status, page, nil)
}
