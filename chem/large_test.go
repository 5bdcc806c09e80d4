package chem

import (
	"fmt"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

// largeInputs are long and deeply nested SMILES with their expected atom
// counts and formulas. Parsing them took quadratic time (a duplicate-bond
// scan over all bonds per bond, a scan of the neighbour order per
// neighbour) and ring perception allocated per ring bond; they must now
// parse in linear time. Speed is measured by BenchmarkParseLargeSMILES.
func largeInputs() []struct {
	name, smiles, formula string
	atoms                 int
} {
	const chain, depth, rings = 200000, 10000, 5000
	return []struct {
		name, smiles, formula string
		atoms                 int
	}{
		{"chain", strings.Repeat("C", chain), fmt.Sprintf("C%dH%d", chain, 2*chain+2), chain},
		{"nested", strings.Repeat("C(", depth) + "C" + strings.Repeat(")", depth),
			fmt.Sprintf("C%dH%d", depth+1, 2*(depth+1)+2), depth + 1},
		{"nested branches", "C" + strings.Repeat("(CC", depth) + strings.Repeat(")", depth),
			fmt.Sprintf("C%dH%d", 2*depth+1, 2*(2*depth+1)+2), 2*depth + 1},
		{"star", "*" + strings.Repeat("(C)", chain/10) + "C", fmt.Sprintf("C%dH%d*", chain/10+1, 3*(chain/10+1)), chain/10 + 2},
		{"phenylene chain", "[H]" + strings.Repeat("c1ccc(cc1)", rings) + "[H]",
			fmt.Sprintf("C%dH%d", 6*rings, 4*rings+2), 6*rings + 2},
		{"cyclohexane chain", strings.Repeat("C1CCC(CC1)", rings), fmt.Sprintf("C%dH%d", 6*rings, 10*rings+2), 6 * rings},
		{"ring closures", ringClosures(2000), fmt.Sprintf("C%dH%d*", 2001, 2003), 2002},
	}
}

// ringClosures returns a wildcard opening n rings, a spacer carbon, and
// a chain of n carbons each closing one of the rings.
func ringClosures(n int) string {
	var sb strings.Builder
	sb.WriteByte('*')
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "%%(%d)", i)
	}
	sb.WriteByte('C')
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "C%%(%d)", i)
	}
	return sb.String()
}

func TestParseLargeSMILES(t *testing.T) {
	for _, tc := range largeInputs() {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseSMILES(tc.smiles)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if len(m.Atoms) != tc.atoms {
				t.Errorf("%d atoms, want %d", len(m.Atoms), tc.atoms)
			}
			p := m.Properties()
			if p.Formula != tc.formula {
				t.Errorf("formula %s, want %s", p.Formula, tc.formula)
			}
			m2, err := ParseSMILES(m.SMILES())
			if err != nil {
				t.Fatalf("written SMILES does not parse: %v", err)
			}
			if f := m2.Formula(); f != tc.formula {
				t.Errorf("written SMILES has formula %s, want %s", f, tc.formula)
			}
		})
	}
}

// TestDeepNesting parses and writes branches nested 200,000 deep with the
// goroutine stack limited to 8 MB: parsing, checking and writing must not
// recurse per nesting level.
func TestDeepNesting(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(8 << 20))
	const depth = 200000
	s := strings.Repeat("*(", depth) + "*" + strings.Repeat(")*", depth)
	m, err := ParseSMILES(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Atoms) != 2*depth+1 {
		t.Fatalf("%d atoms, want %d", len(m.Atoms), 2*depth+1)
	}
	m2, err := ParseSMILES(m.SMILES())
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Atoms) != 2*depth+1 {
		t.Errorf("written SMILES has %d atoms, want %d", len(m2.Atoms), 2*depth+1)
	}
	if _, err := ParseSMILES(strings.Repeat("C(", depth)); err == nil {
		t.Error("unclosed branches accepted")
	}
}

func BenchmarkParseLargeSMILES(b *testing.B) {
	for _, tc := range largeInputs() {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.smiles)))
			for b.Loop() {
				m, err := ParseSMILES(tc.smiles)
				if err != nil {
					b.Fatal(err)
				}
				m.Properties()
			}
		})
	}
}

// TestPropertiesOnePass checks that Properties agrees with the separate
// methods.
func TestPropertiesOnePass(t *testing.T) {
	for _, s := range []string{"CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "O=C(O)c1ccccc1OC(C)=O", "c1cc[nH]c1", "C[N+](C)(C)C.[Cl-]", "*"} {
		m, err := ParseSMILES(s)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Properties()
		if p.Formula != m.Formula() || math.Abs(p.MolecularWeight-m.MolecularWeight()) > 1e-9 || p.HeavyAtoms != m.HeavyAtoms() ||
			p.HBondDonors != m.HBondDonors() || p.HBondAcceptors != m.HBondAcceptors() {
			t.Errorf("%s: Properties %+v differ from the methods", s, p)
		}
	}
}
