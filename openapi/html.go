package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
)

// HTML renders the document as one self-contained page: inline CSS, no
// script, no external resources. Every text is escaped by html/template.
func (d *Document) HTML() ([]byte, error) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d.page()); err != nil {
		return nil, fmt.Errorf("openapi: render html: %w", err)
	}
	return buf.Bytes(), nil
}

// pageView is the page's view model, built in Go; the template only loops.
type pageView struct {
	Title, Version, Description string
	SpecPath                    string
	Cookie                      string
	Groups                      []groupView
	Schemas                     []schemaView
}

type groupView struct {
	Tag string
	Ops []opView
}

type opView struct {
	Anchor, Method, Path, ID, Summary, Description string
	Auth                                           bool
	Params                                         []paramView
	Request                                        []bodyView
	Responses                                      []responseView
}

type paramView struct {
	Name, In, Description string
	Required              bool
	Type                  typeView
	Enum                  []string
}

type bodyView struct {
	ContentType string
	Type        typeView
	Fields      []fieldView
}

type responseView struct {
	Status int
	Text   string
	Error  bool
	Bodies []bodyView
}

type fieldView struct {
	Name, Description string
	Required          bool
	Type              typeView
	Enum              []string
	Fields            []fieldView
}

type schemaView struct {
	Name, Description string
	Type              typeView
	Fields            []fieldView
}

// typeView is a type as written on the page: a text, then optionally a
// link to a schema, then "or null".
type typeView struct {
	Text     string
	Link     string
	Nullable bool
}

// MethodClass picks the badge colour of an HTTP method.
func (o opView) MethodClass() string {
	switch o.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return "m-" + strings.ToLower(o.Method)
	}
	return "m-other"
}

func (d *Document) page() pageView {
	p := pageView{
		Title:       d.spec.Info.Title,
		Version:     d.spec.Info.Version,
		Description: d.spec.Info.Description,
		SpecPath:    SpecPath,
		Cookie:      d.cookie,
	}
	groups := map[string]int{}
	for _, e := range d.ops {
		tag := e.Tag
		if tag == "" {
			tag = "Other"
		}
		i, ok := groups[tag]
		if !ok {
			i = len(p.Groups)
			groups[tag] = i
			p.Groups = append(p.Groups, groupView{Tag: tag})
		}
		p.Groups[i].Ops = append(p.Groups[i].Ops, d.opView(e))
	}
	names := make([]string, 0, len(d.spec.Components.Schemas))
	for n := range d.spec.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := d.spec.Components.Schemas[n]
		p.Schemas = append(p.Schemas, schemaView{Name: n, Description: s.Description, Type: typeOf(s), Fields: d.fieldsOf(s, map[string]bool{n: true})})
	}
	return p
}

func (d *Document) opView(e *opEntry) opView {
	so := d.spec.Paths[e.path][strings.ToLower(e.Method)]
	v := opView{
		Anchor: "op-" + e.ID, Method: e.Method, Path: e.path, ID: e.ID,
		Summary: e.Summary, Description: e.Description, Auth: e.Auth,
	}
	for _, p := range e.params {
		v.Params = append(v.Params, paramView{
			Name: p.Name, In: p.In, Description: p.Description, Required: p.Required,
			Type: typeOf(p.Schema), Enum: enumText(p.Schema),
		})
	}
	if so.RequestBody != nil {
		v.Request = d.bodies(so.RequestBody.Content, true)
	}
	codes := make([]string, 0, len(so.Responses))
	for c := range so.Responses {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		r := so.Responses[c]
		var st int
		fmt.Sscan(c, &st)
		v.Responses = append(v.Responses, responseView{Status: st, Text: r.Description, Error: st >= 400, Bodies: d.bodies(r.Content, st < 400)})
	}
	return v
}

// bodies describes each content type; expand lists the fields too (the
// shared error body is only linked, not repeated under every status).
func (d *Document) bodies(content map[string]*mediaType, expand bool) []bodyView {
	cts := make([]string, 0, len(content))
	for ct := range content {
		cts = append(cts, ct)
	}
	sort.Strings(cts)
	var out []bodyView
	for _, ct := range cts {
		b := bodyView{ContentType: ct}
		if s := content[ct].Schema; s != nil {
			b.Type = typeOf(s)
			if expand {
				b.Fields = d.fieldsOf(s, map[string]bool{})
			}
		}
		out = append(out, b)
	}
	return out
}

