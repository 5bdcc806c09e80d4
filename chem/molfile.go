package chem

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MolfileError is the error ParseMolfile returns: the 1-based line within
// the block and the reason.
type MolfileError struct {
	Line   int
	Reason string
}

func (e *MolfileError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// ParseMolfile reads one MDL molfile connection table (V2000 or V3000) —
// an SDF record up to "M  END" — into a Molecule. Charges come from the
// atom block or "M  CHG" (which overrides the atom block, as in the
// specification), isotopes from "M  ISO" or the atom block's mass
// difference; implicit hydrogens follow the valence model, and hydrogen
// atoms bonded to one heavy atom are folded into that atom's HCount. The
// molecule is checked and kekulized as ParseSMILES does. Atoms with a
// valence field or an "M  RAD" entry take no implicit hydrogens and are
// marked Bracket, as they would be written in SMILES. For molfile atoms
// Atom.Pos is the 0-based line of the atom in the block. Errors are
// *MolfileError.
//
// Stereochemistry is read as RDKit reads it: tetrahedral centres from the
// signed volume of their neighbours in a 3D block (header dimension "3D",
// or any non-zero z), and in a 2D block from wedge (bond stereo 1, V3000
// CFG=1) and hash (6, CFG=3) bonds whose first atom is the centre; the
// geometry of double bonds outside rings of fewer than 8 atoms from the
// coordinates. Only real stereocentres are marked: atoms whose neighbours
// a canonical ranking of the graph tells apart (or ring-stereo atoms such
// as those of cis-1,4-dimethylcyclohexane), and double bonds whose ends
// each carry distinguishable neighbours; "either" bonds (stereo 4 on a
// single, 3 on a double bond) leave theirs unmarked. Centres get
// Atom.Chirality "@" or "@@" and double bonds '/' and '\' marks on their
// neighbouring single bonds, which SMILES writes out.
func ParseMolfile(block string) (*Molecule, error) {
	lines := strings.Split(strings.ReplaceAll(block, "\r\n", "\n"), "\n")
	if len(lines) < 4 {
		return nil, &MolfileError{Line: len(lines), Reason: "too short for a molfile header and counts line"}
	}
	counts := lines[3]
	var m *Molecule
	var err error
	g := &geometry{is3D: strings.TrimSpace(field(lines[1], 20, 22)) == "3D"}
	if strings.Contains(counts, "V3000") {
		m, err = parseV3000(lines, g)
	} else {
		m, err = parseV2000(lines, g)
	}
	if err != nil {
		return nil, err
	}
	for _, b := range m.Bonds {
		if b.Order == BondAromatic {
			m.Atoms[b.A].Aromatic = true
			m.Atoms[b.B].Aromatic = true
		}
	}
	if err := m.check(); err != nil {
		var se *SMILESError
		if errors.As(err, &se) {
			return nil, &MolfileError{Line: se.Pos + 1, Reason: se.Reason}
		}
		return nil, err
	}
	adj := m.neighbours()
	if !g.is3D {
		for _, p := range g.pos {
			if math.Abs(p[2]) > 1e-4 {
				g.is3D = true // flagged 2D but drawn in 3D, as RDKit reads it
				break
			}
		}
	}
	points := g.neighbourPoints(m, adj)
	unknownAtom := make([]bool, len(m.Atoms))
	unknownBond := make([]bool, len(m.Bonds))
	for bi, b := range m.Bonds {
		switch {
		case g.bondStereo[bi] == stereoEither && b.Order == BondSingle:
			unknownAtom[b.A] = true
		case g.bondStereo[bi] == stereoEitherDouble && b.Order == BondDouble:
			unknownBond[bi] = true
		}
	}
	keep, newIndex, newBond := m.foldHydrogens()
	// Neighbour points in the new numbering, folded hydrogens as implicitH.
	nb := make([][]stereoNeighbour, len(m.Atoms))
	unknownA := make([]bool, len(m.Atoms))
	for old, pts := range points {
		if !keep[old] {
			continue
		}
		i := newIndex[old]
		unknownA[i] = unknownAtom[old]
		for _, n := range pts {
			if keep[n.atom] {
				n.atom = newIndex[n.atom]
			} else {
				n.atom = implicitH
			}
			nb[i] = append(nb[i], n)
		}
	}
	unknownB := make([]bool, len(m.Bonds))
	for old, nbi := range newBond {
		if nbi >= 0 {
			unknownB[nbi] = unknownBond[old]
		}
	}
	m.assignStereo(nb, g.is3D, unknownA, unknownB)
	return m, nil
}

// field returns the trimmed columns [from, to) of line, "" past its end.
func field(line string, from, to int) string {
	if from >= len(line) {
		return ""
	}
	return strings.TrimSpace(line[from:min(to, len(line))])
}

func parseV2000(lines []string, g *geometry) (*Molecule, error) {
	counts := lines[3]
	nAtoms, err1 := strconv.Atoi(field(counts, 0, 3))
	nBonds, err2 := strconv.Atoi(field(counts, 3, 6))
	if err1 != nil || err2 != nil || nAtoms < 0 || nBonds < 0 {
		return nil, &MolfileError{Line: 4, Reason: fmt.Sprintf("bad counts line %q", counts)}
	}
	if 4+nAtoms+nBonds > len(lines) {
		return nil, &MolfileError{Line: len(lines), Reason: fmt.Sprintf("block ends before its %d atoms and %d bonds", nAtoms, nBonds)}
	}
	m := &Molecule{}
	valence := make([]int, nAtoms)
	hasValence := make([]bool, nAtoms)
	for k := range nAtoms {
		ln := 4 + k
		line := lines[ln]
		sym := field(line, 31, 34)
		a, err := molfileAtom(sym, ln)
		if err != nil {
			return nil, err
		}
		var p vec3
		for c := range p {
			p[c], _ = strconv.ParseFloat(field(line, 10*c, 10*c+10), 64)
		}
		g.pos = append(g.pos, p)
		if d := field(line, 34, 36); d != "" && d != "0" {
			diff, err := strconv.Atoi(d)
			if err != nil {
				return nil, &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("bad mass difference %q", d)}
			}
			a.Isotope = int(math.Round(elements[a.atomicNumber()].Weight)) + diff
		}
		if c := field(line, 36, 39); c != "" && c != "0" {
			code, err := strconv.Atoi(c)
			if err != nil || code < 0 || code > 7 {
				return nil, &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("bad charge code %q", c)}
			}
			if code != 4 {
				a.Charge = 4 - code
			}
		}
		if v := field(line, 48, 51); v != "" && v != "0" {
			val, err := strconv.Atoi(v)
			if err != nil || val < 0 || val > 15 {
				return nil, &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("bad valence %q", v)}
			}
			valence[k] = val % 15
			hasValence[k] = true
		}
		m.Atoms = append(m.Atoms, a)
	}
	for k := range nBonds {
		ln := 4 + nAtoms + k
		line := lines[ln]
		a1, e1 := strconv.Atoi(field(line, 0, 3))
		a2, e2 := strconv.Atoi(field(line, 3, 6))
		typ, e3 := strconv.Atoi(field(line, 6, 9))
		if e1 != nil || e2 != nil || e3 != nil {
			return nil, &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("bad bond line %q", line)}
		}
		if err := m.addMolfileBond(a1, a2, typ, ln); err != nil {
			return nil, err
		}
		st, _ := strconv.Atoi(field(line, 9, 12))
		g.bondStereo = append(g.bondStereo, st)
	}
	chargeReset := false
	for ln := 4 + nAtoms + nBonds; ln < len(lines); ln++ {
		line := lines[ln]
		if strings.HasPrefix(line, "M  END") {
			break
		}
		prop := field(line, 0, 6)
		if prop != "M  CHG" && prop != "M  ISO" && prop != "M  RAD" {
			continue
		}
		f := strings.Fields(line[6:])
		if len(f) == 0 {
			return nil, &MolfileError{Line: ln + 1, Reason: prop + " without entries"}
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || len(f) < 1+2*n {
			return nil, &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("bad %s line", prop)}
		}
		if prop == "M  CHG" && !chargeReset {
			for i := range m.Atoms {
				m.Atoms[i].Charge = 0
			}
			chargeReset = true
		}
		for k := range n {
			idx, e1 := strconv.Atoi(f[1+2*k])
			val, e2 := strconv.Atoi(f[2+2*k])
			if e1 != nil || e2 != nil || idx < 1 || idx > len(m.Atoms) {
				return nil, &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("bad %s entry %q %q", prop, f[1+2*k], f[2+2*k])}
			}
			switch prop {
			case "M  CHG":
				m.Atoms[idx-1].Charge = val
			case "M  ISO":
				m.Atoms[idx-1].Isotope = val
			case "M  RAD":
				// A radical centre takes no implicit hydrogens.
				m.Atoms[idx-1].Bracket = true
			}
		}
	}
	m.fixValences(valence, hasValence)
	return m, nil
}

