package chem

import (
	"fmt"
	"math"
)

// check validates a freshly built molecule the way RDKit's sanitization
// does and completes it: hypervalent nitro and perhalate groups are turned
// into their charge-separated forms, aromatic atoms must lie in rings,
// valences must be allowed, organic-subset atoms get their implicit
// hydrogens, and aromatic systems are kekulized.
func (m *Molecule) check() error {
	adj := m.neighbours()
	ringBond := m.ringBonds(adj)
	for i := range m.Bonds {
		b := &m.Bonds[i]
		if b.Order == BondAromatic {
			// An aromatic bond outside rings between aromatic atoms or
			// wildcards (biphenyl, *c1ccccc1) is single; one written ':'
			// between aliphatic atoms keeps its 1.5 valence, as in RDKit.
			x, y := m.Atoms[b.A], m.Atoms[b.B]
			if !ringBond[i] && (x.Aromatic || x.Element == "*") && (y.Aromatic || y.Element == "*") {
				b.Order = BondSingle
				continue
			}
			b.Aromatic = true
		}
	}
	for i, a := range m.Atoms {
		if !a.Aromatic {
			continue
		}
		inRing := false
		for _, bi := range adj[i] {
			inRing = inRing || ringBond[bi]
		}
		if !inRing {
			return &SMILESError{Pos: a.Pos, Reason: fmt.Sprintf("aromatic atom '%s' is not in a ring", a.symbol())}
		}
	}
	undo := m.cleanUp(adj)
	for i := range m.Atoms {
		if err := m.assignValence(i, adj); err != nil {
			if undo.touches(i) {
				// Describe the atom as written, not as cleanUp charged it.
				undo.apply(m)
				return m.valenceError(i, adj)
			}
			return err
		}
	}
	return m.kekulize(adj, ringBond)
}

// symbol is the atom's element as written (lower case when aromatic).
func (a Atom) symbol() string {
	if a.Aromatic && a.Element != "" {
		return string(a.Element[0]-'A'+'a') + a.Element[1:]
	}
	return a.Element
}

// atomicNumber returns the atom's atomic number (0 for a wildcard).
func (a Atom) atomicNumber() int {
	if e, ok := elementBySymbol[a.Element]; ok {
		return e.Number
	}
	return 0
}

// ringBonds marks the bonds that lie on a cycle (those that are not bridges).
func (m *Molecule) ringBonds(adj [][]int) []bool {
	n := len(m.Atoms)
	ring := make([]bool, len(m.Bonds))
	for i := range ring {
		ring[i] = true
	}
	disc := make([]int, n)
	low := make([]int, n)
	for i := range disc {
		disc[i] = -1
	}
	t := 0
	type frame struct{ atom, viaBond, next int }
	for root := 0; root < n; root++ {
		if disc[root] >= 0 {
			continue
		}
		stack := []frame{{root, -1, 0}}
		disc[root], low[root] = t, t
		t++
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next < len(adj[f.atom]) {
				bi := adj[f.atom][f.next]
				f.next++
				if bi == f.viaBond {
					continue
				}
				to := m.Bonds[bi].other(f.atom)
				if disc[to] < 0 {
					disc[to], low[to] = t, t
					t++
					stack = append(stack, frame{to, bi, 0})
				} else if disc[to] < low[f.atom] {
					low[f.atom] = disc[to]
				}
				continue
			}
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				parent := stack[len(stack)-1].atom
				if low[f.atom] < low[parent] {
					low[parent] = low[f.atom]
				}
				if low[f.atom] > disc[parent] {
					ring[f.viaBond] = false
				}
			}
		}
	}
	return ring
}

// bondValence is a bond's contribution to an atom's valence as RDKit counts it.
func bondValence(o BondOrder) float64 {
	switch o {
	case BondAromatic:
		return 1.5
	case BondQuad:
		return 4
	}
	return float64(o)
}

// integerValence is the sum of the atom's bond orders and hydrogens.
func (m *Molecule) integerValence(i int, adj [][]int) int {
	v := m.Atoms[i].HCount
	for _, bi := range adj[i] {
		v += int(m.Bonds[bi].Order)
	}
	return v
}

