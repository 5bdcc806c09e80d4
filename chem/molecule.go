// Package chem reads what scientists type in: SMILES strings, protein
// sequences, FASTA files and ligand libraries (CSV, .smi, SDF). It validates
// them with errors that name the position, row or line, and computes the
// properties the hub shows next to every ligand (formula, average molecular
// weight, heavy atoms, H-bond donors and acceptors).
package chem

// Atom is one atom of a molecular graph as written in the input.
type Atom struct {
	Element  string // element symbol with normal capitalisation ("C", "Cl", "Se"); "*" for a wildcard
	Aromatic bool   // written as an aromatic (lower-case) symbol
	Isotope  int    // 0 when not given
	Charge   int
	// HCount is the number of hydrogens attached that are not atoms of the
	// graph: given in brackets ([NH3+]), or implied by the valence model for
	// organic-subset atoms once the molecule has been checked. ParseMolfile
	// also folds hydrogen atoms of the connection table in here.
	HCount  int
	Bracket bool // written in square brackets
	// Chirality is "", "@", "@@", "@TH1", ... as written; for ParseMolfile,
	// "@" or "@@" derived from the coordinates, referring to the neighbour
	// order ParseMolfile records (SMILES adjusts it to the written order).
	Chirality string
	Class     int // atom class (":n" in brackets); 0 when not given
	Pos       int // byte offset of the atom in the input (0-based line for molfiles), for error messages
}

// BondOrder is the order of a bond in the graph.
type BondOrder int

// Bond orders. Aromatic bonds are kept as such until kekulized.
const (
	BondSingle   BondOrder = 1
	BondDouble   BondOrder = 2
	BondTriple   BondOrder = 3
	BondQuad     BondOrder = 4
	BondAromatic BondOrder = 5
)

// Bond joins atoms A and B (indices into Molecule.Atoms).
type Bond struct {
	A, B  int
	Order BondOrder
	// Stereo is the directional mark on a single bond ('/' or '\\') as
	// written from A to B, 0 otherwise; ParseMolfile sets it from the
	// geometry of neighbouring double bonds.
	Stereo byte
	// Aromatic is set on bonds of an aromatic system; once the molecule is
	// checked, Order holds the bond's Kekulé order (single or double).
	Aromatic bool
}

// Molecule is a molecular graph: atoms, bonds, and hydrogens counted on atoms.
type Molecule struct {
	Atoms []Atom
	Bonds []Bond

	// order holds, per atom, its neighbours in the order the SMILES named
	// them (implicitH for a bracket hydrogen); chirality refers to it.
	order      [][]int
	orderBlock []int // unused part of the block neighbour orders are carved from
}

// implicitH stands for a bracket atom's own hydrogen in a neighbour order.
const implicitH = -1

// ringPlaceholder-n marks, in a neighbour order, the place of ring bond n
// until the ring is closed.
const ringPlaceholder = -1000

// neighbourOrder appends neighbour n to atom a's neighbour order, the order
// in which the input named a's neighbours, which chirality refers to. The
// parser adds each neighbour once, so no duplicate check is needed (one
// would make atoms with many neighbours quadratic).
func (m *Molecule) neighbourOrder(a, n int) {
	for len(m.order) <= a {
		m.order = append(m.order, nil)
	}
	if m.order[a] == nil {
		// Carve small lists out of a shared block.
		if len(m.orderBlock) < 4 {
			m.orderBlock = make([]int, 4*64)
		}
		m.order[a] = m.orderBlock[:0:4]
		m.orderBlock = m.orderBlock[4:]
	}
	m.order[a] = append(m.order[a], n)
}

// neighbours returns, for each atom, the indices of the bonds it takes part in.
func (m *Molecule) neighbours() [][]int {
	// One backing array for all lists: two allocations instead of one per atom.
	deg := make([]int, len(m.Atoms)+1)
	for _, b := range m.Bonds {
		deg[b.A]++
		deg[b.B]++
	}
	backing := make([]int, 2*len(m.Bonds))
	adj := make([][]int, len(m.Atoms))
	off := 0
	for i := range adj {
		adj[i] = backing[off : off : off+deg[i]]
		off += deg[i]
	}
	for i, b := range m.Bonds {
		adj[b.A] = append(adj[b.A], i)
		adj[b.B] = append(adj[b.B], i)
	}
	return adj
}

// other returns the atom at the other end of bond b from atom a.
func (b Bond) other(a int) int {
	if b.A == a {
		return b.B
	}
	return b.A
}
