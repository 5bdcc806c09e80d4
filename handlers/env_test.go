package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"omtx/accounts"
	accsqlite "omtx/accounts/sqlite"
	"omtx/api"
	"omtx/gpu"
	"omtx/gpu/boltz2"
	"omtx/gpu/chai1"
	"omtx/gpu/rfantibody"
	"omtx/gpu/vina"
	"omtx/handlers"
	"omtx/hub"
	"omtx/jobs"
	"omtx/jobs/jobstest"
	"omtx/jobs/sqlite"
	"omtx/live"
	"omtx/metrics"
	"omtx/openapi"
	"omtx/ratelimit"
	"omtx/results"
)

// The handlers consume the hub through their own port.
var _ handlers.Service = (*hub.Service)(nil)

// syncBuffer collects log output from concurrent requests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a real server: the SQLite job and account stores on one file,
// results under file://, the real model registry and hub, a manual clock.
type env struct {
	t       *testing.T
	h       http.Handler
	clock   *jobstest.Clock
	store   *sqlite.Store
	accts   *accsqlite.Store
	tokens  *accounts.TokenCache
	res     *results.Store
	doc     *openapi.Document
	logs    *syncBuffer
	routes  []string // "METHOD path" as registered
	users   map[string]*accounts.User
	tok     map[string]string // user name -> API token
	limits  map[accounts.Tier]accounts.Limits
	modelNs []string
}

// Test users: alice and bob on the default tier, carol on a premium tier
// whose limits are tight enough to hit.
const (
	alice = "alice"
	bob   = "bob"
	carol = "carol"
)

func testLimits() map[accounts.Tier]accounts.Limits {
	return map[accounts.Tier]accounts.Limits{
		accounts.TierDefault:    {SubmitPerMinute: 6000, ReadPerMinute: 60000, MaxLigandsPerBatch: 50, MaxRunning: 4},
		accounts.TierPremium:    {SubmitPerMinute: 6, ReadPerMinute: 60000, MaxLigandsPerBatch: 50, MaxRunning: 8},
		accounts.TierEnterprise: {SubmitPerMinute: 6000, ReadPerMinute: 60000, MaxLigandsPerBatch: 500, MaxRunning: 64},
	}
}

