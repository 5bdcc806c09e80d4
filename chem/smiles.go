package chem

import (
	"fmt"
	"strings"
)

// SMILESError is the error ParseSMILES returns: where in the input the
// problem lies and what it is.
type SMILESError struct {
	Pos    int // 0-based byte offset into the SMILES string
	Reason string
}

// Error reports the position as a 1-based column, as a user counts it:
// "position 3: unexpected ')'". Positions quoted inside Reason are 1-based
// columns too.
func (e *SMILESError) Error() string {
	return fmt.Sprintf("position %d: %s", e.Pos+1, e.Reason)
}

// ParseSMILES parses a SMILES string (OpenSMILES grammar) and checks it the
// way RDKit's sanitization does: ring closures, valences (RDKit's allowed
// valence table with its charge rules), aromatic atoms outside rings, and
// aromatic systems that cannot be kekulized. Implicit hydrogens are
// assigned to organic-subset atoms and aromatic bonds are given Kekulé
// orders. Every error is a *SMILESError.
func ParseSMILES(s string) (*Molecule, error) {
	n := len(s)/2 + 1 // room for the atoms and bonds of typical SMILES
	mol := &Molecule{Atoms: make([]Atom, 0, n), Bonds: make([]Bond, 0, n+4), order: make([][]int, 0, n),
		orderBlock: make([]int, 4*(len(s)+1))} // an atom takes at least one byte
	p := &smilesParser{s: s, mol: mol, prev: -1, rings: map[int]ringOpening{}}
	err := p.parse()
	mol.orderBlock = nil
	if err != nil {
		return nil, err
	}
	if err := p.mol.check(); err != nil {
		return nil, err
	}
	return p.mol, nil
}

// ringOpening remembers a ring-closure digit waiting for its partner.
type ringOpening struct {
	atom   int
	bond   pendingBond
	pos    int
	number int
	slot   int // index of the ring partner's placeholder in atom's neighbour order
}

// pendingBond is a bond symbol read but not yet attached to a second atom.
type pendingBond struct {
	set    bool
	order  BondOrder
	stereo byte
	pos    int
}

type smilesParser struct {
	s     string
	i     int
	mol   *Molecule
	prev  int   // atom the next atom bonds to; -1 at the start of a part
	stack []int // atoms at open branches
	// branchPos holds the position of each open '('.
	branchPos []int
	bond      pendingBond
	rings     map[int]ringOpening
	// afterOpen is set between a '(' and the branch's first atom.
	afterOpen bool
}

func (p *smilesParser) errorf(pos int, format string, args ...any) error {
	return &SMILESError{Pos: pos, Reason: fmt.Sprintf(format, args...)}
}

func (p *smilesParser) parse() error {
	s := p.s
	if strings.TrimSpace(s) == "" {
		return p.errorf(0, "empty SMILES")
	}
	for p.i < len(s) {
		c := s[p.i]
		switch {
		case c == '(':
			if p.prev < 0 {
				return p.errorf(p.i, "branch '(' without a preceding atom")
			}
			if p.bond.set {
				return p.errorf(p.bond.pos, "bond '%c' before '('", s[p.bond.pos])
			}
			if p.afterOpen {
				return p.errorf(p.i, "branch '(' opens right after another '('")
			}
			p.stack = append(p.stack, p.prev)
			p.branchPos = append(p.branchPos, p.i)
			p.i++
			p.afterOpen = true
			if p.i < len(s) && s[p.i] == ')' {
				return p.errorf(p.i, "empty branch '()'")
			}
		case c == ')':
			if len(p.stack) == 0 {
				return p.errorf(p.i, "unexpected ')'")
			}
			if p.bond.set {
				return p.errorf(p.bond.pos, "bond '%c' not followed by an atom", s[p.bond.pos])
			}
			p.prev = p.stack[len(p.stack)-1]
			p.stack = p.stack[:len(p.stack)-1]
			p.branchPos = p.branchPos[:len(p.branchPos)-1]
			p.i++
		case c == '.':
			if p.prev < 0 {
				return p.errorf(p.i, "unexpected '.'")
			}
			if p.bond.set {
				return p.errorf(p.bond.pos, "bond '%c' not followed by an atom", s[p.bond.pos])
			}
			if len(p.stack) > 0 {
				return p.errorf(p.i, "'.' inside a branch")
			}
			p.prev = -1
			p.i++
			if p.i == len(s) {
				return p.errorf(p.i-1, "SMILES ends with '.'")
			}
		case strings.IndexByte("-=#$:/\\", c) >= 0:
			if p.prev < 0 {
				return p.errorf(p.i, "bond '%c' without a preceding atom", c)
			}
			if p.bond.set {
				return p.errorf(p.i, "two bonds in a row")
			}
			p.bond = bondSymbol(c, p.i)
			p.i++
		case c >= '0' && c <= '9' || c == '%':
			if err := p.ringClosure(); err != nil {
				return err
			}
		default:
			if err := p.atom(); err != nil {
				return err
			}
		}
	}
	if p.bond.set {
		return p.errorf(p.bond.pos, "bond '%c' not followed by an atom", s[p.bond.pos])
	}
	if len(p.stack) > 0 {
		pos := p.branchPos[len(p.branchPos)-1]
		return p.errorf(len(s), "unclosed branch '(' opened at position %d", pos+1)
	}
	if len(p.rings) > 0 {
		first := ringOpening{pos: len(s)}
		for _, r := range p.rings {
			if r.pos < first.pos {
				first = r
			}
		}
		return p.errorf(len(s), "unclosed ring %d opened at position %d", first.number, first.pos+1)
	}
	return nil
}

