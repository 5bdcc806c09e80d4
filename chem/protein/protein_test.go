package protein

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"unicode"
)

const ubiquitin = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts Options
		want string
		err  string // substring of the error; "" for success
	}{
		{"plain", "ACDEFGHIKLMNPQRSTVWY", Options{}, "ACDEFGHIKLMNPQRSTVWY", ""},
		{"lower case and line breaks", "mqifv ktltg\r\nktitl\tev\n", Options{}, "MQIFVKTLTGKTITLEV", ""},
		{"trailing stop removed", "MQIFVKTLTGK*\n", Options{}, "MQIFVKTLTGK", ""},
		{"stop inside", "MQIFV*KTLTGK", Options{}, "", "position 6: '*' (stop) inside the sequence"},
		{"two stops", "MQIFVKTLTGK**", Options{}, "", "position 12: '*' (stop) inside"},
		{"stop only", "*", Options{}, "", "position 1: '*' (stop) with no residues"},
		{"U and O accepted by default", "MQIFVKTLTGKUO", Options{}, "MQIFVKTLTGKUO", ""},
		{"U rejected when rare disallowed", "MQIFVKTLTGKu", Options{RejectRare: true}, "", "position 12: 'u' (selenocysteine) is not supported"},
		{"O rejected when rare disallowed", "MQIFVKTLTGKO", Options{RejectRare: true}, "", "position 12: 'O' (pyrrolysine)"},
		{"X rejected by default", "MQIFVKTLTGXK", Options{}, "", "position 11: 'X' (unknown residue) is not accepted"},
		{"X allowed", "MQIFVKTLTGXK", Options{AllowUnknown: true}, "MQIFVKTLTGXK", ""},
		{"J ambiguous", strings.Repeat("A", 56) + "J" + "AAA", Options{}, "", "position 57: 'J' is an ambiguous code (I or L), not an amino acid"},
		{"B ambiguous", "MQIFVKTLTGB", Options{}, "", "position 11: 'B' is an ambiguous code (D or N)"},
		{"Z allowed", "MQIFVKTLTGZ", Options{AllowAmbiguous: true}, "MQIFVKTLTGZ", ""},
		{"digits", "1 MQIFVKTLTG KTITLEVEPS\n21 DTIENVKAKI", Options{}, "", "position 1: '1' is a digit, not an amino acid"},
		{"digits later count residues only", "MQIFV KTLTG 11", Options{}, "", "position 11: '1' is a digit"},
		{"gap", "MQIFV-KTLTGK", Options{}, "", "position 6: '-' is an alignment gap"},
		{"dot gap", "MQIFV.KTLTGK", Options{}, "", "position 6: '.' is an alignment gap"},
		{"punctuation", "MQIFV#KTLTGK", Options{}, "", "position 6: '#' is not an amino acid"},
		{"non-ASCII", "MQIFVéKTLTGK", Options{}, "", "position 6: 'é' (U+00E9) is not an amino acid"},
		{"FASTA header pasted", ">sp|P0CG48\nMQIF", Options{}, "", "position 1: '>' starts a FASTA header"},
		{"empty", " \n\t", Options{}, "", "the sequence is empty"},
		{"too short", "MQIFV", Options{}, "", "the sequence has 5 residues; the minimum is 10"},
		{"custom min", "MQIFV", Options{MinLength: 5}, "MQIFV", ""},
		{"too long", strings.Repeat("A", 2001), Options{}, "", "the sequence has 2001 residues; the maximum is 2000"},
		{"custom max", strings.Repeat("A", 2001), Options{MaxLength: 5000}, strings.Repeat("A", 2001), ""},
		{"no max", strings.Repeat("A", 9000), Options{MaxLength: -1}, strings.Repeat("A", 9000), ""},
		{"custom max exceeded", strings.Repeat("A", 31), Options{MaxLength: 30}, "", "maximum is 30"},
		{"BOM", "\uFEFF" + ubiquitin, Options{}, ubiquitin, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in, tt.opts)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Normalize: %v", err)
				}
				if got != tt.want {
					t.Fatalf("Normalize = %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Normalize = %q, want error containing %q", got, tt.err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %q does not contain %q", err, tt.err)
			}
			var se *SequenceError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SequenceError", err)
			}
		})
	}
}

