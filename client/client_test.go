package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"omtx/api"
)

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "://x"} {
		if _, err := New(u, "t"); err == nil {
			t.Errorf("New(%q): no error", u)
		}
	}
	c, err := New("https://hub.example.org/omtx/", "tok")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.URL("/api/v3/batches/b%2F1"), "https://hub.example.org/omtx/api/v3/batches/b%2F1"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if got := c.URL("http://other/x"); got != "http://other/x" {
		t.Errorf("absolute URL changed to %q", got)
	}
}

func TestPaths(t *testing.T) {
	cases := []struct{ got, want string }{
		{ExportPath("b1", "zip"), "/api/v3/batches/b1/export/zip"},
		{JobFilePath("b1", "j1", "poses.sdf"), "/api/v3/batches/b1/jobs/j1/files/poses.sdf"},
		{JobFilePath("b1", "j1", "cif"), "/api/v3/batches/b1/jobs/j1/download/cif"},
		{JobFilePath("", "j1", "results.json"), "/api/v3/jobs/j1/files/results.json"},
		{JobFilePath("", "j1", "cif"), "/api/v3/jobs/j1/files/structure.cif"},
		{BatchPath("a/../b"), "/api/v3/batches/a%2F..%2Fb"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestErrorFormat decodes error bodies as the server writes them and
// checks what a person reads.
func TestErrorFormat(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   []string
		not    []string
	}{
		{"field", 400, `{"error":{"code":"invalid","message":"must be one of vina, boltz2","field":"model_name"}}`,
			[]string{"400 Bad Request", "(invalid)", "model_name: must be one of vina, boltz2"}, nil},
		{"problems", 400, `{"error":{"code":"invalid","message":"5 ligands are invalid","field":"file","problems":[
			{"row":1,"line":2,"field":"smiles","name":"a","message":"unclosed ring 1"},
			{"row":2,"line":3,"field":"smiles","name":"b","message":"unknown element Xx"},
			{"row":3,"line":4,"field":"name","message":"is required"},
			{"row":4,"message":"fourth"},{"row":5,"message":"fifth"}]}}`,
			[]string{"file: 5 ligands are invalid", "row 1 (line 2, a) smiles: unclosed ring 1",
				"row 2 (line 3, b) smiles: unknown element Xx", "row 3 (line 4) name: is required", "and 2 more"},
			[]string{"fourth", "fifth"}},
		{"not json", 502, `<html>bad gateway</html>`, []string{"502 Bad Gateway", "<html>bad gateway</html>"}, nil},
		{"empty", 404, ``, []string{"404 Not Found: Not Found"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: c.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(c.body))}
			e := decodeError(resp)
			msg := e.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(msg, w) {
					t.Errorf("%q holds %q", msg, w)
				}
			}
		})
	}
}

func TestErrorIsAnError(t *testing.T) {
	var err error = &Error{Status: 404, ErrorDetail: api.ErrorDetail{Code: "not_found", Message: "batch not found"}}
	err = errors.Join(errors.New("status"), err)
	if !IsStatus(err, 404) || IsStatus(err, 400) {
		t.Fatal("IsStatus does not see through wrapping")
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != "not_found" {
		t.Fatal("errors.As")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{
		"":     0,
		"3":    3 * time.Second,
		"0.5":  500 * time.Millisecond,
		"-1":   0,
		"soon": 0,
		now.Add(7 * time.Second).Format(http.TimeFormat):  7 * time.Second,
		now.Add(-7 * time.Second).Format(http.TimeFormat): 0,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestDispositionFilename(t *testing.T) {
	cases := map[string]string{
		`attachment; filename="batch_results.csv"`:           "batch_results.csv",
		`attachment; filename="../../etc/passwd"`:            "passwd",
		`attachment; filename="..\\..\\win.ini"`:             "win.ini",
		`attachment; filename="/abs/path/x.zip"`:             "x.zip",
		`attachment; filename=".hidden"`:                     "hidden",
		`attachment; filename=".."`:                          "",
		`attachment; filename="a\"b.csv"`:                    "a_b.csv",
		`attachment; filename*=UTF-8''r%C3%A9sultats%0A.csv`: "résultats.csv",
		"attachment; filename=\"x\x01y.csv\"":                "xy.csv",
		`attachment`:                                         "",
		``:                                                   "",
		`garbage;;;`:                                         "",
	}
	for in, want := range cases {
		if got := DispositionFilename(in); got != want {
			t.Errorf("DispositionFilename(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SanitizeFilename("a:b|c?.csv"); got != "a_b_c_.csv" {
		t.Errorf("SanitizeFilename = %q", got)
	}
}

func TestMultipartBody(t *testing.T) {
	body, ctype, err := multipartBody("dir/lib.csv", strings.NewReader("name,smiles\na,CCO\n"),
		map[string]fieldPart{"request": {value: []byte(`{"model_name":"vina"}`), json: true}})
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	got := map[string]string{}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(p)
		got[p.FormName()+"|"+p.FileName()] = string(raw)
	}
	if got["file|lib.csv"] != "name,smiles\na,CCO\n" || got["request|"] != `{"model_name":"vina"}` {
		t.Fatalf("parts: %q", got)
	}
}

func TestBatchDone(t *testing.T) {
	cases := []struct {
		status, finalize string
		want             bool
	}{
		{"running", "", false},
		{"completed", "", false},
		{"completed", "pending", false},
		{"completed", "leased", false},
		{"completed", "done", true},
		{"failed", "failed", true},
		{"cancelled", "done", true},
		{"running", "done", false},
	}
	for _, c := range cases {
		if got := BatchDone(&api.Batch{Status: c.status, FinalizeState: c.finalize}); got != c.want {
			t.Errorf("%s/%s: %v", c.status, c.finalize, got)
		}
	}
}

// roundTrip answers requests from a script: the network boundary, to
// check the retry policy without a server (the handlers are exercised
// through the real server in the command's end-to-end test).
type roundTrip struct {
	mu      sync.Mutex
	answers []*http.Response
	bodies  []string
	methods []string
	keys    []string // Idempotency-Key headers
}

func (rt *roundTrip) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
	}
	rt.bodies = append(rt.bodies, string(b))
	rt.methods = append(rt.methods, r.Method)
	rt.keys = append(rt.keys, r.Header.Get("Idempotency-Key"))
	if len(rt.answers) == 0 {
		return nil, errors.New("script ended")
	}
	a := rt.answers[0]
	rt.answers = rt.answers[1:]
	if a == nil {
		return nil, errors.New("connection reset by peer")
	}
	a.Request = r
	return a, nil
}

func answer(status int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body)), ContentLength: -1}
}

