package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"omtx/api"
	"omtx/jobs"
)

// bodies are the JSON bodies the API decodes with decodeJSON, by the
// fuzzer's choice: the submit, predict and validate bodies.
var bodies = []func() any{
	func() any { return &api.SubmitBatchRequest{} },
	func() any { return &api.PredictRequest{} },
	func() any { return &api.ValidateLigandsRequest{} },
}

// FuzzDecodeJSON decodes bodies exactly as the submit, predict and
// validate routes do and checks what the API promises of it:
//   - every refusal is the caller's (*jobs.Error, code invalid) and a
//     field it names is a field of the body;
//   - an accepted body has no key its type lacks and no key twice in one
//     object (the decoder's case-insensitive match included), as a plain
//     map decoding of the same bytes shows;
//   - what it accepts re-encodes to a body it accepts again, with the same
//     value (the fixed point of encoding).
func FuzzDecodeJSON(f *testing.F) {
	seeds := []string{
		`{"job_name":"screen","model_name":"vina","target":"ABL1","ligands":[{"name":"aspirin","smiles":"CC(=O)Oc1ccccc1C(=O)O"}]}`,
		`{"job_name":"x","model_name":"vina","target":"ABL1","ligand_name":"a","ligand_smiles":"CCO","parameters":{"exhaustiveness":8}}`,
		`{"ligands":[{"name":"a","smiles":"CCO"},{"name":"b","smiles":"C1CC"}],"model_name":"boltz2"}`,
		`{"model_name":"vina","receptor":{"name":"r.pdb","format":"pdb","content":"ATOM"},"parameters":{"box":{"center_x":1}}}`,
		`{"webhook":{"url":"https://example.com/hook","secret":"0123456789abcdef"},"drop_invalid":true}`,
		`{"job_name":"a","job_name":"b"}`,
		`{"job_name":"a","JOB_NAME":"b"}`,
		`{"ligands":[{"name":"a","name":"b","smiles":"C"}]}`,
		`{"parameters":{"seed":1,"seed":2}}`,
		`{"jobname":"typo"}`,
		`{"ligands":[{"name":"a","smiles":"C","extra":1}]}`,
		`{"ligands":[{"name":"a","smiles":5}]}`,
		`{"drop_invalid":"yes"}`,
		`{"parameters":{"exhaustiveness":1e308}}`,
		`{"parameters":"NaN"}`,
		`{"job_name":"\u202e\u200d\u0000\ud800"}`,
		"{\"job_name\":\"\xff\xfe\"}",
		`[1,2]`, `null`, `"x"`, `{}`, `{} {}`, `{"job_name":`, ``,
		strings.Repeat("[", 200) + strings.Repeat("]", 200),
		`{"parameters":` + strings.Repeat(`{"a":`, 50) + `1` + strings.Repeat("}", 50) + `}`,
	}
	for _, s := range seeds {
		for i := range bodies {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		newBody := bodies[int(which)%len(bodies)]
		v := newBody()
		err := decodeJSON(bytes.NewReader(data), v)
		if err != nil {
			var je *jobs.Error
			if !errors.As(err, &je) || je.Code != jobs.ErrInvalid || je.Message == "" {
				t.Fatalf("%q: error %T %v is not the caller's", data, err, err)
			}
			if je.Field != "" && !isBodyField(reflect.TypeOf(v).Elem(), je.Field) && !strings.HasPrefix(je.Field, "parameters") {
				// An unknown key is named as given; any other field error
				// names a field of the body.
				if !strings.Contains(je.Message, "not a field") && !strings.Contains(je.Message, "twice") {
					t.Fatalf("%q: error names %q, not a field of %T: %v", data, je.Field, v, err)
				}
			}
			return
		}
		var plain any
		if err := json.Unmarshal(data, &plain); err != nil {
			t.Fatalf("%q accepted but not JSON: %v", data, err)
		}
		if bad := strayKey(reflect.TypeOf(v).Elem(), plain, ""); bad != "" {
			t.Fatalf("%q accepted with %s", data, bad)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%q: accepted value does not encode: %v", data, err)
		}
		again := newBody()
		if err := decodeJSON(bytes.NewReader(out), again); err != nil {
			t.Fatalf("%q -> %s: refused on the way back: %v", data, out, err)
		}
		out2, _ := json.Marshal(again)
		if !bytes.Equal(out, out2) {
			t.Fatalf("%q: encodes to %s, then %s", data, out, out2)
		}
	})
}

// jsonFields maps a struct type's JSON keys, folded as the decoder folds
// them, to their fields' types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[strings.ToLower(strings.ToUpper(name))] = f.Type
	}
	return out
}

// isBodyField reports whether path ("ligands[3].smiles") names a field of
// the struct type t.
func isBodyField(t reflect.Type, path string) bool {
	for _, part := range strings.Split(path, ".") {
		part, _, _ = strings.Cut(part, "[")
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		ft, ok := jsonFields(t)[strings.ToLower(strings.ToUpper(part))]
		if !ok {
			return false
		}
		t = ft
	}
	return true
}

// strayKey finds, in a JSON value decoded as plain maps, a key the type
// does not have or an object naming one key twice (case folded); "" when
// there is none. json.RawMessage fields (parameters) take any object.
func strayKey(t reflect.Type, v any, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(json.RawMessage{}) {
		return ""
	}
	switch x := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return ""
		}
		fields := jsonFields(t)
		folded := map[string]bool{}
		for k, val := range x {
			fk := strings.ToLower(strings.ToUpper(k))
			if folded[fk] {
				return "the key " + path + "." + k + " twice"
			}
			folded[fk] = true
			ft, ok := fields[fk]
			if !ok {
				return "the unknown key " + path + "." + k
			}
			if bad := strayKey(ft, val, path+"."+k); bad != "" {
				return bad
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return ""
		}
		for _, el := range x {
			if bad := strayKey(t.Elem(), el, path+"[]"); bad != "" {
				return bad
			}
		}
	}
	return ""
}

// TestDecodeJSONRefusals pins the refusals FuzzDecodeJSON relies on.
func TestDecodeJSONRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct{ body, field, has string }{
		{`{"job_name":"a","job_name":"b"}`, "job_name", "twice"},
		{`{"job_name":"a","JOB_NAME":"b"}`, "JOB_NAME", "twice"},
		{`{"ligands":[{"name":"a","smiles":"C"},{"name":"a","smiles":"C","Name":"b"}]}`, "ligands[1].Name", "twice"},
		{`{"parameters":{"box":{"center_x":1,"center_x":2}}}`, "parameters.box.center_x", "twice"},
		{`{"jobname":"typo"}`, "jobname", "not a field"},
		{`{"ligands":[{"name":"a","smiles":"C","extra":1}]}`, "extra", "not a field"},
		{`{"ligands":[{"name":"a","smiles":5}]}`, "ligands.smiles", "a string"},
	}
	for _, c := range cases {
		var v api.SubmitBatchRequest
		err := decodeJSON(strings.NewReader(c.body), &v)
		status, d := errorOf(err)
		if status != http.StatusBadRequest || d.Field != c.field || !strings.Contains(d.Message, c.has) {
			t.Errorf("%s: %d %+v, want field %q with %q", c.body, status, d, c.field, c.has)
		}
	}
	// Repeated keys in different objects are fine.
	var v api.SubmitBatchRequest
	if err := decodeJSON(strings.NewReader(`{"ligands":[{"name":"a","smiles":"C"},{"name":"b","smiles":"CC"}],"parameters":{"box":{"seed":1},"seed":2}}`), &v); err != nil {
		t.Errorf("distinct objects: %v", err)
	}
}