// molfileAtom makes the atom for an element symbol read at line ln.
func molfileAtom(sym string, ln int) (Atom, error) {
	switch sym {
	case "D":
		return Atom{Element: "H", Isotope: 2, Pos: ln}, nil
	case "T":
		return Atom{Element: "H", Isotope: 3, Pos: ln}, nil
	case "*", "A", "Q", "R", "R#", "L":
		return Atom{Element: "*", Pos: ln}, nil
	}
	if _, ok := elementBySymbol[sym]; !ok || sym == "*" {
		return Atom{}, &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("unknown element %q", sym)}
	}
	return Atom{Element: sym, Pos: ln}, nil
}

// addMolfileBond adds a bond read at line ln between 1-based atoms a1, a2.
func (m *Molecule) addMolfileBond(a1, a2, typ, ln int) error {
	n := len(m.Atoms)
	if a1 < 1 || a1 > n || a2 < 1 || a2 > n || a1 == a2 {
		return &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("bond between atoms %d and %d of %d", a1, a2, n)}
	}
	var order BondOrder
	switch typ {
	case 1:
		order = BondSingle
	case 2:
		order = BondDouble
	case 3:
		order = BondTriple
	case 4:
		order = BondAromatic
	default:
		return &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("unsupported bond type %d", typ)}
	}
	for _, b := range m.Bonds {
		if b.A == a1-1 && b.B == a2-1 || b.A == a2-1 && b.B == a1-1 {
			return &MolfileError{Line: ln + 1, Reason: fmt.Sprintf("second bond between atoms %d and %d", a1, a2)}
		}
	}
	m.Bonds = append(m.Bonds, Bond{A: a1 - 1, B: a2 - 1, Order: order})
	return nil
}

