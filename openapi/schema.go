package openapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Schema is the subset of JSON Schema 2020-12 that Build emits and
// Validate checks. An empty Schema encodes as {} and accepts any value.
type Schema struct {
	Ref             string             `json:"$ref,omitempty"`
	Type            any                `json:"type,omitempty"` // string, or []string for a union with "null"
	Format          string             `json:"format,omitempty"`
	ContentEncoding string             `json:"contentEncoding,omitempty"`
	ContentMedia    string             `json:"contentMediaType,omitempty"`
	Description     string             `json:"description,omitempty"`
	Enum            []any              `json:"enum,omitempty"`
	Examples        []any              `json:"examples,omitempty"`
	Properties      map[string]*Schema `json:"properties,omitempty"`
	Required        []string           `json:"required,omitempty"`
	Items           *Schema            `json:"items,omitempty"`
	// AdditionalProperties is a *Schema, or false for a Go struct, whose
	// encoding never carries fields beyond its own.
	AdditionalProperties any       `json:"additionalProperties,omitempty"`
	AnyOf                []*Schema `json:"anyOf,omitempty"`

	order  []string     // property names in Go field order, for the HTML page
	target reflect.Type // the named struct a Ref points at, resolved to a name last
}

// types lists the JSON types a schema allows; nil means any.
func (s *Schema) types() []string {
	switch t := s.Type.(type) {
	case string:
		return []string{t}
	case []string:
		return t
	}
	return nil
}

// nullable returns s widened to also accept null.
func nullable(s *Schema) *Schema {
	switch {
	case s.Ref != "" || s.target != nil:
		return &Schema{AnyOf: []*Schema{s, {Type: "null"}}}
	case s.Type == nil && s.AnyOf == nil:
		return s // any already accepts null
	case s.AnyOf != nil:
		s.AnyOf = append(s.AnyOf, &Schema{Type: "null"})
		return s
	}
	ts := s.types()
	for _, t := range ts {
		if t == "null" {
			return s
		}
	}
	s.Type = append(append([]string(nil), ts...), "null")
	if s.Enum != nil {
		s.Enum = append(s.Enum, nil)
	}
	return s
}

// Enumer is implemented by named string types that list their values;
// Build documents them as the schema's enum.
type Enumer interface{ Enum() []string }

var (
	timeType          = reflect.TypeFor[time.Time]()
	rawType           = reflect.TypeFor[json.RawMessage]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	enumerType        = reflect.TypeFor[Enumer]()
)

// generator turns Go types into schemas. Named structs are generated
// once, into components, and referred to by $ref everywhere else, which
// is also what lets a type refer to itself.
type generator struct {
	structs  map[reflect.Type]*Schema // named struct -> its component schema
	order    []reflect.Type           // discovery order of structs
	forced   map[reflect.Type]string  // component names fixed by the caller
	inFlight map[reflect.Type]bool    // named non-struct types being expanded
	names    map[reflect.Type]string  // final component names, set by nameAll
}

func newGenerator() *generator {
	return &generator{
		structs:  map[reflect.Type]*Schema{},
		forced:   map[reflect.Type]string{},
		inFlight: map[reflect.Type]bool{},
	}
}

// schemaOf returns the schema of values of type t.
func (g *generator) schemaOf(t reflect.Type) (*Schema, error) {
	switch {
	case t == timeType:
		return &Schema{Type: "string", Format: "date-time"}, nil
	case t == rawType:
		return &Schema{}, nil
	}
	if t.Kind() == reflect.Pointer {
		inner, err := g.schemaOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return nullable(inner), nil
	}
	if t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType) {
		return &Schema{}, nil // its own encoding; the shape is not knowable
	}
	if t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return &Schema{Type: "string", Enum: enumOf(t)}, nil
	}
	if t.Kind() == reflect.Struct && t.Name() != "" {
		if _, err := g.component(t); err != nil {
			return nil, err
		}
		return &Schema{target: t}, nil
	}
	if t.Name() != "" && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
		if g.inFlight[t] {
			return nil, fmt.Errorf("openapi: recursive type %s is only supported through a named struct", t)
		}
		g.inFlight[t] = true
		defer delete(g.inFlight, t)
	}
	switch t.Kind() {
	case reflect.Bool:
		return &Schema{Type: "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return &Schema{Type: "integer", Enum: enumOf(t)}, nil
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: "number"}, nil
	case reflect.String:
		return &Schema{Type: "string", Enum: enumOf(t)}, nil
	case reflect.Interface:
		return &Schema{}, nil
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 &&
			!reflect.PointerTo(t.Elem()).Implements(textMarshalerType) && !reflect.PointerTo(t.Elem()).Implements(jsonMarshalerType) {
			return &Schema{Type: "string", ContentEncoding: "base64"}, nil
		}
		items, err := g.schemaOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return &Schema{Type: "array", Items: items}, nil
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !t.Key().Implements(textMarshalerType) {
				return nil, fmt.Errorf("openapi: unsupported map key type %s", t.Key())
			}
		}
		vals, err := g.schemaOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return &Schema{Type: "object", AdditionalProperties: vals}, nil
	case reflect.Struct:
		return g.structSchema(t)
	}
	return nil, fmt.Errorf("openapi: unsupported type %s (kind %s)", t, t.Kind())
}