// typeOf describes a schema's type in words.
func typeOf(s *Schema) typeView {
	if s == nil {
		return typeView{Text: "any"}
	}
	if s.Ref != "" {
		return typeView{Link: strings.TrimPrefix(s.Ref, "#/components/schemas/")}
	}
	if len(s.AnyOf) > 0 {
		var v typeView
		null := false
		var parts []string
		for _, b := range s.AnyOf {
			if b.Type == "null" {
				null = true
				continue
			}
			v = typeOf(b)
			parts = append(parts, v.Text+v.Link)
		}
		if len(parts) != 1 {
			v = typeView{Text: "one of " + strings.Join(parts, ", ")}
		}
		v.Nullable = v.Nullable || null
		return v
	}
	var v typeView
	var kinds []string
	for _, t := range s.types() {
		if t == "null" {
			v.Nullable = true
			continue
		}
		kinds = append(kinds, t)
	}
	if len(kinds) == 0 {
		v.Text = "any"
		return v
	}
	switch k := kinds[0]; {
	case k == "array":
		in := typeOf(s.Items)
		v.Text, v.Link = "array of "+in.Text, in.Link
		if in.Nullable && in.Link == "" {
			v.Text += " or null"
		}
	case k == "object" && s.AdditionalProperties != nil && s.AdditionalProperties != false:
		ap, _ := s.AdditionalProperties.(*Schema)
		in := typeOf(ap)
		v.Text, v.Link = "map of "+in.Text, in.Link
	case k == "string" && s.ContentMedia != "":
		v.Text = "file"
	case k == "string" && s.Format != "":
		v.Text = "string (" + s.Format + ")"
	case k == "string" && s.ContentEncoding != "":
		v.Text = "string (" + s.ContentEncoding + ")"
	default:
		v.Text = strings.Join(kinds, " or ")
	}
	return v
}

// maxNesting bounds how deep the page expands nested objects.
const maxNesting = 5

// fieldsOf lists the properties of an object, looking through arrays,
// maps, null unions and $refs. A component already being expanded on the
// way here (a recursive type) is only linked, as is anything nested
// deeper than maxNesting.
func (d *Document) fieldsOf(s *Schema, open map[string]bool) []fieldView {
	if s == nil || len(open) > maxNesting {
		return nil
	}
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		if open[name] {
			return nil
		}
		open[name] = true
		defer delete(open, name)
		return d.fieldsOf(d.spec.Components.Schemas[name], open)
	}
	switch {
	case len(s.AnyOf) > 0:
		for _, b := range s.AnyOf {
			if b.Type != "null" {
				return d.fieldsOf(b, open)
			}
		}
		return nil
	case s.Items != nil:
		return d.fieldsOf(s.Items, open)
	}
	if ap, ok := s.AdditionalProperties.(*Schema); ok {
		return d.fieldsOf(ap, open)
	}
	names := s.order
	if len(names) != len(s.Properties) {
		names = names[:0:0]
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var out []fieldView
	for _, n := range names {
		p := s.Properties[n]
		out = append(out, fieldView{
			Name: n, Description: p.Description, Type: typeOf(p),
			Required: contains(s.Required, n), Enum: enumText(p), Fields: d.fieldsOf(p, open),
		})
	}
	return out
}