func TestSequenceErrorFields(t *testing.T) {
	_, err := Normalize(strings.Repeat("A", 56)+"J", Options{})
	var se *SequenceError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want *SequenceError", err)
	}
	if se.Position != 57 || se.Char != 'J' {
		t.Errorf("Position, Char = %d, %q; want 57, 'J'", se.Position, se.Char)
	}
}

func TestMolecularWeight(t *testing.T) {
	tests := []struct {
		seq  string
		want float64 // ExPASy ProtParam average mass
		tol  float64
	}{
		// Human ubiquitin, UniProt P0CG48 (mature chain): 8564.84 Da.
		{ubiquitin, 8564.84, 0.01},
		// Glycine alone: C2H5NO2, 75.07 Da.
		{"G", 75.0672, 0.001},
		// Tryptophan: C11H12N2O2, 204.23 Da.
		{"W", 204.2285, 0.001},
		// Selenocysteine: C3H7NO2Se, 168.05 Da.
		{"U", 168.0541, 0.001},
		// Pyrrolysine: C12H21N3O3, 255.31 Da.
		{"O", 255.3171, 0.001},
	}
	for _, tt := range tests {
		got, err := MolecularWeight(tt.seq)
		if err != nil {
			t.Fatalf("MolecularWeight(%.10q): %v", tt.seq, err)
		}
		if math.Abs(got-tt.want) > tt.tol {
			t.Errorf("MolecularWeight(%.10q) = %.4f, want %.4f", tt.seq, got, tt.want)
		}
	}
	if _, err := MolecularWeight("AAXAA"); err == nil || !strings.Contains(err.Error(), "position 3") {
		t.Errorf("MolecularWeight with X: err = %v, want position 3", err)
	}
	if _, err := MolecularWeight(""); err == nil {
		t.Error("MolecularWeight(\"\"): want error")
	}
}

func TestResidueMasses(t *testing.T) {
	// Average residue masses from the ExPASy/Unimod tables.
	want := map[byte]float64{
		'G': 57.0519, 'A': 71.0788, 'S': 87.0782, 'P': 97.1167, 'V': 99.1326,
		'T': 101.1051, 'C': 103.1388, 'L': 113.1594, 'I': 113.1594, 'N': 114.1038,
		'D': 115.0886, 'Q': 128.1307, 'K': 128.1741, 'E': 129.1155, 'M': 131.1926,
		'H': 137.1411, 'F': 147.1766, 'R': 156.1875, 'Y': 163.1760, 'W': 186.2132,
		'U': 150.0388, 'O': 237.3018,
	}
	for c, w := range want {
		got, ok := ResidueMass(c)
		if !ok || math.Abs(got-w) > 0.002 {
			t.Errorf("ResidueMass(%c) = %.4f, %v; want %.4f", c, got, ok, w)
		}
	}
	for _, c := range []byte("XBZJ*-1a") {
		if _, ok := ResidueMass(c); ok {
			t.Errorf("ResidueMass(%q) has a mass; want none", c)
		}
	}
}

