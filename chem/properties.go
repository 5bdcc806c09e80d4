package chem

import (
	"sort"
	"strconv"
	"strings"
)

// totalH is the number of hydrogens on atom i: counted on the atom plus
// hydrogen atoms of the graph bonded to it.
func (m *Molecule) totalH(i int, adj [][]int) int {
	h := m.Atoms[i].HCount
	for _, bi := range adj[i] {
		if m.Atoms[m.Bonds[bi].other(i)].Element == "H" {
			h++
		}
	}
	return h
}

// Formula returns the molecular formula as RDKit's
// rdMolDescriptors.CalcMolFormula writes it: C, then H, then the other
// symbols in ASCII order ("*" for wildcards first), with the net charge
// appended: "C2H7N+", "HCl", "C4H2O4-2".
func (m *Molecule) Formula() string {
	counts := map[string]int{}
	charge := 0
	for _, a := range m.Atoms {
		charge += a.Charge
		counts[a.Element]++
		if a.HCount > 0 {
			counts["H"] += a.HCount
		}
	}
	var syms []string
	for s := range counts {
		syms = append(syms, s)
	}
	sort.Slice(syms, func(i, j int) bool {
		ri, rj := hillRank(syms[i]), hillRank(syms[j])
		if ri != rj {
			return ri < rj
		}
		return syms[i] < syms[j]
	})
	var sb strings.Builder
	for _, s := range syms {
		sb.WriteString(s)
		if n := counts[s]; n > 1 {
			sb.WriteString(strconv.Itoa(n))
		}
	}
	sb.WriteString(chargeSuffix(charge))
	return sb.String()
}

func hillRank(s string) int {
	switch s {
	case "C":
		return 0
	case "H":
		return 1
	}
	return 2
}

// MolecularWeight returns the average molecular weight including implicit
// hydrogens, with RDKit's atomic weights (Descriptors.MolWt); isotopic
// atoms weigh their isotope's mass.
func (m *Molecule) MolecularWeight() float64 {
	w := 0.0
	for _, a := range m.Atoms {
		w += atomMass(a.atomicNumber(), a.Isotope)
		w += float64(a.HCount) * elements[1].Weight
	}
	return w
}

// HeavyAtoms returns the number of atoms other than hydrogen and wildcards
// (RDKit's GetNumHeavyAtoms).
func (m *Molecule) HeavyAtoms() int {
	n := 0
	for _, a := range m.Atoms {
		if a.atomicNumber() > 1 {
			n++
		}
	}
	return n
}

// HBondDonors counts hydrogen-bond donors as RDKit's Lipinski.NumHDonors
// (rdMolDescriptors.CalcNumHBD) does: atoms matching the SMARTS
// [N&!H0&v3,N&!H0&+1&v4,O&H1&+0,S&H1&+0,n&H1&+0], with aromaticity
// perceived by RDKit's model (see perceiveAromaticity), not as written.
func (m *Molecule) HBondDonors() int {
	return m.hBondDonors(m.perceive())
}

// perception is what the H-bond counts need of ring and aromaticity
// perception, computed once per call of Properties.
type perception struct {
	adj                [][]int
	ring               []bool
	atomArom, bondArom []bool
}

func (m *Molecule) perceive() *perception {
	adj := m.neighbours()
	ring := m.ringBonds(adj)
	atomArom, bondArom := m.perceiveAromaticity(adj, ring)
	return &perception{adj, ring, atomArom, bondArom}
}

// Properties are the properties the hub shows next to a ligand.
type Properties struct {
	Formula         string
	MolecularWeight float64
	HeavyAtoms      int
	HBondDonors     int
	HBondAcceptors  int
}

// Properties computes Formula, MolecularWeight, HeavyAtoms, HBondDonors
// and HBondAcceptors at once, perceiving rings and aromaticity a single
// time (the separate H-bond methods perceive them on every call).
func (m *Molecule) Properties() Properties {
	p := m.perceive()
	return Properties{
		Formula:         m.Formula(),
		MolecularWeight: m.MolecularWeight(),
		HeavyAtoms:      m.HeavyAtoms(),
		HBondDonors:     m.hBondDonors(p),
		HBondAcceptors:  m.hBondAcceptors(p),
	}
}

func (m *Molecule) hBondDonors(p *perception) int {
	adj, arom := p.adj, p.atomArom
	n := 0
	for i, a := range m.Atoms {
		a.Aromatic = arom[i]
		h := m.totalH(i, adj)
		switch {
		case a.Element == "N" && !a.Aromatic:
			v := m.integerValence(i, adj)
			if h > 0 && (v == 3 || a.Charge == 1 && v == 4) {
				n++
			}
		case (a.Element == "O" || a.Element == "S") && !a.Aromatic:
			if h == 1 && a.Charge == 0 {
				n++
			}
		case a.Element == "N" && a.Aromatic:
			if h == 1 && a.Charge == 0 {
				n++
			}
		}
	}
	return n
}

// HBondAcceptors counts hydrogen-bond acceptors as RDKit's
// Lipinski.NumHAcceptors (rdMolDescriptors.CalcNumHBA) does: atoms matching
// [$([O,S;H1;v2]-[!$(*=[O,N,P,S])]),$([O,S;H0;v2]),$([O,S;-]),
// $([N;v3;!$(N-*=!@[O,N,P,S])]),$([nH0,o,s;+0])], with aromatic atoms and
// bonds perceived by RDKit's aromaticity model. (This is not the NOCount
// of the original rule of five.)
func (m *Molecule) HBondAcceptors() int {
	return m.hBondAcceptors(m.perceive())
}

func (m *Molecule) hBondAcceptors(p *perception) int {
	adj, ring, atomArom, bondArom := p.adj, p.ring, p.atomArom, p.bondArom
	// hasOxo reports whether atom j has a double bond (a non-ring one when
	// chainOnly) to an aliphatic O, N, P or S.
	hasOxo := func(j int, chainOnly bool) bool {
		for _, bi := range adj[j] {
			b := m.Bonds[bi]
			if b.Order != BondDouble || bondArom[bi] || chainOnly && ring[bi] {
				continue
			}
			o := m.Atoms[b.other(j)]
			if !atomArom[b.other(j)] && (o.Element == "O" || o.Element == "N" || o.Element == "P" || o.Element == "S") {
				return true
			}
		}
		return false
	}
	n := 0
	for i, a := range m.Atoms {
		a.Aromatic = atomArom[i]
		switch {
		case (a.Element == "O" || a.Element == "S") && !a.Aromatic:
			h, v := m.totalH(i, adj), m.integerValence(i, adj)
			switch {
			case a.Charge == -1, h == 0 && v == 2:
				n++
			case h == 1 && v == 2:
				for _, bi := range adj[i] {
					b := m.Bonds[bi]
					if b.Order == BondSingle && !bondArom[bi] && !hasOxo(b.other(i), false) {
						n++
						break
					}
				}
			}
		case a.Element == "N" && !a.Aromatic:
			if m.integerValence(i, adj) != 3 {
				continue
			}
			amide := false
			for _, bi := range adj[i] {
				b := m.Bonds[bi]
				if b.Order == BondSingle && !bondArom[bi] && hasOxo(b.other(i), true) {
					amide = true
				}
			}
			if !amide {
				n++
			}
		case a.Aromatic && a.Charge == 0:
			if a.Element == "O" || a.Element == "S" || a.Element == "N" && m.totalH(i, adj) == 0 {
				n++
			}
		}
	}
	return n
}
