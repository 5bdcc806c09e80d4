package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"omtx/api"
	"omtx/gpu"
)

const formType = "application/x-www-form-urlencoded"

// post sends a form as the browser, with its CSRF token as the form
// field (withToken), as a plain request or as htmx.
func (e *env) postForm(b browser, path string, form url.Values, withToken, fragment bool) *httptest.ResponseRecorder {
	e.t.Helper()
	if withToken {
		form.Set("csrf_token", b.csrf)
	}
	r := req{method: http.MethodPost, path: path, cookie: b.cookie, body: form.Encode(), ctype: formType}
	if fragment {
		r.header = map[string]string{"HX-Request": "true"}
	}
	return e.do(r)
}

// postUpload sends the form as multipart/form-data with a library file.
func (e *env) postUpload(b browser, path string, fields map[string]string, fileName, content string) *httptest.ResponseRecorder {
	e.t.Helper()
	fields["csrf_token"] = b.csrf
	body, ctype := multipartBody(e.t, fields, "file", fileName, content)
	return e.do(req{method: http.MethodPost, path: path, cookie: b.cookie, body: body, ctype: ctype})
}

// attrs are an attribute of every element of a selection.
func attrs(s *goquery.Selection, name string) []string {
	var out []string
	s.Each(func(_ int, el *goquery.Selection) { out = append(out, el.AttrOr(name, "")) })
	return out
}

// checkAccessible fails for an input without a bound label, or whose
// aria-describedby names an element the document lacks.
func checkAccessible(t *testing.T, doc *goquery.Document) {
	t.Helper()
	doc.Find("input, select, textarea").Each(func(_ int, el *goquery.Selection) {
		typ := el.AttrOr("type", "")
		if typ == "hidden" {
			return
		}
		id := el.AttrOr("id", "")
		if id == "" || doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("input %q (%s) has no label bound to it", el.AttrOr("name", ""), id)
		}
		for _, ref := range strings.Fields(el.AttrOr("aria-describedby", "")) {
			if doc.Find("#"+ref).Length() != 1 {
				t.Errorf("input %q is described by #%s, which is missing", id, ref)
			}
		}
	})
}

func TestNewPredictionForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.browser(alice)

	t.Run("anonymous visitors keep the landing page", func(t *testing.T) {
		doc := html(t, e.get(nil, "/", false), http.StatusOK)
		if doc.Find(testid("anonymous")).Length() != 1 || doc.Find(testid("newjob-form")).Length() != 0 {
			t.Errorf("anonymous start page:\n%s", doc.Text())
		}
		if doc.Find(testid("nav-new")).Is("a") {
			t.Error("the nav links an anonymous visitor to the form")
		}
	})

	doc := html(t, e.get(&a, "/", false), http.StatusOK)
	t.Run("models", func(t *testing.T) {
		if doc.Find(testid("newjob-form")).AttrOr("action", "") != "/" || doc.Find(testid("newjob-form")+` input[name="csrf_token"]`).AttrOr("value", "") != a.csrf {
			t.Fatal("the form does not post to / with the CSRF token")
		}
		if doc.Find(testid("nav-new")).AttrOr("href", "") != "/" || doc.Find(testid("nav-new")).AttrOr("aria-current", "") != "page" {
			t.Error("nav: New prediction is not the current link to /")
		}
		names := attrs(doc.Find(testid("model-option")), "data-model")
		for _, want := range []string{"vina", "boltz2", "chai1", "rfantibody"} {
			if !slices.Contains(names, want) {
				t.Errorf("models %v lack %s", names, want)
			}
		}
		vina := doc.Find(testid("model-option") + `[data-model="vina"]`)
		if vina.AttrOr("data-available", "") != "true" || vina.Find("input:checked").Length() != 1 || vina.Find("input[disabled]").Length() != 0 {
			t.Errorf("vina is not available and chosen: %s", vina.Text())
		}
		if !strings.Contains(vina.Text(), "AutoDock Vina") || !strings.Contains(vina.Text(), "CPU") {
			t.Errorf("vina's description and resource: %q", vina.Text())
		}
		boltz := doc.Find(testid("model-option") + `[data-model="boltz2"]`)
		if boltz.Find("input[disabled]").Length() != 1 || !strings.Contains(boltz.Find(testid("model-unavailable")).Text(), "cannot run here") {
			t.Errorf("boltz2 (no GPU here) is offered: %s", boltz.Text())
		}
		if got := doc.Find(testid("model-fields")).AttrOr("data-model", ""); got != "vina" {
			t.Errorf("fields of %q", got)
		}
	})
	t.Run("vina's generated fields", func(t *testing.T) {
		target := doc.Find(testid("field-target") + " select")
		if target.AttrOr("name", "") != "target" || target.AttrOr("id", "") != "field-target" {
			t.Errorf("target select: %v", target.Nodes)
		}
		opts := attrs(target.Find("option[value]:not([value=''])"), "value")
		if !slices.Equal(opts, []string{"ABL1", "EGFR", "MPRO"}) {
			t.Errorf("targets %v", opts)
		}
		if d := doc.Find(testid("target-description") + `[data-target="ABL1"]`).Text(); !strings.Contains(d, "imatinib") {
			t.Errorf("ABL1 description %q", d)
		}
		ex := doc.Find(testid("field-exhaustiveness") + " input")
		if ex.AttrOr("type", "") != "number" || ex.AttrOr("min", "") != "1" || ex.AttrOr("max", "") == "" || ex.AttrOr("value", "") != "8" ||
			ex.AttrOr("name", "") != "parameters.exhaustiveness" || ex.AttrOr("step", "") != "1" {
			t.Errorf("exhaustiveness input: %v", ex.Nodes[0].Attr)
		}
		if er := doc.Find(testid("field-energy_range") + " input"); er.AttrOr("step", "") != "any" {
			t.Errorf("energy range step %q", er.AttrOr("step", ""))
		}
		if help := doc.Find("#field-exhaustiveness-help").Text(); !strings.Contains(help, "Whole number from 1 to") {
			t.Errorf("help %q", help)
		}
		checkAccessible(t, doc)
		if doc.Find("fieldset > legend").Length() < 3 {
			t.Error("the form is not grouped in fieldsets with legends")
		}
		if ta := doc.Find(testid("ligands")); ta.AttrOr("hx-post", "") != "/ligands/check" || !strings.Contains(ta.AttrOr("hx-trigger", ""), "keyup changed delay:400ms") {
			t.Errorf("ligands textarea does not check as you type: %v", ta.Nodes[0].Attr)
		}
		if doc.Find(testid("check-empty")).Length() != 1 {
			t.Error("no empty state for the check")
		}
	})
	t.Run("htmx swaps the model's fieldset", func(t *testing.T) {
		frag := html(t, e.get(&a, "/?model=boltz2", true), http.StatusOK)
		if isFullPage(frag) || frag.Find("form").Length() != 0 {
			t.Fatalf("fragment carries the page:\n%s", frag.Text())
		}
		fs := frag.Find("fieldset#model-fields")
		if fs.Length() != 1 || fs.AttrOr("data-model", "") != "boltz2" {
			t.Fatalf("fragment is not boltz2's fieldset")
		}
		if fs.Find(testid("field-protein_sequence")+" textarea").Length() != 1 || fs.Find(testid("model-fields-unavailable")).Length() != 1 {
			t.Errorf("boltz2's fields: %s", fs.Text())
		}
		restore := e.do(req{method: http.MethodGet, path: "/?model=boltz2", cookie: a.cookie,
			header: map[string]string{"HX-Request": "true", "HX-History-Restore-Request": "true"}})
		if !isFullPage(html(t, restore, http.StatusOK)) {
			t.Error("htmx restoring history gets a fragment")
		}
		full := html(t, e.get(&a, "/?model=boltz2", false), http.StatusOK)
		if !isFullPage(full) || full.Find("#model-boltz2:checked").Length() != 1 || full.Find(testid("submit")+"[disabled]").Length() != 1 {
			t.Error("the plain request is not the whole page with boltz2 chosen (and no submit)")
		}
	})
}

func TestLigandCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.browser(alice)
	pasted := "aspirin," + aspirin.SMILES + "\n\n" + caffeine.SMILES + " caffeine\nbenzene?,c1ccccc1C1CC\n"

	rec := e.postForm(a, "/ligands/check", url.Values{"model": {"vina"}, "ligands": {pasted}}, true, true)
	frag := html(t, rec, http.StatusOK)
	if isFullPage(frag) || frag.Find(testid("ligand-check")).Length() != 1 {
		t.Fatalf("not the check fragment:\n%s", rec.Body)
	}
	if v, i := frag.Find(testid("check-valid")).Text(), frag.Find(testid("check-invalid")).Text(); v != "2" || i != "1" {
		t.Errorf("counts %s valid, %s invalid", v, i)
	}
	problems := texts(frag.Find(testid("check-problem")))
	if len(problems) != 1 || !strings.HasPrefix(problems[0], "row 3, line 4 (benzene?) smiles: ") || !strings.Contains(problems[0], "ring") {
		t.Errorf("problems %q", problems)
	}
	if got := texts(frag.Find(testid("check-name"))); !slices.Equal(got, []string{"aspirin", "caffeine"}) {
		t.Errorf("valid names %q", got)
	}
	if f, w := frag.Find(testid("check-formula")).First().Text(), frag.Find(testid("check-weight")).First().Text(); f != "C9H8O4" || w != "180.16" {
		t.Errorf("aspirin: %s %s", f, w)
	}

	t.Run("nothing pasted", func(t *testing.T) {
		frag := html(t, e.postForm(a, "/ligands/check", url.Values{"model": {"vina"}, "ligands": {"  \n"}}, true, true), http.StatusOK)
		if frag.Find(testid("check-empty")).Length() != 1 {
			t.Error("no empty state")
		}
	})
	t.Run("a library file", func(t *testing.T) {
		rec := e.postUpload(a, "/ligands/check", map[string]string{"model": "vina"}, "lib.csv",
			"name,smiles\naspirin,"+aspirin.SMILES+"\nbroken,C1CC\n")
		frag := html(t, rec, http.StatusOK)
		if v, i := frag.Find(testid("check-valid")).Text(), frag.Find(testid("check-invalid")).Text(); v != "1" || i != "1" {
			t.Errorf("counts %s valid, %s invalid: %s", v, i, rec.Body)
		}
		if p := texts(frag.Find(testid("check-problem"))); len(p) != 1 || !strings.Contains(p[0], "row 2") || !strings.Contains(p[0], "(broken)") {
			t.Errorf("problems %q", p)
		}
	})
	t.Run("a plain request gets the whole form, as typed", func(t *testing.T) {
		doc := html(t, e.postForm(a, "/ligands/check", url.Values{"model": {"vina"}, "ligands": {pasted}, "job_name": {"kept"}}, true, false), http.StatusOK)
		if !isFullPage(doc) || doc.Find(testid("check-invalid")).Text() != "1" || doc.Find(testid("ligands")).Text() != pasted ||
			doc.Find(testid("job-name")).AttrOr("value", "") != "kept" {
			t.Errorf("page:\n%s", doc.Text())
		}
	})
	t.Run("CSRF", func(t *testing.T) {
		rec := e.postForm(a, "/ligands/check", url.Values{"model": {"vina"}, "ligands": {pasted}}, false, true)
		if rec.Code != http.StatusForbidden {
			t.Errorf("status %d without the token", rec.Code)
		}
	})
}

// jobInput is the input a batch's children share.
type jobInput struct {
	Target     string          `json:"target"`
	Parameters json.RawMessage `json:"parameters"`
}

func (e *env) batchInput(user, batchID string) (string, jobInput) {
	e.t.Helper()
	j, err := e.store.JobGet(context.Background(), e.users[user].ID, batchID)
	if err != nil {
		e.t.Fatal(err)
	}
	var in jobInput
	if err := json.Unmarshal(j.Input, &in); err != nil {
		e.t.Fatal(err)
	}
	return j.Name, in
}