// cleanUpUndo records what cleanUp changed, so that an error about a
// changed atom can describe the atom as the user wrote it.
type cleanUpUndo struct {
	charges []int // atom index, old charge pairs
	orders  []int // bond index, old order pairs
}

func (u *cleanUpUndo) charge(m *Molecule, i, c int) {
	u.charges = append(u.charges, i, m.Atoms[i].Charge)
	m.Atoms[i].Charge = c
}

func (u *cleanUpUndo) order(m *Molecule, bi int, o BondOrder) {
	u.orders = append(u.orders, bi, int(m.Bonds[bi].Order))
	m.Bonds[bi].Order = o
}

// touches reports whether cleanUp changed atom i's charge.
func (u *cleanUpUndo) touches(i int) bool {
	for k := 0; k < len(u.charges); k += 2 {
		if u.charges[k] == i {
			return true
		}
	}
	return false
}

// apply restores the charges and bond orders cleanUp changed.
func (u *cleanUpUndo) apply(m *Molecule) {
	for k := 0; k < len(u.charges); k += 2 {
		m.Atoms[u.charges[k]].Charge = u.charges[k+1]
	}
	for k := 0; k < len(u.orders); k += 2 {
		m.Bonds[u.orders[k]].Order = BondOrder(u.orders[k+1])
	}
}

// cleanUp turns neutral five-valent nitrogen (CN(=O)=O, C=N#N) and neutral
// seven-valent chlorine, bromine and iodine with three =O into their
// charge-separated forms, as RDKit's cleanUp does, and returns what it
// changed.
func (m *Molecule) cleanUp(adj [][]int) cleanUpUndo {
	var u cleanUpUndo
	for i := range m.Atoms {
		a := &m.Atoms[i]
		if a.Charge != 0 {
			continue
		}
		switch a.Element {
		case "N":
			if m.explicitValence(i, adj) != 5 {
				continue
			}
			for _, bi := range adj[i] {
				b := &m.Bonds[bi]
				j := b.other(i)
				o := &m.Atoms[j]
				if b.Order == BondDouble && o.Element == "O" && o.Charge == 0 && !o.Aromatic {
					u.order(m, bi, BondSingle)
					u.charge(m, i, 1)
					u.charge(m, j, -1)
					break
				}
				if b.Order == BondTriple && o.Element == "N" && o.Charge == 0 && !o.Aromatic {
					u.order(m, bi, BondDouble)
					u.charge(m, i, 1)
					u.charge(m, j, -1)
					break
				}
			}
		case "Cl", "Br", "I":
			if a.Aromatic || m.integerValence(i, adj) != 7 {
				continue
			}
			var oxo []int
			for _, bi := range adj[i] {
				b := m.Bonds[bi]
				o := m.Atoms[b.other(i)]
				if b.Order == BondDouble && o.Element == "O" && o.Charge == 0 && !o.Aromatic {
					oxo = append(oxo, bi)
				}
			}
			if len(oxo) != 3 {
				continue
			}
			u.charge(m, i, 3)
			for _, bi := range oxo {
				u.order(m, bi, BondSingle)
				u.charge(m, m.Bonds[bi].other(i), -1)
			}
		}
	}
	return u
}

// chargeShift is the formal charge as RDKit adds it to an allowed valence:
// negated for early elements, and never positive for carbon.
func chargeShift(z, charge int) int {
	if isEarly(z) {
		charge = -charge
	}
	if z == 6 && charge > 0 {
		charge = -charge
	}
	return charge
}

// explicitValence is atom i's explicit valence as RDKit computes it:
// bond orders (1.5 per aromatic bond) plus bracket hydrogens, with an
// aromatic atom's excess rounded down to an allowed valence when within
// 1.5 of it, and halves rounded up.
func (m *Molecule) explicitValence(i int, adj [][]int) int {
	a := m.Atoms[i]
	return m.valenceAs(i, adj, a.Bracket, a.Aromatic)
}