func newEnv(t *testing.T, tweak ...func(*handlers.Deps)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	clock := jobstest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	db := filepath.Join(dir, "omtx.db")
	store, err := sqlite.Open(ctx, db, jobs.Config{Clock: clock}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	accts, err := accsqlite.Open(ctx, db, accounts.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accts.Close() })
	files := filepath.Join(dir, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := results.Open(ctx, "file://"+files)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	dock, err := vina.New(vina.Config{Targets: os.DirFS("../testdata")})
	if err != nil {
		t.Fatal(err)
	}
	reg := gpu.NewRegistry(dock,
		boltz2.New(boltz2.Config{Program: "boltz"}),
		chai1.New(chai1.Config{Program: "chai-lab"}),
		rfantibody.New(rfantibody.Config{}),
	)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	svc, err := hub.New(hub.Config{Store: store, Results: res, Models: reg, Clock: clock, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	tokens := accounts.NewTokenCache(accts, time.Minute, clock)
	d := handlers.Deps{
		Log:      log,
		Service:  svc,
		Accounts: accts,
		Tokens:   tokens,
		Limits:   testLimits(),
		Limiter:  ratelimit.New(clock),
		Metrics:  metrics.New(store.Stats),
		Ready: []handlers.Check{
			{Name: "store", Ping: store.Ping},
			{Name: "results", Ping: res.Ping},
		},
		Clock:   clock,
		Targets: handlers.BundledTargets(dock),
	}
	hubLive := live.New(live.Config{Store: store, Log: log, Clock: clock})
	t.Cleanup(hubLive.Close)
	d.Live = hubLive.Handler(handlers.RequestUser)
	for _, f := range tweak {
		f(&d)
	}
	e := handlers.New(d)
	doc, err := handlers.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	ev := &env{t: t, h: e, clock: clock, store: store, accts: accts, tokens: tokens, res: res, doc: doc, logs: logs,
		users: map[string]*accounts.User{}, tok: map[string]string{}, limits: d.Limits}
	for _, r := range e.Routes() {
		ev.routes = append(ev.routes, r.Method+" "+r.Path)
	}
	for _, m := range reg.All() {
		ev.modelNs = append(ev.modelNs, m.Info().Name)
	}
	for name, tier := range map[string]accounts.Tier{alice: accounts.TierDefault, bob: accounts.TierDefault, carol: accounts.TierPremium} {
		u, tok, err := accts.UserCreate(ctx, accounts.NewUser{Name: name, Tier: tier})
		if err != nil {
			t.Fatal(err)
		}
		ev.users[name], ev.tok[name] = u, tok
	}
	return ev
}

// req is one request to the server.
type req struct {
	method, path string
	user         string       // bearer token of this user; "" anonymous
	cookie       *http.Cookie // session cookie
	body         string
	ctype        string
	header       map[string]string
	// chunked hides the body's length, as a streaming client does.
	chunked bool
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.chunked {
		hr.ContentLength = -1
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	if r.user != "" {
		hr.Header.Set("Authorization", "Bearer "+e.tok[r.user])
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	return rec
}

// json sends a JSON body as user.
func (e *env) json(method, path, user string, v any) *httptest.ResponseRecorder {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req{method: method, path: path, user: user, body: string(b), ctype: "application/json"})
}

// decode reads a JSON answer of the wanted status into v.
func decode[T any](t *testing.T, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	var v T
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, rec.Body)
	}
	return v
}

// apiError decodes an error answer.
func apiError(t *testing.T, rec *httptest.ResponseRecorder, status int) api.ErrorDetail {
	t.Helper()
	return decode[api.ErrorBody](t, rec, status).Error
}

// multipartBody builds a multipart/form-data body with the fields and one
// file part.
func multipartBody(t *testing.T, fields map[string]string, fileField, fileName, content string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if fileField != "" {
		fw, err := w.CreateFormFile(fileField, fileName)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(fw, content)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

// Ligands of the fixtures.
var (
	imatinib    = api.Ligand{Name: "imatinib", SMILES: "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"}
	aspirin     = api.Ligand{Name: "aspirin", SMILES: "CC(=O)Oc1ccccc1C(=O)O"}
	caffeine    = api.Ligand{Name: "caffeine", SMILES: "Cn1cnc2c1c(=O)n(C)c(=O)n2C"}
	ibuprofen   = api.Ligand{Name: "ibuprofen", SMILES: "CC(C)Cc1ccc(cc1)C(C)C(=O)O"}
	paracetamol = api.Ligand{Name: "paracetamol", SMILES: "CC(=O)Nc1ccc(O)cc1"}
	// evilName is a ligand name built to break a Content-Disposition header.
	evilName = "evil\"\r\nname/../x"
)

func dockingBatch(name string, ligs ...api.Ligand) api.SubmitBatchRequest {
	return api.SubmitBatchRequest{JobName: name, ModelName: "vina", ProteinName: "ABL1 kinase", Target: "ABL1", Ligands: ligs}
}

// submit submits a docking batch as user and returns its id.
func (e *env) submit(user string, b api.SubmitBatchRequest) string {
	e.t.Helper()
	resp := decode[api.SubmitBatchResponse](e.t, e.json(http.MethodPost, api.Prefix+"/batches/submit", user, b), http.StatusAccepted)
	return resp.BatchID
}

// predict submits one docking job as user and returns its id.
func (e *env) predict(user string, l api.Ligand) string {
	e.t.Helper()
	resp := decode[api.PredictResponse](e.t, e.json(http.MethodPost, api.Prefix+"/predict", user, api.PredictRequest{
		JobName: "single " + l.Name, ModelName: "vina", Target: "ABL1", LigandName: l.Name, LigandSMILES: l.SMILES,
	}), http.StatusAccepted)
	return resp.JobID
}

// runAll plays the runners: it leases every job there is and completes
// it with a realistic result and files, and completes finalize tasks,
// until no work is left. only, if set, limits it to those batches and
// individual jobs.
func (e *env) runAll(only ...string) {
	e.t.Helper()
	ctx := context.Background()
	keep := map[string]bool{}
	for _, id := range only {
		keep[id] = true
	}
	var held []*jobs.Job
	defer func() {
		for _, j := range held {
			e.store.JobFail(ctx, *j.Lease, jobs.Failure{Error: "not this test's", Retryable: true})
		}
	}()
	for n := 0; ; n++ {
		j, err := e.store.JobLease(ctx, jobs.LeaseParams{Owner: "test-runner", Models: e.modelNs, TTL: time.Hour, Finalize: true})
		if jobs.IsCode(err, jobs.ErrNoWork) {
			return
		}
		if err != nil {
			e.t.Fatal(err)
		}
		id := j.BatchID
		if id == "" {
			id = j.ID
		}
		if len(keep) > 0 && !keep[id] {
			held = append(held, j)
			continue
		}
		if j.Type == jobs.TypeBatchParent {
			if err := e.store.JobComplete(ctx, *j.Lease, nil); err != nil {
				e.t.Fatal(err)
			}
			continue
		}
		affinity := -7.1 - 0.4*float64(n%5)
		files := map[string]string{
			results.FileStructure: "data_complex\n#\n_entry.id complex\n#\n",
			results.FilePoses:     "ligand\n  docked\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n",
			results.FileResults:   fmt.Sprintf(`{"affinity": %g, "poses": [{"rank": 1, "affinity": %g}]}`, affinity, affinity),
		}
		for name, content := range files {
			key, err := results.JobKey(j.BatchID, j.ID, name)
			if err != nil {
				e.t.Fatal(err)
			}
			if err := e.res.Put(ctx, key, strings.NewReader(content), ""); err != nil {
				e.t.Fatal(err)
			}
		}
		summary, _ := json.Marshal(results.JobSummary{
			Metrics:        map[string]float64{"affinity": affinity, "ligand_efficiency": -affinity / 30},
			Primary:        "affinity",
			Files:          []string{results.FilePoses, results.FileResults, results.FileStructure},
			ElapsedSeconds: 42.5,
		})
		e.clock.Advance(time.Second)
		if err := e.store.JobComplete(ctx, *j.Lease, summary); err != nil {
			e.t.Fatal(err)
		}
	}
}

// childIDs lists a batch's children in input order.
func (e *env) childIDs(user, batchID string) []string {
	e.t.Helper()
	page := decode[api.ResultsPage](e.t, e.do(req{method: http.MethodGet, user: user,
		path: api.Prefix + "/batches/" + batchID + "/results?sort=index&order=asc"}), http.StatusOK)
	var ids []string
	for _, r := range page.Rows {
		ids = append(ids, r.JobID)
	}
	return ids
}

// signIn signs a browser in as user and returns its session cookie and
// CSRF token.
func (e *env) signIn(user string) (*http.Cookie, string) {
	e.t.Helper()
	rec := e.do(req{method: http.MethodPost, path: "/signin", body: "token=" + e.tok[user], ctype: "application/x-www-form-urlencoded"})
	if rec.Code != http.StatusSeeOther {
		e.t.Fatalf("sign in: status %d: %s", rec.Code, rec.Body)
	}
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "omtx_session" {
			cookie = c
		}
	}
	if cookie == nil {
		e.t.Fatalf("sign in set no session cookie: %v", rec.Header())
	}
	home := e.do(req{method: http.MethodGet, path: "/", cookie: cookie})
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(home.Body.String())
	if m == nil {
		e.t.Fatalf("home page has no CSRF token: %s", home.Body)
	}
	return &http.Cookie{Name: cookie.Name, Value: cookie.Value}, m[1]
}

// no5xx fails the test for a server error.
func no5xx(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("server error %d for the caller's mistake: %s", rec.Code, rec.Body)
	}
}
