package handlers_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"omtx/api"
)

// scenario is one route of the route table, called as its owner (alice),
// as another user (bob) and anonymously.
type scenario struct {
	route string // "METHOD pattern", as in the route table
	path  string // the concrete path
	body  string
	ctype string
	// owner is alice's status; other is bob's (0: the same as alice's);
	// anon is an anonymous caller's (0: 401).
	owner, other, anon int
	// has are strings alice's answer contains.
	has []string
	// page marks a web page: HTML, not in the API document; anonymous
	// visitors are sent to sign in.
	page bool
}

// pageRoutes are the route table's web pages.
var pageRoutes = []string{"GET /my-batches", "POST /my-batches/delete", "GET /batch-results/:batch_id", "GET /jobs/:job_id", "POST /", "POST /ligands/check"}

// TestRouteTable calls every route of the route table as the owner of
// the records it names, as another user and anonymously, and checks every
// answer against the OpenAPI document built from the same table. Another
// user's records answer 404, never 403 or 200; the API needs credentials;
// the public routes answer everyone.
func TestRouteTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// alice's records: a finished batch (with the ligand whose name is
	// built to break headers), a running one, one to cancel, one to
	// delete, and an individual job.
	done := e.submit(alice, dockingBatch("kinase screen", imatinib, aspirin, api.Ligand{Name: evilName, SMILES: caffeine.SMILES}))
	single := e.predict(alice, imatinib)
	del := e.submit(alice, dockingBatch("to delete", aspirin))
	delJob := e.predict(alice, api.Ligand{Name: "ethanol", SMILES: "CCO"})
	e.runAll(done, single, del, delJob)
	// New ligands: identical work would be reused and end at once.
	open := e.submit(alice, dockingBatch("still queued", ibuprofen, paracetamol))
	toCancel := e.submit(alice, dockingBatch("to cancel", paracetamol))
	toCancelJob := e.predict(alice, ibuprofen)
	child := e.childIDs(alice, done)[0]

	b := api.Prefix + "/batches/"
	validBatch, _ := json.Marshal(dockingBatch("another screen", aspirin))
	validPredict, _ := json.Marshal(api.PredictRequest{JobName: "one", ModelName: "vina", Target: "ABL1", LigandName: aspirin.Name, LigandSMILES: aspirin.SMILES})
	validLigands, _ := json.Marshal(api.ValidateLigandsRequest{Ligands: []api.Ligand{aspirin, {Name: "broken", SMILES: "C1CC"}}})
	const js = "application/json"
	scenarios := []scenario{
		{route: "POST /api/v3/batches/submit", path: b + "submit", body: string(validBatch), ctype: js,
			owner: 202, has: []string{`"batch_id"`, `"total_jobs":1`}},
		{route: "POST /api/v3/ligands/validate", path: api.Prefix + "/ligands/validate", body: string(validLigands), ctype: js,
			owner: 200, has: []string{`"valid":1`, `"invalid":1`}},
		{route: "POST /api/v3/predict", path: api.Prefix + "/predict", body: string(validPredict), ctype: js,
			owner: 202, has: []string{`"job_id"`}},
		{route: "GET /api/v3/batches", path: b[:len(b)-1] + "?page_size=10", owner: 200, has: []string{done, open}},
		{route: "GET /api/v3/batches/:batch_id", path: b + done, owner: 200, other: 404, has: []string{`"status":"completed"`, `"total":3`}},
		{route: "GET /api/v3/batches/:batch_id/results", path: b + done + "/results?sort=affinity&page_size=2", owner: 200, other: 404,
			has: []string{`"unit":"kcal/mol"`, `"total":3`}},
		{route: "GET /api/v3/batches/:batch_id/analytics", path: b + done + "/analytics", owner: 200, other: 404, has: []string{`"histogram"`}},
		{route: "GET /api/v3/batches/:batch_id/export.csv", path: b + done + "/export.csv", owner: 200, other: 404, has: []string{"ligand_name", "imatinib"}},
		{route: "GET /api/v3/batches/:batch_id/export/:format", path: b + done + "/export/json", owner: 200, other: 404, has: []string{"imatinib"}},
		{route: "GET /api/v3/batches/:batch_id/jobs/:job_id", path: b + done + "/jobs/" + child, owner: 200, other: 404, has: []string{child}},
		{route: "GET /api/v3/batches/:batch_id/jobs/:job_id/download/cif", path: b + done + "/jobs/" + child + "/download/cif", owner: 200, other: 404,
			has: []string{"data_complex"}},
		{route: "GET /api/v3/batches/:batch_id/jobs/:job_id/files/:name", path: b + done + "/jobs/" + child + "/files/results.json", owner: 200, other: 404,
			has: []string{`"affinity"`}},
		{route: "GET /api/v3/jobs/:job_id", path: api.Prefix + "/jobs/" + single, owner: 200, other: 404, has: []string{single, `"status":"completed"`}},
		{route: "GET /api/v3/jobs/:job_id/files/:name", path: api.Prefix + "/jobs/" + single + "/files/structure.cif", owner: 200, other: 404,
			has: []string{"data_complex"}},
		{route: "POST /api/v3/batches/:batch_id/control/:action", path: b + open + "/control/pause", owner: 200, other: 404,
			has: []string{`"action":"pause"`, `"paused":true`}},
		{route: "POST /api/v3/batches/:batch_id/cancel", path: b + toCancel + "/cancel", owner: 200, other: 404, has: []string{`"action":"cancel"`}},
		{route: "DELETE /api/v3/batches/:batch_id", path: b + del, owner: 204, other: 404},
		{route: "POST /api/v3/jobs/:job_id/cancel", path: api.Prefix + "/jobs/" + toCancelJob + "/cancel", owner: 200, other: 404,
			has: []string{`"status":"cancelled"`}},
		{route: "DELETE /api/v3/jobs/:job_id", path: api.Prefix + "/jobs/" + delJob, owner: 204, other: 404},
		{route: "GET /api/v3/batch-completion/status", path: api.Prefix + "/batch-completion/status", owner: 200, has: []string{`"queue"`}},
		{route: "GET /api/v3/batch-completion/active-batches", path: api.Prefix + "/batch-completion/active-batches", owner: 200, has: []string{open}},
		{route: "GET /api/v3/batch-completion/system-health", path: api.Prefix + "/batch-completion/system-health", owner: 200,
			has: []string{`"store"`, `"results"`}},
		{route: "GET /api/v3/batch-completion/batch/:batch_id/progress", path: api.Prefix + "/batch-completion/batch/" + done + "/progress",
			owner: 200, other: 404, has: []string{`"percent":100`}},
		{route: "GET /api/v3/models", path: api.Prefix + "/models", owner: 200, has: []string{`"vina"`, `"boltz2"`}},
		{route: "GET /api/v3/me", path: api.Prefix + "/me", owner: 200, has: []string{`"name":"alice"`, `"max_ligands_per_batch":50`}},
		{route: "GET /api/v3/openapi.json", path: api.Prefix + "/openapi.json", owner: 200, anon: 200, has: []string{`"openapi": "3.1.0"`}},
		{route: "GET /api/docs", path: "/api/docs", owner: 200, anon: 200, has: []string{"/api/v3/batches/{batch_id}/results"}},
		{route: "GET /health", path: "/health", owner: 200, anon: 200, has: []string{`"status":"ok"`}},
		{route: "GET /ready", path: "/ready", owner: 200, anon: 200, has: []string{`"store":"ok"`}},
		{route: "GET /metrics", path: "/metrics", owner: 200, anon: 200, has: []string{"omtx_http_request_duration_seconds"}},
		{route: "GET /", path: "/", owner: 200, anon: 200, has: []string{"OMTX-Hub", "/api/docs"}},
		{route: "POST /", path: "/", body: "model=vina&target=ABL1&ligands=", ctype: "application/x-www-form-urlencoded",
			owner: 400, anon: 303, page: true, has: []string{"Paste at least one ligand"}},
		{route: "POST /ligands/check", path: "/ligands/check", body: "model=vina&ligands=aspirin," + aspirin.SMILES, ctype: "application/x-www-form-urlencoded",
			owner: 200, anon: 303, page: true, has: []string{`data-testid="check-valid">1<`}},
		{route: "GET /signin", path: "/signin?token=abc", owner: 200, anon: 200, has: []string{`value="abc"`, "Sign in"}},
		{route: "POST /signin", path: "/signin", body: "token=" + e.tok[alice], ctype: "application/x-www-form-urlencoded", owner: 303, anon: 303},
		{route: "POST /signout", path: "/signout", owner: 303, anon: 303},
		// This server signs in with API tokens; firebase_test.go runs the
		// route on a Firebase server.
		{route: "POST /signin/firebase", path: "/signin/firebase", body: "id_token=x", ctype: "application/x-www-form-urlencoded",
			owner: 404, anon: 404},
		{route: "GET /my-batches", path: "/my-batches", owner: 200, anon: 303, page: true, has: []string{"kinase screen", "still queued"}},
		{route: "POST /my-batches/delete", path: "/my-batches/delete", body: "id=" + done + "&id=" + open,
			ctype: "application/x-www-form-urlencoded", owner: 200, anon: 303, page: true,
			has: []string{"Delete 1 entry?", "kinase screen", "still queued: still pending"}},
		{route: "GET /batch-results/:batch_id", path: "/batch-results/" + done, owner: 200, other: 404, anon: 303, page: true,
			has: []string{"kinase screen", "imatinib", "kcal/mol, lower is better"}},
		{route: "GET /jobs/:job_id", path: "/jobs/" + single, owner: 200, other: 404, anon: 303, page: true,
			has: []string{"imatinib", "kcal/mol, lower is better", "structure.cif"}},
		// A plain GET without an Origin is no same-origin WebSocket
		// handshake; the live hub's own tests cover real connections.
		{route: "GET /ws", path: "/ws", owner: 403},
	}

	// Every route of the table has a scenario, and every scenario a route.
	var covered []string
	for _, s := range scenarios {
		if !slices.Contains(e.routes, s.route) {
			t.Errorf("scenario for %s, which is not a route", s.route)
		}
		covered = append(covered, s.route)
	}
	for _, r := range e.routes {
		if !slices.Contains(covered, r) {
			t.Errorf("route %s has no scenario", r)
		}
	}

	for _, s := range scenarios {
		method, pattern, _ := strings.Cut(s.route, " ")
		check := func(t *testing.T, user string, want int) string {
			t.Helper()
			rec := e.do(req{method: method, path: s.path, user: user, body: s.body, ctype: s.ctype})
			if rec.Code != want {
				t.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
			}
			if s.page {
				if rec.Code == http.StatusSeeOther && rec.Header().Get("Location") != "/signin" {
					t.Errorf("redirect to %q, want /signin", rec.Header().Get("Location"))
				}
				if rec.Code != http.StatusSeeOther && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
					t.Errorf("page answers %q", rec.Header().Get("Content-Type"))
				}
			} else if err := e.doc.Validate(method, pattern, rec.Code, rec.Body.Bytes()); err != nil {
				t.Errorf("answer does not match the document: %v\n%s", err, rec.Body)
			}
			if rec.Code == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer: %v", rec.Header())
			}
			return rec.Body.String()
		}
		t.Run(s.route, func(t *testing.T) {
			anon := s.anon
			if anon == 0 {
				anon = http.StatusUnauthorized
			}
			body := check(t, "", anon)
			if anon == http.StatusUnauthorized && !strings.Contains(body, `"code":"unauthorized"`) {
				t.Errorf("anonymous answer lacks the unauthorized code: %s", body)
			}
			other := s.other
			if other == 0 {
				other = s.owner
			}
			body = check(t, bob, other)
			for _, id := range []string{done, open, single, child} {
				if strings.Contains(body, id) && other < 300 && s.anon != 200 {
					t.Errorf("bob sees alice's %s: %s", id, body)
				}
			}
			body = check(t, alice, s.owner)
			for _, want := range s.has {
				if !strings.Contains(body, want) {
					t.Errorf("alice's answer lacks %q: %s", want, body)
				}
			}
		})
	}
}
