package handlers

import (
	"bytes"
	"html/template"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"omtx/accounts"
	"omtx/jobs"
	"omtx/openapi"
)

// pageSecurity are the headers of every page: nothing from elsewhere, no
// framing, forms post only here, and no token leaks through Referer.
var pageSecurity = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"Referrer-Policy":         "no-referrer",
	"X-Content-Type-Options":  "nosniff",
	"Cache-Control":           "no-store",
}

// homeView is the start page's view model.
type homeView struct {
	SignedIn bool
	Name     string
	Tier     string
	UserID   string
	CSRF     string
	DocsPath string
	SpecPath string
	APIPath  string
}

// signinView is the sign-in page's view model.
type signinView struct {
	Token   string
	Problem string
}

func (s *server) home(c echo.Context) error {
	v := homeView{DocsPath: "/api/docs", SpecPath: openapi.SpecPath, APIPath: "/api/v3/me"}
	if p := userOf(c); p != nil && p.session != nil {
		v.SignedIn, v.Name, v.Tier, v.UserID, v.CSRF = true, p.user.Name, string(p.user.Tier), p.user.ID, p.session.CSRF
	}
	return renderPage(c, http.StatusOK, homePage, v)
}

// signinPage shows one button that posts the token; the GET itself
// changes nothing, so a link previewer or a prefetch signs no one in.
func (s *server) signinPage(c echo.Context) error {
	return renderPage(c, http.StatusOK, signinPage, signinView{Token: c.QueryParam("token")})
}

// signin checks an API token and starts a browser session.
func (s *server) signin(c echo.Context) error {
	ctx := c.Request().Context()
	if !isForm(c.Request()) {
		return &jobs.Error{Code: codeUnsupportedMedia, Message: "send the token as a form (application/x-www-form-urlencoded or multipart/form-data)"}
	}
	token := c.FormValue("token")
	if token == "" {
		return renderPage(c, http.StatusBadRequest, signinPage, signinView{Problem: "Paste your API token."})
	}
	if s.Tokens == nil || s.Accounts == nil {
		return renderPage(c, http.StatusUnauthorized, signinPage, signinView{Problem: "Browser sign-in is not enabled here."})
	}
	u, err := s.Tokens.UserByToken(ctx, token)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="omtx"`)
		return renderPage(c, http.StatusUnauthorized, signinPage, signinView{Problem: "That token is not valid (unknown or revoked)."})
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
// token) and clears the cookie.
func (s *server) signout(c echo.Context) error {
	if p := userOf(c); p != nil && p.session != nil {
		if err := s.Accounts.SessionDelete(c.Request().Context(), p.secret); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.scheme(c.Request()) == "https",
	})
	return c.Redirect(http.StatusSeeOther, "/")
}

// renderPage renders a page template with the pages' security headers.
func renderPage(c echo.Context, status int, t *template.Template, v any) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return err
	}
	for k, v := range pageSecurity {
		c.Response().Header().Set(k, v)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

const pageStyle = `<style>
body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1b1f24}
code{background:#f3f4f6;padding:.1rem .3rem;border-radius:.2rem}
button{font:inherit;padding:.5rem 1.2rem;border-radius:.3rem;border:1px solid #1f6feb;background:#1f6feb;color:#fff;cursor:pointer}
input[type=password]{font:inherit;padding:.4rem;width:100%;box-sizing:border-box;margin:.5rem 0}
.problem{color:#b42318}
</style>`

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>OMTX-Hub</title>` + pageStyle + `</head>
<body>
<h1>OMTX-Hub</h1>
<p>Protein-ligand models on ligand libraries: docking with AutoDock Vina here, Boltz-2, Chai-1 and RFantibody on GPU runners.</p>
{{if .SignedIn}}
<p data-testid="signed-in">Signed in as <strong>{{.Name}}</strong> (tier {{.Tier}}, user id <code>{{.UserID}}</code>).</p>
<p>The pages to submit and browse batches are on their way. Until then, the JSON API does everything:</p>
<ul>
<li><a href="{{.DocsPath}}">API documentation</a> (every route, its inputs and answers)</li>
<li><a href="{{.SpecPath}}">OpenAPI document</a></li>
<li><a href="{{.APIPath}}">{{.APIPath}}</a>: who you are and your limits</li>
</ul>
<form method="post" action="/signout">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button type="submit" data-testid="signout">Sign out</button>
</form>
{{else}}
<p data-testid="anonymous">You are not signed in.</p>
<p>To sign in, open the sign-in link that <code>omtx serve</code> prints (it contains your token), or create a
user with <code>omtx users add NAME</code> and open <code>/signin?token=TOKEN</code> with the token it prints.</p>
<p>Programs send the token as <code>Authorization: Bearer TOKEN</code>; see the <a href="{{.DocsPath}}">API documentation</a>
and the <a href="{{.SpecPath}}">OpenAPI document</a>.</p>
{{end}}
</body></html>
`))

var signinPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign in · OMTX-Hub</title>` + pageStyle + `</head>
<body>
<h1>Sign in to OMTX-Hub</h1>
{{if .Problem}}<p class="problem" data-testid="problem">{{.Problem}}</p>{{end}}
<form method="post" action="/signin">
{{if .Token}}<input type="hidden" name="token" value="{{.Token}}">
<p>Sign this browser in with the token from your link.</p>
{{else}}<label for="token">API token</label>
<input type="password" id="token" name="token" autocomplete="off" required>
{{end}}<button type="submit" data-testid="signin">Sign in</button>
</form>
</body></html>
`))