func scripted(t *testing.T, answers ...*http.Response) (*Client, *roundTrip, *[]time.Duration) {
	rt := &roundTrip{answers: answers}
	c, err := New("http://hub.test", "tok", WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	c.wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return c, rt, &waits
}

func TestRateLimitedSubmitIsSentAgain(t *testing.T) {
	limited := `{"error":{"code":"rate_limited","message":"too many submissions"}}`
	c, rt, waits := scripted(t,
		answer(429, http.Header{"Retry-After": {"2"}}, limited),
		answer(429, http.Header{"Retry-After": {"1"}}, limited),
		answer(202, nil, `{"batch_id":"b1","total_jobs":1}`))
	resp, err := c.SubmitLibrary(context.Background(), api.SubmitBatchRequest{ModelName: "vina", Target: "ABL1"},
		"lib.csv", strings.NewReader("name,smiles\na,CCO\n"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.BatchID != "b1" || len(rt.bodies) != 3 || rt.bodies[0] != rt.bodies[2] || !strings.Contains(rt.bodies[2], "CCO") {
		t.Fatalf("resp %+v after %d sends", resp, len(rt.bodies))
	}
	if len(*waits) != 2 || (*waits)[0] != 2*time.Second || (*waits)[1] != time.Second {
		t.Fatalf("waits %v", *waits)
	}
}

func TestRateLimitGivesUp(t *testing.T) {
	var answers []*http.Response
	for range DefaultRetries + 1 {
		answers = append(answers, answer(429, http.Header{"Retry-After": {"1"}}, `{"error":{"code":"rate_limited","message":"slow down"}}`))
	}
	c, rt, _ := scripted(t, answers...)
	_, err := c.Batches(context.Background(), api.ListQuery{})
	var e *Error
	if !errors.As(err, &e) || e.Status != 429 || e.RetryAfter != time.Second || e.Code != "rate_limited" {
		t.Fatalf("err = %v", err)
	}
	if len(rt.bodies) != DefaultRetries+1 {
		t.Fatalf("%d sends", len(rt.bodies))
	}
}

func TestPostIsNotRetriedOnOtherErrors(t *testing.T) {
	c, rt, _ := scripted(t, answer(503, nil, `{"error":{"code":"unavailable","message":"down"}}`), answer(202, nil, `{}`))
	if _, err := c.Control(context.Background(), "b1", api.ActionCancel); !IsStatus(err, 503) {
		t.Fatalf("err = %v", err)
	}
	if len(rt.bodies) != 1 {
		t.Fatalf("a POST was sent %d times", len(rt.bodies))
	}
	// A read is tried again.
	c, rt, _ = scripted(t, answer(503, nil, `down`), answer(200, nil, `{"batch_id":"b1","status":"running"}`))
	b, err := c.Batch(context.Background(), "b1")
	if err != nil || b.Status != "running" || len(rt.bodies) != 2 {
		t.Fatalf("batch %+v, err %v, %d sends", b, err, len(rt.bodies))
	}
}

// TestSubmissionIsSentAgainUnderItsKey: a submission carries a key of its
// own, the same on every send, and is sent again after a lost connection
// and a gateway error; another submission has another key.
func TestSubmissionIsSentAgainUnderItsKey(t *testing.T) {
	c, rt, waits := scripted(t, nil, answer(503, nil, `down`), answer(202, nil, `{"batch_id":"b1","total_jobs":1,"replayed":true}`))
	resp, err := c.SubmitBatch(context.Background(), api.SubmitBatchRequest{ModelName: "vina", Target: "ABL1",
		Ligands: []api.Ligand{{Name: "a", SMILES: "CCO"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.BatchID != "b1" || !resp.Replayed || len(rt.keys) != 3 || len(*waits) != 2 {
		t.Fatalf("resp %+v after %d sends and waits %v", resp, len(rt.keys), *waits)
	}
	if k := rt.keys[0]; len(k) < 20 || k != rt.keys[1] || k != rt.keys[2] || rt.bodies[0] != rt.bodies[2] {
		t.Fatalf("keys %q: want one key on every send of the same body", rt.keys)
	}
	c2, rt2, _ := scripted(t, nil, answer(202, nil, `{"job_id":"j1"}`))
	if _, err := c2.Predict(context.Background(), api.PredictRequest{ModelName: "vina"}); err != nil {
		t.Fatal(err)
	}
	c3, rt3, _ := scripted(t, nil, answer(202, nil, `{"batch_id":"b2"}`))
	if _, err := c3.SubmitLibrary(context.Background(), api.SubmitBatchRequest{ModelName: "vina"}, "l.smi", strings.NewReader("CCO a\n")); err != nil {
		t.Fatal(err)
	}
	if rt2.keys[0] == "" || rt2.keys[0] != rt2.keys[1] || rt3.keys[0] == "" || rt3.keys[0] != rt3.keys[1] ||
		rt2.keys[0] == rt.keys[0] || rt3.keys[0] == rt2.keys[0] {
		t.Fatalf("keys of three submissions: %q %q %q", rt.keys, rt2.keys, rt3.keys)
	}
	// A read reports a failed connection at once; a control action too.
	c4, rt4, _ := scripted(t, nil, answer(200, nil, `{}`))
	if _, err := c4.Batch(context.Background(), "b1"); err == nil || len(rt4.keys) != 1 || rt4.keys[0] != "" {
		t.Fatalf("read after a lost connection: %v after %d sends (key %q)", err, len(rt4.keys), rt4.keys)
	}
	c5, rt5, _ := scripted(t, nil, answer(202, nil, `{}`))
	if _, err := c5.Control(context.Background(), "b1", api.ActionCancel); err == nil || len(rt5.keys) != 1 {
		t.Fatalf("control after a lost connection: %v after %d sends", err, len(rt5.keys))
	}
}

func TestRetryWaitEndsWithContext(t *testing.T) {
	rt := &roundTrip{answers: []*http.Response{answer(429, http.Header{"Retry-After": {"30"}}, `{}`)}}
	c, err := New("http://hub.test", "tok", WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Me(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestLongRetryAfterIsNotWaited(t *testing.T) {
	c, rt, waits := scripted(t, answer(429, http.Header{"Retry-After": {"3600"}}, `{"error":{"code":"rate_limited","message":"quota"}}`))
	_, err := c.Batch(context.Background(), "b1")
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter != time.Hour || len(*waits) != 0 || len(rt.bodies) != 1 {
		t.Fatalf("err %v, waits %v", err, *waits)
	}
}

func TestTokenStaysOnTheHub(t *testing.T) {
	var auth []string
	c, err := New("http://hub.test", "secret", WithHTTPClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		auth = append(auth, r.Header.Get("Authorization"))
		return answer(200, nil, `{}`), nil
	})}))
	if err != nil {
		t.Fatal(err)
	}
	c.Download(context.Background(), "/api/v3/me", io.Discard)
	c.Download(context.Background(), "http://elsewhere.test/x", io.Discard)
	if len(auth) != 2 || auth[0] != "Bearer secret" || auth[1] != "" {
		t.Fatalf("Authorization headers: %q", auth)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestParametersTravelAsJSON(t *testing.T) {
	c, rt, _ := scripted(t, answer(202, nil, `{"job_id":"j1"}`))
	_, err := c.Predict(context.Background(), api.PredictRequest{ModelName: "vina", Target: "ABL1", LigandSMILES: "CCO",
		Parameters: json.RawMessage(`{"exhaustiveness":4}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rt.bodies[0], `"parameters":{"exhaustiveness":4}`) || rt.methods[0] != "POST" {
		t.Fatalf("body %s", rt.bodies[0])
	}
}
