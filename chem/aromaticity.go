package chem

import (
	"math/bits"
	"sort"
)

// rings returns a smallest set of smallest rings, each as atom indices in
// ring order and as bond indices, found as the shortest cycle through
// every ring bond and kept when independent of the smaller ones of its
// ring system (plus dependent rings of the same size, as RDKit's
// symmetrized SSSR keeps). Each ring system (atoms joined by ring bonds) is
// reduced on its own, so that many separate rings cost linear time.
func (m *Molecule) rings(adj [][]int, ringBond []bool) (atomRings, bondRings [][]int) {
	type cycle struct {
		atoms, bonds []int
	}
	// Ring systems by union-find over the atoms of ring bonds.
	parent := make([]int, len(m.Atoms))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for bi, isRing := range ringBond {
		if isRing {
			parent[find(m.Bonds[bi].A)] = find(m.Bonds[bi].B)
		}
	}
	system := map[int]int{} // root atom -> system index
	var systems [][]cycle
	var systemBonds [][]int // each system's ring bonds
	bfs := newCycleSearch(len(m.Atoms))
	seen := map[string]bool{}
	for bi, isRing := range ringBond {
		if !isRing {
			continue
		}
		root := find(m.Bonds[bi].A)
		k, ok := system[root]
		if !ok {
			k = len(systems)
			system[root] = k
			systems = append(systems, nil)
			systemBonds = append(systemBonds, nil)
		}
		systemBonds[k] = append(systemBonds[k], bi)
		atoms, bonds := bfs.shortestCycle(m, bi, adj)
		if atoms == nil {
			continue
		}
		sorted := append([]int(nil), bonds...)
		sort.Ints(sorted)
		key := make([]byte, 0, 4*len(sorted))
		for _, b := range sorted {
			key = append(key, byte(b>>24), byte(b>>16), byte(b>>8), byte(b))
		}
		if seen[string(key)] {
			continue
		}
		seen[string(key)] = true
		systems[k] = append(systems[k], cycle{atoms, bonds})
	}
	local := make([]int, len(m.Bonds)) // bond index within its system
	for k, cycles := range systems {
		for j, bi := range systemBonds[k] {
			local[bi] = j
		}
		sort.SliceStable(cycles, func(i, j int) bool { return len(cycles[i].bonds) < len(cycles[j].bonds) })
		// Gaussian elimination over GF(2) on bond incidence vectors.
		words := (len(systemBonds[k]) + 63) / 64
		var basis [][]uint64
		var pivots []int
		lastKeptSize := -1
		for _, c := range cycles {
			v := make([]uint64, words)
			for _, b := range c.bonds {
				l := local[b]
				v[l/64] ^= 1 << (l % 64)
			}
			for r, row := range basis {
				p := pivots[r]
				if v[p/64]&(1<<(p%64)) != 0 {
					for w := range v {
						v[w] ^= row[w]
					}
				}
			}
			pivot := -1
			for w, x := range v {
				if x != 0 {
					pivot = w*64 + bits.TrailingZeros64(x)
					break
				}
			}
			if pivot < 0 {
				if len(c.bonds) != lastKeptSize {
					continue
				}
			} else {
				basis = append(basis, v)
				pivots = append(pivots, pivot)
			}
			lastKeptSize = len(c.bonds)
			atomRings = append(atomRings, c.atoms)
			bondRings = append(bondRings, c.bonds)
		}
	}
	return atomRings, bondRings
}

// cycleSearch holds the breadth-first search state of shortestCycle,
// reused between searches and reset only where a search went.
type cycleSearch struct {
	prevBond []int // -2: not reached; -1: the start
	touched  []int
	queue    []int
}

func newCycleSearch(n int) *cycleSearch {
	c := &cycleSearch{prevBond: make([]int, n)}
	for i := range c.prevBond {
		c.prevBond[i] = -2
	}
	return c
}

// shortestCycle finds the shortest cycle through bond bi by a breadth-first
// search between its atoms that avoids bi.
func (c *cycleSearch) shortestCycle(m *Molecule, bi int, adj [][]int) (atoms, bonds []int) {
	start, goal := m.Bonds[bi].A, m.Bonds[bi].B
	prevBond := c.prevBond
	defer func() {
		for _, v := range c.touched {
			prevBond[v] = -2
		}
		c.touched = c.touched[:0]
	}()
	prevBond[start] = -1
	c.touched = append(c.touched, start)
	c.queue = append(c.queue[:0], start)
	for qh := 0; qh < len(c.queue) && prevBond[goal] == -2; qh++ {
		v := c.queue[qh]
		for _, b := range adj[v] {
			if b == bi {
				continue
			}
			w := m.Bonds[b].other(v)
			if prevBond[w] == -2 {
				prevBond[w] = b
				c.touched = append(c.touched, w)
				c.queue = append(c.queue, w)
			}
		}
	}
	if prevBond[goal] == -2 {
		return nil, nil
	}
	bonds = []int{bi}
	for v := goal; v != start; {
		b := prevBond[v]
		atoms = append(atoms, v)
		bonds = append(bonds, b)
		v = m.Bonds[b].other(v)
	}
	atoms = append(atoms, start)
	return atoms, bonds
}

