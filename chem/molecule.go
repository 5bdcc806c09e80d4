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
	HCount    int
	Bracket   bool   // written in square brackets
	Chirality string // "", "@", "@@", "@TH1", ... as written
	Class     int    // atom class (":n" in brackets); 0 when not given
	Pos       int    // byte offset of the atom in the input (0-based line for molfiles), for error messages
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
	// Stereo is the directional mark written on a single bond ('/' or '\\'), 0 otherwise.
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
	order [][]int
}

// implicitH stands for a bracket atom's own hydrogen in a neighbour order.
const implicitH = -1

// ringPlaceholder-n marks, in a neighbour order, the place of ring bond n
// until the ring is closed.
const ringPlaceholder = -1000

// neighbourOrder appends neighbour n to atom a's neighbour order, the order
// in which the input named a's neighbours, which chirality refers to.
func (m *Molecule) neighbourOrder(a, n int) {
	for len(m.order) <= a {
		m.order = append(m.order, nil)
	}
	for _, v := range m.order[a] {
		if v == n {
			return
		}
	}
	if m.order[a] == nil {
		m.order[a] = make([]int, 0, 4)
	}
	m.order[a] = append(m.order[a], n)
}

// neighbours returns, for each atom, the indices of the bonds it takes part in.
func (m *Molecule) neighbours() [][]int {
	adj := make([][]int, len(m.Atoms))
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