// enumOf asks a named type for its values through Enumer.
func enumOf(t reflect.Type) []any {
	var vals []string
	switch {
	case t.Implements(enumerType):
		vals = reflect.Zero(t).Interface().(Enumer).Enum()
	case reflect.PointerTo(t).Implements(enumerType):
		vals = reflect.New(t).Interface().(Enumer).Enum()
	default:
		return nil
	}
	return stringsToAny(vals)
}

func stringsToAny(ss []string) []any {
	if len(ss) == 0 {
		return nil
	}
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// component generates the schema of a named struct once.
func (g *generator) component(t reflect.Type) (*Schema, error) {
	if s, ok := g.structs[t]; ok {
		return s, nil
	}
	s := &Schema{}
	g.structs[t] = s // registered before expansion: a field of type t refers back here
	g.order = append(g.order, t)
	body, err := g.structSchema(t)
	if err != nil {
		delete(g.structs, t)
		return nil, err
	}
	*s = *body
	return s, nil
}

// field is one JSON property of a struct, after embedding is resolved.
type field struct {
	name     string
	tagged   bool
	index    []int
	typ      reflect.Type
	optional bool // omitempty, omitzero, or reached through an embedded pointer
	quoted   bool // the ",string" option
	tag      reflect.StructTag
}

// structSchema follows encoding/json's rules for which fields a struct
// encodes: exported fields, json names, "-", embedded structs promoted
// with the shallower (or the tagged) field winning a name conflict.
func (g *generator) structSchema(t reflect.Type) (*Schema, error) {
	fields := jsonFields(t)
	s := &Schema{Type: "object", Properties: map[string]*Schema{}, AdditionalProperties: false}
	for _, f := range fields {
		fs, err := g.schemaOf(f.typ)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.name, err)
		}
		if f.quoted {
			switch fs.Type {
			case "integer", "number", "boolean":
				fs = &Schema{Type: "string"}
			}
		}
		fs = annotate(fs, f.tag)
		s.Properties[f.name] = fs
		s.order = append(s.order, f.name)
		if !f.optional {
			s.Required = append(s.Required, f.name)
		}
	}
	return s, nil
}

// annotate applies the doc, enum and example tags of a field to its schema.
func annotate(s *Schema, tag reflect.StructTag) *Schema {
	doc, hasDoc := tag.Lookup("doc")
	enum, hasEnum := tag.Lookup("enum")
	example, hasExample := tag.Lookup("example")
	if !hasDoc && !hasEnum && !hasExample {
		return s
	}
	if s.target != nil || s.AnyOf != nil {
		// A $ref keeps its siblings in 3.1, but an enum or example of a
		// struct does not fit in a tag.
		hasEnum, hasExample = false, false
	}
	if hasDoc {
		s.Description = doc
	}
	if hasEnum {
		target := s
		if s.Items != nil && s.Items.target == nil && s.Items.AnyOf == nil {
			target = s.Items // a list of enum values: constrain each item
		}
		var vals []any
		numeric := false
		for _, t := range target.types() {
			numeric = numeric || t == "integer" || t == "number"
		}
		for _, v := range splitList(enum) {
			var n json.Number
			if numeric && json.Unmarshal([]byte(v), &n) == nil {
				vals = append(vals, n)
				continue
			}
			vals = append(vals, v)
		}
		for _, t := range target.types() {
			if t == "null" {
				vals = append(vals, nil)
			}
		}
		target.Enum = vals
	}
	if hasExample {
		s.Examples = []any{exampleValue(example, s)}
	}
	return s
}