func bondSymbol(c byte, pos int) pendingBond {
	b := pendingBond{set: true, pos: pos}
	switch c {
	case '-':
		b.order = BondSingle
	case '=':
		b.order = BondDouble
	case '#':
		b.order = BondTriple
	case '$':
		b.order = BondQuad
	case ':':
		b.order = BondAromatic
	case '/', '\\':
		b.order = BondSingle
		b.stereo = c
	}
	return b
}

// ringClosure reads a ring-closure number: a digit, %nn or %(n...).
func (p *smilesParser) ringClosure() error {
	s, start := p.s, p.i
	if p.prev < 0 {
		return p.errorf(start, "ring closure without a preceding atom")
	}
	if p.afterOpen {
		return p.errorf(start, "ring closure inside a branch before its first atom")
	}
	var n int
	if s[p.i] == '%' {
		p.i++
		switch {
		case p.i+1 < len(s) && isDigit(s[p.i]) && isDigit(s[p.i+1]):
			n = int(s[p.i]-'0')*10 + int(s[p.i+1]-'0')
			p.i += 2
		case p.i < len(s) && s[p.i] == '(':
			j := p.i + 1
			for j < len(s) && isDigit(s[j]) && j-p.i <= 5 {
				n = n*10 + int(s[j]-'0')
				j++
			}
			if j == p.i+1 || j >= len(s) || s[j] != ')' {
				return p.errorf(start, "bad ring number after '%%('")
			}
			p.i = j + 1
		default:
			return p.errorf(start, "'%%' must be followed by two digits")
		}
	} else {
		n = int(s[p.i] - '0')
		p.i++
	}
	bond := p.bond
	p.bond = pendingBond{}
	open, ok := p.rings[n]
	if !ok {
		// Reserve the ring partner's place in the neighbour order.
		p.mol.neighbourOrder(p.prev, ringPlaceholder-n)
		p.rings[n] = ringOpening{atom: p.prev, bond: bond, pos: start, number: n, slot: len(p.mol.order[p.prev]) - 1}
		return nil
	}
	delete(p.rings, n)
	if open.atom == p.prev {
		return p.errorf(start, "ring %d closes on the atom that opened it", n)
	}
	if open.bond.set && bond.set && open.bond.order != bond.order {
		return p.errorf(start, "ring %d closed with bond '%c' but opened with '%c'", n, s[bond.pos], s[open.bond.pos])
	}
	// A mark written at the closing digit points from the closing atom to
	// the opening one; keep the bond's direction as written.
	from, to := open.atom, p.prev
	if bond.set {
		from, to = p.prev, open.atom
	} else {
		bond = open.bond
	}
	if p.bonded(open.atom, p.prev) {
		return p.errorf(start, "duplicate bond between the atoms at positions %d and %d",
			p.mol.Atoms[from].Pos+1, p.mol.Atoms[to].Pos+1)
	}
	p.addBond(from, to, bond, false)
	p.mol.order[open.atom][open.slot] = p.prev
	p.mol.neighbourOrder(p.prev, open.atom)
	return nil
}

