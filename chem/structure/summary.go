package structure

import "slices"

// Summary of a structure, for the user and for the job's record.
type Summary struct {
	Atoms        int      // all atoms kept
	ProteinAtoms int      // ATOM records of the 20 standard amino acids (+ MSE, SEC, PYL)
	Residues     int      // protein residues (chain, resSeq, iCode)
	Chains       []string // chains with protein residues, in file order
	Hydrogens    bool     // any H or D atoms
	HetGroups    []string // distinct HETATM residue names, sorted (e.g. HOH, STI, ZN)
}

// aminoAcids are the residues counted as protein: the 20 standard amino
// acids and selenomethionine, selenocysteine and pyrrolysine.
var aminoAcids = map[string]bool{
	"ALA": true, "ARG": true, "ASN": true, "ASP": true, "CYS": true, "GLN": true, "GLU": true,
	"GLY": true, "HIS": true, "ILE": true, "LEU": true, "LYS": true, "MET": true, "PHE": true,
	"PRO": true, "SER": true, "THR": true, "TRP": true, "TYR": true, "VAL": true,
	"MSE": true, "SEC": true, "PYL": true,
}

// modified are the amino acids that files often write as HETATM records
// (wwPDB writes MSE so); they count as protein either way.
var modified = map[string]bool{"MSE": true, "SEC": true, "PYL": true}

// IsProtein reports whether an atom counts as protein: an ATOM record of
// a standard amino acid, or an atom of MSE, SEC or PYL (ATOM or HETATM).
func (a *Atom) IsProtein() bool {
	if a.Het {
		return modified[a.ResName]
	}
	return aminoAcids[a.ResName]
}

// residueKey identifies a residue.
type residueKey struct {
	chain string
	seq   int
	icode string
}

// Summarize counts atoms, protein residues and chains, and lists the
// HETATM groups.
func (s *Structure) Summarize() Summary {
	sum := Summary{Atoms: len(s.Atoms), Chains: []string{}, HetGroups: []string{}}
	residues := map[residueKey]bool{}
	chains := map[string]bool{}
	het := map[string]bool{}
	for i := range s.Atoms {
		a := &s.Atoms[i]
		if a.Element == "H" || a.Element == "D" {
			sum.Hydrogens = true
		}
		if a.Het && !het[a.ResName] {
			het[a.ResName] = true
			sum.HetGroups = append(sum.HetGroups, a.ResName)
		}
		if !a.IsProtein() {
			continue
		}
		sum.ProteinAtoms++
		residues[residueKey{a.Chain, a.ResSeq, a.ICode}] = true
		if !chains[a.Chain] {
			chains[a.Chain] = true
			sum.Chains = append(sum.Chains, a.Chain)
		}
	}
	sum.Residues = len(residues)
	slices.Sort(sum.HetGroups)
	return sum
}
