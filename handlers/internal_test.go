package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestRecover(t *testing.T) {
	t.Parallel()
	s := &server{}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	err := s.recover(func(echo.Context) error { panic("boom") })(c)
	if err == nil || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("recover: %v", err)
	}
	if status, d := errorOf(err); status != http.StatusInternalServerError || d.Message != "internal error" {
		t.Errorf("a panic answers %d %+v", status, d)
	}
}

func TestContentDisposition(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, want string }{
		{"results.csv", `attachment; filename="results.csv"`},
		{"evil\"\r\nname/../x_42.cif", `attachment; filename="evilname_.._x_42.cif"`},
		{"../../etc/passwd", `attachment; filename="_.._etc_passwd"`},
		{"a\\b;c%d.txt", `attachment; filename="a_b_c_d.txt"`},
		{"résumé ☃.cif", `attachment; filename="r_sum_ _.cif"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%98%83.cif`},
		{"\x00\x7f\u202e", `attachment; filename="download"`},
		{"...", `attachment; filename="download"`},
		{"", `attachment; filename="download"`},
		{"tab\there", `attachment; filename="tabhere"`},
		{"line\u2028sep", `attachment; filename="linesep"`},
	}
	for _, c := range cases {
		if got := contentDisposition(c.name); got != c.want {
			t.Errorf("contentDisposition(%q) = %s, want %s", c.name, got, c.want)
		}
	}
	long := contentDisposition(strings.Repeat("é", 200) + ".cif")
	if !strings.HasSuffix(long, ".cif") || len(long) > 4*maxFilenameLen+100 {
		t.Errorf("long name: %s", long)
	}
}

func TestValidRequestID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"abc":                     true,
		"A-b_c.9":                 true,
		strings.Repeat("x", 64):   true,
		strings.Repeat("x", 65):   false,
		"":                        false,
		"a b":                     false,
		"a\nb":                    false,
		"a/b":                     false,
		"ü":                       false,
		"550e8400-e29b-41d4-a716": true,
	} {
		if got := validRequestID(id); got != want {
			t.Errorf("validRequestID(%q) = %v", id, got)
		}
	}
}

func TestJSONPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                 "",
		"job_name":         "job_name",
		"ligands.3.smiles": "ligands[3].smiles",
		"webhook.url":      "webhook.url",
	} {
		if got := jsonPath(in); got != want {
			t.Errorf("jsonPath(%q) = %q, want %q", in, got, want)
		}
	}
}
