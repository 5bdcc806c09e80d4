package gpu_test

import (
	"encoding/json"
	"strings"
	"testing"

	"omtx/gpu"
	"omtx/jobs"
)

func TestDecodeParams(t *testing.T) {
	type params struct {
		Steps int  `json:"steps"`
		Fast  bool `json:"fast"`
	}
	cases := []struct {
		raw, field, msg string
		want            params
	}{
		{``, "", "", params{Steps: 3}},
		{`null`, "", "", params{Steps: 3}},
		{`{"steps": 7}`, "", "", params{Steps: 7}},
		{`{"steps": "7"}`, "steps", "must be a int", params{}},
		{`{"stepz": 7}`, "parameters", `unknown parameter "stepz" for demo`, params{}},
		{`[1]`, "parameters", "not a JSON object of demo parameters", params{}},
	}
	for _, c := range cases {
		p := params{Steps: 3}
		err := gpu.DecodeParams("demo", json.RawMessage(c.raw), &p)
		if c.field == "" {
			if err != nil || p != c.want {
				t.Errorf("%q: %+v, %v", c.raw, p, err)
			}
			continue
		}
		var je *jobs.Error
		if !jobs.IsCode(err, jobs.ErrInvalid) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: error %v, want %q", c.raw, err, c.msg)
		} else if je, _ = err.(*jobs.Error); je.Field != c.field {
			t.Errorf("%q: field %q, want %q", c.raw, je.Field, c.field)
		}
	}
}
