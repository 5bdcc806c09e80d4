package handlers_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"omtx/api"
	"omtx/handlers"
	"omtx/openapi"
)

func TestLibraryProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("inline ligands", func(t *testing.T) {
		rec := e.json(http.MethodPost, api.Prefix+"/batches/submit", alice, dockingBatch("bad rows",
			aspirin, api.Ligand{Name: "ring", SMILES: "C1CC"}, caffeine, api.Ligand{Name: "junk", SMILES: "xyz("}))
		d := apiError(t, rec, http.StatusBadRequest)
		if d.Code != "invalid" || len(d.Problems) != 2 {
			t.Fatalf("want 2 problems: %+v", d)
		}
		if d.Problems[0].Row != 2 || d.Problems[1].Row != 4 || d.Problems[0].Name != "ring" {
			t.Errorf("problems do not name rows 2 and 4: %+v", d.Problems)
		}
		if err := e.doc.Validate(http.MethodPost, "/api/v3/batches/submit", rec.Code, rec.Body.Bytes()); err != nil {
			t.Error(err)
		}
	})
	t.Run("uploaded CSV", func(t *testing.T) {
		csv := "name,smiles\naspirin,CC(=O)Oc1ccccc1C(=O)O\nbroken,C1CC\ncaffeine,Cn1cnc2c1c(=O)n(C)c(=O)n2C\n"
		body, ct := multipartBody(t, map[string]string{"job_name": "upload", "model_name": "vina", "target": "ABL1"}, "file", "library.csv", csv)
		d := apiError(t, e.do(req{method: http.MethodPost, path: api.Prefix + "/batches/submit", user: alice, body: body, ctype: ct}), http.StatusBadRequest)
		if len(d.Problems) != 1 || d.Problems[0].Row != 2 || d.Problems[0].Line != 3 || d.Problems[0].Field != "smiles" {
			t.Errorf("want row 2, line 3, smiles: %+v", d.Problems)
		}
	})
	t.Run("uploaded library with form fields", func(t *testing.T) {
		smi := aspirin.SMILES + " aspirin\n" + caffeine.SMILES + " caffeine\n"
		body, ct := multipartBody(t, map[string]string{"job_name": "fields", "model_name": "vina", "target": "ABL1"}, "file", "lib.smi", smi)
		resp := decode[api.SubmitBatchResponse](t, e.do(req{method: http.MethodPost, path: api.Prefix + "/batches/submit", user: alice, body: body, ctype: ct}), http.StatusAccepted)
		if resp.TotalJobs != 2 {
			t.Errorf("total_jobs %d, want 2", resp.TotalJobs)
		}
	})
	t.Run("uploaded library with a request part", func(t *testing.T) {
		r, _ := json.Marshal(api.SubmitBatchRequest{JobName: "json part", ModelName: "vina", Target: "ABL1", DropInvalid: true})
		csv := "smiles,name\n" + aspirin.SMILES + ",aspirin\nC1CC,broken\n"
		body, ct := multipartBody(t, map[string]string{"request": string(r)}, "file", "lib.csv", csv)
		rec := e.do(req{method: http.MethodPost, path: api.Prefix + "/batches/submit", user: alice, body: body, ctype: ct})
		resp := decode[api.SubmitBatchResponse](t, rec, http.StatusAccepted)
		if resp.TotalJobs != 1 || len(resp.Dropped) != 1 {
			t.Errorf("want 1 job and 1 dropped: %+v", resp)
		}
		if err := e.doc.Validate(http.MethodPost, "/api/v3/batches/submit", rec.Code, rec.Body.Bytes()); err != nil {
			t.Error(err)
		}
	})
	t.Run("validate an upload", func(t *testing.T) {
		body, ct := multipartBody(t, map[string]string{"model_name": "vina"}, "file", "lib.csv", "name,smiles\na,CCO\nb,C1CC\n")
		rec := e.do(req{method: http.MethodPost, path: api.Prefix + "/ligands/validate", user: alice, body: body, ctype: ct})
		resp := decode[api.ValidateLigandsResponse](t, rec, http.StatusOK)
		if resp.Valid != 1 || resp.Invalid != 1 || resp.Results[1].Row != 2 {
			t.Errorf("want one valid, one invalid on row 2: %+v", resp)
		}
	})
}

