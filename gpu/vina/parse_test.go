package vina

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestParsePosesFixture(t *testing.T) {
	f, err := os.Open("../../testdata/vina/1iep_ligand_vina_out.pdbqt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	poses, err := ParsePoses(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ aff, lb, ub float64 }{
		{-13.234, 0, 0}, {-11.293, 0.986, 1.681}, {-11.281, 3.044, 12.414}, {-11.146, 3.813, 12.238},
	}
	if len(poses) != len(want) {
		t.Fatalf("got %d poses, want %d", len(poses), len(want))
	}
	for i, w := range want {
		p := poses[i]
		if p.Rank != i+1 || p.Affinity != w.aff || p.RMSDLB != w.lb || p.RMSDUB != w.ub {
			t.Errorf("pose %d = rank %d %v %v %v, want %+v", i+1, p.Rank, p.Affinity, p.RMSDLB, p.RMSDUB, w)
		}
		if len(p.Atoms) != 40 {
			t.Errorf("pose %d has %d atoms, want 40", i+1, len(p.Atoms))
		}
	}
	a := poses[0].Atoms[0]
	if a.Serial != 1 || a.Name != "N" || a.X != 16.714 || a.Y != 51.912 || a.Z != 14.876 || a.Charge != -0.322 || a.Type != "N" {
		t.Errorf("first atom = %+v", a)
	}
	if a := poses[0].Atoms[2]; a.Type != "OA" {
		t.Errorf("third atom type %q, want OA", a.Type)
	}
}