func TestReadFASTA(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Record
	}{
		{
			name: "multi-line bodies, blank lines, comments, CRLF, BOM",
			in:   "\uFEFF;comment\r\n>sp|P0CG48|UBC_HUMAN Polyubiquitin-C  OS=Homo sapiens\r\nMQIFVKTLTG\r\nKTITLEV\r\n\r\n>two\r\nmq if\r\n; mid comment\r\nKK",
			want: []Record{
				{Header: "sp|P0CG48|UBC_HUMAN Polyubiquitin-C  OS=Homo sapiens", ID: "sp|P0CG48|UBC_HUMAN", Description: "Polyubiquitin-C  OS=Homo sapiens", Sequence: "MQIFVKTLTGKTITLEV", Line: 2},
				{Header: "two", ID: "two", Sequence: "mqifKK", Line: 6},
			},
		},
		{
			name: "Chai-1 ligand body kept as written",
			in:   ">protein|name=X\nMKKG\n>ligand|name=Y\nc1cc(c(cc1OCC(=O)NCCS)Cl)Cl\n",
			want: []Record{
				{Header: "protein|name=X", ID: "protein|name=X", Sequence: "MKKG", Line: 1},
				{Header: "ligand|name=Y", ID: "ligand|name=Y", Sequence: "c1cc(c(cc1OCC(=O)NCCS)Cl)Cl", Line: 3},
			},
		},
		{
			name: "space after >",
			in:   ">  id  desc \nAC\n",
			want: []Record{{Header: "id  desc", ID: "id", Description: "desc", Sequence: "AC", Line: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFASTA(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReadFASTAErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		err  string
	}{
		{"data before header", "\nMKKG\n>a\nMKK\n", 2, "line 2: sequence data before the first '>' header"},
		{"empty record in the middle", ">a\nMKK\n\n>b\n\n>c\nMK\n", 4, `line 4: record "b" has no sequence`},
		{"empty record at the end", ">a\nMKK\n>b\n", 3, `line 3: record "b" has no sequence`},
		{"empty record with only a comment", ">a\n;x\n", 1, `line 1: record "a" has no sequence`},
		{"empty header", ">a\nMKK\n>  \nMK\n", 3, "line 3: empty header"},
		{"empty file", "", 1, "line 1: no FASTA records"},
		{"only blank lines and comments", "\n;c\n\n", 3, "line 3: no FASTA records"},
		{"too long line", ">a\n" + strings.Repeat("A", MaxFASTALine+1), 2, "line 2: line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := ReadFASTA(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("ReadFASTA = %+v, want error", recs)
			}
			var fe *FASTAError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a *FASTAError", err, err)
			}
			if fe.Line != tt.line || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %q (line %d), want line %d containing %q", err, fe.Line, tt.line, tt.err)
			}
		})
	}
}

