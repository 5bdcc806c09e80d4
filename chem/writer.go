package chem

import (
	"slices"
	"strconv"
	"strings"
)

// SMILES writes the molecule as a SMILES string. Aromatic atoms are written
// in aromatic (lower-case) form as they were read, which RDKit reads back
// the same way even where its Kekulé form would break its own valence
// rules; a molecule with aromatic atoms that SMILES cannot write in lower
// case is written in Kekulé form. Atoms whose hydrogens, charge, isotope,
// chirality or class the organic subset cannot express are written in
// brackets, so ParseSMILES(m.SMILES()) gives back the same formula, weight
// and connectivity. Tetrahedral chirality is adjusted to the written
// neighbour order; double-bond marks follow the written direction.
func (m *Molecule) SMILES() string {
	w := smilesWriter{m: m, adj: m.neighbours(), visited: make([]bool, len(m.Atoms)), aromatic: true}
	for _, a := range m.Atoms {
		if a.Aromatic && !aromaticBracket[strings.ToLower(a.Element)] {
			w.aromatic = false
		}
	}
	n := len(m.Atoms)
	w.children = make([][]int, n)
	w.rings = make([][]int, n)
	w.parentBond = make([]int, n)
	w.treeBond = make([]bool, len(m.Bonds))
	var sb strings.Builder
	for root := 0; root < n; root++ {
		if w.visited[root] {
			continue
		}
		w.parentBond[root] = -1
		w.explore(root)
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		w.ringNumber = map[int]int{}
		w.write(&sb, root)
	}
	return sb.String()
}

type smilesWriter struct {
	m          *Molecule
	adj        [][]int
	visited    []bool
	parentBond []int
	children   [][]int // bonds to child atoms, in writing order
	rings      [][]int // ring-closure bonds at each atom, in writing order
	treeBond   []bool
	ringNumber map[int]int // open ring bond -> its number
	used       []bool      // ring numbers in use
	aromatic   bool        // write aromatic atoms and bonds as such
}

// explore walks the component from root depth-first, splitting its bonds
// into tree bonds and ring closures.
func (w *smilesWriter) explore(root int) {
	type frame struct{ atom, next int }
	w.visited[root] = true
	stack := []frame{{root, 0}}
	seenRing := map[int]bool{}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next == len(w.adj[f.atom]) {
			stack = stack[:len(stack)-1]
			continue
		}
		bi := w.adj[f.atom][f.next]
		f.next++
		v := f.atom
		if bi == w.parentBond[v] || w.treeBond[bi] || seenRing[bi] {
			continue
		}
		to := w.m.Bonds[bi].other(v)
		if w.visited[to] {
			// A ring closure: opened at the earlier atom 'to', closed here.
			seenRing[bi] = true
			w.rings[to] = append(w.rings[to], bi)
			w.rings[v] = append(w.rings[v], bi)
			continue
		}
		w.treeBond[bi] = true
		w.visited[to] = true
		w.parentBond[to] = bi
		w.children[v] = append(w.children[v], bi)
		stack = append(stack, frame{to, 0})
	}
}

