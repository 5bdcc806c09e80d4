package handlers

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"omtx/api"
	"omtx/openapi"
	"omtx/views"
)

// access says which credentials a route looks at.
type access int

const (
	// accessPublic routes look at no credentials.
	accessPublic access = iota
	// accessOptional routes (pages) know the signed-in browser, if any.
	accessOptional
	// accessUser routes need a bearer token or a session cookie: 401
	// without.
	accessUser
)

// rateClass is the rate limit a route counts against, per user.
type rateClass int

const (
	rateNone rateClass = iota
	// rateRead counts reads against the tier's ReadPerMinute.
	rateRead
	// rateSubmit counts submissions and other changes against the tier's
	// SubmitPerMinute.
	rateSubmit
)

func (c rateClass) String() string {
	switch c {
	case rateRead:
		return "read"
	case rateSubmit:
		return "submit"
	}
	return "none"
}

// route is one entry of the route table: what the OpenAPI document says
// about it, its handler, who may call it and which rate limit it counts
// against.
type route struct {
	openapi.Operation
	handle echo.HandlerFunc
	access access
	rate   rateClass
	// sameOrigin refuses an unsafe request whose Origin header names
	// another site even without a session (the sign-in form).
	sameOrigin bool
	// page marks a web page: HTML for browsers, left out of the API
	// document. An anonymous visitor is sent to sign in, and errors are
	// pages too.
	page bool
}

// liveQuery is the WebSocket's query.
type liveQuery struct {
	Since int64  `query:"since" doc:"the last change sequence the page saw; absent: only changes from now"`
	Batch string `query:"batch" doc:"the batch whose results page this is; absent: My batches"`
}

// Path parameters, documented.
type (
	batchPath struct {
		BatchID string `path:"batch_id" doc:"the batch's id"`
	}
	jobPath struct {
		JobID string `path:"job_id" doc:"the job's id"`
	}
	batchJobPath struct {
		BatchID string `path:"batch_id" doc:"the batch's id"`
		JobID   string `path:"job_id" doc:"the job's id (a child of the batch)"`
	}
	batchJobFilePath struct {
		BatchID string `path:"batch_id" doc:"the batch's id"`
		JobID   string `path:"job_id" doc:"the job's id (a child of the batch)"`
		Name    string `path:"name" doc:"a file of the job's folder: results.json, metadata.json, structure.cif, poses.sdf, logs.txt"`
	}
	jobFilePath struct {
		JobID string `path:"job_id" doc:"the job's id"`
		Name  string `path:"name" doc:"a file of the job's folder: results.json, metadata.json, structure.cif, poses.sdf, logs.txt"`
	}
	exportPath struct {
		BatchID string `path:"batch_id" doc:"the batch's id"`
		Format  string `path:"format" enum:"csv,json,zip" doc:"csv: batch_results.csv; json: aggregated.json; zip: every job's files"`
	}
	controlPath struct {
		BatchID string `path:"batch_id" doc:"the batch's id"`
		Action  string `path:"action" enum:"pause,resume,cancel,retry_failed"`
	}
	batchResultsQuery struct {
		batchPath
		api.ResultsQuery
	}
	signinQuery struct {
		Token string `query:"token" doc:"an API token; the page posts it to sign in"`
	}
)

// Tags group the document's operations.
const (
	tagSubmit  = "Submit"
	tagBatches = "Batches"
	tagJobs    = "Jobs"
	tagSystem  = "System"
	tagBrowser = "Browser"
	tagOps     = "Operations"
)

// Content types of downloads.
const (
	typeCSV  = "text/csv"
	typeJSON = "application/json"
	typeZIP  = "application/zip"
	typeCIF  = "chemical/x-mmcif"
	typeAny  = "application/octet-stream"
	typeHTML = "text/html"
	typeText = "text/plain"
)

// Error statuses most routes share.
var (
	errsRead   = []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusTooManyRequests}
	errsQuery  = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusTooManyRequests}
	errsChange = []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests}
	errsUpload = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusTooManyRequests}
	// errsSubmit adds the conflict of an Idempotency-Key used for other work.
	errsSubmit = append(slices.Clip(errsUpload), http.StatusConflict)
)

