package gpu

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"

	"omtx/jobs"
)

// DecodeParams decodes a model's Input.Parameters into v, which holds the
// defaults beforehand; absent or null parameters leave them. Unknown
// parameters are refused. Errors are *jobs.Error naming the field.
func DecodeParams(model string, raw json.RawMessage, v any) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return jobs.FieldError(te.Field, "must be a %s", te.Type)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return jobs.FieldError("parameters", "unknown parameter %s for %s", name, model)
	}
	return jobs.FieldError("parameters", "not a JSON object of %s parameters: %v", model, err)
}

// LinkOrCopy puts src at dst: a hard link when both are on one file
// system, a copy otherwise.
func LinkOrCopy(src, dst string) error {
	os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
