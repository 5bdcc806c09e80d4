package openapi

import (
	"bytes"
	"encoding/json"
	"image"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Types shaped like the API's own: a batch with progress, a page of results.

type Status string

func (Status) Enum() []string {
	return []string{"pending", "running", "completed", "failed", "cancelled"}
}

type Progress struct {
	Total  int `json:"total" doc:"Jobs in the batch."`
	Done   int `json:"done"`
	Failed int `json:"failed,omitempty"`
}

type Batch struct {
	ID         string            `json:"batch_id" doc:"Batch identifier." example:"b_01"`
	Name       string            `json:"name,omitempty"`
	Model      string            `json:"model" enum:"vina,boltz2"`
	Status     Status            `json:"status"`
	Progress   Progress          `json:"progress"`
	Parameters json.RawMessage   `json:"parameters,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	FinishedAt *time.Time        `json:"finished_at"`
	Parent     *Batch            `json:"parent,omitempty" doc:"The batch this one was re-run from."`
	Secret     string            `json:"-"`
	internal   string
}

type ResultRow struct {
	Ligand   string   `json:"ligand"`
	Smiles   string   `json:"smiles"`
	Affinity float64  `json:"affinity" doc:"Binding free energy, kcal/mol."`
	Rank     int      `json:"rank"`
	Score    *float64 `json:"score"`
	Pose     []byte   `json:"pose,omitempty"`
}

type ResultsPage struct {
	BatchID string      `json:"batch_id"`
	Results []ResultRow `json:"results"`
	Next    string      `json:"next,omitempty"`
	Total   int64       `json:"total"`
}

type ResultsQuery struct {
	BatchID string   `path:"batch_id" doc:"The batch."`
	Limit   int      `query:"limit" doc:"Rows per page."`
	Cursor  string   `query:"cursor"`
	Sort    string   `query:"sort,required" enum:"affinity,name"`
	Fields  []string `query:"field"`
	Ignored string
	Key     string `header:"Idempotency-Key" doc:"Repeats answer the first."`
}

type SubmitRequest struct {
	Model   string   `json:"model" enum:"vina,boltz2"`
	Ligands []string `json:"ligands"`
	Name    string   `json:"name,omitempty"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

type apiError struct {
	Error errorDetail `json:"error"`
}

// Embedding: promoted fields, a pointer embed makes its fields optional,
// the shallower field wins a name clash.
type Timestamps struct {
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	ID        string    `json:"id"`
}

type Lease struct {
	Holder string `json:"holder"`
}

type Job struct {
	Timestamps
	*Lease
	ID    string `json:"id" doc:"outer wins"`
	Named Lease  `json:"lease_copy"`
}

// Point collides by name with image.Point.
type Point struct {
	Lat float64 `json:"lat"`
}

type Places struct {
	Here  Point       `json:"here"`
	Pixel image.Point `json:"pixel"`
}

type Page[T any] struct {
	Items []T `json:"items"`
}

type Quoted struct {
	N int64 `json:",string"`
}

func ops() []Operation {
	return []Operation{
		{Method: "POST", Path: "/api/v3/batches", ID: "submitBatch", Tag: "Batches", Summary: "Submit a batch", Auth: true,
			Body: SubmitRequest{}, Status: http.StatusCreated, Response: Batch{}, Errors: []int{400, 401}},
		{Method: "GET", Path: "/api/v3/batches/:batch_id", ID: "getBatch", Tag: "Batches", Auth: true,
			Response: &Batch{}, Errors: []int{404}},
		{Method: "GET", Path: "/api/v3/batches/:batch_id/results", ID: "listResults", Tag: "Results", Auth: true,
			Query: ResultsQuery{}, Response: ResultsPage{}, Errors: []int{400, 404}},
		{Method: "GET", Path: "/api/v3/batches/:batch_id/results.csv", ID: "resultsCSV", Tag: "Results", Auth: true,
			Produces: []string{"text/csv"}, Errors: []int{404}},
		{Method: "DELETE", Path: "/api/v3/batches/:batch_id", ID: "cancelBatch", Tag: "Batches", Auth: true,
			Status: http.StatusNoContent, Errors: []int{404, 409}},
		{Method: "POST", Path: "/api/v3/proteins", ID: "uploadProtein", Tag: "Proteins", Auth: true,
			Multipart: []FormField{{Name: "file", File: true, Required: true, Description: "PDB or mmCIF"}, {Name: "name"}},
			Response:  map[string]string{}},
		{Method: "GET", Path: "/api/v3/jobs/:job_id", ID: "getJob", Tag: "Jobs", Response: Job{}},
		{Method: "GET", Path: "/api/v3/places", ID: "places", Response: Places{}},
		{Method: "GET", Path: "/health", ID: "health"},
	}
}

func build(t *testing.T) *Document {
	t.Helper()
	d, err := Build(Info{Title: "omtx", Version: "3", Description: "Docking jobs."}, ops(), apiError{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return d
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("schema mismatch\n got: %s\nwant: %s", got, want)
	}
}

func TestSchemaKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{"bool", reflect.TypeFor[bool](), `{"type":"boolean"}`},
		{"int", reflect.TypeFor[int](), `{"type":"integer"}`},
		{"uint8", reflect.TypeFor[uint8](), `{"type":"integer"}`},
		{"float32", reflect.TypeFor[float32](), `{"type":"number"}`},
		{"string", reflect.TypeFor[string](), `{"type":"string"}`},
		{"slice", reflect.TypeFor[[]string](), `{"type":"array","items":{"type":"string"}}`},
		{"array", reflect.TypeFor[[3]int](), `{"type":"array","items":{"type":"integer"}}`},
		{"bytes", reflect.TypeFor[[]byte](), `{"type":"string","contentEncoding":"base64"}`},
		{"map", reflect.TypeFor[map[string]float64](), `{"type":"object","additionalProperties":{"type":"number"}}`},
		{"int key map", reflect.TypeFor[map[int]bool](), `{"type":"object","additionalProperties":{"type":"boolean"}}`},
		{"time", reflect.TypeFor[time.Time](), `{"type":"string","format":"date-time"}`},
		{"time pointer", reflect.TypeFor[*time.Time](), `{"type":["string","null"],"format":"date-time"}`},
		{"raw", reflect.TypeFor[json.RawMessage](), `{}`},
		{"any", reflect.TypeFor[any](), `{}`},
		{"error interface", reflect.TypeFor[error](), `{}`},
		{"int pointer", reflect.TypeFor[*int](), `{"type":["integer","null"]}`},
		{"enum method", reflect.TypeFor[Status](), `{"type":"string","enum":["pending","running","completed","failed","cancelled"]}`},
		{"nullable enum", reflect.TypeFor[*Status](), `{"type":["string","null"],"enum":["pending","running","completed","failed","cancelled",null]}`},
		{"slice of pointers", reflect.TypeFor[[]*float64](), `{"type":"array","items":{"type":["number","null"]}}`},
		{"anonymous struct", reflect.TypeFor[struct {
			A int    `json:"a"`
			B string `json:"b,omitempty" doc:"bee" enum:"x,y"`
			C []int  `json:"c,omitzero"`
			D int    `json:"-"`
			E int    `json:"-,"`
			F bool
		}](), `{"type":"object","additionalProperties":false,"required":["a","-","F"],"properties":{
			"a":{"type":"integer"},"b":{"type":"string","description":"bee","enum":["x","y"]},
			"c":{"type":"array","items":{"type":"integer"}},"-":{"type":"integer"},"F":{"type":"boolean"}}}`},
		{"quoted number", reflect.TypeFor[Quoted](), `{"type":"object","additionalProperties":false,"required":["N"],"properties":{"N":{"type":"string"}}}`},
		{"enum tag on list and numbers", reflect.TypeFor[struct {
			Tags  []string `json:"tags" enum:"a,b"`
			Level int      `json:"level" enum:"1,2,3"`
		}](), `{"type":"object","additionalProperties":false,"required":["tags","level"],"properties":{
			"tags":{"type":"array","items":{"type":"string","enum":["a","b"]}},"level":{"type":"integer","enum":[1,2,3]}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGenerator()
			var s *Schema
			var err error
			if tt.typ.Kind() == reflect.Struct && tt.typ != timeType {
				s, err = g.structSchema(tt.typ)
			} else {
				s, err = g.schemaOf(tt.typ)
			}
			if err != nil {
				t.Fatalf("schemaOf: %v", err)
			}
			got, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, tt.want)
		})
	}
}

func TestComponents(t *testing.T) {
	t.Parallel()
	d := build(t)
	tests := []struct {
		name string
		want string
	}{
		{"Progress", `{"type":"object","additionalProperties":false,"required":["total","done"],"properties":{
			"total":{"type":"integer","description":"Jobs in the batch."},"done":{"type":"integer"},"failed":{"type":"integer"}}}`},
		// Recursion: Parent refers back to Batch by $ref; pointers are nullable.
		{"Batch", `{"type":"object","additionalProperties":false,
			"required":["batch_id","model","status","progress","created_at","finished_at"],
			"properties":{
			"batch_id":{"type":"string","description":"Batch identifier.","examples":["b_01"]},
			"name":{"type":"string"},
			"model":{"type":"string","enum":["vina","boltz2"]},
			"status":{"type":"string","enum":["pending","running","completed","failed","cancelled"]},
			"progress":{"$ref":"#/components/schemas/Progress"},
			"parameters":{},
			"labels":{"type":"object","additionalProperties":{"type":"string"}},
			"created_at":{"type":"string","format":"date-time"},
			"finished_at":{"type":["string","null"],"format":"date-time"},
			"parent":{"description":"The batch this one was re-run from.","anyOf":[{"$ref":"#/components/schemas/Batch"},{"type":"null"}]}}}`},
		// Embedding: promoted fields, pointer embed optional, outer id wins.
		{"Job", `{"type":"object","additionalProperties":false,"required":["created_at","id","lease_copy"],"properties":{
			"created_at":{"type":"string","format":"date-time"},
			"updated_at":{"type":"string","format":"date-time"},
			"holder":{"type":"string"},
			"id":{"type":"string","description":"outer wins"},
			"lease_copy":{"$ref":"#/components/schemas/Lease"}}}`},
		// Name collision: both Points are qualified by package.
		{"Places", `{"type":"object","additionalProperties":false,"required":["here","pixel"],"properties":{
			"here":{"$ref":"#/components/schemas/openapi.Point"},"pixel":{"$ref":"#/components/schemas/image.Point"}}}`},
		{"image.Point", `{"type":"object","additionalProperties":false,"required":["X","Y"],"properties":{"X":{"type":"integer"},"Y":{"type":"integer"}}}`},
		{"openapi.Point", `{"type":"object","additionalProperties":false,"required":["lat"],"properties":{"lat":{"type":"number"}}}`},
		// The error body is always named Error.
		{"Error", `{"type":"object","additionalProperties":false,"required":["error"],"properties":{"error":{"$ref":"#/components/schemas/errorDetail"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ok := d.spec.Components.Schemas[tt.name]
			if !ok {
				t.Fatalf("no component %q", tt.name)
			}
			got, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, tt.want)
		})
	}
	if _, ok := d.spec.Components.Schemas["Point"]; ok {
		t.Error("colliding name Point was not qualified")
	}
}

func TestGenericName(t *testing.T) {
	t.Parallel()
	d, err := Build(Info{}, []Operation{{Method: "GET", Path: "/rows", ID: "rows", Response: Page[ResultRow]{}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name := range d.spec.Components.Schemas {
		if strings.ContainsAny(name, "[]/*") {
			t.Errorf("component name %q is not a safe key", name)
		}
	}
	if _, ok := d.spec.Components.Schemas["Page_openapi.ResultRow"]; !ok {
		t.Errorf("components %v lack Page_openapi.ResultRow", keys(d.spec.Components.Schemas))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPathsAndParameters(t *testing.T) {
	t.Parallel()
	d := build(t)
	raw, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Security    []map[string][]string
			Parameters  []struct {
				Name, In, Description string
				Required              bool
				Schema                map[string]any
			}
			RequestBody *struct {
				Content map[string]json.RawMessage
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]json.RawMessage
			}
		}
		Components struct {
			SecuritySchemes map[string]map[string]string `json:"securitySchemes"`
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("document is not valid JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	res := doc.Paths["/api/v3/batches/{batch_id}/results"]["get"]
	if res.OperationID != "listResults" {
		t.Fatalf("results operation missing; paths: %v", keys(doc.Paths))
	}
	type param struct {
		name, in string
		required bool
		desc     string
	}
	var got []param
	for _, p := range res.Parameters {
		got = append(got, param{p.Name, p.In, p.Required, p.Description})
	}
	want := []param{
		{"batch_id", "path", true, "The batch."},
		{"limit", "query", false, "Rows per page."},
		{"cursor", "query", false, ""},
		{"sort", "query", true, ""},
		{"field", "query", false, ""},
		{"Idempotency-Key", "header", false, "Repeats answer the first."},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parameters\n got %v\nwant %v", got, want)
	}
	if e := res.Parameters[3].Schema["enum"]; !reflect.DeepEqual(e, []any{"affinity", "name"}) {
		t.Errorf("sort enum = %v", e)
	}
	if len(res.Security) != 2 || res.Security[0]["bearerAuth"] == nil || res.Security[1]["cookieAuth"] == nil {
		t.Errorf("security = %v, want bearerAuth or cookieAuth", res.Security)
	}
	if s := doc.Paths["/health"]["get"].Security; s != nil {
		t.Errorf("public route has security %v", s)
	}
	if doc.Components.SecuritySchemes["bearerAuth"]["scheme"] != "bearer" || doc.Components.SecuritySchemes["cookieAuth"]["in"] != "cookie" {
		t.Errorf("security schemes = %v", doc.Components.SecuritySchemes)
	}
	if _, ok := res.Responses["404"].Content["application/json"]; !ok {
		t.Error("404 has no JSON error body")
	}
	if _, ok := doc.Paths["/api/v3/batches/{batch_id}/results.csv"]["get"].Responses["200"].Content["text/csv"]; !ok {
		t.Error("CSV route does not document text/csv")
	}
	up := doc.Paths["/api/v3/proteins"]["post"]
	if up.RequestBody == nil || up.RequestBody.Content["multipart/form-data"] == nil {
		t.Fatal("upload route lacks a multipart body")
	}
	jsonEqual(t, up.RequestBody.Content["multipart/form-data"], `{"schema":{"type":"object","required":["file"],"properties":{
		"file":{"type":"string","contentMediaType":"application/octet-stream","description":"PDB or mmCIF"},"name":{"type":"string"}}}}`)
	if del := doc.Paths["/api/v3/batches/{batch_id}"]["delete"].Responses["204"]; del.Content != nil {
		t.Errorf("204 has content %v", del.Content)
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	type withChan struct {
		C chan int `json:"c"`
	}
	type withFunc struct {
		F func() `json:"f"`
	}
	type recursiveSlice []recursiveSlice
	get := func(path, id string) Operation { return Operation{Method: "GET", Path: path, ID: id} }
	tests := []struct {
		name    string
		ops     []Operation
		errBody any
		want    string
	}{
		{"duplicate id", []Operation{get("/a", "x"), get("/b", "x")}, nil, `duplicate operation id "x"`},
		{"duplicate route", []Operation{get("/a/:id", "x"), get("/a/:name", "y")}, nil, "already operation"},
		{"same path other method is fine", []Operation{get("/a", "x"), {Method: "POST", Path: "/a", ID: "y"}}, nil, ""},
		{"path param not in path", []Operation{{Method: "GET", Path: "/a/:id", ID: "x", Query: struct {
			B string `path:"batch_id"`
		}{}}}, nil, `path parameter "batch_id" (field B) is not in the path`},
		{"chan", []Operation{{Method: "GET", Path: "/a", ID: "x", Response: withChan{}}}, nil, "unsupported type chan int"},
		{"func", []Operation{{Method: "POST", Path: "/a", ID: "x", Body: withFunc{}}}, nil, "unsupported type func()"},
		{"complex", []Operation{{Method: "GET", Path: "/a", ID: "x", Response: complex64(1)}}, nil, "unsupported type complex64"},
		{"recursive slice", []Operation{{Method: "GET", Path: "/a", ID: "x", Response: recursiveSlice{}}}, nil, "recursive type"},
		{"wildcard", []Operation{get("/static/*", "x")}, nil, "wildcard"},
		{"braces", []Operation{get("/a/{id}", "x")}, nil, ":name"},
		{"no id", []Operation{get("/a", "")}, nil, "no operation id"},
		{"errors without body", []Operation{{Method: "GET", Path: "/a", ID: "x", Errors: []int{404}}}, nil, "no error body type"},
		{"error status not an error", []Operation{{Method: "GET", Path: "/a", ID: "x", Errors: []int{302}}}, apiError{}, "not 4xx"},
		{"query struct field", []Operation{{Method: "GET", Path: "/a", ID: "x", Query: struct {
			P Progress `query:"p"`
		}{}}}, nil, "not supported"},
		{"error body not a struct", []Operation{get("/a", "x")}, "oops", "named struct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Build(Info{}, tt.ops, tt.errBody)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Build: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Build succeeded, want error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestJSONDeterministic(t *testing.T) {
	t.Parallel()
	a, err := build(t).JSON()
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := build(t).JSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("two builds gave different bytes")
		}
	}
	if !json.Valid(a) {
		t.Fatal("document is not valid JSON")
	}
	if !bytes.Contains(a, []byte(`"openapi": "3.1.0"`)) {
		t.Error(`document lacks "openapi": "3.1.0"`)
	}
	if bytes.Contains(a, []byte(`\u003c`)) {
		t.Error("document escapes HTML characters")
	}
}

func TestHTML(t *testing.T) {
	t.Parallel()
	list := ops()
	list[0].Summary = `<script>alert("x")</script>`
	list[0].Description = "Queues one job per ligand & returns the batch."
	d, err := Build(Info{Title: "omtx <API>", Version: "3"}, list, apiError{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := d.HTML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, bad := range []string{"<script", "omtx <API>", "http://", "https://"} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;",
		"omtx &lt;API&gt;",
		`href="/api/v3/openapi.json"`,
		"/api/v3/batches/{batch_id}/results",
		`<span class="badge m-get">GET</span>`,
		`<span class="badge m-delete">DELETE</span>`,
		`<h2 id="tag-Results">Results</h2>`,
		`id="schema-Batch"`,
		`<a href="#schema-ResultRow">ResultRow</a>`,
		"Binding free energy, kcal/mol.",
		"<code>affinity</code>",
		"string (date-time)",
		"or null",
		">auth<",
		"multipart/form-data",
		"text/csv",
		"Not Found",
		"<code>cancelled</code>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// Error shares its name with the component the error body is given.
type Error struct {
	Reason string `json:"reason"`
}

func TestErrorNameReserved(t *testing.T) {
	t.Parallel()
	d, err := Build(Info{SessionCookie: "omtx_session"}, []Operation{
		{Method: "GET", Path: "/a", ID: "a", Response: Error{}, Errors: []int{500}},
	}, apiError{})
	if err != nil {
		t.Fatal(err)
	}
	s := d.spec.Components.Schemas
	if _, ok := s["openapi.Error"]; !ok {
		t.Fatalf("components %v: want the colliding Error qualified", keys(s))
	}
	if _, ok := s["Error"].Properties["error"]; !ok {
		t.Errorf("Error is not the error body: %+v", s["Error"])
	}
	if got := d.spec.Components.SecuritySchemes["cookieAuth"].Name; got != "omtx_session" {
		t.Errorf("cookie name = %q", got)
	}
	if err := d.Validate("GET", "/a", 200, []byte(`{"reason":"x"}`)); err != nil {
		t.Error(err)
	}
	if err := d.Validate("GET", "/a", 500, []byte(`{"reason":"x"}`)); err == nil {
		t.Error("500 accepted a body that is not the error body")
	}
}