// TestCallerMistakes sends what clients get wrong: every answer is a 4xx
// with the API's error body, never a 5xx.
func TestCallerMistakes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *handlers.Deps) { d.MaxBody = 4 << 10; d.MaxUpload = 8 << 10 })
	submit := api.Prefix + "/batches/submit"
	big := `{"job_name":"` + strings.Repeat("x", 5<<10) + `"}`
	bigUpload, bigCT := multipartBody(t, map[string]string{"model_name": "vina"}, "file", "lib.smi", strings.Repeat("CCO ethanol\n", 1000))
	cases := []struct {
		name        string
		r           req
		status      int
		code, field string
		has         string
	}{
		{"syntax error", req{method: "POST", path: submit, body: `{"job_name": "x",, }`, ctype: "application/json"}, 400, "invalid", "", "byte offset 18"},
		{"truncated", req{method: "POST", path: submit, body: `{"job_name": "x"`, ctype: "application/json"}, 400, "invalid", "", "ends in the middle"},
		{"wrong type", req{method: "POST", path: submit, body: `{"ligands": [{"name": "a", "smiles": 5}]}`, ctype: "application/json"}, 400, "invalid", "ligands.smiles", "byte offset"},
		{"wrong top-level type", req{method: "POST", path: submit, body: `[1, 2]`, ctype: "application/json"}, 400, "invalid", "", "JSON object"},
		{"wrong bool", req{method: "POST", path: submit, body: `{"drop_invalid": "yes"}`, ctype: "application/json"}, 400, "invalid", "drop_invalid", ""},
		{"trailing data", req{method: "POST", path: api.Prefix + "/predict", body: `{} {}`, ctype: "application/json"}, 400, "invalid", "", "more data"},
		{"empty body", req{method: "POST", path: api.Prefix + "/predict", ctype: "application/json"}, 400, "invalid", "", "empty"},
		{"huge JSON", req{method: "POST", path: submit, body: big, ctype: "application/json"}, 413, "too_large", "", ""},
		{"huge upload", req{method: "POST", path: submit, body: bigUpload, ctype: bigCT}, 413, "too_large", "", ""},
		{"huge JSON streamed", req{method: "POST", path: submit, body: big, ctype: "application/json", chunked: true}, 413, "too_large", "", ""},
		{"huge upload streamed", req{method: "POST", path: submit, body: bigUpload, ctype: bigCT, chunked: true}, 413, "too_large", "", ""},
		{"huge validate upload streamed", req{method: "POST", path: api.Prefix + "/ligands/validate", body: bigUpload, ctype: bigCT, chunked: true}, 413, "too_large", "", ""},
		{"form instead of JSON", req{method: "POST", path: submit, body: "job_name=x", ctype: "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", "", ""},
		{"multipart to a JSON route", req{method: "POST", path: api.Prefix + "/predict", body: bigUpload[:100], ctype: bigCT}, 415, "unsupported_media_type", "", ""},
		{"broken multipart", req{method: "POST", path: submit, body: "--nope\r\n", ctype: "multipart/form-data; boundary=zzz"}, 400, "invalid", "", ""},
		{"upload without file", req{method: "POST", path: submit, body: "--zzz\r\nContent-Disposition: form-data; name=\"model_name\"\r\n\r\nvina\r\n--zzz--\r\n", ctype: "multipart/form-data; boundary=zzz"}, 400, "invalid", "file", ""},
		{"bad parameters part", req{method: "POST", path: submit, body: "--zzz\r\nContent-Disposition: form-data; name=\"parameters\"\r\n\r\n{oops\r\n--zzz--\r\n", ctype: "multipart/form-data; boundary=zzz"}, 400, "invalid", "parameters", ""},
		{"unknown model", req{method: "POST", path: submit, body: `{"model_name": "alphafold9", "ligands": [{"name": "a", "smiles": "CCO"}]}`, ctype: "application/json"}, 400, "invalid", "model_name", ""},
		{"page not a number", req{method: "GET", path: api.Prefix + "/batches?page=two"}, 400, "invalid", "page", ""},
		{"unknown batch", req{method: "GET", path: api.Prefix + "/batches/nope"}, 404, "not_found", "", ""},
		{"odd batch id", req{method: "GET", path: api.Prefix + "/batches/..%2F..%2Fetc/results"}, 404, "not_found", "", ""},
		{"unknown export format", req{method: "GET", path: api.Prefix + "/batches/nope/export/xlsx"}, 404, "not_found", "", ""},
		{"unknown route", req{method: "GET", path: api.Prefix + "/nope"}, 404, "not_found", "", ""},
		{"unknown page", req{method: "GET", path: "/no/such/page"}, 404, "not_found", "", ""},
		{"wrong method", req{method: "PUT", path: api.Prefix + "/batches"}, 405, "method_not_allowed", "", ""},
		{"bad authorization header", req{method: "GET", path: api.Prefix + "/me", header: map[string]string{"Authorization": "Basic YWxpY2U6eA=="}}, 401, "unauthorized", "", ""},
		{"unknown token", req{method: "GET", path: api.Prefix + "/me", header: map[string]string{"Authorization": "Bearer omtx_nope"}}, 401, "unauthorized", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.r.user == "" && c.r.header == nil {
				c.r.user = alice
			}
			rec := e.do(c.r)
			no5xx(t, rec)
			d := apiError(t, rec, c.status)
			if d.Code != c.code || d.Field != c.field || !strings.Contains(d.Message, c.has) {
				t.Errorf("got %+v, want code %q field %q message with %q", d, c.code, c.field, c.has)
			}
		})
	}
	t.Run("controls, exports and files", func(t *testing.T) {
		id := e.submit(alice, dockingBatch("controls", aspirin))
		rec := e.do(req{method: "POST", path: api.Prefix + "/batches/" + id + "/control/explode", user: alice})
		no5xx(t, rec)
		if d := apiError(t, rec, http.StatusBadRequest); d.Field != "action" {
			t.Errorf("want a field error on action: %+v", d)
		}
		rec = e.do(req{method: "GET", path: api.Prefix + "/batches/" + id + "/export/xlsx", user: alice})
		no5xx(t, rec)
		if d := apiError(t, rec, http.StatusBadRequest); d.Field != "format" {
			t.Errorf("want a field error on format: %+v", d)
		}
		rec = e.do(req{method: "GET", path: api.Prefix + "/batches/" + id + "/jobs/nope/files/..%2F..%2Fsecret", user: alice})
		no5xx(t, rec)
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusBadRequest {
			t.Errorf("a file outside the job folder: %d %s", rec.Code, rec.Body)
		}
		rec = e.do(req{method: "DELETE", path: api.Prefix + "/batches/" + id, user: alice})
		if d := apiError(t, rec, http.StatusConflict); d.Code != "conflict" {
			t.Errorf("deleting a queued batch: %+v", d)
		}
	})
	t.Run("revoked token", func(t *testing.T) {
		if err := e.tokens.Revoke(t.Context(), e.tok[bob]); err != nil {
			t.Fatal(err)
		}
		rec := e.do(req{method: "GET", path: api.Prefix + "/me", user: bob})
		apiError(t, rec, http.StatusUnauthorized)
		if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("no WWW-Authenticate: %v", rec.Header())
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cookie, token := e.signIn(alice)
	validate := api.Prefix + "/ligands/validate"
	body := `{"ligands": [{"name": "ethanol", "smiles": "CCO"}]}`
	const self, evil = "http://example.com", "https://evil.example"
	cases := []struct {
		name   string
		r      req
		status int
	}{
		{"cookie without token", req{method: "POST", cookie: cookie}, 403},
		{"cookie with a wrong token", req{method: "POST", cookie: cookie, header: map[string]string{"X-CSRF-Token": "guess"}}, 403},
		{"cookie with the token", req{method: "POST", cookie: cookie, header: map[string]string{"X-CSRF-Token": token}}, 200},
		{"cookie, token, same origin", req{method: "POST", cookie: cookie, header: map[string]string{"X-CSRF-Token": token, "Origin": self}}, 200},
		{"cookie, token, other origin", req{method: "POST", cookie: cookie, header: map[string]string{"X-CSRF-Token": token, "Origin": evil}}, 403},
		{"cookie, token, https origin over http", req{method: "POST", cookie: cookie, header: map[string]string{"X-CSRF-Token": token, "Origin": "https://example.com"}}, 403},
		{"bearer needs no token", req{method: "POST", user: alice}, 200},
		{"bearer from another origin", req{method: "POST", user: alice, header: map[string]string{"Origin": evil}}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.r.path, c.r.body, c.r.ctype = validate, body, "application/json"
			rec := e.do(c.r)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if c.status == 403 {
				if d := apiError(t, rec, 403); d.Code != "forbidden" {
					t.Errorf("code %q, want forbidden", d.Code)
				}
			}
		})
	}
	t.Run("reads need no token", func(t *testing.T) {
		if rec := e.do(req{method: "GET", path: api.Prefix + "/me", cookie: cookie}); rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
	t.Run("delete with a cookie needs the token", func(t *testing.T) {
		id := e.submit(alice, dockingBatch("csrf", aspirin))
		rec := e.do(req{method: "DELETE", path: api.Prefix + "/batches/" + id, cookie: cookie})
		apiError(t, rec, http.StatusForbidden)
		rec = e.do(req{method: "POST", path: api.Prefix + "/batches/" + id + "/cancel", cookie: cookie, header: map[string]string{"X-CSRF-Token": token}})
		decode[api.ControlResponse](t, rec, http.StatusOK)
	})
	t.Run("sign-in form from another site", func(t *testing.T) {
		rec := e.do(req{method: "POST", path: "/signin", body: "token=" + e.tok[alice], ctype: "application/x-www-form-urlencoded",
			header: map[string]string{"Origin": evil}})
		apiError(t, rec, http.StatusForbidden)
	})
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.tok[alice]

	page := e.do(req{method: "GET", path: "/signin?token=" + tok})
	if page.Code != 200 || len(page.Result().Cookies()) != 0 {
		t.Fatalf("sign-in page: %d, cookies %v", page.Code, page.Result().Cookies())
	}
	for _, want := range []string{`<form method="post" action="/signin">`, `name="token" value="` + tok + `"`, `<button type="submit"`} {
		if !strings.Contains(page.Body.String(), want) {
			t.Errorf("sign-in page lacks %s:\n%s", want, page.Body)
		}
	}
	// same-origin, not no-referrer: with no-referrer browsers send
	// "Origin: null" on the page's own POSTs, which the origin check
	// must refuse; other sites still never see the URL.
	if page.Header().Get("Referrer-Policy") != "same-origin" {
		t.Errorf("the page with a token in its URL must not leak it to other sites: %v", page.Header())
	}
	// Visiting the page signed no one in.
	if rec := e.do(req{method: "GET", path: "/"}); !strings.Contains(rec.Body.String(), `data-testid="anonymous"`) {
		t.Errorf("anonymous home page: %s", rec.Body)
	}

	wrong := e.do(req{method: "POST", path: "/signin", body: "token=omtx_wrong", ctype: "application/x-www-form-urlencoded"})
	if wrong.Code != http.StatusUnauthorized || len(wrong.Result().Cookies()) != 0 {
		t.Fatalf("wrong token: %d, cookies %v", wrong.Code, wrong.Result().Cookies())
	}

	rec := e.do(req{method: "POST", path: "/signin", body: "token=" + tok, ctype: "application/x-www-form-urlencoded"})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Fatalf("sign in: %d %v", rec.Code, rec.Header())
	}
	set := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"omtx_session=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=604800"} {
		if !strings.Contains(set, want) {
			t.Errorf("cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, "Secure") {
		t.Errorf("cookie over plain HTTP is Secure: %q", set)
	}
	cookie := rec.Result().Cookies()[0]
	cookie = &http.Cookie{Name: cookie.Name, Value: cookie.Value}

	home := e.do(req{method: "GET", path: "/", cookie: cookie})
	if !strings.Contains(home.Body.String(), "Signed in as <strong>alice</strong>") {
		t.Errorf("home page does not know alice: %s", home.Body)
	}
	me := decode[api.Me](t, e.do(req{method: "GET", path: api.Prefix + "/me", cookie: cookie}), 200)
	if me.Name != alice {
		t.Errorf("me: %+v", me)
	}
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(home.Body.String())
	if csrf == nil {
		t.Fatalf("no CSRF token on the home page")
	}
	out := e.do(req{method: "POST", path: "/signout", cookie: cookie, body: "csrf_token=" + csrf[1], ctype: "application/x-www-form-urlencoded"})
	if out.Code != http.StatusSeeOther || !strings.Contains(out.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign out: %d %v", out.Code, out.Header())
	}
	apiError(t, e.do(req{method: "GET", path: api.Prefix + "/me", cookie: cookie}), http.StatusUnauthorized)

	t.Run("session expires", func(t *testing.T) {
		cookie, _ := e.signIn(alice)
		decode[api.Me](t, e.do(req{method: "GET", path: api.Prefix + "/me", cookie: cookie}), 200)
		e.clock.Advance(7*24*time.Hour + time.Second)
		apiError(t, e.do(req{method: "GET", path: api.Prefix + "/me", cookie: cookie}), http.StatusUnauthorized)
		if rec := e.do(req{method: "GET", path: "/", cookie: cookie}); rec.Code != 200 || !strings.Contains(rec.Body.String(), `data-testid="anonymous"`) {
			t.Errorf("home page with an expired session: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("secure over TLS", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/signin", strings.NewReader("token="+tok))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.TLS = &tls.ConnectionState{}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		if !strings.Contains(rec.Header().Get("Set-Cookie"), "Secure") {
			t.Errorf("cookie over TLS is not Secure: %v", rec.Header())
		}
	})
	t.Run("forwarded proto only when trusted", func(t *testing.T) {
		for _, trust := range []bool{false, true} {
			e := newEnv(t, func(d *handlers.Deps) { d.TrustProxy = trust; d.SessionTTL = time.Hour })
			rec := e.do(req{method: "POST", path: "/signin", body: "token=" + e.tok[alice], ctype: "application/x-www-form-urlencoded",
				header: map[string]string{"X-Forwarded-Proto": "https"}})
			set := rec.Header().Get("Set-Cookie")
			if strings.Contains(set, "Secure") != trust || !strings.Contains(set, "Max-Age=3600") {
				t.Errorf("trust %v: cookie %q", trust, set)
			}
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// carol's tier allows 6 submissions a minute, one at a time.
	predict := func() *httptest.ResponseRecorder {
		return e.json("POST", api.Prefix+"/predict", carol, api.PredictRequest{
			JobName: "rate", ModelName: "vina", Target: "ABL1", LigandName: aspirin.Name, LigandSMILES: aspirin.SMILES})
	}
	decode[api.PredictResponse](t, predict(), http.StatusAccepted)
	rec := predict()
	if d := apiError(t, rec, http.StatusTooManyRequests); d.Code != "rate_limited" {
		t.Errorf("code %q", d.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After %q, want 10", got)
	}
	// Reads count separately, and other users are not affected.
	decode[api.Me](t, e.do(req{method: "GET", path: api.Prefix + "/me", user: carol}), 200)
	decode[api.PredictResponse](t, e.json("POST", api.Prefix+"/predict", alice, api.PredictRequest{
		JobName: "rate", ModelName: "vina", Target: "ABL1", LigandName: aspirin.Name, LigandSMILES: aspirin.SMILES}), http.StatusAccepted)

	e.clock.Advance(9 * time.Second)
	if rec := predict(); rec.Code != 429 || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("after 9 s: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	e.clock.Advance(time.Second)
	decode[api.PredictResponse](t, predict(), http.StatusAccepted)
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.do(req{method: "GET", path: api.Prefix + "/me", user: alice, header: map[string]string{"X-Request-ID": "trace-42.a_B"}})
	if got := rec.Header().Get("X-Request-ID"); got != "trace-42.a_B" {
		t.Errorf("request id %q not echoed", got)
	}
	var line map[string]any
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `"request_id":"trace-42.a_B"`) && strings.Contains(l, `"msg":"request"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line == nil {
		t.Fatalf("no access log line with the request id:\n%s", e.logs)
	}
	for k, want := range map[string]any{"method": "GET", "route": "/api/v3/me", "status": float64(200), "user_id": e.users[alice].ID} {
		if line[k] != want {
			t.Errorf("access log %s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["duration_ms"]; !ok {
		t.Errorf("access log has no duration: %v", line)
	}
	for _, bad := range []string{"", "has spaces", strings.Repeat("a", 65), "new\nline", "ünïcode"} {
		rec := e.do(req{method: "GET", path: "/health", header: map[string]string{"X-Request-ID": bad}})
		got := rec.Header().Get("X-Request-ID")
		if got == bad || got == "" || !regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`).MatchString(got) {
			t.Errorf("incoming id %q: answered %q", bad, got)
		}
	}
	// The id reaches the jobs a request submits.
	rec = e.do(req{method: "POST", path: api.Prefix + "/predict", user: alice, ctype: "application/json",
		body:   fmt.Sprintf(`{"job_name":"x","model_name":"vina","target":"ABL1","ligand_name":"a","ligand_smiles":%q}`, aspirin.SMILES),
		header: map[string]string{"X-Request-ID": "submit-7"}})
	id := decode[api.PredictResponse](t, rec, http.StatusAccepted).JobID
	j, err := e.store.JobGet(t.Context(), e.users[alice].ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if j.RequestID != "submit-7" {
		t.Errorf("job request id %q", j.RequestID)
	}
}

func TestDownloadNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.submit(alice, dockingBatch("names", api.Ligand{Name: evilName, SMILES: aspirin.SMILES}, api.Ligand{Name: "résumé ☃", SMILES: caffeine.SMILES}))
	e.runAll()
	kids := e.childIDs(alice, id)
	for i, kid := range kids {
		rec := e.do(req{method: "GET", path: api.Prefix + "/batches/" + id + "/jobs/" + kid + "/download/cif", user: alice})
		if rec.Code != 200 {
			t.Fatalf("download: %d %s", rec.Code, rec.Body)
		}
		cd := rec.Header().Get("Content-Disposition")
		if !strings.HasPrefix(cd, `attachment; filename="`) || strings.ContainsAny(cd, "\r\n/\\") || strings.Count(cd, `"`) != 2 {
			t.Errorf("unsafe Content-Disposition %q", cd)
		}
		if !strings.Contains(cd, kid+".cif") {
			t.Errorf("Content-Disposition %q lacks the job id", cd)
		}
		if i == 1 && !strings.Contains(cd, "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%98%83_") {
			t.Errorf("no UTF-8 name in %q", cd)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "chemical/x-mmcif" {
			t.Errorf("content type %q", ct)
		}
	}
	rec := e.do(req{method: "GET", path: api.Prefix + "/batches/" + id + "/export/zip", user: alice})
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/zip" || !strings.HasPrefix(rec.Body.String(), "PK") {
		t.Errorf("zip export: %d %v", rec.Code, rec.Header())
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do(req{method: "GET", path: "/health"})
	e.do(req{method: "GET", path: api.Prefix + "/batches/some-id", user: alice})
	e.do(req{method: "GET", path: "/nowhere"})
	body := e.do(req{method: "GET", path: "/metrics"}).Body.String()
	for _, want := range []string{
		`omtx_http_request_duration_seconds_bucket{method="GET",route="/health",status="200"`,
		`omtx_http_request_duration_seconds_count{method="GET",route="/api/v3/batches/:batch_id",status="404"}`,
		`route="unmatched"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "some-id") || strings.Contains(body, "/nowhere") {
		t.Errorf("metrics carry raw paths")
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.do(req{method: "GET", path: openapi.SpecPath})
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	page := e.do(req{method: "GET", path: "/api/docs"})
	if !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
		t.Errorf("docs content type %q", page.Header().Get("Content-Type"))
	}
	for _, r := range e.routes {
		if slices.Contains(pageRoutes, r) {
			continue // pages are for browsers, not part of the API
		}
		method, path, _ := strings.Cut(r, " ")
		tmpl := regexp.MustCompile(`:([a-z_]+)`).ReplaceAllString(path, "{$1}")
		if _, ok := doc.Paths[tmpl][strings.ToLower(method)]; !ok {
			t.Errorf("openapi.json lacks %s %s", method, tmpl)
		}
		if !strings.Contains(page.Body.String(), tmpl) {
			t.Errorf("/api/docs lacks %s", tmpl)
		}
	}
}

// TestInternalError: a failing dependency answers 500 without detail,
// and the error is logged once, with the request's id.
func TestInternalError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	decode[api.Me](t, e.do(req{method: "GET", path: api.Prefix + "/me", user: alice}), 200) // the token is cached
	e.store.Close()
	rec := e.do(req{method: "GET", path: api.Prefix + "/batches", user: alice, header: map[string]string{"X-Request-ID": "broken-1"}})
	d := apiError(t, rec, http.StatusInternalServerError)
	if d.Code != "internal" || d.Message != "internal error" {
		t.Errorf("internal error shows %+v", d)
	}
	var failed int
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `"request_id":"broken-1"`) && strings.Contains(l, `"level":"ERROR"`) {
			failed++
			if !strings.Contains(l, "closed") {
				t.Errorf("the log line lacks the cause: %s", l)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d error lines for the request, want 1:\n%s", failed, e.logs)
	}
}