// bonded reports whether atoms a and b are already bonded, looking through
// the shorter of their neighbour orders (chain neighbours and closed ring
// partners; open ring placeholders and implicit H are negative).
func (p *smilesParser) bonded(a, b int) bool {
	oa, ob := p.mol.order[a], p.mol.order[b]
	if len(ob) < len(oa) {
		oa, b = ob, a
	}
	for _, v := range oa {
		if v == b {
			return true
		}
	}
	return false
}

// addBond joins atoms a and b with the bond written between them. A chain
// bond always reaches a new atom and a ring closure is checked by bonded
// first, so the bond is never a duplicate.
func (p *smilesParser) addBond(a, b int, bond pendingBond, chain bool) {
	order := bond.order
	if !bond.set {
		order = BondSingle
		x, y := &p.mol.Atoms[a], &p.mol.Atoms[b]
		if (x.Aromatic || x.Element == "*") && (y.Aromatic || y.Element == "*") && (x.Aromatic || y.Aromatic) {
			order = BondAromatic
		}
	}
	p.mol.Bonds = append(p.mol.Bonds, Bond{A: a, B: b, Order: order, Stereo: bond.stereo})
	if chain {
		p.mol.neighbourOrder(a, b)
		p.mol.neighbourOrder(b, a)
	}
}

// atom reads an organic-subset atom, a wildcard or a bracket atom and bonds
// it to the previous atom.
func (p *smilesParser) atom() error {
	var a Atom
	var err error
	start := p.i
	if p.s[p.i] == '[' {
		a, err = p.bracketAtom()
	} else {
		a, err = p.organicAtom()
	}
	if err != nil {
		return err
	}
	a.Pos = start
	p.mol.Atoms = append(p.mol.Atoms, a)
	idx := len(p.mol.Atoms) - 1
	p.mol.order = append(p.mol.order, nil)
	if p.prev >= 0 {
		bond := p.bond
		p.bond = pendingBond{}
		p.addBond(p.prev, idx, bond, true)
	}
	if a.Bracket && a.HCount > 0 {
		// Bracket hydrogens come right after the preceding atom in the
		// neighbour order that chirality refers to.
		p.mol.neighbourOrder(idx, implicitH)
	}
	p.prev = idx
	p.afterOpen = false
	return nil
}

var organicSubset = map[string]bool{"B": true, "C": true, "N": true, "O": true, "P": true, "S": true, "F": true, "Cl": true, "Br": true, "I": true}

var aromaticOrganic = map[string]bool{"b": true, "c": true, "n": true, "o": true, "p": true, "s": true}

// aromaticBracket lists the lower-case symbols accepted inside brackets
// (OpenSMILES plus te, which RDKit accepts).
var aromaticBracket = map[string]bool{"b": true, "c": true, "n": true, "o": true, "p": true, "s": true, "se": true, "as": true, "te": true}

func (p *smilesParser) organicAtom() (Atom, error) {
	s, i := p.s, p.i
	c := s[i]
	switch {
	case c == '*':
		p.i++
		return Atom{Element: "*"}, nil
	case c == 'C' && i+1 < len(s) && s[i+1] == 'l', c == 'B' && i+1 < len(s) && s[i+1] == 'r':
		p.i += 2
		return Atom{Element: s[i : i+2]}, nil
	case organicSubset[string(c)]:
		if i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z' && !aromaticOrganic[s[i+1:i+2]] {
			if _, ok := elementBySymbol[s[i:i+2]]; ok {
				return Atom{}, p.errorf(i, "element '%s' must be written in brackets", s[i:i+2])
			}
		}
		p.i++
		return Atom{Element: string(c)}, nil
	case aromaticOrganic[string(c)]:
		p.i++
		return Atom{Element: strings.ToUpper(string(c)), Aromatic: true}, nil
	case isLetter(c):
		j := i + 1
		if j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
			j++
		}
		sym := s[i:j]
		if _, ok := elementBySymbol[sym]; ok {
			return Atom{}, p.errorf(i, "element '%s' must be written in brackets", sym)
		}
		return Atom{}, p.errorf(i, "unknown element '%s'", sym)
	}
	return Atom{}, p.errorf(i, "unexpected character '%s'", printable(s, i))
}

