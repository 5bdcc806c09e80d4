package handlers_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"testing"

	"omtx/accounts"
	"omtx/api"
	"omtx/handlers"
)

// part is one part of a hand-built multipart body: a file when filename
// is set, a field otherwise.
type part struct{ name, filename, content string }

// parts builds a multipart/form-data body from parts in order, repeats
// allowed.
func parts(t *testing.T, ps ...part) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range ps {
		h := textproto.MIMEHeader{}
		if p.filename != "" {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename))
			h.Set("Content-Type", "application/octet-stream")
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.name))
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write([]byte(p.content))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

// gzipped compresses n zero bytes after prefix: a small body that expands
// hugely.
func gzipped(t *testing.T, prefix string, n int) string {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write([]byte(prefix))
	zero := make([]byte, 1<<20)
	for i := 0; i < n>>20; i++ {
		zw.Write(zero)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// zipped is a ZIP archive holding one file.
func zipped(t *testing.T, name, content string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// library is a CSV library of n rows, name,smiles, whose row bad (1-based)
// holds an invalid SMILES.
func library(n, bad int) string {
	var b strings.Builder
	b.WriteString("name,smiles\n")
	for i := 1; i <= n; i++ {
		smiles := "CCO"
		if i%3 == 1 {
			smiles = "c1ccccc1O"
		}
		if i == bad {
			smiles = "C1CC(=O"
		}
		fmt.Fprintf(&b, "mol_%d,%s\n", i, smiles)
	}
	return b.String()
}

// ligandsJSON is a submit body with n ligands.
func ligandsJSON(n int) string {
	ls := make([]api.Ligand, n)
	for i := range ls {
		ls[i] = api.Ligand{Name: fmt.Sprintf("l%d", i), SMILES: "CCO"}
	}
	b, _ := json.Marshal(dockingBatch("too many", ls...))
	return string(b)
}

// stored is what the job store holds: every user's batches and jobs.
func (e *env) stored() string {
	e.t.Helper()
	st, err := e.store.Stats(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range st.Jobs {
		fmt.Fprintf(&b, "%+v;", c)
	}
	fmt.Fprintf(&b, "queued=%d active=%d", st.Queued, st.ActiveBatches)
	for _, name := range slices.Sorted(maps.Keys(e.users)) {
		list := decode[api.BatchList](e.t, e.do(req{method: http.MethodGet, user: name,
			path: api.Prefix + "/batches?include_jobs=true&page_size=500"}), http.StatusOK)
		fmt.Fprintf(&b, " %s:%d", name, len(list.Batches))
	}
	keys, err := e.res.List(context.Background(), "")
	if err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(&b, " files:%d", len(keys))
	return b.String()
}

// hostile is one hostile request: it must answer a 4xx (status when
// set), never a 5xx; the API's error naming field (when set) in its field
// or problems; the body containing has; and the raw body never holding
// an unescaped script.
type hostile struct {
	name   string
	r      req
	status int
	field  string
	has    string
}

// TestHostileInput sends what an attacker or a broken client sends,
// through the API and the forms: every answer is a 4xx naming the field
// where there is one, never a 5xx, and nothing of a refused submission is
// stored.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	const dave = "dave" // a tier that takes 20,000 ligands per batch
	e := newEnv(t, func(d *handlers.Deps) {
		d.MaxBody = 512 << 10
		d.MaxUpload = 2 << 20
		d.Limits[accounts.TierEnterprise] = accounts.Limits{SubmitPerMinute: 6000, ReadPerMinute: 60000, MaxLigandsPerBatch: 20000, MaxRunning: 64}
	})
	u, tok, err := e.accts.UserCreate(context.Background(), accounts.NewUser{Name: dave, Tier: accounts.TierEnterprise})
	if err != nil {
		t.Fatal(err)
	}
	e.users[dave], e.tok[dave] = u, tok

	// Work that exists: a finished batch, its child, a single job.
	done := e.submit(alice, dockingBatch("finished", aspirin, caffeine))
	single := e.predict(alice, paracetamol)
	e.runAll()
	kid := e.childIDs(alice, done)[0]
	a := e.browser(alice)
	before := e.stored()

	submit, predict, validate := api.Prefix+"/batches/submit", api.Prefix+"/predict", api.Prefix+"/ligands/validate"
	const jsonType = "application/json"
	post := func(path, body string) req {
		return req{method: http.MethodPost, path: path, body: body, ctype: jsonType}
	}
	get := func(path string) req { return req{method: http.MethodGet, path: path} }
	up := func(path string, ps ...part) req {
		t.Helper()
		body, ct := parts(t, ps...)
		return req{method: http.MethodPost, path: path, body: body, ctype: ct}
	}
	// form posts the New prediction form (or another page's) as alice's
	// browser, URL-encoded.
	form := func(path string, v url.Values) req {
		v.Set("csrf_token", a.csrf)
		return req{method: http.MethodPost, path: path, body: v.Encode(), ctype: formType, cookie: a.cookie}
	}
	// formUp posts the New prediction form with files.
	formUp := func(path string, ps ...part) req {
		t.Helper()
		ps = append([]part{{name: "csrf_token", content: a.csrf}}, ps...)
		r := up(path, ps...)
		r.cookie = a.cookie
		return r
	}
	vina := func(extra string) string {
		return `{"job_name":"x","model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"CCO"}]` + extra + `}`
	}
	vinaParams := func(params string) string { return vina(`,"parameters":` + params) }
	predictBody := func(extra string) string {
		return `{"job_name":"x","model_name":"vina","target":"ABL1","ligand_name":"a","ligand_smiles":"CCO"` + extra + `}`
	}
	fields := func(kv ...string) []part {
		var ps []part
		for i := 0; i+1 < len(kv); i += 2 {
			ps = append(ps, part{name: kv[i], content: kv[i+1]})
		}
		return ps
	}
	vinaFields := fields("job_name", "upload", "model_name", "vina", "target", "ABL1")
	withFile := func(name, content string, extra ...part) []part {
		ps := append(append([]part{}, vinaFields...), extra...)
		return append(ps, part{name: "file", filename: name, content: content})
	}
	newJob := func(kv ...string) url.Values {
		v := url.Values{"model": {"vina"}, "job_name": {"form"}, "target": {"ABL1"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	garbage := string([]byte{0x00, 0xff, 0xfe, 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x80, 0xc3, 0x28})
	big := strings.Repeat("x", 600<<10)
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deepParams := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	bomb := gzipped(t, `{"job_name":"`, 64<<20)
	zipLib := zipped(t, "library.csv", library(10, 0))
	gzLib := gzipped(t, "name,smiles\n", 8<<20)
	tooMany := strings.Repeat("CCO ethanol\n", 51)
	longID := strings.Repeat("a", 10000)
	files := api.Prefix + "/jobs/" + single + "/files/"
	kidFiles := api.Prefix + "/batches/" + done + "/jobs/" + kid + "/files/"
	results := api.Prefix + "/batches/" + done + "/results"
	xss := `<script>alert(1)</script>`

	cases := []hostile{
		// Empty bodies.
		{"submit: empty body", post(submit, ""), 400, "", "empty"},
		{"predict: empty body", post(predict, ""), 400, "", "empty"},
		{"validate: empty body", post(validate, ""), 400, "", "empty"},
		{"submit: whitespace body", post(submit, " \r\n\t "), 400, "", "empty"},
		{"submit: null", post(submit, "null"), 400, "model_name", ""},
		{"submit: empty object", post(submit, "{}"), 400, "model_name", ""},
		{"predict: empty object", post(predict, "{}"), 400, "model_name", ""},
		{"validate: empty object", post(validate, "{}"), 400, "ligands", ""},
		{"submit: no ligands", post(submit, `{"job_name":"x","model_name":"vina","target":"ABL1","ligands":[]}`), 400, "ligands", ""},
		{"submit: multipart with no parts", up(submit), 400, "file", ""},

		// Huge bodies, over the limits.
		{"submit: huge JSON", post(submit, `{"job_name":"`+big+`"}`), 413, "", ""},
		{"predict: huge JSON", post(predict, `{"job_name":"`+big+`"}`), 413, "", ""},
		{"validate: huge JSON", post(validate, `{"ligands":[{"name":"`+big+`"}]}`), 413, "", ""},
		{"submit: huge JSON streamed", req{method: "POST", path: submit, body: `{"job_name":"` + big + `"}`, ctype: jsonType, chunked: true}, 413, "", ""},
		{"submit: huge upload", up(submit, withFile("lib.smi", strings.Repeat("CCO ethanol\n", 200000))...), 413, "", ""},
		{"validate: huge upload streamed", func() req {
			r := up(validate, part{name: "file", filename: "lib.smi", content: strings.Repeat("CCO ethanol\n", 200000)})
			r.chunked = true
			return r
		}(), 413, "", ""},
		{"form: huge upload", formUp("/", append(fields("model", "vina", "job_name", "f", "target", "ABL1"), part{name: "file", filename: "lib.smi", content: strings.Repeat("CCO ethanol\n", 200000)})...), 413, "", ""},
		{"form: huge pasted ligands", form("/", newJob("ligands", strings.Repeat("CCO ethanol\n", 50000))), 413, "", ""},
		{"submit: long job name", post(submit, `{"job_name":"`+strings.Repeat("n", 5000)+`","model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"CCO"}]}`), 400, "job_name", ""},
		{"submit: SMILES too long", post(submit, `{"model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"`+strings.Repeat("C", 5000)+`"}]}`), 400, "smiles", "limit"},
		{"submit: huge receptor", post(submit, `{"model_name":"vina","ligands":[{"name":"a","smiles":"CCO"}],"parameters":{"box":{"center_x":0,"center_y":0,"center_z":0,"size_x":20,"size_y":20,"size_z":20}},"receptor":{"name":"r.pdb","content":"`+strings.Repeat("A", 400<<10)+`"}}`), 400, "receptor", ""},

		// Binary garbage.
		{"submit: binary garbage", post(submit, garbage), 400, "", "malformed JSON"},
		{"predict: binary garbage", post(predict, garbage), 400, "", "malformed JSON"},
		{"validate: binary garbage", post(validate, garbage), 400, "", "malformed JSON"},
		{"submit: garbage without a content type", req{method: "POST", path: submit, body: garbage}, 400, "", ""},
		{"submit: UTF-16 JSON", post(submit, "\xff\xfe{\x00}\x00"), 400, "", "malformed JSON"},
		{"submit: BOM before JSON", post(submit, "\uFEFF{}"), 400, "", "malformed JSON"},
		{"submit: garbage library", up(submit, withFile("lib.csv", garbage+"\n"+garbage)...), 400, "ligands", ""},
		{"submit: PNG as .smi", up(submit, withFile("lib.smi", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")...), 400, "ligands", ""},
		{"validate: garbage library", up(validate, part{name: "file", filename: "lib.sdf", content: garbage}), 400, "ligands", ""},
		{"form: garbage library", formUp("/", append(fields("model", "vina", "job_name", "f", "target", "ABL1"), part{name: "file", filename: "lib.csv", content: garbage})...), 400, "", "problem"},

		// Wrong JSON types.
		{"submit: ligands a string", post(submit, `{"model_name":"vina","ligands":"CCO"}`), 400, "ligands", "an array"},
		{"submit: ligands an object", post(submit, `{"model_name":"vina","ligands":{"name":"a"}}`), 400, "ligands", "an array"},
		{"submit: ligand a string", post(submit, `{"model_name":"vina","ligands":["CCO"]}`), 400, "ligands", "an object"},
		{"submit: SMILES a number", post(submit, `{"ligands":[{"name":"a","smiles":5}]}`), 400, "ligands.smiles", "a string"},
		{"submit: name null is fine, SMILES null is not", post(submit, `{"model_name":"vina","target":"ABL1","ligands":[{"name":null,"smiles":null}]}`), 400, "smiles", "empty"},
		{"submit: job name a number", post(submit, `{"job_name":42}`), 400, "job_name", "a string"},
		{"submit: model name an array", post(submit, `{"model_name":["vina"]}`), 400, "model_name", "a string"},
		{"submit: drop_invalid a string", post(submit, `{"drop_invalid":"yes"}`), 400, "drop_invalid", "true or false"},
		{"submit: parameters a string", post(submit, vina(`,"parameters":"fast"`)), 400, "parameters", "JSON object"},
		{"submit: parameters an array", post(submit, vina(`,"parameters":[1]`)), 400, "parameters", "JSON object"},
		{"submit: webhook a string", post(submit, vina(`,"webhook":"https://example.com"`)), 400, "webhook", "an object"},
		{"submit: receptor a number", post(submit, vina(`,"receptor":7`)), 400, "receptor", "an object"},
		{"predict: SMILES an object", post(predict, `{"ligand_smiles":{"x":1}}`), 400, "ligand_smiles", "a string"},
		{"validate: model name a bool", post(validate, `{"model_name":true,"ligands":[]}`), 400, "model_name", "a string"},
		{"submit: top-level array", post(submit, `[{"model_name":"vina"}]`), 400, "", "JSON object"},
		{"submit: top-level string", post(submit, `"vina"`), 400, "", "JSON object"},
		{"predict: top-level number", post(predict, `1e999`), 400, "", ""},
		{"submit: trailing data", post(submit, vina("")+`{}`), 400, "", "more data"},
		{"submit: truncated", post(submit, `{"job_name":"x","ligands":[{"name":`), 400, "", "ends in the middle"},

		// Numbers out of range.
		{"submit: exhaustiveness 1e308", post(submit, vinaParams(`{"exhaustiveness":1e308}`)), 400, "parameters.exhaustiveness", ""},
		{"submit: exhaustiveness NaN as a string", post(submit, vinaParams(`{"exhaustiveness":"NaN"}`)), 400, "parameters.exhaustiveness", ""},
		{"submit: exhaustiveness NaN bare", post(submit, vinaParams(`{"exhaustiveness":NaN}`)), 400, "", "malformed JSON"},
		{"submit: exhaustiveness negative", post(submit, vinaParams(`{"exhaustiveness":-1}`)), 400, "parameters.exhaustiveness", ""},
		{"submit: exhaustiveness a fraction", post(submit, vinaParams(`{"exhaustiveness":1.5}`)), 400, "parameters.exhaustiveness", ""},
		{"submit: exhaustiveness past int64", post(submit, vinaParams(`{"exhaustiveness":99999999999999999999}`)), 400, "parameters.exhaustiveness", ""},
		{"submit: seed 1e20", post(submit, vinaParams(`{"seed":1e20}`)), 400, "parameters.seed", ""},
		{"submit: energy range Infinity", post(submit, vinaParams(`{"energy_range":Infinity}`)), 400, "", "malformed JSON"},
		{"submit: energy range -1e308", post(submit, vinaParams(`{"energy_range":-1e308}`)), 400, "parameters.energy_range", ""},
		{"submit: box centre 1e308", post(submit, vinaParams(`{"box":{"center_x":1e308,"center_y":0,"center_z":0,"size_x":20,"size_y":20,"size_z":20}}`)), 400, "parameters.box", ""},
		{"submit: box size NaN string", post(submit, vinaParams(`{"box":{"center_x":0,"center_y":0,"center_z":0,"size_x":"NaN","size_y":20,"size_z":20}}`)), 400, "parameters.box", ""},
		{"submit: unknown parameter", post(submit, vinaParams(`{"exhaustivenes":8}`)), 400, "parameters", "unknown parameter"},
		{"predict: num_poses huge", post(predict, predictBody(`,"parameters":{"num_poses":1e10}`)), 400, "parameters.num_poses", ""},
		{"form: exhaustiveness 1e308", form("/", newJob("ligands", "CCO ethanol", "parameters.exhaustiveness", "1e308")), 400, "", "whole number"},
		{"form: exhaustiveness NaN", form("/", newJob("ligands", "CCO ethanol", "parameters.exhaustiveness", "NaN")), 400, "", "whole number"},

		// Odd unicode.
		{"submit: zero-width joiner in a SMILES", post(submit, vina(``)[:0]+`{"model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"C\u200dC"}]}`), 400, "smiles", ""},
		{"submit: RTL override in a SMILES", post(submit, `{"model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"CC\u202eO"}]}`), 400, "smiles", ""},
		{"submit: NUL in a SMILES", post(submit, `{"model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"C\u0000C"}]}`), 400, "smiles", ""},
		{"submit: invalid UTF-8 in a SMILES", post(submit, "{\"model_name\":\"vina\",\"target\":\"ABL1\",\"ligands\":[{\"name\":\"a\",\"smiles\":\"C\xffC\"}]}"), 400, "smiles", ""},
		{"submit: lone surrogate in a SMILES", post(submit, `{"model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"C\ud800"}]}`), 400, "smiles", ""},
		{"submit: zero-width space in the model", post(submit, `{"model_name":"vina\u200b","target":"ABL1","ligands":[{"name":"a","smiles":"CCO"}]}`), 400, "model_name", ""},
		{"submit: NUL in the model", post(submit, `{"model_name":"vi\u0000na","ligands":[{"name":"a","smiles":"CCO"}]}`), 400, "model_name", ""},
		{"submit: RTL override in the target", post(submit, `{"model_name":"vina","target":"ABL1\u202e","ligands":[{"name":"a","smiles":"CCO"}]}`), 400, "target", ""},
		{"submit: NUL in the job name", post(submit, `{"job_name":"a\u0000b","model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"CCO"}]}`), 400, "job_name", "control"},
		{"submit: RTL override in the job name", post(submit, `{"job_name":"exe.\u202etxt","model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"CCO"}]}`), 400, "job_name", ""},
		{"submit: invalid UTF-8 in a library name", up(submit, withFile("lib.csv", "name,smiles\n\xff\xfe,C1CC\n")...), 400, "smiles", ""},
		{"submit: unicode digits as a SMILES ring", up(submit, withFile("lib.smi", "C\u0661CC\u0661 arabic\n")...), 400, "smiles", ""},
		{"predict: ZWJ in the protein sequence", post(predict, `{"model_name":"boltz2","protein_sequence":"MK\u200dK","ligand_smiles":"CCO"}`), 400, "", ""},
		{"form: NUL in the job name", form("/", newJob("job_name", "a\x00b", "ligands", "CCO ethanol")), 400, "", "control"},

		// Too many ligands for the tier (50).
		{"submit: 51 ligands inline", post(submit, ligandsJSON(51)), 400, "ligands", "limit of 50"},
		{"submit: 51 ligands uploaded", up(submit, withFile("lib.smi", tooMany)...), 400, "ligands", "limit is 50"},
		{"form: 51 ligands pasted", form("/", newJob("ligands", tooMany)), 400, "", "50"},
		{"form: 51 ligands uploaded", formUp("/", append(fields("model", "vina", "job_name", "f", "target", "ABL1"), part{name: "file", filename: "lib.smi", content: tooMany})...), 400, "", "50"},

		// An invalid SMILES at row 9,999 of 10,000.
		{"submit: row 9999 of 10000", func() req {
			r := up(submit, withFile("big.csv", library(10000, 9999))...)
			r.user = dave
			return r
		}(), 400, "smiles", "row 9999 (line 10000)"},
		{"submit: row 9999 of 10000 inline", func() req {
			ls := make([]api.Ligand, 10000)
			for i := range ls {
				ls[i] = api.Ligand{Name: fmt.Sprintf("m%d", i+1), SMILES: "CCO"}
			}
			ls[9998].SMILES = "C1CC(=O"
			b, _ := json.Marshal(dockingBatch("big", ls...))
			return req{method: "POST", path: submit, body: string(b), ctype: jsonType, user: dave}
		}(), 400, "smiles", "row 9999"},

		// Duplicate names are allowed (salt forms, vendors; see
		// TestHostileNamesStored), but not to hide a bad row.
		{"submit: duplicate names, one bad", post(submit, `{"model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"CCO"},{"name":"a","smiles":"C1CC"}]}`), 400, "smiles", "row 2"},
		{"submit: duplicate names uploaded, one bad", up(submit, withFile("lib.csv", "name,smiles\na,CCO\nb,CCN\na,C1CC\n")...), 400, "smiles", "row 3 (line 4)"},
		{"form: duplicate names pasted, one bad", form("/", newJob("ligands", "a,CCO\na,C1CC")), 400, "", "row 2"},

		// Names holding HTML or formulas, on refused submissions.
		{"submit: script name, bad SMILES", post(submit, `{"model_name":"vina","target":"ABL1","ligands":[{"name":"`+xss+`","smiles":"C1CC"}]}`), 400, "smiles", ""},
		{"form: script name, bad SMILES", form("/", newJob("ligands", xss+",C1CC")), 400, "", "row 1"},
		{"form: script job name, bad SMILES", form("/", newJob("job_name", xss, "ligands", "C1CC x")), 400, "", ""},
		{"form: script file name, bad library", formUp("/", append(fields("model", "vina", "job_name", "f", "target", "ABL1"), part{name: "file", filename: xss + ".csv", content: "name,smiles\n" + xss + ",C1CC\n"})...), 400, "", "row 1"},
		{"submit: formula name, bad SMILES", up(submit, withFile("lib.csv", "name,smiles\n\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",C1CC\n")...), 400, "smiles", ""},
		{"form: script model", form("/", url.Values{"model": {xss}, "ligands": {"CCO"}}), 400, "", ""},

		// Path traversal in ids and file names.
		{"batch id ../", get(api.Prefix + "/batches/..%2F..%2Fetc%2Fpasswd"), 404, "", ""},
		{"batch id %2e%2e", get(api.Prefix + "/batches/%2e%2e"), 404, "", ""},
		{"batch id double-encoded", get(api.Prefix + "/batches/%252e%252e%252f"), 404, "", ""},
		{"batch results of ../", get(api.Prefix + "/batches/..%2F" + done + "/results"), 404, "", ""},
		{"job id ../", get(api.Prefix + "/jobs/..%2F..%2F" + single), 404, "", ""},
		{"job file ../", get(files + "..%2F..%2Fomtx.db"), 0, "", ""},
		{"job file %2e%2e", get(files + "%2e%2e%2f%2e%2e%2fomtx.db"), 0, "", ""},
		{"job file backslashes", get(files + "..%5C..%5Comtx.db"), 0, "", ""},
		{"job file ....//", get(files + "....%2F%2F....%2F%2Fomtx.db"), 0, "", ""},
		{"job file NUL", get(files + "results.json%00.png"), 0, "", ""},
		{"job file absolute", get(files + "%2Fetc%2Fpasswd"), 0, "", ""},
		{"child file ../ to another job", get(kidFiles + "..%2F" + single + "%2Fresults.json"), 0, "", ""},
		{"child of another batch", get(api.Prefix + "/batches/" + done + "/jobs/" + single), 404, "", ""},
		{"very long batch id", get(api.Prefix + "/batches/" + longID), 404, "", ""},
		{"very long job id", get(api.Prefix + "/jobs/" + longID + "/files/results.json"), 404, "", ""},
		{"very long file name", get(files + longID), 0, "", ""},
		{"export format ../", get(api.Prefix + "/batches/" + done + "/export/..%2Fcsv"), 400, "format", ""},
		{"control action ../", req{method: "POST", path: api.Prefix + "/batches/" + done + "/control/..%2Fcancel"}, 400, "action", ""},
		{"delete ../", req{method: "DELETE", path: api.Prefix + "/batches/..%2F..%2F" + done}, 404, "", ""},
		{"delete job NUL", req{method: "DELETE", path: api.Prefix + "/jobs/" + single + "%00"}, 404, "", ""},
		{"page: results of ../", req{method: "GET", path: "/batch-results/..%2F..%2Fetc", cookie: a.cookie}, 404, "", ""},
		{"page: job %2e%2e", req{method: "GET", path: "/jobs/%2e%2e%2f%2e%2e", cookie: a.cookie}, 404, "", ""},
		{"page: bulk delete of ../", form("/my-batches/delete", url.Values{"id": {"../../" + done}, "confirm": {"yes"}}), 409, "", "not found"},
		{"page: bulk delete of a long id", form("/my-batches/delete", url.Values{"id": {longID}, "confirm": {"yes"}}), 409, "", "not found"},
		{"page: bulk delete of too many", form("/my-batches/delete", url.Values{"id": manyIDs(600)}), 400, "", ""},
		{"submit: library named ../", up(submit, withFile("../../../etc/passwd.csv", "name,smiles\na,C1CC\n")...), 400, "smiles", ""},
		{"submit: receptor named ../", up(submit, append(withFile("lib.smi", "CCO e\n"), part{name: "receptor", filename: "../../x.pdb", content: "not a structure"})...), 400, "receptor", ""},

		// Compressed bombs.
		{"submit: gzip bomb", req{method: "POST", path: submit, body: bomb, ctype: jsonType, header: map[string]string{"Content-Encoding": "gzip"}}, 415, "", "Content-Encoding"},
		{"validate: gzip bomb", req{method: "POST", path: validate, body: bomb, ctype: jsonType, header: map[string]string{"Content-Encoding": "gzip"}}, 415, "", "Content-Encoding"},
		{"submit: deflate body", req{method: "POST", path: predict, body: "x\x9c\x03\x00", ctype: jsonType, header: map[string]string{"Content-Encoding": "deflate"}}, 415, "", "Content-Encoding"},
		{"form: gzip bomb", func() req {
			r := form("/", newJob("ligands", "CCO e"))
			r.body, r.header = bomb, map[string]string{"Content-Encoding": "gzip"}
			return r
		}(), 415, "", ""},
		{"submit: zip as a library", up(submit, withFile("library.zip", zipLib)...), 400, "file", "ZIP"},
		{"submit: zip named .csv", up(submit, withFile("library.csv", zipLib)...), 400, "file", "ZIP"},
		{"submit: gzip named .csv.gz", up(submit, withFile("library.csv.gz", gzLib)...), 400, "file", "gzip"},
		{"submit: gzip named .smi", up(submit, withFile("library.smi", gzLib)...), 400, "file", "gzip"},
		{"validate: zip as a library", up(validate, part{name: "file", filename: "library.zip", content: zipLib}), 400, "file", "ZIP"},
		{"form: zip as a library", formUp("/", append(fields("model", "vina", "job_name", "f", "target", "ABL1"), part{name: "file", filename: "library.zip", content: zipLib})...), 400, "", "ZIP"},

		// Wrong content types.
		{"submit: text/plain", req{method: "POST", path: submit, body: vina(""), ctype: "text/plain"}, 415, "", ""},
		{"submit: XML", req{method: "POST", path: submit, body: "<batch/>", ctype: "application/xml"}, 415, "", ""},
		{"submit: form-urlencoded", req{method: "POST", path: submit, body: "model_name=vina", ctype: formType}, 415, "", ""},
		{"predict: multipart", up(predict, fields("model_name", "vina")...), 415, "", ""},
		{"predict: garbage content type", req{method: "POST", path: predict, body: "{}", ctype: "%%%;;=="}, 415, "", ""},
		{"validate: text/csv", req{method: "POST", path: validate, body: "name,smiles\na,CCO\n", ctype: "text/csv"}, 415, "", ""},
		{"form: JSON to the form", req{method: "POST", path: "/", body: "{}", ctype: jsonType, cookie: a.cookie, header: map[string]string{"X-CSRF-Token": a.csrf}}, 415, "", ""},
		{"form: text/plain to the check", req{method: "POST", path: "/ligands/check", body: "CCO", ctype: "text/plain", cookie: a.cookie, header: map[string]string{"X-CSRF-Token": a.csrf}}, 415, "", ""},

		// Multipart with missing or repeated parts.
		{"submit: multipart without file", up(submit, vinaFields...), 400, "file", ""},
		{"submit: file part without a file name", up(submit, append(vinaFields, part{name: "file", content: "CCO e\n"})...), 400, "file", ""},
		{"submit: empty file", up(submit, withFile("lib.csv", "")...), 400, "ligands", "no ligands"},
		{"submit: two files", up(submit, append(withFile("a.smi", "CCO a\n"), part{name: "file", filename: "b.smi", content: "CCN b\n"})...), 400, "file", "once"},
		{"submit: two model names", up(submit, append(withFile("a.smi", "CCO a\n"), part{name: "model_name", content: "boltz2"})...), 400, "model_name", "once"},
		{"submit: two request parts", up(submit, part{name: "request", content: `{"model_name":"vina"}`}, part{name: "request", content: `{"model_name":"boltz2"}`}, part{name: "file", filename: "a.smi", content: "CCO a\n"}), 400, "request", "once"},
		{"validate: two files", up(validate, part{name: "file", filename: "a.smi", content: "CCO a\n"}, part{name: "file", filename: "b.smi", content: "CCN b\n"}), 400, "file", "once"},
		{"submit: multipart without boundary", req{method: "POST", path: submit, body: "--x\r\n", ctype: "multipart/form-data"}, 400, "", "multipart"},
		{"submit: multipart never closed", req{method: "POST", path: submit, body: "--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.smi\"\r\n\r\nCCO a\n", ctype: "multipart/form-data; boundary=zz"}, 400, "", "multipart"},
		{"submit: request part not JSON", up(submit, part{name: "request", content: "{oops"}, part{name: "file", filename: "a.smi", content: "CCO a\n"}), 400, "request", ""},
		{"submit: request part with ligands", up(submit, part{name: "request", content: `{"model_name":"vina","ligands":[{"name":"a","smiles":"C"}]}`}, part{name: "file", filename: "a.smi", content: "CCO a\n"}), 400, "ligands", "not both"},
		{"submit: request part with an unknown field", up(submit, part{name: "request", content: `{"model_name":"vina","dropinvalid":true}`}, part{name: "file", filename: "a.smi", content: "CCO a\n"}), 400, "request", "dropinvalid"},
		{"submit: drop_invalid maybe", up(submit, withFile("a.smi", "CCO a\n", part{name: "drop_invalid", content: "maybe"})...), 400, "drop_invalid", ""},
		{"submit: receptor without a box", up(submit, append(fields("model_name", "vina"), part{name: "file", filename: "a.smi", content: "CCO a\n"}, part{name: "receptor", filename: "r.pdb", content: "ATOM      1  N   ALA A   1      11.104   6.134  -6.504  1.00  0.00           N\n"})...), 400, "parameters.box", ""},
		{"submit: parameters part an array", up(submit, withFile("a.smi", "CCO a\n", part{name: "parameters", content: "[1,2]"})...), 400, "parameters", ""},

		// JSON with repeated keys, unknown keys, deep nesting.
		{"submit: job_name twice", post(submit, `{"job_name":"a","job_name":"b","model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"CCO"}]}`), 400, "job_name", "twice"},
		{"submit: model_name twice, case differing", post(submit, `{"model_name":"vina","MODEL_NAME":"boltz2","target":"ABL1","ligands":[{"name":"a","smiles":"CCO"}]}`), 400, "MODEL_NAME", "twice"},
		{"submit: smiles twice in a ligand", post(submit, `{"model_name":"vina","target":"ABL1","ligands":[{"name":"a","smiles":"CCO","smiles":"C1CC"}]}`), 400, "ligands[0].smiles", "twice"},
		{"submit: parameter twice", post(submit, vinaParams(`{"seed":1,"seed":2}`)), 400, "parameters.seed", "twice"},
		{"predict: ligand_smiles twice", post(predict, predictBody(`,"ligand_smiles":"C1CC"`)), 400, "ligand_smiles", "twice"},
		{"submit: unknown field", post(submit, vina(`,"dropinvalid":true`)), 400, "dropinvalid", "not a field"},
		{"submit: unknown field in a ligand", post(submit, `{"model_name":"vina","target":"ABL1","ligands":[{"name":"a","smile":"CCO"}]}`), 400, "smile", "not a field"},
		{"predict: unknown field", post(predict, predictBody(`,"ligands":[]`)), 400, "ligands", "not a field"},
		{"submit: deeply nested arrays", post(submit, deep), 400, "", "malformed JSON"},
		{"submit: deeply nested parameters", post(submit, vinaParams(deepParams)), 400, "", ""},
		{"validate: deeply nested ligands", post(validate, `{"ligands":`+deep+`}`), 400, "", "malformed JSON"},

		// Paging, sorting and query strings.
		{"list: negative page size", get(api.Prefix + "/batches?page_size=-1"), 400, "page_size", ""},
		{"list: negative page", get(api.Prefix + "/batches?page=-5"), 400, "page", ""},
		{"list: enormous page", get(api.Prefix + "/batches?page=184467440737095518"), 400, "page", ""},
		{"list: page past int64", get(api.Prefix + "/batches?page=99999999999999999999"), 400, "page", ""},
		{"list: page a float", get(api.Prefix + "/batches?page=1.5"), 400, "page", ""},
		{"list: unknown sort", get(api.Prefix + "/batches?sort=password"), 400, "sort", ""},
		{"list: SQL in sort", get(api.Prefix + "/batches?sort=" + url.QueryEscape("name; DROP TABLE jobs--")), 400, "sort", ""},
		{"list: unknown status", get(api.Prefix + "/batches?status=" + url.QueryEscape("' OR '1'='1")), 400, "status", ""},
		{"list: long search", get(api.Prefix + "/batches?q=" + strings.Repeat("%27", 300)), 400, "q", ""},
		{"list: include_jobs maybe", get(api.Prefix + "/batches?include_jobs=maybe"), 400, "include_jobs", ""},
		{"list: forged cursor", get(api.Prefix + "/batches?cursor=" + url.QueryEscape("eyJvZmZzZXQiOi0xfQ")), 400, "cursor", ""},
		{"results: negative page size", get(results + "?page_size=-10"), 400, "page_size", ""},
		{"results: negative page", get(results + "?page=-1"), 400, "page", ""},
		{"results: enormous page", get(results + "?page=184467440737095518"), 400, "page", ""},
		{"results: enormous page and size", get(results + "?page=4611686018427387904&page_size=10000"), 400, "page", ""},
		{"results: unknown sort", get(results + "?sort=secret_column"), 400, "sort", ""},
		{"results: SQL in sort", get(results + "?sort=" + url.QueryEscape("affinity) UNION SELECT * FROM users--")), 400, "sort", ""},
		{"results: unknown order", get(results + "?order=sideways"), 400, "order", ""},
		{"results: unknown status", get(results + "?status=done%00"), 400, "status", ""},
		{"results: forged cursor", get(results + "?cursor=%00%00"), 400, "cursor", ""},
		{"page: my batches, enormous page", req{method: "GET", path: "/my-batches?page=184467440737095518", cookie: a.cookie}, 400, "", "page"},
		{"page: my batches, unknown sort", req{method: "GET", path: "/my-batches?sort=" + url.QueryEscape(xss), cookie: a.cookie}, 400, "", ""},
		{"page: results, unknown sort", req{method: "GET", path: "/batch-results/" + done + "?sort=" + url.QueryEscape(xss), cookie: a.cookie}, 400, "", ""},
		{"page: results, enormous page", req{method: "GET", path: "/batch-results/" + done + "?page=184467440737095518", cookie: a.cookie}, 400, "", ""},
	}
	if len(cases) < 100 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.r.user == "" && c.r.cookie == nil && c.r.header["Authorization"] == "" {
				c.r.user = alice
			}
			rec := e.do(c.r)
			checkHostile(t, c, rec)
		})
	}
	if after := e.stored(); after != before {
		t.Errorf("refused requests stored something:\nbefore %s\nafter  %s", before, after)
	}
}

// checkHostile checks one answer to a hostile request.
func checkHostile(t *testing.T, c hostile, rec *httptest.ResponseRecorder) {
	t.Helper()
	no5xx(t, rec)
	body := rec.Body.String()
	if rec.Code < 400 || rec.Code > 499 || (c.status != 0 && rec.Code != c.status) {
		want := "a 4xx"
		if c.status != 0 {
			want = fmt.Sprint(c.status)
		}
		t.Fatalf("status %d, want %s: %.600s", rec.Code, want, body)
	}
	if strings.Contains(body, "<script>alert") {
		t.Errorf("unescaped script in the answer: %.600s", body)
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		// A page: it says what was wrong.
		if c.has != "" && !strings.Contains(body, c.has) {
			t.Errorf("page lacks %q: %.2000s", c.has, body)
		}
		return
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("not the API's error body (%v): %.600s", err, body)
	}
	d := eb.Error
	text := d.Message
	for _, p := range d.Problems {
		text += " | " + fmt.Sprint(p.Row, p.Line, p.Field, p.Message)
		if p.Row > 0 || p.Line > 0 {
			text += " " + (problemText(p))
		}
	}
	if c.has != "" && !strings.Contains(text, c.has) {
		t.Errorf("error %+v lacks %q", d, c.has)
	}
	if c.field != "" && !namesField(d, c.field) {
		t.Errorf("error %+v does not name the field %q", d, c.field)
	}
}

// problemText is a problem as the library reader writes it.
func problemText(p api.Problem) string {
	if p.Line > 0 {
		return fmt.Sprintf("row %d (line %d)", p.Row, p.Line)
	}
	return fmt.Sprintf("row %d", p.Row)
}

// namesField reports whether an error names field: its own, or one of its
// problems'.
func namesField(d api.ErrorDetail, field string) bool {
	if d.Field == field {
		return true
	}
	for _, p := range d.Problems {
		if p.Field == field {
			return true
		}
	}
	return false
}

// TestHostileNamesStored: names that are valid but hostile (HTML,
// spreadsheet formulas, bidi overrides) are stored as given, escaped on
// every page and neutralised in the CSV export.
func TestHostileNamesStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := []string{
		`<script>alert(1)</script>`, `"><img src=x onerror=alert(2)>`, `=HYPERLINK("http://evil.example","click")`,
		"+cmd|' /C calc'!A0", "-1+1", "@SUM(1+1)", "\tleading tab", "exe\u202etxt.scr", "zw\u200dj",
	}
	smiles := []string{"CCO", "CCN", "CCC", "CCCl", "CCBr", "CCF", "CCS", "c1ccccc1", "CC(=O)O"}
	var ligs []api.Ligand
	for i, n := range names {
		ligs = append(ligs, api.Ligand{Name: n, SMILES: smiles[i]})
	}
	// Duplicate names are allowed, as in library files: each child keeps
	// its own row.
	ligs = append(ligs, api.Ligand{Name: names[0], SMILES: "CCCC"})
	b := dockingBatch(`<b onmouseover=alert(3)>=1+1`, ligs...)
	id := e.submit(alice, b)
	e.runAll()
	kids := e.childIDs(alice, id)

	rec := e.do(req{method: http.MethodGet, path: api.Prefix + "/batches/" + id + "/export.csv", user: alice})
	if rec.Code != http.StatusOK {
		t.Fatalf("export: %d %s", rec.Code, rec.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) && !isNumber(cell) {
				t.Errorf("export cell %q would run as a formula", cell)
			}
		}
	}
	if !strings.Contains(rec.Body.String(), "HYPERLINK") {
		t.Errorf("the formula name is missing from the export: %s", rec.Body)
	}

	br := e.browser(alice)
	for _, path := range []string{"/my-batches", "/batch-results/" + id, "/jobs/" + kids[0], "/jobs/" + kids[1]} {
		page := e.get(&br, path, false)
		if page.Code != http.StatusOK {
			t.Fatalf("%s: %d", path, page.Code)
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<b onmouseover"} {
			if strings.Contains(page.Body.String(), raw) {
				t.Errorf("%s holds %q unescaped", path, raw)
			}
		}
	}
	// The check fragment escapes names too, and answers problems as 200.
	check := e.postForm(br, "/ligands/check", url.Values{"model": {"vina"}, "ligands": {names[0] + ",C1CC\n" + names[1] + ",CCO"}}, true, true)
	if check.Code != http.StatusOK || strings.Contains(check.Body.String(), "<script>alert") || strings.Contains(check.Body.String(), "<img src=x") {
		t.Errorf("check: %d %s", check.Code, check.Body)
	}
	// Searching with injection attempts finds nothing and changes nothing.
	for _, q := range []string{"' OR '1'='1", "%", "_", `"; DROP TABLE jobs; --`, "\x00", "t\x00c"} {
		list := decode[api.BatchList](t, e.do(req{method: http.MethodGet, user: bob, path: api.Prefix + "/batches?include_jobs=true&q=" + url.QueryEscape(q)}), http.StatusOK)
		if len(list.Batches) != 0 {
			t.Errorf("bob's search %q found %d entries", q, len(list.Batches))
		}
		page := decode[api.ResultsPage](t, e.do(req{method: http.MethodGet, user: alice, path: api.Prefix + "/batches/" + id + "/results?q=" + url.QueryEscape(q)}), http.StatusOK)
		if page.Total != 0 {
			t.Errorf("results search %q matched %d rows", q, page.Total)
		}
	}
	if got := len(e.childIDs(alice, id)); got != len(ligs) {
		t.Errorf("%d children after the searches, want %d", got, len(ligs))
	}
}

func isNumber(s string) bool {
	var f float64
	_, err := fmt.Sscan(s, &f)
	return err == nil
}

// manyIDs is n distinct made-up ids.
func manyIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("id-%d", i)
	}
	return ids
}
