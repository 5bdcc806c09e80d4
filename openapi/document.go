// Package openapi builds the API's OpenAPI 3.1 document from the Go types
// the HTTP handlers read and write, checks JSON bodies against it, and
// renders it as an HTML page. Because the document is derived from the
// handlers' own types, and handler tests validate every answer against
// it, the document cannot drift from the code unnoticed.
package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// SpecPath is where the server publishes the JSON document; the HTML page
// links to it.
const SpecPath = "/api/v3/openapi.json"

// Info describes the API as a whole.
type Info struct {
	Title       string
	Version     string
	Description string
	// SessionCookie names the browser's session cookie, documented as the
	// alternative to a bearer token; "session" when empty.
	SessionCookie string
}

// FormField is one part of a multipart/form-data request.
type FormField struct {
	Name        string
	Description string
	File        bool
	Required    bool
}

// Operation is one route, described by the Go types its handler uses.
type Operation struct {
	Method      string
	Path        string // echo style: /api/v3/batches/:batch_id
	ID          string // operationId, unique
	Summary     string
	Description string
	Tag         string
	Auth        bool // needs a bearer token or the session cookie
	// Query is a struct value whose fields tagged `query:"name"` (or
	// `query:"name,required"`) are query parameters and whose fields tagged
	// `path:"name"` document path parameters, and fields tagged
	// `header:"Name"` optional request headers. `doc` and `enum` tags apply.
	Query any
	Body  any // JSON request body type; nil for none
	// Multipart documents a multipart/form-data body, alone or as an
	// alternative to Body.
	Multipart []FormField
	Status    int // success status; 200 when zero
	Response  any // JSON response type; nil for no JSON body
	// Produces lists non-JSON content types of the success response, such
	// as "text/csv" or "application/zip".
	Produces []string
	// Errors lists the error statuses the route answers, each with the
	// shared error body.
	Errors []int
}

// Document is a built OpenAPI 3.1 document.
type Document struct {
	spec   spec
	gen    *generator
	ops    []*opEntry
	byKey  map[string]*opEntry // "GET /api/v3/batches/{batch_id}"
	cookie string
}

// opEntry is one operation with the schemas Validate needs.
type opEntry struct {
	Operation
	path      string // OpenAPI style
	params    []specParam
	request   *Schema         // JSON request body, nil for none
	responses map[int]*Schema // JSON body per status; nil value for none
}

type spec struct {
	OpenAPI    string              `json:"openapi"`
	Info       specInfo            `json:"info"`
	Tags       []specTag           `json:"tags,omitempty"`
	Paths      map[string]specPath `json:"paths"`
	Components specComponents      `json:"components"`
}

type specInfo struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

type specTag struct {
	Name string `json:"name"`
}

type specPath map[string]*specOp // lower-case method -> operation

type specOp struct {
	OperationID string                   `json:"operationId"`
	Summary     string                   `json:"summary,omitempty"`
	Description string                   `json:"description,omitempty"`
	Tags        []string                 `json:"tags,omitempty"`
	Parameters  []specParam              `json:"parameters,omitempty"`
	RequestBody *specBody                `json:"requestBody,omitempty"`
	Responses   map[string]*specResponse `json:"responses"`
	Security    []map[string][]string    `json:"security,omitempty"`
}

type specParam struct {
	Name        string  `json:"name"`
	In          string  `json:"in"`
	Description string  `json:"description,omitempty"`
	Required    bool    `json:"required,omitempty"`
	Schema      *Schema `json:"schema"`
}

type specBody struct {
	Required bool                  `json:"required"`
	Content  map[string]*mediaType `json:"content"`
}

type specResponse struct {
	Description string                `json:"description"`
	Content     map[string]*mediaType `json:"content,omitempty"`
}

type mediaType struct {
	Schema *Schema `json:"schema,omitempty"`
}

type specComponents struct {
	Schemas         map[string]*Schema        `json:"schemas"`
	SecuritySchemes map[string]securityScheme `json:"securitySchemes"`
}

