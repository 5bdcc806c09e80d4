package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxProblems bounds how many problems one validation reports.
const maxProblems = 20

// Validate checks a JSON response body against the schema documented for
// the operation at method and path (echo style, as in Operation.Path) and
// status. Each problem names the JSON pointer where it was found, as in
// "/results/3/affinity: expected number, got string". A status whose
// response documents no JSON body accepts an empty body, or any body when
// it documents another content type.
func (d *Document) Validate(method, path string, status int, body []byte) error {
	e, err := d.lookup(method, path)
	if err != nil {
		return err
	}
	s, ok := e.responses[status]
	if !ok {
		return fmt.Errorf("openapi: %s %s: status %d is not documented", e.Method, e.Path, status)
	}
	if s == nil {
		if len(bytes.TrimSpace(body)) == 0 || (status == e.Status && len(e.Produces) > 0) {
			return nil
		}
		return fmt.Errorf("openapi: %s %s: status %d documents no JSON body, got %d bytes", e.Method, e.Path, status, len(body))
	}
	if err := d.check(s, body); err != nil {
		return fmt.Errorf("openapi: %s %s %d response: %w", e.Method, e.Path, status, err)
	}
	return nil
}

// ValidateRequest checks a JSON request body against the operation's
// documented request schema.
func (d *Document) ValidateRequest(method, path string, body []byte) error {
	e, err := d.lookup(method, path)
	if err != nil {
		return err
	}
	if e.request == nil {
		if len(bytes.TrimSpace(body)) == 0 {
			return nil
		}
		return fmt.Errorf("openapi: %s %s documents no JSON request body", e.Method, e.Path)
	}
	if err := d.check(e.request, body); err != nil {
		return fmt.Errorf("openapi: %s %s request: %w", e.Method, e.Path, err)
	}
	return nil
}

func (d *Document) check(s *Schema, body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON: trailing data after the value")
	}
	var c checker
	c.d = d
	c.value(s, v, "")
	return errors.Join(c.problems...)
}

type checker struct {
	d        *Document
	problems []error
}

func (c *checker) fail(ptr, format string, args ...any) {
	if len(c.problems) >= maxProblems {
		return
	}
	if ptr == "" {
		ptr = "/"
	}
	c.problems = append(c.problems, fmt.Errorf("%s: %s", ptr, fmt.Sprintf(format, args...)))
}

// ref finds the component a $ref names.
func (c *checker) ref(s *Schema) (*Schema, bool) {
	name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/")
	if !ok {
		return nil, false
	}
	t, ok := c.d.spec.Components.Schemas[name]
	return t, ok
}

// value checks v against s, recording problems under ptr.
func (c *checker) value(s *Schema, v any, ptr string) {
	if s.Ref != "" {
		t, ok := c.ref(s)
		if !ok {
			c.fail(ptr, "unresolved $ref %s", s.Ref)
			return
		}
		c.value(t, v, ptr)
	}
	if len(s.AnyOf) > 0 {
		c.anyOf(s.AnyOf, v, ptr)
	}
	if ts := s.types(); len(ts) > 0 {
		got := jsonType(v)
		if !typeAllows(ts, got, v) {
			c.fail(ptr, "expected %s, got %s", strings.Join(ts, " or "), got)
			return
		}
	}
	if len(s.Enum) > 0 && !inEnum(s.Enum, v) {
		c.fail(ptr, "value %s is not one of %s", show(v), showEnum(s.Enum))
	}
	switch x := v.(type) {
	case string:
		if s.Format == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				c.fail(ptr, "%q is not an RFC 3339 date-time", x)
			}
		}
	case []any:
		if s.Items != nil {
			for i, it := range x {
				c.value(s.Items, it, ptr+"/"+strconv.Itoa(i))
			}
		}
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				c.fail(ptr+"/"+escape(r), "required property is missing")
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			kp := ptr + "/" + escape(k)
			if ps, ok := s.Properties[k]; ok {
				c.value(ps, x[k], kp)
				continue
			}
			switch ap := s.AdditionalProperties.(type) {
			case bool:
				if !ap {
					c.fail(kp, "property is not documented")
				}
			case *Schema:
				c.value(ap, x[k], kp)
			}
		}
	}
}

// anyOf accepts v when one branch does; otherwise it reports the problems
// of the first branch that is not plain null, the informative one.
func (c *checker) anyOf(branches []*Schema, v any, ptr string) {
	var first []error
	for i, b := range branches {
		sub := checker{d: c.d}
		sub.value(b, v, ptr)
		if len(sub.problems) == 0 {
			return
		}
		if first == nil && (b.Type != "null" || i == len(branches)-1) {
			first = sub.problems
		}
	}
	for _, p := range first {
		if len(c.problems) < maxProblems {
			c.problems = append(c.problems, p)
		}
	}
}

// jsonType names the JSON type of a value decoded with UseNumber.
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if isInteger(x) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func isInteger(n json.Number) bool {
	if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return err == nil && f == math.Trunc(f) && !math.IsInf(f, 0)
}

func typeAllows(allowed []string, got string, v any) bool {
	if slices.Contains(allowed, got) {
		return true
	}
	return got == "integer" && slices.Contains(allowed, "number")
}

func inEnum(enum []any, v any) bool {
	for _, e := range enum {
		switch x := e.(type) {
		case nil:
			if v == nil {
				return true
			}
		case string:
			if s, ok := v.(string); ok && s == x {
				return true
			}
		case json.Number:
			if n, ok := v.(json.Number); ok && sameNumber(n, x) {
				return true
			}
		}
	}
	return false
}

func sameNumber(a, b json.Number) bool {
	fa, ea := a.Float64()
	fb, eb := b.Float64()
	return ea == nil && eb == nil && fa == fb
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

func showEnum(enum []any) string {
	parts := make([]string, len(enum))
	for i, e := range enum {
		parts[i] = show(e)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// escape writes a property name as a JSON pointer token (RFC 6901).
func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