// valenceAs is explicitValence for atom i counted with or without its
// HCount and as an aromatic or aliphatic atom.
func (m *Molecule) valenceAs(i int, adj [][]int, withH, aromatic bool) int {
	a := m.Atoms[i]
	z := a.atomicNumber()
	el := elements[z]
	accum := 0.0
	if withH {
		accum = float64(a.HCount)
	}
	for _, bi := range adj[i] {
		if m.Bonds[bi].Aromatic {
			accum += 1.5 // also once kekulized, as RDKit's cached valence
		} else {
			accum += bondValence(m.Bonds[bi].Order)
		}
	}
	dv := el.Valences[0]
	chg := chargeShift(z, a.Charge)
	if aromatic && dv >= 0 && accum > float64(dv+chg) {
		pval := dv + chg
		for _, v := range el.Valences {
			if v < 0 || float64(v+chg) > accum {
				break
			}
			pval = v + chg
		}
		if accum-float64(pval) <= 1.5 {
			accum = float64(pval)
		}
	}
	return int(math.Round(accum + 0.1))
}

// assignValence computes atom i's explicit valence with RDKit's rules,
// rejects valences above the element's maximum and gives organic-subset
// atoms their implicit hydrogens.
func (m *Molecule) assignValence(i int, adj [][]int) error {
	a := &m.Atoms[i]
	z := a.atomicNumber()
	if z == 0 {
		return nil
	}
	el := elements[z]
	dv := el.Valences[0]
	chg := chargeShift(z, a.Charge)
	explicit := m.explicitValence(i, adj)
	effective := explicit + a.Charge
	if el.Outer >= 4 {
		effective = explicit - a.Charge
	}
	maxV := el.Valences[len(el.Valences)-1]
	if maxV > 0 && effective > maxV {
		return m.valenceError(i, adj)
	}
	if a.Bracket || dv < 0 {
		return nil
	}
	if z == 1 && explicit == 0 && a.Charge != 0 {
		a.HCount = 0 // H+ and H- stand alone
		return nil
	}
	// Implicit hydrogens of an organic-subset atom (charged only by cleanUp).
	if a.Aromatic {
		if explicit <= dv+chg {
			a.HCount = dv + chg - explicit
			return nil
		}
		for _, v := range el.Valences {
			if v+chg == explicit {
				a.HCount = 0
				return nil
			}
		}
		return &SMILESError{Pos: a.Pos, Reason: fmt.Sprintf("aromatic %s with valence %d", a.symbol(), explicit)}
	}
	for _, v := range el.Valences {
		if v >= 0 && explicit <= v+chg {
			a.HCount = v + chg - explicit
			return nil
		}
	}
	return &SMILESError{Pos: a.Pos, Reason: fmt.Sprintf("%s with valence %d (at most %d)", a.chargedSymbol(), explicit, maxV)}
}

// valenceError describes atom i's valence as too high: its valence and the
// most its element allows with its charge.
func (m *Molecule) valenceError(i int, adj [][]int) error {
	a := m.Atoms[i]
	el := elements[a.atomicNumber()]
	explicit := m.explicitValence(i, adj)
	effective := explicit + a.Charge
	if el.Outer >= 4 {
		effective = explicit - a.Charge
	}
	maxV := el.Valences[len(el.Valences)-1]
	if maxV > 0 && effective > maxV {
		maxV += explicit - effective
	}
	return &SMILESError{Pos: a.Pos, Reason: fmt.Sprintf("%s with valence %d (at most %d)", a.chargedSymbol(), explicit, maxV)}
}

// chargedSymbol is the element symbol with its charge, e.g. "N+", "O-", "Fe+2".
func (a Atom) chargedSymbol() string {
	return a.symbol() + chargeSuffix(a.Charge)
}

// chargeSuffix writes a charge as "+", "-", "+2", "-3"; "" for zero.
func chargeSuffix(c int) string {
	switch {
	case c == 0:
		return ""
	case c == 1:
		return "+"
	case c == -1:
		return "-"
	case c > 0:
		return fmt.Sprintf("+%d", c)
	}
	return fmt.Sprintf("%d", c)
}

