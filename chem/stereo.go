package chem

import (
	"math"
	"sort"
)

// Stereochemistry of molfiles: tetrahedral centres from 3D coordinates, or
// from 2D coordinates with wedge (1) and hash (6) bonds starting at the
// centre, as RDKit's AssignChiralTypesFrom3D and wedge interpretation do;
// double-bond geometry from the coordinates. Only real stereocentres and
// stereo double bonds are marked: neighbours told apart by a canonical
// (Morgan-like) ranking of the graph.

type vec3 [3]float64

func (a vec3) sub(b vec3) vec3 { return vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func (a vec3) add(b vec3) vec3 { return vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func (a vec3) dot(b vec3) float64 {
	return a[0]*b[0] + a[1]*b[1] + a[2]*b[2]
}
func (a vec3) cross(b vec3) vec3 {
	return vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}
func (a vec3) scale(f float64) vec3 { return vec3{a[0] * f, a[1] * f, a[2] * f} }
func (a vec3) norm() float64        { return math.Sqrt(a.dot(a)) }
func (a vec3) unit() vec3 {
	if n := a.norm(); n > 0 {
		return a.scale(1 / n)
	}
	return a
}

// Molfile bond stereo codes (V2000; V3000 CFG values are mapped to them).
const (
	stereoWedge        = 1
	stereoEither       = 4 // single bond: unknown centre
	stereoHash         = 6
	stereoEitherDouble = 3 // double bond: cis or trans unknown
)

// geometry is what a molfile says about positions and bond stereo, indexed
// like its connection table.
type geometry struct {
	pos        []vec3
	is3D       bool
	bondStereo []int
}

// stereoNeighbour is a neighbour of an atom after hydrogens are folded:
// an atom index, or implicitH, with its position relative to the atom
// (known unless hasPos is false).
type stereoNeighbour struct {
	atom   int
	rel    vec3
	hasPos bool
	wedged bool // a wedge or hash bond starts at the atom towards it
}

// neighbourPoints lists, for every atom of the unfolded molecule, its
// neighbours with their positions relative to it; 2D wedge and hash bonds
// that start at the atom lift their far end above or below the plane.
func (g *geometry) neighbourPoints(m *Molecule, adj [][]int) [][]stereoNeighbour {
	out := make([][]stereoNeighbour, len(m.Atoms))
	for i := range m.Atoms {
		for _, bi := range adj[i] {
			b := m.Bonds[bi]
			j := b.other(i)
			rel := g.pos[j].sub(g.pos[i])
			wedged := false
			if !g.is3D {
				rel[2] = 0
				if b.A == i && b.Order == BondSingle {
					l := rel.norm()
					switch g.bondStereo[bi] {
					case stereoWedge:
						rel[2], wedged = l, true
					case stereoHash:
						rel[2], wedged = -l, true
					}
				}
			}
			out[i] = append(out[i], stereoNeighbour{atom: j, rel: rel, hasPos: true, wedged: wedged})
		}
	}
	return out
}

// assignStereo marks the tetrahedral centres and stereo double bonds of m
// (hydrogens already folded) from the neighbour points nb, given per atom
// in the new numbering with folded hydrogens as implicitH. unknown marks
// atoms and bonds drawn with "either" stereo, which stay unmarked.
func (m *Molecule) assignStereo(nb [][]stereoNeighbour, is3D bool, unknownAtom []bool, unknownBond []bool) {
	adj := m.neighbours()
	ring := m.ringBonds(adj)
	_, bondArom := m.perceiveAromaticity(adj, ring)
	for bi := range m.Bonds {
		bondArom[bi] = bondArom[bi] || m.Bonds[bi].Aromatic
	}
	rank := m.canonicalRanks(adj, bondArom)
	m.order = make([][]int, len(m.Atoms))
	// Implicit hydrogens without positions.
	for i := range m.Atoms {
		known := 0
		for _, n := range nb[i] {
			if n.atom == implicitH {
				known++
			}
		}
		for k := known; k < m.Atoms[i].HCount; k++ {
			nb[i] = append(nb[i], stereoNeighbour{atom: implicitH})
		}
	}
	// Ring stereo (cis/trans 1,4-disubstituted rings, tropanes): an atom
	// whose only equivalent neighbours are its two ring neighbours is a
	// stereocentre when another stereo atom shares a ring with it, as in
	// RDKit's special cases.
	var ringAtoms [][]int
	ringCandidate := make([]bool, len(m.Atoms))
	for i := range m.Atoms {
		if unknownAtom[i] || !m.stereoElement(i, nb[i]) {
			continue
		}
		switch m.distinctNeighbours(i, nb[i], rank, ring, adj) {
		case 1:
			continue
		case 0:
			ringCandidate[i] = true
			continue
		}
		m.tryChirality(i, nb[i], is3D)
	}
	for i := range m.Atoms {
		if !ringCandidate[i] {
			continue
		}
		if ringAtoms == nil {
			ringAtoms, _ = m.rings(adj, ring)
		}
		partner := false
		for _, r := range ringAtoms {
			in := false
			for _, a := range r {
				in = in || a == i
			}
			if !in {
				continue
			}
			for _, a := range r {
				if a != i && (ringCandidate[a] || m.Atoms[a].Chirality != "") {
					partner = true
				}
			}
		}
		if partner {
			m.tryChirality(i, nb[i], is3D)
		}
	}
	m.assignDoubleBondStereo(nb, adj, ring, bondArom, rank, unknownBond)
}

// tryChirality sets atom i's chirality from its neighbour points: from 3D
// coordinates, or in 2D only when a wedge or hash bond starts at it.
func (m *Molecule) tryChirality(i int, nb []stereoNeighbour, is3D bool) {
	if !is3D {
		wedged := false
		for _, n := range nb {
			wedged = wedged || n.wedged
		}
		if !wedged {
			return
		}
	}
	m.setChirality(i, nb)
}

// stereoElement reports whether atom i, with neighbours nb, can be a
// tetrahedral centre as RDKit considers them: four neighbours (an implicit
// hydrogen counting as one, at most one) on C, Si, Ge, Sn, B, P, As, S, Se
// or N+; or three on P, As, S or Se, whose lone pair takes the fourth
// place. In the second case nb gains an implicitH entry for the lone pair.
func (m *Molecule) stereoElement(i int, nb []stereoNeighbour) bool {
	a := m.Atoms[i]
	if a.Aromatic || a.HCount > 1 {
		return false
	}
	switch len(nb) {
	case 4:
		switch a.Element {
		case "C", "Si", "Ge", "Sn", "P", "As", "S", "Se", "B":
			return true
		case "N":
			return a.Charge == 1
		}
	case 3:
		switch a.Element {
		case "P", "As", "S", "Se":
			return a.HCount == 0
		}
	}
	return false
}

// distinctNeighbours tells how atom i's neighbours compare under the
// canonical ranking: 2 when all differ, 0 when only its two ring
// neighbours are equivalent (a possible ring stereocentre), 1 otherwise.
func (m *Molecule) distinctNeighbours(i int, nb []stereoNeighbour, rank []int, ring []bool, adj [][]int) int {
	count := map[int][]int{}
	for _, n := range nb {
		if n.atom != implicitH {
			count[rank[n.atom]] = append(count[rank[n.atom]], n.atom)
		}
	}
	var pair []int
	for _, atoms := range count {
		switch len(atoms) {
		case 1:
		case 2:
			if pair != nil {
				return 1
			}
			pair = atoms
		default:
			return 1
		}
	}
	if pair == nil {
		return 2
	}
	for _, j := range pair {
		bi := m.bondBetween(i, j, adj)
		if bi < 0 || !ring[bi] {
			return 1
		}
	}
	if len(nb) != 4 {
		return 1
	}
	return 0
}

// setChirality sets atom i's chirality from the neighbour positions, with
// its neighbour order as nb lists it; false when the geometry is flat.
func (m *Molecule) setChirality(i int, nb []stereoNeighbour) bool {
	if len(nb) == 3 {
		// The lone pair stands where an implicit hydrogen would.
		nb = append(nb[:3:3], stereoNeighbour{atom: implicitH})
	}
	var p [4]vec3
	var sum vec3
	missing := -1
	for k, n := range nb {
		if !n.hasPos {
			missing = k
			continue
		}
		p[k] = n.rel
		sum = sum.add(n.rel.unit())
	}
	if missing >= 0 {
		p[missing] = sum.scale(-1)
	}
	for k := range p {
		p[k] = p[k].unit()
	}
	vol := p[1].sub(p[0]).dot(p[2].sub(p[0]).cross(p[3].sub(p[0])))
	if !(math.Abs(vol) >= 1e-3) || math.IsInf(vol, 0) { // flat, or NaN coordinates
		return false
	}
	order := make([]int, 4)
	for k, n := range nb {
		order[k] = n.atom
	}
	m.order[i] = order
	if vol < 0 {
		m.Atoms[i].Chirality = "@"
	} else {
		m.Atoms[i].Chirality = "@@"
	}
	return true
}

// canonicalRanks classes the atoms by iterative refinement of atom
// invariants with their neighbours' classes (Morgan's algorithm), so that
// atoms with equal rank are equivalent in the graph.
func (m *Molecule) canonicalRanks(adj [][]int, bondArom []bool) []int {
	n := len(m.Atoms)
	type inv struct {
		z, iso, charge, h, degree int
	}
	invs := make([]inv, n)
	for i, a := range m.Atoms {
		invs[i] = inv{a.atomicNumber(), a.Isotope, a.Charge, a.HCount, len(adj[i])}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(x, y int) bool {
		a, b := invs[idx[x]], invs[idx[y]]
		switch {
		case a.z != b.z:
			return a.z < b.z
		case a.iso != b.iso:
			return a.iso < b.iso
		case a.charge != b.charge:
			return a.charge < b.charge
		case a.h != b.h:
			return a.h < b.h
		}
		return a.degree < b.degree
	})
	rank := make([]int, n)
	classes := 0
	for k, i := range idx {
		if k > 0 && invs[i] != invs[idx[k-1]] {
			classes++
		}
		rank[i] = classes
	}
	classes++
	bondCode := func(bi int) int {
		if bondArom[bi] {
			return 4
		}
		return int(m.Bonds[bi].Order)
	}
	keys := make([][]int, n)
	// Each round sees one bond further; 100 rounds tell apart branches of
	// drug-sized molecules and keep huge ones from taking quadratic time.
	for iter := 0; iter < min(n+1, 100); iter++ {
		for i := range m.Atoms {
			k := keys[i][:0]
			k = append(k, rank[i])
			var nbs []int
			for _, bi := range adj[i] {
				nbs = append(nbs, rank[m.Bonds[bi].other(i)]*8+bondCode(bi))
			}
			sort.Ints(nbs)
			keys[i] = append(k, nbs...)
		}
		sort.Slice(idx, func(x, y int) bool { return lessInts(keys[idx[x]], keys[idx[y]]) })
		next := make([]int, n)
		c := 0
		for k, i := range idx {
			if k > 0 && lessInts(keys[idx[k-1]], keys[i]) {
				c++
			}
			next[i] = c
		}
		c++
		rank = next
		if c == classes {
			break
		}
		classes = c
	}
	return rank
}

func lessInts(a, b []int) bool {
	for k := 0; k < len(a) && k < len(b); k++ {
		if a[k] != b[k] {
			return a[k] < b[k]
		}
	}
	return len(a) < len(b)
}

// assignDoubleBondStereo marks, with '/' and '\' on neighbouring single
// bonds, the geometry of each double bond outside small rings whose ends
// each carry neighbours the ranking tells apart. Every single bond to a
// graph atom at a stereo end is marked; the marks are parity constraints
// (two bonds at one end point opposite ways; across the double bond the
// reference bonds agree when trans), solved together so that conjugated
// double bonds sharing a single bond stay consistent. A double bond whose
// constraints contradict the others stays unmarked.
func (m *Molecule) assignDoubleBondStereo(nb [][]stereoNeighbour, adj [][]int, ring, bondArom []bool, rank []int, unknownBond []bool) {
	var small map[int]bool // bonds in rings of fewer than 8 atoms
	uf := newParityUF(len(m.Bonds))
	used := make([]bool, len(m.Bonds))
	// rev is 1 when single bond s is stored pointing towards atom `from`.
	rev := func(s, from int) int {
		if m.Bonds[s].A != from {
			return 1
		}
		return 0
	}
	for bi, b := range m.Bonds {
		if b.Order != BondDouble || bondArom[bi] || unknownBond[bi] {
			continue
		}
		if ring[bi] {
			if small == nil {
				small = map[int]bool{}
				_, bondRings := m.rings(adj, ring)
				for _, r := range bondRings {
					if len(r) < 8 {
						for _, x := range r {
							small[x] = true
						}
					}
				}
			}
			if small[bi] {
				continue
			}
		}
		refA, okA := m.doubleBondEnd(b.A, bi, nb, adj, rank)
		refB, okB := m.doubleBondEnd(b.B, bi, nb, adj, rank)
		if !okA || !okB || len(refA) == 0 || len(refB) == 0 {
			continue
		}
		axis := m.relPos(nb, b.A, b.B)
		if axis == nil {
			continue
		}
		d := axis.unit()
		perp := func(v vec3) vec3 { return v.sub(d.scale(v.dot(d))) }
		ra, rb := refA[0], refB[0]
		pa, pb := perp(ra.rel), perp(rb.rel)
		if dot := pa.dot(pb); !(pa.norm() >= 1e-4 && pb.norm() >= 1e-4 && math.Abs(dot) >= 1e-3*pa.norm()*pb.norm()) ||
			math.IsInf(dot, 0) {
			continue // collinear, or NaN coordinates
		}
		cis := 0
		if pa.dot(pb) > 0 {
			cis = 1
		}
		type constraint struct{ x, y, parity int }
		sa := m.bondBetween(ra.atom, b.A, adj)
		sb := m.bondBetween(b.B, rb.atom, adj)
		// written ra->A is x_sa ^ rev(sa, ra); written B->rb is x_sb ^ rev(sb, B).
		cs := []constraint{{sa, sb, rev(sa, ra.atom) ^ rev(sb, b.B) ^ cis}}
		for _, end := range []struct {
			atom int
			refs []stereoNeighbour
		}{{b.A, refA}, {b.B, refB}} {
			if len(end.refs) == 2 {
				s1 := m.bondBetween(end.atom, end.refs[0].atom, adj)
				s2 := m.bondBetween(end.atom, end.refs[1].atom, adj)
				cs = append(cs, constraint{s1, s2, 1 ^ rev(s1, end.atom) ^ rev(s2, end.atom)})
			}
		}
		trial := uf.clone()
		ok := true
		for _, c := range cs {
			ok = ok && trial.union(c.x, c.y, c.parity)
		}
		if !ok {
			continue
		}
		uf = trial
		for _, c := range cs {
			used[c.x], used[c.y] = true, true
		}
	}
	for s := range m.Bonds {
		if !used[s] {
			continue
		}
		if _, p := uf.find(s); p == 0 {
			m.Bonds[s].Stereo = '/'
		} else {
			m.Bonds[s].Stereo = '\\'
		}
	}
}

// parityUF is a union-find whose elements carry a parity relative to
// their root: x ^ y == parity constraints.
type parityUF struct {
	parent, parity []int
}

func newParityUF(n int) *parityUF {
	u := &parityUF{parent: make([]int, n), parity: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
	}
	return u
}

func (u *parityUF) clone() *parityUF {
	return &parityUF{parent: append([]int(nil), u.parent...), parity: append([]int(nil), u.parity...)}
}

// find returns x's root and x's parity relative to it.
func (u *parityUF) find(x int) (root, parity int) {
	for u.parent[x] != x {
		parity ^= u.parity[x]
		x = u.parent[x]
	}
	return x, parity
}

// union records x ^ y == p; false when that contradicts what is known.
func (u *parityUF) union(x, y, p int) bool {
	rx, px := u.find(x)
	ry, py := u.find(y)
	if rx == ry {
		return px^py == p
	}
	u.parent[rx] = ry
	u.parity[rx] = px ^ py ^ p
	return true
}

// relPos is the position of atom j relative to atom i, or nil.
func (m *Molecule) relPos(nb [][]stereoNeighbour, i, j int) *vec3 {
	for _, n := range nb[i] {
		if n.atom == j && n.hasPos {
			v := n.rel
			return &v
		}
	}
	return nil
}

// doubleBondEnd returns the neighbours of atom `end` of double bond bi
// other than its partner, with positions, that can carry a direction mark
// (single bonds to graph atoms); ok is false when the end cannot be a
// stereo end: more than two other neighbours, two that the ranking does
// not tell apart, or a cumulated double bond.
func (m *Molecule) doubleBondEnd(end, bi int, nb [][]stereoNeighbour, adj [][]int, rank []int) (refs []stereoNeighbour, ok bool) {
	partner := m.Bonds[bi].other(end)
	var others []stereoNeighbour
	for _, n := range nb[end] {
		if n.atom != partner {
			others = append(others, n)
		}
	}
	if len(others) == 0 || len(others) > 2 {
		return nil, false
	}
	for _, obi := range adj[end] {
		if obi != bi && m.Bonds[obi].Order != BondSingle {
			return nil, false
		}
	}
	if len(others) == 2 {
		x, y := others[0], others[1]
		if x.atom == implicitH && y.atom == implicitH {
			return nil, false
		}
		if x.atom != implicitH && y.atom != implicitH && rank[x.atom] == rank[y.atom] {
			return nil, false
		}
	}
	for _, n := range others {
		if n.atom != implicitH && n.hasPos {
			refs = append(refs, n)
		}
	}
	return refs, true
}