// write emits atom v and everything below it in the tree. It keeps its own
// stack of pending branches rather than recursing, so that deeply nested
// branches cannot exhaust the goroutine stack.
func (w *smilesWriter) write(sb *strings.Builder, v int) {
	type item struct {
		atom   int // atom to write from, or -1 for a closing ')'
		bond   int // bond to write before the atom, or -1
		from   int // atom the bond is written from
		branch bool
	}
	stack := []item{{atom: v, bond: -1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.atom < 0 {
			sb.WriteByte(')')
			continue
		}
		if it.branch {
			sb.WriteByte('(')
		}
		if it.bond >= 0 {
			sb.WriteString(w.bondSymbol(it.bond, it.from))
		}
		v := it.atom
		w.writeAtom(sb, v)
		for _, bi := range w.rings[v] {
			if num, ok := w.ringNumber[bi]; ok {
				delete(w.ringNumber, bi)
				w.used[num] = false
				w.writeRingNumber(sb, num)
				continue
			}
			num := w.freeRingNumber()
			w.ringNumber[bi] = num
			sb.WriteString(w.bondSymbol(bi, v))
			w.writeRingNumber(sb, num)
		}
		kids := w.children[v]
		if len(kids) == 0 {
			continue
		}
		last := kids[len(kids)-1]
		stack = append(stack, item{atom: w.m.Bonds[last].other(v), bond: last, from: v})
		for k := len(kids) - 2; k >= 0; k-- {
			bi := kids[k]
			stack = append(stack, item{atom: -1}, item{atom: w.m.Bonds[bi].other(v), bond: bi, from: v, branch: true})
		}
	}
}

func (w *smilesWriter) freeRingNumber() int {
	for n := 1; ; n++ {
		for len(w.used) <= n {
			w.used = append(w.used, false)
		}
		if !w.used[n] {
			w.used[n] = true
			return n
		}
	}
}

func (w *smilesWriter) writeRingNumber(sb *strings.Builder, n int) {
	switch {
	case n < 10:
		sb.WriteByte(byte('0' + n))
	case n < 100:
		sb.WriteByte('%')
		sb.WriteString(strconv.Itoa(n))
	default:
		sb.WriteString("%(" + strconv.Itoa(n) + ")")
	}
}

// bondSymbol is the symbol for bond bi written from atom `from`.
func (w *smilesWriter) bondSymbol(bi, from int) string {
	b := w.m.Bonds[bi]
	if w.aromatic {
		x, y := w.m.Atoms[b.A], w.m.Atoms[b.B]
		bothAromatic := x.Aromatic && y.Aromatic
		switch {
		case b.Aromatic && bothAromatic:
			return ""
		case b.Aromatic:
			return ":"
		case b.Order == BondSingle && b.Stereo == 0 && (x.Aromatic || x.Element == "*") && (y.Aromatic || y.Element == "*"):
			return "-"
		}
	}
	switch b.Order {
	case BondDouble:
		return "="
	case BondTriple:
		return "#"
	case BondQuad:
		return "$"
	case BondAromatic:
		return ":"
	}
	if b.Stereo == '/' || b.Stereo == '\\' {
		s := b.Stereo
		if b.A != from {
			s = '/' + '\\' - s
		}
		return string(s)
	}
	return ""
}

// writeAtom writes atom v, in brackets when the organic subset cannot
// express it.
func (w *smilesWriter) writeAtom(sb *strings.Builder, v int) {
	a := w.m.Atoms[v]
	chirality := w.chirality(v)
	if a.Element == "*" && a.HCount == 0 && a.Charge == 0 && a.Isotope == 0 && chirality == "" && a.Class == 0 {
		sb.WriteByte('*')
		return
	}
	symbol := a.Element
	aromatic := w.aromatic && a.Aromatic
	if aromatic {
		symbol = strings.ToLower(symbol)
	}
	plain := a.Charge == 0 && a.Isotope == 0 && chirality == "" && a.Class == 0
	switch {
	case plain && aromatic && aromaticOrganic[symbol] && w.m.aromaticImplicitHydrogens(v, w.adj) == a.HCount,
		plain && !aromatic && organicSubset[symbol] && w.m.implicitHydrogens(v, w.adj, !w.aromatic) == a.HCount:
		sb.WriteString(symbol)
		return
	}
	sb.WriteByte('[')
	if a.Isotope > 0 {
		sb.WriteString(strconv.Itoa(a.Isotope))
	}
	sb.WriteString(symbol)
	sb.WriteString(chirality)
	if a.HCount > 0 {
		sb.WriteByte('H')
		if a.HCount > 1 {
			sb.WriteString(strconv.Itoa(a.HCount))
		}
	}
	sb.WriteString(chargeSuffix(a.Charge))
	if a.Class > 0 {
		sb.WriteByte(':')
		sb.WriteString(strconv.Itoa(a.Class))
	}
	sb.WriteByte(']')
}

// implicitHydrogens is the number of hydrogens ParseSMILES would give atom
// v written unbracketed and upper case with its current bonds (aromatic
// bonds as written, or by their Kekulé order when kekule is set), or -1
// when no allowed valence fits.
func (m *Molecule) implicitHydrogens(v int, adj [][]int, kekule bool) int {
	if m.Atoms[v].Element == "H" {
		return -1 // never in the organic subset
	}
	explicit := m.valenceAs(v, adj, false, false)
	if kekule {
		explicit = 0
		for _, bi := range adj[v] {
			explicit += int(m.Bonds[bi].Order)
		}
	}
	for _, val := range elements[m.Atoms[v].atomicNumber()].Valences {
		if val >= 0 && explicit <= val {
			return val - explicit
		}
	}
	return -1
}

// aromaticImplicitHydrogens is the number of hydrogens ParseSMILES would
// give aromatic atom v written unbracketed in lower case, or -1.
func (m *Molecule) aromaticImplicitHydrogens(v int, adj [][]int) int {
	a := m.Atoms[v]
	el := elements[a.atomicNumber()]
	explicit := m.valenceAs(v, adj, false, true)
	if dv := el.Valences[0]; explicit <= dv {
		return dv - explicit
	}
	for _, val := range el.Valences {
		if val == explicit {
			return 0
		}
	}
	return -1
}

// chirality returns atom v's chirality mark adjusted to the written
// neighbour order: tetrahedral marks flip when the written order is an odd
// permutation of the input order.
func (w *smilesWriter) chirality(v int) string {
	a := w.m.Atoms[v]
	var flip map[string]string
	switch a.Chirality {
	case "":
		return ""
	case "@", "@TH1":
		flip = map[string]string{"@": "@@", "@TH1": "@@"}
	case "@@", "@TH2":
		flip = map[string]string{"@@": "@", "@TH2": "@"}
	default:
		return a.Chirality
	}
	if v >= len(w.m.order) {
		return a.Chirality
	}
	in := w.m.order[v]
	var out []int
	if pb := w.parentBond[v]; pb >= 0 {
		out = append(out, w.m.Bonds[pb].other(v))
	}
	if a.HCount > 0 || slices.Contains(in, implicitH) {
		// A molfile's three-coordinate centre lists its lone pair as
		// implicitH: it stands where an implicit hydrogen would.
		out = append(out, implicitH)
	}
	for _, bi := range w.rings[v] {
		out = append(out, w.m.Bonds[bi].other(v))
	}
	for _, bi := range w.children[v] {
		out = append(out, w.m.Bonds[bi].other(v))
	}
	odd, ok := permutationParity(in, out)
	if !ok {
		return a.Chirality
	}
	if odd {
		return flip[a.Chirality]
	}
	if a.Chirality == "@TH1" {
		return "@"
	}
	if a.Chirality == "@TH2" {
		return "@@"
	}
	return a.Chirality
}

// permutationParity reports whether out is an odd permutation of in; ok is
// false when they are not permutations of each other.
func permutationParity(in, out []int) (odd, ok bool) {
	if len(in) != len(out) {
		return false, false
	}
	pos := map[int]int{}
	for i, x := range in {
		pos[x] = i
	}
	perm := make([]int, len(out))
	for i, x := range out {
		p, found := pos[x]
		if !found {
			return false, false
		}
		perm[i] = p
	}
	swaps := 0
	for i := range perm {
		for perm[i] != i {
			j := perm[i]
			if perm[j] == j {
				return false, false
			}
			perm[i], perm[j] = perm[j], perm[i]
			swaps++
		}
	}
	return swaps%2 == 1, true
}
