package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"omtx/jobs"
	"omtx/openapi"
)

// bodyKind is how a request's body is encoded.
type bodyKind int

const (
	bodyJSON bodyKind = iota
	bodyMultipart
)

// kindOf tells a JSON body from a multipart upload; any other content
// type answers 415. A body without a content type is taken as JSON.
func kindOf(r *http.Request, multipartOK bool) (bodyKind, error) {
	ct := r.Header.Get(echo.HeaderContentType)
	if ct == "" {
		return bodyJSON, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
	case mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json"):
		return bodyJSON, nil
	case mt == echo.MIMEMultipartForm && multipartOK:
		return bodyMultipart, nil
	}
	want := "application/json"
	if multipartOK {
		want += " or multipart/form-data"
	}
	return 0, &jobs.Error{Code: codeUnsupportedMedia, Message: fmt.Sprintf("content type %q is not accepted: send %s", ct, want)}
}

// decodeJSON reads one JSON value from r into v. Its errors say what was
// wrong and where: the field of a value of the wrong type, the byte
// offset of a syntax error. A field v does not have, and a key given twice
// in one object (a misspelt option would be ignored, a repeated one read
// differently by different parsers), are refused with the field named.
func decodeJSON(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("read the request body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return jobs.Errorf(jobs.ErrInvalid, "malformed JSON: more data after the value at byte offset %d", dec.InputOffset())
	}
	return duplicateKeys(data)
}

// duplicateKeys refuses a JSON document (already known to be valid) in
// which an object names a key twice. Keys are compared as the decoder
// matches them to fields: ASCII and Unicode case ignored.
func duplicateKeys(data []byte) error {
	type frame struct {
		object bool
		path   string
		key    string // the current key of an object
		index  int    // the current index of an array
		seen   map[string]bool
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	// at is the path of the value about to be read.
	at := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			if f.path == "" {
				return f.key
			}
			return f.path + "." + f.key
		}
		return fmt.Sprintf("%s[%d]", f.path, f.index)
	}
	// done ends a value inside the top frame.
	done := func() {
		if len(stack) > 0 && !stack[len(stack)-1].object {
			stack[len(stack)-1].index++
		}
	}
	expectKey := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return jsonError(err)
		}
		if expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				done()
				expectKey = len(stack) > 0 && stack[len(stack)-1].object
				continue
			}
			f := stack[len(stack)-1]
			key, _ := tok.(string)
			folded := strings.ToLower(strings.ToUpper(key))
			f.key = key
			if f.seen[folded] {
				return jobs.FieldError(at(), "is given twice in one object: give each field once")
			}
			f.seen[folded] = true
			expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, path: at(), seen: map[string]bool{}})
			expectKey = true
			continue
		case json.Delim('['):
			stack = append(stack, &frame{path: at()})
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		done()
		expectKey = len(stack) > 0 && stack[len(stack)-1].object
	}
}

// jsonError turns a decoding error into the caller's mistake, unless the
// body was too large or could not be read.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return jobs.Errorf(jobs.ErrInvalid, "the request body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return jobs.Errorf(jobs.ErrInvalid, "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &syn):
		return jobs.Errorf(jobs.ErrInvalid, "malformed JSON at byte offset %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := jsonPath(typ.Field)
		if field == "" {
			return jobs.Errorf(jobs.ErrInvalid, "the body must be a JSON object, not %s", typ.Value)
		}
		return jobs.FieldError(field, "must be %s, not %s (at byte offset %d)", typeName(typ.Type), typ.Value, typ.Offset)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return jobs.FieldError(name, "is not a field of this request (check its spelling)")
	}
	var ue *json.UnsupportedValueError
	if errors.As(err, &ue) {
		return err
	}
	// Errors of UnmarshalText or UnmarshalJSON methods are the caller's.
	return jobs.Errorf(jobs.ErrInvalid, "malformed JSON: %s", err)
}