// electronDonor classifies how many pi electrons a ring atom gives, as
// RDKit's aromaticity model does.
type electronDonor int

const (
	donorNone electronDonor = iota
	donorVacant
	donorOne
	donorTwo
	donorAny
)

// perceiveAromaticity finds the aromatic atoms and bonds of the Kekulé
// structure with RDKit's default aromaticity model: rings and fused ring
// combinations whose atoms all can be aromatic and that hold 4n+2 pi
// electrons.
func (m *Molecule) perceiveAromaticity(adj [][]int, ringBond []bool) (atomArom, bondArom []bool) {
	atomArom = make([]bool, len(m.Atoms))
	bondArom = make([]bool, len(m.Bonds))
	atomRings, bondRings := m.rings(adj, ringBond)
	if len(atomRings) == 0 {
		return
	}
	donor := make([]electronDonor, len(m.Atoms))
	for i := range m.Atoms {
		donor[i] = m.donorType(i, adj, ringBond)
	}
	// Candidate rings: every atom can take part.
	var cand []int
	for r, atoms := range atomRings {
		ok := true
		for _, a := range atoms {
			if donor[a] == donorNone {
				ok = false
				break
			}
		}
		if ok {
			cand = append(cand, r)
		}
	}
	// Group candidate rings into fused systems (sharing a bond), by
	// union-find over the rings of each bond.
	shares := func(r1, r2 int) bool {
		for _, b1 := range bondRings[r1] {
			for _, b2 := range bondRings[r2] {
				if b1 == b2 {
					return true
				}
			}
		}
		return false
	}
	parent := make([]int, len(cand))
	for i := range parent {
		parent[i] = i
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	firstRing := map[int]int{} // bond -> first candidate (index into cand) holding it
	for i, r := range cand {
		for _, b := range bondRings[r] {
			if j, ok := firstRing[b]; ok {
				parent[find(i)] = find(j)
			} else {
				firstRing[b] = i
			}
		}
	}
	groups := map[int][]int{}
	var roots []int
	for i, r := range cand {
		root := find(i)
		if _, ok := groups[root]; !ok {
			roots = append(roots, root)
		}
		groups[root] = append(groups[root], r)
	}
	for _, root := range roots {
		m.huckelFused(groups[root], atomRings, bondRings, donor, shares, atomArom, bondArom)
	}
	return
}

// huckelFused applies the 4n+2 rule to single rings of a fused system,
// then to connected combinations of two, three... rings (up to six) until
// every bond of the system is aromatic.
func (m *Molecule) huckelFused(system []int, atomRings, bondRings [][]int, donor []electronDonor,
	shares func(int, int) bool, atomArom, bondArom []bool) {
	allBonds := map[int]bool{}
	for _, r := range system {
		for _, b := range bondRings[r] {
			allBonds[b] = true
		}
	}
	aromBonds := map[int]bool{}
	n := len(system)
	maxSize := min(n, 6)
	if n > 12 {
		maxSize = min(n, 3)
	}
	comb := make([]int, 0, maxSize)
	var try func(start, size int)
	try = func(start, size int) {
		if len(aromBonds) == len(allBonds) {
			return
		}
		if len(comb) == size {
			if !connectedRings(comb, system, shares) {
				return
			}
			atoms := map[int]bool{}
			for _, k := range comb {
				for _, a := range atomRings[system[k]] {
					atoms[a] = true
				}
			}
			if !huckel(atoms, donor) {
				return
			}
			for _, k := range comb {
				r := system[k]
				for _, a := range atomRings[r] {
					atomArom[a] = true
				}
				for _, b := range bondRings[r] {
					bondArom[b] = true
					aromBonds[b] = true
				}
			}
			return
		}
		for k := start; k < n; k++ {
			comb = append(comb, k)
			try(k+1, size)
			comb = comb[:len(comb)-1]
		}
	}
	for size := 1; size <= maxSize && len(aromBonds) < len(allBonds); size++ {
		try(0, size)
	}
}

// connectedRings reports whether the chosen rings form one fused piece.
func connectedRings(comb, system []int, shares func(int, int) bool) bool {
	if len(comb) == 1 {
		return true
	}
	reached := []int{comb[0]}
	in := map[int]bool{comb[0]: true}
	for k := 0; k < len(reached); k++ {
		for _, c := range comb {
			if !in[c] && shares(system[reached[k]], system[c]) {
				in[c] = true
				reached = append(reached, c)
			}
		}
	}
	return len(reached) == len(comb)
}

// huckel applies RDKit's 4n+2 test to the pi electrons of a set of atoms.
func huckel(atoms map[int]bool, donor []electronDonor) bool {
	lo, hi, anyCount := 0, 0, 0
	for a := range atoms {
		switch donor[a] {
		case donorOne:
			lo++
			hi++
		case donorTwo:
			lo += 2
			hi += 2
		case donorAny:
			anyCount++
			hi += 2
		}
	}
	if anyCount == len(atoms) {
		return false
	}
	if hi >= 6 {
		for e := lo; e <= hi; e++ {
			if (e-2)%4 == 0 {
				return true
			}
		}
		return false
	}
	return hi == 2
}

// donorType is RDKit's getAtomDonorTypeArom for atom i of the Kekulé form.
func (m *Molecule) donorType(i int, adj [][]int, ringBond []bool) electronDonor {
	a := m.Atoms[i]
	z := a.atomicNumber()
	inRing := false
	for _, bi := range adj[i] {
		inRing = inRing || ringBond[bi]
	}
	if !inRing {
		return donorNone
	}
	if z == 0 {
		return donorAny
	}
	switch z {
	case 5, 6, 7, 8, 15, 16, 33, 34, 52:
	default:
		return donorNone
	}
	// Atoms above the default valence of their isoelectronic element
	// (S in C1=S2C=CC=CC2=N1) stay out, as in RDKit.
	if iso := z - a.Charge; iso > 0 && iso < len(elements) {
		if dv := elements[iso].Valences[0]; dv > 0 && m.integerValence(i, adj) > dv {
			return donorNone
		}
	}
	// At most one multiple bond.
	nMult, bondSum := 0, 0
	for _, bi := range adj[i] {
		o := m.Bonds[bi].Order
		bondSum += int(o)
		if o == BondDouble || o == BondTriple {
			nMult++
		}
	}
	if nMult > 1 {
		return donorNone
	}
	// countAtomElec
	el := elements[z]
	dv := el.Valences[0]
	if dv <= 1 {
		return donorNone
	}
	degree := len(adj[i]) + a.HCount
	if degree > 3 {
		return donorNone
	}
	nlp := max(el.Outer-dv-a.Charge, 0)
	rad := m.radicals(i, adj)
	if rad > 0 && z != 6 {
		// RDKit keeps radical heteroatoms ([N+] with three bonds, [N]) out
		// of aromatic rings (found by trying its behaviour).
		return donorNone
	}
	nelec := dv - degree + nlp - rad
	if nelec > 1 && bondSum-len(adj[i]) > 1 {
		nelec = 1
	}
	// Multiple bonds by kind.
	exoPartner, cyclicMult, anyMult := -1, false, false
	for _, bi := range adj[i] {
		b := m.Bonds[bi]
		if b.Order < BondDouble {
			continue
		}
		anyMult = true
		if ringBond[bi] {
			cyclicMult = true
		} else if exoPartner < 0 {
			exoPartner = b.other(i)
		}
	}
	switch {
	case nelec < 0:
		return donorNone
	case nelec == 0:
		switch {
		case exoPartner >= 0:
			return donorVacant
		case cyclicMult:
			return donorOne
		}
		return donorNone
	case nelec == 1:
		if exoPartner >= 0 {
			if moreElectronegative(m.Atoms[exoPartner].atomicNumber(), z) {
				return donorVacant
			}
			return donorOne
		}
		if anyMult {
			return donorOne
		}
		if a.Charge == 1 {
			return donorVacant
		}
		return donorNone
	}
	if anyMult {
		return donorOne
	}
	return donorTwo
}

// moreElectronegative is RDKit's simple ordering: more outer electrons, or
// as many and a lower atomic number.
func moreElectronegative(z1, z2 int) bool {
	o1, o2 := elements[z1].Outer, elements[z2].Outer
	return o1 > o2 || o1 == o2 && z1 < z2
}

// radicals is the number of radical electrons RDKit assigns to a bracket
// atom whose valence falls short of the allowed ones ([CH3], [N+] with
// three bonds).
func (m *Molecule) radicals(i int, adj [][]int) int {
	a := m.Atoms[i]
	z := a.atomicNumber()
	if !a.Bracket || z == 0 {
		return 0
	}
	el := elements[z]
	if len(el.Valences) == 1 && el.Valences[0] == -1 {
		return 0
	}
	total := m.integerValence(i, adj)
	base := 8
	if z <= 2 {
		base = 2
	}
	n := base - el.Outer - total + a.Charge
	if n < 0 {
		n = 0
		if len(el.Valences) > 1 {
			for _, v := range el.Valences {
				if v-total+a.Charge >= 0 {
					n = v - total + a.Charge
					break
				}
			}
		}
	}
	if n2 := el.Outer - total - a.Charge; n2 >= 0 {
		n = min(n, n2)
	}
	return n
}