func TestParsePosesErrors(t *testing.T) {
	atom := "ATOM      1  N   UNL     1      16.714  51.912  14.876  1.00  0.00    -0.322 N \n"
	for name, text := range map[string]string{
		"empty":        "",
		"no result":    "MODEL 1\n" + atom + "ENDMDL\n",
		"no atoms":     "MODEL 1\nREMARK VINA RESULT: -1 0 0\nENDMDL\n",
		"no ENDMDL":    "MODEL 1\nREMARK VINA RESULT: -1 0 0\n" + atom,
		"bad number":   "MODEL 1\nREMARK VINA RESULT: x 0 0\n" + atom + "ENDMDL\n",
		"short result": "MODEL 1\nREMARK VINA RESULT: -1\n" + atom + "ENDMDL\n",
		"bad coord":    "MODEL 1\nREMARK VINA RESULT: -1 0 0\nATOM      1  N   UNL     1      16.7x4  51.912  14.876\nENDMDL\n",
	} {
		if _, err := ParsePoses(strings.NewReader(text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseBox(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/vina/1iep_receptor.box.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBox(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Box{15.19, 53.903, 16.917, 20, 20, 20}); b != want {
		t.Errorf("box = %+v, want %+v", b, want)
	}
	if b.Volume() != 8000 {
		t.Errorf("volume %v", b.Volume())
	}
	for _, bad := range []string{"center_x = 1\n", "center_x 1", "centre_x = 1", "center_x = abc"} {
		if _, err := ParseBox(bad); err == nil {
			t.Errorf("ParseBox(%q): no error", bad)
		}
	}
	if err := checkTargets(os.DirFS("../../testdata")); err != nil {
		t.Error(err)
	}
}

func TestCleanReceptor(t *testing.T) {
	for _, tc := range []struct {
		file   string
		chains []string
		atoms  int
		hasH   bool
	}{
		{"vina/1iep_receptorH.pdb", nil, 4412, true},
		{"targets/1m17.pdb", nil, 2497, false}, // 14 atoms of alternate location B dropped,
		{"targets/6lu7.pdb", []string{"A"}, 2367, false},
	} {
		raw, err := os.ReadFile("../../testdata/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		clean, atoms, hasH, err := cleanReceptor(raw, tc.chains)
		if err != nil {
			t.Fatal(err)
		}
		if len(atoms) != tc.atoms || hasH != tc.hasH {
			t.Errorf("%s: %d atoms, hydrogens %v; want %d, %v", tc.file, len(atoms), hasH, tc.atoms, tc.hasH)
		}
		for _, a := range atoms {
			if a.Het || a.ResName == "HOH" || (tc.chains != nil && a.Chain != "A") {
				t.Fatalf("%s: kept %+v", tc.file, a)
			}
		}
		if n := bytes.Count(clean, []byte("\nATOM")) + 1; n != tc.atoms {
			t.Errorf("%s: cleaned PDB has %d ATOM lines", tc.file, n)
		}
	}
	// Selenomethionines (HETATM MSE in 1A8O) stay in the chain, as
	// methionines with a sulfur.
	raw, err := os.ReadFile("../../chem/structure/testdata/1A8O.pdb")
	if err != nil {
		t.Fatal(err)
	}
	clean, atoms, _, err := cleanReceptor(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	met, sd := 0, 0
	for _, a := range atoms {
		if a.ResName == "MSE" || a.Element == "Se" || a.Het {
			t.Fatalf("kept %+v", a)
		}
		if a.ResName == "MET" && a.Name == "CA" {
			met++
		}
		if a.ResName == "MET" && a.Name == "SD" {
			sd++
			if a.Element != "S" {
				t.Errorf("SD element %q", a.Element)
			}
		}
	}
	if met != 4 || sd != 4 {
		t.Errorf("1A8O: %d methionines, %d SD atoms; want the 4 selenomethionines as methionines", met, sd)
	}
	for _, line := range strings.Split(string(clean), "\n") {
		if strings.Contains(line, " MET ") {
			if a, err := ParsePDBAtom(line); err != nil || a.Het || a.ResName != "MET" {
				t.Fatalf("rewritten record %q: %+v %v", line, a, err)
			}
		}
	}
	if _, _, _, err := cleanReceptor([]byte("HETATM    1  O   HOH A   1       0.000   0.000   0.000  1.00  0.00           O\n"), nil); err == nil {
		t.Error("water only: no error")
	}
}

func TestParsePDBAtom(t *testing.T) {
	a, err := ParsePDBAtom("ATOM      2  CA AMET A 225      19.353  41.547  -3.887  0.50 72.26           C1+")
	if err != nil {
		t.Fatal(err)
	}
	want := PDBAtom{Serial: 2, Name: "CA", AltLoc: "A", ResName: "MET", Chain: "A", ResSeq: 225,
		X: 19.353, Y: 41.547, Z: -3.887, Occupancy: 0.5, BFactor: 72.26, Element: "C", Charge: 1}
	if a != want {
		t.Errorf("got %+v\nwant %+v", a, want)
	}
	z, _ := ParsePDBAtom("HETATM  100 ZN    ZN A 301      10.000  10.000  10.000  1.00 20.00          ZN2+")
	if !z.Het || z.Element != "Zn" || z.Charge != 2 {
		t.Errorf("zinc: %+v", z)
	}
}

func TestSDF(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/vina/1iep_ligand.sdf")
	if err != nil {
		t.Fatal(err)
	}
	recs := SplitSDF(string(raw) + string(raw))
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	if recs[0].Title() != "STI" {
		t.Errorf("title %q", recs[0].Title())
	}
	atoms, err := MolfileAtoms(recs[1].Molfile)
	if err != nil {
		t.Fatal(err)
	}
	if len(atoms) != 69 || atoms[0].Element != "C" || atoms[0].X != 11.879 || atoms[0].Z != 12.57 {
		t.Errorf("%d atoms, first %+v", len(atoms), atoms[0])
	}
	data := "x\n  test\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n" +
		"    1.0000    2.0000    3.0000 N   0  0  0  0  0  0  0  0  0  0  0  0\n" +
		"M  CHG  1   1   1\nM  END\n>  <affinity>  (1) \n-7.5\n\n>  <rank>\n2\n\n$$$$\n"
	recs = SplitSDF(data)
	if len(recs) != 1 || recs[0].Data["affinity"] != "-7.5" || recs[0].Data["rank"] != "2" {
		t.Fatalf("records %+v", recs)
	}
	atoms, err = MolfileAtoms(recs[0].Molfile)
	if err != nil || len(atoms) != 1 || atoms[0].Charge != 1 || atoms[0].Element != "N" {
		t.Errorf("atoms %+v, %v", atoms, err)
	}
}

func TestCIFValue(t *testing.T) {
	for in, want := range map[string]string{
		"": "?", ".": ".", "?": "?", "CA": "CA", "receptor chain A": "'receptor chain A'",
		"O5'": "O5'", "_x": "'_x'", "data_x": "'data_x'", "it's a b": "\"it's a b\"", "#1": "'#1'",
	} {
		if got := CIFValue(in); got != want {
			t.Errorf("CIFValue(%q) = %s, want %s", in, got, want)
		}
	}
	var buf bytes.Buffer
	c := NewCIFWriter(&buf)
	c.Loop("x", []string{"a", "b"}, [][]string{{"1"}})
	if err := c.Flush(); err == nil {
		t.Error("short row: no error")
	}
}

// cifAtom is an _atom_site row read back by readAtomSite.
type cifAtom map[string]string

// readAtomSite is a small CIF reader for the loops WriteComplex writes:
// it returns the rows of the loop of category as maps from item to value.
func readAtomSite(t *testing.T, text, category string) []cifAtom {
	t.Helper()
	var rows []cifAtom
	var cols []string
	inLoop, collecting := false, false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "loop_":
			inLoop, collecting, cols = true, false, nil
		case inLoop && strings.HasPrefix(line, "_"):
			name, _, _ := strings.Cut(line, " ")
			if cat, item, ok := strings.Cut(name[1:], "."); ok && cat == category {
				collecting = true
				cols = append(cols, item)
			} else {
				collecting = false
			}
		case line == "#" || strings.HasPrefix(line, "data_"):
			inLoop, collecting = false, false
		case collecting:
			vals := cifTokens(line)
			if len(vals) != len(cols) {
				t.Fatalf("row %q has %d values for %d columns", line, len(vals), len(cols))
			}
			r := cifAtom{}
			for i, c := range cols {
				r[c] = vals[i]
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func cifTokens(line string) []string {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if q := line[0]; q == '\'' || q == '"' {
			end := strings.IndexByte(line[1:], q)
			out = append(out, line[1:end+1])
			line = line[end+2:]
			continue
		}
		tok, rest, _ := strings.Cut(line, " ")
		out = append(out, tok)
		line = rest
	}
	return out
}

func TestWriteComplexRoundTrip(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/targets/1m17.pdb")
	if err != nil {
		t.Fatal(err)
	}
	_, rec, _, err := cleanReceptor(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec = append(rec, PDBAtom{Het: true, Serial: 9999, Name: "ZN", ResName: "ZN", Chain: "A", ResSeq: 1001,
		X: 1, Y: 2, Z: 3, Occupancy: 1, Element: "Zn", Charge: 2})
	sdf, err := os.ReadFile("../../testdata/vina/1iep_ligand.sdf")
	if err != nil {
		t.Fatal(err)
	}
	lig, err := MolfileAtoms(SplitSDF(string(sdf))[0].Molfile)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteComplex(&buf, "1M17", "imatinib", rec, lig); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if !strings.HasPrefix(text, "data_1M17\n") || !strings.Contains(text, "_entry.id 1M17\n") {
		t.Errorf("header: %.60q", text)
	}
	rows := readAtomSite(t, text, "atom_site")
	if len(rows) != len(rec)+len(lig) {
		t.Fatalf("%d atom_site rows, want %d", len(rows), len(rec)+len(lig))
	}
	for _, c := range atomSiteColumns {
		if _, ok := rows[0][c]; !ok {
			t.Errorf("no _atom_site.%s", c)
		}
	}
	near := func(s string, v float64) bool {
		f, err := strconv.ParseFloat(s, 64)
		return err == nil && math.Abs(f-v) < 5e-4
	}
	for i, a := range rec {
		r := rows[i]
		if r["auth_atom_id"] != a.Name || r["auth_comp_id"] != a.ResName || r["auth_seq_id"] != strconv.Itoa(a.ResSeq) ||
			!near(r["Cartn_x"], a.X) || !near(r["Cartn_y"], a.Y) || !near(r["Cartn_z"], a.Z) || r["type_symbol"] != a.Element {
			t.Fatalf("row %d = %v, atom %+v", i+1, r, a)
		}
		if r["id"] != strconv.Itoa(i+1) {
			t.Fatalf("row %d id %s", i+1, r["id"])
		}
	}
	if r := rows[0]; r["group_PDB"] != "ATOM" || r["label_asym_id"] != "A" || r["label_seq_id"] != "1" || r["label_entity_id"] != "1" {
		t.Errorf("first row %v", r)
	}
	zn := rows[len(rec)-1]
	if zn["group_PDB"] != "HETATM" || zn["label_seq_id"] != "." || zn["pdbx_formal_charge"] != "2" || zn["label_asym_id"] == "A" {
		t.Errorf("zinc row %v", zn)
	}
	ligAsym := rows[len(rec)]["label_asym_id"]
	for i, a := range lig {
		r := rows[len(rec)+i]
		if r["group_PDB"] != "HETATM" || r["label_comp_id"] != LigandCompID || r["label_asym_id"] != ligAsym ||
			r["type_symbol"] != a.Element || !near(r["Cartn_x"], a.X) || !near(r["Cartn_z"], a.Z) {
			t.Fatalf("ligand row %d = %v, atom %+v", i+1, r, a)
		}
	}
	if ligAsym == "A" || ligAsym == zn["label_asym_id"] {
		t.Errorf("ligand chain %s shared", ligAsym)
	}
	ents := readAtomSite(t, text, "entity")
	asyms := readAtomSite(t, text, "struct_asym")
	if len(ents) != 3 || len(asyms) != 3 || ents[2]["pdbx_description"] != "imatinib" || ents[0]["type"] != "polymer" {
		t.Errorf("entities %v, asyms %v", ents, asyms)
	}
	// The residue numbering restarts per chain and counts residues.
	last := rows[len(rec)-2]
	if n, _ := strconv.Atoi(last["label_seq_id"]); n < 250 || n > 330 {
		t.Errorf("last residue label_seq_id %s", last["label_seq_id"])
	}
}
