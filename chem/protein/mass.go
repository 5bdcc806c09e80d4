package protein

import "fmt"

// Average atomic weights of the elements found in amino acids. They are the
// values behind the ExPASy ProtParam / Compute pI/Mw residue table (for
// example Phe C9H9NO = 147.1766, Cys C3H5NOS = 103.1388), so that weights
// match what scientists see on ExPASy.
const (
	massC  = 12.011
	massH  = 1.00794
	massN  = 14.00674
	massO  = 15.9994
	massS  = 32.06
	massSe = 78.96
)

// composition is an elemental formula: C, H, N, O, S, Se counts.
type composition [6]int

func (c composition) mass() float64 {
	return float64(c[0])*massC + float64(c[1])*massH + float64(c[2])*massN +
		float64(c[3])*massO + float64(c[4])*massS + float64(c[5])*massSe
}

// residueFormula is the formula of each residue as it occurs in a chain
// (the free amino acid minus H2O).
var residueFormula = map[byte]composition{
	'G': {2, 3, 1, 1, 0, 0},
	'A': {3, 5, 1, 1, 0, 0},
	'S': {3, 5, 1, 2, 0, 0},
	'P': {5, 7, 1, 1, 0, 0},
	'V': {5, 9, 1, 1, 0, 0},
	'T': {4, 7, 1, 2, 0, 0},
	'C': {3, 5, 1, 1, 1, 0},
	'L': {6, 11, 1, 1, 0, 0},
	'I': {6, 11, 1, 1, 0, 0},
	'N': {4, 6, 2, 2, 0, 0},
	'D': {4, 5, 1, 3, 0, 0},
	'Q': {5, 8, 2, 2, 0, 0},
	'K': {6, 12, 2, 1, 0, 0},
	'E': {5, 7, 1, 3, 0, 0},
	'M': {5, 9, 1, 1, 1, 0},
	'H': {6, 7, 3, 1, 0, 0},
	'F': {9, 9, 1, 1, 0, 0},
	'R': {6, 12, 4, 1, 0, 0},
	'Y': {9, 9, 1, 2, 0, 0},
	'W': {11, 10, 2, 1, 0, 0},
	'U': {3, 5, 1, 1, 0, 1},   // selenocysteine
	'O': {12, 19, 3, 2, 0, 0}, // pyrrolysine
}

// residueMass holds the average residue masses in daltons, computed once
// from residueFormula.
var residueMass = func() map[byte]float64 {
	m := make(map[byte]float64, len(residueFormula))
	for k, c := range residueFormula {
		m[k] = c.mass()
	}
	return m
}()

var waterMass = composition{0, 2, 0, 1, 0, 0}.mass()

// ResidueMass returns the average mass in daltons of residue code c (upper
// case) within a chain, and false when c has no defined mass (X, B, Z, J or
// anything that is not a residue code).
func ResidueMass(c byte) (float64, bool) {
	m, ok := residueMass[c]
	return m, ok
}

// MolecularWeight returns the average molecular weight in daltons of the
// linear, unmodified chain seq (the sum of residue masses plus one water),
// as ExPASy ProtParam computes it. seq must be upper case without
// whitespace, as Normalize returns it. It fails on codes without a defined
// mass (X, B, Z, J) rather than guess.
func MolecularWeight(seq string) (float64, error) {
	if seq == "" {
		return 0, &SequenceError{Reason: "the sequence is empty"}
	}
	total := waterMass
	for i := 0; i < len(seq); i++ {
		m, ok := residueMass[seq[i]]
		if !ok {
			return 0, &SequenceError{Position: i + 1, Char: rune(seq[i]),
				Reason: fmt.Sprintf("%q has no defined mass", seq[i])}
		}
		total += m
	}
	return total, nil
}