// jsonPath turns encoding/json's "ligands.3.smiles" into
// "ligands[3].smiles".
func jsonPath(f string) string {
	if f == "" {
		return ""
	}
	parts := strings.Split(f, ".")
	var b strings.Builder
	for i, p := range parts {
		if _, err := strconv.Atoi(p); err == nil && i > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// typeName says what JSON a Go type takes.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return "another type"
}

// bindJSON checks the content type and decodes the body into v.
func bindJSON(c echo.Context, v any) error {
	if _, err := kindOf(c.Request(), false); err != nil {
		return err
	}
	return decodeJSON(c.Request().Body, v)
}

// bindQuery fills the fields of the struct v points to that carry a
// `query` tag (strings and whole numbers) from the URL's query.
func bindQuery(c echo.Context, v any) error {
	q := c.QueryParams()
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("query"), ",")
		if name == "" || name == "-" || !q.Has(name) {
			continue
		}
		raw := q.Get(name)
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(raw)
		case reflect.Int:
			if raw == "" {
				continue
			}
			n, err := strconv.Atoi(raw)
			if err != nil {
				return jobs.FieldError(name, "must be a whole number, not %q", raw)
			}
			f.SetInt(int64(n))
		case reflect.Bool:
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return jobs.FieldError(name, "must be true or false, not %q", raw)
			}
			f.SetBool(b)
		}
	}
	return nil
}

// maxFormMemory is how much of a multipart upload is held in memory;
// the rest goes to temporary files until the request ends.
const maxFormMemory = 8 << 20

// upload is a parsed multipart/form-data request.
type upload struct {
	form *multipart.Form
}

// parseUpload reads a multipart form. The caller closes the upload.
func parseUpload(c echo.Context) (*upload, error) {
	r := c.Request()
	if err := r.ParseMultipartForm(maxFormMemory); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, jobs.Errorf(jobs.ErrInvalid, "malformed multipart/form-data body: %s", err)
	}
	return &upload{form: r.MultipartForm}, nil
}

// value returns a form value, and whether it was given.
func (u *upload) value(name string) (string, bool) {
	vs := u.form.Value[name]
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// file opens the file part name; a missing one is a field error.
func (u *upload) file(name string) (multipart.File, string, error) {
	fhs := u.form.File[name]
	if len(fhs) == 0 {
		return nil, "", jobs.FieldError(name, "a file part %q is required", name)
	}
	f, err := fhs[0].Open()
	if err != nil {
		return nil, "", fmt.Errorf("open uploaded file: %w", err)
	}
	return f, fhs[0].Filename, nil
}

// once refuses a field or file part of the names given more than once:
// which one counts would be a guess.
func (u *upload) once(fields []openapi.FormField) error {
	for _, f := range fields {
		if len(u.form.Value[f.Name])+len(u.form.File[f.Name]) > 1 {
			return jobs.FieldError(f.Name, "is given more than once: give it once")
		}
	}
	return nil
}

// optionalText reads an optional file part as text of at most limit
// bytes; ok is false when the part is absent or empty (a file input left
// empty sends a part with no name and no bytes).
func (u *upload) optionalText(name string, limit int64) (text, filename string, ok bool, err error) {
	fhs := u.form.File[name]
	if len(fhs) == 0 || (fhs[0].Filename == "" && fhs[0].Size == 0) {
		return "", "", false, nil
	}
	if fhs[0].Size > limit {
		return "", "", false, jobs.FieldError(name, "%s is %.1f MB; the limit is %.0f MB", fhs[0].Filename,
			float64(fhs[0].Size)/(1<<20), float64(limit)/(1<<20))
	}
	f, err := fhs[0].Open()
	if err != nil {
		return "", "", false, fmt.Errorf("open uploaded file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return "", "", false, fmt.Errorf("read uploaded file: %w", err)
	}
	return string(b), fhs[0].Filename, true, nil
}

// Close removes the upload's temporary files.
func (u *upload) Close() {
	if u != nil && u.form != nil {
		u.form.RemoveAll()
	}
}

// decodeJSONValue decodes a JSON form value into v, naming field in its
// errors.
func decodeJSONValue(field, raw string, v any) error {
	if err := decodeJSON(bytes.NewReader([]byte(raw)), v); err != nil {
		var je *jobs.Error
		if errors.As(err, &je) {
			msg := je.Message
			if je.Field != "" {
				msg = je.Field + ": " + msg
			}
			return jobs.FieldError(field, "%s", msg)
		}
		return err
	}
	return nil
}