func readFixture(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadFASTA(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func TestReadFASTAFixtures(t *testing.T) {
	t.Run("chai 8cyo", func(t *testing.T) {
		recs := readFixture(t, "../../testdata/chai/8cyo.fasta")
		if len(recs) != 2 {
			t.Fatalf("got %d records, want 2", len(recs))
		}
		if recs[0].ID != "protein|8cyo-protein" || recs[1].ID != "ligand|8cyo-ligand" {
			t.Errorf("IDs = %q, %q", recs[0].ID, recs[1].ID)
		}
		if recs[1].Sequence != "c1cc(c(cc1OCC(=O)NCCS)Cl)Cl" {
			t.Errorf("ligand body = %q", recs[1].Sequence)
		}
		seq, err := Normalize(recs[0].Sequence, Options{})
		if err != nil {
			t.Fatalf("protein body: %v", err)
		}
		if len(seq) != 249 || !strings.HasPrefix(seq, "MKKGHHHHHHG") || !strings.HasSuffix(seq, "DTLPF") {
			t.Errorf("protein = %d residues %.12s...", len(seq), seq)
		}
		// The ligand body is a SMILES string, not a protein: the caller
		// must not validate it as one.
		if _, err := Normalize(recs[1].Sequence, Options{}); err == nil {
			t.Error("SMILES body validated as a protein")
		}
	})
	t.Run("boltz ligand", func(t *testing.T) {
		recs := readFixture(t, "../../testdata/boltz/ligand.fasta")
		wantIDs := []string{"A|protein|./examples/msa/seq1.a3m", "B|protein|./examples/msa/seq1.a3m", "C|ccd", "D|ccd", "E|smiles", "F|smiles"}
		if len(recs) != len(wantIDs) {
			t.Fatalf("got %d records, want %d", len(recs), len(wantIDs))
		}
		for i, r := range recs {
			if r.ID != wantIDs[i] || r.Line != 2*i+1 {
				t.Errorf("record %d: ID %q line %d, want %q line %d", i, r.ID, r.Line, wantIDs[i], 2*i+1)
			}
			if strings.Contains(r.ID, "|protein|") {
				seq, err := Normalize(r.Sequence, Options{})
				if err != nil || len(seq) != 384 {
					t.Errorf("record %d: %d residues, %v", i, len(seq), err)
				}
			}
		}
		if recs[2].Sequence != "SAH" || recs[4].Sequence != "N[C@@H](Cc1ccc(O)cc1)C(=O)O" {
			t.Errorf("bodies %q, %q", recs[2].Sequence, recs[4].Sequence)
		}
	})
	t.Run("boltz pdl1 binder", func(t *testing.T) {
		recs := readFixture(t, "../../testdata/boltz/output_boltz_pdl1_binder/pdl1_binder.fasta")
		if len(recs) != 2 || recs[0].ID != "A|protein|empty" || !strings.HasPrefix(recs[1].ID, "B|protein|/zhome/") {
			t.Fatalf("records: %+v", recs)
		}
		for i, want := range []int{94, 115} {
			seq, err := Normalize(recs[i].Sequence, Options{})
			if err != nil || len(seq) != want {
				t.Errorf("record %d: %d residues (%v), want %d", i, len(seq), err, want)
			}
			if mw, err := MolecularWeight(seq); err != nil || mw < 100*float64(len(seq)) || mw > 130*float64(len(seq)) {
				t.Errorf("record %d: MW %.1f, %v", i, mw, err)
			}
		}
	})
}

func FuzzFASTA(f *testing.F) {
	for _, s := range []string{
		">a\nMKK\n",
		"\uFEFF>a desc\r\nMK\r\nKK\r\n\r\n;c\r\n>b\r\nAA",
		">protein|name=X\nMKKG\n>ligand|name=Y\nCCO\n",
		"MKK\n>a\n",
		">\n",
		">a\n>b\nK",
		"",
		">sp|P0CG48\n" + ubiquitin + "\n",
	} {
		f.Add(s)
	}
	for _, path := range []string{
		"../../testdata/boltz/output_boltz_pdl1_binder/pdl1_binder.fasta",
		"../../testdata/boltz/ligand.fasta",
		"../../testdata/chai/8cyo.fasta",
	} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := ReadFASTA(strings.NewReader(s))
		if err != nil {
			var fe *FASTAError
			if !errors.As(err, &fe) || fe.Line < 1 || fe.Line > strings.Count(s, "\n")+1 || fe.Reason == "" {
				t.Fatalf("error %T %v does not name a line of the input", err, err)
			}
			return
		}
		if len(recs) == 0 {
			t.Fatal("no records and no error")
		}
		// Written back, one header and one body line each, the records read
		// back the same, each at its new line.
		var b strings.Builder
		for _, r := range recs {
			b.WriteString(">" + r.Header + "\n" + r.Sequence + "\n")
		}
		back, err := ReadFASTA(strings.NewReader(b.String()))
		if err != nil || len(back) != len(recs) {
			t.Fatalf("written records do not read back (%v):\n%s", err, b.String())
		}
		for i, r := range back {
			want := recs[i]
			want.Line = 2*i + 1
			if r != want {
				t.Fatalf("record %d: %+v, read back %+v", i, want, r)
			}
		}
		for _, r := range recs {
			if r.ID == "" || r.Sequence == "" || r.Line < 1 {
				t.Fatalf("bad record %+v", r)
			}
			if strings.ContainsFunc(r.Sequence, unicode.IsSpace) || strings.ContainsFunc(r.ID, unicode.IsSpace) {
				t.Fatalf("whitespace kept in %+v", r)
			}
			if seq, err := Normalize(r.Sequence, Options{AllowUnknown: true, MinLength: 1, MaxLength: -1}); err == nil {
				if _, err := MolecularWeight(seq); err != nil && !strings.ContainsAny(seq, "XBZJ") {
					t.Fatalf("MolecularWeight(%q): %v", seq, err)
				}
			}
		}
	})
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{ubiquitin, "mqifv ktltg\r\n*", "MQIFV*K", "1 MKK", "MKK-AA", "AAXBZJUO", "é>", "\xff\xfe"} {
		f.Add(s, false, false)
	}
	f.Fuzz(func(t *testing.T, s string, unknown, ambiguous bool) {
		opts := Options{MinLength: 1, MaxLength: -1, AllowUnknown: unknown, AllowAmbiguous: ambiguous}
		seq, err := Normalize(s, opts)
		if err != nil {
			var se *SequenceError
			if !errors.As(err, &se) || se.Position < 0 {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		for i := 0; i < len(seq); i++ {
			if seq[i] < 'A' || seq[i] > 'Z' {
				t.Fatalf("Normalize(%q) = %q: byte %q", s, seq, seq[i])
			}
		}
		if again, err := Normalize(seq, opts); err != nil || again != seq {
			t.Fatalf("Normalize not idempotent on %q: %q, %v", seq, again, err)
		}
	})
}
