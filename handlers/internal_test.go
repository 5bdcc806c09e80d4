package handlers

import (
	"net/http"
	"net/http/httptest"
	"strconv"
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

func TestParsePasted(t *testing.T) {
	t.Parallel()
	const imatinib = "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"
	cases := []struct {
		name, text string
		want       string // name=smiles@line, joined by |
	}{
		{"name first", "imatinib," + imatinib + "\naspirin,CC(=O)Oc1ccccc1C(=O)O",
			"imatinib=" + imatinib + "@1|aspirin=CC(=O)Oc1ccccc1C(=O)O@2"},
		{"smiles first, detected", imatinib + ",imatinib\n\nCC(=O)Oc1ccccc1C(=O)O,aspirin",
			"imatinib=" + imatinib + "@1|aspirin=CC(=O)Oc1ccccc1C(=O)O@3"},
		{"smiles first with a comma in a name", "CCO,ethanol, absolute\nCC(=O)O,acetic acid",
			"ethanol, absolute=CCO@1|acetic acid=CC(=O)O@2"},
		{"name first with a comma in a name", "ethanol, absolute,CCO\nacetic acid,CC(=O)O",
			"ethanol, absolute=CCO@1|acetic acid=CC(=O)O@2"},
		{"header smiles,name", "SMILES,Name\nCCO,CCN", "CCN=CCO@2"},
		{"header name,smiles", "name,smiles\nCCO,CCN", "CCO=CCN@2"},
		{"smi lines", "CCO ethanol\nc1ccccc1\tbenzene\n# comment\nCCN", "ethanol=CCO@1|benzene=c1ccccc1@2|=CCN@4"},
		{"smiles header alone", "SMILES\nCCO", "=CCO@2"},
		{"an invalid SMILES keeps the majority's order", imatinib + ",imatinib\nC1CC,broken\nCCO,ethanol",
			"imatinib=" + imatinib + "@1|broken=C1CC@2|ethanol=CCO@3"},
	}
	for _, c := range cases {
		ligs, lines := parsePasted(c.text)
		var got []string
		for i, l := range ligs {
			got = append(got, l.Name+"="+l.SMILES+"@"+strconv.Itoa(lines[i]))
		}
		if strings.Join(got, "|") != c.want {
			t.Errorf("%s: %q, want %q", c.name, strings.Join(got, "|"), c.want)
		}
	}
}