// exampleValue reads an example tag as JSON when it parses and the
// schema is not a plain string, and as a string otherwise.
func exampleValue(ex string, s *Schema) any {
	if s.Type != "string" {
		var v any
		if json.Unmarshal([]byte(ex), &v) == nil {
			return v
		}
	}
	return ex
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// jsonFields lists the fields encoding/json would encode for struct t.
func jsonFields(t reflect.Type) []field {
	type queued struct {
		typ      reflect.Type
		index    []int
		optional bool
	}
	var all []field
	seen := map[reflect.Type]bool{}
	level := []queued{{typ: t}}
	for len(level) > 0 {
		var next []queued
		for _, q := range level {
			if seen[q.typ] {
				continue
			}
			seen[q.typ] = true
			for i := 0; i < q.typ.NumField(); i++ {
				sf := q.typ.Field(i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				index := append(append([]int(nil), q.index...), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, queued{typ: ft, index: index, optional: q.optional || sf.Type.Kind() == reflect.Pointer})
					continue
				}
				f := field{name: name, tagged: name != "", index: index, typ: sf.Type, tag: sf.Tag, optional: q.optional}
				if f.name == "" {
					f.name = sf.Name
				}
				for _, o := range strings.Split(opts, ",") {
					switch o {
					case "omitempty", "omitzero":
						f.optional = true
					case "string":
						f.quoted = true
					}
				}
				all = append(all, f)
			}
		}
		level = next
	}
	// Resolve name conflicts: the shallowest wins; at equal depth a single
	// tagged field wins; otherwise the name is dropped.
	byName := map[string][]field{}
	var names []string
	for _, f := range all {
		if _, ok := byName[f.name]; !ok {
			names = append(names, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	var out []field
	for _, n := range names {
		fs := byName[n]
		depth := len(fs[0].index)
		var top []field
		for _, f := range fs {
			if len(f.index) < depth {
				depth, top = len(f.index), nil
			}
			if len(f.index) == depth {
				top = append(top, f)
			}
		}
		if len(top) > 1 {
			var tagged []field
			for _, f := range top {
				if f.tagged {
					tagged = append(tagged, f)
				}
			}
			top = tagged
		}
		if len(top) == 1 {
			out = append(out, top[0])
		}
	}
	// Go field order: by index path.
	sortFields(out)
	return out
}

func sortFields(fs []field) {
	less := func(a, b []int) bool {
		for i := 0; i < len(a) && i < len(b); i++ {
			if a[i] != b[i] {
				return a[i] < b[i]
			}
		}
		return len(a) < len(b)
	}
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && less(fs[j].index, fs[j-1].index); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

var (
	pkgPrefix = regexp.MustCompile(`[A-Za-z0-9_.\-]*/`)
	badName   = regexp.MustCompile(`[^A-Za-z0-9._\-]+`)
)

// shortName is a type's name with the package paths of type arguments
// trimmed, made safe for a component key.
func shortName(t reflect.Type) string {
	n := pkgPrefix.ReplaceAllString(t.Name(), "")
	n = strings.NewReplacer("[", "_", "]", "", ",", "_", "*", "Ptr").Replace(n)
	return strings.Trim(badName.ReplaceAllString(n, "_"), "_")
}

// nameAll gives every component its final name: the short type name when
// it is unique, else qualified by the package name, else by the full
// package path. The choice depends only on the set of types, not on the
// order they were found in.
func (g *generator) nameAll() error {
	g.names = map[reflect.Type]string{}
	taken := map[string]reflect.Type{}
	for t, n := range g.forced {
		if u, ok := taken[n]; ok && u != t {
			return fmt.Errorf("openapi: component name %q given to both %s and %s", n, u, t)
		}
		taken[n] = t
		g.names[t] = n
	}
	count := map[string]int{}
	qcount := map[string]int{}
	for _, t := range g.order {
		if _, ok := g.forced[t]; ok {
			continue
		}
		count[shortName(t)]++
		qcount[qualified(t)]++
	}
	for _, t := range g.order {
		if _, ok := g.forced[t]; ok {
			continue
		}
		n := shortName(t)
		if _, clash := taken[n]; clash || count[n] > 1 {
			n = qualified(t)
			if _, clash := taken[n]; clash || qcount[n] > 1 {
				n = strings.Trim(badName.ReplaceAllString(strings.ReplaceAll(t.PkgPath(), "/", "."), "_"), "_") + "." + shortName(t)
			}
		}
		g.names[t] = n
	}
	for _, t := range g.order {
		if _, ok := g.forced[t]; ok {
			continue
		}
		if u, ok := taken[g.names[t]]; ok && u != t {
			return fmt.Errorf("openapi: cannot name %s and %s apart", u, t)
		}
		taken[g.names[t]] = t
	}
	return nil
}

func qualified(t reflect.Type) string {
	pkg := t.PkgPath()
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		pkg = pkg[i+1:]
	}
	return badName.ReplaceAllString(pkg, "_") + "." + shortName(t)
}

// resolve sets every $ref in s to its component's final name.
func (g *generator) resolve(s *Schema, seen map[*Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.target != nil {
		s.Ref = "#/components/schemas/" + g.names[s.target]
	}
	for _, p := range s.Properties {
		g.resolve(p, seen)
	}
	g.resolve(s.Items, seen)
	if ap, ok := s.AdditionalProperties.(*Schema); ok {
		g.resolve(ap, seen)
	}
	for _, a := range s.AnyOf {
		g.resolve(a, seen)
	}
}
