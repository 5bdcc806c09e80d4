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
	// organic-subset atoms once the molecule has been checked.
	HCount    int
	Bracket   bool   // written in square brackets
	Chirality string // "", "@", "@@", "@TH1", ... as written
	Class     int    // atom class (":n" in brackets); 0 when not given
	Pos       int    // byte offset of the atom in the input, for error messages
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
}

// Molecule is a molecular graph: atoms, bonds, and hydrogens counted on atoms.
type Molecule struct {
	Atoms []Atom
	Bonds []Bond
}
