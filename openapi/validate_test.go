package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// resultsBody is a results page with n well-formed rows, as JSON.
func resultsBody(t *testing.T, n int) map[string]any {
	t.Helper()
	score := -7.5
	page := ResultsPage{BatchID: "b_1", Total: int64(n)}
	for i := range n {
		page.Results = append(page.Results, ResultRow{Ligand: fmt.Sprint("L", i), Smiles: "CCO", Affinity: -6.25, Rank: i + 1, Score: &score})
	}
	page.Results[0].Score = nil
	raw, err := json.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestValidateResponse(t *testing.T) {
	t.Parallel()
	d := build(t)
	finished := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	goodBatch, err := json.Marshal(Batch{
		ID: "b_1", Model: "vina", Status: "running", Progress: Progress{Total: 4, Done: 1},
		Parameters: json.RawMessage(`{"exhaustiveness":8}`), CreatedAt: finished, FinishedAt: &finished,
		Parent: &Batch{ID: "b_0", Model: "boltz2", Status: "completed", CreatedAt: finished},
	})
	if err != nil {
		t.Fatal(err)
	}
	results := "/api/v3/batches/:batch_id/results"
	edit := func(f func(m map[string]any)) []byte {
		m := resultsBody(t, 5)
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	row := func(m map[string]any, i int) map[string]any { return m["results"].([]any)[i].(map[string]any) }
	tests := []struct {
		name   string
		method string
		path   string
		status int
		body   []byte
		want   string // "" for valid; else a substring of the error
	}{
		{"correct results page", "GET", results, 200, edit(func(map[string]any) {}), ""},
		{"openapi style path", "get", "/api/v3/batches/{batch_id}/results", 200, edit(func(map[string]any) {}), ""},
		{"correct batch with recursion", "GET", "/api/v3/batches/:batch_id", 200, goodBatch, ""},
		{"wrong type", "GET", results, 200, edit(func(m map[string]any) { row(m, 3)["affinity"] = "strong" }),
			"/results/3/affinity: expected number, got string"},
		{"integer where number is fine", "GET", results, 200, edit(func(m map[string]any) { row(m, 2)["affinity"] = -7 }), ""},
		{"number where integer", "GET", results, 200, edit(func(m map[string]any) { row(m, 1)["rank"] = 1.5 }),
			"/results/1/rank: expected integer, got number"},
		{"missing required", "GET", results, 200, edit(func(m map[string]any) { delete(row(m, 0), "ligand") }),
			"/results/0/ligand: required property is missing"},
		{"nullable accepts null", "GET", results, 200, edit(func(m map[string]any) { row(m, 4)["score"] = nil }), ""},
		{"not nullable rejects null", "GET", results, 200, edit(func(m map[string]any) { m["results"] = nil }),
			"/results: expected array, got null"},
		{"wrong item type", "GET", results, 200, edit(func(m map[string]any) { m["results"].([]any)[2] = "row" }),
			"/results/2: expected object, got string"},
		{"undocumented property", "GET", results, 200, edit(func(m map[string]any) { m["cursor"] = "x" }),
			"/cursor: property is not documented"},
		{"root type", "GET", results, 200, []byte(`[]`), "/: expected object, got array"},
		{"extra enum value", "GET", "/api/v3/batches/:batch_id", 200,
			[]byte(strings.Replace(string(goodBatch), `"running"`, `"paused"`, 1)),
			`/status: value "paused" is not one of ["pending", "running", "completed", "failed", "cancelled"]`},
		{"enum through nested ref", "GET", "/api/v3/batches/:batch_id", 200,
			[]byte(strings.Replace(string(goodBatch), `"boltz2"`, `"alphafold"`, 1)), `/parent/model: value "alphafold"`},
		{"bad date-time", "GET", "/api/v3/batches/:batch_id", 200,
			[]byte(strings.Replace(string(goodBatch), `"2026-01-02T03:04:05Z"`, `"yesterday"`, 1)), "/created_at: \"yesterday\" is not an RFC 3339 date-time"},
		{"map values", "POST", "/api/v3/proteins", 200, []byte(`{"a":"1","b":2}`), "/b: expected string, got integer"},
		{"error body", "GET", "/api/v3/batches/:batch_id", 404, []byte(`{"error":{"code":"not_found","message":"no such batch"}}`), ""},
		{"bad error body", "GET", "/api/v3/batches/:batch_id", 404, []byte(`{"code":"not_found"}`), "/error: required property is missing"},
		{"undocumented status", "GET", "/api/v3/batches/:batch_id", http.StatusTeapot, []byte(`{}`), "status 418 is not documented"},
		{"undocumented route", "GET", "/api/v3/nothing", 200, []byte(`{}`), "not documented"},
		{"no content", "DELETE", "/api/v3/batches/:batch_id", 204, nil, ""},
		{"body where none documented", "DELETE", "/api/v3/batches/:batch_id", 204, []byte(`{}`), "documents no JSON body"},
		{"csv is not checked", "GET", "/api/v3/batches/:batch_id/results.csv", 200, []byte("ligand,affinity\n"), ""},
		{"invalid JSON", "GET", results, 200, []byte(`{"results":`), "invalid JSON"},
		{"trailing data", "GET", results, 200, []byte(`{} {}`), "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := d.Validate(tt.method, tt.path, tt.status, tt.body)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate accepted the body, want error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	d := build(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   string
	}{
		{"correct", "POST", "/api/v3/batches", `{"model":"vina","ligands":["CCO","c1ccccc1"]}`, ""},
		{"enum", "POST", "/api/v3/batches", `{"model":"gnina","ligands":[]}`, `/model: value "gnina" is not one of`},
		{"missing", "POST", "/api/v3/batches", `{"model":"vina"}`, "/ligands: required property is missing"},
		{"item type", "POST", "/api/v3/batches", `{"model":"vina","ligands":["CCO",7]}`, "/ligands/1: expected string, got integer"},
		{"several problems", "POST", "/api/v3/batches", `{"model":1,"ligands":{}}`, "/ligands: expected array, got object\n/model: expected string, got integer"},
		{"no body documented", "GET", "/api/v3/batches/:batch_id", `{}`, "documents no JSON request body"},
		{"no body sent", "GET", "/api/v3/batches/:batch_id", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := d.ValidateRequest(tt.method, tt.path, []byte(tt.body))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("ValidateRequest: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("ValidateRequest accepted the body, want error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestEscapePointer(t *testing.T) {
	t.Parallel()
	d, err := Build(Info{}, []Operation{{Method: "GET", Path: "/m", ID: "m", Response: map[string]int{}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Validate("GET", "/m", 200, []byte(`{"a/b~c":"x"}`))
	if err == nil || !strings.Contains(err.Error(), "/a~1b~0c: expected integer, got string") {
		t.Fatalf("err = %v", err)
	}
}
