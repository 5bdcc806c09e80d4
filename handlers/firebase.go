package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"omtx/accounts"
	"omtx/firebaseauth"
	"omtx/jobs"
	"omtx/views"
)

// Firebase sign-in (Deps.Firebase): the sign-in page runs the Firebase JS
// SDK, which signs the user in and hands the page an ID token; the page
// posts it to POST /signin/firebase with a double-submit CSRF token; the
// server verifies it, requires a sign-in of the last minutes, maps the
// Firebase uid to a user (made on first sign-in) and sets a Firebase
// session cookie. Each request verifies that cookie, locally for reads and
// with Firebase's revocation check for state changes; its CSRF token is an
// HMAC of the cookie, so nothing is stored. Sign-out revokes the user's
// Firebase refresh tokens. API tokens keep working for programs.

// FirebaseAuth is what the handlers need of Firebase Authentication
// (*firebaseauth.Client implements it). Its errors wrap
// firebaseauth.ErrInvalid, ErrRevoked and ErrStale for the caller's
// credentials; any other error is the server's.
type FirebaseAuth interface {
	SessionCreate(ctx context.Context, idToken string) (*firebaseauth.Session, error)
	SessionVerify(ctx context.Context, cookie string, checkRevoked bool) (*firebaseauth.Identity, error)
	SignOut(ctx context.Context, uid string) error
}

// ExternalUsers finds and makes the users of Firebase identities
// (accounts.Store implements it).
type ExternalUsers interface {
	UserByExternal(ctx context.Context, id accounts.External) (*accounts.User, error)
	UserEnsureExternal(ctx context.Context, id accounts.External, n accounts.NewUser) (*accounts.User, error)
}

// FirebaseConfig turns on Firebase sign-in.
type FirebaseConfig struct {
	Auth  FirebaseAuth
	Users ExternalUsers
	// The Firebase web app's config, given to the JS SDK on the sign-in
	// page: public values, not secrets.
	APIKey     string
	AuthDomain string
	ProjectID  string
	// EmulatorURL is the Auth emulator's origin ("http://127.0.0.1:9099")
	// when the server runs against it; "" against Firebase.
	EmulatorURL string
	// CSRFKey keys the HMAC that derives a session's CSRF token from its
	// cookie. Every replica of the web server must have the same key; New
	// draws a random one when it is empty (a single replica).
	CSRFKey []byte
}

// Firebase sign-in's cookie, field and path.
const (
	// signinCSRFCookie holds the sign-in page's double-submit token.
	signinCSRFCookie = "omtx_signin_csrf"
	fieldIDToken     = "id_token"
	pathFirebase     = "/signin/firebase"
	// signinCSRFTTL bounds how long a sign-in page may wait.
	signinCSRFTTL = time.Hour
)

// Firebase Auth's REST endpoints, which the JS SDK calls for email and
// password sign-in and for refreshing its ID token.
var firebaseOrigins = []string{"https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com"}

var (
	errFirebaseOff = &jobs.Error{Code: jobs.ErrNotFound, Message: "Firebase sign-in is not enabled on this server"}
	errTokensOff   = &jobs.Error{Code: jobs.ErrNotFound,
		Message: "this server signs browsers in with Firebase: open /signin; programs still send Authorization: Bearer TOKEN"}
	errSigninCSRF = &jobs.Error{Code: codeForbidden,
		Message: "missing or wrong sign-in CSRF token: reload the sign-in page and try again"}
	errNoIDToken  = jobs.FieldError(fieldIDToken, "send the Firebase ID token in the form field id_token")
	errBadIDToken = &jobs.Error{Code: codeUnauthorized,
		Message: "the Firebase sign-in is not valid or has expired: sign in again"}
	errRevokedID = &jobs.Error{Code: codeUnauthorized,
		Message: "this account has signed out everywhere or been disabled: sign in again"}
	errStaleID = &jobs.Error{Code: codeUnauthorized,
		Message: "the Firebase sign-in is older than a few minutes: sign in again to start a session"}
)

// firebaseSignin is the answer of POST /signin/firebase.
type firebaseSignin struct {
	Name     string `json:"name" doc:"the user's name on the hub (made unique on first sign-in)"`
	Location string `json:"location" doc:"where the page goes next"`
}

// newCSRFKey draws a random HMAC key.
func newCSRFKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails
	return k
}

// firebaseCSRF derives a Firebase session's CSRF token from its cookie.
func (s *server) firebaseCSRF(cookie string) string {
	m := hmac.New(sha256.New, s.Firebase.CSRFKey)
	m.Write([]byte("omtx csrf\x00"))
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// firebasePrincipal verifies a Firebase session cookie, with Firebase's
// revocation check when the request may change state, and finds its user.
func (s *server) firebasePrincipal(c echo.Context, cookie string) (*principal, error) {
	ctx := c.Request().Context()
	id, err := s.Firebase.Auth.SessionVerify(ctx, cookie, unsafeMethod(c.Request().Method))
	switch {
	case errors.Is(err, firebaseauth.ErrInvalid), errors.Is(err, firebaseauth.ErrRevoked):
		return nil, errBadSession
	case err != nil:
		return nil, fmt.Errorf("verify session: %w", err)
	}
	u, err := s.Firebase.Users.UserByExternal(ctx, accounts.External{Provider: accounts.ProviderFirebase, Subject: id.UID})
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return nil, errBadSession // the user was removed from the hub
	}
	if err != nil {
		return nil, fmt.Errorf("look up the user of a session: %w", err)
	}
	return &principal{user: u, secret: cookie, firebaseUID: id.UID,
		session: &accounts.Session{UserID: u.ID, CSRF: s.firebaseCSRF(cookie)}}, nil
}

