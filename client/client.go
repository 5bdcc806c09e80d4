// Package client is a Go client of the hub's JSON API v3: one method per
// route, answering the wire types of package api. It retries requests the
// server turned away for rate limiting (429, after Retry-After) and, for
// reads and submissions, answers of an unavailable gateway (502, 503,
// 504). Each submission carries an Idempotency-Key of its own, so that it
// is also sent again after a failed connection or a lost answer: the hub
// answers a repeat with the batch or job the first one recorded. A control
// action that may have reached the server is never repeated, and a read
// reports a failed connection at once.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"omtx/api"
)

// Defaults of a new Client.
const (
	// DefaultRetries is how many times a request is sent again after a
	// 429 (or, for reads, a 502, 503 or 504 answer).
	DefaultRetries = 4
	// maxRetryWait is the longest wait before a retry; a longer
	// Retry-After is answered with the error at once.
	maxRetryWait = 2 * time.Minute
	// maxErrorBody is how much of an error answer is read.
	maxErrorBody = 1 << 20
)

// Client talks to one hub as one user.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	userAgent string
	retries   int
	// wait sleeps for d or until ctx ends; tests replace it.
	wait func(ctx context.Context, d time.Duration) error
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests through h instead of a default client.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithRetries sets how many times a rate-limited request is sent again
// (0: never).
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// New returns a client of the hub at baseURL (scheme and host, optionally a
// path prefix) authenticating with the API token.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://HOST[:PORT] or https://HOST", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		base:      u,
		token:     strings.TrimSpace(token),
		http:      &http.Client{},
		userAgent: "omtx-client",
		retries:   DefaultRetries,
		wait:      sleep,
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	return c, nil
}

// BaseURL is the hub's address as the client uses it.
func (c *Client) BaseURL() string { return c.base.String() }

// URL returns the absolute URL of a path of the hub, such as the
// status_url of an answer (or p itself when it already is an absolute URL).
// Paths are taken as escaped, as BatchPath and friends build them.
func (c *Client) URL(p string) string {
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		return p
	}
	return c.base.String() + "/" + strings.TrimLeft(p, "/")
}

// Error is an error answer of the hub.
type Error struct {
	// Status is the HTTP status.
	Status int
	api.ErrorDetail
	// RetryAfter is the wait the server asked for (429), if any.
	RetryAfter time.Duration
}

// maxProblemsShown is how many of a library's problems Error() lists.
const maxProblemsShown = 3

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server answered %d", e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	b.WriteString(msg)
	for i, p := range e.Problems {
		if i == maxProblemsShown {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-maxProblemsShown)
			break
		}
		b.WriteString("; " + FormatProblem(p))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// FormatProblem renders one problem of a ligand library: "row 3 (line 4,
// aspirin) smiles: unclosed ring".
func FormatProblem(p api.Problem) string {
	var b strings.Builder
	var where []string
	if p.Line > 0 {
		where = append(where, "line "+strconv.Itoa(p.Line))
	}
	if p.Name != "" {
		where = append(where, p.Name)
	}
	if p.Row > 0 {
		b.WriteString("row " + strconv.Itoa(p.Row))
		if len(where) > 0 {
			b.WriteString(" (" + strings.Join(where, ", ") + ")")
		}
	} else if len(where) > 0 {
		b.WriteString(strings.Join(where, ", "))
	}
	if p.Field != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(p.Field)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// IsStatus reports whether err is an Error with that HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// request is one call: everything needed to send it again.
type request struct {
	method string
	path   string
	query  url.Values
	// body is sent as is; nil for none.
	body        []byte
	contentType string
	// idempotent requests are retried on transient failures too.
	idempotent bool
	// idempotencyKey, for a submission, is sent as the Idempotency-Key
	// header, which makes it safe to send again after any failure.
	idempotencyKey string
}

// newIdempotencyKey is a fresh key for one submission.
func newIdempotencyKey() string { return "omtx-" + rand.Text() }

// do sends r, retrying as the policy allows, and returns a response with
// a 2xx status; any other status is decoded into an *Error.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	target := c.URL(r.path)
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, target, body)
		if err != nil {
			return nil, err
		}
		if c.token != "" && c.sameHost(req.URL) {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		req.Header.Set("Accept", "application/json")
		if c.userAgent != "" {
			req.Header.Set("User-Agent", c.userAgent)
		}
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		if r.idempotencyKey != "" {
			req.Header.Set("Idempotency-Key", r.idempotencyKey)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			err = fmt.Errorf("%s %s: %w", r.method, r.path, err)
			if r.idempotencyKey == "" || attempt >= c.retries {
				return nil, err
			}
			// The submission may or may not have landed; its key makes
			// sending it again safe.
			if werr := c.wait(ctx, backoff(attempt)); werr != nil {
				return nil, werr
			}
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		apiErr := decodeError(resp)
		retry := attempt < c.retries && (resp.StatusCode == http.StatusTooManyRequests ||
			((r.idempotent || r.idempotencyKey != "") && transient(resp.StatusCode)))
		if !retry {
			return nil, apiErr
		}
		d := apiErr.RetryAfter
		if d <= 0 {
			d = backoff(attempt)
		}
		if d > maxRetryWait {
			return nil, apiErr // the caller decides whether to wait that long
		}
		if err := c.wait(ctx, d); err != nil {
			return nil, err
		}
	}
}