func (p *smilesParser) bracketAtom() (Atom, error) {
	s, start := p.s, p.i
	end := strings.IndexByte(s[start:], ']')
	if end < 0 {
		return Atom{}, p.errorf(start, "unclosed '['")
	}
	end += start
	a := Atom{Bracket: true}
	i := start + 1
	for i < end && isDigit(s[i]) {
		a.Isotope = a.Isotope*10 + int(s[i]-'0')
		if a.Isotope > 999 {
			return Atom{}, p.errorf(start+1, "isotope too large")
		}
		i++
	}
	if i == end {
		return Atom{}, p.errorf(i, "missing element symbol in brackets")
	}
	// Element symbol.
	switch c := s[i]; {
	case c == '*':
		a.Element = "*"
		i++
	case c >= 'A' && c <= 'Z':
		j := i + 1
		if j < end && s[j] >= 'a' && s[j] <= 'z' {
			if _, ok := elementBySymbol[s[i:j+1]]; ok {
				j++
			}
		}
		if _, ok := elementBySymbol[s[i:j]]; !ok {
			k := i + 1
			for k < end && s[k] >= 'a' && s[k] <= 'z' {
				k++
			}
			return Atom{}, p.errorf(i, "unknown element '%s'", s[i:k])
		}
		a.Element = s[i:j]
		i = j
	case c >= 'a' && c <= 'z':
		j := i + 1
		if j < end && s[j] >= 'a' && s[j] <= 'z' {
			j++
		}
		if !aromaticBracket[s[i:j]] {
			return Atom{}, p.errorf(i, "unknown aromatic element '%s'", s[i:j])
		}
		a.Element = strings.ToUpper(s[i:i+1]) + s[i+1:j]
		a.Aromatic = true
		i = j
	default:
		return Atom{}, p.errorf(i, "missing element symbol in brackets")
	}
	// Chirality.
	if i < end && s[i] == '@' {
		j := i + 1
		if j < end && s[j] == '@' {
			j++
		} else if j+1 < end {
			class := s[j : j+2]
			limit := map[string]int{"TH": 2, "AL": 2, "SP": 3, "TB": 20, "OH": 30}[class]
			if limit > 0 {
				k := j + 2
				n := 0
				for k < end && isDigit(s[k]) && k-j < 4 {
					n = n*10 + int(s[k]-'0')
					k++
				}
				if n < 1 || n > limit {
					return Atom{}, p.errorf(i, "bad chirality '@%s': number must be 1 to %d", class, limit)
				}
				j = k
			}
		}
		a.Chirality = s[i:j]
		i = j
	}
	// Hydrogen count.
	if i < end && s[i] == 'H' {
		i++
		a.HCount = 1
		if i < end && isDigit(s[i]) {
			a.HCount = int(s[i] - '0')
			i++
		}
	}
	// Charge.
	if i < end && (s[i] == '+' || s[i] == '-') {
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		c := s[i]
		i++
		n := 1
		switch {
		case i < end && isDigit(s[i]):
			n = 0
			for i < end && isDigit(s[i]) {
				n = n*10 + int(s[i]-'0')
				i++
			}
			if n > 15 {
				return Atom{}, p.errorf(i-1, "charge too large")
			}
		default:
			for i < end && s[i] == c {
				n++
				i++
			}
		}
		a.Charge = sign * n
	}
	// Atom class.
	if i < end && s[i] == ':' {
		i++
		if i == end || !isDigit(s[i]) {
			return Atom{}, p.errorf(i, "atom class ':' must be followed by digits")
		}
		for i < end && isDigit(s[i]) {
			if a.Class > 1e8 {
				return Atom{}, p.errorf(i, "atom class too large")
			}
			a.Class = a.Class*10 + int(s[i]-'0')
			i++
		}
	}
	if i != end {
		return Atom{}, p.errorf(i, "unexpected '%s' in bracket atom", printable(s, i))
	}
	p.i = end + 1
	return a, nil
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// printable returns the character at s[i] for an error message, or its
// byte value when it is not printable ASCII.
func printable(s string, i int) string {
	c := s[i]
	if c >= ' ' && c < 0x7f {
		return string(c)
	}
	return fmt.Sprintf("\\x%02x", c)
}