// kekulize gives the aromatic bonds single and double orders so that every
// aromatic atom that needs a double bond gets exactly one, as RDKit's
// Kekulize does, or reports the system that cannot be kekulized.
func (m *Molecule) kekulize(adj [][]int, ringBond []bool) error {
	n := len(m.Atoms)
	need := make([]bool, n)  // aromatic atom that must get a double bond
	dummy := make([]bool, n) // wildcard in an aromatic system: may take one
	any := false
	for i, a := range m.Atoms {
		if a.atomicNumber() == 0 {
			for _, bi := range adj[i] {
				if m.Bonds[bi].Aromatic {
					dummy[i] = true
				}
			}
			continue
		}
		if a.Aromatic {
			need[i] = m.needsDoubleBond(i, adj)
			any = true
		}
	}
	for bi := range m.Bonds {
		if m.Bonds[bi].Aromatic {
			m.Bonds[bi].Order = BondSingle
			any = true
		}
	}
	if !any {
		return nil
	}
	var dummies []int
	for i, d := range dummy {
		if d {
			dummies = append(dummies, i)
		}
	}
	if len(dummies) > 6 {
		dummies = dummies[:6]
	}
	var match []int
	for mask := 0; mask < 1<<len(dummies); mask++ {
		take := append([]bool(nil), need...)
		for k, d := range dummies {
			take[d] = mask&(1<<k) != 0
		}
		match = m.matchDoubleBonds(take, adj)
		ok := true
		for i := range take {
			if take[i] && match[i] < 0 {
				ok = false
				break
			}
		}
		if ok {
			for i := range take {
				if j := match[i]; j > i {
					m.Bonds[m.bondBetween(i, j, adj)].Order = BondDouble
				}
			}
			return nil
		}
	}
	for i := range need {
		if need[i] && match[i] < 0 {
			a := m.Atoms[i]
			hint := ""
			for _, b := range m.Atoms {
				if b.Aromatic && b.Element == "N" && b.HCount == 0 && b.Charge == 0 {
					hint = " (should an aromatic n be [nH]?)"
				}
			}
			return &SMILESError{Pos: a.Pos, Reason: fmt.Sprintf("can't kekulize: no double bond can be placed at aromatic '%s'%s", a.symbol(), hint)}
		}
	}
	return nil
}

// needsDoubleBond reports whether aromatic atom i needs a double bond in
// the Kekulé form (RDKit's markDbondCands).
func (m *Molecule) needsDoubleBond(i int, adj [][]int) bool {
	a := m.Atoms[i]
	z := a.atomicNumber()
	el := elements[z]
	sbo := a.HCount
	for _, bi := range adj[i] {
		b := m.Bonds[bi]
		if b.Aromatic {
			sbo++
		} else {
			sbo += int(b.Order)
		}
	}
	if el.Valences[0] < 0 {
		return false
	}
	chg := chargeShift(z, a.Charge)
	dv := el.Valences[0] + chg
	tbo := m.explicitValence(i, adj)
	if !a.Bracket {
		tbo += a.HCount
	}
	for k := 1; tbo > dv && k < len(el.Valences) && el.Valences[k] > 0; k++ {
		dv = el.Valences[k] + chg
	}
	degree := len(adj[i])
	if !a.Bracket {
		degree += a.HCount
	}
	if degree >= dv {
		return false
	}
	if dv == sbo+1 {
		return true
	}
	return a.Bracket && dv == sbo+2
}

// bondBetween returns the index of the bond joining atoms i and j, or -1.
func (m *Molecule) bondBetween(i, j int, adj [][]int) int {
	for _, bi := range adj[i] {
		if m.Bonds[bi].other(i) == j {
			return bi
		}
	}
	return -1
}