// sameHost reports whether u is on the hub's host: the token goes nowhere
// else.
func (c *Client) sameHost(u *url.URL) bool {
	return strings.EqualFold(u.Host, c.base.Host) && u.Scheme == c.base.Scheme
}

// transient statuses are worth another try for a read.
func transient(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout
}

// backoff is the wait before retry attempt+1 when the server named none.
func backoff(attempt int) time.Duration {
	return time.Duration(500<<min(attempt, 6)) * time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decodeError reads an error answer and closes its body.
func decodeError(resp *http.Response) *Error {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var body api.ErrorBody
	if err := json.Unmarshal(raw, &body); err == nil && (body.Error.Message != "" || body.Error.Code != "") {
		e.ErrorDetail = body.Error
		return e
	}
	msg := strings.TrimSpace(string(raw))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Message = msg
	return e
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// getJSON reads a path into out.
func (c *Client) getJSON(ctx context.Context, p string, q url.Values, out any) error {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: p, query: q, idempotent: true})
	if err != nil {
		return err
	}
	return decode(resp, out)
}

// sendJSON sends in as JSON and decodes the answer into out (when not nil).
func (c *Client) sendJSON(ctx context.Context, method, p string, in, out any) error {
	return c.sendJSONRequest(ctx, request{method: method, path: p}, in, out)
}

// submitJSON sends a submission as JSON under a new idempotency key.
func (c *Client) submitJSON(ctx context.Context, p string, in, out any) error {
	return c.sendJSONRequest(ctx, request{method: http.MethodPost, path: p, idempotencyKey: newIdempotencyKey()}, in, out)
}

// sendJSONRequest sends r with in as its JSON body and decodes the answer
// into out (when not nil).
func (c *Client) sendJSONRequest(ctx context.Context, r request, in, out any) error {
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.body, r.contentType = raw, "application/json"
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	return decode(resp, out)
}