type securityScheme struct {
	Type        string `json:"type"`
	Scheme      string `json:"scheme,omitempty"`
	In          string `json:"in,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

const errorName = "Error"

// Build derives the document from info and ops. errorBody is a value of
// the API's one error body type, documented once as the "Error" schema and
// referred to by every status in Operation.Errors.
func Build(info Info, ops []Operation, errorBody any) (*Document, error) {
	g := newGenerator()
	d := &Document{gen: g, byKey: map[string]*opEntry{}, cookie: info.SessionCookie}
	if d.cookie == "" {
		d.cookie = "session"
	}
	d.spec = spec{
		OpenAPI: "3.1.0",
		Info:    specInfo{Title: info.Title, Version: info.Version, Description: info.Description},
		Paths:   map[string]specPath{},
	}
	var errRef *Schema
	if errorBody != nil {
		t := deref(reflect.TypeOf(errorBody))
		if t.Kind() != reflect.Struct || t.Name() == "" {
			return nil, fmt.Errorf("openapi: error body must be a named struct, got %s", t)
		}
		g.forced[t] = errorName
		var err error
		if errRef, err = g.schemaOf(t); err != nil {
			return nil, fmt.Errorf("openapi: error body: %w", err)
		}
	}
	ids := map[string]bool{}
	routes := map[string]string{}
	for i := range ops {
		op := ops[i]
		e, err := d.operation(op, errRef)
		if err != nil {
			return nil, fmt.Errorf("openapi: operation %d (%s %s): %w", i, op.Method, op.Path, err)
		}
		if ids[e.ID] {
			return nil, fmt.Errorf("openapi: duplicate operation id %q", e.ID)
		}
		ids[e.ID] = true
		route := e.Method + " " + routeShape(e.path)
		if prev, ok := routes[route]; ok {
			return nil, fmt.Errorf("openapi: %s %s is already operation %q", e.Method, e.Path, prev)
		}
		routes[route] = e.ID
		d.ops = append(d.ops, e)
		d.byKey[e.Method+" "+e.path] = e
		if op.Tag != "" && !slices.Contains(tagNames(d.spec.Tags), op.Tag) {
			d.spec.Tags = append(d.spec.Tags, specTag{Name: op.Tag})
		}
	}
	if err := g.nameAll(); err != nil {
		return nil, err
	}
	d.spec.Components = specComponents{
		Schemas: map[string]*Schema{},
		SecuritySchemes: map[string]securityScheme{
			"bearerAuth": {Type: "http", Scheme: "bearer", Description: "API token sent as Authorization: Bearer <token>."},
			"cookieAuth": {Type: "apiKey", In: "cookie", Name: d.cookie, Description: "Session cookie set by the browser sign-in."},
		},
	}
	seen := map[*Schema]bool{}
	for t, s := range g.structs {
		d.spec.Components.Schemas[g.names[t]] = s
		g.resolve(s, seen)
	}
	for _, e := range d.ops {
		for _, p := range e.params {
			g.resolve(p.Schema, seen)
		}
		g.resolve(e.request, seen)
		for _, s := range e.responses {
			g.resolve(s, seen)
		}
	}
	return d, nil
}

func tagNames(ts []specTag) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// operation checks op and adds it to the document's paths.
func (d *Document) operation(op Operation, errRef *Schema) (*opEntry, error) {
	op.Method = strings.ToUpper(strings.TrimSpace(op.Method))
	switch {
	case op.Method == "":
		return nil, fmt.Errorf("no method")
	case op.ID == "":
		return nil, fmt.Errorf("no operation id")
	case !strings.HasPrefix(op.Path, "/"):
		return nil, fmt.Errorf("path must start with /")
	}
	if op.Status == 0 {
		op.Status = http.StatusOK
	}
	if op.Status < 100 || op.Status > 599 {
		return nil, fmt.Errorf("bad status %d", op.Status)
	}
	path, pathParams, err := convertPath(op.Path)
	if err != nil {
		return nil, err
	}
	e := &opEntry{Operation: op, path: path, responses: map[int]*Schema{}}
	for _, name := range pathParams {
		e.params = append(e.params, specParam{Name: name, In: "path", Required: true, Schema: &Schema{Type: "string"}})
	}
	if op.Query != nil {
		if err := d.queryParams(e, pathParams); err != nil {
			return nil, err
		}
	}
	so := &specOp{
		OperationID: op.ID,
		Summary:     op.Summary,
		Description: op.Description,
		Parameters:  e.params,
		Responses:   map[string]*specResponse{},
	}
	if op.Tag != "" {
		so.Tags = []string{op.Tag}
	}
	if op.Auth {
		so.Security = []map[string][]string{{"bearerAuth": {}}, {"cookieAuth": {}}}
	}
	if op.Body != nil || len(op.Multipart) > 0 {
		so.RequestBody = &specBody{Required: true, Content: map[string]*mediaType{}}
	}
	if op.Body != nil {
		s, err := d.gen.schemaOf(deref(reflect.TypeOf(op.Body)))
		if err != nil {
			return nil, fmt.Errorf("request body: %w", err)
		}
		e.request = s
		so.RequestBody.Content["application/json"] = &mediaType{Schema: s}
	}
	if len(op.Multipart) > 0 {
		form := &Schema{Type: "object", Properties: map[string]*Schema{}}
		for _, f := range op.Multipart {
			if f.Name == "" {
				return nil, fmt.Errorf("multipart field without a name")
			}
			if _, dup := form.Properties[f.Name]; dup {
				return nil, fmt.Errorf("duplicate multipart field %q", f.Name)
			}
			fs := &Schema{Type: "string", Description: f.Description}
			if f.File {
				fs.ContentMedia = "application/octet-stream"
			}
			form.Properties[f.Name] = fs
			form.order = append(form.order, f.Name)
			if f.Required {
				form.Required = append(form.Required, f.Name)
			}
		}
		so.RequestBody.Content["multipart/form-data"] = &mediaType{Schema: form}
	}
	ok := &specResponse{Description: http.StatusText(op.Status)}
	if op.Response != nil || len(op.Produces) > 0 {
		ok.Content = map[string]*mediaType{}
	}
	if op.Response != nil {
		s, err := d.gen.schemaOf(deref(reflect.TypeOf(op.Response)))
		if err != nil {
			return nil, fmt.Errorf("response: %w", err)
		}
		e.responses[op.Status] = s
		ok.Content["application/json"] = &mediaType{Schema: s}
	} else {
		e.responses[op.Status] = nil
	}
	for _, ct := range op.Produces {
		var s *Schema
		if strings.HasPrefix(ct, "text/") {
			s = &Schema{Type: "string"}
		}
		ok.Content[ct] = &mediaType{Schema: s}
	}
	so.Responses[strconv.Itoa(op.Status)] = ok
	for _, st := range op.Errors {
		if st < 400 || st > 599 {
			return nil, fmt.Errorf("error status %d is not 4xx or 5xx", st)
		}
		if errRef == nil {
			return nil, fmt.Errorf("error statuses given but no error body type")
		}
		if _, dup := so.Responses[strconv.Itoa(st)]; dup {
			return nil, fmt.Errorf("status %d listed twice", st)
		}
		ref := &Schema{target: errRef.target}
		e.responses[st] = ref
		so.Responses[strconv.Itoa(st)] = &specResponse{
			Description: http.StatusText(st),
			Content:     map[string]*mediaType{"application/json": {Schema: ref}},
		}
	}
	item := d.spec.Paths[path]
	if item == nil {
		item = specPath{}
		d.spec.Paths[path] = item
	}
	item[strings.ToLower(op.Method)] = so
	return e, nil
}

// queryParams reads the query and path parameter tags of e.Query.
func (d *Document) queryParams(e *opEntry, pathParams []string) error {
	t := deref(reflect.TypeOf(e.Query))
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("query must be a struct, got %s", t)
	}
	seen := map[string]bool{}
	var walk func(t reflect.Type) error
	walk = func(t reflect.Type) error {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if sf.Anonymous && deref(sf.Type).Kind() == reflect.Struct && sf.Tag.Get("query") == "" && sf.Tag.Get("path") == "" &&
				sf.Tag.Get("header") == "" {
				if err := walk(deref(sf.Type)); err != nil {
					return err
				}
				continue
			}
			if name, ok := sf.Tag.Lookup("path"); ok {
				idx := slices.Index(pathParams, name)
				if idx < 0 {
					return fmt.Errorf("path parameter %q (field %s) is not in the path", name, sf.Name)
				}
				p := &e.params[idx]
				p.Description = sf.Tag.Get("doc")
				if vals := splitList(sf.Tag.Get("enum")); len(vals) > 0 {
					p.Schema.Enum = stringsToAny(vals)
				}
				continue
			}
			if name, ok := sf.Tag.Lookup("header"); ok {
				if name == "" || seen["header "+name] {
					return fmt.Errorf("header field %s: no name or a duplicate", sf.Name)
				}
				seen["header "+name] = true
				e.params = append(e.params, specParam{Name: name, In: "header", Description: sf.Tag.Get("doc"),
					Schema: &Schema{Type: "string"}})
				continue
			}
			tag, ok := sf.Tag.Lookup("query")
			if !ok || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				return fmt.Errorf("query field %s has no name", sf.Name)
			}
			if seen[name] {
				return fmt.Errorf("duplicate query parameter %q", name)
			}
			seen[name] = true
			s, err := d.gen.schemaOf(sf.Type)
			if err != nil {
				return fmt.Errorf("query parameter %q: %w", name, err)
			}
			if s.target != nil || s.Type == "object" {
				return fmt.Errorf("query parameter %q: structs and maps are not supported", name)
			}
			s = annotate(s, sf.Tag)
			desc := s.Description
			s.Description = ""
			e.params = append(e.params, specParam{
				Name: name, In: "query", Description: desc,
				Required: slices.Contains(strings.Split(opts, ","), "required"),
				Schema:   s,
			})
		}
		return nil
	}
	return walk(t)
}

// convertPath turns an echo path into an OpenAPI template and lists its
// parameters in order.
func convertPath(p string) (string, []string, error) {
	segs := strings.Split(p, "/")
	var params []string
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, ":"):
			name := s[1:]
			if name == "" {
				return "", nil, fmt.Errorf("empty path parameter name")
			}
			if slices.Contains(params, name) {
				return "", nil, fmt.Errorf("path parameter %q appears twice", name)
			}
			params = append(params, name)
			segs[i] = "{" + name + "}"
		case strings.Contains(s, "*"):
			return "", nil, fmt.Errorf("wildcard paths are not supported")
		case strings.ContainsAny(s, "{}"):
			return "", nil, fmt.Errorf("path must use :name parameters, not {name}")
		}
	}
	return strings.Join(segs, "/"), params, nil
}

// routeShape erases parameter names: /a/{x} and /a/{y} are one route.
func routeShape(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// JSON returns the document, indented. encoding/json sorts map keys, so
// the same operations always give the same bytes.
func (d *Document) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d.spec); err != nil {
		return nil, fmt.Errorf("openapi: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// lookup finds an operation by method and path, in echo or OpenAPI style.
func (d *Document) lookup(method, path string) (*opEntry, error) {
	method = strings.ToUpper(method)
	p, _, err := convertPath(path)
	if err != nil {
		p = path
	}
	e, ok := d.byKey[method+" "+p]
	if !ok {
		return nil, fmt.Errorf("openapi: %s %s is not documented", method, path)
	}
	return e, nil
}