func TestSubmitNewPrediction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.browser(alice)
	batchOf := func(t *testing.T, rec *httptest.ResponseRecorder) string {
		t.Helper()
		loc := rec.Header().Get("Location")
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/batch-results/") {
			t.Fatalf("status %d, location %q: %s", rec.Code, loc, rec.Body)
		}
		return strings.TrimPrefix(loc, "/batch-results/")
	}

	t.Run("pasted ligands", func(t *testing.T) {
		rec := e.postForm(a, "/", url.Values{
			"model": {"vina"}, "job_name": {"pasted screen"}, "target": {"EGFR"},
			"parameters.exhaustiveness": {"4"}, "parameters.energy_range": {"2.5"}, "parameters.seed": {""},
			"ligands": {"aspirin," + aspirin.SMILES + "\n" + caffeine.SMILES + " caffeine\n"},
		}, true, false)
		id := batchOf(t, rec)
		b := decode[api.Batch](t, e.do(req{method: http.MethodGet, path: api.Prefix + "/batches/" + id, user: alice}), http.StatusOK)
		if b.JobName != "pasted screen" || b.ModelName != "vina" || b.Target != "EGFR" || b.Progress.Total != 2 {
			t.Errorf("batch %+v", b)
		}
		_, in := e.batchInput(alice, id)
		var params map[string]any
		json.Unmarshal(in.Parameters, &params)
		if in.Target != "EGFR" || params["exhaustiveness"] != 4.0 || params["energy_range"] != 2.5 || params["seed"] != nil {
			t.Errorf("input %s %s", in.Target, in.Parameters)
		}
		if got := html(t, e.get(&a, rec.Header().Get("Location"), false), http.StatusOK); !strings.Contains(got.Text(), "pasted screen") {
			t.Error("the results page does not show the batch")
		}
	})
	t.Run("skip invalid ligands", func(t *testing.T) {
		rec := e.postForm(a, "/", url.Values{"model": {"vina"}, "target": {"ABL1"}, "drop_invalid": {"true"},
			"ligands": {"aspirin," + aspirin.SMILES + "\nbroken,C1CC\n"}}, true, false)
		id := batchOf(t, rec)
		if b := decode[api.Batch](t, e.do(req{method: http.MethodGet, path: api.Prefix + "/batches/" + id, user: alice}), http.StatusOK); b.Progress.Total != 1 {
			t.Errorf("%d jobs, want the one valid ligand", b.Progress.Total)
		}
		name, _ := e.batchInput(alice, id)
		if name != "vina screen of 1 ligands" {
			t.Errorf("default name %q", name)
		}
	})
	t.Run("an uploaded CSV", func(t *testing.T) {
		rec := e.postUpload(a, "/", map[string]string{"model": "vina", "job_name": "csv screen", "target": "ABL1", "ligands": ""},
			"library.csv", "name,smiles\naspirin,"+aspirin.SMILES+"\nibuprofen,"+ibuprofen.SMILES+"\nparacetamol,"+paracetamol.SMILES+"\n")
		id := batchOf(t, rec)
		b := decode[api.Batch](t, e.do(req{method: http.MethodGet, path: api.Prefix + "/batches/" + id, user: alice}), http.StatusOK)
		if b.JobName != "csv screen" || b.Progress.Total != 3 || b.Target != "ABL1" {
			t.Errorf("batch %+v", b)
		}
	})
	t.Run("a form sent twice submits once", func(t *testing.T) {
		page := html(t, e.get(&a, "/", false), http.StatusOK)
		key := page.Find(testid("submission-key")).AttrOr("value", "")
		if key == "" || key == html(t, e.get(&a, "/", false), http.StatusOK).Find(testid("submission-key")).AttrOr("value", "") {
			t.Fatalf("each blank form needs a submission key of its own, got %q", key)
		}
		form := url.Values{"model": {"vina"}, "job_name": {"double click"}, "target": {"ABL1"}, "submission_key": {key},
			"ligands": {"aspirin," + aspirin.SMILES + "\n"}}
		first := batchOf(t, e.postForm(a, "/", form, true, false))
		if again := batchOf(t, e.postForm(a, "/", form, true, false)); again != first {
			t.Fatalf("the same form sent twice made batches %s and %s", first, again)
		}
		// Back, edit, send: the same key with other values is new work.
		form.Set("ligands", "caffeine,"+caffeine.SMILES+"\n")
		if edited := batchOf(t, e.postForm(a, "/", form, true, false)); edited == first {
			t.Fatal("an edited form answered the first batch")
		}
		// A refused form keeps its key, so that the corrected one is the
		// submission it stands for.
		bad := url.Values{"model": {"vina"}, "target": {"ABL1"}, "submission_key": {"form-kept"}, "ligands": {"broken,C1CC\n"}}
		doc := html(t, e.postForm(a, "/", bad, true, false), http.StatusBadRequest)
		if got := doc.Find(testid("submission-key")).AttrOr("value", ""); got != "form-kept" {
			t.Fatalf("refused form's key %q, want form-kept", got)
		}
	})
	t.Run("a bad number keeps what was typed", func(t *testing.T) {
		typed := "aspirin," + aspirin.SMILES + "\n"
		rec := e.postForm(a, "/", url.Values{"model": {"vina"}, "job_name": {"typo"}, "target": {"MPRO"},
			"parameters.exhaustiveness": {"eight"}, "ligands": {typed}}, true, false)
		doc := html(t, rec, http.StatusBadRequest)
		if got := doc.Find(testid("error-exhaustiveness")).Text(); !strings.Contains(got, `whole number, not "eight"`) {
			t.Errorf("field error %q", got)
		}
		ex := doc.Find("#field-exhaustiveness")
		if ex.AttrOr("value", "") != "eight" || ex.AttrOr("aria-invalid", "") != "true" ||
			!strings.Contains(ex.AttrOr("aria-describedby", ""), "field-exhaustiveness-error") {
			t.Errorf("input %v", ex.Nodes[0].Attr)
		}
		if doc.Find(testid("ligands")).Text() != typed || doc.Find(testid("job-name")).AttrOr("value", "") != "typo" ||
			doc.Find("#field-target option[selected]").AttrOr("value", "") != "MPRO" {
			t.Error("the form lost what was typed")
		}
		checkAccessible(t, doc)
		// Out of range: the model's own validation, next to the field.
		rec = e.postForm(a, "/", url.Values{"model": {"vina"}, "target": {"MPRO"}, "parameters.exhaustiveness": {"100000"}, "ligands": {typed}}, true, false)
		doc = html(t, rec, http.StatusBadRequest)
		if got := doc.Find(testid("error-exhaustiveness")).Text(); got == "" {
			t.Errorf("no error next to exhaustiveness:\n%s", doc.Find(testid("form-errors")).Text())
		}
	})
	t.Run("library problems name every row", func(t *testing.T) {
		rec := e.postUpload(a, "/", map[string]string{"model": "vina", "target": "ABL1"},
			"library.csv", "name,smiles\naspirin,"+aspirin.SMILES+"\nbroken,C1CC\nworse,xyz(\n")
		doc := html(t, rec, http.StatusBadRequest)
		p := texts(doc.Find(testid("library-problem")))
		if len(p) != 2 || !strings.Contains(p[0], "row 2") || !strings.Contains(p[0], "broken") || !strings.Contains(p[1], "row 3") {
			t.Errorf("problems %q", p)
		}
		if doc.Find(testid("error-file")).Length() != 1 || doc.Find(testid("file-name")).Text() != "library.csv" {
			t.Error("the file's error and name")
		}
	})
	t.Run("CSRF", func(t *testing.T) {
		rec := e.postForm(a, "/", url.Values{"model": {"vina"}, "target": {"ABL1"}, "ligands": {"aspirin," + aspirin.SMILES}}, false, false)
		if rec.Code != http.StatusForbidden {
			t.Errorf("status %d without the token", rec.Code)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		rec := e.do(req{method: http.MethodPost, path: "/", body: "model=vina", ctype: formType})
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/signin" {
			t.Errorf("status %d to %q", rec.Code, rec.Header().Get("Location"))
		}
	})
}