// fixValences applies valence fields: an atom with one takes exactly the
// hydrogens that complete that valence and no implicit ones.
func (m *Molecule) fixValences(valence []int, hasValence []bool) {
	adj := m.neighbours()
	for i, ok := range hasValence {
		if ok {
			bonds := 0.0
			for _, bi := range adj[i] {
				bonds += bondValence(m.Bonds[bi].Order)
			}
			m.Atoms[i].Bracket = true
			m.Atoms[i].HCount = max(valence[i]-int(math.Round(bonds)), 0)
		}
	}
}

// parseV3000 reads the CTAB block of a V3000 molfile.
func parseV3000(lines []string, g *geometry) (*Molecule, error) {
	m := &Molecule{}
	var valence []int
	var hasValence []bool
	section := ""
	for ln := 4; ln < len(lines); ln++ {
		line := lines[ln]
		if strings.HasPrefix(line, "M  END") {
			break
		}
		if !strings.HasPrefix(line, "M  V30 ") {
			continue
		}
		start := ln
		text := strings.TrimSpace(line[7:])
		for strings.HasSuffix(text, "-") && ln+1 < len(lines) {
			ln++
			text = strings.TrimSuffix(text, "-") + strings.TrimSpace(strings.TrimPrefix(lines[ln], "M  V30 "))
		}
		f := strings.Fields(text)
		switch {
		case len(f) >= 2 && f[0] == "BEGIN":
			section = f[1]
			continue
		case len(f) >= 1 && f[0] == "END":
			section = ""
			continue
		}
		switch section {
		case "ATOM":
			if len(f) < 6 {
				return nil, &MolfileError{Line: start + 1, Reason: "short V3000 atom line"}
			}
			a, err := molfileAtom(f[1], start)
			if err != nil {
				return nil, err
			}
			var p vec3
			for c := range p {
				p[c], _ = strconv.ParseFloat(f[2+c], 64)
			}
			g.pos = append(g.pos, p)
			for _, kv := range f[6:] {
				key, val, _ := strings.Cut(kv, "=")
				n, err := strconv.Atoi(val)
				switch key {
				case "CHG", "MASS", "VAL", "RAD":
					if err != nil {
						return nil, &MolfileError{Line: start + 1, Reason: fmt.Sprintf("bad %s", kv)}
					}
					switch key {
					case "CHG":
						a.Charge = n
					case "MASS":
						a.Isotope = n
					case "VAL":
						valence = append(valence, max(n, 0))
						hasValence = append(hasValence, true)
					case "RAD":
						a.Bracket = n != 0
					}
				}
			}
			if len(valence) == len(m.Atoms) {
				valence = append(valence, 0)
				hasValence = append(hasValence, false)
			}
			m.Atoms = append(m.Atoms, a)
		case "BOND":
			if len(f) < 4 {
				return nil, &MolfileError{Line: start + 1, Reason: "short V3000 bond line"}
			}
			typ, e1 := strconv.Atoi(f[1])
			a1, e2 := strconv.Atoi(f[2])
			a2, e3 := strconv.Atoi(f[3])
			if e1 != nil || e2 != nil || e3 != nil {
				return nil, &MolfileError{Line: start + 1, Reason: "bad V3000 bond line"}
			}
			if err := m.addMolfileBond(a1, a2, typ, start); err != nil {
				return nil, err
			}
			st := 0
			for _, kv := range f[4:] {
				switch kv {
				case "CFG=1":
					st = stereoWedge
				case "CFG=2":
					st = stereoEither
					if typ == 2 {
						st = stereoEitherDouble
					}
				case "CFG=3":
					st = stereoHash
				}
			}
			g.bondStereo = append(g.bondStereo, st)
		}
	}
	m.fixValences(valence, hasValence)
	return m, nil
}