// submitFields are the multipart fields of a library submission, besides
// the file: the submission as one JSON part or field by field.
var submitFields = []openapi.FormField{
	{Name: "file", File: true, Required: true, Description: "the ligand library: CSV, TSV, .smi or SDF (the format is told by the file name's extension)"},
	{Name: "request", Description: "the submission as JSON (the same object as the JSON body, without ligands); or give its fields one by one:"},
	{Name: "job_name"}, {Name: "model_name"}, {Name: "protein_sequence"}, {Name: "protein_name"}, {Name: "target"},
	{Name: "parameters", Description: "model options as a JSON object"},
	{Name: "drop_invalid", Description: "true to submit the valid ligands and list the invalid ones"},
	{Name: "webhook_url"}, {Name: "webhook_secret"},
	{Name: "receptor", File: true, Description: "an uploaded receptor, PDB or mmCIF (Vina, instead of target; needs parameters.box)"},
	{Name: "receptor_format", Description: "pdb or cif when the receptor's name does not tell"},
}

var validateFields = []openapi.FormField{
	{Name: "file", File: true, Required: true, Description: "the ligand library: CSV, TSV, .smi or SDF"},
	{Name: "model_name", Description: "apply this model's ligand rules too"},
}

// routes is the route table: every route the server answers.
func (s *server) routes() []route {
	const b = api.Prefix + "/batches/:batch_id"
	return []route{
		// Submitting work.
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: api.Prefix + "/batches/submit", ID: "submitBatch", Tag: tagSubmit,
			Summary: "Submit a batch: one job per ligand",
			Description: "A JSON body with the ligands inline, or a multipart/form-data upload of a ligand " +
				"library in the part `file` with the other fields as form values or as one JSON part `request`. " +
				"An invalid library answers 400 with every problem, row by row, in error.problems.",
			Auth: true, Query: submitHeaders{}, Body: api.SubmitBatchRequest{}, Multipart: submitFields,
			Status: http.StatusAccepted, Response: api.SubmitBatchResponse{}, Errors: errsSubmit,
		}, handle: s.submitBatch, access: accessUser, rate: rateSubmit},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: api.Prefix + "/ligands/validate", ID: "validateLigands", Tag: tagSubmit,
			Summary:     "Check ligands before submitting them",
			Description: "A JSON body with the ligands, or a multipart/form-data upload of a library in the part `file`. Every ligand is answered, in input order.",
			Auth:        true, Body: api.ValidateLigandsRequest{}, Multipart: validateFields,
			Response: api.ValidateLigandsResponse{}, Errors: errsUpload,
		}, handle: s.validateLigands, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: api.Prefix + "/predict", ID: "predict", Tag: tagSubmit,
			Summary: "Submit one prediction", Auth: true, Query: submitHeaders{}, Body: api.PredictRequest{},
			Status: http.StatusAccepted, Response: api.PredictResponse{}, Errors: errsSubmit,
		}, handle: s.predict, access: accessUser, rate: rateSubmit},

		// Batches.
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: api.Prefix + "/batches", ID: "listBatches", Tag: tagBatches,
			Summary: "List your batches, newest first", Auth: true, Query: api.ListQuery{},
			Response: api.BatchList{}, Errors: errsQuery,
		}, handle: s.listBatches, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: b, ID: "getBatch", Tag: tagBatches,
			Summary: "A batch with its progress", Auth: true, Query: batchPath{},
			Response: api.Batch{}, Errors: errsRead,
		}, handle: s.getBatch, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: b + "/results", ID: "batchResults", Tag: tagBatches,
			Summary: "A page of a batch's results table: sorted, filtered",
			Auth:    true, Query: batchResultsQuery{}, Response: api.ResultsPage{}, Errors: errsQuery,
		}, handle: s.batchResults, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: b + "/analytics", ID: "batchAnalytics", Tag: tagBatches,
			Summary: "A batch's statistics, top ligands and score distribution", Auth: true, Query: batchPath{},
			Response: api.Analytics{}, Errors: errsRead,
		}, handle: s.batchAnalytics, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: b + "/export.csv", ID: "exportBatchCSV", Tag: tagBatches,
			Summary: "The batch's results as CSV", Auth: true, Query: batchPath{},
			Produces: []string{typeCSV}, Errors: errsRead,
		}, handle: s.exportCSV, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: b + "/export/:format", ID: "exportBatch", Tag: tagBatches,
			Summary: "The batch's results as CSV, JSON or a ZIP of every job's files", Auth: true, Query: exportPath{},
			Produces: []string{typeCSV, typeJSON, typeZIP}, Errors: errsQuery,
		}, handle: s.exportBatch, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodDelete, Path: b, ID: "deleteBatch", Tag: tagBatches,
			Summary:     "Delete an ended batch and its files",
			Description: "Answers 204 with no body. A batch with pending or running jobs answers 409: cancel it first.",
			Auth:        true, Query: batchPath{}, Status: http.StatusNoContent, Errors: errsChange,
		}, handle: s.deleteBatch, access: accessUser, rate: rateSubmit},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: b + "/cancel", ID: "cancelBatch", Tag: tagBatches,
			Summary: "Cancel a batch: pending jobs at once, running ones at their next heartbeat",
			Auth:    true, Query: batchPath{}, Response: api.ControlResponse{}, Errors: errsChange,
		}, handle: s.cancelBatch, access: accessUser, rate: rateSubmit},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: b + "/control/:action", ID: "controlBatch", Tag: tagBatches,
			Summary: "Pause, resume, cancel a batch, or retry its failed jobs",
			Auth:    true, Query: controlPath{}, Response: api.ControlResponse{},
			Errors: append([]int{http.StatusBadRequest}, errsChange...),
		}, handle: s.controlBatch, access: accessUser, rate: rateSubmit},

		// Jobs and their files.
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: b + "/jobs/:job_id", ID: "getBatchJob", Tag: tagJobs,
			Summary: "One job of a batch", Auth: true, Query: batchJobPath{}, Response: api.Job{}, Errors: errsRead,
		}, handle: s.getBatchJob, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: b + "/jobs/:job_id/download/cif", ID: "downloadBatchJobCIF", Tag: tagJobs,
			Summary: "A batch job's structure (mmCIF)", Auth: true, Query: batchJobPath{},
			Produces: []string{typeCIF}, Errors: errsRead,
		}, handle: s.batchJobCIF, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: b + "/jobs/:job_id/files/:name", ID: "getBatchJobFile", Tag: tagJobs,
			Summary: "A file of a batch job's folder", Auth: true, Query: batchJobFilePath{},
			Produces: []string{typeAny}, Errors: errsQuery,
		}, handle: s.batchJobFile, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: api.Prefix + "/jobs/:job_id", ID: "getJob", Tag: tagJobs,
			Summary: "One job (an individual prediction or a batch's child)", Auth: true, Query: jobPath{},
			Response: api.Job{}, Errors: errsRead,
		}, handle: s.getJob, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: api.Prefix + "/jobs/:job_id/cancel", ID: "cancelJob", Tag: tagJobs,
			Summary:     "Cancel an individual job: a pending one at once, a running one at its next heartbeat",
			Description: "Answers the job. An ended job answers 409. A batch's jobs are cancelled with their batch.",
			Auth:        true, Query: jobPath{}, Response: api.Job{}, Errors: errsChange,
		}, handle: s.cancelJob, access: accessUser, rate: rateSubmit},
		{Operation: openapi.Operation{
			Method: http.MethodDelete, Path: api.Prefix + "/jobs/:job_id", ID: "deleteJob", Tag: tagJobs,
			Summary: "Delete an ended individual job and its files",
			Description: "Answers 204 with no body. A pending or running job answers 409: cancel it first. " +
				"A batch's jobs go with their batch (DELETE /api/v3/batches/{batch_id}).",
			Auth: true, Query: jobPath{}, Status: http.StatusNoContent, Errors: errsChange,
		}, handle: s.deleteJob, access: accessUser, rate: rateSubmit},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: api.Prefix + "/jobs/:job_id/files/:name", ID: "getJobFile", Tag: tagJobs,
			Summary: "A file of an individual job's folder", Auth: true, Query: jobFilePath{},
			Produces: []string{typeAny}, Errors: errsQuery,
		}, handle: s.jobFile, access: accessUser, rate: rateRead},

		// Batch completion and the system.
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: api.Prefix + "/batch-completion/status", ID: "systemStatus", Tag: tagSystem,
			Summary: "The queue across all users and the models", Auth: true,
			Response: api.SystemStatus{}, Errors: errsRead,
		}, handle: s.systemStatus, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: api.Prefix + "/batch-completion/active-batches", ID: "activeBatches", Tag: tagSystem,
			Summary: "Your pending and running batches with their pace", Auth: true,
			Response: api.ActiveBatches{}, Errors: errsRead,
		}, handle: s.activeBatches, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: api.Prefix + "/batch-completion/system-health", ID: "systemHealth", Tag: tagSystem,
			Summary: "The dependencies' health and the queue", Auth: true,
			Response: api.SystemHealth{}, Errors: errsRead,
		}, handle: s.systemHealth, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: api.Prefix + "/batch-completion/batch/:batch_id/progress", ID: "batchProgress", Tag: tagSystem,
			Summary: "A batch's progress, milestones and estimated end", Auth: true, Query: batchPath{},
			Response: api.BatchProgress{}, Errors: errsRead,
		}, handle: s.batchProgress, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: api.Prefix + "/models", ID: "listModels", Tag: tagSystem,
			Summary: "The models, their inputs and metrics, and whether this deployment runs them", Auth: true,
			Response: api.ModelList{}, Errors: errsRead,
		}, handle: s.models, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: api.Prefix + "/me", ID: "me", Tag: tagSystem,
			Summary: "Who you are and your tier's limits", Auth: true, Response: api.Me{}, Errors: errsRead,
		}, handle: s.me, access: accessUser, rate: rateRead},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: openapi.SpecPath, ID: "openapi", Tag: tagSystem,
			Summary: "This document (OpenAPI 3.1)", Produces: []string{typeJSON},
		}, handle: s.openapiJSON},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/api/docs", ID: "apiDocs", Tag: tagSystem,
			Summary: "This document as a page", Produces: []string{typeHTML},
		}, handle: s.apiDocs},

		// Operations.
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/health", ID: "health", Tag: tagOps,
			Summary: "Liveness: the process answers", Response: healthStatus{},
		}, handle: health},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/ready", ID: "ready", Tag: tagOps,
			Summary:     "Readiness: every dependency answers",
			Description: "Answers 503 with the same body, naming what failed, when a dependency does not answer.",
			Response:    healthStatus{},
		}, handle: s.ready},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/metrics", ID: "metrics", Tag: tagOps,
			Summary: "Prometheus metrics", Produces: []string{typeText}, Errors: []int{http.StatusNotFound},
		}, handle: s.metrics},

		// The browser.
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/", ID: "home", Tag: tagBrowser,
			Summary: "The start page: the New prediction form when signed in (query model picks the model; " +
				"htmx gets the model's fields alone), otherwise who is signed in and where the API is",
			Produces: []string{typeHTML},
		}, handle: s.start, access: accessOptional},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: "/", ID: "newPredictionSubmit", Tag: tagBrowser,
			Summary:  "Submit the New prediction form: 303 to the batch's results, or the form again with every problem",
			Produces: []string{typeHTML},
		}, handle: s.page(s.submitNewJob), access: accessOptional, rate: rateSubmit, page: true},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: views.PathLigandCheck, ID: "ligandCheckFragment", Tag: tagBrowser,
			Summary:  "Check the New prediction form's ligands: counts, problems by row, formulas; htmx gets the check alone",
			Produces: []string{typeHTML},
		}, handle: s.page(s.checkLigands), access: accessOptional, rate: rateRead, page: true},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/signin", ID: "signinPage", Tag: tagBrowser,
			Summary:     "The sign-in page",
			Description: "A page with one button that posts the token to POST /signin; visiting it changes nothing.",
			Query:       signinQuery{}, Produces: []string{typeHTML},
		}, handle: s.signinPage},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: "/signin", ID: "signin", Tag: tagBrowser,
			Summary: "Sign a browser in with an API token",
			Description: "Form field token (application/x-www-form-urlencoded or multipart/form-data). Sets the session " +
				"cookie and redirects (303) to /. A missing token (400) or a wrong one (401) shows the sign-in page " +
				"again with the problem; a form posted from another site answers 403.",
			Multipart: []openapi.FormField{{Name: "token", Required: true, Description: "an API token"}},
			Status:    http.StatusSeeOther,
			Errors:    []int{http.StatusForbidden, http.StatusUnsupportedMediaType},
		}, handle: s.signin, sameOrigin: true},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: pathFirebase, ID: "signinFirebase", Tag: tagBrowser,
			Summary: "Sign a browser in with a Firebase ID token (servers in Firebase mode)",
			Description: "The sign-in page posts the ID token the Firebase JS SDK gave it, with the page's CSRF token " +
				"(form field csrf_token or header X-CSRF-Token) matching the sign-in cookie. The sign-in must be " +
				"recent (5 minutes). Sets the session cookie; the first sign-in of a Firebase user creates the hub's user. " +
				"404 when the server signs in with API tokens.",
			Multipart: []openapi.FormField{
				{Name: fieldIDToken, Required: true, Description: "the Firebase ID token"},
				{Name: fieldCSRF, Description: "the sign-in page's CSRF token"},
			},
			Response: firebaseSignin{},
			Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
				http.StatusUnsupportedMediaType},
		}, handle: s.signinFirebase, sameOrigin: true},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: "/signout", ID: "signout", Tag: tagBrowser,
			Summary:     "Sign the browser out",
			Description: "Ends the session (form field csrf_token or header X-CSRF-Token required) and redirects (303) to /.",
			Multipart:   []openapi.FormField{{Name: "csrf_token", Description: "the session's CSRF token"}},
			Status:      http.StatusSeeOther, Errors: []int{http.StatusForbidden},
		}, handle: s.signout, access: accessOptional},

		// Pages.
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/my-batches", ID: "myBatchesPage", Tag: tagBrowser,
			Summary: "My batches: a page of the user's batches", Produces: []string{typeHTML},
		}, handle: s.page(s.myBatches), access: accessOptional, rate: rateRead, page: true},
		{Operation: openapi.Operation{
			Method: http.MethodPost, Path: views.PathBatchesDelete, ID: "myBatchesDelete", Tag: tagBrowser,
			Summary: "My batches' bulk delete: form fields id (repeated); without confirm=yes a page asks first and changes nothing",
			Description: "With confirm=yes the ended entries are deleted and the answer is 303 to My batches; entries that " +
				"could not be deleted (still running, not found) are listed on a 409 page.",
			Produces: []string{typeHTML},
		}, handle: s.page(s.deleteEntries), access: accessOptional, rate: rateSubmit, page: true},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/batch-results/:batch_id", ID: "batchResultsPage", Tag: tagBrowser,
			Summary: "A batch's results: sorted, filtered and paged table, top performers, downloads",
			Query:   batchResultsQuery{}, Produces: []string{typeHTML},
		}, handle: s.page(s.batchResultsPage), access: accessOptional, rate: rateRead, page: true},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/jobs/:job_id", ID: "jobPage", Tag: tagBrowser,
			Summary: "A job: inputs, status, every metric, files and log",
			Query:   jobPath{}, Produces: []string{typeHTML},
		}, handle: s.page(s.jobPage), access: accessOptional, rate: rateRead, page: true},
		{Operation: openapi.Operation{
			Method: http.MethodGet, Path: "/ws", ID: "liveSocket", Tag: tagBrowser, Auth: true,
			Summary: "The pages' WebSocket: the user's job and batch changes as they happen",
			Description: "A WebSocket handshake from a page of this server (the Origin must be the server's own), " +
				"signed in by session cookie or bearer token. Query since=SEQ catches up from the last change the page saw. " +
				"Messages are HTML fragments that htmx swaps out of band: the live indicator #live-status with the last seq " +
				"(data-live-seq), each changed batch's status, progress and, on My batches, actions, and on a batch's results page " +
				"its changed rows; a reload notice when the page missed too much. Without the pages' renderers the hub sends " +
				`JSON: {"type":"hello","last_seq":N}, {"type":"changes","changes":[...],"last_seq":N}, {"type":"reload"}.`,
			Query:  liveQuery{},
			Status: http.StatusSwitchingProtocols, Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden},
		}, handle: s.websocket, access: accessUser},
	}
}