// TestNewPredictionUploadedReceptor: the form takes a receptor file and a
// box; without the box it comes back with the problem at the box field.
func TestNewPredictionUploadedReceptor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.browser(alice)
	pdb, err := os.ReadFile("../testdata/vina/1iep_receptorH.pdb")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{"model": "vina", "job_name": "my receptor", "target": "",
		"ligands": "aspirin," + aspirin.SMILES, "csrf_token": a.csrf}
	box := map[string]string{"center_x": "15.19", "center_y": "53.903", "center_z": "16.917", "size_x": "20", "size_y": "20", "size_z": "20"}
	post := func(extra map[string]string) *httptest.ResponseRecorder {
		t.Helper()
		f := map[string]string{}
		for k, v := range fields {
			f[k] = v
		}
		for k, v := range extra {
			f["parameters.box."+k] = v
		}
		body, ctype := multipartBody(t, f, "receptor", "1iep_receptorH.pdb", string(pdb))
		return e.do(req{method: http.MethodPost, path: "/", cookie: a.cookie, body: body, ctype: ctype})
	}

	form := html(t, e.get(&a, "/?model=vina", false), http.StatusOK)
	// Each bundled target is pictured: its Cα trace, box and pocket.
	for _, id := range []string{"ABL1", "EGFR", "MPRO"} {
		pic := form.Find(`[data-testid="target-picture"][data-target="` + id + `"]`)
		if pic.Length() != 1 || pic.Find("polyline.trace").Length() == 0 || pic.Find("line.box-edge").Length() != 12 ||
			pic.Find("polyline.pocket").Length() == 0 || !strings.Contains(pic.AttrOr("aria-label", ""), "inside the box") {
			t.Errorf("picture of %s: %d found", id, pic.Length())
		}
	}
	if typ := form.Find(`input[name="receptor"]`).AttrOr("type", ""); typ != "file" {
		t.Fatalf("no receptor upload on the form (type %q)", typ)
	}
	if n := form.Find(`[data-testid^="box-"]`).Length(); n != 6 {
		t.Fatalf("%d box inputs, want 6", n)
	}
	checkAccessible(t, form)

	rec := post(map[string]string{"center_x": "15.19"})
	doc := html(t, rec, http.StatusBadRequest)
	if got := doc.Find(testid("error-box")).Text(); !strings.Contains(got, "center_y is missing") {
		t.Errorf("partial box: %q", got)
	}
	if got := doc.Find(testid("chosen-receptor")).Text(); !strings.Contains(got, "1iep_receptorH.pdb") {
		t.Errorf("the form forgets the chosen file: %q", got)
	}
	if v := doc.Find(testid("box-center_x")).AttrOr("value", ""); v != "15.19" {
		t.Errorf("typed box value lost: %q", v)
	}
	doc = html(t, post(nil), http.StatusBadRequest)
	if got := doc.Find(testid("error-box")).Text(); !strings.Contains(got, "required with an uploaded receptor") {
		t.Errorf("no box: %q", got)
	}

	rec = post(box)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/batch-results/") {
		t.Fatalf("status %d, location %q: %s", rec.Code, loc, rec.Body)
	}
	id := strings.TrimPrefix(loc, "/batch-results/")
	j, err := e.store.JobGet(context.Background(), e.users[alice].ID, id)
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Target   string          `json:"target"`
		Receptor *gpu.Receptor   `json:"receptor"`
		Params   json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(j.Input, &in); err != nil {
		t.Fatal(err)
	}
	if in.Target != "" || in.Receptor == nil || in.Receptor.Name != "1iep_receptorH.pdb" || !strings.Contains(string(in.Params), `"center_x":15.19`) {
		t.Errorf("batch input %s", j.Input)
	}
}