func enumText(s *Schema) []string {
	enum := s.Enum
	if s.Items != nil && len(enum) == 0 {
		enum = s.Items.Enum
	}
	var out []string
	for _, e := range enum {
		switch x := e.(type) {
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		case nil:
			out = append(out, "null")
		default:
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Version}}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0 0 4px}h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:40px}
.lead{color:#57606a;white-space:pre-line}
nav ul{columns:2;padding-left:18px}nav a{text-decoration:none}
section.op{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;margin:16px 0}
.route{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:15px;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.badge{display:inline-block;min-width:56px;text-align:center;border-radius:4px;padding:1px 6px;color:#fff;font-weight:600;font-size:13px}
.m-get{background:#0969da}.m-post{background:#1a7f37}.m-put{background:#9a6700}.m-patch{background:#8250df}.m-delete{background:#cf222e}.m-other{background:#57606a}
.auth{font-size:12px;border:1px solid #bf8700;color:#7d4e00;border-radius:10px;padding:0 8px}
.opid{color:#57606a;font-size:12px}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}
code,.type{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
.type{color:#8250df}.req{color:#cf222e;font-size:12px}.enum{color:#57606a;font-size:13px}
ul.fields{list-style:none;padding-left:18px;border-left:2px solid #eaeef2;margin:4px 0}ul.fields li{margin:3px 0}
.status{font-weight:600}.status.err{color:#cf222e}.status.ok{color:#1a7f37}
h3{font-size:15px;margin:12px 0 4px}
</style>
</head>
<body>
<main>
<header>
<h1>{{.Title}}</h1>
<p>Version {{.Version}} · OpenAPI 3.1 document: <a href="{{.SpecPath}}">{{.SpecPath}}</a></p>
{{with .Description}}<p class="lead">{{.}}</p>{{end}}
<p>Routes marked <span class="auth">auth</span> need <code>Authorization: Bearer &lt;token&gt;</code> or the <code>{{.Cookie}}</code> cookie of a signed-in browser.</p>
</header>
<nav><h2>Contents</h2><ul>
{{range .Groups}}{{range .Ops}}<li><a href="#{{.Anchor}}"><code>{{.Method}} {{.Path}}</code></a> {{.Summary}}</li>{{end}}{{end}}
<li><a href="#schemas">Schemas</a></li>
</ul></nav>
{{range .Groups}}
<h2 id="tag-{{.Tag}}">{{.Tag}}</h2>
{{range .Ops}}
<section class="op" id="{{.Anchor}}" data-testid="{{.Anchor}}">
<div class="route"><span class="badge {{.MethodClass}}">{{.Method}}</span><strong>{{.Path}}</strong>{{if .Auth}}<span class="auth">auth</span>{{end}}<span class="opid">{{.ID}}</span></div>
{{with .Summary}}<p><strong>{{.}}</strong></p>{{end}}
{{with .Description}}<p class="lead">{{.}}</p>{{end}}
{{if .Params}}<h3>Parameters</h3>
<table><tr><th>Name</th><th>In</th><th>Type</th><th>Required</th><th>Description</th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td>{{template "type" .Type}}</td><td>{{if .Required}}yes{{else}}no{{end}}</td><td>{{.Description}}{{with .Enum}}<div class="enum">one of: {{range $i, $e := .}}{{if $i}}, {{end}}<code>{{$e}}</code>{{end}}</div>{{end}}</td></tr>
{{end}}</table>{{end}}
{{if .Request}}<h3>Request body</h3>{{range .Request}}{{template "body" .}}{{end}}{{end}}
<h3>Responses</h3>
{{range .Responses}}<div><span class="status {{if .Error}}err{{else}}ok{{end}}">{{.Status}}</span> {{.Text}}
{{range .Bodies}}{{template "body" .}}{{end}}</div>
{{end}}
</section>
{{end}}
{{end}}
<h2 id="schemas">Schemas</h2>
{{range .Schemas}}
<section class="op" id="schema-{{.Name}}" data-testid="schema-{{.Name}}">
<div class="route"><strong>{{.Name}}</strong> {{template "type" .Type}}</div>
{{with .Description}}<p>{{.}}</p>{{end}}
{{template "fields" .Fields}}
</section>
{{end}}
</main>
</body>
</html>
{{define "type"}}<span class="type">{{.Text}}{{if .Link}}{{if .Text}} {{end}}<a href="#schema-{{.Link}}">{{.Link}}</a>{{end}}{{if .Nullable}} or null{{end}}</span>{{end}}
{{define "body"}}<div><code>{{.ContentType}}</code>{{if or .Type.Text .Type.Link}}: {{template "type" .Type}}{{end}}{{template "fields" .Fields}}</div>{{end}}
{{define "fields"}}{{if .}}<ul class="fields">{{range .}}<li><code>{{.Name}}</code> {{template "type" .Type}}{{if .Required}} <span class="req">required</span>{{end}}{{with .Description}} — {{.}}{{end}}{{with .Enum}} <span class="enum">one of: {{range $i, $e := .}}{{if $i}}, {{end}}<code>{{$e}}</code>{{end}}</span>{{end}}{{template "fields" .Fields}}</li>{{end}}</ul>{{end}}{{end}}
`))