// firebaseSigninPage shows the Firebase sign-in form. It sets the
// double-submit cookie (keeping a valid one, so that two tabs agree) and
// gives the page a policy that lets it reach Firebase Auth and nothing
// else.
func (s *server) firebaseSigninPage(c echo.Context) error {
	token := ""
	if ck, err := c.Cookie(signinCSRFCookie); err == nil && validSigninToken(ck.Value) {
		token = ck.Value
	} else {
		token = accounts.NewCSRF()
	}
	c.SetCookie(&http.Cookie{
		Name: signinCSRFCookie, Value: token, Path: views.PathSignin,
		MaxAge: int(signinCSRFTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.scheme(c.Request()) == "https",
	})
	c.Set(cspKey, s.firebaseCSP())
	v := views.FirebaseSigninView{
		APIKey: s.Firebase.APIKey, AuthDomain: s.Firebase.AuthDomain, ProjectID: s.Firebase.ProjectID,
		EmulatorURL: s.Firebase.EmulatorURL, CSRF: token, Action: pathFirebase, Next: views.PathHome,
	}
	if s.Assets != nil {
		v.Scripts = []string{
			s.Assets.URL("vendor/firebase/firebase-app-compat.js"),
			s.Assets.URL("vendor/firebase/firebase-auth-compat.js"),
			s.Assets.URL("js/firebase-signin.js"),
		}
	}
	return renderPage(c, http.StatusOK, views.FirebaseSigninPage(s.shell(c, "Sign in", ""), v))
}

// validSigninToken accepts what accounts.NewCSRF makes: 43 base64url
// characters.
func validSigninToken(v string) bool {
	if len(v) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil
}

// firebaseCSP is the sign-in page's policy: pageSecurity's, with
// connect-src widened to Firebase Auth's endpoints, or to the emulator's
// origin when the server runs against it.
func (s *server) firebaseCSP() string {
	origins := firebaseOrigins
	if s.Firebase.EmulatorURL != "" {
		origins = []string{s.Firebase.EmulatorURL}
	}
	return strings.Replace(pageSecurity["Content-Security-Policy"], "connect-src 'self';",
		"connect-src 'self' "+strings.Join(origins, " ")+";", 1)
}

// signinFirebase exchanges a Firebase ID token for a session: the
// double-submit token must match its cookie (the route also refuses
// another site's Origin), the ID token must be valid, not revoked, and
// from a recent sign-in. The first sign-in of a uid makes its user.
func (s *server) signinFirebase(c echo.Context) error {
	if s.Firebase == nil {
		return errFirebaseOff
	}
	req := c.Request()
	if !isForm(req) {
		return &jobs.Error{Code: codeUnsupportedMedia, Message: "send the ID token as a form (application/x-www-form-urlencoded)"}
	}
	got := req.Header.Get(headerCSRF)
	if got == "" {
		got = c.FormValue(fieldCSRF)
	}
	ck, err := c.Cookie(signinCSRFCookie)
	if err != nil || ck.Value == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) != 1 {
		return errSigninCSRF
	}
	idToken := c.FormValue(fieldIDToken)
	if idToken == "" {
		return errNoIDToken
	}
	ctx := req.Context()
	sess, err := s.Firebase.Auth.SessionCreate(ctx, idToken)
	switch {
	case errors.Is(err, firebaseauth.ErrStale):
		return errStaleID
	case errors.Is(err, firebaseauth.ErrRevoked):
		return errRevokedID
	case errors.Is(err, firebaseauth.ErrInvalid):
		return errBadIDToken
	case err != nil:
		return err
	}
	id := sess.Identity
	u, err := s.Firebase.Users.UserEnsureExternal(ctx, accounts.External{Provider: accounts.ProviderFirebase, Subject: id.UID},
		accounts.NewUser{Name: accounts.NameFor(id.Name, id.Email), Tier: accounts.TierDefault})
	if err != nil {
		return fmt.Errorf("the user of Firebase uid %s: %w", id.UID, err)
	}
	secure := s.scheme(req) == "https"
	c.SetCookie(&http.Cookie{
		Name: sessionCookie, Value: sess.Cookie, Path: "/", Expires: sess.ExpiresAt,
		MaxAge:   max(int(time.Until(sess.ExpiresAt).Seconds()), 1),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure,
	})
	// The double-submit token has done its work.
	c.SetCookie(&http.Cookie{Name: signinCSRFCookie, Value: "", Path: views.PathSignin, MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure})
	logOf(c).Info("signed in", "user_id", u.ID, "provider", accounts.ProviderFirebase)
	return c.JSON(http.StatusOK, firebaseSignin{Name: u.Name, Location: views.PathHome})
}