func decode(resp *http.Response, out any) error {
	defer resp.Body.Close()
	if out == nil {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }

// BatchPath is the API path of a batch.
func BatchPath(id string) string { return api.Prefix + "/batches/" + seg(id) }

// ExportPath is the path of a batch's export: format csv, json or zip.
func ExportPath(id, format string) string { return BatchPath(id) + "/export/" + seg(format) }

// JobFilePath is the path of a file of a job: of a batch child when
// batchID is set, of an individual job otherwise. The name "cif" asks for
// the complex structure (download/cif) of a batch child.
func JobFilePath(batchID, jobID, name string) string {
	if batchID == "" {
		if name == "cif" {
			name = "structure.cif"
		}
		return api.Prefix + "/jobs/" + seg(jobID) + "/files/" + seg(name)
	}
	p := BatchPath(batchID) + "/jobs/" + seg(jobID)
	if name == "cif" {
		return p + "/download/cif"
	}
	return p + "/files/" + seg(name)
}

// SubmitBatch submits a batch with its ligands in the body.
func (c *Client) SubmitBatch(ctx context.Context, req api.SubmitBatchRequest) (*api.SubmitBatchResponse, error) {
	var out api.SubmitBatchResponse
	if err := c.submitJSON(ctx, api.Prefix+"/batches/submit", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitLibrary submits a batch whose ligands are read by the server from
// a library file (CSV, .smi or SDF, told apart by filename and content);
// req.Ligands is ignored. The library is read into memory so that the
// submission can be sent again.
func (c *Client) SubmitLibrary(ctx context.Context, req api.SubmitBatchRequest, filename string, r io.Reader) (*api.SubmitBatchResponse, error) {
	req.Ligands = nil
	meta, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	body, ctype, err := multipartBody(filename, r, map[string]fieldPart{"request": {value: meta, json: true}})
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: api.Prefix + "/batches/submit", body: body, contentType: ctype,
		idempotencyKey: newIdempotencyKey()})
	if err != nil {
		return nil, err
	}
	var out api.SubmitBatchResponse
	if err := decode(resp, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

type fieldPart struct {
	value []byte
	json  bool
}

// multipartBody builds a form with the file part and the given fields.
func multipartBody(filename string, r io.Reader, fields map[string]fieldPart) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, f := range fields {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": name}))
		if f.json {
			h.Set("Content-Type", "application/json")
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := w.Write(f.value); err != nil {
			return nil, "", err
		}
	}
	name := path.Base(strings.ReplaceAll(filename, "\\", "/"))
	if name == "." || name == "/" || name == "" {
		name = "library.csv"
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		return nil, "", err
	}
	if _, err := io.Copy(fw, r); err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", name, err)
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// Predict submits one prediction (an individual job).
func (c *Client) Predict(ctx context.Context, req api.PredictRequest) (*api.PredictResponse, error) {
	var out api.PredictResponse
	if err := c.submitJSON(ctx, api.Prefix+"/predict", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ValidateLigands checks ligands without submitting them. It changes
// nothing on the server, so it is retried like a read.
func (c *Client) ValidateLigands(ctx context.Context, req api.ValidateLigandsRequest) (*api.ValidateLigandsResponse, error) {
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: api.Prefix + "/ligands/validate", body: raw,
		contentType: "application/json", idempotent: true})
	if err != nil {
		return nil, err
	}
	var out api.ValidateLigandsResponse
	if err := decode(resp, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ValidateLibrary checks a library file; model, when not empty, applies
// that model's ligand rules too.
func (c *Client) ValidateLibrary(ctx context.Context, model, filename string, r io.Reader) (*api.ValidateLigandsResponse, error) {
	fields := map[string]fieldPart{}
	if model != "" {
		fields["model_name"] = fieldPart{value: []byte(model)}
	}
	body, ctype, err := multipartBody(filename, r, fields)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: api.Prefix + "/ligands/validate", body: body,
		contentType: ctype, idempotent: true})
	if err != nil {
		return nil, err
	}
	var out api.ValidateLigandsResponse
	if err := decode(resp, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// listValues encodes a page query.
func listValues(page, size int, cursor, status string) url.Values {
	q := url.Values{}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	if size > 0 {
		q.Set("page_size", strconv.Itoa(size))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if status != "" {
		q.Set("status", status)
	}
	return q
}

// Batches lists the user's batches, newest first.
func (c *Client) Batches(ctx context.Context, q api.ListQuery) (*api.BatchList, error) {
	var out api.BatchList
	if err := c.getJSON(ctx, api.Prefix+"/batches", listValues(q.Page, q.PageSize, q.Cursor, q.Status), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Batch reads a batch with its progress.
func (c *Client) Batch(ctx context.Context, id string) (*api.Batch, error) {
	var out api.Batch
	if err := c.getJSON(ctx, BatchPath(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Results reads a page of a batch's results table.
func (c *Client) Results(ctx context.Context, id string, q api.ResultsQuery) (*api.ResultsPage, error) {
	v := listValues(q.Page, q.PageSize, q.Cursor, q.Status)
	for k, s := range map[string]string{"sort": q.Sort, "order": q.Order, "q": q.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	var out api.ResultsPage
	if err := c.getJSON(ctx, BatchPath(id)+"/results", v, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Analytics reads a batch's statistics.
func (c *Client) Analytics(ctx context.Context, id string) (*api.Analytics, error) {
	var out api.Analytics
	if err := c.getJSON(ctx, BatchPath(id)+"/analytics", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Control pauses, resumes or cancels a batch, or retries its failed jobs.
func (c *Client) Control(ctx context.Context, id, action string) (*api.ControlResponse, error) {
	switch action {
	case api.ActionPause, api.ActionResume, api.ActionCancel, api.ActionRetryFailed:
	default:
		return nil, fmt.Errorf("unknown batch action %q (want pause, resume, cancel or retry_failed)", action)
	}
	var out api.ControlResponse
	if err := c.sendJSON(ctx, http.MethodPost, BatchPath(id)+"/control/"+action, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteBatch removes an ended batch and its files.
func (c *Client) DeleteBatch(ctx context.Context, id string) error {
	return c.sendJSON(ctx, http.MethodDelete, BatchPath(id), nil, nil)
}

// Job reads an individual job.
func (c *Client) Job(ctx context.Context, jobID string) (*api.Job, error) {
	var out api.Job
	if err := c.getJSON(ctx, api.Prefix+"/jobs/"+seg(jobID), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// BatchJob reads a child job of a batch.
func (c *Client) BatchJob(ctx context.Context, batchID, jobID string) (*api.Job, error) {
	var out api.Job
	if err := c.getJSON(ctx, BatchPath(batchID)+"/jobs/"+seg(jobID), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Models lists the models and whether the hub can run them.
func (c *Client) Models(ctx context.Context) (*api.ModelList, error) {
	var out api.ModelList
	if err := c.getJSON(ctx, api.Prefix+"/models", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Me reads the signed-in user and their limits.
func (c *Client) Me(ctx context.Context) (*api.Me, error) {
	var out api.Me
	if err := c.getJSON(ctx, api.Prefix+"/me", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Download streams the file at a path of the hub (ExportPath,
// JobFilePath) to w. It returns the file name the server gave in
// Content-Disposition, reduced to a safe base name (empty when none), and
// the bytes written.
func (c *Client) Download(ctx context.Context, p string, w io.Writer) (filename string, n int64, err error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: p, idempotent: true})
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	filename = DispositionFilename(resp.Header.Get("Content-Disposition"))
	n, err = io.Copy(w, resp.Body)
	if err != nil {
		return filename, n, fmt.Errorf("download %s: %w", p, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return filename, n, fmt.Errorf("download %s: got %d of %d bytes", p, n, resp.ContentLength)
	}
	return filename, n, nil
}

// DispositionFilename returns the file name of a Content-Disposition
// header as a safe base name: no folders, no parent references, no control
// characters, not hidden. It is empty when the header names no usable
// file.
func DispositionFilename(header string) string {
	if header == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(header)
	if err != nil {
		return ""
	}
	// mime decodes filename*= (RFC 5987) into "filename" itself.
	return SanitizeFilename(params["filename"])
}

// SanitizeFilename reduces a name from a server to a safe base name.
func SanitizeFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f:
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimLeft(strings.TrimSpace(b.String()), ".")
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	return name
}

// Final batch statuses.
var finalStatus = map[string]bool{"completed": true, "failed": true, "cancelled": true}

// BatchDone reports whether a batch has ended and its results files are
// written (its finalize task is done or failed for good).
func BatchDone(b *api.Batch) bool {
	return finalStatus[b.Status] && (b.FinalizeState == "done" || b.FinalizeState == "failed")
}

// WaitBatch polls a batch every interval until it has ended and its
// results are written, calling progress (when not nil) with every state
// it reads. It returns the last state, or ctx's error.
func (c *Client) WaitBatch(ctx context.Context, id string, every time.Duration, progress func(api.Batch)) (*api.Batch, error) {
	if every <= 0 {
		every = 2 * time.Second
	}
	for {
		b, err := c.Batch(ctx, id)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(*b)
		}
		if BatchDone(b) {
			return b, nil
		}
		if err := c.wait(ctx, every); err != nil {
			return b, err
		}
	}
}