// foldHydrogens removes plain hydrogen atoms bonded to exactly one heavy
// atom and counts them in that atom's HCount, as RDKit's RemoveHs does. It
// returns which atoms it kept, their new indices, and each old bond's new
// index (-1 when removed).
func (m *Molecule) foldHydrogens() (keep []bool, newIndex, newBond []int) {
	adj := m.neighbours()
	keep = make([]bool, len(m.Atoms))
	newIndex = make([]int, len(m.Atoms))
	for i, a := range m.Atoms {
		keep[i] = true
		if a.Element != "H" || a.Isotope != 0 || a.Charge != 0 || a.HCount != 0 || len(adj[i]) != 1 {
			continue
		}
		b := m.Bonds[adj[i][0]]
		heavy := b.other(i)
		if b.Order != BondSingle || m.Atoms[heavy].Element == "H" {
			continue
		}
		keep[i] = false
		m.Atoms[heavy].HCount++
	}
	var atoms []Atom
	for i, a := range m.Atoms {
		newIndex[i] = len(atoms)
		if keep[i] {
			atoms = append(atoms, a)
		}
	}
	var bonds []Bond
	newBond = make([]int, len(m.Bonds))
	for k, b := range m.Bonds {
		newBond[k] = -1
		if keep[b.A] && keep[b.B] {
			b.A, b.B = newIndex[b.A], newIndex[b.B]
			newBond[k] = len(bonds)
			bonds = append(bonds, b)
		}
	}
	m.Atoms, m.Bonds, m.order = atoms, bonds, nil
	return keep, newIndex, newBond
}