// matchDoubleBonds finds a maximum matching over the aromatic bonds joining
// atoms marked in take (Edmonds' blossom algorithm); match[i] is i's
// partner or -1.
func (m *Molecule) matchDoubleBonds(take []bool, adj [][]int) []int {
	n := len(m.Atoms)
	g := make([][]int, n)
	for _, b := range m.Bonds {
		if b.Aromatic && take[b.A] && take[b.B] {
			g[b.A] = append(g[b.A], b.B)
			g[b.B] = append(g[b.B], b.A)
		}
	}
	match := make([]int, n)
	for i := range match {
		match[i] = -1
	}
	// Greedy start.
	for v := 0; v < n; v++ {
		if match[v] >= 0 {
			continue
		}
		for _, w := range g[v] {
			if match[w] < 0 {
				match[v], match[w] = w, v
				break
			}
		}
	}
	free := false
	for v := 0; v < n && !free; v++ {
		free = match[v] < 0 && len(g[v]) > 0
	}
	if !free {
		return match // the greedy matching is perfect
	}
	// Search augmenting paths within each connected piece of g, so that
	// a search resets only its own piece.
	comp := make([]int, n)
	for i := range comp {
		comp[i] = -1
	}
	var pieces [][]int
	for v := 0; v < n; v++ {
		if comp[v] >= 0 || len(g[v]) == 0 {
			continue
		}
		k := len(pieces)
		comp[v] = k
		piece := []int{v}
		for q := 0; q < len(piece); q++ {
			for _, w := range g[piece[q]] {
				if comp[w] < 0 {
					comp[w] = k
					piece = append(piece, w)
				}
			}
		}
		pieces = append(pieces, piece)
	}
	bl := blossom{g: g, match: match, parent: make([]int, n), base: make([]int, n),
		used: make([]bool, n), inBlossom: make([]bool, n), seen: make([]bool, n)}
	for i := range bl.parent {
		bl.parent[i] = -1
		bl.base[i] = i
	}
	for v := 0; v < n; v++ {
		if match[v] >= 0 || len(g[v]) == 0 {
			continue
		}
		bl.piece = pieces[comp[v]]
		for u := bl.findPath(v); u >= 0; {
			pv := bl.parent[u]
			ppv := match[pv]
			match[u], match[pv] = pv, u
			u = ppv
		}
	}
	return match
}

// blossom holds the state of Edmonds' augmenting-path search.
type blossom struct {
	g                     [][]int
	match, parent, base   []int
	used, inBlossom, seen []bool
	queue                 []int
	piece                 []int // the vertices connected to the search's root
}

func (b *blossom) lca(x, y int) int {
	for _, i := range b.piece {
		b.seen[i] = false
	}
	for {
		x = b.base[x]
		b.seen[x] = true
		if b.match[x] < 0 {
			break
		}
		x = b.parent[b.match[x]]
	}
	for {
		y = b.base[y]
		if b.seen[y] {
			return y
		}
		y = b.parent[b.match[y]]
	}
}

func (b *blossom) markPath(v, base, child int) {
	for b.base[v] != base {
		b.inBlossom[b.base[v]] = true
		b.inBlossom[b.base[b.match[v]]] = true
		b.parent[v] = child
		child = b.match[v]
		v = b.parent[b.match[v]]
	}
}

// findPath searches an augmenting path from root and returns its free end,
// or -1.
func (b *blossom) findPath(root int) int {
	for _, i := range b.piece {
		b.used[i] = false
		b.parent[i] = -1
		b.base[i] = i
	}
	b.used[root] = true
	b.queue = append(b.queue[:0], root)
	for qh := 0; qh < len(b.queue); qh++ {
		v := b.queue[qh]
		for _, to := range b.g[v] {
			if b.base[v] == b.base[to] || b.match[v] == to {
				continue
			}
			if to == root || b.match[to] >= 0 && b.parent[b.match[to]] >= 0 {
				cur := b.lca(v, to)
				for _, i := range b.piece {
					b.inBlossom[i] = false
				}
				b.markPath(v, cur, to)
				b.markPath(to, cur, v)
				for _, i := range b.piece {
					if b.inBlossom[b.base[i]] {
						b.base[i] = cur
						if !b.used[i] {
							b.used[i] = true
							b.queue = append(b.queue, i)
						}
					}
				}
			} else if b.parent[to] < 0 {
				b.parent[to] = v
				if b.match[to] < 0 {
					return to
				}
				b.used[b.match[to]] = true
				b.queue = append(b.queue, b.match[to])
			}
		}
	}
	return -1
}
